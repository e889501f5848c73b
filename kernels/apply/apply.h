// Fused optimizer updates (TF's training ops), float32, updating the variable (and slot)
// tensors in place: ApplyGradientDescent, ApplyMomentum (use_nesterov), ApplyAdam.
// CPU: apply_cpu.cc. Inputs follow TF's signatures; output 0 is the updated variable.
#pragma once

#include <cstdint>

#include "kernels/kernel.h"

namespace scopeflow::kernels {

void apply_gradient_descent_ref(float* var, float alpha, const float* delta, std::int64_t n);
void apply_momentum_ref(float* var, float* accum, float lr, const float* grad, float momentum,
                        bool nesterov, std::int64_t n);
void apply_adam_ref(float* var, float* m, float* v, float beta1_power, float beta2_power, float lr,
                    float beta1, float beta2, float epsilon, const float* grad, std::int64_t n);
void register_apply_cpu_kernels(KernelRegistry& r);

}  // namespace scopeflow::kernels
