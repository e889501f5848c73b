// NcclAllReduce (TF's raw op, tf.contrib.nccl / nccl_ops.py): attrs reduction (sum, prod, min,
// max), num_devices, shared_name, T. Every node of one shared_name is one participant; the
// executor runs a group as one collective step (runtime/session/collective.cc). Kernels:
// kernels/collective/.
#include "devices/base/errors.h"
#include "kernels/collective/collective.h"
#include "runtime/gradients.h"
#include "runtime/op_registry.h"

namespace scopeflow {
namespace {

void all_reduce_shape(ShapeContext& c) {
  const std::string& reduction = c.attr().get_or<std::string>("reduction", "");
  if (reduction != "sum" && reduction != "prod" && reduction != "min" && reduction != "max")
    throw ValueError(str_cat(c.node_name, ": NcclAllReduce reduction must be sum, prod, min or max",
                             ", got '", reduction, "'"));
  const std::int64_t k = c.attr().get_or<std::int64_t>("num_devices", 0);
  if (k < 1)
    throw ValueError(str_cat(c.node_name, ": NcclAllReduce num_devices must be >= 1, got ", k));
  if (c.attr().get_or<std::string>("shared_name", "").empty())
    throw ValueError(str_cat(c.node_name, ": NcclAllReduce needs a shared_name"));
  const DType t = c.input_dtypes[0];
  if (!kernels::all_reduce_supports(t))
    throw ValueError(str_cat(c.node_name, ": NcclAllReduce does not support ", dtype_name(t),
                             " (float32, float64, float16, bfloat16, int32, int64)"));
  if (c.attr().has("T") && c.attr().get<DType>("T") != t)
    throw ValueError(str_cat(c.node_name, ": NcclAllReduce attr T is ",
                             dtype_name(c.attr().get<DType>("T")), " but the input is ",
                             dtype_name(t)));
  c.set_output(t, c.input_shapes[0]);
}

}  // namespace

void register_collective_ops(OpRegistry& r) {
  // Stateful as in TF: a collective among devices, which constant folding leaves alone (its
  // kernel, run alone at plan build, would also fail without the other participants).
  r.add({.name = "NcclAllReduce",
         .min_inputs = 1,
         .max_inputs = 1,
         .stateful = true,
         .shape = all_reduce_shape});
  // TF's _all_sum_grad: the gradient of an all-sum is an all-sum of the gradients, among the same
  // devices, under shared_name + "_grad"; the other reductions have none.
  r.set_grad("NcclAllReduce", [](Graph& g, const Operation& o, const std::vector<Output>& dy) {
    const std::string& reduction = o.attrs().get<std::string>("reduction");
    if (reduction != "sum")
      throw ValueError(str_cat("No gradient defined for NcclAllReduce except for reduction=\"sum\"",
                               " (node ", o.name(), " has reduction=\"", reduction, "\")"));
    AttrMap a;
    a.set("reduction", std::string("sum"));
    a.set("num_devices", o.attrs().get<std::int64_t>("num_devices"));
    a.set("shared_name", o.attrs().get<std::string>("shared_name") + "_grad");
    a.set("T", dy[0].dtype());
    // NOTE: colocated with the forward node (TF: `with ops.device(op.device)`), so the gradient
    // group spans the same devices whatever the caller's device scope.
    g.colocation_stack().push_back(o.name());
    try {
      Output out = grad_util::op(g, "NcclAllReduce", {dy[0]}, std::move(a), "NcclAllReduce");
      g.colocation_stack().pop_back();
      return std::vector<Output>{out};
    } catch (...) {
      g.colocation_stack().pop_back();
      throw;
    }
  });
}

}  // namespace scopeflow
