// sf::Tensor: dtype + shape + a reference-counted buffer on some device. Copies of a
// Tensor share the buffer (as TF's Tensor does); Tensor::to() makes a real copy on
// another device. String tensors live on the host.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "devices/base/dtype.h"
#include "devices/base/errors.h"
#include "devices/base/shape.h"
#include "devices/device.h"

namespace scopeflow {

// Device memory owned by one allocation; freed when the last Tensor using it goes away.
class Buffer {
 public:
  // Allocates `bytes` from `device`'s allocator, stream-ordered for `stream` when one is given
  // (Allocator::allocate(bytes, stream->id())). Throws ResourceExhaustedError.
  Buffer(std::shared_ptr<devices::Device> device, std::size_t bytes,
         const devices::Stream* stream = nullptr);
  ~Buffer();
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  void* data() const { return data_; }
  std::size_t size() const { return size_; }
  devices::Device& device() const { return *device_; }
  const std::shared_ptr<devices::Device>& device_ptr() const { return device_; }

 private:
  friend class Tensor;
  std::shared_ptr<devices::Device> device_;
  void* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t num_strings_ = 0;  // constructed std::string objects to destroy
};

class Tensor {
 public:
  // An empty tensor (dtype invalid, no buffer): what a default-constructed fetch holds.
  Tensor() = default;
  // Uninitialized storage for `shape` (fully defined) on `device` (default: the host).
  // String tensors are filled with empty strings and must live on a CPU device.
  Tensor(DType dtype, const Shape& shape,
         std::shared_ptr<devices::Device> device = devices::host_device());

  // Like the constructor, but the memory is allocated stream-ordered for `stream`, one of
  // `device`'s streams (Allocator::allocate(bytes, stream.id())): work queued on `stream` may
  // use it at once, because the caching allocator hands out a block of another stream's bin
  // only after that stream's work on it is done. The block keeps `stream` as its home: work on
  // other streams declares itself with allocator().record_stream(). Not for strings.
  static Tensor empty_on_stream(DType dtype, const Shape& shape,
                                std::shared_ptr<devices::Device> device,
                                const devices::Stream& stream);
  template <class T>
  static Tensor from_vector(const std::vector<T>& values, const Shape& shape);
  template <class T>
  static Tensor from_vector(const std::vector<T>& values) {
    return from_vector(values, Shape{static_cast<std::int64_t>(values.size())});
  }
  static Tensor from_strings(const std::vector<std::string>& values, const Shape& shape);
  // A scalar (shape []) holding `value`.
  template <class T>
  static Tensor from_scalar(T value) {
    return from_vector(std::vector<T>{value}, Shape{});
  }

  bool initialized() const { return buffer_ != nullptr; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  std::int64_t num_elements() const { return num_elements_; }
  std::size_t bytes() const { return static_cast<std::size_t>(num_elements_) * dtype_size(dtype_); }
  // The device holding the data ("/device:CPU:0"); "" for an empty tensor.
  std::string device() const;
  const std::shared_ptr<devices::Device>& device_ptr() const;
  bool on_host() const;

  // Typed pointer to the data (device memory for GPU tensors). Throws InvalidArgumentError
  // when T does not match dtype().
  template <class T>
  T* data() {
    check_dtype(dtype_of<T>, "data");
    return static_cast<T*>(raw_data());
  }
  template <class T>
  const T* data() const {
    check_dtype(dtype_of<T>, "data");
    return static_cast<const T*>(raw_data());
  }
  void* raw_data() const { return buffer_ ? buffer_->data() : nullptr; }

  // The values, copied to the host if the tensor lives on a GPU.
  template <class T>
  std::vector<T> to_vector() const;
  // The single value of a one-element tensor.
  template <class T>
  T scalar() const;
  std::vector<std::string> to_strings() const;

  // A copy of this tensor on `device` (a new buffer, even on the same device).
  Tensor to(const std::shared_ptr<devices::Device>& device) const;
  // The same buffer seen with another shape of the same element count.
  Tensor reshaped(const Shape& shape) const;
  // Human-readable: "Tensor<float32 [2,3] on /device:CPU:0>: [1, 2, 3, ...]".
  std::string debug_string(int max_values = 8) const;
  // True when both refer to the same buffer.
  bool shares_buffer_with(const Tensor& other) const { return buffer_ && buffer_ == other.buffer_; }
  // Tensors sharing this buffer, this one included (0 for an empty tensor): what a
  // copy-on-write update checks.
  long buffer_use_count() const { return buffer_.use_count(); }

 private:
  Tensor(DType dtype, const Shape& shape, std::shared_ptr<devices::Device> device,
         const devices::Stream* stream);
  void check_dtype(DType want, const char* what) const;
  void copy_to_host(void* dst) const;

  DType dtype_ = DType::kInvalid;
  Shape shape_;
  std::int64_t num_elements_ = 0;
  std::shared_ptr<Buffer> buffer_;
};

// ---------------------------------------------------------------- templates
template <class T>
Tensor Tensor::from_vector(const std::vector<T>& values, const Shape& shape) {
  static_assert(!std::is_same_v<T, std::string>, "use Tensor::from_strings for strings");
  if (!shape.is_fully_defined())
    throw InvalidArgumentError(
        str_cat("Tensor::from_vector: shape ", shape.to_string(), " is not fully defined"));
  if (shape.num_elements() != static_cast<std::int64_t>(values.size()))
    throw InvalidArgumentError(str_cat("Tensor::from_vector: ", values.size(),
                                       " values do not fill shape ", shape.to_string(), " (",
                                       shape.num_elements(), " elements)"));
  Tensor t(dtype_of<T>, shape);
  if constexpr (std::is_same_v<T, bool>) {
    auto* p = static_cast<bool*>(t.raw_data());
    for (std::size_t i = 0; i < values.size(); ++i) p[i] = values[i];
  } else {
    if (!values.empty()) std::memcpy(t.raw_data(), values.data(), values.size() * sizeof(T));
  }
  return t;
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  static_assert(!std::is_same_v<T, std::string>, "use to_strings() for string tensors");
  check_dtype(dtype_of<T>, "to_vector");
  std::vector<T> out(static_cast<std::size_t>(num_elements_));
  if constexpr (std::is_same_v<T, bool>) {
    std::vector<std::uint8_t> raw(out.size());
    copy_to_host(raw.data());
    for (std::size_t i = 0; i < raw.size(); ++i) out[i] = raw[i] != 0;
  } else {
    copy_to_host(out.data());
  }
  return out;
}

template <class T>
T Tensor::scalar() const {
  if (num_elements_ != 1)
    throw InvalidArgumentError(str_cat("Tensor::scalar: tensor of shape ", shape_.to_string(),
                                       " has ", num_elements_, " elements, not 1"));
  return to_vector<T>()[0];
}

}  // namespace scopeflow
