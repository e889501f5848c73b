// Fused optimizer updates (TF's training ops), float32, updating the variable (and slot)
// tensors in place: ApplyGradientDescent, ApplyMomentum (use_nesterov), ApplyAdam,
// ApplyRMSProp, ApplyCenteredRMSProp and ApplyAdagrad (not grouped).
// CPU: apply_cpu.cc; CUDA: apply_cuda.cu. Inputs follow TF's signatures; output 0 is the
// updated variable.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/kernel.h"

namespace scopeflow::kernels {

void apply_gradient_descent_ref(float* var, float alpha, const float* delta, std::int64_t n);
void apply_momentum_ref(float* var, float* accum, float lr, const float* grad, float momentum,
                        bool nesterov, std::int64_t n);
void apply_adam_ref(float* var, float* m, float* v, float beta1_power, float beta2_power, float lr,
                    float beta1, float beta2, float epsilon, const float* grad, std::int64_t n);
// TF's ApplyRMSProp: ms += (grad^2 - ms) * (1 - rho); mom = mom * momentum + grad * lr /
// sqrt(ms + epsilon); var -= mom. ApplyCenteredRMSProp also tracks mg += (grad - mg) * (1 - rho)
// and divides by sqrt(ms - mg^2 + epsilon). TF's expressions, term for term.
void apply_rms_prop_ref(float* var, float* ms, float* mom, float lr, float rho, float momentum,
                        float epsilon, const float* grad, std::int64_t n);
void apply_centered_rms_prop_ref(float* var, float* mg, float* ms, float* mom, float lr, float rho,
                                 float momentum, float epsilon, const float* grad, std::int64_t n);
// TF's ApplyAdagrad: accum += grad^2 (when update_slots), var -= grad * lr * (1 / sqrt(accum)).
void apply_adagrad_ref(float* var, float* accum, float lr, const float* grad, bool update_slots,
                       std::int64_t n);
void register_apply_cpu_kernels(KernelRegistry& r);

// Grouped updates (kernel label "group", CPU and CUDA): one kernel call updates several
// variables of one optimizer, whose hyperparameters (scalar inputs, attrs) are the same (the
// CUDA kernel takes member 0's; the CPU one each member's, as its single kernel would). The
// inputs are the members' inputs one after another (each in the op's own order: `arity` per
// member); output i is member i's variable. Every member is validated before any is updated.
// On a GPU it is one launch for up to kMaxApplyGroup members (PyTorch's multi-tensor
// "foreach" optimizers); the session groups a plan's updates (SessionOptions::group_updates).
constexpr std::size_t kMaxApplyGroup = 32;
// The inputs of a groupable update, by index in TF's signature: how many, the tensors updated in
// place (the variable, then its slots), every tensor read or written per element (those, then
// the gradient) and the scalar hyperparameters. nullptr for ops that are not grouped.
struct ApplySignature {
  std::size_t arity;
  std::vector<std::size_t> in_place, tensors, scalars;
};
const ApplySignature* apply_signature(const std::string& op);
// Member contexts of a grouped call (inputs sliced, attrs, device and stream shared).
std::vector<KernelContext> split_group(const KernelContext& c, std::size_t arity);

// A scalar hyperparameter of a GPU update: read in the kernel from device memory (`ptr`, no
// host synchronization) or passed by value when it lives on the host (`ptr` null).
struct ScalarArg {
  const float* ptr = nullptr;
  float value = 0.0f;
};
// Device memory, queued on `stream`, updating var (and the slots) in place with the
// reference's float expressions term for term (bit-identical without FMA contraction).
void apply_gradient_descent_cuda(float* var, ScalarArg alpha, const float* delta, std::int64_t n,
                                 devices::Stream& stream);
void apply_momentum_cuda(float* var, float* accum, ScalarArg lr, const float* grad,
                         ScalarArg momentum, bool nesterov, std::int64_t n,
                         devices::Stream& stream);
void apply_adam_cuda(float* var, float* m, float* v, ScalarArg beta1_power, ScalarArg beta2_power,
                     ScalarArg lr, ScalarArg beta1, ScalarArg beta2, ScalarArg epsilon,
                     const float* grad, std::int64_t n, devices::Stream& stream);
// mg null: ApplyRMSProp; else ApplyCenteredRMSProp.
void apply_rms_prop_cuda(float* var, float* mg, float* ms, float* mom, ScalarArg lr, ScalarArg rho,
                         ScalarArg momentum, ScalarArg epsilon, const float* grad, std::int64_t n,
                         devices::Stream& stream);
void apply_adagrad_cuda(float* var, float* accum, ScalarArg lr, const float* grad,
                        bool update_slots, std::int64_t n, devices::Stream& stream);
void register_apply_cuda_kernels(KernelRegistry& r);

}  // namespace scopeflow::kernels
