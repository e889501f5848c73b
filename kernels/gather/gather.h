// Gathers and their gradient: GatherV2 (TF's tf.gather, batch_dims 0), UnsortedSegmentSum (its
// gradient: rows summed into segments) and _EmbeddingRowIndex (ScopeFlow's: the row of each
// id in the concatenation of an embedding's shards, for sf::nn::embedding_lookup's "mod" and
// "div" partition strategies). CPU: gather_cpu.cc (reference kernels, the test oracle); CUDA:
// gather_cuda.cu.
//
// Out-of-range indices are an InvalidArgumentError naming the first of them ("indices[1,0] = 7 is
// not in [0, 5)", TF's CPU message) on every device. A GPU kernel cannot raise without waiting
// for its stream, so it reports through a DeferredCheck (kernel.h) that the session raises once
// the step's device work is complete; meanwhile GatherV2 writes zeros for them, UnsortedSegmentSum
// drops them and _EmbeddingRowIndex maps them to -1. (TF's GPU kernels stop there: tf.gather
// documents zeros and no error on a GPU.) Negative segment ids are dropped on both, as TF does.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "devices/base/host_device.h"
#include "kernels/kernel.h"

namespace scopeflow::kernels {

// GatherV2's geometry: params viewed as [outer, limit, inner] around the axis.
struct GatherPlan {
  std::int64_t outer = 1, limit = 0, inner = 1, count = 0;  // count: number of indices
  Shape out;
};
GatherPlan gather_plan(const KernelContext& c, const Shape& params, const Shape& indices,
                       std::int64_t axis);

// UnsortedSegmentSum's geometry: data viewed as [count, inner] with count = ids' elements.
struct SegmentPlan {
  std::int64_t count = 0, inner = 1, num_segments = 0;
  Shape out;
};
SegmentPlan segment_plan(const KernelContext& c, const Shape& data, const Shape& ids,
                         std::int64_t num_segments);

// _EmbeddingRowIndex: the concatenated row of `id` for shards of `rows` rows ("mod": id % P
// holds it at id / P; "div": contiguous ranges, the first N % P shards one longer), or -1 when
// the id is negative, past N ("div"), or its shard is too short for it.
struct ShardRows {
  std::vector<std::int64_t> rows, offsets;
  std::int64_t total = 0;
  bool mod = true;
};
ShardRows shard_rows(const KernelContext& c);
SF_HOST_DEVICE inline std::int64_t embedding_row(std::int64_t id, bool mod, std::int64_t parts,
                                                 const std::int64_t* rows,
                                                 const std::int64_t* offsets, std::int64_t total) {
  if (id < 0 || (!mod && id >= total)) return -1;
  std::int64_t p = 0, local = 0;
  if (mod) {  // NOTE: with uneven shards an id >= total may still name a row (as in TF)
    p = id % parts;
    local = id / parts;
  } else {
    const std::int64_t per = total / parts, extras = total % parts;
    if (id < extras * (per + 1)) {
      p = id / (per + 1);
      local = id % (per + 1);
    } else {
      p = extras + (id - extras * (per + 1)) / per;
      local = (id - extras * (per + 1)) % per;
    }
  }
  return local < rows[p] ? offsets[p] + local : -1;
}

// TF's SliceDebugString: "[1,0]" for flat index 2 of shape [2,2]; "" for a scalar.
std::string index_string(const Shape& shape, std::int64_t flat);

// The errors for an out-of-range element `j` (flat) of the indices / segment ids / ids, the
// CPU kernels' and the GPU kernels' deferred checks' alike.
std::string gather_index_error(const std::string& node, const Shape& indices, std::int64_t j,
                               std::int64_t value, std::int64_t limit);
std::string segment_id_error(const std::string& node, const Shape& ids, std::int64_t j,
                             std::int64_t value, std::int64_t num_segments);
std::string embedding_id_error(const std::string& node, const Shape& ids, std::int64_t j,
                               std::int64_t value, const ShardRows& r);

void register_gather_cpu_kernels(KernelRegistry& r);
void register_gather_cuda_kernels(KernelRegistry& r);

}  // namespace scopeflow::kernels
