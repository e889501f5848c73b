// See thread_pool.h.
#include "runtime/session/thread_pool.h"

#include "devices/base/errors.h"

namespace scopeflow {

ThreadPool::ThreadPool(int threads) {
  try {
    workers_.reserve(static_cast<std::size_t>(threads > 0 ? threads : 0));
    for (int i = 0; i < threads; ++i) workers_.emplace_back([this] { work(); });
  } catch (const std::exception& e) {
    // The system's thread limit (or memory): the workers started so far stop, and the caller
    // gets an error naming the count instead of std::terminate.
    const std::size_t started = workers_.size();
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& w : workers_) w.join();
    throw ResourceExhaustedError(
        str_cat("cannot start ", threads, " inter-op threads (", started, " started): ", e.what()));
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  helper_cv_.notify_all();
  for (auto& w : workers_) w.join();
}

void ThreadPool::schedule(std::function<void()> task) {
  if (workers_.empty()) {
    task();
    return;
  }
  bool helper = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(task));
    helper = helpers_waiting_ > 0;
  }
  cv_.notify_one();
  if (helper) helper_cv_.notify_one();  // a waiting run's caller may take it first
}

void ThreadPool::help_until(const std::function<bool()>& done) {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (done()) return;
    if (!queue_.empty()) {
      std::function<void()> task = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      task();
      lock.lock();
      continue;
    }
    ++helpers_waiting_;
    helper_cv_.wait(lock);  // schedule() or wake()
    --helpers_waiting_;
  }
}

// Only the helpers: the workers' predicate (a task or stop) does not change, and waking every
// worker at the end of every run costs each a futex round trip.
void ThreadPool::wake() {
  { std::lock_guard<std::mutex> lock(mu_); }  // NOTE: orders done() before a helper's wait
  helper_cv_.notify_all();
}

void ThreadPool::work() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

}  // namespace scopeflow
