// sf::Tensor and its Buffer. See tensor.h.
#include "devices/tensor.h"

#include <cstring>
#include <new>
#include <sstream>

#include "devices/base/logging.h"
#include "devices/cpu_device.h"

namespace scopeflow {

Buffer::Buffer(std::shared_ptr<devices::Device> device, std::size_t bytes,
               const devices::Stream* stream)
    : device_(std::move(device)), size_(bytes) {
  if (!device_) throw InvalidArgumentError("Buffer: no device given");
  data_ = stream != nullptr ? device_->allocator().allocate(bytes, stream->id())
                            : device_->allocator().allocate(bytes);
}

Buffer::~Buffer() {
  auto* strings = static_cast<std::string*>(data_);
  for (std::size_t i = 0; i < num_strings_; ++i) strings[i].~basic_string();
  device_->allocator().deallocate(data_);
}

Tensor::Tensor(DType dtype, const Shape& shape, std::shared_ptr<devices::Device> device)
    : Tensor(dtype, shape, std::move(device), nullptr) {}

Tensor Tensor::empty_on_stream(DType dtype, const Shape& shape,
                               std::shared_ptr<devices::Device> device,
                               const devices::Stream& stream) {
  if (dtype == DType::kString)
    throw InvalidArgumentError("Tensor::empty_on_stream: string tensors live on the host");
  return Tensor(dtype, shape, std::move(device), &stream);
}

Tensor::Tensor(DType dtype, const Shape& shape, std::shared_ptr<devices::Device> device,
               const devices::Stream* stream)
    : dtype_(dtype), shape_(shape) {
  if (dtype == DType::kInvalid) throw InvalidArgumentError("Tensor: dtype is invalid");
  if (dtype == DType::kComplex64)
    throw InvalidArgumentError("Tensor: complex64 tensors are not supported");
  if (!shape.is_fully_defined())
    throw InvalidArgumentError(
        str_cat("Tensor: shape ", shape.to_string(), " must be fully defined to allocate"));
  for (auto d : shape.dims())
    if (d < 0)
      throw InvalidArgumentError(str_cat("Tensor: negative dimension in ", shape.to_string()));
  if (!device) throw InvalidArgumentError("Tensor: no device given");
  try {
    num_elements_ = shape.num_elements();
  } catch (const ValueError& e) {
    throw InvalidArgumentError(str_cat("Tensor: ", e.what()));
  }
  if (dtype == DType::kString && device->type() != devices::DeviceType::kCPU)
    throw InvalidArgumentError(
        str_cat("Tensor: string tensors live on the host, not on ", device->name()));
  const std::size_t size = dtype_size(dtype);
  if (size == 0)
    throw InvalidArgumentError(str_cat("Tensor: invalid dtype ", static_cast<int>(dtype)));
  if (num_elements_ > 0 &&
      static_cast<std::uint64_t>(num_elements_) > (std::uint64_t{1} << 62) / size)
    throw ResourceExhaustedError(str_cat("Tensor: ", shape.to_string(), " of ", dtype_name(dtype),
                                         " is too large to allocate on ", device->name()));
  buffer_ = std::make_shared<Buffer>(std::move(device), bytes(), stream);
  if (dtype == DType::kString) {
    auto* p = static_cast<std::string*>(buffer_->data());
    for (std::int64_t i = 0; i < num_elements_; ++i) new (p + i) std::string();
    buffer_->num_strings_ = static_cast<std::size_t>(num_elements_);
  }
}

Tensor Tensor::from_strings(const std::vector<std::string>& values, const Shape& shape) {
  if (!shape.is_fully_defined() || shape.num_elements() != static_cast<std::int64_t>(values.size()))
    throw InvalidArgumentError(str_cat("Tensor::from_strings: ", values.size(),
                                       " values do not fill shape ", shape.to_string()));
  Tensor t(DType::kString, shape);
  auto* p = static_cast<std::string*>(t.raw_data());
  for (std::size_t i = 0; i < values.size(); ++i) p[i] = values[i];
  return t;
}

std::string Tensor::device() const { return buffer_ ? buffer_->device().name() : std::string(); }

const std::shared_ptr<devices::Device>& Tensor::device_ptr() const {
  static const std::shared_ptr<devices::Device> none;
  return buffer_ ? buffer_->device_ptr() : none;
}

bool Tensor::on_host() const {
  return buffer_ && buffer_->device().type() == devices::DeviceType::kCPU;
}

void Tensor::check_dtype(DType want, const char* what) const {
  if (dtype_ == DType::kInvalid)
    throw FailedPreconditionError(str_cat("Tensor::", what, ": the tensor is empty"));
  if (want != dtype_)
    throw InvalidArgumentError(str_cat("Tensor::", what, "<", dtype_name(want),
                                       ">: the tensor holds ", dtype_name(dtype_)));
}

void Tensor::copy_to_host(void* dst) const {
  if (num_elements_ == 0) return;
  buffer_->device().copy_to_host(dst, buffer_->data(), bytes());
}

std::vector<std::string> Tensor::to_strings() const {
  check_dtype(DType::kString, "to_strings");
  const auto* p = static_cast<const std::string*>(raw_data());
  return std::vector<std::string>(p, p + num_elements_);
}

Tensor Tensor::to(const std::shared_ptr<devices::Device>& device) const {
  if (!buffer_) throw FailedPreconditionError("Tensor::to: the tensor is empty");
  Tensor out(dtype_, shape_, device);
  if (dtype_ == DType::kString) {
    const auto* src = static_cast<const std::string*>(raw_data());
    auto* dst = static_cast<std::string*>(out.raw_data());
    for (std::int64_t i = 0; i < num_elements_; ++i) dst[i] = src[i];
    return out;
  }
  devices::copy_bytes(*device, out.raw_data(), buffer_->device(), raw_data(), bytes());
  return out;
}

Tensor Tensor::reshaped(const Shape& shape) const {
  if (!shape.is_fully_defined() || shape.num_elements() != num_elements_)
    throw InvalidArgumentError(str_cat("Tensor::reshaped: cannot view ", shape_.to_string(), " (",
                                       num_elements_, " elements) as ", shape.to_string()));
  Tensor out = *this;
  out.shape_ = shape;
  return out;
}

namespace {
template <class T>
void append_values(std::ostringstream& os, const Tensor& t, int max_values) {
  auto v = t.to_vector<T>();
  for (std::size_t i = 0; i < v.size() && static_cast<int>(i) < max_values; ++i) {
    if (i) os << ", ";
    if constexpr (std::is_same_v<T, half> || std::is_same_v<T, bfloat16_t>)
      os << static_cast<float>(v[i]);
    else if constexpr (std::is_same_v<T, std::int8_t> || std::is_same_v<T, std::uint8_t>)
      os << static_cast<int>(v[i]);
    else
      os << v[i];
  }
  if (static_cast<int>(v.size()) > max_values) os << ", ...";
}
}  // namespace

std::string Tensor::debug_string(int max_values) const {
  if (dtype_ == DType::kInvalid) return "Tensor<empty>";
  std::ostringstream os;
  os << "Tensor<" << dtype_name(dtype_) << " " << shape_.to_string() << " on " << device()
     << ">: [";
  switch (dtype_) {
    case DType::kFloat32: append_values<float>(os, *this, max_values); break;
    case DType::kFloat64: append_values<double>(os, *this, max_values); break;
    case DType::kFloat16: append_values<half>(os, *this, max_values); break;
    case DType::kBFloat16: append_values<bfloat16_t>(os, *this, max_values); break;
    case DType::kInt8: append_values<std::int8_t>(os, *this, max_values); break;
    case DType::kUInt8: append_values<std::uint8_t>(os, *this, max_values); break;
    case DType::kInt32: append_values<std::int32_t>(os, *this, max_values); break;
    case DType::kInt64: append_values<std::int64_t>(os, *this, max_values); break;
    case DType::kBool: append_values<bool>(os, *this, max_values); break;
    case DType::kString: {
      auto v = to_strings();
      for (std::size_t i = 0; i < v.size() && static_cast<int>(i) < max_values; ++i)
        os << (i ? ", " : "") << '"' << v[i] << '"';
      if (static_cast<int>(v.size()) > max_values) os << ", ...";
      break;
    }
    default: break;
  }
  os << "]";
  return os.str();
}

}  // namespace scopeflow
