// ConcatV2 / SplitV on GPUs: one kernel launch moves every piece (up to kMaxPieces a launch;
// one cudaMemcpy2DAsync per piece cost ~10 us of host time each, which a repacked gradient
// buffer of many variables paid on every step's critical path). The whole's rows hold the
// pieces side by side; the copy unit is the widest of 16, 8, 4, 2, 1 bytes that divides every
// piece's bytes per row and aligns every pointer. See concat.h.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdint>

#include "devices/cuda/cuda_check.h"
#include "kernels/array/concat.h"
#include "kernels/common/cuda_stream.h"
#include "kernels/common/gpu_args.h"
#include "kernels/common/launch.cuh"

namespace scopeflow::kernels {
namespace {

constexpr int kMaxPieces = 64;  // pieces per launch (a kernel parameter of 1.5 KiB)
constexpr int kBlock = 256;

struct Piece {
  char* data;           // the piece's contiguous memory
  std::int64_t units;   // copy units per row
  std::int64_t offset;  // units into the whole's row
};
struct Pieces {
  Piece p[kMaxPieces];
};

// blockIdx.y: the piece; grid-stride over its outer x units elements.
template <class U, bool kJoin>
__global__ void pieces_kernel(Pieces ps, U* whole, std::int64_t row_units, std::int64_t outer) {
  const Piece pc = ps.p[blockIdx.y];
  const std::int64_t n = outer * pc.units;
  U* part = reinterpret_cast<U*>(pc.data);
  for (std::int64_t e = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; e < n;
       e += std::int64_t{gridDim.x} * blockDim.x) {
    const std::int64_t r = e / pc.units;
    U* w = whole + r * row_units + pc.offset + (e - r * pc.units);
    if constexpr (kJoin)
      *w = part[e];
    else
      part[e] = *w;
  }
}

template <class U, bool kJoin>
void launch_pieces(const std::vector<char*>& data, const ConcatPlan& plan, char* whole,
                   cudaStream_t s) {
  const auto u = static_cast<std::int64_t>(sizeof(U));
  std::int64_t offset = 0;
  for (std::size_t first = 0; first < data.size(); first += kMaxPieces) {
    Pieces ps{};
    int count = 0;
    std::int64_t most = 0;
    for (std::size_t i = first; i < data.size() && i < first + kMaxPieces; ++i) {
      const std::int64_t b = plan.piece_bytes[i];
      if (b > 0) {
        ps.p[count++] = {data[i], b / u, offset / u};
        most = std::max(most, plan.outer * (b / u));
      }
      offset += b;
    }
    if (count == 0 || most == 0) continue;
    const dim3 grid(static_cast<unsigned>(std::min<std::int64_t>(grid_size(most, kBlock), 1024)),
                    static_cast<unsigned>(count));
    pieces_kernel<U, kJoin>
        <<<grid, kBlock, 0, s>>>(ps, reinterpret_cast<U*>(whole), plan.row_bytes / u, plan.outer);
    SF_CUDA_CHECK(cudaGetLastError());
  }
}

// kJoin: the pieces into `whole` (ConcatV2); else `whole` into the pieces (SplitV).
template <bool kJoin>
void move_pieces(const std::vector<char*>& data, const ConcatPlan& plan, char* whole,
                 cudaStream_t s) {
  if (plan.outer == 0 || plan.row_bytes == 0) return;
  std::uint64_t bits =
      reinterpret_cast<std::uintptr_t>(whole) | static_cast<std::uint64_t>(plan.row_bytes);
  for (std::size_t i = 0; i < data.size(); ++i)
    bits |=
        reinterpret_cast<std::uintptr_t>(data[i]) | static_cast<std::uint64_t>(plan.piece_bytes[i]);
  if (bits % 16 == 0) return launch_pieces<uint4, kJoin>(data, plan, whole, s);
  if (bits % 8 == 0) return launch_pieces<std::uint64_t, kJoin>(data, plan, whole, s);
  if (bits % 4 == 0) return launch_pieces<std::uint32_t, kJoin>(data, plan, whole, s);
  if (bits % 2 == 0) return launch_pieces<std::uint16_t, kJoin>(data, plan, whole, s);
  launch_pieces<std::uint8_t, kJoin>(data, plan, whole, s);
}

void concat_cuda_kernel(KernelContext& c) {
  // NOTE: checked before `size() - 1` (which wraps for no inputs), and every piece must be GPU
  // memory of piece 0's dtype: piece_bytes come from piece 0's dtype, so a narrower piece
  // would be read past its end.
  if (c.inputs.size() < 2)
    throw InvalidArgumentError(str_cat(c.node_name, ": ConcatV2 needs values and an axis, got ",
                                       c.inputs.size(), " inputs"));
  const std::size_t n = c.inputs.size() - 1;
  std::vector<Shape> shapes;
  for (std::size_t i = 0; i < n; ++i) {
    const Tensor& t = gpu_input(c, i);
    if (t.dtype() != c.inputs[0].dtype())
      throw InvalidArgumentError(str_cat(c.node_name, ": input ", i, " is ", dtype_name(t.dtype()),
                                         ", input 0 is ", dtype_name(c.inputs[0].dtype())));
    shapes.push_back(t.shape());
  }
  Shape whole;
  const auto plan =
      concat_plan(shapes, scalar_int_input(c, n), c.inputs[0].dtype(), c.node_name, &whole);
  GpuLaunchScope scope(c);
  Tensor& y = gpu_output(c, 0, c.inputs[0].dtype(), whole);
  std::vector<char*> data;
  for (std::size_t i = 0; i < n; ++i)
    data.push_back(static_cast<char*>(const_cast<void*>(c.inputs[i].raw_data())));
  move_pieces<true>(data, plan, static_cast<char*>(y.raw_data()),
                    cuda_stream(c.get_stream(), c.node_name));
}

void split_cuda_kernel(KernelContext& c) {
  const Tensor& x = gpu_input(c, 0);
  const std::int64_t axis = scalar_int_input(c, 2);
  const auto pieces = split_shapes(c, x.shape(), int_vector_input(c, 1), axis);
  Shape whole;
  const auto plan = concat_plan(pieces, axis, x.dtype(), c.node_name, &whole);
  c.outputs.resize(pieces.size());
  GpuLaunchScope scope(c);
  std::vector<char*> data;
  for (std::size_t i = 0; i < pieces.size(); ++i)  // GPU memory, not host (allocate_output)
    data.push_back(static_cast<char*>(gpu_output(c, i, x.dtype(), pieces[i]).raw_data()));
  move_pieces<false>(data, plan, static_cast<char*>(const_cast<void*>(x.raw_data())),
                     cuda_stream(c.get_stream(), c.node_name));
}

}  // namespace

void register_concat_cuda_kernels(KernelRegistry& r) {
  for (DType t : {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16,
                  DType::kInt32, DType::kInt64}) {
    r.add({"ConcatV2", devices::DeviceType::kGPU, t, "cuda"}, concat_cuda_kernel);
    r.add({"SplitV", devices::DeviceType::kGPU, t, "cuda"}, split_cuda_kernel);
  }
}

}  // namespace scopeflow::kernels
