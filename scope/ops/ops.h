// User-facing op builders with TF's names and default op names (API.md): constants,
// placeholders, fills, identity, element-wise math and its operators, random tensors.
// Every builder takes an optional last `name` (empty: the op's default name).
#pragma once

#include <concepts>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "devices/base/errors.h"
#include "devices/tensor.h"
#include "runtime/graph.h"

namespace scopeflow {

namespace detail {
// An integer axis as int64; ValueError for an unsigned value beyond int64 (a wrapped -1).
template <std::integral I>
std::int64_t axis_value(I axis) {
  if (!std::in_range<std::int64_t>(axis))
    throw ValueError(str_cat("axis ", axis, " is out of range"));
  return static_cast<std::int64_t>(axis);
}
}  // namespace detail

// An arithmetic C++ value that builders take as a scalar of a tensor's dtype.
template <class T>
concept Scalar = std::is_arithmetic_v<T>;

// ---------------------------------------------------------------- constants and inputs
Output constant(const Tensor& value, std::string_view name = "");
Output constant(float value, std::string_view name = "");
Output constant(double value, std::string_view name = "");
Output constant(int value, std::string_view name = "");
Output constant(std::int64_t value, std::string_view name = "");
Output constant(bool value, std::string_view name = "");
Output constant(const char* value, std::string_view name = "");
Output constant(const std::vector<float>& values, const Shape& shape, std::string_view name = "");
Output constant(const std::vector<std::int32_t>& values, const Shape& shape,
                std::string_view name = "");
Output constant(const std::vector<std::string>& values, const Shape& shape,
                std::string_view name = "");
// A scalar `value` of `dtype` broadcast to `shape` (TF's constant(value, dtype, shape)).
Output constant(double value, DType dtype, const Shape& shape, std::string_view name = "");

Output placeholder(DType dtype, const Shape& shape = Shape::unknown(), std::string_view name = "");
Output zeros(const Shape& shape, DType dtype = DType::kFloat32, std::string_view name = "");
Output ones(const Shape& shape, DType dtype = DType::kFloat32, std::string_view name = "");
Output fill(const Output& dims, const Output& value, std::string_view name = "");
// tf.shape / tf.size: `input`'s shape (a vector) or element count (a scalar) at run time, as
// int32 (the default) or int64; ops "Shape" and "Size". The static shape of what consumes
// them follows (reshape(x, shape(y)) has y's static shape, as TF's constant_value_as_shape).
Output shape(const Output& input, DType out_type = DType::kInt32, std::string_view name = "");
Output size(const Output& input, DType out_type = DType::kInt32, std::string_view name = "");
// tf.rank: input's number of dimensions, an int32 scalar: a Const "Rank" where the rank is
// known (TF's optimize), else a Rank op.
Output rank(const Output& input, std::string_view name = "");
Output identity(const Output& x, std::string_view name = "");
// tf.transpose(x, perm): output dimension i is x's dimension perm[i] (empty perm: reversed);
// op "Transpose" named "transpose" with its Const "transpose/perm"; gradient the inverse
// permutation's transpose.
Output transpose(const Output& x, const std::vector<std::int64_t>& perm = {},
                 std::string_view name = "");
// tf.transpose with a perm tensor (an int32 / int64 vector computed in the graph, as
// tensordot's): op "Transpose" named "transpose"; gradient dy transposed by
// InvertPermutation(perm).
Output transpose(const Output& x, const Output& perm, std::string_view name = "");
// tf.math.invert_permutation: y[x[i]] = i for an int32 / int64 vector holding each of 0..n-1 once
// (op "InvertPermutation"; InvalidArgumentError at run time otherwise). No gradient.
Output invert_permutation(const Output& x, std::string_view name = "");
// tf.tile: output dimension i is input's times multiples[i] (one non-negative multiple per
// dimension); op "Tile" with its int32 Const "Tile/multiples" (int64 where a value needs it).
// The tensor form takes an int32 / int64 vector computed in the graph. Gradient TF's _TileGrad
// (the tiled copies summed).
Output tile(const Output& input, const std::vector<std::int64_t>& multiples,
            std::string_view name = "");
Output tile(const Output& input, const Output& multiples, std::string_view name = "");
// A tf.range argument: an Output (a Variable converts), or a C++ number, which becomes a Const as
// a Python number does (int32, int64 beyond int32, float32 for a floating value), exactly.
class RangeArg {
 public:
  RangeArg(const Output& t) : tensor_(t) {}  // NOLINT: implicit, as TF takes either
  template <class T>
  requires(std::convertible_to<const T&, Output> && !Scalar<T> && !std::same_as<T, Output>)
      RangeArg(const T& t)
      : tensor_(Output(t)) {}  // NOLINT
  template <Scalar S>
  requires(!std::same_as<S, bool>) RangeArg(S v) : value_(python_number(v)) {}  // NOLINT
  // The tensor, or the number as a Const named `name` in the current scope.
  Output in_scope(const char* name) const;

 private:
  template <Scalar S>
  static Tensor python_number(S v) {
    if constexpr (std::is_floating_point_v<S>)
      return Tensor::from_scalar(static_cast<float>(v));
    else if (std::in_range<std::int32_t>(v))
      return Tensor::from_scalar(static_cast<std::int32_t>(v));
    else if (std::in_range<std::int64_t>(v))
      return Tensor::from_scalar(static_cast<std::int64_t>(v));
    else
      throw ValueError(str_cat("range: ", v, " does not fit int64"));
  }
  std::optional<Output> tensor_;
  Tensor value_;
};
// tf.range: start, start + delta, ... up to (not including) limit; op "Range" named "range".
// C++ numbers become Consts "range/start", "range/limit", "range/delta" as Python's do (int32,
// int64 beyond int32, float32 for a floating value); all are cast to the widest of their
// dtypes (int32 < int64 < float16 < bfloat16 < float32 < float64) as TF does ("range/Cast",
// ...; Range itself takes int32, int64, float32 and float64).
// TF's errors (delta 0, a start past the limit) are ValueErrors when the values are known,
// InvalidArgumentErrors at run time otherwise. No gradient.
Output range(const RangeArg& start, const RangeArg& limit, const RangeArg& delta = 1,
             std::string_view name = "");
Output range(const RangeArg& limit, std::string_view name = "");
// tf.dynamic_stitch: merged[indices[i][j]] = data[i][j] (later inputs win on a repeated
// index); int32 indices, data of one dtype whose shapes start with their indices' shapes; op
// "DynamicStitch". A row no index names is zeros (TF leaves it uninitialized). Gradient: each
// data input gathers the merged gradient at its indices (TF's).
Output dynamic_stitch(const std::vector<Output>& indices, const std::vector<Output>& data,
                      std::string_view name = "");
// tf.zeros_like / tf.ones_like: zeros / ones of x's shape, in x's dtype or `dtype`. As TF builds
// them: zeros_like of a fully defined shape is a Const "zeros_like" (a Fill of
// "zeros_like/shape_as_tensor" from 1000 elements on), else a ZerosLike op "zeros_like" (a Fill
// of x's Shape for another dtype); ones_like is a Fill "ones_like" of x's shape (a Const
// "ones_like/Shape/shape_as_tensor" or a Shape op "ones_like/Shape") and "ones_like/Const".
Output zeros_like(const Output& x, DType dtype = DType::kInvalid, std::string_view name = "");
Output ones_like(const Output& x, DType dtype = DType::kInvalid, std::string_view name = "");
// tf.stop_gradient: x, through which gradients do not flow (op "StopGradient").
Output stop_gradient(const Output& x, std::string_view name = "");
// tf.expand_dims: a dimension of 1 inserted at `axis` (in [-rank-1, rank]); op "ExpandDims"
// with its int32 Const "ExpandDims/dim". tf.squeeze: the size-1 dimensions in `axis` removed
// (all of them when empty; a listed dimension that is not 1 is an error); op "Squeeze".
Output expand_dims(const Output& input, std::int64_t axis, std::string_view name = "");
Output squeeze(const Output& input, const std::vector<std::int64_t>& axis = {},
               std::string_view name = "");
template <std::integral I>
requires(!std::same_as<I, bool>) Output
    squeeze(const Output& input, I axis, std::string_view name = "") {
  return squeeze(input, std::vector<std::int64_t>{detail::axis_value(axis)}, name);
}
// tf.one_hot(indices, depth, on_value=1, off_value=0, axis=-1, dtype=float32): op "OneHot"
// named "one_hot" (its Consts "one_hot/depth", "on_value", "off_value"): a new dimension of
// `depth` at `axis` (-1: last) holding on_value where the index (uint8, int32, int64) equals
// the position, off_value elsewhere (an index outside [0, depth): all off). dtype float32,
// float64, int32 or int64. No gradient (TF's NotDifferentiable).
Output one_hot(const Output& indices, std::int64_t depth, double on_value = 1.0,
               double off_value = 0.0, std::int64_t axis = -1, DType dtype = DType::kFloat32,
               std::string_view name = "");
Operation no_op(std::string_view name = "");
// A NoOp that depends on every op in `ops` (TF's tf.group).
Operation group(const std::vector<Operation>& ops, std::string_view name = "");
Output stack(const std::vector<Output>& values, std::string_view name = "");
// tf.add_n: the element-wise sum of tensors of one dtype and shape (op "AddN").
Output add_n(const std::vector<Output>& inputs, std::string_view name = "");
Output logical_not(const Output& x, std::string_view name = "");
// tf.boolean_mask(x, mask): the entries of x where the bool mask (rank K >= 1, matching x's
// first K dimensions) is true, in row-major order: [count] + x's dimensions after K. Built as
// TF does under the "boolean_mask" name scope (Reshape when K > 1, Where, Squeeze, GatherV2),
// so it has the gather's gradient. A mask longer than x's dimension is an out-of-range error.
Output boolean_mask(const Output& x, const Output& mask, std::string_view name = "");
// tf.where(condition) with one argument: the coordinates (int64 [count, rank]) of the true
// (nonzero) elements in row-major order; op "Where".
Output where(const Output& condition, std::string_view name = "");
// tf.where(condition, x, y) (TF1's Select): x where condition, else y; x and y of one dtype and
// shape, condition bool of their shape or a vector choosing whole rows. Gradients go to x
// where the condition holds and to y elsewhere.
Output where(const Output& condition, const Output& x, const Output& y, std::string_view name = "");

// ---------------------------------------------------------------- math
Output add(const Output& x, const Output& y, std::string_view name = "");
Output subtract(const Output& x, const Output& y, std::string_view name = "");
Output multiply(const Output& x, const Output& y, std::string_view name = "");
Output divide(const Output& x, const Output& y, std::string_view name = "");

Output exp(const Output& x, std::string_view name = "");
// tf.log, tf.sigmoid (tf.nn.sigmoid), tf.tanh (tf.nn.tanh): ops "Log", "Sigmoid", "Tanh"
// (float32), with TF's gradients.
Output log(const Output& x, std::string_view name = "");
Output sigmoid(const Output& x, std::string_view name = "");
Output tanh(const Output& x, std::string_view name = "");
// tf.log1p: log(1 + x), exact for small x; op "Log1p" (float32), gradient dy / (1 + x).
Output log1p(const Output& x, std::string_view name = "");
// tf.abs, tf.sign: ops "Abs", "Sign" (float32); abs's gradient dy * sign(x), sign's zero
// (sign(+-0) and sign(NaN) are 0, as Eigen's).
Output abs(const Output& x, std::string_view name = "");
Output sign(const Output& x, std::string_view name = "");
// tf.square, tf.sqrt, tf.negative (and unary minus, TF's __neg__), tf.floor: ops "Square",
// "Sqrt", "Neg", "Floor" (float32).
Output square(const Output& x, std::string_view name = "");
Output sqrt(const Output& x, std::string_view name = "");
Output negative(const Output& x, std::string_view name = "");
Output floor(const Output& x, std::string_view name = "");
// tf.math.squared_difference: (x - y)^2 with broadcasting (op "SquaredDifference"); tf.rsqrt:
// 1 / sqrt(x) (op "Rsqrt", float32). TF's gradients.
Output squared_difference(const Output& x, const Output& y, std::string_view name = "");
Output rsqrt(const Output& x, std::string_view name = "");
// tf.ceil, tf.cos, tf.sin (float32; ops "Ceil" without a gradient, "Cos", "Sin" with TF's).
Output ceil(const Output& x, std::string_view name = "");
Output cos(const Output& x, std::string_view name = "");
Output sin(const Output& x, std::string_view name = "");
inline Output operator-(const Output& x) { return negative(x); }

// ---------------------------------------------------------------- casts and comparisons
// TF's tf.cast: a Cast op named "Cast" (SrcT, DstT, Truncate=false), or `x` itself when it
// already has `dtype` (the name scope is still entered, as TF does). Semantics:
// kernels/cast/cast.h.
Output cast(const Output& x, DType dtype, std::string_view name = "");
// Element-wise comparisons with broadcasting, giving bool. Both inputs must have one dtype
// (ValueError otherwise, TF's "Input 'y' of 'Equal' Op has type ..." message).
Output equal(const Output& x, const Output& y, std::string_view name = "");
Output not_equal(const Output& x, const Output& y, std::string_view name = "");
Output less(const Output& x, const Output& y, std::string_view name = "");
Output greater(const Output& x, const Output& y, std::string_view name = "");
Output less_equal(const Output& x, const Output& y, std::string_view name = "");
Output greater_equal(const Output& x, const Output& y, std::string_view name = "");
// tf.maximum / tf.minimum: element-wise with broadcasting; NaN wins, a tie (+0 vs -0) gives x
// (TF 2's element-wise path; its vectorized float path may give y there); gradients as TF's
// (_MaximumGrad: dy to x where x >= y, else to y).
// TF's tf.pow: x^y element-wise with broadcasting (float32/64, float16, bfloat16, int32/64;
// a negative integer exponent is an InvalidArgumentError when the op runs), TF's gradient.
Output pow(const Output& x, const Output& y, std::string_view name = "");
Output pow(const Output& x, double y, std::string_view name = "");
Output pow(double x, const Output& y, std::string_view name = "");
Output maximum(const Output& x, const Output& y, std::string_view name = "");
// tf.math.floormod (op "FloorMod"; `x % y` names it "mod") and tf.math.floordiv (op "FloorDiv"
// named "floordiv"), with broadcasting: Python's % and // (the remainder takes y's sign; the
// quotient rounds down). An integer zero divisor is an InvalidArgumentError when the op runs.
// floormod's gradient is TF's (dy, -dy * floordiv(x, y)); floordiv has none.
Output floormod(const Output& x, const Output& y, std::string_view name = "");
Output floordiv(const Output& x, const Output& y, std::string_view name = "");
Output minimum(const Output& x, const Output& y, std::string_view name = "");
// TF's tf.argmax: the index of the largest value along `axis` (negative counts from the end),
// int64 by default; ties give the first index and NaN is skipped (kernels/argmax/argmax.h).
// Ops "ArgMax/dimension" (an int32 Const) and "ArgMax".
Output argmax(const Output& input, std::int64_t axis, DType output_type = DType::kInt64,
              std::string_view name = "");

// `a + b` etc. between Outputs (Variables convert), or an Output and a scalar; the scalar
// takes the other operand's dtype. Op names: add, sub, mul, truediv (as TF's operators).

Output binary_operator(const char* op_type, const char* name, const Output& x, const Output& y);
Output binary_operator(const char* op_type, const char* name, double x, const Output& y);
Output binary_operator(const char* op_type, const char* name, const Output& x, double y);

inline Output operator+(const Output& a, const Output& b) {
  return binary_operator("AddV2", "add", a, b);
}
inline Output operator-(const Output& a, const Output& b) {
  return binary_operator("Sub", "sub", a, b);
}
inline Output operator*(const Output& a, const Output& b) {
  return binary_operator("Mul", "mul", a, b);
}
inline Output operator/(const Output& a, const Output& b) {
  return binary_operator("RealDiv", "truediv", a, b);
}
template <Scalar S>
Output operator+(S a, const Output& b) {
  return binary_operator("AddV2", "add", static_cast<double>(a), b);
}
template <Scalar S>
Output operator-(S a, const Output& b) {
  return binary_operator("Sub", "sub", static_cast<double>(a), b);
}
template <Scalar S>
Output operator*(S a, const Output& b) {
  return binary_operator("Mul", "mul", static_cast<double>(a), b);
}
template <Scalar S>
Output operator/(S a, const Output& b) {
  return binary_operator("RealDiv", "truediv", static_cast<double>(a), b);
}
template <Scalar S>
Output operator+(const Output& a, S b) {
  return binary_operator("AddV2", "add", a, static_cast<double>(b));
}
template <Scalar S>
Output operator-(const Output& a, S b) {
  return binary_operator("Sub", "sub", a, static_cast<double>(b));
}
template <Scalar S>
Output operator*(const Output& a, S b) {
  return binary_operator("Mul", "mul", a, static_cast<double>(b));
}
template <Scalar S>
Output operator/(const Output& a, S b) {
  return binary_operator("RealDiv", "truediv", a, static_cast<double>(b));
}
inline Output operator%(const Output& a, const Output& b) {
  return binary_operator("FloorMod", "mod", a, b);
}
template <Scalar S>
Output operator%(const Output& a, S b) {
  return binary_operator("FloorMod", "mod", a, static_cast<double>(b));
}
template <Scalar S>
Output operator%(S a, const Output& b) {
  return binary_operator("FloorMod", "mod", static_cast<double>(a), b);
}

// ---------------------------------------------------------------- random tensors
// TF's random_uniform / random_normal / truncated_normal: the raw op (RandomUniform, ...)
// under a "random_uniform" name scope, scaled and shifted by Mul/Add ops. `seed` follows
// TF's rules with the graph seed (sf::set_random_seed).
Output random_uniform(const Shape& shape, double minval = 0.0, double maxval = 1.0,
                      DType dtype = DType::kFloat32, std::optional<std::int64_t> seed = {},
                      std::string_view name = "");
Output random_normal(const Shape& shape, double mean = 0.0, double stddev = 1.0,
                     DType dtype = DType::kFloat32, std::optional<std::int64_t> seed = {},
                     std::string_view name = "");
Output truncated_normal(const Shape& shape, double mean = 0.0, double stddev = 1.0,
                        DType dtype = DType::kFloat32, std::optional<std::int64_t> seed = {},
                        std::string_view name = "");
// The same with the shape as a tensor (int32/int64 vector, e.g. sf::shape(x)), known at run
// time.
Output random_uniform(const Output& shape, double minval = 0.0, double maxval = 1.0,
                      DType dtype = DType::kFloat32, std::optional<std::int64_t> seed = {},
                      std::string_view name = "");
Output random_normal(const Output& shape, double mean = 0.0, double stddev = 1.0,
                     DType dtype = DType::kFloat32, std::optional<std::int64_t> seed = {},
                     std::string_view name = "");
Output truncated_normal(const Output& shape, double mean = 0.0, double stddev = 1.0,
                        DType dtype = DType::kFloat32, std::optional<std::int64_t> seed = {},
                        std::string_view name = "");
// The graph-level seed (TF's tf.set_random_seed) of the default graph.
void set_random_seed(std::optional<std::int64_t> seed);

// ---------------------------------------------------------------- internal helpers
// Enters name_scope(name or default_name) on the default graph for the call of `build`;
// returns what build returns. `build` receives the scope string ("add/").
namespace detail {
// A scalar tensor of `dtype` holding `value` (ValueError if it does not fit the dtype).
Tensor scalar_tensor(double value, DType dtype);
}  // namespace detail

}  // namespace scopeflow
