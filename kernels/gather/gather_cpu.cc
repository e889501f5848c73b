// GatherV2, UnsortedSegmentSum and _EmbeddingRowIndex on the CPU (reference kernels; every
// element copied or summed in index order) and the plans both devices share. See gather.h.
#include <cstring>
#include <type_traits>

#include "kernels/array/concat.h"
#include "kernels/gather/gather.h"

namespace scopeflow::kernels {

std::string index_string(const Shape& shape, std::int64_t flat) {
  const auto& d = shape.dims();
  if (d.empty()) return "";
  std::vector<std::int64_t> idx(d.size(), 0);
  for (std::size_t k = d.size(); k-- > 0;) {
    idx[k] = d[k] > 0 ? flat % d[k] : 0;
    flat = d[k] > 0 ? flat / d[k] : 0;
  }
  std::string s = "[";
  for (std::size_t k = 0; k < idx.size(); ++k) s += (k ? "," : "") + std::to_string(idx[k]);
  return s + "]";
}

GatherPlan gather_plan(const KernelContext& c, const Shape& params, const Shape& indices,
                       std::int64_t axis) {
  const std::int64_t batch_dims = c.attr().get_or<std::int64_t>("batch_dims", 0);
  if (batch_dims != 0)
    throw InvalidArgumentError(str_cat(c.node_name, ": GatherV2 with batch_dims ", batch_dims,
                                       " is not supported (only 0)"));
  const int rank = params.rank();
  if (rank < 1)
    throw InvalidArgumentError(str_cat(c.node_name, ": params must be at least 1 dimensional"));
  if (axis < -rank || axis >= rank)
    throw InvalidArgumentError(str_cat(c.node_name, ": Expected axis in the range [", -rank, ", ",
                                       rank, "), but got ", axis));
  if (axis < 0) axis += rank;
  GatherPlan p;
  std::vector<std::int64_t> out;
  for (int k = 0; k < rank; ++k) {
    const std::int64_t d = params.dims()[static_cast<std::size_t>(k)];
    if (k < axis) {
      p.outer *= d;
      out.push_back(d);
    } else if (k == axis) {
      p.limit = d;
      for (auto i : indices.dims()) out.push_back(i);
    } else {
      p.inner *= d;
      out.push_back(d);
    }
  }
  p.count = indices.num_elements();
  p.out = Shape(out);
  return p;
}

SegmentPlan segment_plan(const KernelContext& c, const Shape& data, const Shape& ids,
                         std::int64_t num_segments) {
  if (num_segments < 0)
    throw InvalidArgumentError(
        str_cat(c.node_name, ": num_segments must be >= 0, got ", num_segments));
  const auto& d = data.dims();
  const auto& s = ids.dims();
  bool prefix = s.size() <= d.size();
  for (std::size_t k = 0; prefix && k < s.size(); ++k) prefix = s[k] == d[k];
  if (!prefix)
    throw InvalidArgumentError(str_cat(c.node_name, ": segment_ids.shape = ", ids.to_string(),
                                       " does not prefix data.shape = ", data.to_string()));
  SegmentPlan p;
  p.count = ids.num_elements();
  p.num_segments = num_segments;
  std::vector<std::int64_t> out{num_segments};
  for (std::size_t k = s.size(); k < d.size(); ++k) {
    p.inner *= d[k];
    out.push_back(d[k]);
  }
  p.out = Shape(out);
  return p;
}

ShardRows shard_rows(const KernelContext& c) {
  ShardRows r;
  const std::string strategy = c.attr().get<std::string>("partition_strategy");
  if (strategy != "mod" && strategy != "div")
    throw InvalidArgumentError(
        str_cat(c.node_name, ": Unrecognized partition strategy: ", strategy));
  r.mod = strategy == "mod";
  r.rows = c.attr().get<std::vector<std::int64_t>>("shard_rows");
  if (r.rows.empty())
    throw InvalidArgumentError(str_cat(c.node_name, ": shard_rows must name at least one shard"));
  for (auto n : r.rows) {
    if (n < 0) throw InvalidArgumentError(str_cat(c.node_name, ": a shard has ", n, " rows"));
    r.offsets.push_back(r.total);
    r.total += n;
  }
  return r;
}

std::string gather_index_error(const std::string& node, const Shape& indices, std::int64_t j,
                               std::int64_t value, std::int64_t limit) {
  return str_cat(node, ": indices", index_string(indices, j), " = ", value, " is not in [0, ",
                 limit, ")");
}

std::string segment_id_error(const std::string& node, const Shape& ids, std::int64_t j,
                             std::int64_t value, std::int64_t num_segments) {
  return str_cat(node, ": segment_ids", index_string(ids, j), " = ", value, " is out of range [0, ",
                 num_segments, ")");
}

std::string embedding_id_error(const std::string& node, const Shape& ids, std::int64_t j,
                               std::int64_t value, const ShardRows& r) {
  return str_cat(node, ": ids", index_string(ids, j), " = ", value, " is not in [0, ", r.total,
                 ") or past the end of its shard (", r.mod ? "mod" : "div", " over ", r.rows.size(),
                 " shards)");
}

namespace {

void gather_kernel(KernelContext& c) {
  const Tensor& params = c.inputs.at(0);
  const GatherPlan p =
      gather_plan(c, params.shape(), c.inputs.at(1).shape(), scalar_int_input(c, 2));
  const auto idx = int_vector_input(c, 1);
  for (std::size_t j = 0; j < idx.size(); ++j)
    if (idx[j] < 0 || idx[j] >= p.limit)
      throw InvalidArgumentError(gather_index_error(c.node_name, c.inputs[1].shape(),
                                                    static_cast<std::int64_t>(j), idx[j], p.limit));
  Tensor& out = c.allocate_output(0, params.dtype(), p.out);
  const std::size_t es = dtype_size(params.dtype());
  const std::size_t row = static_cast<std::size_t>(p.inner) * es;
  if (params.dtype() == DType::kString) {
    const auto* src = params.data<std::string>();
    auto* dst = out.data<std::string>();
    for (std::int64_t o = 0; o < p.outer; ++o)
      for (std::int64_t j = 0; j < p.count; ++j)
        for (std::int64_t k = 0; k < p.inner; ++k)
          dst[(o * p.count + j) * p.inner + k] =
              src[(o * p.limit + idx[static_cast<std::size_t>(j)]) * p.inner + k];
    return;
  }
  const auto* src = static_cast<const char*>(params.raw_data());
  auto* dst = static_cast<char*>(out.raw_data());
  for (std::int64_t o = 0; o < p.outer; ++o)
    for (std::int64_t j = 0; j < p.count; ++j)
      if (row > 0)
        std::memcpy(
            dst + static_cast<std::size_t>(o * p.count + j) * row,
            src + static_cast<std::size_t>(o * p.limit + idx[static_cast<std::size_t>(j)]) * row,
            row);
}

// float16 / bfloat16 add in float and round each sum, as TF's CPU kernel (Eigen::half) does.
template <class T>
constexpr bool kSixteenBitFloat = std::is_same_v<T, half> || std::is_same_v<T, bfloat16_t>;

template <class T>
T zero_of() {
  if constexpr (kSixteenBitFloat<T>)
    return T(0.0f);
  else
    return T(0);
}

template <class T>
T add_elements(T a, T b) {
  if constexpr (kSixteenBitFloat<T>)
    return T(static_cast<float>(a) + static_cast<float>(b));
  else
    return a + b;
}

template <class T>
void segment_sum_kernel(KernelContext& c) {
  const Tensor& data = c.inputs.at(0);
  const SegmentPlan p =
      segment_plan(c, data.shape(), c.inputs.at(1).shape(), scalar_int_input(c, 2));
  const auto ids = int_vector_input(c, 1);
  for (std::size_t i = 0; i < ids.size(); ++i)
    if (ids[i] >= p.num_segments)
      throw InvalidArgumentError(segment_id_error(
          c.node_name, c.inputs[1].shape(), static_cast<std::int64_t>(i), ids[i], p.num_segments));
  Tensor& out = c.allocate_output(0, data.dtype(), p.out);
  T* y = out.data<T>();
  std::fill(y, y + out.num_elements(), zero_of<T>());
  const T* x = data.data<T>();
  for (std::int64_t i = 0; i < p.count; ++i) {
    const std::int64_t s = ids[static_cast<std::size_t>(i)];
    if (s < 0) continue;  // dropped, as TF drops negative ids
    for (std::int64_t k = 0; k < p.inner; ++k)
      y[s * p.inner + k] = add_elements(y[s * p.inner + k], x[i * p.inner + k]);
  }
}

void embedding_row_index_kernel(KernelContext& c) {
  const ShardRows r = shard_rows(c);
  const auto ids = int_vector_input(c, 0);
  Tensor& out = c.allocate_output(0, DType::kInt64, c.inputs[0].shape());
  auto* y = out.data<std::int64_t>();
  const auto parts = static_cast<std::int64_t>(r.rows.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    y[i] = embedding_row(ids[i], r.mod, parts, r.rows.data(), r.offsets.data(), r.total);
    if (y[i] < 0)
      throw InvalidArgumentError(embedding_id_error(c.node_name, c.inputs[0].shape(),
                                                    static_cast<std::int64_t>(i), ids[i], r));
  }
}

}  // namespace

void register_gather_cpu_kernels(KernelRegistry& r) {
  using devices::DeviceType;
  for (DType d :
       {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16, DType::kInt32,
        DType::kInt64, DType::kBool, DType::kString, DType::kUInt8, DType::kInt8})
    r.add({"GatherV2", DeviceType::kCPU, d, "ref"}, gather_kernel);
  r.add({"UnsortedSegmentSum", DeviceType::kCPU, DType::kFloat32, "ref"},
        segment_sum_kernel<float>);
  r.add({"UnsortedSegmentSum", DeviceType::kCPU, DType::kFloat64, "ref"},
        segment_sum_kernel<double>);
  r.add({"UnsortedSegmentSum", DeviceType::kCPU, DType::kInt32, "ref"},
        segment_sum_kernel<std::int32_t>);
  r.add({"UnsortedSegmentSum", DeviceType::kCPU, DType::kInt64, "ref"},
        segment_sum_kernel<std::int64_t>);
  r.add({"UnsortedSegmentSum", DeviceType::kCPU, DType::kFloat16, "ref"}, segment_sum_kernel<half>);
  r.add({"UnsortedSegmentSum", DeviceType::kCPU, DType::kBFloat16, "ref"},
        segment_sum_kernel<bfloat16_t>);
  r.add({"_EmbeddingRowIndex", DeviceType::kCPU, DType::kInt64, "ref"}, embedding_row_index_kernel);
}

}  // namespace scopeflow::kernels
