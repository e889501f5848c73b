// Gathers and embeddings with TF's names: sf::gather (tf.gather, batch_dims 0),
// sf::unsorted_segment_sum (tf.math.unsorted_segment_sum) and sf::nn::embedding_lookup
// (tf.nn.embedding_lookup over a tensor, a list of shards or a partitioned variable, with
// TF's "mod" and "div" partition strategies).
//
// NOTE: gradients are dense: GatherV2's is an UnsortedSegmentSum into a tensor of params'
// shape (TF returns IndexedSlices, which the optimizers apply sparsely; the values agree for
// gradient descent and Adam, whose TF1 sparse updates decay every slot row too, but
// MomentumOptimizer's sparse update leaves untouched rows' momentum alone where the dense one
// decays it). Over several shards, the lookup gathers from their concatenation (the
// partitioned variable's value) at each id's row (_EmbeddingRowIndex), where TF partitions the
// ids and stitches per-shard gathers: the same values and gradients, one more copy of the table.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "runtime/graph.h"
#include "scope/variable.h"

namespace scopeflow {

// Rows of `params` along `axis` at `indices` (int32 or int64): the output's shape is params'
// with that axis replaced by indices'. Out-of-range indices: InvalidArgumentError on the CPU,
// zeros on a GPU (as TF).
Output gather(const Output& params, const Output& indices, std::int64_t axis = 0,
              std::string_view name = "");
// out[s] = the sum of data's rows whose segment id is s; ids (int32/int64) shape a prefix of
// data's; negative ids are dropped; out has num_segments rows.
Output unsorted_segment_sum(const Output& data, const Output& segment_ids,
                            std::int64_t num_segments, std::string_view name = "");

namespace nn {
// tf.nn.embedding_lookup: the rows of `params` at `ids`, shape ids.shape + params.shape[1:].
// `params`: one tensor or several shards along axis 0 (or a partitioned variable, cut along
// axis 0); with several, id i lives in shard i % P at row i / P ("mod", TF's default) or in
// contiguous ranges, the first N % P shards one row longer ("div"). The gather is placed with
// the variable (TF colocates it). ValueError for no params, mismatched shards or an unknown
// strategy; an id outside [0, N) is an InvalidArgumentError on the CPU and zeros on a GPU.
Output embedding_lookup(const Output& params, const Output& ids,
                        const std::string& partition_strategy = "mod", std::string_view name = "");
Output embedding_lookup(const std::vector<Output>& params, const Output& ids,
                        const std::string& partition_strategy = "mod", std::string_view name = "");
Output embedding_lookup(const Variable& params, const Output& ids,
                        const std::string& partition_strategy = "mod", std::string_view name = "");
}  // namespace nn

}  // namespace scopeflow
