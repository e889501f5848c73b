// Element types (TF's DataType subset) and the host storage types for float16/bfloat16.
// Names print as TF prints them: float32, float16, bfloat16, int32, int64, bool, string.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

#include "devices/base/host_device.h"

namespace scopeflow {

enum class DType : std::uint8_t {
  kInvalid = 0,
  kFloat32,
  kFloat64,
  kFloat16,
  kBFloat16,
  kInt8,
  kUInt8,
  kInt32,
  kInt64,
  kBool,
  kString,
  kComplex64,  // named so TF's "an initializer is required" case can be expressed; no kernels
};

inline constexpr DType float32 = DType::kFloat32;
inline constexpr DType float64 = DType::kFloat64;
inline constexpr DType float16 = DType::kFloat16;
inline constexpr DType bfloat16 = DType::kBFloat16;
inline constexpr DType int8 = DType::kInt8;
inline constexpr DType uint8 = DType::kUInt8;
inline constexpr DType int32 = DType::kInt32;
inline constexpr DType int64 = DType::kInt64;
inline constexpr DType bool_ = DType::kBool;
inline constexpr DType string = DType::kString;
inline constexpr DType complex64 = DType::kComplex64;

// "float32", ... ; "invalid" for kInvalid.
std::string_view dtype_name(DType dtype);
// Inverse of dtype_name; throws ValueError naming the unknown text.
DType dtype_from_name(std::string_view name);
// Bytes per element (sizeof(std::string) for kString).
std::size_t dtype_size(DType dtype);
bool is_floating(DType dtype);
bool is_integer(DType dtype);

// IEEE binary16, stored as bits. Conversions round to nearest even.
struct half {
  std::uint16_t bits = 0;
  half() = default;
  explicit half(float f);
  explicit operator float() const;
  friend bool operator==(half a, half b) { return a.bits == b.bits; }
};

// bfloat16 (the upper half of a float32), stored as bits. Conversion rounds to nearest even.
struct bfloat16_t {
  std::uint16_t bits = 0;
  bfloat16_t() = default;
  explicit bfloat16_t(float f);
  explicit operator float() const;
  friend bool operator==(bfloat16_t a, bfloat16_t b) { return a.bits == b.bits; }
};

// dtype_of<T>: the DType whose host element type is T.
template <class T>
struct DTypeOf;
template <>
struct DTypeOf<float> {
  static constexpr DType value = DType::kFloat32;
};
template <>
struct DTypeOf<double> {
  static constexpr DType value = DType::kFloat64;
};
template <>
struct DTypeOf<half> {
  static constexpr DType value = DType::kFloat16;
};
template <>
struct DTypeOf<bfloat16_t> {
  static constexpr DType value = DType::kBFloat16;
};
template <>
struct DTypeOf<std::int8_t> {
  static constexpr DType value = DType::kInt8;
};
template <>
struct DTypeOf<std::uint8_t> {
  static constexpr DType value = DType::kUInt8;
};
template <>
struct DTypeOf<std::int32_t> {
  static constexpr DType value = DType::kInt32;
};
template <>
struct DTypeOf<std::int64_t> {
  static constexpr DType value = DType::kInt64;
};
template <>
struct DTypeOf<bool> {
  static constexpr DType value = DType::kBool;
};
template <>
struct DTypeOf<std::string> {
  static constexpr DType value = DType::kString;
};
template <class T>
inline constexpr DType dtype_of = DTypeOf<std::remove_cv_t<T>>::value;

}  // namespace scopeflow
