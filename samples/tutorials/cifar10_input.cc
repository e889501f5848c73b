// CIFAR-10 records, synthetic images and the tutorial's preprocessing. See cifar10_input.h.
#include "samples/tutorials/cifar10_input.h"

#include <scopeflow/scopeflow.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

namespace scopeflow::tutorials::cifar10 {
namespace {

constexpr std::int64_t kRecordBytes = 1 + kRawSize * kRawSize * 3;

}  // namespace

Dataset read_cifar10_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw NotFoundError(
        str_cat("CIFAR-10 file not found: ", path,
                " (the binary version, cifar-10-batches-bin; or --data synthetic)"));
  const auto bytes = static_cast<std::int64_t>(std::filesystem::file_size(path, ec));
  if (ec) throw NotFoundError(str_cat("cannot read the size of ", path, ": ", ec.message()));
  if (bytes == 0 || bytes % kRecordBytes != 0)
    throw InvalidArgumentError(str_cat(path, ": ", bytes, " bytes is not a whole number of ",
                                       kRecordBytes, "-byte CIFAR-10 records"));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw NotFoundError(str_cat("cannot open ", path));
  const std::int64_t n = bytes / kRecordBytes;
  Dataset d;
  d.images.resize(static_cast<std::size_t>(n * kRawSize * kRawSize * 3));
  d.labels.resize(static_cast<std::size_t>(n));
  std::vector<std::uint8_t> record(static_cast<std::size_t>(kRecordBytes));
  constexpr int kPlane = kRawSize * kRawSize;
  for (std::int64_t r = 0; r < n; ++r) {
    if (!in.read(reinterpret_cast<char*>(record.data()), kRecordBytes))
      throw InvalidArgumentError(str_cat(path, ": short read at record ", r));
    if (record[0] >= kNumClasses)
      throw InvalidArgumentError(str_cat(path, ": record ", r, " has label ", int(record[0]),
                                         ", not in [0, ", kNumClasses, ")"));
    d.labels[static_cast<std::size_t>(r)] = record[0];
    // CHW planes -> HWC.
    std::uint8_t* img = d.images.data() + r * kPlane * 3;
    for (int p = 0; p < kPlane; ++p)
      for (int ch = 0; ch < 3; ++ch)
        img[p * 3 + ch] = record[static_cast<std::size_t>(1 + ch * kPlane + p)];
  }
  return d;
}

Dataset read_cifar10(const std::string& data_dir, bool eval) {
  std::vector<std::string> files;
  if (eval)
    files.push_back("test_batch.bin");
  else
    for (int i = 1; i <= 5; ++i) files.push_back(str_cat("data_batch_", i, ".bin"));
  Dataset all;
  for (const auto& f : files) {
    Dataset d = read_cifar10_file((std::filesystem::path(data_dir) / f).string());
    all.images.insert(all.images.end(), d.images.begin(), d.images.end());
    all.labels.insert(all.labels.end(), d.labels.begin(), d.labels.end());
  }
  return all;
}

Dataset synthetic_cifar10(std::int64_t n, std::uint64_t seed) {
  if (n <= 0) throw InvalidArgumentError(str_cat("synthetic CIFAR-10: need images, got ", n));
  std::mt19937_64 rng(seed);
  Dataset d;
  d.images.resize(static_cast<std::size_t>(n * kRawSize * kRawSize * 3));
  d.labels.resize(static_cast<std::size_t>(n));
  std::uniform_int_distribution<int> byte(0, 255), label(0, kNumClasses - 1);
  for (auto& v : d.images) v = static_cast<std::uint8_t>(byte(rng));
  for (auto& l : d.labels) l = label(rng);
  return d;
}

void per_image_standardization(float* image, std::int64_t n) {
  double sum = 0, sq = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    sum += image[i];
    sq += double(image[i]) * image[i];
  }
  const double mean = sum / double(n);
  const double var = std::max(0.0, sq / double(n) - mean * mean);
  const double adjusted = std::max(std::sqrt(var), 1.0 / std::sqrt(double(n)));
  for (std::int64_t i = 0; i < n; ++i) image[i] = static_cast<float>((image[i] - mean) / adjusted);
}

void make_batch(const Dataset& data, std::int64_t first, std::int64_t batch, bool distort,
                std::mt19937_64& rng, float* out, std::int32_t* labels) {
  if (data.size() == 0) throw InvalidArgumentError("CIFAR-10: the data set is empty");
  constexpr int kMaxOffset = kRawSize - kImageSize;
  std::uniform_int_distribution<int> offset(0, kMaxOffset), coin(0, 1);
  constexpr std::int64_t kOut = kImageSize * kImageSize * 3;
  for (std::int64_t b = 0; b < batch; ++b) {
    const std::int64_t r = (first + b) % data.size();
    labels[b] = data.labels[static_cast<std::size_t>(r)];
    const std::uint8_t* img = data.images.data() + r * kRawSize * kRawSize * 3;
    const int oy = distort ? offset(rng) : kMaxOffset / 2;
    const int ox = distort ? offset(rng) : kMaxOffset / 2;
    const bool flip = distort && coin(rng) == 1;
    float* o = out + b * kOut;
    for (int y = 0; y < kImageSize; ++y)
      for (int x = 0; x < kImageSize; ++x) {
        const int sx = ox + (flip ? kImageSize - 1 - x : x);
        for (int ch = 0; ch < 3; ++ch)
          o[(y * kImageSize + x) * 3 + ch] = img[((oy + y) * kRawSize + sx) * 3 + ch];
      }
    per_image_standardization(o, kOut);
  }
}

}  // namespace scopeflow::tutorials::cifar10
