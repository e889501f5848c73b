// TF1's partitioners, after python/ops/partitioned_variables.py. See partitioned_variables.h;
// get_variable's use of them is in variable_scope.cc (TF's _get_partitioned_variable).
#include "scope/partitioned_variables.h"

#include <algorithm>
#include <cmath>

#include "devices/base/errors.h"

namespace scopeflow {

namespace {
// `axis` as a Python index into a list of `rank` items; nullopt when out of range.
std::optional<int> python_index(int axis, int rank) {
  const int a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) return std::nullopt;
  return a;
}

std::int64_t element_bytes(DType dtype, std::int64_t bytes_per_string_element) {
  return dtype == DType::kString ? bytes_per_string_element
                                 : static_cast<std::int64_t>(dtype_size(dtype));
}
}  // namespace

Partitioner fixed_size_partitioner(std::int64_t num_shards, int axis) {
  return [num_shards, axis](const Shape& shape, DType) {
    const int rank = shape.rank();
    const auto a = python_index(axis, rank);
    if (!a)
      throw ValueError(str_cat("fixed_size_partitioner: axis ", axis, " is out of range for shape ",
                               shape.to_string()));
    std::vector<std::int64_t> partitions(static_cast<std::size_t>(rank), 1);
    partitions[static_cast<std::size_t>(*a)] = std::min(num_shards, shape.dim(*a));
    return partitions;
  };
}

Partitioner variable_axis_size_partitioner(std::int64_t max_shard_bytes, int axis,
                                           std::int64_t bytes_per_string_element,
                                           std::optional<std::int64_t> max_shards) {
  // NOTE: TF 2.21's text, "and" and "bytes_per..." run together as there.
  if (max_shard_bytes < 1 || bytes_per_string_element < 1)
    throw ValueError(
        str_cat("Both max_shard_bytes and bytes_per_string_element must be "
                "positive. Currently, max_shard_bytes is ",
                max_shard_bytes, " andbytes_per_string_element is ", bytes_per_string_element));
  // NOTE: TF tests `if max_shards and max_shards < 1`, so 0 (like None) means no limit.
  const std::int64_t limit = max_shards.value_or(0);
  if (limit < 0) throw ValueError("max_shards must be positive.");
  return [=](const Shape& shape, DType dtype) {
    if (!shape.is_fully_defined())
      throw ValueError(str_cat("shape is not fully defined: ", shape.to_string()));
    const int rank = shape.rank();
    const auto a = python_index(axis, rank);
    if (!a)
      throw ValueError(str_cat("variable_axis_size_partitioner: axis ", axis,
                               " is out of range for shape ", shape.to_string()));
    const std::int64_t dim = shape.dim(*a);
    if (shape.num_elements() == 0)
      throw ValueError(str_cat("variable_axis_size_partitioner: cannot partition shape ",
                               shape.to_string(), " with no elements"));
    std::vector<std::int64_t> partitions(static_cast<std::size_t>(rank), 1);
    const double bytes_per_slice =
        static_cast<double>(shape.num_elements()) / static_cast<double>(dim) *
        static_cast<double>(element_bytes(dtype, bytes_per_string_element));
    // How many slices fit in one shard of at most max_shard_bytes (at least one)?
    const double slices_per_shard =
        std::max(1.0, std::floor(static_cast<double>(max_shard_bytes) / bytes_per_slice));
    auto axis_shards =
        static_cast<std::int64_t>(std::ceil(static_cast<double>(dim) / slices_per_shard));
    if (limit > 0) axis_shards = std::min(limit, axis_shards);
    partitions[static_cast<std::size_t>(*a)] = axis_shards;
    return partitions;
  };
}

Partitioner min_max_variable_partitioner(std::int64_t max_partitions, int axis,
                                         std::int64_t min_slice_size,
                                         std::int64_t bytes_per_string_element) {
  if (min_slice_size == 0)
    throw ValueError("min_max_variable_partitioner: min_slice_size must not be 0");
  return [=](const Shape& shape, DType dtype) {
    const int rank = shape.rank();
    const auto a = python_index(axis, rank);
    if (!a)
      throw ValueError(str_cat("Can not partition variable along axis ", axis,
                               " when shape is only ", shape.to_string()));
    const double total_size_bytes =
        static_cast<double>(shape.num_elements()) *
        static_cast<double>(element_bytes(dtype, bytes_per_string_element));
    const double partitions = total_size_bytes / static_cast<double>(min_slice_size);
    std::vector<std::int64_t> list(static_cast<std::size_t>(rank), 1);
    // Not beyond what the shape or max_partitions allows.
    list[static_cast<std::size_t>(*a)] =
        std::max<std::int64_t>(1, std::min({shape.dim(*a), max_partitions,
                                            static_cast<std::int64_t>(std::ceil(partitions))}));
    return list;
  };
}

}  // namespace scopeflow
