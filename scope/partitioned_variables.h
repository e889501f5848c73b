// TF1's partitioners (python/ops/partitioned_variables.py): functions of a variable's full
// shape and dtype giving the number of shards per axis, for `.partitioner` on
// variable_scope / get_variable (scope/variable_scope.h, which also documents how
// get_variable builds the shards "<name>/part_<i>").
//
//   sf::variable_scope s("emb", {.partitioner = sf::fixed_size_partitioner(4)});
//   sf::Variable w = sf::get_variable("w", {1000, 64});   // w.name() == "emb/w"
//   // w.partitions(): emb/w/part_0 .. part_3, each [250, 64]; w.value() their ConcatV2
#pragma once

#include <cstdint>
#include <optional>

#include "scope/variable_scope.h"

namespace scopeflow {

// tf.fixed_size_partitioner: min(num_shards, shape[axis]) shards along `axis` (negative
// counts from the end, as Python indexing does). As in TF nothing is checked up front: an
// axis out of range is a ValueError when called, and num_shards < 1 gives a partition list
// that get_variable rejects ("Partitioner returned zero partitions for some axes").
Partitioner fixed_size_partitioner(std::int64_t num_shards, int axis = 0);

// tf.variable_axis_size_partitioner: as few shards along `axis` as keep each below
// `max_shard_bytes` (at least one slice per shard, so a slice larger than that is a shard of
// its own), at most `max_shards` when given (0 means no limit, as None/0 do in TF). Strings
// count `bytes_per_string_element` bytes each. ValueError "Both max_shard_bytes and
// bytes_per_string_element must be positive. Currently, ..." (TF 2.21's text) / "max_shards
// must be positive."; when called, "shape is not fully defined: ...".
Partitioner variable_axis_size_partitioner(std::int64_t max_shard_bytes, int axis = 0,
                                           std::int64_t bytes_per_string_element = 16,
                                           std::optional<std::int64_t> max_shards = {});

// tf.min_max_variable_partitioner: ceil(total bytes / min_slice_size) shards along `axis`,
// clamped to [1, min(shape[axis], max_partitions)]. When called, ValueError "Can not
// partition variable along axis A when shape is only S" for an axis past the rank.
// NOTE: min_slice_size == 0 is a ValueError here (TF divides by it: ZeroDivisionError).
Partitioner min_max_variable_partitioner(std::int64_t max_partitions = 1, int axis = 0,
                                         std::int64_t min_slice_size = 256 << 10,
                                         std::int64_t bytes_per_string_element = 16);

}  // namespace scopeflow
