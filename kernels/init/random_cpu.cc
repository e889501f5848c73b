// Random initializer kernels on the CPU (the reference). CUDA: random_cuda.cu.
#include "kernels/init/random.h"

namespace scopeflow::kernels {

void random_forward_ref(const RandomArgs& a) {
  for (std::int64_t i = 0; i < a.n; ++i) {
    const std::uint64_t c = a.offset + static_cast<std::uint64_t>(i);
    switch (a.dist) {
      case RandomDist::kUniform: a.out[i] = philox::uniform_at(a.key, c); break;
      case RandomDist::kNormal: a.out[i] = philox::normal_at(a.key, c); break;
      case RandomDist::kTruncatedNormal: a.out[i] = philox::truncated_normal_at(a.key, c); break;
    }
  }
}

philox::Key random_key(const KernelContext& c) {
  const auto seed = static_cast<std::uint64_t>(c.attr().get_or<std::int64_t>("seed", 0));
  const auto seed2 = static_cast<std::uint64_t>(c.attr().get_or<std::int64_t>("seed2", 0));
  if (seed == 0 && seed2 == 0) return philox::make_key(c.rng_seed, c.rng_seed >> 17);
  return philox::make_key(seed, seed2);
}

Shape shape_from_tensor(const Tensor& t, const std::string& op) {
  std::vector<std::int64_t> dims;
  if (t.dtype() == DType::kInt32) {
    for (auto d : t.to_vector<std::int32_t>()) dims.push_back(d);
  } else if (t.dtype() == DType::kInt64) {
    dims = t.to_vector<std::int64_t>();
  } else {
    throw InvalidArgumentError(str_cat(op, ": shape must be int32 or int64, got ",
                                       dtype_name(t.dtype())));
  }
  for (auto d : dims)
    if (d < 0) throw InvalidArgumentError(str_cat(op, ": negative dimension in shape"));
  return Shape(dims);
}

namespace {
template <RandomDist kDist>
void random_cpu_kernel(KernelContext& c) {
  if (c.inputs.size() != 1)
    throw InvalidArgumentError(str_cat(c.node_name, ": expects one shape input"));
  Tensor& out = c.allocate_output(0, DType::kFloat32, shape_from_tensor(c.inputs[0], c.node_name));
  random_forward_ref({kDist, random_key(c), c.rng_offset, out.data<float>(), out.num_elements()});
}
}  // namespace

void register_random_cpu_kernels(KernelRegistry& r) {
  using devices::DeviceType;
  r.add({"RandomUniform", DeviceType::kCPU, DType::kFloat32, "ref"},
        random_cpu_kernel<RandomDist::kUniform>);
  r.add({"RandomStandardNormal", DeviceType::kCPU, DType::kFloat32, "ref"},
        random_cpu_kernel<RandomDist::kNormal>);
  r.add({"TruncatedNormal", DeviceType::kCPU, DType::kFloat32, "ref"},
        random_cpu_kernel<RandomDist::kTruncatedNormal>);
}

}  // namespace scopeflow::kernels
