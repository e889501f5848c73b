// Array ops on the CPU. See array.h.
#include <cstring>

#include "kernels/array/array.h"

namespace scopeflow::kernels {
namespace {

void identity_kernel(KernelContext& c) {
  if (c.inputs.size() != 1) throw InvalidArgumentError(str_cat(c.node_name, ": expects one input"));
  if (c.outputs.size() < 1) c.outputs.resize(1);
  c.outputs[0] = c.inputs[0];  // NOTE: shares the buffer, as TF's Identity forwards its input
}

void pack_kernel(KernelContext& c) {
  if (c.inputs.empty()) throw InvalidArgumentError(str_cat(c.node_name, ": Pack needs inputs"));
  const Tensor& first = c.inputs[0];
  for (const auto& t : c.inputs)
    if (t.dtype() != first.dtype() || !(t.shape() == first.shape()))
      throw InvalidArgumentError(str_cat(c.node_name, ": Pack inputs must match: ",
                                         first.shape().to_string(), " vs ", t.shape().to_string()));
  std::vector<std::int64_t> dims{static_cast<std::int64_t>(c.inputs.size())};
  for (auto d : first.shape().dims()) dims.push_back(d);
  Tensor& out = c.allocate_output(0, first.dtype(), Shape(dims));
  if (first.dtype() == DType::kString) {
    auto* dst = static_cast<std::string*>(out.raw_data());
    for (const auto& t : c.inputs)
      for (const auto& s : t.to_strings()) *dst++ = s;
    return;
  }
  auto* dst = static_cast<char*>(out.raw_data());
  for (const auto& t : c.inputs) {
    std::memcpy(dst, t.raw_data(), t.bytes());
    dst += t.bytes();
  }
}

void logical_not_kernel(KernelContext& c) {
  if (c.inputs.size() != 1) throw InvalidArgumentError(str_cat(c.node_name, ": expects one input"));
  const Tensor& x = c.inputs[0];
  Tensor& out = c.allocate_output(0, DType::kBool, x.shape());
  const bool* in = x.data<bool>();
  bool* o = out.data<bool>();
  for (std::int64_t i = 0; i < x.num_elements(); ++i) o[i] = !in[i];
}

void boolean_mask_kernel(KernelContext& c) {
  if (c.inputs.size() != 2)
    throw InvalidArgumentError(str_cat(c.node_name, ": expects two inputs"));
  const Tensor& x = c.inputs[0];
  const Tensor& mask = c.inputs[1];
  if (x.shape().rank() != 1 || mask.shape().rank() != 1 ||
      x.shape().dims()[0] != mask.shape().dims()[0])
    throw InvalidArgumentError(
        str_cat(c.node_name, ": BooleanMask needs 1-D tensor and mask of one length, got ",
                x.shape().to_string(), " and ", mask.shape().to_string()));
  auto m = mask.to_vector<bool>();
  std::int64_t kept = 0;
  for (bool b : m) kept += b;
  Tensor& out = c.allocate_output(0, x.dtype(), Shape{kept});
  if (x.dtype() == DType::kString) {
    const auto* src = static_cast<const std::string*>(x.raw_data());
    auto* dst = static_cast<std::string*>(out.raw_data());
    for (std::size_t i = 0; i < m.size(); ++i)
      if (m[i]) *dst++ = src[i];
    return;
  }
  const std::size_t es = dtype_size(x.dtype());
  const auto* src = static_cast<const char*>(x.raw_data());
  auto* dst = static_cast<char*>(out.raw_data());
  for (std::size_t i = 0; i < m.size(); ++i)
    if (m[i]) {
      std::memcpy(dst, src + i * es, es);
      dst += es;
    }
}

// Reshape: the same buffer seen with the new shape (one -1 inferred).
void reshape_kernel(KernelContext& c) {
  const Tensor& x = c.inputs.at(0);
  const Tensor& s = c.inputs.at(1);
  std::vector<std::int64_t> dims;
  if (s.dtype() == DType::kInt32) {
    for (auto d : s.to_vector<std::int32_t>()) dims.push_back(d);
  } else {
    dims = s.to_vector<std::int64_t>();
  }
  std::int64_t known = 1, unknown = -1;
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] == -1) {
      if (unknown >= 0)
        throw InvalidArgumentError(str_cat(c.node_name, ": only one input size may be -1"));
      unknown = static_cast<std::int64_t>(i);
    } else if (dims[i] < 0) {
      throw InvalidArgumentError(str_cat(c.node_name, ": size ", dims[i], " must be non-negative"));
    } else {
      known *= dims[i];
    }
  }
  if (unknown >= 0) {
    if (known == 0 || x.num_elements() % known != 0)
      throw InvalidArgumentError(str_cat(c.node_name, ": Input to reshape is a tensor with ",
                                         x.num_elements(),
                                         " values, but the requested shape cannot take them"));
    dims[static_cast<std::size_t>(unknown)] = x.num_elements() / known;
  }
  if (c.outputs.empty()) c.outputs.resize(1);
  try {
    c.outputs[0] = x.reshaped(Shape(dims));
  } catch (const InvalidArgumentError&) {
    throw InvalidArgumentError(str_cat(c.node_name, ": Input to reshape is a tensor with ",
                                       x.num_elements(), " values, but the requested shape has ",
                                       Shape(dims).num_elements()));
  }
}

}  // namespace

void register_array_cpu_kernels(KernelRegistry& r) {
  using devices::DeviceType;
  for (DType d :
       {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16, DType::kInt32,
        DType::kInt64, DType::kBool, DType::kString, DType::kUInt8, DType::kInt8}) {
    r.add({"Identity", DeviceType::kCPU, d, "ref"}, identity_kernel);
    r.add({"Pack", DeviceType::kCPU, d, "ref"}, pack_kernel);
    r.add({"BooleanMask", DeviceType::kCPU, d, "ref"}, boolean_mask_kernel);
    r.add({"Reshape", DeviceType::kCPU, d, "ref"}, reshape_kernel);
  }
  r.add({"LogicalNot", DeviceType::kCPU, DType::kBool, "ref"}, logical_not_kernel);
}

void register_array_gpu_kernels(KernelRegistry& r) {
  for (DType d : {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16,
                  DType::kInt32, DType::kInt64, DType::kBool, DType::kUInt8, DType::kInt8}) {
    r.add({"Identity", devices::DeviceType::kGPU, d, "cuda"}, identity_kernel);
    r.add({"Reshape", devices::DeviceType::kGPU, d, "cuda"}, reshape_kernel);
  }
}

}  // namespace scopeflow::kernels
