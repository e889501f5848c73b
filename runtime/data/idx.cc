// IDX reading through zlib. See idx.h.
#include "runtime/data/idx.h"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <numeric>
#include <random>

#include "devices/base/errors.h"

namespace scopeflow::data {
namespace {

// A file read through zlib (inflated when it is gzip; gzread passes plain files through).
class GzReader {
 public:
  explicit GzReader(const std::string& path) : path_(path) {
    std::error_code ec;
    const bool exists = std::filesystem::exists(path, ec);
    if (ec)  // a name too long, a folder that cannot be searched, ...
      throw InvalidArgumentError(str_cat(path, ": cannot access: ", ec.message()));
    if (!exists) throw NotFoundError(str_cat("IDX file not found: ", path));
    if (std::filesystem::is_directory(path, ec))
      throw InvalidArgumentError(str_cat(path, ": is a folder, not an IDX file"));
    f_ = gzopen(path.c_str(), "rb");
    if (f_ == nullptr) throw InvalidArgumentError(str_cat(path, ": cannot open"));
  }
  ~GzReader() {
    if (f_ != nullptr) gzclose(f_);
  }
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;
  // Up to `n` bytes into `to`: fewer only at the end of the data.
  std::size_t read(std::uint8_t* to, std::size_t n) {
    std::size_t done = 0;
    while (done < n) {
      const unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(n - done, 1 << 20));
      const int got = gzread(f_, to + done, chunk);
      if (got < 0) {
        int err = 0;
        throw InvalidArgumentError(str_cat(path_, ": corrupt gzip data (", gzerror(f_, &err), ")"));
      }
      if (got == 0) break;
      done += static_cast<std::size_t>(got);
    }
    return done;
  }
  void close() {
    const int rc = gzclose(f_);
    f_ = nullptr;
    if (rc != Z_OK)
      throw InvalidArgumentError(str_cat(path_, ": truncated or corrupt gzip stream"));
  }

 private:
  std::string path_;
  gzFile f_ = nullptr;
};

std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         p[3];
}

std::string hex(std::uint32_t v, int digits) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%0*x", digits, v);
  return buf;
}

// The most data an IDX file may announce (1 TiB): more is a corrupt header, never an
// allocation attempted.
constexpr std::uint64_t kMaxIdxBytes = std::uint64_t{1} << 40;

}  // namespace

// The header first, then exactly the bytes it announces (and one more, to tell extra data):
// memory follows what the header says, so a small .gz that inflates to gigabytes is refused
// after its announced size instead of inflated whole.
IdxFile read_idx(const std::string& path, int expected_rank) {
  GzReader in(path);
  std::uint8_t head[4 + 4 * 4];
  if (const std::size_t got = in.read(head, 4); got < 4)
    throw InvalidArgumentError(str_cat(path, ": too short for an IDX header (", got, " bytes)"));
  if (head[0] != 0 || head[1] != 0)
    throw InvalidArgumentError(str_cat(path, ": bad IDX magic number ", hex(be32(head), 8)));
  if (head[2] != 0x08)
    throw InvalidArgumentError(
        str_cat(path, ": IDX element type ", hex(head[2], 2), " is not unsigned byte (0x08)"));
  const int rank = head[3];
  if (rank < 1 || rank > 4)
    throw InvalidArgumentError(str_cat(path, ": IDX rank ", rank, " is not in 1..4"));
  if (expected_rank > 0 && rank != expected_rank)
    throw InvalidArgumentError(
        str_cat(path, ": expected ", expected_rank, " dimensions, the file has ", rank));
  const std::size_t dims_bytes = 4 * static_cast<std::size_t>(rank);
  if (in.read(head + 4, dims_bytes) < dims_bytes)
    throw InvalidArgumentError(str_cat(path, ": truncated IDX header"));
  IdxFile f;
  std::uint64_t count = 1;
  for (int i = 0; i < rank; ++i) {
    const std::uint32_t d = be32(head + 4 + 4 * i);
    if (d == 0 || d > (1u << 28))
      throw InvalidArgumentError(str_cat(path, ": dimension ", i, " is ", d));
    f.dims.push_back(d);
    if (count > kMaxIdxBytes / d)
      throw InvalidArgumentError(str_cat(path, ": header announces more than 2^40 bytes of data"));
    count *= d;
  }
  try {
    std::vector<std::uint8_t> chunk(1 << 16);
    while (f.bytes.size() < count) {
      const std::size_t want = std::min<std::uint64_t>(chunk.size(), count - f.bytes.size());
      const std::size_t got = in.read(chunk.data(), want);
      f.bytes.insert(f.bytes.end(), chunk.data(), chunk.data() + got);
      if (got < want)
        throw InvalidArgumentError(str_cat(path, ": header announces ", count,
                                           " bytes of data, the file has ", f.bytes.size(),
                                           " (truncated)"));
    }
    std::uint8_t extra = 0;
    if (in.read(&extra, 1) != 0)
      throw InvalidArgumentError(
          str_cat(path, ": header announces ", count, " bytes of data, the file has more"));
  } catch (const std::bad_alloc&) {
    throw ResourceExhaustedError(
        str_cat(path, ": out of memory reading its ", count, " bytes of data"));
  }
  in.close();
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
  const std::string images = dir + "/" + split + "-images-idx3-ubyte.gz";
  const std::string labels = dir + "/" + split + "-labels-idx1-ubyte.gz";
  ImageDataset d = load_idx_dataset(images, labels);
  // Fashion-MNIST's geometry and classes, checked here, naming the file: a wrong image size
  // failed as a feed of the model's placeholder, and a label of 200 trained (or scored) as a
  // loss error, or silently as accuracy 0.
  const auto& dims = d.images.shape().dims();
  if (dims[1] != 28 || dims[2] != 28)
    throw InvalidArgumentError(
        str_cat(images, ": images of ", dims[1], "x", dims[2], ", Fashion-MNIST's are 28x28"));
  const auto* l = d.labels.data<std::int32_t>();
  for (std::int64_t i = 0; i < d.labels.num_elements(); ++i)
    if (l[i] < 0 || l[i] >= 10)
      throw InvalidArgumentError(
          str_cat(labels, ": label ", i, " is ", l[i], ", not a Fashion-MNIST class (0..9)"));
  return d;
}

std::vector<std::int64_t> shuffled_indices(std::int64_t n, std::uint64_t seed) {
  if (n < 0) throw InvalidArgumentError(str_cat("shuffled_indices: n is ", n, ", must be >= 0"));
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
  // (count > size - start, not start + count > size: the sum may overflow.)
  if (start < 0 || count < 0 || start > static_cast<std::int64_t>(indices.size()) ||
      count > static_cast<std::int64_t>(indices.size()) - start)
    throw InvalidArgumentError(
        str_cat("gather_rows: ", count, " rows from ", start, " outside ", indices.size()));
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
