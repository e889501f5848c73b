// tf.contrib.nccl's builders. See nccl.h; the op: runtime/ops/collective_ops.cc.
#include "scope/ops/nccl.h"

#include <atomic>

#include "devices/base/errors.h"
#include "scope/scopes.h"

namespace scopeflow::nccl {
namespace {

// TF's _get_shared_name: "c<N>" from a process-wide counter.
std::string next_shared_name() {
  static std::atomic<std::int64_t> counter{0};
  return str_cat("c", counter.fetch_add(1));
}

std::vector<Output> apply_all_reduce(const char* reduction, const std::vector<Output>& tensors) {
  if (tensors.empty()) throw ValueError("Must pass >0 tensors to all reduce operations");
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    tensors[i].op().check();
    if (tensors[i].dtype() != tensors[0].dtype())
      throw ValueError(str_cat("all reduce: tensor ", tensors[i].name(), " is ",
                               dtype_name(tensors[i].dtype()), ", ", tensors[0].name(), " is ",
                               dtype_name(tensors[0].dtype())));
    if (!tensors[i].shape().is_compatible_with(tensors[0].shape()))
      throw ValueError(str_cat("all reduce: tensor ", tensors[i].name(), " has shape ",
                               tensors[i].shape().to_string(), ", ", tensors[0].name(),
                               " has shape ", tensors[0].shape().to_string()));
  }
  const std::string shared_name = next_shared_name();
  Graph g = get_default_graph();
  std::vector<Output> out;
  for (const auto& t : tensors) {
    AttrMap a;
    a.set("reduction", std::string(reduction));
    a.set("num_devices", static_cast<std::int64_t>(tensors.size()));
    a.set("shared_name", shared_name);
    a.set("T", t.dtype());
    // TF: `with ops.device(t.device)`; the colocation also follows where t actually lands.
    device d(t.device());
    colocate_with with_t(t.op().name());
    out.push_back(g.create_op("NcclAllReduce", {t}, std::move(a), "NcclAllReduce").output(0));
  }
  return out;
}

}  // namespace

std::vector<Output> all_sum(const std::vector<Output>& tensors) {
  return apply_all_reduce("sum", tensors);
}
std::vector<Output> all_prod(const std::vector<Output>& tensors) {
  return apply_all_reduce("prod", tensors);
}
std::vector<Output> all_min(const std::vector<Output>& tensors) {
  return apply_all_reduce("min", tensors);
}
std::vector<Output> all_max(const std::vector<Output>& tensors) {
  return apply_all_reduce("max", tensors);
}

}  // namespace scopeflow::nccl
