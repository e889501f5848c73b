// See pipeline.h.
#include "runtime/data/pipeline.h"

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
  return options_.drop_remainder ? rows_ / options_.batch_size
                                 : (rows_ + options_.batch_size - 1) / options_.batch_size;
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
  producer_ = std::thread([this, epoch] { produce(epoch); });
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
        batch.push_back(to_device ? t.to(options_.device) : std::move(t));
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
