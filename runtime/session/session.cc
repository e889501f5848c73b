// Session v1. See session.h.
#include "runtime/session/session.h"

#include <iostream>
#include <random>
#include <unordered_map>
#include <unordered_set>

#include "devices/base/errors.h"
#include "devices/base/logging.h"
#include "kernels/kernel.h"

namespace scopeflow {
namespace {

bool is_apply(const std::string& op) {
  return op == "ApplyGradientDescent" || op == "ApplyMomentum" || op == "ApplyAdam";
}

bool is_assign_like(const std::string& op) {
  return op == "Assign" || op == "AssignAdd" || op == "AssignSub" ||
         op == "IsVariableInitialized" || is_apply(op);
}

// Ops the session runs itself (state and graph plumbing), on any device.
bool is_runtime_op(const std::string& op) {
  return op == "Const" || op == "Placeholder" || op == "NoOp" || op == "VariableV2" ||
         is_assign_like(op);
}

DType kernel_dtype(const Node& n) {
  if (!n.output_dtypes.empty()) return n.output_dtypes[0];
  if (!n.inputs.empty()) return n.inputs[0].first->output_dtypes[n.inputs[0].second];
  return DType::kFloat32;
}

std::string tf_dtype_text(DType d) {
  return d == DType::kFloat32   ? "float"
         : d == DType::kFloat64 ? "double"
                                : std::string(dtype_name(d));
}

}  // namespace

struct Session::Impl {
  SessionOptions options;
  Graph graph;
  std::unique_ptr<devices::DeviceManager> manager;
  std::unordered_map<const Node*, std::shared_ptr<devices::Device>> placement;
  std::unordered_map<const Node*, Tensor> variables;  // VariableV2 node -> value
  struct RngState {
    std::uint64_t seed = 0;
    std::uint64_t offset = 0;
  };
  std::unordered_map<const Node*, RngState> rng;
  std::mt19937_64 seeder{std::random_device{}()};

  std::shared_ptr<devices::Device> place(const Node* n);
  std::vector<Tensor> execute(const std::vector<Output>& fetches,
                              const std::vector<Operation>& targets, const FeedDict& feeds);
};

Session::Session(const SessionOptions& options) : Session(options, get_default_graph()) {}

Session::Session(const SessionOptions& options, Graph graph) : impl_(std::make_unique<Impl>()) {
  impl_->options = options;
  impl_->graph = std::move(graph);
  devices::DeviceManagerOptions dm;
  for (const auto& [type, count] : options.device_count) {
    if (type == "CPU") {
      dm.num_cpus = count;
    } else if (type == "GPU") {
      dm.max_gpus = count;
    } else {
      throw InvalidArgumentError(str_cat("Session: unknown device type '", type,
                                         "' in device_count (expected CPU or GPU)"));
    }
  }
  dm.logical_gpus = options.logical_gpus;
  impl_->manager = std::make_unique<devices::DeviceManager>(dm);
}

Session::~Session() = default;

Graph Session::graph() const { return impl_->graph; }
const devices::DeviceManager& Session::device_manager() const { return *impl_->manager; }

std::shared_ptr<devices::Device> Session::Impl::place(const Node* n) {
  if (auto it = placement.find(n); it != placement.end()) return it->second;
  std::shared_ptr<devices::Device> chosen;
  // Ops that use a variable by reference live with it.
  if (is_assign_like(n->op) && !n->inputs.empty() && n->inputs[0].first->op == "VariableV2") {
    chosen = place(n->inputs[0].first);
  } else if (!n->colocate_with.empty()) {
    // Initializer and read ops live with their variable where a kernel allows (TF's
    // colocation); otherwise on CPU:0, which is what soft placement would pick.
    auto target = graph.find_operation(n->colocate_with);
    chosen = target ? place(target->node()) : manager->cpu(0);
    if (!is_runtime_op(n->op) &&
        !kernels::kernel_registry().contains(n->op, chosen->type(), kernel_dtype(*n))) {
      SF_LOG_DEBUG(n->name, " (", n->op, "): no ", devices::device_type_name(chosen->type()),
                   " kernel; colocation with ", n->colocate_with, " relaxed to CPU:0");
      chosen = manager->cpu(0);
    }
  } else {
    DeviceSpec spec;
    try {
      spec = DeviceSpec::from_string(n->device);
    } catch (const ValueError& e) {
      throw InvalidArgumentError(
          str_cat("Cannot assign a device for operation ", n->name, ": ", e.what()));
    }
    const auto& registry = kernels::kernel_registry();
    auto has_kernel = [&](devices::DeviceType t) {
      return is_runtime_op(n->op) || registry.contains(n->op, t, kernel_dtype(*n));
    };
    const bool remote_job = spec.job() && *spec.job() != "localhost";
    std::shared_ptr<devices::Device> wanted;
    if (spec.device_type() && !remote_job) {
      wanted = manager->find(
          str_cat("/device:", *spec.device_type(), ":", spec.device_index().value_or(0)));
    } else if (!spec.device_type() && !remote_job) {
      // No request: the first GPU with a kernel, else CPU:0 (TF prefers GPUs).
      if (manager->num_gpus() > 0 && has_kernel(devices::DeviceType::kGPU))
        wanted = manager->gpu(0);
      else
        wanted = manager->cpu(0);
    }
    if (wanted && has_kernel(wanted->type())) {
      chosen = wanted;
    } else {
      std::string why = wanted ? str_cat("no ", wanted->name().substr(8), " kernel for ", n->op,
                                         " (", dtype_name(kernel_dtype(*n)), ")")
                               : str_cat("no such device");
      if (!options.allow_soft_placement || !has_kernel(devices::DeviceType::kCPU))
        throw InvalidArgumentError(str_cat(
            "Cannot assign a device for operation ", n->name,
            ": Operation was explicitly assigned to ", n->device, " but available devices are [ ",
            [&] {
              std::string list;
              for (const auto& d : manager->devices())
                list += (list.empty() ? "" : ", ") + d->full_name();
              return list;
            }(),
            " ]. Make sure the device specification refers to a valid device (", why, ")."));
      chosen = manager->cpu(0);
      SF_LOG_WARN("Soft placement: ", n->name, " (", n->op, ") requested '", n->device, "' (", why,
                  "); placed on ", chosen->name());
    }
  }
  placement[n] = chosen;
  if (options.log_device_placement)
    std::cerr << n->name << ": (" << n->op << "): " << chosen->full_name() << "\n";
  return chosen;
}

std::string Session::assigned_device(const Operation& op) {
  return impl_->place(op.node())->full_name();
}

Tensor Session::variable_value(const std::string& name) const {
  auto op = impl_->graph.find_operation(name);
  if (!op || op->type() != "VariableV2")
    throw NotFoundError(str_cat("No variable named '", name, "'"));
  auto it = impl_->variables.find(op->node());
  return it == impl_->variables.end() ? Tensor() : it->second;
}

void Session::set_variable_value(const std::string& name, const Tensor& value) {
  auto op = impl_->graph.find_operation(name);
  if (!op || op->type() != "VariableV2")
    throw NotFoundError(str_cat("No variable named '", name, "'"));
  const Node* n = op->node();
  if (value.dtype() != n->output_dtypes[0])
    throw InvalidArgumentError(str_cat("Variable ", name, " is ", dtype_name(n->output_dtypes[0]),
                                       ", the value is ", dtype_name(value.dtype())));
  if (!n->output_shapes[0].is_compatible_with(value.shape()))
    throw InvalidArgumentError(str_cat("Variable ", name, " has shape ",
                                       n->output_shapes[0].to_string(), ", the value has shape ",
                                       value.shape().to_string()));
  impl_->variables[n] = value.to(impl_->place(n));
}

std::vector<Tensor> Session::Impl::execute(const std::vector<Output>& fetches,
                                           const std::vector<Operation>& targets,
                                           const FeedDict& feeds) {
  using Key = std::pair<const Node*, int>;
  struct KeyHash {
    std::size_t operator()(const Key& k) const {
      return std::hash<const void*>()(k.first) * 31 + static_cast<std::size_t>(k.second);
    }
  };
  std::unordered_map<Key, Tensor, KeyHash> values;
  const auto& gimpl = graph.impl();

  // Feeds: dtype and shape checked against the fed tensor.
  for (const auto& [out, value] : feeds) {
    if (!out.valid() || out.graph().impl() != gimpl)
      throw InvalidArgumentError("Feed key is not a tensor of this session's graph");
    if (value.dtype() != out.dtype())
      throw InvalidArgumentError(str_cat("Cannot feed value of dtype ", dtype_name(value.dtype()),
                                         " for Tensor '", out.name(), "', which has dtype ",
                                         dtype_name(out.dtype())));
    if (!out.shape().is_compatible_with(value.shape()))
      throw InvalidArgumentError(str_cat("Cannot feed value of shape ", value.shape().to_string(),
                                         " for Tensor '", out.name(), "', which has shape ",
                                         out.shape().to_string()));
    values[{out.node(), out.index()}] = value;
  }
  std::unordered_set<Key, KeyHash> fed_keys;
  for (const auto& [k, v] : values) fed_keys.insert(k);
  auto fed = [&](const Node* n, int i) { return fed_keys.count({n, i}) != 0; };

  // The needed nodes, in topological order (iterative DFS, post-order).
  std::vector<const Node*> order;
  std::unordered_set<const Node*> seen;
  std::vector<std::pair<const Node*, std::size_t>> stack;
  auto visit = [&](const Node* root) {
    if (seen.count(root)) return;
    seen.insert(root);
    stack.emplace_back(root, 0);
    while (!stack.empty()) {
      auto& [n, next] = stack.back();
      const std::size_t n_data = n->inputs.size();
      if (next < n_data + n->control_inputs.size()) {
        const std::size_t k = next++;
        const Node* dep;
        if (k < n_data) {
          if (fed(n->inputs[k].first, n->inputs[k].second)) continue;
          dep = n->inputs[k].first;
        } else {
          dep = n->control_inputs[k - n_data];
        }
        if (!seen.count(dep)) {
          seen.insert(dep);
          stack.emplace_back(dep, 0);
        }
      } else {
        order.push_back(n);
        stack.pop_back();
      }
    }
  };
  for (const auto& f : fetches) {
    if (!f.valid() || f.graph().impl() != gimpl)
      throw InvalidArgumentError("Fetch is not a tensor of this session's graph");
    if (!fed(f.node(), f.index())) visit(f.node());
  }
  for (const auto& t : targets) {
    if (!t.valid() || t.graph().impl() != gimpl)
      throw InvalidArgumentError("Target is not an operation of this session's graph");
    visit(t.node());
  }

  const auto& registry = kernels::kernel_registry();
  for (const Node* n : order) {
    auto device = place(n);
    auto input = [&](std::size_t k) -> Tensor {
      auto [p, i] = n->inputs[k];
      // NOTE: a VariableV2 output is a reference: consumers see the value current when they
      // run, not when the variable op was visited (TF's ref semantics).
      if (p->op == "VariableV2" && !fed(p, i)) {
        auto v = variables.find(p);
        return v == variables.end() ? Tensor() : v->second;
      }
      auto it = values.find({p, i});
      SF_CHECK(it != values.end(), "input ", k, " of ", n->name, " not computed");
      return it->second;
    };
    auto require_initialized = [&](const Tensor& t, std::size_t k) {
      if (!t.initialized())
        throw FailedPreconditionError(str_cat("Attempting to use uninitialized value ",
                                              n->inputs[k].first->name, "\n\t [[node ", n->name,
                                              " (", n->op, ")]]"));
    };
    auto on_device = [&](Tensor t) {
      if (!t.initialized() || t.dtype() == DType::kString) return t;
      const auto& src = t.device_ptr();
      const bool same = src == device || (src->type() == devices::DeviceType::kCPU &&
                                          device->type() == devices::DeviceType::kCPU);
      return same ? t : t.to(device);
    };

    if (n->op == "NoOp") continue;
    if (n->op == "Const") {
      values[{n, 0}] = on_device(n->attrs.get<Tensor>("value"));
      continue;
    }
    if (n->op == "Placeholder") {
      if (!fed(n, 0))
        throw InvalidArgumentError(str_cat(
            "You must feed a value for placeholder tensor '", n->name, "' with dtype ",
            tf_dtype_text(n->output_dtypes[0]), " and shape ", n->output_shapes[0].to_string()));
      continue;
    }
    if (n->op == "VariableV2") {
      auto it = variables.find(n);
      values[{n, 0}] = it == variables.end() ? Tensor() : it->second;
      continue;
    }
    if (n->op == "IsVariableInitialized") {
      values[{n, 0}] = Tensor::from_scalar(input(0).initialized());
      continue;
    }
    if (n->op == "Assign" || n->op == "AssignAdd" || n->op == "AssignSub") {
      const Node* var = n->inputs[0].first;
      if (var->op != "VariableV2")
        throw InvalidArgumentError(str_cat(n->name, ": ", n->op, " needs a variable as input 0"));
      Tensor current = input(0);
      Tensor value = input(1);
      require_initialized(value, 1);
      Tensor result;
      if (n->op == "Assign") {
        const bool validate = n->attrs.get_or<bool>("validate_shape", true);
        if (validate && !var->output_shapes[0].is_compatible_with(value.shape()))
          throw InvalidArgumentError(str_cat(
              n->name, ": Assign requires shapes of both tensors to match. lhs shape= ",
              var->output_shapes[0].to_string(), " rhs shape= ", value.shape().to_string()));
        result = value.to(device);
      } else {
        require_initialized(current, 0);
        kernels::KernelContext c;
        c.device = devices::host_device().get();
        c.node_name = n->name;
        c.inputs = {current.on_host() ? current : current.to(devices::host_device()),
                    value.on_host() ? value : value.to(devices::host_device())};
        registry.find(n->op == "AssignAdd" ? "AddV2" : "Sub", devices::DeviceType::kCPU,
                      current.dtype())(c);
        if (!(c.outputs[0].shape() == current.shape()))
          throw InvalidArgumentError(str_cat(n->name, ": ", n->op,
                                             " shapes differ: ", current.shape().to_string(),
                                             " vs ", value.shape().to_string()));
        result = c.outputs[0].to(device);
      }
      variables[var] = result;
      values[{n, 0}] = result;
      continue;
    }

    if (is_apply(n->op)) {
      // Variables (and slots) are updated in place on the host reference kernel; a GPU
      // variable makes a round trip until the kernels issue brings the GPU updates.
      kernels::KernelContext c;
      c.device = devices::host_device().get();
      c.attrs = &n->attrs;
      c.node_name = n->name;
      std::vector<std::pair<const Node*, Tensor>> refs;
      for (std::size_t k = 0; k < n->inputs.size(); ++k) {
        Tensor t = input(k);
        require_initialized(t, k);
        const Node* p = n->inputs[k].first;
        if (p->op == "VariableV2" && !t.on_host()) {
          t = t.to(devices::host_device());
          refs.emplace_back(p, t);
        }
        c.inputs.push_back(t.on_host() ? t : t.to(devices::host_device()));
      }
      registry.find(n->op, devices::DeviceType::kCPU, kernel_dtype(*n))(c);
      for (auto& [p, t] : refs) variables[p] = t.to(place(p));
      values[{n, 0}] =
          variables.count(n->inputs[0].first) ? variables[n->inputs[0].first] : c.outputs[0];
      continue;
    }

    // A kernel from the registry.
    kernels::KernelContext c;
    c.device = device.get();
    c.device_ptr = device;
    c.attrs = &n->attrs;
    c.node_name = n->name;
    for (std::size_t k = 0; k < n->inputs.size(); ++k) {
      Tensor t = input(k);
      require_initialized(t, k);
      c.inputs.push_back(on_device(t));
    }
    const DType dt = kernel_dtype(*n);
    if (n->op == "RandomUniform" || n->op == "RandomStandardNormal" || n->op == "TruncatedNormal") {
      auto& st = rng[n];
      if (st.seed == 0) st.seed = seeder() | 1;
      c.rng_seed = st.seed;
      c.rng_offset = st.offset;
    }
    try {
      registry.find(n->op, device->type(), dt)(c);
    } catch (const ValueError& e) {
      throw InvalidArgumentError(e.what());
    }
    if (auto it = rng.find(n); it != rng.end() && !c.outputs.empty())
      it->second.offset += static_cast<std::uint64_t>(c.outputs[0].num_elements());
    for (std::size_t i = 0; i < c.outputs.size(); ++i)
      values[{n, static_cast<int>(i)}] = c.outputs[i];
  }
  for (const auto& dev : manager->devices()) dev->compute_stream().synchronize();

  std::vector<Tensor> out;
  for (const auto& f : fetches) {
    Tensor t = values.at({f.node(), f.index()});
    if (!t.initialized() && f.node()->op == "VariableV2")
      throw FailedPreconditionError(
          str_cat("Attempting to use uninitialized value ", f.node()->name));
    // NOTE: a fetched value is a snapshot: copy it when it aliases a variable's buffer, which
    // in-place updates (Apply*) would otherwise change under the caller.
    bool aliases_variable = false;
    for (const auto& [var, value] : variables)
      aliases_variable = aliases_variable || t.shares_buffer_with(value);
    out.push_back(
        t.initialized() && (!t.on_host() || aliases_variable) ? t.to(devices::host_device()) : t);
  }
  return out;
}

Tensor Session::run(const Output& fetch, const FeedDict& feeds) {
  return impl_->execute({fetch}, {}, feeds)[0];
}
std::vector<Tensor> Session::run(const std::vector<Output>& fetches, const FeedDict& feeds) {
  return impl_->execute(fetches, {}, feeds);
}
void Session::run(const Operation& target, const FeedDict& feeds) {
  impl_->execute({}, {target}, feeds);
}
std::vector<Tensor> Session::run(const std::vector<Output>& fetches,
                                 const std::vector<Operation>& targets, const FeedDict& feeds) {
  return impl_->execute(fetches, targets, feeds);
}

}  // namespace scopeflow
