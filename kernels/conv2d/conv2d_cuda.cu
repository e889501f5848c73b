// Conv2D, Conv2DBackpropInput and Conv2DBackpropFilter on CUDA (label "cuda"): one tiled
// implicit-GEMM kernel, instantiated per pass with the operand maps of conv2d_igemm.h, plus a
// fixed-order split-K reduction and the layout kernels of the cuDNN path. Reference:
// conv2d_cpu.cc (conv2d_forward_ref and friends).
#include <cuda_runtime_api.h>

#include <array>
#include <atomic>
#include <limits>

#include "devices/cuda/cuda_check.h"
#include "kernels/common/launch.cuh"
#include "kernels/conv2d/conv2d_cuda.h"
#include "kernels/init/random.h"

namespace scopeflow::kernels {
namespace {

using igemm::GemmPlan;
using igemm::Params;
using igemm::Pass;
using igemm::Tile;

constexpr int kThreads = 256;  // every tile configuration: a 16 x 16 thread grid
constexpr int kPad = 4;        // floats of padding per shared-memory row (see TileLoader)

// ---------------------------------------------------------------- kernels
// One operand's share of a BK-deep tile: this thread's kPerThread loads of V floats, held in
// registers from the global load (issued before the current tile's math) until the store
// into the other shared-memory buffer (after it). Shared tiles are [BK][R + kPad], K-major, so
// that the math reads 4 consecutive rows/columns as one float4. The padding keeps those reads
// 16-byte aligned and spreads the transposing stores of K-contiguous loads over the banks.
//   kKContiguous: a vector runs along k (consecutive channels of one pixel or tap);
//   otherwise along the tile's rows (consecutive output channels or filter rows).
template <class Map, int R, int BK, int V, bool kKContiguous>
struct TileLoader {
  static constexpr int kVectors = R * BK / V;
  static_assert(kVectors % kThreads == 0, "each thread loads the same number of vectors");
  static constexpr int kPerThread = kVectors / kThreads;
  static constexpr int kStride = R + kPad;

  typename Map::Row rows[kPerThread];
  float v[kPerThread][V];

  // Position of this thread's j-th vector in the tile.
  __device__ static int row_of(int tid, int j) {
    const int i = tid + j * kThreads;
    return kKContiguous ? i / (BK / V) : (i % (R / V)) * V;
  }
  __device__ static int k_of(int tid, int j) {
    const int i = tid + j * kThreads;
    return kKContiguous ? (i % (BK / V)) * V : i / (R / V);
  }

  __device__ void init(const Params& p, int r0, int tid) {
#pragma unroll
    for (int j = 0; j < kPerThread; ++j) rows[j] = Map::row(p, r0 + row_of(tid, j));
  }

  // Elements at k >= k_end (past this split) load as zeros, like padding.
  __device__ void load(const Params& p, const float* __restrict__ src, int k0, int k_end, int tid) {
#pragma unroll
    for (int j = 0; j < kPerThread; ++j) {
      const int k = k0 + k_of(tid, j);
      const std::int64_t off = k < k_end ? Map::offset(p, rows[j], k) : -1;
      if constexpr (V == 4) {
        float4 t = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        if (off >= 0) t = __ldg(reinterpret_cast<const float4*>(src + off));
        v[j][0] = t.x, v[j][1] = t.y, v[j][2] = t.z, v[j][3] = t.w;
      } else {
        v[j][0] = off >= 0 ? __ldg(src + off) : 0.0f;
      }
    }
  }

  __device__ void store(float* tile, int tid) const {
#pragma unroll
    for (int j = 0; j < kPerThread; ++j) {
      const int r = row_of(tid, j), k = k_of(tid, j);
      if constexpr (kKContiguous) {
#pragma unroll
        for (int e = 0; e < V; ++e) tile[(k + e) * kStride + r] = v[j][e];
      } else if constexpr (V == 4) {
        *reinterpret_cast<float4*>(&tile[k * kStride + r]) =
            make_float4(v[j][0], v[j][1], v[j][2], v[j][3]);
      } else {
        tile[k * kStride + r] = v[j][0];
      }
    }
  }
};

// Block (bx, by, z) computes the BM x BN tile of C at (bx*BM, by*BN) over split z's K range and
// writes it to c + z*M*N; each thread owns a TM x TN micro-tile whose rows are
// {ty*4 + q*BM/(TM/4) + 0..3} and columns {tx*4 + q*BN/(TN/4) + 0..3}, so that a warp's
// float4 reads of shared memory are conflict-free. The launch is 256 threads with at most 128
// registers each (two blocks per SM) and one __syncthreads per BK step: global loads of step
// t+1 overlap the math of step t (double-buffered shared tiles).
// NOTE: fmaf is explicit because sf_kernels builds with --fmad=false (bit-exact initializers);
// the accumulation order still differs from the reference's double sums (tests use 1e-5).
template <class AMap, class BMap, bool kAK, bool kBK, int BM, int BN, int BK, int TM, int TN,
          int VA, int VB>
__global__ void __launch_bounds__(kThreads, 2)
    conv2d_igemm_tiled_kernel(Params p, const float* __restrict__ a, const float* __restrict__ b,
                              float* __restrict__ c, int k_per_split, bool vector_store) {
  static_assert((BM / TM) * (BN / TN) == kThreads && BM / TM == 16, "16 x 16 threads");
  static_assert(TM % 4 == 0 && TN % 4 == 0, "micro-tiles are made of float4 quads");
  __shared__ __align__(16) float as[2][BK * (BM + kPad)];
  __shared__ __align__(16) float bs[2][BK * (BN + kPad)];

  const int tid = threadIdx.x;
  const int tx = tid % 16, ty = tid / 16;
  const int m0 = blockIdx.x * BM, n0 = blockIdx.y * BN;
  const int k_begin = blockIdx.z * k_per_split;
  // 64-bit sum: the last split's nominal end may pass INT_MAX for K near the 2^31 limit.
  const int k_end = static_cast<int>(min(std::int64_t{p.k}, std::int64_t{k_begin} + k_per_split));
  const int steps = k_end > k_begin ? (k_end - k_begin + BK - 1) / BK : 0;

  TileLoader<AMap, BM, BK, VA, kAK> la;
  TileLoader<BMap, BN, BK, VB, kBK> lb;
  la.init(p, m0, tid);
  lb.init(p, n0, tid);

  float acc[TM][TN];
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; ++j) acc[i][j] = 0.0f;

  if (steps > 0) {
    la.load(p, a, k_begin, k_end, tid);
    lb.load(p, b, k_begin, k_end, tid);
    la.store(as[0], tid);
    lb.store(bs[0], tid);
    __syncthreads();
  }
  for (int t = 0; t < steps; ++t) {
    const int cur = t & 1;
    const bool more = t + 1 < steps;
    if (more) {
      la.load(p, a, k_begin + (t + 1) * BK, k_end, tid);
      lb.load(p, b, k_begin + (t + 1) * BK, k_end, tid);
    }
    const float* at = as[cur];
    const float* bt = bs[cur];
#pragma unroll
    for (int kk = 0; kk < BK; ++kk) {
      float fa[TM], fb[TN];
#pragma unroll
      for (int q = 0; q < TM / 4; ++q) {
        const float4 t4 =
            *reinterpret_cast<const float4*>(&at[kk * (BM + kPad) + q * (BM / (TM / 4)) + ty * 4]);
        fa[4 * q] = t4.x, fa[4 * q + 1] = t4.y, fa[4 * q + 2] = t4.z, fa[4 * q + 3] = t4.w;
      }
#pragma unroll
      for (int q = 0; q < TN / 4; ++q) {
        const float4 t4 =
            *reinterpret_cast<const float4*>(&bt[kk * (BN + kPad) + q * (BN / (TN / 4)) + tx * 4]);
        fb[4 * q] = t4.x, fb[4 * q + 1] = t4.y, fb[4 * q + 2] = t4.z, fb[4 * q + 3] = t4.w;
      }
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(fa[i], fb[j], acc[i][j]);
    }
    // The other buffer was last read in step t-1, before that step's barrier.
    if (more) {
      la.store(as[cur ^ 1], tid);
      lb.store(bs[cur ^ 1], tid);
    }
    __syncthreads();
  }

  float* out = c + std::int64_t{blockIdx.z} * p.m * p.n;
#pragma unroll
  for (int i = 0; i < TM; ++i) {
    const int m = m0 + (i / 4) * (BM / (TM / 4)) + ty * 4 + i % 4;
    if (m >= p.m) continue;
    float* row = out + std::int64_t{m} * p.n;
#pragma unroll
    for (int q = 0; q < TN / 4; ++q) {
      const int n = n0 + q * (BN / (TN / 4)) + tx * 4;
      if (vector_store) {
        if (n < p.n)
          *reinterpret_cast<float4*>(row + n) =
              make_float4(acc[i][4 * q], acc[i][4 * q + 1], acc[i][4 * q + 2], acc[i][4 * q + 3]);
      } else {
#pragma unroll
        for (int e = 0; e < 4; ++e)
          if (n + e < p.n) row[n + e] = acc[i][4 * q + e];
      }
    }
  }
}

// out[i] = sum over z of partial[z*mn + i], z in increasing order: the same sum every run
// (no atomics). Grid-stride, one element per thread per step; the reads are coalesced.
__global__ void conv2d_splitk_reduce_kernel(const float* __restrict__ partial,
                                            float* __restrict__ out, std::int64_t mn, int splits) {
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < mn;
       i += std::int64_t{gridDim.x} * blockDim.x) {
    float s = 0.0f;
    for (int z = 0; z < splits; ++z) s += partial[z * mn + i];
    out[i] = s;
  }
}

// A 32 x 32 block of `in` goes through shared memory (one padding column against bank
// conflicts) so that both the reads and the writes are coalesced; 32 x 8 threads, 4 rows each.
__global__ void transpose2d_kernel(const float* __restrict__ in, float* __restrict__ out,
                                   std::int64_t rows, std::int64_t cols) {
  __shared__ float tile[32][33];
  const std::int64_t r0 = std::int64_t{blockIdx.x} * 32, c0 = std::int64_t{blockIdx.y} * 32;
  for (int i = threadIdx.y; i < 32; i += 8) {
    const std::int64_t r = r0 + i, col = c0 + threadIdx.x;
    if (r < rows && col < cols) tile[i][threadIdx.x] = in[r * cols + col];
  }
  __syncthreads();
  for (int i = threadIdx.y; i < 32; i += 8) {
    const std::int64_t col = c0 + i, r = r0 + threadIdx.x;
    if (r < rows && col < cols) out[col * rows + r] = tile[threadIdx.x][i];
  }
}

// Grid-stride over the padded tensor: each element copies its source or writes 0.
__global__ void pad_nhwc_kernel(const float* __restrict__ src, float* __restrict__ dst,
                                std::int64_t total, int h, int w, int c, int hp, int wp) {
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < total;
       i += std::int64_t{gridDim.x} * blockDim.x) {
    const int ch = static_cast<int>(i % c);
    const std::int64_t pix = i / c;
    const int x = static_cast<int>(pix % wp);
    const std::int64_t t = pix / wp;
    const int y = static_cast<int>(t % hp);
    const std::int64_t b = t / hp;
    dst[i] = (y < h && x < w) ? src[((b * h + y) * w + x) * c + ch] : 0.0f;
  }
}

// Grid-stride over the cropped tensor: each element copies from the padded one.
__global__ void crop_nhwc_kernel(const float* __restrict__ src, float* __restrict__ dst,
                                 std::int64_t total, int h, int w, int c, int hp, int wp) {
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < total;
       i += std::int64_t{gridDim.x} * blockDim.x) {
    const int ch = static_cast<int>(i % c);
    const std::int64_t pix = i / c;
    const int x = static_cast<int>(pix % w);
    const std::int64_t t = pix / w;
    const int y = static_cast<int>(t % h);
    const std::int64_t b = t / h;
    dst[i] = src[((b * hp + y) * wp + x) * c + ch];
  }
}

// Eight independent FMA chains per thread keep the FMA pipes busy; the result is stored so
// that nothing is optimized away.
__global__ void fma_peak_kernel(float* out, int iters) {
  const int idx = blockIdx.x * blockDim.x + threadIdx.x;
  float v[8];
#pragma unroll
  for (int j = 0; j < 8; ++j) v[j] = 1e-3f * static_cast<float>(threadIdx.x + j);
  const float mul = 0.999f, add = 1e-4f;
  for (int i = 0; i < iters; ++i)
#pragma unroll
    for (int j = 0; j < 8; ++j) v[j] = fmaf(v[j], mul, add);
  float s = 0.0f;
#pragma unroll
  for (int j = 0; j < 8; ++j) s += v[j];
  out[idx] = s;
}

// ---------------------------------------------------------------- launchers
int sm_count(int physical_gpu) {
  static std::array<std::atomic<int>, 64> cache{};
  if (physical_gpu >= 0 && physical_gpu < static_cast<int>(cache.size())) {
    if (const int v = cache[static_cast<std::size_t>(physical_gpu)].load(); v > 0) return v;
  }
  int v = 0;
  SF_CUDA_CHECK(cudaDeviceGetAttribute(&v, cudaDevAttrMultiProcessorCount, physical_gpu));
  if (physical_gpu >= 0 && physical_gpu < static_cast<int>(cache.size()))
    cache[static_cast<std::size_t>(physical_gpu)].store(v);
  return v;
}

bool aligned16(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

// Device memory from the device's allocator, ordered on `stream`: freed (for reuse by later
// work on the stream) when it goes out of scope, after the work using it has been queued.
class StreamScratch {
 public:
  StreamScratch(devices::Device& device, devices::Stream& stream, std::size_t bytes)
      : allocator_(device.allocator()), p_(allocator_.allocate(bytes, stream.id())) {}
  ~StreamScratch() { allocator_.deallocate(p_); }
  StreamScratch(const StreamScratch&) = delete;
  StreamScratch& operator=(const StreamScratch&) = delete;
  float* get() const { return static_cast<float*>(p_); }

 private:
  devices::Allocator& allocator_;
  void* p_;
};

template <class AMap, class BMap, bool kAK, bool kBK, Tile kTile, bool kVec>
void launch_tiled(const Params& p, const GemmPlan& plan, const float* a, const float* b, float* c,
                  bool vector_store, cudaStream_t s) {
  constexpr igemm::TileShape t = igemm::tile_shape(kTile);
  constexpr int v = kVec ? 4 : 1;
  const dim3 grid(static_cast<unsigned>(plan.grid_m), static_cast<unsigned>(plan.grid_n),
                  static_cast<unsigned>(plan.splits));
  conv2d_igemm_tiled_kernel<AMap, BMap, kAK, kBK, t.bm, t.bn, t.bk, t.tm, t.tn, v, v>
      <<<grid, kThreads, 0, s>>>(p, a, b, c, plan.k_per_split, vector_store);
  SF_CUDA_CHECK(cudaGetLastError());
}

// Scalar loads run the 64x64 tile only (see igemm::plan_gemm).
template <class AMap, class BMap, bool kAK, bool kBK, bool kVec>
void launch_tile(const Params& p, const GemmPlan& plan, const float* a, const float* b, float* c,
                 bool vector_store, cudaStream_t s) {
  if constexpr (!kVec) {
    SF_CHECK(plan.tile == Tile::k64x64, "scalar loads planned with tile ",
             igemm::tile_name(plan.tile));
    launch_tiled<AMap, BMap, kAK, kBK, Tile::k64x64, false>(p, plan, a, b, c, vector_store, s);
  } else {
    switch (plan.tile) {
      case Tile::k128x128:
        return launch_tiled<AMap, BMap, kAK, kBK, Tile::k128x128, true>(p, plan, a, b, c,
                                                                        vector_store, s);
      case Tile::k128x64:
        return launch_tiled<AMap, BMap, kAK, kBK, Tile::k128x64, true>(p, plan, a, b, c,
                                                                       vector_store, s);
      case Tile::k64x64:
        return launch_tiled<AMap, BMap, kAK, kBK, Tile::k64x64, true>(p, plan, a, b, c,
                                                                      vector_store, s);
    }
  }
}

// C = A * B for one pass: launches the tiled kernel (into a partial-sum buffer when K is
// split) and the reduction.
template <class AMap, class BMap, bool kAK, bool kBK>
void run_pass(const Params& p, const GemmPlan& plan, bool vec, const float* a, const float* b,
              float* c, devices::Device& device, devices::Stream& stream) {
  const cudaStream_t s = cuda_stream(stream);
  if (plan.splits == 1) {
    const bool vector_store = p.n % 4 == 0 && aligned16(c);
    if (vec)
      launch_tile<AMap, BMap, kAK, kBK, true>(p, plan, a, b, c, vector_store, s);
    else
      launch_tile<AMap, BMap, kAK, kBK, false>(p, plan, a, b, c, vector_store, s);
    return;
  }
  const std::int64_t mn = std::int64_t{p.m} * p.n;
  StreamScratch partial(device, stream, static_cast<std::size_t>(plan.partial_floats()) * 4);
  // The caching allocator returns 512-byte blocks; checked anyway, since any allocator may
  // stand behind the device (a misaligned float4 store is a launch failure, not a slow path).
  const bool vector_store = p.n % 4 == 0 && aligned16(partial.get());
  if (vec)
    launch_tile<AMap, BMap, kAK, kBK, true>(p, plan, a, b, partial.get(), vector_store, s);
  else
    launch_tile<AMap, BMap, kAK, kBK, false>(p, plan, a, b, partial.get(), vector_store, s);
  constexpr int kBlock = 256;
  conv2d_splitk_reduce_kernel<<<grid_size(mn, kBlock), kBlock, 0, s>>>(partial.get(), c, mn,
                                                                       plan.splits);
  SF_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

igemm::GemmPlan conv2d_plan_cuda(Pass pass, const Conv2DGeom& g, devices::Device& device) {
  const Params p = igemm::make_params(pass, g, igemm::pass_name(pass));
  const igemm::VectorPlan vp = igemm::vector_plan(pass, p);
  return igemm::plan_gemm(p.m, p.n, p.k, sm_count(device.physical_id()), vp.a && vp.b);
}

void conv2d_igemm_cuda(Pass pass, const Conv2DGeom& g, const float* a, const float* b, float* c,
                       devices::Device& device, devices::Stream& stream,
                       const igemm::GemmPlan* plan) {
  const char* what = igemm::pass_name(pass);
  const Params p = igemm::make_params(pass, g, what);
  if (p.m == 0 || p.n == 0) return;
  cuda::DeviceGuard guard(device.physical_id());
  const igemm::VectorPlan vp = igemm::vector_plan(pass, p);
  const bool vec = vp.a && vp.b && aligned16(a) && aligned16(b);
  const GemmPlan chosen =
      plan ? *plan : igemm::plan_gemm(p.m, p.n, p.k, sm_count(device.physical_id()), vec);
  if (chosen.m != p.m || chosen.n != p.n || chosen.k != p.k ||
      (!vec && chosen.tile != Tile::k64x64))
    throw InvalidArgumentError(str_cat(what, ": plan for ", chosen.m, "x", chosen.n, "x", chosen.k,
                                       " tile ", igemm::tile_name(chosen.tile), " does not fit ",
                                       p.m, "x", p.n, "x", p.k, vec ? "" : " with scalar loads"));
  if (chosen.grid_n > 65535)
    throw InvalidArgumentError(
        str_cat(what, ": ", p.n, " channels are more than the native CUDA kernel's grid holds"));
  // A caller's plan (make_plan allows up to one split per BK step) must also fit gridDim.z,
  // and its splits must start on whole BK steps (the K-contiguous float4 loads assume k0 % 4
  // == 0) and cover K: otherwise part of the reduction would be silently dropped.
  {
    const igemm::TileShape ts = igemm::tile_shape(chosen.tile);
    if (chosen.splits < 1 || chosen.splits > 65535 || chosen.k_per_split <= 0 ||
        chosen.k_per_split % ts.bk != 0 || std::int64_t{chosen.splits} * chosen.k_per_split < p.k ||
        chosen.grid_m != (p.m + ts.bm - 1) / ts.bm || chosen.grid_n != (p.n + ts.bn - 1) / ts.bn)
      throw InvalidArgumentError(
          str_cat(what, ": plan with ", chosen.splits, " splits of ", chosen.k_per_split, " and a ",
                  chosen.grid_m, "x", chosen.grid_n, " grid of tile ",
                  igemm::tile_name(chosen.tile), " does not cover ", p.m, "x", p.n, "x", p.k));
  }
  switch (pass) {
    case Pass::kForward:
      return run_pass<igemm::ForwardA, igemm::RowMajorB, true, false>(p, chosen, vec, a, b, c,
                                                                      device, stream);
    case Pass::kBackwardInput:
      return run_pass<igemm::BackwardInputA, igemm::BackwardInputB, true, true>(
          p, chosen, vec, a, b, c, device, stream);
    case Pass::kBackwardFilter:
      return run_pass<igemm::BackwardFilterA, igemm::RowMajorB, false, false>(p, chosen, vec, a, b,
                                                                              c, device, stream);
  }
}

void conv2d_forward_cuda(const Conv2DGeom& g, const float* x, const float* f, float* y,
                         devices::Device& device, devices::Stream& stream) {
  conv2d_igemm_cuda(Pass::kForward, g, x, f, y, device, stream);
}

void conv2d_backward_input_cuda(const Conv2DGeom& g, const float* f, const float* dy, float* dx,
                                devices::Device& device, devices::Stream& stream) {
  conv2d_igemm_cuda(Pass::kBackwardInput, g, dy, f, dx, device, stream);
}

void conv2d_backward_filter_cuda(const Conv2DGeom& g, const float* x, const float* dy, float* df,
                                 devices::Device& device, devices::Stream& stream) {
  conv2d_igemm_cuda(Pass::kBackwardFilter, g, x, dy, df, device, stream);
}

void transpose2d_cuda(const float* in, float* out, std::int64_t rows, std::int64_t cols,
                      devices::Stream& stream) {
  if (rows == 0 || cols == 0) return;
  const std::int64_t gx = (rows + 31) / 32, gy = (cols + 31) / 32;
  if (gy > 65535 || gx > std::numeric_limits<std::int32_t>::max())  // gridDim.x < 2^31
    throw InvalidArgumentError(str_cat("transpose2d_cuda: ", rows, " x ", cols, " is too large"));
  transpose2d_kernel<<<dim3(static_cast<unsigned>(gx), static_cast<unsigned>(gy)), dim3(32, 8), 0,
                       cuda_stream(stream)>>>(in, out, rows, cols);
  SF_CUDA_CHECK(cudaGetLastError());
}

void pad_nhwc_cuda(const float* src, float* dst, std::int64_t n, std::int64_t h, std::int64_t w,
                   std::int64_t c, int extra_h, int extra_w, devices::Stream& stream) {
  const std::int64_t total = n * (h + extra_h) * (w + extra_w) * c;
  if (total == 0) return;
  constexpr int kBlock = 256;
  pad_nhwc_kernel<<<grid_size(total, kBlock), kBlock, 0, cuda_stream(stream)>>>(
      src, dst, total, static_cast<int>(h), static_cast<int>(w), static_cast<int>(c),
      static_cast<int>(h + extra_h), static_cast<int>(w + extra_w));
  SF_CUDA_CHECK(cudaGetLastError());
}

void crop_nhwc_cuda(const float* src, float* dst, std::int64_t n, std::int64_t h, std::int64_t w,
                    std::int64_t c, int extra_h, int extra_w, devices::Stream& stream) {
  const std::int64_t total = n * h * w * c;
  if (total == 0) return;
  constexpr int kBlock = 256;
  crop_nhwc_kernel<<<grid_size(total, kBlock), kBlock, 0, cuda_stream(stream)>>>(
      src, dst, total, static_cast<int>(h), static_cast<int>(w), static_cast<int>(c),
      static_cast<int>(h + extra_h), static_cast<int>(w + extra_w));
  SF_CUDA_CHECK(cudaGetLastError());
}

void fma_peak_cuda(float* out, int blocks, int threads, int iters, devices::Stream& stream) {
  fma_peak_kernel<<<blocks, threads, 0, cuda_stream(stream)>>>(out, iters);
  SF_CUDA_CHECK(cudaGetLastError());
}

// ---------------------------------------------------------------- registration
namespace {

void require_gpu(const KernelContext& c) {
  if (c.device == nullptr || c.device->type() != devices::DeviceType::kGPU)
    throw InvalidArgumentError(str_cat(c.node_name, ": GPU kernel run without a GPU device"));
}

void require_on_device(const KernelContext& c, const Tensor& t, const char* what) {
  if (t.on_host())
    throw InvalidArgumentError(
        str_cat(c.node_name, ": ", what, " is on the host, not on ", c.device->name()));
}

// The caller's preallocated output 0 when it fits (float32, this shape, this device), else a
// new one.
Tensor& gpu_output(KernelContext& c, const Shape& shape) {
  if (!c.outputs.empty() && c.outputs[0].initialized() && c.outputs[0].dtype() == DType::kFloat32 &&
      c.outputs[0].shape() == shape && c.outputs[0].device_ptr().get() == c.device)
    return c.outputs[0];
  if (!c.device_ptr)
    throw InvalidArgumentError(
        str_cat(c.node_name, ": KernelContext::device_ptr is needed to allocate the output"));
  return c.allocate_output(0, DType::kFloat32, shape);
}

}  // namespace

void register_conv2d_gpu_family(KernelRegistry& r, const std::string& label, Conv2DGpuFn forward,
                                Conv2DGpuFn backward_input, Conv2DGpuFn backward_filter) {
  using devices::DeviceType;
  r.add({"Conv2D", DeviceType::kGPU, DType::kFloat32, label}, [forward](KernelContext& c) {
    require_gpu(c);
    const Tensor& x = c.inputs.at(0);
    const Tensor& f = c.inputs.at(1);
    require_on_device(c, x, "input");
    require_on_device(c, f, "filter");
    const Conv2DGeom g = conv2d_geometry(c, x.shape(), f.shape());
    Tensor& y = gpu_output(c, Shape{g.n, g.h.out, g.w.out, g.o});
    forward(g, x.data<float>(), f.data<float>(), y.data<float>(), *c.device, c.get_stream());
  });
  r.add({"Conv2DBackpropInput", DeviceType::kGPU, DType::kFloat32, label},
        [backward_input](KernelContext& c) {
          require_gpu(c);
          const Shape in = shape_from_tensor(c.inputs.at(0), c.node_name);
          const Tensor& f = c.inputs.at(1);
          const Tensor& dy = c.inputs.at(2);
          require_on_device(c, f, "filter");
          require_on_device(c, dy, "out_backprop");
          const Conv2DGeom g = conv2d_geometry(c, in, f.shape());
          check_conv_out_backprop(c, g, dy);
          Tensor& dx = gpu_output(c, in);
          backward_input(g, f.data<float>(), dy.data<float>(), dx.data<float>(), *c.device,
                         c.get_stream());
        });
  r.add({"Conv2DBackpropFilter", DeviceType::kGPU, DType::kFloat32, label},
        [backward_filter](KernelContext& c) {
          require_gpu(c);
          const Tensor& x = c.inputs.at(0);
          const Shape fs = shape_from_tensor(c.inputs.at(1), c.node_name);
          const Tensor& dy = c.inputs.at(2);
          require_on_device(c, x, "input");
          require_on_device(c, dy, "out_backprop");
          const Conv2DGeom g = conv2d_geometry(c, x.shape(), fs);
          check_conv_out_backprop(c, g, dy);
          Tensor& df = gpu_output(c, fs);
          backward_filter(g, x.data<float>(), dy.data<float>(), df.data<float>(), *c.device,
                          c.get_stream());
        });
}

void register_conv2d_cuda_kernels(KernelRegistry& r) {
  register_conv2d_gpu_family(r, "cuda", conv2d_forward_cuda, conv2d_backward_input_cuda,
                             conv2d_backward_filter_cuda);
}

}  // namespace scopeflow::kernels
