// Definitions of the CNN op set (TF names and shape functions): Relu, BiasAdd, Conv2D and its
// gradients, pooling (and MaxPoolGradGrad, for second-order gradients), MatMul, reductions,
// Reshape, SparseSoftmaxCrossEntropyWithLogits. Kernels: kernels/<family>/. Gradients:
// gradient_ops.cc; Softmax's and LogSoftmax's are here.
#include <cmath>
#include <functional>

#include "devices/base/errors.h"
#include "kernels/conv2d/conv2d.h"
#include "kernels/reduce/reduce.h"
#include "runtime/gradients.h"
#include "runtime/op_registry.h"

namespace scopeflow {
namespace {

using Grads = std::vector<Output>;

// Runs `f`, turning kernel-side InvalidArgumentErrors into graph-construction ValueErrors.
template <class F>
void as_value_error(F f) {
  try {
    f();
  } catch (const InvalidArgumentError& e) {
    throw ValueError(e.what());
  }
}

std::vector<std::int64_t> const_ints(const ShapeContext& c, int i) {
  const Tensor* t = c.input_values[static_cast<std::size_t>(i)];
  std::vector<std::int64_t> v;
  if (t == nullptr) return v;
  if (t->dtype() == DType::kInt32)
    for (auto x : t->to_vector<std::int32_t>()) v.push_back(x);
  else if (t->dtype() == DType::kInt64)
    v = t->to_vector<std::int64_t>();
  else
    throw ValueError(
        str_cat(c.node_name, ": expected an int32/int64 input, got ", dtype_name(t->dtype())));
  return v;
}

// The 4-D shape a sizes input (Conv2DBackpropInput's input_sizes, ...) holds: a Const's
// values, a Shape op's input's static shape, else four unknown dimensions.
Shape sizes_shape(const ShapeContext& c, int i) {
  auto dims = const_ints(c, i);
  if (!dims.empty()) return Shape(dims);
  const Shape& v = c.input_value_shapes[static_cast<std::size_t>(i)];
  return v.has_rank() ? v : Shape{-1, -1, -1, -1};
}

void require_float(const ShapeContext& c, int i) {
  if (c.input_dtypes[static_cast<std::size_t>(i)] != DType::kFloat32)
    throw ValueError(str_cat(c.node_name, ": input ", i, " must be float32, got ",
                             dtype_name(c.input_dtypes[static_cast<std::size_t>(i)])));
}

// Output spatial size of one window dimension, -1 when the input size is unknown.
std::int64_t window_out(const ShapeContext& c, std::int64_t in, std::int64_t k, std::int64_t s,
                        std::int64_t d, const std::string& padding) {
  if (in < 0 || k < 0) return -1;
  std::int64_t out = -1;
  as_value_error([&] { out = kernels::window_dim(in, k, s, d, padding, c.node_name).out; });
  return out;
}

std::vector<std::int64_t> attr4(const ShapeContext& c, const char* name) {
  auto v = c.attr().get_or<std::vector<std::int64_t>>(name, {1, 1, 1, 1});
  if (v.size() != 4 || v[0] != 1 || v[3] != 1)
    throw ValueError(
        str_cat(c.node_name, ": ", name,
                " must have 4 elements with 1 in the batch and depth positions (NHWC), got ",
                v.size(), " elements"));
  return v;
}

void conv2d_shape(ShapeContext& c) {
  require_float(c, 0);
  require_float(c, 1);  // the filter (a float64 one failed only at run time, naming no op)
  const Shape& in = c.input_shapes[0];
  const Shape& f = c.input_shapes[1];
  if (in.has_rank() && in.rank() != 4)
    throw ValueError(str_cat(c.node_name, ": input must be 4-D NHWC, got ", in.to_string()));
  if (f.has_rank() && f.rank() != 4)
    throw ValueError(str_cat(c.node_name, ": filter must be 4-D HWIO, got ", f.to_string()));
  const auto s = attr4(c, "strides");
  const auto d = attr4(c, "dilations");
  const std::string padding = c.attr().get<std::string>("padding");
  if (!in.has_rank() || !f.has_rank()) {
    c.set_output(DType::kFloat32, Shape{-1, -1, -1, -1});
    return;
  }
  if (in.dims()[3] >= 0 && f.dims()[2] >= 0 && in.dims()[3] != f.dims()[2])
    throw ValueError(str_cat(c.node_name, ": input depth ", in.dims()[3],
                             " does not match filter in_channels ", f.dims()[2]));
  c.set_output(DType::kFloat32,
               Shape{in.dims()[0], window_out(c, in.dims()[1], f.dims()[0], s[1], d[1], padding),
                     window_out(c, in.dims()[2], f.dims()[1], s[2], d[2], padding), f.dims()[3]});
}

void pool_shape(ShapeContext& c) {
  require_float(c, 0);
  const Shape& in = c.input_shapes[0];
  if (in.has_rank() && in.rank() != 4)
    throw ValueError(str_cat(c.node_name, ": input must be 4-D NHWC, got ", in.to_string()));
  const auto k = attr4(c, "ksize");
  const auto s = attr4(c, "strides");
  const std::string padding = c.attr().get<std::string>("padding");
  if (!in.has_rank()) {
    c.set_output(DType::kFloat32, Shape{-1, -1, -1, -1});
    return;
  }
  c.set_output(DType::kFloat32,
               Shape{in.dims()[0], window_out(c, in.dims()[1], k[1], s[1], 1, padding),
                     window_out(c, in.dims()[2], k[2], s[2], 1, padding), in.dims()[3]});
}

// A reduction's output shape: unknown unless x's rank and the axes (a Const) are known.
Shape reduction_output_shape(const ShapeContext& c) {
  const Shape& in = c.input_shapes[0];
  const bool keep = c.attr().get_or<bool>("keep_dims", false);
  if (!in.has_rank() || c.input_values[1] == nullptr) return Shape::unknown();
  const auto axes = const_ints(c, 1);
  std::vector<bool> mask;
  as_value_error([&] { mask = kernels::reduction_mask(in, axes, c.node_name); });
  if (axes.empty()) std::fill(mask.begin(), mask.end(), false);
  return kernels::reduced_shape(in, mask, keep);
}

void reduce_shape(ShapeContext& c) {
  require_float(c, 0);
  c.set_output(DType::kFloat32, reduction_output_shape(c));
}

void softmax_shape(ShapeContext& c) {
  require_float(c, 0);
  const Shape& in = c.input_shapes[0];
  if (in.has_rank() && in.rank() < 1)
    throw ValueError(str_cat(c.node_name, ": Shape must be at least rank 1 but is rank 0"));
  c.set_output(DType::kFloat32, in);
}

// The reduction axes of a softmax gradient: [-1].
Output last_axis(Graph& g) { return grad_util::const_ints(g, {-1}, "Const"); }

}  // namespace

void register_nn_ops(OpRegistry& r) {
  r.add({.name = "Relu", .min_inputs = 1, .max_inputs = 1, .shape = [](ShapeContext& c) {
           require_float(c, 0);
           c.set_output(DType::kFloat32, c.input_shapes[0]);
         }});
  r.add({.name = "ReluGrad", .min_inputs = 2, .max_inputs = 2, .shape = [](ShapeContext& c) {
           c.set_output(DType::kFloat32, c.input_shapes[1]);
         }});
  r.add({.name = "BiasAdd", .min_inputs = 2, .max_inputs = 2, .shape = [](ShapeContext& c) {
           require_float(c, 0);
           require_float(c, 1);
           const Shape& v = c.input_shapes[0];
           const Shape& b = c.input_shapes[1];
           if (b.has_rank() && b.rank() != 1)
             throw ValueError(str_cat(c.node_name, ": bias must be 1-D, got ", b.to_string()));
           if (v.has_rank() && v.rank() < 1)
             throw ValueError(str_cat(c.node_name, ": value must be at least 1-D"));
           if (v.has_rank() && b.has_rank() && v.dims().back() >= 0 && b.dims()[0] >= 0 &&
               v.dims().back() != b.dims()[0])
             throw ValueError(str_cat(
                 c.node_name, ": Dimensions must be equal, but are ", v.dims().back(), " and ",
                 b.dims()[0], " for bias_add with shapes ", v.to_string(), ", ", b.to_string()));
           c.set_output(DType::kFloat32, v);
         }});
  {
    // Relu(BiasAdd(x, b)) in one pass over memory (a fused kernel; gradient as the pair's).
    OpDef fused = *r.find("BiasAdd");
    fused.name = "_FusedBiasAddRelu";
    r.add(std::move(fused));
  }
  r.add({.name = "BiasAddGrad", .min_inputs = 1, .max_inputs = 1, .shape = [](ShapeContext& c) {
           const Shape& g = c.input_shapes[0];
           c.set_output(DType::kFloat32, g.has_rank() ? Shape{g.dims().back()} : Shape{-1});
         }});
  r.add({.name = "Conv2D", .min_inputs = 2, .max_inputs = 2, .shape = conv2d_shape});
  r.add({.name = "Conv2DBackpropInput",
         .min_inputs = 3,
         .max_inputs = 3,
         .shape = [](ShapeContext& c) { c.set_output(DType::kFloat32, sizes_shape(c, 0)); }});
  r.add({.name = "Conv2DBackpropFilter",
         .min_inputs = 3,
         .max_inputs = 3,
         .shape = [](ShapeContext& c) { c.set_output(DType::kFloat32, sizes_shape(c, 1)); }});
  // TF's LRN (NHWC, across depth) and LRNGrad(input_grads, input_image, output_image), attrs
  // depth_radius, bias, alpha, beta. _LRNGrad: LRNGrad with the forward op's attrs; LRNGrad
  // itself has no gradient in TF (a second derivative is refused, naming it).
  auto lrn_shape = [](ShapeContext& c, int input) {
    for (int i = 0; i < static_cast<int>(c.input_shapes.size()); ++i) require_float(c, i);
    const Shape& s = c.input_shapes[static_cast<std::size_t>(input)];
    if (s.has_rank() && s.rank() != 4)
      throw ValueError(
          str_cat(c.node_name, ": input must be 4-dimensional, got shape ", s.to_string()));
    const std::int64_t r = c.attr().get_or<std::int64_t>("depth_radius", 5);
    if (r < 0 || r >= 2147483647)  // TF: "larger than int max"
      throw ValueError(str_cat(c.node_name, ": depth_radius must be in [0, 2^31 - 1), got ", r));
    for (const char* a : {"bias", "alpha", "beta"})
      if (!std::isfinite(c.attr().get_or<float>(a, 1.0f)))
        throw ValueError(str_cat(c.node_name, ": ", a, " must be finite"));
    Shape out = s;
    for (std::size_t i = 0; i < c.input_shapes.size(); ++i)
      if (!c.input_shapes[i].is_compatible_with(s))
        throw ValueError(str_cat(c.node_name, ": inputs must have one shape, got ",
                                 c.input_shapes[i].to_string(), " and ", s.to_string()));
    c.set_output(DType::kFloat32, out);
  };
  r.add({.name = "LRN",
         .min_inputs = 1,
         .max_inputs = 1,
         .shape = [lrn_shape](ShapeContext& c) { lrn_shape(c, 0); },
         .grad =
             [](Graph& g, const Operation& o, const Grads& dy) {
               return Grads{grad_util::op(g, "LRNGrad", {dy[0], o.inputs()[0], o.output(0)},
                                          o.attrs(), "LRNGrad")};
             }});
  r.add({.name = "LRNGrad",
         .min_inputs = 3,
         .max_inputs = 3,
         .shape = [lrn_shape](ShapeContext& c) { lrn_shape(c, 1); },
         .grad = [](Graph&, const Operation& o, const Grads&) -> Grads {
           throw ValueError(
               str_cat("No gradient defined for operation '", o.name(), "' (op type: LRNGrad)"));
         }});
  // TF's FusedBatchNormV3(x, scale, offset, mean, variance) -> (y, batch_mean, batch_variance,
  // reserve_space_1, reserve_space_2, reserve_space_3) and its gradient FusedBatchNormGradV3(
  // y_backprop, x, scale, reserve_space_1, reserve_space_2, reserve_space_3) -> (x_backprop,
  // scale_backprop, offset_backprop, reserve_space_4, reserve_space_5); attrs epsilon,
  // exponential_avg_factor (forward), data_format, is_training (kernels/batch_norm/).
  auto batch_norm_shape = [](ShapeContext& c, bool grad) {
    for (int i = 0; i < 5; ++i) require_float(c, i);
    const std::string f = c.attr().get_or<std::string>("data_format", "NHWC");
    if (f != "NHWC" && f != "NCHW" && f != "NDHWC" && f != "NCDHW")
      throw ValueError(
          str_cat(c.node_name, ": Invalid data format \"", f, "\" (NHWC, NCHW, NDHWC or NCDHW)"));
    const float eps = c.attr().get_or<float>("epsilon", 1e-4f);
    if (!std::isfinite(eps) || eps < 0.0f)
      throw ValueError(
          str_cat(c.node_name, ": epsilon must be finite and non-negative, got ", eps));
    const int x_input = grad ? 1 : 0;
    const Shape& x = c.input_shapes[static_cast<std::size_t>(x_input)];
    const int rank = f.size() == 5 ? 5 : 4;
    if (x.has_rank() && x.rank() != rank)
      throw ValueError(str_cat(c.node_name, ": input must be ", rank,
                               "-dimensional for data_format ", f, ", got shape ", x.to_string()));
    std::int64_t channels = -1;
    if (x.has_rank()) channels = x.dims()[f == "NCHW" || f == "NCDHW" ? 1 : x.dims().size() - 1];
    const bool reads = grad || !c.attr().get_or<bool>("is_training", true) ||
                       c.attr().get_or<float>("exponential_avg_factor", 1.0f) != 1.0f;
    static const char* const kNames[2][5] = {
        {"x", "scale", "offset", "mean", "variance"},
        {"y_backprop", "x", "scale", "reserve_space_1", "reserve_space_2"}};
    for (int i = grad ? 2 : 1; i < 5; ++i) {
      const Shape& v = c.input_shapes[static_cast<std::size_t>(i)];
      const char* what = kNames[grad][i];
      if (v.has_rank() && v.rank() != 1)
        throw ValueError(
            str_cat(c.node_name, ": ", what, " must be 1-dimensional, got shape ", v.to_string()));
      if (!reads && i >= 3) continue;  // training with factor 1: mean and variance unread
      if (v.has_rank() && v.dims()[0] >= 0 && channels >= 0 && v.dims()[0] != channels)
        throw ValueError(str_cat(c.node_name, ": ", what,
                                 " must have the same number of elements as the channels of x, "
                                 "got ",
                                 v.dims()[0], " and ", channels));
      if (v.has_rank() && v.dims()[0] >= 0) channels = v.dims()[0];
    }
    if (grad && !c.input_shapes[0].is_compatible_with(x))
      throw ValueError(str_cat(c.node_name, ": y_backprop ", c.input_shapes[0].to_string(),
                               " and x ", x.to_string(), " must have one shape"));
    c.set_output(DType::kFloat32, x.has_rank() ? x : Shape::unknown());
    const int per_channel = grad ? 2 : 4;
    for (int i = 0; i < per_channel; ++i) c.set_output(DType::kFloat32, Shape{channels});
    if (grad) {
      c.set_output(DType::kFloat32, Shape{});
      c.set_output(DType::kFloat32, Shape{});
    } else {
      c.set_output(DType::kFloat32, Shape::unknown());
    }
  };
  r.add({.name = "FusedBatchNormV3",
         .min_inputs = 5,
         .max_inputs = 5,
         .shape = [batch_norm_shape](ShapeContext& c) { batch_norm_shape(c, false); },
         .grad =
             [](Graph& g, const Operation& o, const Grads& dy) {
               // TF's _BaseFusedBatchNormGrad: only y's gradient flows (TF drops those of the
               // batch statistics without a word; here they are an error, but not the zeros
               // gradients() gives outputs no gradient reached).
               for (std::size_t i = 1; i < 3 && i < dy.size(); ++i)
                 if (dy[i].valid() && !grad_util::is_zeros_tensor(dy[i]))
                   throw ValueError(str_cat(
                       "FusedBatchNormV3 '", o.name(), "': output ", i,
                       " (the batch statistics) has no gradient; TF's gradient ignores it"));
               if (!dy[0].valid()) return Grads{Output(), Output(), Output(), Output(), Output()};
               AttrMap a;
               for (const char* k : {"epsilon", "data_format", "is_training"})
                 if (o.attrs().has(k)) a.set(k, o.attrs().all().at(k));
               const bool training = o.attrs().get_or<bool>("is_training", true);
               const std::string format = o.attrs().get_or<std::string>("data_format", "NHWC");
               const auto in = o.inputs();
               Output x = in[0], grad_y = dy[0];
               // TF: in inference, channels-first data goes through the channels-last kernel
               // ("transpose" of x, "transpose_1" of dy, "transpose_2" of dx back).
               const bool first = !training && (format == "NCHW" || format == "NCDHW");
               const bool three_d = format.size() == 5;
               auto transpose = [&g](const Output& t, const std::vector<std::int64_t>& perm) {
                 const std::string scope = g.unique_name("transpose");
                 return grad_util::op(g, "Transpose",
                                      {t, grad_util::const_ints(g, perm, scope + "/perm/")}, {},
                                      scope + "/");
               };
               if (first) {
                 const std::vector<std::int64_t> to_last =
                     three_d ? std::vector<std::int64_t>{0, 2, 3, 4, 1}
                             : std::vector<std::int64_t>{0, 2, 3, 1};
                 x = transpose(x, to_last);
                 grad_y = transpose(grad_y, to_last);
                 a.set("data_format", std::string(three_d ? "NDHWC" : "NHWC"));
               }
               const Operation grad = g.create_op("FusedBatchNormGradV3",
                                                  {grad_y, x, in[1], training ? o.output(3) : in[3],
                                                   training ? o.output(4) : in[4], o.output(5)},
                                                  std::move(a), "FusedBatchNormGradV3");
               Output dx = grad.output(0);
               if (first)
                 dx = transpose(dx, three_d ? std::vector<std::int64_t>{0, 4, 1, 2, 3}
                                            : std::vector<std::int64_t>{0, 3, 1, 2});
               return Grads{dx, grad.output(1), grad.output(2), Output(), Output()};
             }});
  r.add({.name = "FusedBatchNormGradV3",
         .min_inputs = 6,
         .max_inputs = 6,
         .shape = [batch_norm_shape](ShapeContext& c) { batch_norm_shape(c, true); },
         .grad = [](Graph&, const Operation& o, const Grads&) -> Grads {
           throw ValueError(
               str_cat("No gradient defined for operation '", o.name(),
                       "' (op type: FusedBatchNormGradV3): ScopeFlow has not ported TF's second "
                       "derivative of the fused batch norm (_FusedBatchNormGradGradV3)"));
         }});
  // TF's InTopKV2(predictions [batch, classes] float32, targets [batch] int32/int64, k): bool
  // [batch]; not differentiable. k is read on the host.
  r.add({.name = "InTopKV2",
         .min_inputs = 3,
         .max_inputs = 3,
         .shape =
             [](ShapeContext& c) {
               require_float(c, 0);
               const Shape& p = c.input_shapes[0];
               const Shape& t = c.input_shapes[1];
               if (c.input_dtypes[1] != DType::kInt32 && c.input_dtypes[1] != DType::kInt64)
                 throw ValueError(str_cat(c.node_name, ": targets must be int32 or int64, got ",
                                          dtype_name(c.input_dtypes[1])));
               if (c.input_dtypes[2] != c.input_dtypes[1])
                 throw ValueError(str_cat(c.node_name, ": k must have the targets' dtype ",
                                          dtype_name(c.input_dtypes[1]), ", got ",
                                          dtype_name(c.input_dtypes[2])));
               if (p.has_rank() && p.rank() != 2)
                 throw ValueError(str_cat(c.node_name, ": predictions must be 2-dimensional, got ",
                                          p.to_string()));
               if (t.has_rank() && t.rank() != 1)
                 throw ValueError(
                     str_cat(c.node_name, ": targets must be 1-dimensional, got ", t.to_string()));
               if (c.input_shapes[2].has_rank() && c.input_shapes[2].rank() != 0)
                 throw ValueError(str_cat(c.node_name, ": k must be a scalar, got ",
                                          c.input_shapes[2].to_string()));
               std::int64_t batch = p.has_rank() ? p.dims()[0] : -1;
               if (t.has_rank() && t.dims()[0] >= 0) {
                 if (batch >= 0 && batch != t.dims()[0])
                   throw ValueError(str_cat(c.node_name, ": First dimension of predictions ", batch,
                                            " must match length of targets ", t.dims()[0]));
                 batch = t.dims()[0];
               }
               c.set_output(DType::kBool, Shape{batch});
             },
         .not_differentiable = true,
         .host_memory_inputs = {2}});
  r.add({.name = "MaxPool", .min_inputs = 1, .max_inputs = 1, .shape = pool_shape});
  r.add({.name = "AvgPool", .min_inputs = 1, .max_inputs = 1, .shape = pool_shape});
  r.add({.name = "MaxPoolGrad", .min_inputs = 3, .max_inputs = 3, .shape = [](ShapeContext& c) {
           c.set_output(DType::kFloat32, c.input_shapes[0]);
         }});
  // TF's MaxPoolGradGrad (orig_input, orig_output, grad): the pooled shape.
  r.add({.name = "MaxPoolGradGrad", .min_inputs = 3, .max_inputs = 3, .shape = [](ShapeContext& c) {
           require_float(c, 2);
           c.set_output(DType::kFloat32, c.input_shapes[1]);
         }});
  r.add({.name = "AvgPoolGrad", .min_inputs = 2, .max_inputs = 2, .shape = [](ShapeContext& c) {
           c.set_output(DType::kFloat32, sizes_shape(c, 0));
         }});
  r.add({.name = "MatMul", .min_inputs = 2, .max_inputs = 2, .shape = [](ShapeContext& c) {
           require_float(c, 0);
           require_float(c, 1);
           const Shape& a = c.input_shapes[0];
           const Shape& b = c.input_shapes[1];
           const bool ta = c.attr().get_or<bool>("transpose_a", false);
           const bool tb = c.attr().get_or<bool>("transpose_b", false);
           if ((a.has_rank() && a.rank() != 2) || (b.has_rank() && b.rank() != 2))
             throw ValueError(str_cat(c.node_name, ": MatMul needs 2-D inputs, got ", a.to_string(),
                                      " and ", b.to_string()));
           const std::int64_t m = a.has_rank() ? a.dims()[ta ? 1 : 0] : -1;
           const std::int64_t k = a.has_rank() ? a.dims()[ta ? 0 : 1] : -1;
           const std::int64_t k2 = b.has_rank() ? b.dims()[tb ? 1 : 0] : -1;
           const std::int64_t n = b.has_rank() ? b.dims()[tb ? 0 : 1] : -1;
           if (k >= 0 && k2 >= 0 && k != k2)
             throw ValueError(str_cat(c.node_name, ": Dimensions must be equal, but are ", k,
                                      " and ", k2, " for MatMul with input shapes: ", a.to_string(),
                                      ", ", b.to_string()));
           c.set_output(DType::kFloat32, Shape{m, n});
         }});
  for (const char* op : {"Sum", "Mean", "Max"})
    r.add({.name = op, .min_inputs = 2, .max_inputs = 2, .shape = reduce_shape});
  // TF's Prod, on int32 / int64 here: the shape arithmetic of tensordot (products of
  // dimensions). Its inputs are HostMemory (as TF's integer shape ops on a GPU).
  r.add({.name = "Prod", .min_inputs = 2, .max_inputs = 2, .shape = [](ShapeContext& c) {
           const DType t = c.input_dtypes[0];
           if (t != DType::kInt32 && t != DType::kInt64)
             throw ValueError(str_cat(c.node_name,
                                      ": ScopeFlow's Prod takes int32 or int64 (shape "
                                      "arithmetic), got ",
                                      dtype_name(t)));
           c.set_output(t, reduction_output_shape(c));
         }});
  r.add({.name = "Reshape", .min_inputs = 2, .max_inputs = 2, .shape = [](ShapeContext& c) {
           if (c.input_values[1] == nullptr) {
             // A Shape op's value (TF's constant_value_as_shape): its input's static shape.
             Shape v = c.input_value_shapes[1];
             const Shape& in = c.input_shapes[0];
             // Else only the shape vector's length tells: that many unknown dimensions.
             if (const Shape& len = c.input_shapes[1];
                 !v.has_rank() && len.has_rank() && len.rank() == 1 && len.dims()[0] >= 0)
               v = Shape(std::vector<std::int64_t>(static_cast<std::size_t>(len.dims()[0]), -1));
             if (v.has_rank() && in.is_fully_defined()) {
               // As TF's Reshape shape function: the known dimensions must divide the
               // element count; a single unknown one is that quotient.
               std::int64_t known = 1;
               int unknown = 0;
               for (auto d : v.dims()) {
                 if (d < 0)
                   ++unknown;
                 else
                   known *= d;
               }
               const std::int64_t n = in.num_elements();
               if ((unknown == 0 && known != n) || (unknown > 0 && known > 0 && n % known != 0))
                 throw ValueError(str_cat(c.node_name, ": Cannot reshape a tensor with ", n,
                                          " elements to shape ", v.to_string()));
               if (unknown == 1 && known > 0) {
                 auto dims = v.dims();
                 for (auto& d : dims)
                   if (d < 0) d = n / known;
                 v = Shape(dims);
               }
             }
             c.set_output(c.input_dtypes[0], v);
             return;
           }
           auto dims = const_ints(c, 1);
           const Shape& in = c.input_shapes[0];
           std::int64_t known = 1;
           int unknown = -1;
           for (std::size_t i = 0; i < dims.size(); ++i) {
             if (dims[i] == -1) {
               if (unknown >= 0)
                 throw ValueError(str_cat(c.node_name, ": only one input size may be -1"));
               unknown = static_cast<int>(i);
             } else if (dims[i] < 0) {
               throw ValueError(str_cat(c.node_name, ": size ", dims[i], " must be non-negative"));
             } else {
               known *= dims[i];
             }
           }
           if (in.is_fully_defined()) {
             const std::int64_t n = in.num_elements();
             if (unknown >= 0) {
               if (known == 0 || n % known != 0)
                 throw ValueError(str_cat(c.node_name, ": Cannot reshape a tensor with ", n,
                                          " elements to shape ", Shape(dims).to_string()));
               dims[static_cast<std::size_t>(unknown)] = n / known;
             } else if (known != n) {
               throw ValueError(str_cat(c.node_name, ": Cannot reshape a tensor with ", n,
                                        " elements to shape ", Shape(dims).to_string(), " (", known,
                                        " elements)"));
             }
           }
           c.set_output(c.input_dtypes[0], Shape(dims));
         }});
  r.add({.name = "SparseSoftmaxCrossEntropyWithLogits",
         .min_inputs = 2,
         .max_inputs = 2,
         .shape = [](ShapeContext& c) {
           require_float(c, 0);
           if (c.input_dtypes[1] != DType::kInt32 && c.input_dtypes[1] != DType::kInt64)
             throw ValueError(str_cat(c.node_name, ": labels must be int32 or int64, got ",
                                      dtype_name(c.input_dtypes[1])));
           const Shape& l = c.input_shapes[0];
           const Shape& y = c.input_shapes[1];
           if (l.has_rank() && l.rank() != 2)
             throw ValueError(str_cat(c.node_name, ": logits must be 2-D, got ", l.to_string()));
           if (y.has_rank() && y.rank() != 1)
             throw ValueError(str_cat(c.node_name, ": labels must be 1-D, got ", y.to_string()));
           if (l.has_rank() && y.has_rank() && l.dims()[0] >= 0 && y.dims()[0] >= 0 &&
               l.dims()[0] != y.dims()[0])
             throw ValueError(str_cat(
                 c.node_name,
                 ": logits and labels must have the same first dimension, got logits shape ",
                 l.to_string(), " and labels shape ", y.to_string()));
           const std::int64_t b = l.has_rank() ? l.dims()[0] : -1;
           c.set_output(DType::kFloat32, Shape{b});
           c.set_output(DType::kFloat32, l.has_rank() ? l : Shape{-1, -1});
         }});
  // TF's SoftmaxCrossEntropyWithLogits(features [B, C], labels [B, C]) -> (loss [B], backprop
  // [B, C] = softmax - labels), the fused op behind softmax_cross_entropy_with_logits(_v2).
  r.add({.name = "SoftmaxCrossEntropyWithLogits",
         .min_inputs = 2,
         .max_inputs = 2,
         .shape = [](ShapeContext& c) {
           require_float(c, 0);
           require_float(c, 1);
           const Shape& l = c.input_shapes[0];
           const Shape& y = c.input_shapes[1];
           for (const Shape* s : {&l, &y})
             if (s->has_rank() && s->rank() != 2)
               throw ValueError(str_cat(c.node_name, ": logits and labels must be 2-D, got ",
                                        l.to_string(), " and ", y.to_string()));
           if (!l.is_compatible_with(y))
             throw ValueError(str_cat(c.node_name,
                                      ": logits and labels must be the same size: logits_size=",
                                      l.to_string(), " labels_size=", y.to_string()));
           std::vector<std::int64_t> d{-1, -1};
           for (const Shape* s : {&l, &y})
             if (s->has_rank())
               for (std::size_t k = 0; k < 2; ++k)
                 if (s->dims()[k] >= 0) d[k] = s->dims()[k];
           c.set_output(DType::kFloat32, Shape{d[0]});
           c.set_output(DType::kFloat32, Shape(d));
         }});
  // Softmax / LogSoftmax over the last dimension, with TF's gradients (nn_grad.py).
  r.add({.name = "Softmax",
         .min_inputs = 1,
         .max_inputs = 1,
         .shape = softmax_shape,
         .grad = [](Graph& g, const Operation& o, const std::vector<Output>& dy) {
           // TF's _SoftmaxGrad: (dy - sum(dy * y, -1, keepdims)) * y.
           const Output y = o.output(0);
           AttrMap keep;
           keep.set("keep_dims", true);
           Output sum = grad_util::op(
               g, "Sum", {grad_util::op(g, "Mul", {dy[0], y}, {}, "mul"), last_axis(g)},
               std::move(keep), "Sum");
           return std::vector<Output>{grad_util::op(
               g, "Mul", {grad_util::op(g, "Sub", {dy[0], sum}, {}, "sub"), y}, {}, "mul_1")};
         }});
  r.add({.name = "LogSoftmax",
         .min_inputs = 1,
         .max_inputs = 1,
         .shape = softmax_shape,
         .grad = [](Graph& g, const Operation& o, const std::vector<Output>& dy) {
           // TF's _LogSoftmaxGrad: dy - sum(dy, -1, keepdims) * exp(y).
           Output softmax = grad_util::op(g, "Exp", {o.output(0)}, {}, "Exp");
           AttrMap keep;
           keep.set("keep_dims", true);
           Output sum = grad_util::op(g, "Sum", {dy[0], last_axis(g)}, std::move(keep), "Sum");
           return std::vector<Output>{grad_util::op(
               g, "Sub", {dy[0], grad_util::op(g, "Mul", {sum, softmax}, {}, "mul")}, {}, "sub")};
         }});
  // TF's HostMemory inputs (see OpDef::host_memory_inputs).
  r.set_host_memory_inputs("Conv2DBackpropInput", {0});   // input_sizes
  r.set_host_memory_inputs("Conv2DBackpropFilter", {1});  // filter_sizes
  r.set_host_memory_inputs("AvgPoolGrad", {0});           // orig_input_shape
  r.set_host_memory_inputs("Reshape", {1});               // shape
  for (const char* op : {"Sum", "Mean", "Max"}) r.set_host_memory_inputs(op, {1});  // axes
  r.set_host_memory_inputs("Prod", {0, 1});  // integer shape arithmetic, on the host
}

}  // namespace scopeflow
