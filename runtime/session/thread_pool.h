// A fixed pool of worker threads with one FIFO queue: the session's inter-op pool (TF's
// inter_op_parallelism_threads). Tasks must not throw; they report errors themselves.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace scopeflow {

class ThreadPool {
 public:
  // `threads` workers (0: none; schedule() then runs the task inline).
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  void schedule(std::function<void()> task);
  int size() const { return static_cast<int>(workers_.size()); }
  // The calling thread runs queued tasks (any caller's) until done() holds, sleeping while the
  // queue is empty: a thread waiting for its run helps instead of idling. done() is checked
  // under the pool's lock; whoever makes it true must call wake() afterwards.
  void help_until(const std::function<bool()>& done);
  void wake();

 private:
  void work();
  std::mutex mu_;
  std::condition_variable cv_;         // workers: a task was queued, or stop
  std::condition_variable helper_cv_;  // help_until callers: a task was queued, or wake()
  int helpers_waiting_ = 0;
  std::deque<std::function<void()>> queue_;
  bool stop_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace scopeflow
