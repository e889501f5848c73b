// Node attributes as kernels see them (TF's AttrValue): a small closed set of types.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "devices/base/dtype.h"
#include "devices/base/errors.h"
#include "devices/base/shape.h"
#include "devices/tensor.h"

namespace scopeflow {

using AttrValue = std::variant<std::monostate, bool, std::int64_t, float, std::string, DType, Shape,
                               Tensor, std::vector<std::int64_t>, std::vector<std::string>>;

class AttrMap {
 public:
  void set(const std::string& name, AttrValue value) { attrs_[name] = std::move(value); }
  bool has(const std::string& name) const { return attrs_.count(name) != 0; }
  // The attribute as T; throws InvalidArgumentError when missing or of another type.
  template <class T>
  const T& get(const std::string& name) const {
    auto it = attrs_.find(name);
    if (it == attrs_.end()) throw InvalidArgumentError(str_cat("Missing attr '", name, "'"));
    if (const T* v = std::get_if<T>(&it->second)) return *v;
    throw InvalidArgumentError(str_cat("Attr '", name, "' has another type"));
  }
  template <class T>
  T get_or(const std::string& name, T fallback) const {
    auto it = attrs_.find(name);
    if (it == attrs_.end()) return fallback;
    if (const T* v = std::get_if<T>(&it->second)) return *v;
    return fallback;
  }
  const std::map<std::string, AttrValue>& all() const { return attrs_; }

 private:
  std::map<std::string, AttrValue> attrs_;
};

}  // namespace scopeflow
