// KernelRegistry. See kernel.h.
#include <algorithm>

#include "devices/base/errors.h"
#include "kernels/kernel.h"

namespace scopeflow::kernels {

DeferredCheck& KernelContext::defer_check(
    std::function<std::string(std::int64_t, std::int64_t)> message) {
  Tensor words(DType::kInt64, Shape{2}, devices::pinned_host_device(device_ptr));
  auto* at = words.data<std::int64_t>();
  at[0] = DeferredCheck::kNoFailure;
  at[1] = 0;
  deferred_checks.push_back({std::move(words), at, std::move(message)});
  return deferred_checks.back();
}

void raise_failed_checks(const std::vector<DeferredCheck>& checks) {
  for (const auto& c : checks)
    if (c.at[0] != DeferredCheck::kNoFailure)
      throw InvalidArgumentError(c.message(c.at[0], c.at[1]));
}

std::string to_string(const KernelKey& key) {
  return str_cat(key.op, "[", devices::device_type_name(key.device), ", ", dtype_name(key.dtype),
                 key.label.empty() ? "" : ", label=", key.label, "]");
}

void KernelRegistry::add(const KernelKey& key, KernelFn fn) {
  for (const auto& [k, f] : entries_)
    if (k == key) throw InternalError(str_cat("Kernel ", to_string(key), " registered twice"));
  entries_.emplace_back(key, std::move(fn));
}

void KernelRegistry::set_label_preference(devices::DeviceType device,
                                          std::vector<std::string> order) {
  (device == devices::DeviceType::kCPU ? cpu_order_ : gpu_order_) = std::move(order);
}

void KernelRegistry::set_label_preference(devices::DeviceType device, const std::string& op,
                                          std::vector<std::string> order) {
  for (auto& o : op_orders_)
    if (o.device == device && o.op == op) {
      o.order = std::move(order);
      return;
    }
  op_orders_.push_back({device, op, std::move(order)});
}

std::vector<std::string> KernelRegistry::labels(const std::string& op, devices::DeviceType device,
                                                DType dtype) const {
  std::vector<std::string> found;
  for (const auto& [k, f] : entries_)
    if (k.op == op && k.device == device && k.dtype == dtype) found.push_back(k.label);
  const auto& order = device == devices::DeviceType::kCPU ? cpu_order_ : gpu_order_;
  static const std::vector<std::string> none;
  const std::vector<std::string>* op_order = &none;
  for (const auto& o : op_orders_)
    if (o.device == device && o.op == op) op_order = &o.order;
  auto position = [](const std::vector<std::string>& in, const std::string& l) {
    auto it = std::find(in.begin(), in.end(), l);
    return it == in.end() ? in.size() : static_cast<std::size_t>(it - in.begin());
  };
  auto rank = [&](const std::string& l) {
    return std::pair(position(*op_order, l), position(order, l));
  };
  std::stable_sort(found.begin(), found.end(),
                   [&](const std::string& a, const std::string& b) { return rank(a) < rank(b); });
  return found;
}

const std::pair<KernelKey, KernelFn>* KernelRegistry::lookup(const std::string& op,
                                                             devices::DeviceType device,
                                                             DType dtype,
                                                             const std::string& label) const {
  std::string want = label;
  if (want.empty()) {
    auto ls = labels(op, device, dtype);
    if (ls.empty()) return nullptr;
    want = ls.front();
  }
  for (const auto& e : entries_)
    if (e.first.op == op && e.first.device == device && e.first.dtype == dtype &&
        e.first.label == want)
      return &e;
  return nullptr;
}

const KernelFn& KernelRegistry::find(const std::string& op, devices::DeviceType device, DType dtype,
                                     const std::string& label) const {
  if (const auto* e = lookup(op, device, dtype, label)) return e->second;
  std::string registered;
  for (const auto& [k, f] : entries_)
    if (k.op == op) registered += (registered.empty() ? "" : ", ") + to_string(k);
  throw NotFoundError(str_cat("No kernel for ", to_string(KernelKey{op, device, dtype, label}),
                              "; registered: ", registered.empty() ? "none" : registered));
}

bool KernelRegistry::contains(const std::string& op, devices::DeviceType device, DType dtype,
                              const std::string& label) const {
  return lookup(op, device, dtype, label) != nullptr;
}

const KernelRegistry& kernel_registry() {
  static const KernelRegistry registry = [] {
    KernelRegistry r;
    register_cpu_kernels(r);
    register_openblas_kernels(r);
    register_onednn_kernels(r);
    register_cuda_kernels(r);
    return r;
  }();
  return registry;
}

}  // namespace scopeflow::kernels
