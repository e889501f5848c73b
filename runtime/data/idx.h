// IDX files (the MNIST / Fashion-MNIST format), plain or gzip-compressed: a big-endian
// header (magic 0x0000 TT NN: element type, number of dimensions), the dimensions, then the
// data. Every malformed or truncated file is an InvalidArgumentError naming the file and what
// is wrong; a missing file is a NotFoundError.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "devices/tensor.h"

namespace scopeflow::data {

struct IdxFile {
  std::vector<std::int64_t> dims;
  std::vector<std::uint8_t> bytes;  // the unsigned-byte payload (type 0x08)
};

// Reads an unsigned-byte IDX file (".gz" or not: gzip is detected from its magic bytes).
// `expected_rank` > 0 checks the number of dimensions.
IdxFile read_idx(const std::string& path, int expected_rank = 0);

// Images [N, rows, cols] as a float32 [N, rows, cols, 1] tensor scaled to [0, 1], and labels
// [N] as int32; the counts must agree.
struct ImageDataset {
  Tensor images;  // [N, H, W, 1] float32
  Tensor labels;  // [N] int32
  std::int64_t size() const { return labels.num_elements(); }
};
ImageDataset load_idx_dataset(const std::string& images_path, const std::string& labels_path);
// Fashion-MNIST's files in `dir` ("train" or "t10k" split).
ImageDataset load_fashion_mnist(const std::string& dir, const std::string& split);

// A seeded shuffle of [0, n) (std::mt19937_64; the same seed gives the same order).
std::vector<std::int64_t> shuffled_indices(std::int64_t n, std::uint64_t seed);
// Rows `indices[start, start + count)` of a [N, ...] tensor, as a new [count, ...] tensor.
// `into` (a host-memory device, e.g. pinned_host_device()) holds the result.
Tensor gather_rows(const Tensor& t, const std::vector<std::int64_t>& indices, std::int64_t start,
                   std::int64_t count,
                   const std::shared_ptr<devices::Device>& into = devices::host_device());

// A synthetic image-classification dataset for benchmarks: `n` images [n, h, w, c] uniform in
// [0, 1) and labels [n] int32 in [0, classes), from a seeded generator.
ImageDataset synthetic_images(std::int64_t n, std::int64_t h, std::int64_t w, std::int64_t c,
                              int classes, std::uint64_t seed);

}  // namespace scopeflow::data
