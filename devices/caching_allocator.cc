// CachingAllocator. See caching_allocator.h; the design follows PyTorch's CUDA caching
// allocator (best-fit bins per stream, split and coalesce, events for cross-stream frees).
#include "devices/caching_allocator.h"

#include <algorithm>
#include <tuple>

#include "devices/base/errors.h"
#include "devices/base/logging.h"

namespace scopeflow::devices {
namespace {

// NOTE: lock order and why the permit cannot deadlock. The locks: each allocator's mu_; the
// exclusion's own mutex (cpu_device.cc), held only inside its short functions and never
// while they call out; and the exclusion itself, which a capture takes with
// CaptureExclusion::capture_begins() (waits until no permit is out) and holds until
// capture_ends(). A permit is asked for only here, with mu_ held, through
// CaptureExclusion::try_begin_release(), which answers at once and never waits. While a
// permit is out, its holder calls only the backend (cudaDeviceSynchronize, cudaFree, event
// calls: no ScopeFlow lock but the pinned backend's event-set mutex, a leaf) and returns the
// permit before unlocking mu_. So:
// - order: mu_ -> exclusion mutex, never the reverse (the exclusion takes no allocator lock);
// - a capture waits in capture_begins() only for permit holders, which wait for nothing but
//   the GPU; capture_begins() is called with no allocator mutex held (CapturedStep::begin
//   opens the holds after it), so no permit holder waits for the capture;
// - the capturing thread, which allocates and frees during its capture (under holds), never
//   waits on the exclusion it holds: its own begin_release() is refused at once (or skipped
//   because its hold is open) and it reports out-of-memory instead;
// - permits never wait (they may overlap), so a permit holder cannot block on another one;
// - the GPU work a permit holder waits for (cudaDeviceSynchronize, the pinned backend's event
//   waits) never waits for a host thread: no host callbacks, and a stream waits only on events
//   already recorded. (An NCCL collective whose peer is launched by the thread blocked in
//   capture_begins() would; that retry already waited for the whole card before.)
// And no capture is broken: a permit is granted only when no capture is in progress, and no
// capture begins while one is out, so no synchronize()/raw_free() overlaps any capture.
class ReleasePermit {
 public:
  explicit ReleasePermit(CachingBackend& backend)
      : backend_(backend), granted_(backend.begin_release()) {}
  ~ReleasePermit() {
    if (granted_) backend_.end_release();
  }
  ReleasePermit(const ReleasePermit&) = delete;
  ReleasePermit& operator=(const ReleasePermit&) = delete;
  bool granted() const { return granted_; }

 private:
  CachingBackend& backend_;
  bool granted_;
};

constexpr const char* kNotRetriedHold =
    "cached memory was not returned to retry: a CUDA graph is being captured on this device, "
    "and a device synchronization or free would break it";
constexpr const char* kNotRetriedRefused =
    "cached memory was not returned to retry: a CUDA graph is being captured in this process "
    "(another device or thread), and a device synchronization or free would break it";

}  // namespace

struct CachingAllocator::Block {
  StreamId stream = 0;
  std::size_t size = 0;
  char* ptr = nullptr;
  bool allocated = false;
  bool small = false;
  Block* prev = nullptr;  // neighbours within the same segment
  Block* next = nullptr;
  std::vector<StreamId> stream_uses;  // other streams recorded via record_stream
  std::int64_t requested = 0;         // bytes the user asked for (statistics)
  std::uint64_t hold = 0;             // the hold that owns it (allocated under it); 0: none
};

bool CachingAllocator::BlockLess::operator()(const Block* a, const Block* b) const {
  return std::tie(a->stream, a->size, a->ptr) < std::tie(b->stream, b->size, b->ptr);
}

CachingAllocator::CachingAllocator(std::string device_name, std::unique_ptr<CachingBackend> backend,
                                   std::int64_t limit_bytes, StreamId default_stream,
                                   std::string name)
    : device_name_(std::move(device_name)),
      name_(std::move(name)),
      backend_(std::move(backend)),
      default_stream_(default_stream) {
  stats_.bytes_limit = limit_bytes;
}

CachingAllocator::~CachingAllocator() {
  std::lock_guard<std::mutex> lock(mu_);
  // NOTE: a backend that cannot synchronize or free now (a CUDA graph is being captured on some
  // thread: cudaDeviceSynchronize, cudaFree or cudaFreeHost would break it) leaks its segments
  // rather than break the capture.
  const ReleasePermit permit(*backend_);
  if (!active_.empty())
    SF_LOG_WARN("CachingAllocator(", device_name_, "): destroyed with ", active_.size(),
                " blocks still in use; their memory is ", permit.granted() ? "released" : "leaked");
  if (permit.granted()) {
    try {
      backend_->synchronize();
    } catch (const std::exception& e) {
      SF_LOG_WARN("CachingAllocator(", device_name_, "): synchronize at shutdown: ", e.what());
    }
  } else {
    SF_LOG_WARN("CachingAllocator(", device_name_, "): destroyed while its memory cannot be freed ",
                "(a CUDA graph is being captured); ", stats_.bytes_reserved, " bytes leaked");
  }
  for (auto& p : pending_)
    for (const auto& [s, ev] : p.events) backend_->destroy_event(ev);
  // Every segment's head block owns the raw pointer; walk from heads and delete all blocks.
  std::vector<Block*> all;
  for (Block* b : small_) all.push_back(b);
  for (Block* b : large_) all.push_back(b);
  for (auto& [ptr, b] : active_) all.push_back(b);
  for (auto& p : pending_) all.push_back(p.block);
  all.insert(all.end(), unsynced_.begin(), unsynced_.end());
  for (auto& [id, blocks] : parked_) all.insert(all.end(), blocks.begin(), blocks.end());
  for (Block* b : all)
    if (b->prev == nullptr && permit.granted()) backend_->raw_free(b->ptr);
  for (Block* b : all) delete b;
}

std::size_t CachingAllocator::round_size(std::size_t bytes) {
  if (bytes < kMinBlockSize) return kMinBlockSize;
  return kMinBlockSize * ((bytes + kMinBlockSize - 1) / kMinBlockSize);
}

std::size_t CachingAllocator::segment_size(std::size_t rounded) {
  if (rounded <= kSmallSize) return kSmallBuffer;
  if (rounded < kMinLargeAlloc) return kLargeBuffer;
  return kRoundLarge * ((rounded + kRoundLarge - 1) / kRoundLarge);
}

bool CachingAllocator::should_split(const Block* block, std::size_t rounded) const {
  const std::size_t remaining = block->size - rounded;
  return block->small ? remaining >= kMinBlockSize : remaining > kSmallSize;
}

CachingAllocator::Block* CachingAllocator::find_free_block(Pool& pool, std::size_t rounded,
                                                           StreamId stream, bool carve_any) {
  Block key;
  key.stream = stream;
  key.size = rounded;
  auto it = pool.lower_bound(&key);
  if (it == pool.end() || (*it)->stream != stream) return nullptr;
  Block* b = *it;
  // NOTE: a huge cached block is not carved up for a small large-pool request (that
  // would pin the whole segment); such requests get a segment of their own instead.
  if (!carve_any && !b->small && rounded < kMinLargeAlloc && b->size >= kMinLargeAlloc * 4)
    return nullptr;
  pool.erase(it);
  return b;
}

CachingAllocator::Block* CachingAllocator::allocate_segment(std::size_t rounded, StreamId stream) {
  const std::size_t seg = segment_size(rounded);
  // In unsigned arithmetic: no cast of a huge segment to a negative size slips under the cap.
  if (stats_.bytes_limit > 0 &&
      (stats_.bytes_reserved >= stats_.bytes_limit ||
       seg > static_cast<std::size_t>(stats_.bytes_limit - stats_.bytes_reserved)))
    return nullptr;
  void* p = backend_->raw_alloc(seg);
  if (p == nullptr) return nullptr;
  auto* b = new Block;
  b->stream = stream;
  b->size = seg;
  b->ptr = static_cast<char*>(p);
  b->small = rounded <= kSmallSize;
  stats_.bytes_reserved += static_cast<std::int64_t>(seg);
  stats_.peak_bytes_reserved = std::max(stats_.peak_bytes_reserved, stats_.bytes_reserved);
  ++stats_.num_raw_allocs;
  return b;
}

void* CachingAllocator::allocate(std::size_t bytes, StreamId stream) {
  std::lock_guard<std::mutex> lock(mu_);
  if (bytes > kMaxBytes) {
    ++stats_.num_ooms;
    throw ResourceExhaustedError(str_cat("OOM when allocating ", bytes, " bytes on ", device_name_,
                                         " (", name_, "): larger than any device"));
  }
  process_events();
  const std::size_t rounded = round_size(bytes);
  Pool& pool = pool_for(rounded);
  Block* block = find_free_block(pool, rounded, stream);
  if (block == nullptr) block = allocate_segment(rounded, stream);
  // NOTE: the retry synchronizes the device and frees cached segments (cudaDeviceSynchronize,
  // cudaFree), which would invalidate a CUDA graph being captured, whichever thread calls them.
  // While a hold is open the capture is on this device (the caller may be the capturing thread
  // itself); otherwise the backend's permit says whether one is in progress anywhere in the
  // process (another logical GPU of this card, another session). Either way out-of-memory is
  // reported at once (a failed capture's run goes on ordinarily, where the retry is allowed).
  const char* not_retried = nullptr;
  if (block == nullptr && open_hold_ != 0) not_retried = kNotRetriedHold;
  if (block == nullptr && not_retried == nullptr) {
    const ReleasePermit permit(*backend_);
    if (!permit.granted()) {
      not_retried = kNotRetriedRefused;
    } else {
      // Free blocks that wait on other streams may be ready now; then give cached
      // segments back and try once more before reporting out-of-memory.
      synchronize_and_collect();
      block = find_free_block(pool, rounded, stream);
      if (block == nullptr) {
        release_cached_segments();
        block = allocate_segment(rounded, stream);
      }
    }
  }
  // Last: a huge cached block carved for a small request after all (it pins that segment,
  // which is why find_free_block avoids it), rather than out-of-memory beside free memory.
  if (block == nullptr) block = find_free_block(pool, rounded, stream, /*carve_any=*/true);
  if (block == nullptr) throw_oom(bytes, rounded, not_retried);

  if (should_split(block, rounded)) {
    auto* rest = new Block;
    rest->stream = block->stream;
    rest->small = block->small;
    rest->ptr = block->ptr + rounded;
    rest->size = block->size - rounded;
    rest->prev = block;
    rest->next = block->next;
    if (rest->next) rest->next->prev = rest;
    block->next = rest;
    block->size = rounded;
    pool_for(rounded).insert(rest);
  }
  block->allocated = true;
  block->hold = open_hold_;
  block->requested = static_cast<std::int64_t>(bytes);
  active_[block->ptr] = block;
  stats_.bytes_in_use += static_cast<std::int64_t>(block->size);
  stats_.peak_bytes_in_use = std::max(stats_.peak_bytes_in_use, stats_.bytes_in_use);
  stats_.largest_alloc_size = std::max(stats_.largest_alloc_size, static_cast<std::int64_t>(bytes));
  ++stats_.num_allocs;
  return block->ptr;
}

void CachingAllocator::throw_oom(std::size_t bytes, std::size_t rounded,
                                 const char* why_not_retried) {
  ++stats_.num_ooms;
  std::int64_t cached = 0;
  for (Block* b : small_) cached += static_cast<std::int64_t>(b->size);
  for (Block* b : large_) cached += static_cast<std::int64_t>(b->size);
  throw ResourceExhaustedError(
      str_cat("OOM when allocating ", bytes, " bytes (rounded to ", rounded, ") on ", device_name_,
              " (", name_, "): ", stats_.bytes_in_use, " bytes in use, ", stats_.bytes_reserved,
              " bytes reserved (", cached, " cached and free), limit ",
              stats_.bytes_limit > 0 ? std::to_string(stats_.bytes_limit) : std::string("none"),
              why_not_retried != nullptr ? str_cat("; ", why_not_retried) : std::string()));
}

void CachingAllocator::deallocate(void* p) noexcept {
  if (p == nullptr) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = active_.find(p);
  if (it == active_.end()) {
    SF_LOG_ERROR("CachingAllocator(", device_name_, "): deallocate of unknown pointer ", p);
    return;
  }
  Block* block = it->second;
  active_.erase(it);
  ++stats_.num_frees;
  if (const std::uint64_t hold = block->hold != 0 ? block->hold : open_hold_; hold != 0) {
    // Parked for a captured graph: still in use (its bytes too) until release_hold().
    // Its other streams (record_stream) are kept: release_hold()'s caller guarantees that
    // the graph's work is done, not that work of other threads on other streams is (a block
    // freed by an ordinary run while a capture was open), so release waits for them as
    // deallocate() does.
    block->hold = hold;
    parked_[hold].push_back(block);
    held_bytes_ += static_cast<std::int64_t>(block->size);
    return;
  }
  block->allocated = false;
  stats_.bytes_in_use -= static_cast<std::int64_t>(block->size);
  retire(block);
}

void CachingAllocator::retire(Block* block) {
  if (!block->stream_uses.empty()) {
    PendingFree pending{block, {}};
    try {
      for (StreamId s : block->stream_uses)
        pending.events.emplace_back(s, backend_->record_event(s));
    } catch (const std::exception& e) {
      // Without events the only safe course is to wait for the device.
      SF_LOG_WARN("CachingAllocator(", device_name_, "): record_event failed (", e.what(),
                  "); synchronizing before reuse");
      for (const auto& [s, ev] : pending.events) backend_->destroy_event(ev);
      block->stream_uses.clear();
      // Not while a capture may be running (see allocate): then the block waits, out of the
      // cache, for the next synchronization that is allowed.
      if (open_hold_ == 0) {
        const ReleasePermit permit(*backend_);
        if (permit.granted()) {
          try {
            backend_->synchronize();
            free_block(block);
            return;
          } catch (const std::exception& sync_error) {
            SF_LOG_WARN("CachingAllocator(", device_name_, "): synchronize: ", sync_error.what());
          }
        }
      }
      unsynced_.push_back(block);
      return;
    }
    block->stream_uses.clear();
    pending_.push_back(std::move(pending));
    return;
  }
  free_block(block);
}

void CachingAllocator::record_stream(void* p, StreamId stream) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = active_.find(p);
  if (it == active_.end())
    throw InvalidArgumentError(str_cat("record_stream: pointer ", p, " was not allocated by ",
                                       device_name_, "'s caching allocator"));
  Block* b = it->second;
  if (stream == b->stream) return;
  if (std::find(b->stream_uses.begin(), b->stream_uses.end(), stream) == b->stream_uses.end())
    b->stream_uses.push_back(stream);
}

void CachingAllocator::free_block(Block* block) {
  Pool& pool = block->small ? small_ : large_;
  // Coalesce with free neighbours of the same segment.
  if (Block* prev = block->prev; prev && !prev->allocated && pool.count(prev)) {
    pool.erase(prev);
    prev->size += block->size;
    prev->next = block->next;
    if (prev->next) prev->next->prev = prev;
    delete block;
    block = prev;
  }
  if (Block* next = block->next; next && !next->allocated && pool.count(next)) {
    pool.erase(next);
    block->size += next->size;
    block->next = next->next;
    if (block->next) block->next->prev = block;
    delete next;
  }
  pool.insert(block);
}

void CachingAllocator::process_events() {
  // NOTE: events recorded on one stream complete in the order they were recorded, and
  // pending_ is in recording order: once a stream's event is not ready, its later ones are
  // not queried (each allocation queries about one event per busy stream, not one per
  // pending block). Done entries are compacted out in one pass.
  std::vector<StreamId> busy;
  std::size_t keep = 0;
  for (std::size_t i = 0; i < pending_.size(); ++i) {
    auto& p = pending_[i];
    bool done = true;
    for (const auto& [s, ev] : p.events) {
      const bool known_busy = std::find(busy.begin(), busy.end(), s) != busy.end();
      if (known_busy || !event_done(ev)) {
        if (!known_busy) busy.push_back(s);
        done = false;
        break;
      }
    }
    if (!done) {
      if (keep != i) pending_[keep] = std::move(p);
      ++keep;
      continue;
    }
    for (const auto& [s, ev] : p.events) backend_->destroy_event(ev);
    free_block(p.block);
  }
  pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(keep), pending_.end());
}

bool CachingAllocator::event_done(void* event) {
  try {
    return backend_->query_event(event);
  } catch (const std::exception& e) {
    // NOTE: not thrown on: process_events() would stop half-way through its compaction of
    // pending_ (a kept entry moved, its old place left looking done).
    SF_LOG_WARN("CachingAllocator(", device_name_, "): event query failed (", e.what(),
                "); the block waits");
    return false;
  }
}

void CachingAllocator::release_cached_segments() {
  for (Pool* pool : {&small_, &large_}) {
    for (auto it = pool->begin(); it != pool->end();) {
      Block* b = *it;
      if (b->prev == nullptr && b->next == nullptr) {  // a whole, free segment
        it = pool->erase(it);
        backend_->raw_free(b->ptr);
        stats_.bytes_reserved -= static_cast<std::int64_t>(b->size);
        ++stats_.num_raw_frees;
        delete b;
      } else {
        ++it;
      }
    }
  }
}

void CachingAllocator::synchronize_and_collect() {
  backend_->synchronize();
  process_events();
  for (Block* b : unsynced_) free_block(b);
  unsynced_.clear();
}

void CachingAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mu_);
  // A capture in progress (see allocate): synchronizing or freeing now would break it.
  if (open_hold_ != 0) {
    SF_LOG_WARN("CachingAllocator(", device_name_,
                "): empty_cache skipped while a CUDA graph is being captured on this device");
    return;
  }
  const ReleasePermit permit(*backend_);
  if (!permit.granted()) {
    SF_LOG_WARN("CachingAllocator(", device_name_,
                "): empty_cache kept the cache: a CUDA graph is being captured in this process");
    return;
  }
  synchronize_and_collect();
  release_cached_segments();
}

std::uint64_t CachingAllocator::open_hold() {
  std::lock_guard<std::mutex> lock(mu_);
  if (open_hold_ != 0)
    throw InvalidArgumentError(str_cat("CachingAllocator(", device_name_, "): hold ", open_hold_,
                                       " is still open; one hold at a time"));
  open_hold_ = next_hold_++;
  parked_[open_hold_];  // known from now on, even if nothing gets parked
  return open_hold_;
}

void CachingAllocator::close_hold(std::uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (id == 0 || !parked_.count(id))
    throw InvalidArgumentError(
        str_cat("CachingAllocator(", device_name_, "): close_hold of unknown hold ", id));
  if (open_hold_ == id) open_hold_ = 0;
}

void CachingAllocator::release_hold(std::uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = parked_.find(id);
  if (id == 0 || it == parked_.end())
    throw InvalidArgumentError(
        str_cat("CachingAllocator(", device_name_, "): release_hold of unknown hold ", id));
  if (open_hold_ == id) open_hold_ = 0;
  for (Block* b : it->second) {
    b->hold = 0;
    b->allocated = false;
    stats_.bytes_in_use -= static_cast<std::int64_t>(b->size);
    held_bytes_ -= static_cast<std::int64_t>(b->size);
    retire(b);  // cached now, or once its other streams pass this point
  }
  parked_.erase(it);
  // Blocks of this hold still in use are freed normally when their owners let go.
  for (auto& [ptr, b] : active_)
    if (b->hold == id) b->hold = 0;
}

std::int64_t CachingAllocator::held_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return held_bytes_;
}

AllocatorStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  AllocatorStats s = stats_;
  s.num_cached_blocks = static_cast<std::int64_t>(small_.size() + large_.size());
  return s;
}

void CachingAllocator::reset_peak_stats() {
  std::lock_guard<std::mutex> lock(mu_);
  stats_.peak_bytes_in_use = stats_.bytes_in_use;
  stats_.peak_bytes_reserved = stats_.bytes_reserved;
}

}  // namespace scopeflow::devices
