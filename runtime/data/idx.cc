// IDX reading through zlib. See idx.h.
#include "runtime/data/idx.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <numeric>
#include <random>

#include "devices/base/errors.h"

namespace scopeflow::data {
namespace {

// The whole file, inflated when it is gzip (gzread passes plain files through).
std::vector<std::uint8_t> read_all(const std::string& path) {
  if (!std::filesystem::exists(path)) throw NotFoundError(str_cat("IDX file not found: ", path));
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) throw InvalidArgumentError(str_cat(path, ": cannot open"));
  std::vector<std::uint8_t> out;
  std::uint8_t buf[1 << 16];
  while (true) {
    const int n = gzread(f, buf, sizeof(buf));
    if (n < 0) {
      int err = 0;
      std::string msg = gzerror(f, &err);
      gzclose(f);
      throw InvalidArgumentError(str_cat(path, ": corrupt gzip data (", msg, ")"));
    }
    if (n == 0) break;
    out.insert(out.end(), buf, buf + n);
  }
  const int rc = gzclose(f);
  if (rc != Z_OK) throw InvalidArgumentError(str_cat(path, ": truncated or corrupt gzip stream"));
  return out;
}

std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         p[3];
}

}  // namespace

IdxFile read_idx(const std::string& path, int expected_rank) {
  std::vector<std::uint8_t> raw = read_all(path);
  if (raw.size() < 4)
    throw InvalidArgumentError(
        str_cat(path, ": too short for an IDX header (", raw.size(), " bytes)"));
  if (raw[0] != 0 || raw[1] != 0)
    throw InvalidArgumentError(
        str_cat(path, ": bad IDX magic number 0x", std::hex, be32(raw.data())));
  if (raw[2] != 0x08)
    throw InvalidArgumentError(str_cat(path, ": IDX element type 0x", std::hex, int{raw[2]},
                                       " is not unsigned byte (0x08)"));
  const int rank = raw[3];
  if (rank < 1 || rank > 4)
    throw InvalidArgumentError(str_cat(path, ": IDX rank ", rank, " is not in 1..4"));
  if (expected_rank > 0 && rank != expected_rank)
    throw InvalidArgumentError(
        str_cat(path, ": expected ", expected_rank, " dimensions, the file has ", rank));
  const std::size_t header = 4 + 4 * static_cast<std::size_t>(rank);
  if (raw.size() < header) throw InvalidArgumentError(str_cat(path, ": truncated IDX header"));
  IdxFile f;
  std::uint64_t count = 1;
  for (int i = 0; i < rank; ++i) {
    const std::uint32_t d = be32(raw.data() + 4 + 4 * i);
    if (d == 0 || d > (1u << 28))
      throw InvalidArgumentError(str_cat(path, ": dimension ", i, " is ", d));
    f.dims.push_back(d);
    count *= d;
  }
  if (raw.size() - header != count)
    throw InvalidArgumentError(str_cat(path, ": header announces ", count,
                                       " bytes of data, the file has ", raw.size() - header,
                                       raw.size() - header < count ? " (truncated)" : ""));
  f.bytes.assign(raw.begin() + static_cast<std::ptrdiff_t>(header), raw.end());
  return f;
}

ImageDataset load_idx_dataset(const std::string& images_path, const std::string& labels_path) {
  IdxFile img = read_idx(images_path, 3);
  IdxFile lab = read_idx(labels_path, 1);
  if (img.dims[0] != lab.dims[0])
    throw InvalidArgumentError(str_cat(images_path, " holds ", img.dims[0], " images but ",
                                       labels_path, " holds ", lab.dims[0], " labels"));
  ImageDataset d;
  d.images = Tensor(DType::kFloat32, Shape{img.dims[0], img.dims[1], img.dims[2], 1});
  float* px = d.images.data<float>();
  for (std::size_t i = 0; i < img.bytes.size(); ++i)
    px[i] = static_cast<float>(img.bytes[i]) / 255.0f;
  d.labels = Tensor(DType::kInt32, Shape{lab.dims[0]});
  std::int32_t* l = d.labels.data<std::int32_t>();
  for (std::size_t i = 0; i < lab.bytes.size(); ++i) l[i] = lab.bytes[i];
  return d;
}

ImageDataset load_fashion_mnist(const std::string& dir, const std::string& split) {
  if (split != "train" && split != "t10k")
    throw InvalidArgumentError(
        str_cat("Fashion-MNIST split must be train or t10k, got '", split, "'"));
  return load_idx_dataset(dir + "/" + split + "-images-idx3-ubyte.gz",
                          dir + "/" + split + "-labels-idx1-ubyte.gz");
}

std::vector<std::int64_t> shuffled_indices(std::int64_t n, std::uint64_t seed) {
  std::vector<std::int64_t> idx(static_cast<std::size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  std::mt19937_64 g(seed);
  std::shuffle(idx.begin(), idx.end(), g);
  return idx;
}

Tensor gather_rows(const Tensor& t, const std::vector<std::int64_t>& indices, std::int64_t start,
                   std::int64_t count, const std::shared_ptr<devices::Device>& into) {
  if (!t.initialized() || t.shape().rank() < 1 || !t.on_host())
    throw InvalidArgumentError("gather_rows: needs a host tensor of rank >= 1");
  if (!into || into->type() != devices::DeviceType::kCPU)
    throw InvalidArgumentError("gather_rows: the result must go to host memory");
  if (start < 0 || count < 0 || start + count > static_cast<std::int64_t>(indices.size()))
    throw InvalidArgumentError(
        str_cat("gather_rows: rows [", start, ", ", start + count, ") outside ", indices.size()));
  std::vector<std::int64_t> dims = t.shape().dims();
  const std::int64_t rows = dims[0];
  dims[0] = count;
  Tensor out(t.dtype(), Shape(dims), into);
  if (t.dtype() == DType::kString) {  // objects, not bytes: copied by assignment
    const std::int64_t per_row = rows ? t.num_elements() / rows : 0;
    const auto* from = static_cast<const std::string*>(t.raw_data());
    auto* to = static_cast<std::string*>(out.raw_data());
    for (std::int64_t i = 0; i < count; ++i) {
      const std::int64_t r = indices[static_cast<std::size_t>(start + i)];
      if (r < 0 || r >= rows)
        throw InvalidArgumentError(str_cat("gather_rows: index ", r, " outside ", rows, " rows"));
      for (std::int64_t k = 0; k < per_row; ++k) to[i * per_row + k] = from[r * per_row + k];
    }
    return out;
  }
  const std::size_t row_bytes = rows ? t.bytes() / static_cast<std::size_t>(rows) : 0;
  const auto* src = static_cast<const char*>(t.raw_data());
  auto* dst = static_cast<char*>(out.raw_data());
  for (std::int64_t i = 0; i < count; ++i) {
    const std::int64_t r = indices[static_cast<std::size_t>(start + i)];
    if (r < 0 || r >= rows)
      throw InvalidArgumentError(str_cat("gather_rows: index ", r, " outside ", rows, " rows"));
    std::memcpy(dst + static_cast<std::size_t>(i) * row_bytes,
                src + static_cast<std::size_t>(r) * row_bytes, row_bytes);
  }
  return out;
}

ImageDataset synthetic_images(std::int64_t n, std::int64_t h, std::int64_t w, std::int64_t c,
                              int classes, std::uint64_t seed) {
  if (n < 0 || h <= 0 || w <= 0 || c <= 0 || classes <= 0)
    throw InvalidArgumentError(str_cat("synthetic_images: bad geometry n=", n, " h=", h, " w=", w,
                                       " c=", c, " classes=", classes));
  ImageDataset d;
  d.images = Tensor(DType::kFloat32, Shape{n, h, w, c});
  d.labels = Tensor(DType::kInt32, Shape{n});
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  float* x = d.images.data<float>();
  for (std::int64_t i = 0; i < d.images.num_elements(); ++i) x[i] = u(gen);
  std::int32_t* y = d.labels.data<std::int32_t>();
  for (std::int64_t i = 0; i < n; ++i)
    y[i] = static_cast<std::int32_t>(gen() % static_cast<std::uint64_t>(classes));
  return d;
}

}  // namespace scopeflow::data
