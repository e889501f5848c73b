// TF1's graph control flow: tf.cond built from Switch and Merge ops in CondContexts, as
// control_flow_ops.cond (TF 1.x, control flow v1) builds it, and the pieces it is made of.
//
//   Output y = sf::cond(is_training, [&] { return batch_mean; },
//                       [&] { return moving_mean.value(); });
//
// Only the branch the predicate picks runs: ops of the other branch receive dead tensors and
// are skipped by the session, assignments in it included. Gradients flow through the taken
// branch (TF's cond_grad Switches and Merges; the other branch's inputs get zeros).
#pragma once

#include <concepts>
#include <functional>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/graph.h"

namespace scopeflow {

// What a branch of sf::cond returns: a tensor, or an op to run (TF then returns the branch's
// pivot through with_dependencies: a bool tensor).
struct CondValue {
  CondValue(Output t) : tensor(std::move(t)) {}  // NOLINT(google-explicit-constructor)
  CondValue(Operation o) : op(std::move(o)) {}   // NOLINT(google-explicit-constructor)
  // Anything that converts to a tensor (a Variable: its value, as TF's convert_to_tensor).
  template <class T>
  requires(std::convertible_to<const T&, Output> && !std::same_as<T, Output>)
      CondValue(const T& t)  // NOLINT(google-explicit-constructor)
      : tensor(t) {}
  Output tensor;
  Operation op;
};

// tf.cond(pred, true_fn, false_fn, name): pred a bool scalar; each function builds its branch
// and returns what the cond returns when it is taken (one value, or a list of the same length
// and dtypes for both). Ops are named under the "cond" name scope: "cond/Switch" (pred with
// itself), "cond/switch_t", "cond/switch_f", "cond/pred_id", the branches' ops (an input from
// outside comes through "<op>/Switch"), "cond/Merge" per result. Errors as TF's: TypeError for
// a non-bool pred, ValueError for a pred that is not a scalar, for branches that return
// nothing, different numbers of results or different dtypes.
Output cond(const Output& pred, const std::function<CondValue()>& true_fn,
            const std::function<CondValue()>& false_fn, std::string_view name = "");
// The list form (TF's strict=True: a one-element list stays a list).
std::vector<Output> cond(const Output& pred, const std::function<std::vector<Output>()>& true_fn,
                         const std::function<std::vector<Output>()>& false_fn,
                         std::string_view name = "");
std::vector<Output> cond(const Output& pred, const std::function<std::vector<CondValue>()>& true_fn,
                         const std::function<std::vector<CondValue>()>& false_fn,
                         std::string_view name = "");

// tf.case(pred_fn_pairs, default, exclusive=False, name): the result of the first pair whose
// predicate holds, else default's; built as TF1 builds it, conds nested under the name scope
// "case" (case/cond, case/cond/cond, ...), so only the chosen function's ops run. TypeError for
// a predicate that is not bool. NOTE: a default is required and exclusive=True is not offered
// (both need TF's Assert op, which ScopeFlow does not have): ValueError.
using CaseFn = std::function<CondValue()>;
Output case_(const std::vector<std::pair<Output, CaseFn>>& pred_fn_pairs, const CaseFn& default_fn,
             std::string_view name = "");

// control_flow_ops.switch(data, pred): (output_false, output_true), op "Switch" ("RefSwitch"
// for a variable), named "Switch" by default.
std::pair<Output, Output> switch_(const Output& data, const Output& pred,
                                  std::string_view name = "");
// control_flow_ops.merge(inputs): (output, value_index), op "Merge" ("RefMerge" when every
// input is a variable reference): the first input that is not dead, and its index.
std::pair<Output, Output> merge(const std::vector<Output>& inputs, std::string_view name = "");
// control_flow_ops.with_dependencies: `output` (through an Identity colocated with it, named
// "control_dependency" by default) after `dependencies` have run. NOTE: an Identity for a
// variable reference too (TF: RefIdentity).
Output with_dependencies(const std::vector<Operation>& dependencies, const Output& output,
                         std::string_view name = "");

}  // namespace scopeflow
