// sf::Shape. See shape.h.
#include "devices/base/shape.h"

#include <limits>
#include <ostream>

#include "devices/base/errors.h"

namespace scopeflow {

Shape Shape::unknown() {
  Shape s;
  s.has_rank_ = false;
  return s;
}

int Shape::rank() const {
  if (!has_rank_) throw ValueError("Shape <unknown> has no rank");
  return static_cast<int>(dims_.size());
}

std::int64_t Shape::dim(int i) const {
  if (!has_rank_ || i < 0 || i >= static_cast<int>(dims_.size()))
    throw ValueError(str_cat("Shape ", to_string(), " has no dimension ", i));
  return dims_[static_cast<std::size_t>(i)];
}

bool Shape::is_fully_defined() const {
  if (!has_rank_) return false;
  for (auto d : dims_)
    if (d < 0) return false;
  return true;
}

std::int64_t Shape::num_elements() const {
  if (!is_fully_defined())
    throw ValueError(str_cat("Shape ", to_string(), " is not fully defined"));
  std::int64_t n = 1;
  for (auto d : dims_) {
    if (d != 0 && n > std::numeric_limits<std::int64_t>::max() / d)
      throw ValueError(str_cat("Shape ", to_string(), " has more than 2^63 elements"));
    n *= d;
  }
  return n;
}

bool Shape::is_compatible_with(const Shape& other) const {
  if (!has_rank_ || !other.has_rank_) return true;
  if (dims_.size() != other.dims_.size()) return false;
  for (std::size_t i = 0; i < dims_.size(); ++i)
    if (dims_[i] >= 0 && other.dims_[i] >= 0 && dims_[i] != other.dims_[i]) return false;
  return true;
}

std::string Shape::to_string() const {
  if (!has_rank_) return "<unknown>";
  std::string out = "[";
  for (std::size_t i = 0; i < dims_.size(); ++i) {
    if (i) out += ",";
    out += dims_[i] < 0 ? std::string("?") : std::to_string(dims_[i]);
  }
  return out + "]";
}

std::ostream& operator<<(std::ostream& os, const Shape& s) { return os << s.to_string(); }

}  // namespace scopeflow
