// SparseSoftmaxCrossEntropyWithLogits and SoftmaxCrossEntropyWithLogits: per-row loss and its
// gradient (softmax - onehot, or softmax - labels),
// computed with the max subtracted for stability. float32 logits [B, C], int32/int64 labels
// [B]. CPU: softmax_xent_cpu.cc; CUDA: softmax_xent_cuda.cu.
#pragma once

#include <cstdint>

#include "kernels/kernel.h"

namespace scopeflow::kernels {

// TF's error for logits of no class in a non-empty batch (checked before any label).
std::string xent_no_class_error(const std::string& what, const Shape& logits);

// TF's error for a label outside [0, classes) (the CPU kernel's, and the GPU kernel's deferred
// check's).
std::string xent_label_error(const std::string& what, std::int64_t label, std::int64_t classes);

// Throws InvalidArgumentError for a label outside [0, classes).
void sparse_xent_forward_ref(const float* logits, const std::int64_t* labels, float* loss,
                             float* backprop, std::int64_t batch, std::int64_t classes,
                             const std::string& what);
// SoftmaxCrossEntropyWithLogits (dense labels [B, C]): loss = sum(labels * (log_sum_exp -
// shifted)), backprop = softmax - labels; double math as the sparse form.
// InvalidArgumentError naming `node` unless logits and labels are one [B, C] float32 shape with
// classes in a non-empty batch (TF's messages).
void check_dense_xent_shapes(const Tensor& logits, const Tensor& labels, const std::string& node);
void dense_xent_forward_ref(const float* logits, const float* labels, float* loss, float* backprop,
                            std::int64_t batch, std::int64_t classes);
void register_softmax_xent_cpu_kernels(KernelRegistry& r);

// Device memory, queued on `stream`: one block per row, double math as in the reference. A row
// whose label is outside [0, classes) gets NaN, and the smallest such row goes into `*bad` by
// atomicMin (device memory: a GpuCheck's word, gpu_args.h; null: not noted).
template <class L>
void sparse_xent_forward_cuda(const float* logits, const L* labels, float* loss, float* backprop,
                              std::int64_t batch, std::int64_t classes, devices::Stream& stream,
                              std::int64_t* bad);
void dense_xent_forward_cuda(const float* logits, const float* labels, float* loss, float* backprop,
                             std::int64_t batch, std::int64_t classes, devices::Stream& stream);
void register_softmax_xent_cuda_kernels(KernelRegistry& r);

}  // namespace scopeflow::kernels
