// sf::gather, sf::unsorted_segment_sum, sf::nn::embedding_lookup. See embedding.h.
#include "scope/ops/embedding.h"

#include <limits>
#include <optional>

#include "devices/base/errors.h"
#include "scope/ops/nn.h"
#include "scope/ops/ops.h"
#include "scope/scopes.h"

namespace scopeflow {

Output gather(const Output& params, const Output& indices, std::int64_t axis,
              std::string_view name) {
  if (axis < std::numeric_limits<std::int32_t>::min() ||
      axis > std::numeric_limits<std::int32_t>::max())
    throw ValueError(str_cat("gather: axis ", axis, " is out of range"));
  name_scope scope(name, "GatherV2");
  const std::string op_name = scope.name();
  return get_default_graph()
      .create_op("GatherV2", {params, indices, constant(static_cast<int>(axis), "axis")}, {},
                 op_name)
      .output(0);
}

Output unsorted_segment_sum(const Output& data, const Output& segment_ids,
                            std::int64_t num_segments, std::string_view name) {
  name_scope scope(name, "UnsortedSegmentSum");
  const std::string op_name = scope.name();
  return get_default_graph()
      .create_op("UnsortedSegmentSum", {data, segment_ids, constant(num_segments, "num_segments")},
                 {}, op_name)
      .output(0);
}

namespace nn {
namespace {

// The lookup over `table` (the shards joined along axis 0, or the one tensor) whose shards
// have `rows` rows each: a gather at the ids themselves for one shard, else at each id's row.
Output lookup(const Output& table, const std::vector<std::int64_t>& rows, const Output& ids,
              const std::string& strategy, const std::string& device_of_table,
              const std::string& op_name) {
  if (ids.dtype() != DType::kInt32 && ids.dtype() != DType::kInt64)
    throw ValueError(
        str_cat("embedding_lookup: ids must be int32 or int64, got ", dtype_name(ids.dtype())));
  Output at = ids;
  if (rows.size() > 1) {
    AttrMap a;
    a.set("partition_strategy", strategy);
    a.set("shard_rows", rows);
    at = get_default_graph()
             .create_op("_EmbeddingRowIndex", {ids}, std::move(a), "RowIndex")
             .output(0);
  }
  Output result;
  {
    std::optional<device> with_table;
    if (!device_of_table.empty()) with_table.emplace(device_of_table);
    // Named after the scope, as TF names the gather (gather(params, ids, name=scope)).
    result = get_default_graph()
                 .create_op("GatherV2", {table, at, constant(0, "axis")}, {}, op_name)
                 .output(0);
  }
  return identity(result);
}

std::vector<std::int64_t> shard_rows_of(const std::vector<Shape>& shapes) {
  std::vector<std::int64_t> rows;
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    const Shape& s = shapes[i];
    if (!s.has_rank() || s.rank() < 1 || s.dims()[0] < 0)
      throw ValueError(str_cat("embedding_lookup: shard ", i, " has shape ", s.to_string(),
                               "; shards need a known first dimension"));
    if (i > 0) {
      const Shape& f = shapes[0];
      bool same = f.rank() == s.rank();
      for (int k = 1; same && k < s.rank(); ++k)
        same = f.dims()[static_cast<std::size_t>(k)] == s.dims()[static_cast<std::size_t>(k)];
      if (!same)
        throw ValueError(str_cat("embedding_lookup: shards must agree after dimension 0, got ",
                                 f.to_string(), " and ", s.to_string()));
    }
    rows.push_back(s.dims()[0]);
  }
  return rows;
}

// TF checks the strategy only when there are several shards (one tensor ignores it).
void check_strategy(std::size_t shards, const std::string& strategy) {
  if (shards > 1 && strategy != "mod" && strategy != "div")
    throw ValueError(str_cat("Unrecognized partition strategy: ", strategy,
                             ". Must be one of either `mod` or `div`."));
}

}  // namespace

Output embedding_lookup(const std::vector<Output>& params, const Output& ids,
                        const std::string& partition_strategy, std::string_view name) {
  if (params.empty()) throw ValueError("Need at least one param");
  check_strategy(params.size(), partition_strategy);
  std::vector<Shape> shapes;
  for (const auto& p : params) shapes.push_back(p.shape());
  const auto rows = shard_rows_of(shapes);
  name_scope scope(name, "embedding_lookup");
  const Output table = params.size() == 1 ? params[0] : concat(params, 0, "concat");
  return lookup(table, rows, ids, partition_strategy,
                params.size() == 1 ? params[0].op().device() : std::string(), scope.name());
}

Output embedding_lookup(const Output& params, const Output& ids,
                        const std::string& partition_strategy, std::string_view name) {
  return embedding_lookup(std::vector<Output>{params}, ids, partition_strategy, name);
}

Output embedding_lookup(const Variable& params, const Output& ids,
                        const std::string& partition_strategy, std::string_view name) {
  const auto parts = params.partitions();
  check_strategy(parts.size(), partition_strategy);
  if (parts.size() > 1 && params.partition_axis() != 0)
    throw ValueError(str_cat("embedding_lookup: ", params.name(), " is partitioned along axis ",
                             params.partition_axis(), "; embeddings are looked up along axis 0"));
  std::vector<Shape> shapes;
  for (const auto& p : parts) shapes.push_back(p.shape());
  const auto rows = shard_rows_of(shapes);
  name_scope scope(name, "embedding_lookup");
  // One shard: its value (TF reads the variable); several: the partitioned value (their
  // ConcatV2, made with the variable).
  const Output table = parts.size() == 1 ? parts[0].value() : params.value();
  return lookup(table, rows, ids, partition_strategy,
                parts.size() == 1 ? parts[0].device() : std::string(), scope.name());
}

}  // namespace nn
}  // namespace scopeflow
