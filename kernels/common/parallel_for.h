// parallel_for: the intra-op thread pool of the multi-threaded CPU kernels (label "cpu").
// One pool per process, created on first use, sized from SF_INTRA_OP_THREADS or
// std::thread::hardware_concurrency(). Host code only (nvcc-compiled files do not include it).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace scopeflow::kernels {

// Items per chunk below which element-wise kernels stay on the calling thread.
inline constexpr std::int64_t kElementwiseGrain = 16384;

// A fixed set of worker threads. The calling thread takes part in its own parallel_for, so a
// pool of `threads` runs at most `threads` chunks at once with threads - 1 workers.
class ThreadPool {
 public:
  // threads < 1 counts as 1 (no workers: everything runs on the caller).
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  int num_threads() const { return threads_; }

  // Calls fn(begin, end) on contiguous chunks that cover [0, n) exactly once and returns when
  // all are done. There are min(num_threads(), n / grain) chunks (at least one), chunk i being
  // [n*i/k, n*(i+1)/k): the split depends only on n, grain and the pool size, never on timing,
  // so a kernel whose chunks write disjoint outputs is deterministic. A call from inside a
  // chunk (nested) runs inline. The first exception thrown by a chunk is rethrown here, after
  // every chunk has finished.
  void parallel_for(std::int64_t n, std::int64_t grain,
                    const std::function<void(std::int64_t, std::int64_t)>& fn);

 private:
  struct Job;
  void worker();
  int threads_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;
  bool stop_ = false;
};

// The process-wide pool: SF_INTRA_OP_THREADS (a positive integer) when set, else
// hardware_concurrency() (1 when unknown).
ThreadPool& intra_op_pool();
int intra_op_threads();

// intra_op_pool().parallel_for(n, grain, fn).
void parallel_for(std::int64_t n, std::int64_t grain,
                  const std::function<void(std::int64_t, std::int64_t)>& fn);

}  // namespace scopeflow::kernels
