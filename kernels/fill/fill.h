// Fill: out[i] = value for every element (TF's Fill op; the base of zeros/ones/constant
// initializers). Declarations of every implementation; CPU: fill_cpu.cc, CUDA: fill_cuda.cu.
#pragma once

#include <cstdint>

#include "devices/device.h"
#include "kernels/kernel.h"

namespace scopeflow::kernels {

// Writes `value` to out[0..n). Host memory; `ref` implementation (the test oracle).
void fill_forward_ref(float* out, std::int64_t n, float value);
void fill_forward_ref(std::int32_t* out, std::int64_t n, std::int32_t value);
void fill_forward_ref(std::int64_t* out, std::int64_t n, std::int64_t value);

// Device memory, queued on `stream` (a CUDA stream of the device holding `out`).
void fill_forward_cuda(float* out, std::int64_t n, float value, devices::Stream& stream);
void fill_forward_cuda(std::int32_t* out, std::int64_t n, std::int32_t value,
                       devices::Stream& stream);
void fill_forward_cuda(std::int64_t* out, std::int64_t n, std::int64_t value,
                       devices::Stream& stream);
void fill_forward_cuda(double* out, std::int64_t n, double value, devices::Stream& stream);
void fill_forward_cuda(bool* out, std::int64_t n, bool value, devices::Stream& stream);

// Registration (op "Fill": inputs {dims (host), value}, output 0 preallocated). GPUs take
// every dtype the CPU does but string (host memory only).
void register_fill_cpu_kernels(KernelRegistry& r);
void register_fill_cuda_kernels(KernelRegistry& r);

}  // namespace scopeflow::kernels
