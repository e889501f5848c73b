// BatchPipeline: the producer thread and the device copies. See pipeline.h.
#include "runtime/data/pipeline.h"

#include <system_error>

#include "devices/base/errors.h"
#include "runtime/data/idx.h"

namespace scopeflow::data {

BatchPipeline::BatchPipeline(std::vector<Tensor> components, PipelineOptions options)
    : components_(std::move(components)), options_(std::move(options)) {
  if (components_.empty()) throw InvalidArgumentError("BatchPipeline: no component tensors");
  if (options_.batch_size <= 0)
    throw InvalidArgumentError(
        str_cat("BatchPipeline: batch_size must be > 0, got ", options_.batch_size));
  if (options_.prefetch < 1)
    throw InvalidArgumentError(
        str_cat("BatchPipeline: prefetch must be >= 1, got ", options_.prefetch));
  for (std::size_t i = 0; i < components_.size(); ++i) {
    const Tensor& t = components_[i];
    if (!t.initialized() || !t.shape().has_rank() || t.shape().rank() < 1 || !t.on_host())
      throw InvalidArgumentError(
          str_cat("BatchPipeline: component ", i, " must be a host tensor of rank >= 1"));
    if (t.dtype() == DType::kString && options_.device &&
        options_.device->type() != devices::DeviceType::kCPU)
      throw InvalidArgumentError(str_cat("BatchPipeline: component ", i,
                                         " is a string tensor; strings stay in host memory and "
                                         "cannot be delivered to ",
                                         options_.device->name()));
    const std::int64_t n = t.shape().dims()[0];
    if (i == 0) rows_ = n;
    if (n != rows_)
      throw InvalidArgumentError(
          str_cat("BatchPipeline: component ", i, " has ", n, " rows, component 0 has ", rows_));
  }
  staging_ = devices::pinned_host_device(options_.device);
}

BatchPipeline::~BatchPipeline() { stop(); }

std::int64_t BatchPipeline::batches_per_epoch() const {
  // (rows + b - 1) / b could overflow for a huge batch size.
  const std::int64_t whole = rows_ / options_.batch_size;
  return options_.drop_remainder || rows_ % options_.batch_size == 0 ? whole : whole + 1;
}

void BatchPipeline::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (producer_.joinable()) producer_.join();
  std::lock_guard<std::mutex> lock(mu_);
  stop_ = false;
  producing_ = false;
  ready_.clear();
  error_ = nullptr;
}

void BatchPipeline::start_epoch(std::int64_t epoch) {
  stop();
  {
    std::lock_guard<std::mutex> lock(mu_);
    started_ = true;
    producing_ = true;
  }
  try {
    producer_ = std::thread([this, epoch] { produce(epoch); });
  } catch (const std::system_error& e) {
    // No producer: next() must not wait for one.
    std::lock_guard<std::mutex> lock(mu_);
    producing_ = false;
    throw ResourceExhaustedError(
        str_cat("BatchPipeline: cannot start the producer thread: ", e.what()));
  }
}

void BatchPipeline::produce(std::int64_t epoch) {
  try {
    std::vector<std::int64_t> order;
    if (options_.shuffle) {
      order = shuffled_indices(rows_, options_.seed * 1000 + static_cast<std::uint64_t>(epoch));
    } else {
      order.resize(static_cast<std::size_t>(rows_));
      for (std::int64_t i = 0; i < rows_; ++i) order[static_cast<std::size_t>(i)] = i;
    }
    const std::int64_t batches = batches_per_epoch();
    const bool to_device = options_.device && options_.device->type() != devices::DeviceType::kCPU;
    devices::Stream* copy_stream = to_device ? &options_.device->host_to_device_stream() : nullptr;
    std::unique_ptr<devices::Event> copied = to_device ? options_.device->create_event() : nullptr;
    for (std::int64_t b = 0; b < batches; ++b) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock,
                 [&] { return stop_ || static_cast<int>(ready_.size()) < options_.prefetch; });
        if (stop_) return;
      }
      const std::int64_t first = b * options_.batch_size;
      const std::int64_t count = std::min(options_.batch_size, rows_ - first);
      std::vector<Tensor> batch;
      batch.reserve(components_.size());
      for (const Tensor& c : components_) {
        Tensor t = gather_rows(c, order, first, count, staging_);
        batch.push_back(to_device ? copy_to_device(t, *copy_stream) : std::move(t));
      }  // the pinned copies go back to the cache here, pending their copy's event
      if (to_device) {
        // Only this batch's copies (and earlier ones on the copy stream): never the step.
        copied->record(*copy_stream);
        copied->synchronize();
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        ready_.push_back(std::move(batch));
      }
      cv_.notify_all();
    }
  } catch (...) {
    std::lock_guard<std::mutex> lock(mu_);
    error_ = std::current_exception();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    producing_ = false;
  }
  cv_.notify_all();
}

// NOTE: the ordering of a device batch; nothing here waits for the compute stream, and the
// consumer never waits for a copy.
// 1. `host` (pinned, from the device's HostCachingAllocator) was handed out only once no stream
//    still used it (a block an earlier copy read waits for that copy's event), so the gather
//    could write it.
// 2. The device block is allocated for the copy stream. A block of that stream's bin was last
//    written by an earlier copy (ordered before this one on the same stream) and read by the
//    compute stream, and it went back to the bin only after an event recorded on the compute
//    stream when it was freed had completed (step 4). So the copy may write it at once, while
//    the compute stream runs the current step. (A block of the compute stream's bin, which
//    Tensor::to's synchronous copy uses, could still be read by queued kernels: that copy
//    must queue behind the step, which is what made the producer wait for each step.)
// 3. The copy is queued on the copy stream, and the pinned source is declared used by it:
//    dropped after this function, it returns to the cache only once the copy has run.
// 4. The device block is declared used by the compute stream, where a Session reads fed GPU
//    tensors: kernels, the copy into a CUDA graph's feed buffer, and a copy to another GPU
//    (queued on that GPU's stream, which this compute stream is then made to wait for).
//    Session::run waits for its step before returning, so the batch is normally idle when the
//    caller drops it; the record makes reuse wait for queued compute work whatever the
//    consumer does.
// 5. produce() then waits for an event on the copy stream, so a batch in ready_ is resident:
//    any consumer, on any stream or on the host, may read it without further ordering.
Tensor BatchPipeline::copy_to_device(const Tensor& host, devices::Stream& copy_stream) {
  devices::Device& device = *options_.device;
  Tensor out = Tensor::empty_on_stream(host.dtype(), host.shape(), options_.device, copy_stream);
  // The uses first: a throw after the copy was queued must not free `host` without its record.
  device.allocator().record_stream(out.raw_data(), device.compute_stream().id());
  staging_->allocator().record_stream(host.raw_data(), copy_stream.id());
  device.copy_from_host_async(out.raw_data(), host.raw_data(), host.bytes(), copy_stream);
  return out;
}

std::optional<std::vector<Tensor>> BatchPipeline::next() {
  std::unique_lock<std::mutex> lock(mu_);
  if (!started_) throw FailedPreconditionError("BatchPipeline::next: call start_epoch() first");
  cv_.wait(lock, [&] { return !ready_.empty() || !producing_; });
  if (!ready_.empty()) {
    auto batch = std::move(ready_.front());
    ready_.pop_front();
    lock.unlock();
    cv_.notify_all();
    return batch;
  }
  if (error_) {
    auto e = error_;
    error_ = nullptr;
    std::rethrow_exception(e);
  }
  return std::nullopt;
}

}  // namespace scopeflow::data
