// The CPU conv2d benchmark shapes (the kernels issue's small-CNN shapes, SAME, stride 1) and
// pass names, shared by conv2d_bench.cc (ScopeFlow's labels) and conv2d_onednn_bench.cc
// (oneDNN called directly), so that both measure exactly the same work.
#pragma once

#include <cstdint>

namespace scopeflow::bench {

struct ConvShape {
  std::int64_t n, h, w, c, k, o;  // NHWC input, K x K filter, o output channels
};
inline constexpr ConvShape kCpuConvShapes[] = {{64, 28, 28, 1, 5, 32},
                                               {64, 14, 14, 32, 5, 64},
                                               {128, 32, 32, 3, 3, 64},
                                               {128, 32, 32, 64, 3, 64}};
// Indexed by the benchmarks' pass argument: 0 forward, 1 backward-data, 2 backward-filter.
inline constexpr const char* kConvPassOps[] = {"Conv2D", "Conv2DBackpropInput",
                                               "Conv2DBackpropFilter"};

}  // namespace scopeflow::bench
