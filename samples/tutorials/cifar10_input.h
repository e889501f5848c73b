// CIFAR-10 input for the tutorial (TF's cifar10_input.py): the binary version's records
// (data_batch_1..5.bin, test_batch.bin: one label byte, then 32x32 red, green and blue planes),
// or synthetic images; training batches distorted as distorted_inputs() does (a random 24x24
// crop, a random left-right flip, per-image standardization; NOTE: without its random
// brightness and contrast), evaluation batches as inputs() (the central 24x24 crop,
// standardized). NHWC float32 out.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace scopeflow::tutorials::cifar10 {

inline constexpr int kImageSize = 24;  // the crop the model sees
inline constexpr int kRawSize = 32;
inline constexpr int kNumClasses = 10;

struct Dataset {
  std::vector<std::uint8_t> images;  // [n, 32, 32, 3], HWC
  std::vector<std::int32_t> labels;  // [n], 0..9
  std::int64_t size() const { return static_cast<std::int64_t>(labels.size()); }
};

// The training files (data_batch_1..5.bin) or the test file (test_batch.bin) in `data_dir`.
// NotFoundError naming a missing file; InvalidArgumentError for a file whose size is not a
// whole number of 3073-byte records or a label above 9 (naming the file and the record).
Dataset read_cifar10(const std::string& data_dir, bool eval);
// The records of one file (the format above).
Dataset read_cifar10_file(const std::string& path);
// `n` random images with random labels (seeded): a set a network can fit, for runs without
// the data (benchmarks, CI).
Dataset synthetic_cifar10(std::int64_t n, std::uint64_t seed);

// Fills `out` ([batch, 24, 24, 3]) and `labels` with `batch` images starting at `first`
// (wrapping around): distorted (training) or centrally cropped (evaluation), standardized.
void make_batch(const Dataset& data, std::int64_t first, std::int64_t batch, bool distort,
                std::mt19937_64& rng, float* out, std::int32_t* labels);

// tf.image.per_image_standardization of one image of `n` values, in place:
// (x - mean) / max(stddev, 1 / sqrt(n)).
void per_image_standardization(float* image, std::int64_t n);

}  // namespace scopeflow::tutorials::cifar10
