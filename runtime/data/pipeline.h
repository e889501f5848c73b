// BatchPipeline: batches over the rows of equally long [N, ...] host tensors (images,
// labels), shuffled per epoch with a seed, produced by a background thread `prefetch`
// batches ahead of use. For a GPU target each batch is gathered into pinned host memory (the
// device's caching pinned allocator: no cudaHostAlloc/cudaFreeHost per batch in steady state)
// and copied on the device's host-to-device stream, beside the running step, before the
// consumer asks for it; feeding such a batch to a Session costs no copy in the step.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "devices/tensor.h"

namespace scopeflow::data {

struct PipelineOptions {
  std::int64_t batch_size = 0;  // rows per batch (> 0)
  bool shuffle = true;
  // Epoch e's order: shuffled_indices(N, seed * 1000 + e) (what sf-train always used).
  std::uint64_t seed = 0;
  // A last partial batch is dropped (true) or delivered short (false).
  bool drop_remainder = true;
  int prefetch = 2;  // batches staged ahead (>= 1)
  // Where batches are delivered: null or a CPU device = host memory.
  std::shared_ptr<devices::Device> device = nullptr;
};

class BatchPipeline {
 public:
  // InvalidArgumentError for no components, non-host or rank-0 tensors, differing row
  // counts, batch_size <= 0 or prefetch < 1.
  BatchPipeline(std::vector<Tensor> components, PipelineOptions options);
  ~BatchPipeline();
  BatchPipeline(const BatchPipeline&) = delete;
  BatchPipeline& operator=(const BatchPipeline&) = delete;

  // (Re)starts production at batch 0 of `epoch`, dropping whatever was staged.
  void start_epoch(std::int64_t epoch);
  // The next batch of the current epoch (one tensor per component), or nullopt after the
  // last. Rethrows an error of the producer. FailedPreconditionError before start_epoch().
  // A GPU batch's copy is complete (readable from any stream or the host), and its memory is
  // recorded as used by the device's compute stream: a consumer reading it on another stream
  // declares that with device->allocator().record_stream() before dropping it.
  std::optional<std::vector<Tensor>> next();
  std::int64_t batches_per_epoch() const;
  std::int64_t rows() const { return rows_; }

 private:
  void stop();
  void produce(std::int64_t epoch);
  // A device copy of pinned `host`, queued on `copy_stream` (see the ordering note in .cc).
  Tensor copy_to_device(const Tensor& host, devices::Stream& copy_stream);

  std::vector<Tensor> components_;
  PipelineOptions options_;
  std::int64_t rows_ = 0;
  std::shared_ptr<devices::Device> staging_;  // pinned host memory for GPU targets

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::vector<Tensor>> ready_;
  bool producing_ = false;  // the producer has batches left to make
  bool stop_ = false;
  bool started_ = false;
  std::exception_ptr error_;
  std::thread producer_;
};

}  // namespace scopeflow::data
