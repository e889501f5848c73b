// The intra-op thread pool. See parallel_for.h.
#include "kernels/common/parallel_for.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <exception>

namespace scopeflow::kernels {
namespace {
thread_local bool in_pool_chunk = false;  // nested parallel_for calls run inline
}  // namespace

// One parallel_for call. Chunks are claimed through `next`, so whoever is free (the caller
// or a worker) runs the next one; tickets left in the queue after the call finished find
// no chunk and return.
struct ThreadPool::Job {
  const std::function<void(std::int64_t, std::int64_t)>* fn = nullptr;
  std::int64_t n = 0;
  int chunks = 0;
  std::atomic<int> next{0};
  std::mutex mu;
  std::condition_variable cv;
  int done = 0;
  std::exception_ptr error;

  void run_chunks() {
    for (int i; (i = next.fetch_add(1)) < chunks;) {
      const std::int64_t begin = n * i / chunks, end = n * (i + 1) / chunks;
      std::exception_ptr e;
      in_pool_chunk = true;
      try {
        (*fn)(begin, end);
      } catch (...) {
        e = std::current_exception();
      }
      in_pool_chunk = false;
      std::lock_guard<std::mutex> lock(mu);
      if (e && !error) error = e;
      if (++done == chunks) cv.notify_all();
    }
  }
};

ThreadPool::ThreadPool(int threads) : threads_(std::max(1, threads)) {
  for (int i = 1; i < threads_; ++i) workers_.emplace_back([this] { worker(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::worker() {
  for (;;) {
    std::shared_ptr<Job> job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stop_ and nothing left
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    job->run_chunks();
  }
}

void ThreadPool::parallel_for(std::int64_t n, std::int64_t grain,
                              const std::function<void(std::int64_t, std::int64_t)>& fn) {
  if (n <= 0) return;
  const std::int64_t by_grain = n / std::max<std::int64_t>(1, grain);
  const int chunks =
      static_cast<int>(std::clamp<std::int64_t>(by_grain, 1, std::int64_t{threads_}));
  if (chunks == 1 || in_pool_chunk) {
    fn(0, n);
    return;
  }
  auto job = std::make_shared<Job>();
  job->fn = &fn;
  job->n = n;
  job->chunks = chunks;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (int i = 1; i < chunks; ++i) queue_.push_back(job);
  }
  if (chunks == 2)
    cv_.notify_one();
  else
    cv_.notify_all();
  job->run_chunks();
  std::unique_lock<std::mutex> lock(job->mu);
  job->cv.wait(lock, [&] { return job->done == job->chunks; });
  if (job->error) std::rethrow_exception(job->error);
}

int intra_op_threads() {
  static const int threads = [] {
    if (const char* env = std::getenv("SF_INTRA_OP_THREADS")) {
      char* end = nullptr;
      const long v = std::strtol(env, &end, 10);
      if (end != env && *end == '\0' && v > 0) return static_cast<int>(std::min(v, 1024L));
    }
    const unsigned hw = std::thread::hardware_concurrency();
    return hw == 0 ? 1 : static_cast<int>(hw);
  }();
  return threads;
}

ThreadPool& intra_op_pool() {
  static ThreadPool pool(intra_op_threads());
  return pool;
}

void parallel_for(std::int64_t n, std::int64_t grain,
                  const std::function<void(std::int64_t, std::int64_t)>& fn) {
  intra_op_pool().parallel_for(n, grain, fn);
}

}  // namespace scopeflow::kernels
