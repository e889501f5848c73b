// tf.cond and its pieces (control flow v1). See control_flow.h.
#include "scope/ops/control_flow.h"

#include "devices/base/errors.h"
#include "scope/ops/ops.h"
#include "scope/scopes.h"

namespace scopeflow {
namespace {

// The branch `ctx` entered while it lives (CondContext.Enter / Exit).
class EnterContext {
 public:
  EnterContext(Graph g, CondContext* ctx) : g_(std::move(g)), saved_(g_.control_flow_context()) {
    g_.set_control_flow_context(ctx);
  }
  ~EnterContext() { g_.set_control_flow_context(saved_); }
  EnterContext(const EnterContext&) = delete;
  EnterContext& operator=(const EnterContext&) = delete;

 private:
  Graph g_;
  CondContext* saved_;
};

// CondContext.BuildCondBranch: the branch's results as tensors of the branch.
std::vector<Output> build_branch(Graph& g, CondContext* ctx,
                                 const std::function<std::vector<CondValue>()>& fn) {
  const EnterContext enter(g, ctx);
  std::vector<CondValue> results = fn();
  std::vector<Output> out;
  for (const auto& r : results) {
    if (r.op.valid()) {
      out.push_back(with_dependencies({r.op}, ctx->pivot));
    } else {
      if (!r.tensor.valid()) throw ValueError("cond: a branch returned an empty Output");
      if (!(r.tensor.graph() == g))
        throw ValueError(str_cat("cond: the branch returned ", r.tensor.name(),
                                 ", which is not from the cond's graph"));
      out.push_back(g.cond_branch_result(ctx, r.tensor));
    }
  }
  // ExitResult: the results are values of the enclosing branch too.
  if (ctx->outer != nullptr)
    for (const auto& t : out) ctx->outer->values.insert(t.name());
  return out;
}

std::vector<Output> cond_impl(const Output& pred,
                              const std::function<std::vector<CondValue>()>& true_fn,
                              const std::function<std::vector<CondValue>()>& false_fn,
                              std::string_view name, bool single) {
  if (!pred.valid()) throw ValueError("cond: pred is an empty Output");
  if (!true_fn) throw TypeError("'true_fn' must be callable.");
  if (!false_fn) throw TypeError("'false_fn' must be callable.");
  Graph g = pred.graph();
  const GraphGuard as_default = g.as_default();
  const name_scope scope(name, "cond");
  auto [p_2, p_1] = switch_(pred, pred);
  const Output pivot_1 = identity(p_1, "switch_t");
  const Output pivot_2 = identity(p_2, "switch_f");
  const Output pred_id = identity(pred, "pred_id");
  for (const Output& t : {p_1, pivot_1, pivot_2, pred_id}) g.prevent_fetching(t.op());

  CondContext* context_t = g.new_cond_context(pred_id, pivot_1, 1);
  const std::vector<Output> res_t = build_branch(g, context_t, true_fn);
  CondContext* context_f = g.new_cond_context(pred_id, pivot_2, 0);
  const std::vector<Output> res_f = build_branch(g, context_f, false_fn);

  if (res_t.size() != res_f.size())
    throw ValueError(str_cat(
        "Incompatible return values of 'true_fn' and 'false_fn': The two structures don't have "
        "the same number of elements. First structure: ",
        res_t.size(), " elements, second structure: ", res_f.size(), " elements."));
  if (res_t.empty()) throw ValueError("'true_fn' and 'false_fn' must return at least one result.");
  if (single && res_t.size() != 1)
    throw ValueError("cond: a branch function of the single-value form returned a list");
  for (std::size_t i = 0; i < res_t.size(); ++i)
    if (res_t[i].dtype() != res_f[i].dtype())
      throw ValueError(
          str_cat("Outputs of 'true_fn' and 'false_fn' must have the same type(s). "
                  "Received ",
                  dtype_name(res_t[i].dtype()), " from 'true_fn' and ",
                  dtype_name(res_f[i].dtype()), " from 'false_fn'."));
  std::vector<Output> merges;
  for (std::size_t i = 0; i < res_t.size(); ++i)
    merges.push_back(merge({res_f[i], res_t[i]}).first);
  // Only top-level conds go into the collection (TF's GraphKeys.COND_CONTEXT).
  if (context_t->outer == nullptr) {
    g.add_to_collection("cond_context", context_t);
    g.add_to_collection("cond_context", context_f);
  }
  return merges;
}

}  // namespace

Output case_(const std::vector<std::pair<Output, CaseFn>>& pred_fn_pairs, const CaseFn& default_fn,
             std::string_view name) {
  if (pred_fn_pairs.empty()) throw ValueError("case: pred_fn_pairs is empty");
  for (const auto& [pred, fn] : pred_fn_pairs) {
    if (!pred.valid()) throw ValueError("case: a predicate is an empty Output");
    if (pred.dtype() != DType::kBool)
      throw TypeError(str_cat("pred must be Tensor of type bool: ", pred.name()));
    if (!fn) throw TypeError(str_cat("fn for pred ", pred.name(), " must be callable."));
  }
  if (!default_fn)
    throw ValueError(
        "case: a default function is required (without one TF builds tf.Assert checks, an op "
        "ScopeFlow does not have)");
  const GraphGuard as_default = pred_fn_pairs.front().first.graph().as_default();
  const name_scope scope(name, "case");
  // TF's _case_helper: fn = default; for each pair from the last: fn = cond(pred, action, fn).
  std::function<CondValue(std::size_t)> from = [&](std::size_t i) -> CondValue {
    if (i == pred_fn_pairs.size()) return default_fn();
    return cond(pred_fn_pairs[i].first, pred_fn_pairs[i].second, [&] { return from(i + 1); });
  };
  return from(0).tensor;
}

std::pair<Output, Output> switch_(const Output& data, const Output& pred, std::string_view name) {
  if (!data.valid() || !pred.valid()) throw ValueError("switch: an input is an empty Output");
  const name_scope scope(name, "Switch");
  AttrMap attrs;
  attrs.set("T", data.dtype());
  Operation op = get_default_graph().create_op(is_ref_output(data.node()) ? "RefSwitch" : "Switch",
                                               {data, pred}, std::move(attrs), scope.name());
  return {op.output(0), op.output(1)};
}

std::pair<Output, Output> merge(const std::vector<Output>& inputs, std::string_view name) {
  if (inputs.empty()) throw ValueError("merge: needs at least one input");
  const name_scope scope(name, "Merge");
  const bool refs = std::all_of(inputs.begin(), inputs.end(),
                                [](const Output& t) { return is_ref_output(t.node()); });
  AttrMap attrs;
  attrs.set("N", static_cast<std::int64_t>(inputs.size()));
  Operation op = get_default_graph().create_op(refs ? "RefMerge" : "Merge", inputs,
                                               std::move(attrs), scope.name());
  return {op.output(0), op.output(1)};
}

Output with_dependencies(const std::vector<Operation>& dependencies, const Output& output,
                         std::string_view name) {
  if (!output.valid()) throw ValueError("with_dependencies: the output is an empty Output");
  const name_scope scope(name, "control_dependency");
  const colocate_with with_output(output.op().name());
  const control_dependencies deps(dependencies);
  return get_default_graph().create_op("Identity", {output}, {}, scope.name()).output(0);
}

Output cond(const Output& pred, const std::function<CondValue()>& true_fn,
            const std::function<CondValue()>& false_fn, std::string_view name) {
  if (!true_fn) throw TypeError("'true_fn' must be callable.");
  if (!false_fn) throw TypeError("'false_fn' must be callable.");
  return cond_impl(
             pred, [&] { return std::vector<CondValue>{true_fn()}; },
             [&] { return std::vector<CondValue>{false_fn()}; }, name, true)
      .front();
}

std::vector<Output> cond(const Output& pred, const std::function<std::vector<Output>()>& true_fn,
                         const std::function<std::vector<Output>()>& false_fn,
                         std::string_view name) {
  if (!true_fn) throw TypeError("'true_fn' must be callable.");
  if (!false_fn) throw TypeError("'false_fn' must be callable.");
  auto wrap = [](const std::function<std::vector<Output>()>& fn) {
    return [&fn] {
      const std::vector<Output> r = fn();
      return std::vector<CondValue>(r.begin(), r.end());
    };
  };
  return cond_impl(pred, wrap(true_fn), wrap(false_fn), name, false);
}

std::vector<Output> cond(const Output& pred, const std::function<std::vector<CondValue>()>& true_fn,
                         const std::function<std::vector<CondValue>()>& false_fn,
                         std::string_view name) {
  return cond_impl(pred, true_fn, false_fn, name, false);
}

}  // namespace scopeflow
