// Comparisons on CUDA: Equal/NotEqual/Less/Greater with broadcasting, bool output.
// Reference: compare_cpu.cc; broadcasting: broadcast_launch.cuh (as binary_cuda.cu).
#include "devices/cuda/cuda_check.h"
#include "kernels/common/gpu_args.h"
#include "kernels/common/launch.cuh"
#include "kernels/math/binary.h"
#include "kernels/math/broadcast_launch.cuh"
#include "kernels/math/broadcast_plan.h"
#include "kernels/math/compare.h"

namespace scopeflow::kernels {
namespace {

// NOTE: IEEE comparisons, as the reference: NaN != everything, -0 == 0.
template <CompareOp kOp, class T>
__device__ __forceinline__ bool compare_apply(T x, T y) {
  if constexpr (kOp == CompareOp::kEqual)
    return x == y;
  else if constexpr (kOp == CompareOp::kNotEqual)
    return x != y;
  else if constexpr (kOp == CompareOp::kLess)
    return x < y;
  else if constexpr (kOp == CompareOp::kGreater)
    return x > y;
  else if constexpr (kOp == CompareOp::kLessEqual)
    return x <= y;
  else
    return x >= y;
}

template <CompareOp kOp, class T>
struct CompareFn {
  __device__ bool operator()(T x, T y) const { return compare_apply<kOp>(x, y); }
};

}  // namespace

// ---------------------------------------------------------------- launchers
template <class T>
void compare_forward_cuda(CompareOp op, const T* a, const Shape& sa, const T* b, const Shape& sb,
                          bool* out, const Shape& so, devices::Stream& stream) {
  const BroadcastPlan p = make_broadcast_plan(sa, sb, so);
  auto launch = [&]<CompareOp kOp>() {
    broadcast::launch(CompareFn<kOp, T>{}, a, b, out, p, cuda_stream(stream));
  };
  switch (op) {
    case CompareOp::kEqual: launch.template operator()<CompareOp::kEqual>(); break;
    case CompareOp::kNotEqual: launch.template operator()<CompareOp::kNotEqual>(); break;
    case CompareOp::kLess: launch.template operator()<CompareOp::kLess>(); break;
    case CompareOp::kGreater: launch.template operator()<CompareOp::kGreater>(); break;
    case CompareOp::kLessEqual: launch.template operator()<CompareOp::kLessEqual>(); break;
    case CompareOp::kGreaterEqual: launch.template operator()<CompareOp::kGreaterEqual>(); break;
  }
}

#define SF_COMPARE_CUDA_INSTANTIATE(T)                                                             \
  template void compare_forward_cuda<T>(CompareOp, const T*, const Shape&, const T*, const Shape&, \
                                        bool*, const Shape&, devices::Stream&);
SF_COMPARE_CUDA_INSTANTIATE(float)
SF_COMPARE_CUDA_INSTANTIATE(double)
SF_COMPARE_CUDA_INSTANTIATE(std::int32_t)
SF_COMPARE_CUDA_INSTANTIATE(std::int64_t)
SF_COMPARE_CUDA_INSTANTIATE(bool)
#undef SF_COMPARE_CUDA_INSTANTIATE

// ---------------------------------------------------------------- registration
namespace {

template <CompareOp kOp>
void compare_gpu_kernel(KernelContext& c) {
  if (c.inputs.size() != 2)
    throw InvalidArgumentError(str_cat(c.node_name, ": expects two inputs"));
  const Tensor& a = gpu_input(c, 0);
  const Tensor& b = gpu_input(c, 1);
  if (a.dtype() != b.dtype())
    throw InvalidArgumentError(str_cat(c.node_name, ": input dtypes differ: ",
                                       dtype_name(a.dtype()), " vs ", dtype_name(b.dtype())));
  const Shape so = broadcast_shapes(a.shape(), b.shape(), c.node_name);
  auto run = [&]<class T>(T) {
    GpuLaunchScope scope(c);
    Tensor& out = gpu_output(c, 0, DType::kBool, so);
    compare_forward_cuda<T>(kOp, a.data<T>(), a.shape(), b.data<T>(), b.shape(), out.data<bool>(),
                            so, c.get_stream());
  };
  dispatch_compare_dtype(kOp, a.dtype(), c.node_name, run);
}

}  // namespace

void register_compare_cuda_kernels(KernelRegistry& r) {
  using devices::DeviceType;
  r.add({"Equal", DeviceType::kGPU, DType::kBool, "cuda"}, compare_gpu_kernel<CompareOp::kEqual>);
  r.add({"NotEqual", DeviceType::kGPU, DType::kBool, "cuda"},
        compare_gpu_kernel<CompareOp::kNotEqual>);
  r.add({"Less", DeviceType::kGPU, DType::kBool, "cuda"}, compare_gpu_kernel<CompareOp::kLess>);
  r.add({"Greater", DeviceType::kGPU, DType::kBool, "cuda"},
        compare_gpu_kernel<CompareOp::kGreater>);
  r.add({"LessEqual", DeviceType::kGPU, DType::kBool, "cuda"},
        compare_gpu_kernel<CompareOp::kLessEqual>);
  r.add({"GreaterEqual", DeviceType::kGPU, DType::kBool, "cuda"},
        compare_gpu_kernel<CompareOp::kGreaterEqual>);
}

}  // namespace scopeflow::kernels
