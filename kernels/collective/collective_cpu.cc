// The host all-reduce (CPU devices, and the reference of the fused CUDA kernel) and the lone
// NcclAllReduce kernel. See collective.h; GPU: collective_cuda.cu, NCCL: collective_nccl.cc.
#include <algorithm>

#include "devices/base/errors.h"
#include "kernels/collective/collective.h"
#include "kernels/common/parallel_for.h"

namespace scopeflow::kernels {
namespace {

// Host element type -> the type the reduction computes in (float for the 16-bit floats).
template <class T>
struct HostCompute {
  using type = T;
};
template <>
struct HostCompute<half> {
  using type = float;
};
template <>
struct HostCompute<bfloat16_t> {
  using type = float;
};

// Blocks of kBlock elements: the block's sum is accumulated in a local array, input by input
// (contiguous loops the compiler vectorizes), then stored to every output. Every input of a block
// is read before any output of it is written, so outputs may alias inputs.
template <AllReduceOp Op, class T>
void reduce_loop(const std::vector<const void*>& in, const std::vector<void*>& out,
                 std::int64_t n) {
  using C = typename HostCompute<T>::type;
  constexpr std::int64_t kBlock = 1024;
  const std::size_t k = in.size();
  parallel_for(n, kElementwiseGrain, [&](std::int64_t begin, std::int64_t end) {
    C acc[kBlock];
    for (std::int64_t b = begin; b < end; b += kBlock) {
      const std::int64_t m = std::min(kBlock, end - b);
      const T* x0 = static_cast<const T*>(in[0]) + b;
      for (std::int64_t i = 0; i < m; ++i) acc[i] = static_cast<C>(x0[i]);
      for (std::size_t j = 1; j < k; ++j) {
        const T* x = static_cast<const T*>(in[j]) + b;
        for (std::int64_t i = 0; i < m; ++i)
          acc[i] = reduce_combine<Op, C>(acc[i], static_cast<C>(x[i]));
      }
      for (void* o : out) {
        T* y = static_cast<T*>(o) + b;
        for (std::int64_t i = 0; i < m; ++i) y[i] = static_cast<T>(acc[i]);
      }
    }
  });
}

template <class T>
void reduce_typed(AllReduceOp op, const std::vector<const void*>& in, const std::vector<void*>& out,
                  std::int64_t n) {
  switch (op) {
    case AllReduceOp::kSum: return reduce_loop<AllReduceOp::kSum, T>(in, out, n);
    case AllReduceOp::kProd: return reduce_loop<AllReduceOp::kProd, T>(in, out, n);
    case AllReduceOp::kMin: return reduce_loop<AllReduceOp::kMin, T>(in, out, n);
    case AllReduceOp::kMax: return reduce_loop<AllReduceOp::kMax, T>(in, out, n);
  }
}

// NcclAllReduce run as a plain kernel: only a single participant reduces alone (the executor
// runs every NcclAllReduce group as one collective step and never calls this otherwise).
void lone_all_reduce_kernel(KernelContext& c) {
  const std::int64_t k = c.attr().get_or<std::int64_t>("num_devices", 1);
  if (k != 1)
    throw FailedPreconditionError(
        str_cat("NcclAllReduce node '", c.node_name, "' has num_devices ", k,
                ": it runs as one collective step with its peers, not as a lone kernel"));
  const Tensor& x = c.inputs.at(0);
  c.outputs.resize(1);
  c.outputs[0] = x.to(c.device_ptr ? c.device_ptr : devices::host_device());
}

}  // namespace

AllReduceOp all_reduce_op_from_name(const std::string& name, const std::string& node) {
  if (name == "sum") return AllReduceOp::kSum;
  if (name == "prod") return AllReduceOp::kProd;
  if (name == "min") return AllReduceOp::kMin;
  if (name == "max") return AllReduceOp::kMax;
  throw InvalidArgumentError(str_cat("NcclAllReduce node '", node, "': reduction '", name,
                                     "' is not one of sum, prod, min, max"));
}

const char* all_reduce_op_name(AllReduceOp op) {
  switch (op) {
    case AllReduceOp::kSum: return "sum";
    case AllReduceOp::kProd: return "prod";
    case AllReduceOp::kMin: return "min";
    case AllReduceOp::kMax: return "max";
  }
  return "?";
}

bool all_reduce_supports(DType dtype) {
  return dtype == DType::kFloat32 || dtype == DType::kFloat64 || dtype == DType::kFloat16 ||
         dtype == DType::kBFloat16 || dtype == DType::kInt32 || dtype == DType::kInt64;
}

void all_reduce_host_buffers(AllReduceOp op, DType dtype, const std::vector<const void*>& in,
                             const std::vector<void*>& out, std::int64_t n) {
  if (in.empty() || n <= 0) return;
  switch (dtype) {
    case DType::kFloat32: return reduce_typed<float>(op, in, out, n);
    case DType::kFloat64: return reduce_typed<double>(op, in, out, n);
    case DType::kFloat16: return reduce_typed<half>(op, in, out, n);
    case DType::kBFloat16: return reduce_typed<bfloat16_t>(op, in, out, n);
    case DType::kInt32: return reduce_typed<std::int32_t>(op, in, out, n);
    case DType::kInt64: return reduce_typed<std::int64_t>(op, in, out, n);
    default:
      throw InvalidArgumentError(str_cat("all-reduce: unsupported dtype ", dtype_name(dtype),
                                         " (float32, float64, float16, bfloat16, int32, int64)"));
  }
}

std::vector<Tensor> all_reduce_host(const AllReduceRequest& r) {
  std::vector<const void*> in;
  for (std::size_t j = 0; j < r.inputs.size(); ++j) {
    const Tensor& x = r.inputs[j];
    if (!x.on_host())
      throw InvalidArgumentError(str_cat("all-reduce ", r.name, ": participant ", j,
                                         " is not in host memory (", x.device(), ")"));
    in.push_back(x.raw_data());
  }
  if (r.inputs.empty()) return {};
  // NOTE: one result buffer handed to every participant: the logical CPU devices share host
  // memory, and the executor hands buffers between them the same way (its copy nodes do).
  const Tensor& x0 = r.inputs[0];
  Tensor result(x0.dtype(), x0.shape(), r.devices[0]);
  all_reduce_host_buffers(r.op, x0.dtype(), in, {result.raw_data()}, x0.num_elements());
  return std::vector<Tensor>(r.inputs.size(), result);
}

void register_collective_cpu_kernels(KernelRegistry& r) {
  for (DType t : {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16,
                  DType::kInt32, DType::kInt64})
    r.add({"NcclAllReduce", devices::DeviceType::kCPU, t, "ref"}, lone_all_reduce_kernel);
}

}  // namespace scopeflow::kernels
