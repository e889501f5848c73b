// sf::Shape: a tensor shape that may be partly or wholly unknown (TF's TensorShape /
// PartialTensorShape). Prints as "[2]", "[1,1]", "[]" (scalar), "[?,3]", "<unknown>".
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

namespace scopeflow {

class Shape {
 public:
  static constexpr std::int64_t kUnknownDim = -1;

  // The scalar shape []: `{}` in `get_variable("v", {})` means rank 0, as in TF.
  Shape() = default;
  Shape(std::initializer_list<std::int64_t> dims) : dims_(dims) {}
  explicit Shape(std::vector<std::int64_t> dims) : dims_(std::move(dims)) {}
  // Unknown rank ("<unknown>"), what TF calls TensorShape(None).
  static Shape unknown();

  bool has_rank() const { return has_rank_; }
  // Throws ValueError when the rank is unknown.
  int rank() const;
  const std::vector<std::int64_t>& dims() const { return dims_; }
  std::int64_t dim(int i) const;
  std::int64_t operator[](int i) const { return dim(i); }
  bool is_fully_defined() const;
  // Product of the dims; 1 for a scalar. Throws ValueError unless fully defined.
  std::int64_t num_elements() const;
  // TF's is_compatible_with: unknown rank or unknown dims match anything.
  bool is_compatible_with(const Shape& other) const;
  std::string to_string() const;

  friend bool operator==(const Shape& a, const Shape& b) {
    return a.has_rank_ == b.has_rank_ && a.dims_ == b.dims_;
  }

 private:
  std::vector<std::int64_t> dims_;
  bool has_rank_ = true;
};

std::ostream& operator<<(std::ostream& os, const Shape& s);

}  // namespace scopeflow
