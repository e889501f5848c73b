// How many threads one CPU kernel call may use. oneDNN (the "onednn" conv2d and MatMul
// kernels) runs on OpenMP, whose team size comes from the calling thread's OpenMP settings.
// When the session runs several expensive CPU kernels at once (towers on logical CPU
// devices), each of them taking every core oversubscribes the machine (2 towers x 2 OpenMP
// threads on 2 cores measured ~20% slower than 1 thread each); the session applies
// SessionOptions::intra_op_parallelism_threads to each such call with this guard.
#pragma once

namespace scopeflow::kernels {

class IntraOpThreadLimit {
 public:
  // Limits OpenMP parallel regions started by this thread to `threads` (>= 1) until the guard
  // ends, then restores the previous setting. A no-op where OpenMP is not loaded.
  explicit IntraOpThreadLimit(int threads);
  ~IntraOpThreadLimit();
  IntraOpThreadLimit(const IntraOpThreadLimit&) = delete;
  IntraOpThreadLimit& operator=(const IntraOpThreadLimit&) = delete;

  // The OpenMP team size this thread would use now (0 when OpenMP is not loaded).
  static int current();

 private:
  int previous_ = 0;
};

}  // namespace scopeflow::kernels
