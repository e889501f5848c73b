// Random initializer kernels on the CPU (the reference). CUDA: random_cuda.cu.
#include "kernels/init/random.h"

namespace scopeflow::kernels {

// One Philox block serves 4 uniforms or 2 normals: the loops walk whole blocks and fall back
// to the per-element functions only at the ragged ends. Same values as element-wise.
void random_forward_ref(const RandomArgs& a) {
  std::int64_t i = 0;
  auto counter = [&](std::int64_t k) { return a.offset + static_cast<std::uint64_t>(k); };
  switch (a.dist) {
    case RandomDist::kUniform:
      for (; i < a.n && (counter(i) & 3) != 0; ++i)
        a.out[i] = philox::uniform_at(a.key, counter(i));
      for (; i + 4 <= a.n; i += 4) {
        const std::uint64_t block = counter(i) >> 2;
        const auto b = philox::philox4x32_10(static_cast<std::uint32_t>(block),
                                             static_cast<std::uint32_t>(block >> 32), 0u, 0u,
                                             a.key.k0, a.key.k1);
        for (int k = 0; k < 4; ++k) a.out[i + k] = philox::uint32_to_float(b.v[k]);
      }
      for (; i < a.n; ++i) a.out[i] = philox::uniform_at(a.key, counter(i));
      break;
    case RandomDist::kNormal:
      if (i < a.n && (counter(i) & 1) != 0) {
        a.out[i] = philox::normal_at(a.key, counter(i));
        ++i;
      }
      for (; i + 2 <= a.n; i += 2)
        philox::normal_pair_at(a.key, counter(i) >> 1, &a.out[i], &a.out[i + 1]);
      for (; i < a.n; ++i) a.out[i] = philox::normal_at(a.key, counter(i));
      break;
    case RandomDist::kTruncatedNormal:
      for (; i < a.n; ++i) a.out[i] = philox::truncated_normal_at(a.key, counter(i));
      break;
  }
}

philox::Key random_key(const KernelContext& c) {
  const auto seed = static_cast<std::uint64_t>(c.attr().get_or<std::int64_t>("seed", 0));
  const auto seed2 = static_cast<std::uint64_t>(c.attr().get_or<std::int64_t>("seed2", 0));
  if (seed == 0 && seed2 == 0) return philox::make_key(c.rng_seed, c.rng_seed >> 17);
  return philox::make_key(seed, seed2);
}

Shape shape_from_tensor(const Tensor& t, const std::string& op) {
  if (t.shape().rank() != 1)  // TF: the shape (or dims) input is a vector
    throw InvalidArgumentError(
        str_cat(op, ": shape must be a vector, got a tensor of shape ", t.shape().to_string()));
  std::vector<std::int64_t> dims;
  if (t.dtype() == DType::kInt32) {
    for (auto d : t.to_vector<std::int32_t>()) dims.push_back(d);
  } else if (t.dtype() == DType::kInt64) {
    dims = t.to_vector<std::int64_t>();
  } else {
    throw InvalidArgumentError(
        str_cat(op, ": shape must be int32 or int64, got ", dtype_name(t.dtype())));
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
