// SparseSoftmaxCrossEntropyWithLogits on CUDA. Reference: softmax_xent_cpu.cc
// (sparse_xent_forward_ref): max subtracted, exp/log in double, both outputs.
#include <math_constants.h>

#include <optional>

#include "devices/cuda/cuda_check.h"
#include "kernels/common/gpu_args.h"
#include "kernels/common/launch.cuh"
#include "kernels/softmax_xent/softmax_xent.h"

namespace scopeflow::kernels {
namespace {

constexpr int kBlock = 128;

// Block-wide fold of one double per thread in a fixed tree order (deterministic).
template <class F>
__device__ double block_fold(double v, double* sh, F f) {
  const int t = threadIdx.x;
  sh[t] = v;
  __syncthreads();
  for (int s = kBlock / 2; s > 0; s >>= 1) {
    if (t < s) sh[t] = f(sh[t], sh[t + s]);
    __syncthreads();
  }
  const double out = sh[0];
  __syncthreads();  // sh is reused by the next fold
  return out;
}

// A row's maximum (*m) and log(sum(exp(row - m))), folded over the block (every thread gets
// both).
__device__ double row_log_sum_exp(const float* row, std::int64_t classes, double* sh, double* m) {
  double mx = row[0];
  for (std::int64_t c = threadIdx.x; c < classes; c += kBlock) mx = fmax(mx, double(row[c]));
  mx = block_fold(mx, sh, [](double x, double y) { return fmax(x, y); });
  double sum = 0;
  for (std::int64_t c = threadIdx.x; c < classes; c += kBlock) sum += exp(double(row[c]) - mx);
  sum = block_fold(sum, sh, [](double x, double y) { return x + y; });
  *m = mx;
  return log(sum);
}

// ---------------------------------------------------------------- kernels
// One block per row (grid-stride over rows); threads stride over the classes. NOTE: a NaN or
// +inf logit makes the row's loss and gradient NaN, as in the reference (exp(NaN) or
// exp(inf - inf) enters the sum); the max itself only needs to be some element of the row.
template <class L>
__global__ void sparse_xent_kernel(const float* logits, const L* labels, float* loss,
                                   float* backprop, std::int64_t batch, std::int64_t classes,
                                   unsigned long long* bad) {
  __shared__ double sh[kBlock];
  for (std::int64_t b = blockIdx.x; b < batch; b += gridDim.x) {
    const float* row = logits + b * classes;
    float* back = backprop + b * classes;
    const std::int64_t label = static_cast<std::int64_t>(labels[b]);
    double m;
    const double log_sum = row_log_sum_exp(row, classes, sh, &m);
    const bool valid = label >= 0 && label < classes;
    if (threadIdx.x == 0) {
      loss[b] = valid ? static_cast<float>(log_sum - (double(row[label]) - m)) : CUDART_NAN_F;
      if (!valid && bad != nullptr) atomicMin(bad, static_cast<unsigned long long>(b));
    }
    for (std::int64_t c = threadIdx.x; c < classes; c += kBlock)
      back[c] =
          valid ? static_cast<float>(exp(double(row[c]) - m - log_sum) - (c == label ? 1.0 : 0.0))
                : 0.0f;
  }
}

// The dense form: one block per row; loss = sum(labels * (log_sum - shifted)) folded in the
// block's fixed order, backprop = softmax - labels.
__global__ void dense_xent_kernel(const float* logits, const float* labels, float* loss,
                                  float* backprop, std::int64_t batch, std::int64_t classes) {
  __shared__ double sh[kBlock];
  for (std::int64_t b = blockIdx.x; b < batch; b += gridDim.x) {
    const float* row = logits + b * classes;
    const float* lab = labels + b * classes;
    float* back = backprop + b * classes;
    double m;
    const double log_sum = row_log_sum_exp(row, classes, sh, &m);
    double l = 0;
    for (std::int64_t c = threadIdx.x; c < classes; c += kBlock)
      l += double(lab[c]) * (log_sum - (double(row[c]) - m));
    l = block_fold(l, sh, [](double x, double y) { return x + y; });
    if (threadIdx.x == 0) loss[b] = static_cast<float>(l);
    for (std::int64_t c = threadIdx.x; c < classes; c += kBlock)
      back[c] = static_cast<float>(exp(double(row[c]) - m - log_sum) - double(lab[c]));
  }
}

}  // namespace

void dense_xent_forward_cuda(const float* logits, const float* labels, float* loss, float* backprop,
                             std::int64_t batch, std::int64_t classes, devices::Stream& stream) {
  if (batch == 0 || classes == 0) return;
  const unsigned grid = static_cast<unsigned>(std::min<std::int64_t>(batch, 132 * 16));
  dense_xent_kernel<<<grid, kBlock, 0, cuda_stream(stream)>>>(logits, labels, loss, backprop, batch,
                                                              classes);
  SF_CUDA_CHECK(cudaGetLastError());
}

// ---------------------------------------------------------------- launchers
template <class L>
void sparse_xent_forward_cuda(const float* logits, const L* labels, float* loss, float* backprop,
                              std::int64_t batch, std::int64_t classes, devices::Stream& stream,
                              std::int64_t* bad) {
  if (batch == 0 || classes == 0) return;
  const unsigned grid = static_cast<unsigned>(std::min<std::int64_t>(batch, 132 * 16));
  sparse_xent_kernel<L><<<grid, kBlock, 0, cuda_stream(stream)>>>(
      logits, labels, loss, backprop, batch, classes, reinterpret_cast<unsigned long long*>(bad));
  SF_CUDA_CHECK(cudaGetLastError());
}
template void sparse_xent_forward_cuda<std::int32_t>(const float*, const std::int32_t*, float*,
                                                     float*, std::int64_t, std::int64_t,
                                                     devices::Stream&, std::int64_t*);
template void sparse_xent_forward_cuda<std::int64_t>(const float*, const std::int64_t*, float*,
                                                     float*, std::int64_t, std::int64_t,
                                                     devices::Stream&, std::int64_t*);

// ---------------------------------------------------------------- registration
namespace {
void sparse_xent_gpu_kernel(KernelContext& c) {
  const Tensor& logits = gpu_input(c, 0);
  const Tensor& labels = gpu_input(c, 1);
  if (logits.shape().rank() != 2 || labels.shape().rank() != 1 ||
      labels.shape().dims()[0] != logits.shape().dims()[0])
    throw InvalidArgumentError(
        str_cat(c.node_name, ": logits must be [batch, classes] and labels [batch], got ",
                logits.shape().to_string(), " and ", labels.shape().to_string()));
  if (labels.dtype() != DType::kInt32 && labels.dtype() != DType::kInt64)
    throw InvalidArgumentError(
        str_cat(c.node_name, ": labels must be int32 or int64, got ", dtype_name(labels.dtype())));
  const auto batch = logits.shape().dims()[0], classes = logits.shape().dims()[1];
  if (batch > 0 && classes == 0)  // a shape error, raised before any label is read
    throw InvalidArgumentError(xent_no_class_error(c.node_name, logits.shape()));
  GpuLaunchScope scope(c);
  // A label outside [0, classes): its row's loss is NaN and its gradient zero (TF's GPU kernel
  // writes NaN to both, which an update then spreads to every weight), and the reference's
  // error is raised by the session after the step (a GpuCheck: reading the labels here would
  // wait for the stream, and a CUDA graph could not capture it).
  std::optional<GpuCheck> check;
  if (batch > 0)
    check.emplace(c, [node = c.node_name, classes](std::int64_t row, std::int64_t label) {
      return str_cat(xent_label_error(node, label, classes),
                     " (found on the GPU once the step had run: row ", row,
                     "'s loss is NaN and its gradient zero; the rest of the step ran)");
    });
  std::int64_t* bad = check ? reinterpret_cast<std::int64_t*>(check->word()) : nullptr;
  if (c.outputs.size() < 2) c.outputs.resize(2);  // gpu_output must not resize under refs
  Tensor& loss = gpu_output(c, 0, DType::kFloat32, Shape{batch});
  Tensor& back = gpu_output(c, 1, DType::kFloat32, logits.shape());
  if (labels.dtype() == DType::kInt32)
    sparse_xent_forward_cuda(logits.data<float>(), labels.data<std::int32_t>(), loss.data<float>(),
                             back.data<float>(), batch, classes, c.get_stream(), bad);
  else
    sparse_xent_forward_cuda(logits.data<float>(), labels.data<std::int64_t>(), loss.data<float>(),
                             back.data<float>(), batch, classes, c.get_stream(), bad);
  if (check) check->finish(labels);
}
}  // namespace

namespace {
void dense_xent_gpu_kernel(KernelContext& c) {
  const Tensor& logits = gpu_input(c, 0);
  const Tensor& labels = gpu_input(c, 1);
  check_dense_xent_shapes(logits, labels, c.node_name);
  const auto batch = logits.shape().dims()[0], classes = logits.shape().dims()[1];
  GpuLaunchScope scope(c);
  if (c.outputs.size() < 2) c.outputs.resize(2);  // gpu_output must not resize under refs
  Tensor& loss = gpu_output(c, 0, DType::kFloat32, Shape{batch});
  Tensor& back = gpu_output(c, 1, DType::kFloat32, logits.shape());
  dense_xent_forward_cuda(logits.data<float>(), labels.data<float>(), loss.data<float>(),
                          back.data<float>(), batch, classes, c.get_stream());
}
}  // namespace

void register_softmax_xent_cuda_kernels(KernelRegistry& r) {
  r.add({"SoftmaxCrossEntropyWithLogits", devices::DeviceType::kGPU, DType::kFloat32, "cuda"},
        dense_xent_gpu_kernel);
  r.add({"SparseSoftmaxCrossEntropyWithLogits", devices::DeviceType::kGPU, DType::kFloat32, "cuda"},
        sparse_xent_gpu_kernel);
}

}  // namespace scopeflow::kernels
