#!/usr/bin/env python3
"""Runs CONFORMANCE.md / API.md cases on the real TensorFlow (tf.compat.v1, graph mode,
reference variables) and writes the names, flags and error texts it sees into
tf_golden.json beside this file. The C++ test tf_golden_test.cc runs the same cases in
ScopeFlow and compares, mapping only TF's Python spellings to ScopeFlow's (CONFORMANCE.md's
table). CI does not need TensorFlow: the JSON is checked in.

Usage: python3 -m venv /tmp/tfenv && /tmp/tfenv/bin/pip install tensorflow-cpu tf-keras
       /tmp/tfenv/bin/python tests/conformance/tf_golden.py
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# tf.compat.v1.layers lives in tf_keras (pip install tf-keras) since Keras 3.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()
tf.disable_resource_variables()

CASES = {}


def case(fn):
    CASES[fn.__name__] = fn
    return fn


def err(f):
    try:
        f()
    except (ValueError, TypeError) as e:
        return str(e).split(" Originally defined at")[0]
    return "no error"


# ---------------------------------------------------------------- API.md blocks
@case
def api1_reuse_inherited():
    tf.get_variable_scope().reuse_variables()
    with tf.variable_scope("vs"):
        s = tf.get_variable_scope()
        return [s.name, str(int(bool(s.reuse)))]


@case
def api2_reopen_by_object():
    with tf.variable_scope("vs1"):
        tf.get_variable_scope().reuse_variables()
        with tf.variable_scope("vs2") as vs2:
            kept = vs2
    out = []
    with tf.variable_scope("vs1"):
        with tf.variable_scope("vs2"):
            out += [tf.get_variable_scope().name, str(int(bool(tf.get_variable_scope().reuse)))]
    with tf.variable_scope(kept):
        out += [tf.get_variable_scope().name, str(int(bool(tf.get_variable_scope().reuse)))]
    return out


@case
def api3_variable_always_creates():
    v1 = tf.Variable(tf.constant(1), name="v")
    v2 = tf.Variable(tf.constant(1), name="v")
    tf.get_variable_scope().reuse_variables()
    v3 = tf.Variable(tf.constant(1), name="v")
    return [v1.name, v2.name, v3.name]


@case
def api4_get_after_variable():
    with tf.variable_scope("vs"):
        v1 = tf.Variable(tf.constant(1), name="v")
        v2 = tf.get_variable("v", [])
        e = err(lambda: tf.get_variable("v", []))
    return [v1.name, v2.name, e]


@case
def api5_reuse_only_get_variable():
    with tf.variable_scope("vs"):
        v = tf.get_variable("v", [])
    with tf.variable_scope("vs", reuse=True):
        r = tf.get_variable("v", [])

    def bad():
        with tf.variable_scope("vs1", reuse=True):
            tf.get_variable("v", [])
    return [r.name, str(r is v), err(bad)]


@case
def api6_name_scope():
    out = []
    with tf.name_scope("ns"):
        out.append(tf.get_variable("v", []).name)
        out.append(tf.Variable(tf.constant(1), name="v").name)
        with tf.variable_scope("vs"):
            out.append(tf.get_variable("v", []).name)
            out.append(tf.Variable(tf.constant(1), name="v").name)
    with tf.variable_scope("vs"):
        with tf.name_scope("ns"):
            out.append(tf.Variable(tf.constant(1), name="v").name)
            out.append(err(lambda: tf.get_variable("v", [])))
    return out


@case
def api8_op_names():
    with tf.variable_scope("foo"):
        x = 1.0 + tf.get_variable("v", [1])
        with tf.name_scope("bar"):
            w = tf.get_variable("w", [1])
            y = 1.0 + w
    return [x.op.name, y.op.name, w.name]


@case
def api9_share_model():
    def conv_relu(inp, kshape, bshape):
        w = tf.get_variable("weights", kshape, initializer=tf.random_normal_initializer())
        b = tf.get_variable("biases", bshape, initializer=tf.constant_initializer(0.0))
        return inp * w + b

    def f(inp):
        with tf.variable_scope("conv1"):
            r = conv_relu(inp, [5, 5, 32, 32], [32])
        with tf.variable_scope("conv2"):
            return conv_relu(r, [5, 5, 32, 32], [32])
    i1 = tf.placeholder(tf.float32, [5, 5, 32, 32])
    i2 = tf.placeholder(tf.float32, [5, 5, 32, 32])
    with tf.variable_scope("model"):
        f(i1)
    with tf.variable_scope("model", reuse=True):
        f(i2)
    return [v.name for v in tf.global_variables()]


# ---------------------------------------------------------------- CONFORMANCE.md section 2
@case
def a2_a3_root():
    v = tf.get_variable("v", [1])
    return [v.name, err(lambda: tf.get_variable("v", [1])), tf.get_variable("a/b", [1]).name]


@case
def a5_a6_scopes():
    out = []
    with tf.variable_scope("tower4") as t:
        out.append(t.name)
        with tf.name_scope("scope") as sc:
            out.append(sc)
    with tf.variable_scope("tower5"):
        with tf.variable_scope("bar") as b:
            out.append(b.name)
            with tf.name_scope("scope") as sc:
                out.append(sc)
    return out


@case
def a9_missing():
    def f():
        with tf.variable_scope("foo", reuse=True):
            tf.get_variable("v", [1])
    return [err(f)]


@case
def b12_root_reuse():
    tf.get_variable_scope().reuse_variables()
    with tf.variable_scope("foo") as f:
        r = str(bool(f.reuse))
        e1 = err(lambda: tf.get_variable("v", [1]))
    return [r, e1, err(lambda: tf.get_variable("x", [1]))]


@case
def b16_reuse_false_ignored():
    with tf.variable_scope("a", reuse=True):
        with tf.variable_scope("b", reuse=False) as b:
            return [str(bool(b.reuse))]


@case
def b19_b20_bad_reuse():
    def f():
        with tf.variable_scope(None, "default", reuse=True):
            pass
    return [err(lambda: tf.variable_scope("a", reuse=1)), err(f)]


@case
def b26_b29_variable_vs_get_variable():
    out = []
    with tf.variable_scope("vs") as s:
        out.append(tf.Variable(1.0, name="v").name)
        s.reuse_variables()
        out.append(tf.Variable(1.0, name="v").name)
        out.append(tf.Variable(1.0, name="v").name)
    return out


@case
def b28_get_after_variable():
    with tf.variable_scope("vs"):
        a = tf.Variable(1.0, name="v")
        b = tf.get_variable("v", [1])
        return [a.name, b.name, err(lambda: tf.get_variable("v", [1]))]


@case
def b29_variable_after_get():
    with tf.variable_scope("vs"):
        b = tf.get_variable("v", [1])
        a = tf.Variable(1.0, name="v")
        return [b.name, a.name]


@case
def c33_original_name_scope():
    with tf.name_scope("ns"):
        with tf.variable_scope("vs") as s:
            t = tf.Variable(1.0, name="v")
            g = tf.get_variable("v", [1])
            return [t.name, g.name, s.name, s.original_name_scope]


@case
def c35_same_string_twice():
    with tf.variable_scope("foo"):
        x = 1.0 + tf.get_variable("v", [1])
    with tf.variable_scope("foo", reuse=True):
        y = 1.0 + tf.get_variable("v", [1])
    return [x.op.name, y.op.name]


@case
def c38_original_name_scope_jump():
    out = []
    with tf.name_scope("scope1"):
        with tf.variable_scope("tower") as tower:
            out.append(tower.original_name_scope)
    with tf.name_scope("scope2"):
        with tf.variable_scope(tower) as t1:
            out.append(t1.original_name_scope)
            with tf.name_scope("foo") as sc:
                out.append(sc)
    for _ in range(2):
        with tf.name_scope(tower.original_name_scope):
            with tf.name_scope("bar") as sc:
                out.append(sc)
    return out


@case
def c41_jump():
    with tf.variable_scope("tower4") as tower4:
        pass
    with tf.variable_scope("tower6"):
        with tf.variable_scope(tower4, reuse=True) as ts:
            with tf.name_scope("scope") as sc:
                return [ts.name, sc]


@case
def c44_aux_false():
    out = []
    with tf.variable_scope("scope", auxiliary_name_scope=False) as s:
        out += [s.original_name_scope, tf.get_variable("w", []).name, tf.constant([], name="c").name]
    with tf.variable_scope(s, auxiliary_name_scope=False):
        out += [tf.get_variable("w1", []).name, tf.constant([], name="c1").name]
    with tf.name_scope("scope"):
        out.append(tf.constant([], name="c").name)
    with tf.variable_scope("outer"):
        with tf.variable_scope("inner", auxiliary_name_scope=False) as inner:
            out += [inner.original_name_scope, tf.get_variable("w", []).name,
                    tf.constant([], name="c").name]
        with tf.name_scope("inner"):
            out.append(tf.constant([], name="c").name)
    return out


@case
def d50_var_op_scope():
    out = []
    with tf.name_scope("T1"):
        with tf.variable_scope("tower", "default", []):
            out.append(tf.get_variable("w", []).name)
            with tf.name_scope("T2") as sc:
                out.append(sc)
        with tf.variable_scope("tower", "default", []):
            with tf.name_scope("T2") as sc:
                out.append(sc)
    with tf.name_scope("T2"):
        for _ in range(2):
            with tf.variable_scope(None, "default", []):
                out.append(tf.get_variable("w", []).name)
                with tf.name_scope("T2") as sc:
                    out.append(sc)
    return out


@case
def d51_interleaved():
    out = []
    for d in ["defaultScope1", "defaultScope1", "defaultScope", "defaultScope1"]:
        with tf.variable_scope(None, d):
            with tf.variable_scope(None, "layer"):
                out.append(tf.get_variable("w", []).name)
    return out


@case
def d53_counter_reset():
    out = []
    with tf.variable_scope("foo") as vs:
        with tf.variable_scope(None, "bar"):
            out.append(tf.get_variable("a", []).name)
        with tf.variable_scope(None, "bar"):
            out.append(tf.get_variable("b", []).name)
    with tf.variable_scope(vs):
        with tf.variable_scope(None, "bar"):
            out.append(tf.get_variable("c", []).name)
    return out


@case
def d58_var_op_scope_reuse():
    out = []
    with tf.variable_scope("outer") as outer:
        with tf.variable_scope("tower", "default", []):
            out.append(tf.get_variable("w", []).name)
            with tf.name_scope("scope2") as sc:
                out.append(sc)
        with tf.variable_scope(None, "default", []):
            out.append(tf.get_variable("w", []).name)
            with tf.name_scope("scope2") as sc:
                out.append(sc)
    with tf.variable_scope(outer, reuse=True):
        with tf.variable_scope("tower", "default", []):
            out.append(tf.get_variable("w", []).name)
            with tf.name_scope("scope2") as sc:
                out.append(sc)
        with tf.variable_scope(None, "default", []):
            out.append(tf.get_variable("w", []).name)
            with tf.name_scope("scope2") as sc:
                out.append(sc)
    return out


@case
def e62_e63_initializer_op_names():
    v = tf.get_variable("v", [2, 3])
    i = tf.get_variable("i", [2], dtype=tf.int32)
    return [v.initial_value.op.name, i.initial_value.op.name]


@case
def e65_initialize_from_value():
    init = tf.constant(0.1)
    return [err(lambda: tf.get_variable("u", [1], initializer=init)),
            tf.get_variable("t", initializer=tf.constant(1)).dtype.base_dtype.name,
            err(lambda: tf.get_variable("s", initializer=tf.constant(1), dtype=tf.float64))]


@case
def f70_shape_dtype_on_reuse():
    with tf.variable_scope("vs"):
        tf.get_variable("v", [1])

    def shape():
        with tf.variable_scope("vs", reuse=True):
            tf.get_variable("v", [2])

    def dtype():
        with tf.variable_scope("vs", reuse=True):
            tf.get_variable("v", [1], dtype=tf.int32)
    return [err(shape), err(dtype)]


@case
def g75_collections():
    tf.get_variable("v", [1], trainable=False)
    tf.get_variable("m", [1], collections=["my"])
    return [",".join(v.name for v in tf.global_variables()),
            ",".join(v.name for v in tf.trainable_variables()),
            ",".join(v.name for v in tf.get_collection("my"))]


@case
def h81_h87_names():
    out = [tf.Variable(1.0).name, tf.Variable(1.0).name, tf.Variable(1.0, name="v").name,
           tf.Variable(1.0, name="V").name]

    def ns():
        with tf.name_scope("_x"):
            pass

    def vs():
        with tf.variable_scope("_"):
            pass
    out += [err(ns), err(lambda: tf.Variable(1.0, name="_v")), err(lambda: tf.get_variable("_v", [1])),
            err(vs)]
    with tf.variable_scope("vs"):
        out.append(tf.get_variable("_v", [1]).name)
    return out


@case
def e69_i90_constraint_regularizer():
    def c(x):
        return 0. * x

    out = []
    with tf.variable_scope("a", constraint=c):
        out.append(str(tf.get_variable("v", []).constraint is c))
        with tf.variable_scope("b"):
            out.append(str(tf.get_variable("w", []).constraint is None))
    init = tf.constant_initializer(0.3)

    def r1(v):
        return tf.reduce_mean(v) + 0.1

    def r2(v):
        return tf.reduce_mean(v) + 0.2

    with tf.variable_scope("tower3", regularizer=r1) as tower:
        with tf.variable_scope("foo", initializer=init):
            tf.get_variable("v", [])
        with tf.variable_scope(tower, initializer=init) as vs:
            tf.get_variable("u", [])
            vs.set_regularizer(r2)
            tf.get_variable("w", [])
            tf.get_variable("x", [], regularizer=tf.no_regularizer)
            with tf.variable_scope("baz", regularizer=tf.no_regularizer):
                tf.get_variable("y", [])
            vs.set_regularizer(tf.no_regularizer)
            tf.get_variable("z", [])
        with tf.variable_scope("foo", reuse=True):
            tf.get_variable("v", [])
    losses = tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES)
    out.append(str(len(losses)))
    out += [t.name for t in losses]
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        out += ["%.4f" % s.run(t) for t in losses]
    return out


@case
def i91_partitioned_variables():
    def lst(p):
        return str([int(x) for x in p])

    out = []
    with tf.variable_scope("scope0", partitioner=tf.fixed_size_partitioner(2)):
        v = tf.get_variable("name0", shape=(3, 1, 1))
        out += [v.name, v.as_tensor().name, lst(v._get_partitions())]
        out += [x.name for x in tf.global_variables()]
        out.append(tf.get_variable("name1", shape=()).name)
    w = tf.get_variable("w", [7, 3], initializer=tf.constant_initializer(0.5),
                        partitioner=tf.fixed_size_partitioner(3))
    out += [lst(x.shape.as_list()) for x in w]
    c = tf.get_variable("c", initializer=tf.constant([[0., 1, 2, 3, 4], [5, 6, 7, 8, 9]]),
                        partitioner=tf.fixed_size_partitioner(2, 1))
    out += [x.name + lst(x.shape.as_list()) for x in c]
    f32, st = tf.float32, tf.string
    sh = tf.TensorShape
    out += [
        lst(tf.fixed_size_partitioner(4)(shape=sh([10, 3]), dtype=f32)),
        lst(tf.fixed_size_partitioner(4)(shape=sh([2, 3]), dtype=f32)),
        lst(tf.fixed_size_partitioner(2, -1)(shape=sh([4, 6]), dtype=f32)),
        lst(tf.variable_axis_size_partitioner(4096)(shape=sh([1000, 64]), dtype=f32)),
        lst(tf.variable_axis_size_partitioner(4096, max_shards=10)(shape=sh([1000, 64]),
                                                                   dtype=f32)),
        lst(tf.variable_axis_size_partitioner(1)(shape=sh([5, 64]), dtype=f32)),
        lst(tf.variable_axis_size_partitioner(64, 1)(shape=sh([4, 8]), dtype=f32)),
        lst(tf.variable_axis_size_partitioner(64, 0, 32)(shape=sh([8, 1]), dtype=st)),
        lst(tf.min_max_variable_partitioner(32)(shape=sh([1024, 1024]), dtype=f32)),
        lst(tf.min_max_variable_partitioner(8)(shape=sh([1024, 1024]), dtype=f32)),
        lst(tf.min_max_variable_partitioner()(shape=sh([1024, 1024]), dtype=f32)),
        lst(tf.min_max_variable_partitioner(100, 0, 4)(shape=sh([3, 100]), dtype=f32)),
        lst(tf.min_max_variable_partitioner(100, 1, 16)(shape=sh([2, 10]), dtype=f32)),
        lst(tf.min_max_variable_partitioner(100, 0, 16, 4)(shape=sh([8]), dtype=st)),
    ]
    out.append(err(lambda: tf.variable_axis_size_partitioner(0)))
    out.append(err(lambda: tf.variable_axis_size_partitioner(10, max_shards=-1)))
    with tf.variable_scope("scope0", partitioner=tf.fixed_size_partitioner(3), reuse=True):
        out.append(err(lambda: tf.get_variable("name0", shape=(3, 1, 1))))
    with tf.variable_scope("scope0", reuse=True):
        out.append(str(tf.get_variable("name0", shape=(3, 1, 1)) is v))
    with tf.variable_scope("scope0", partitioner=tf.fixed_size_partitioner(2)):
        out.append(err(lambda: tf.get_variable("name0", shape=(3, 1, 1))))
    with tf.variable_scope("scope0"):
        out.append(err(lambda: tf.get_variable("name0", shape=(3, 1, 1))))
        tf.get_variable("plain", [4])
        out.append(err(lambda: tf.get_variable("plain", [4],
                                               partitioner=tf.fixed_size_partitioner(2))))
    with tf.variable_scope("scope1", partitioner=tf.fixed_size_partitioner(2), reuse=True):
        out.append(err(lambda: tf.get_variable("nope", [4])))
    # One SGD step through the concatenated value.
    x = tf.constant([[1., 2, 3, 4, 5], [-1, 0.5, 2, -2, 1]])
    w0 = [[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6], [0.7, 0.8], [-0.9, 1.0]]
    t = tf.get_variable("t", initializer=tf.constant(w0), partitioner=tf.fixed_size_partitioner(3))
    y = tf.matmul(x, t)
    train = tf.train.GradientDescentOptimizer(0.01).minimize(tf.reduce_sum(y * y))
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        out.append(" ".join("%.2f" % a for a in s.run(c.as_tensor()).flatten()))
        s.run(train)
        out += [" ".join("%.4f" % a for a in s.run(p).flatten()) for p in t]
    return out


@case
def i91b_partitioned_checkpoint():
    import shutil
    import tempfile

    def lst(p):
        return str([int(x) for x in p])

    def vals(a):  # 3 decimals: the second Adam step lands near x.xxx95
        return " ".join("%.3f" % x for x in a.flatten())

    def model(partitioner, w0=None):
        kw = {"initializer": tf.constant(w0)} if w0 else {"shape": [4, 6]}
        w = tf.get_variable("emb", partitioner=partitioner, **kw)
        x = tf.constant([[1., 2, 3, 4], [-1, 0.5, 2, -2]])
        loss = tf.reduce_sum(tf.square(tf.matmul(x, w)))
        return w, tf.train.AdamOptimizer(0.1).minimize(loss)

    def whole(w):
        return w.as_tensor() if hasattr(w, "as_tensor") else w

    out = []
    d = tempfile.mkdtemp()
    w0 = [[0.5 * (6 * i + j) - 3 for j in range(6)] for i in range(4)]
    w, train = model(tf.fixed_size_partitioner(3, 1), w0)
    for v in tf.global_variables():
        si = v._get_save_slice_info()
        out.append(v.op.name + (" %s %s %s %s" % (si.full_name, lst(si.full_shape),
                                                  lst(si.var_offset), lst(si.var_shape))
                                if si else ""))
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        s.run(train)
        path = tf.train.Saver().save(s, d + "/ck")
    r = tf.train.NewCheckpointReader(path)
    out += [k + " " + lst(v) for k, v in sorted(r.get_variable_to_shape_map().items())]
    # Restored into two shards along axis 0, and unpartitioned; then one more Adam step.
    for part in [tf.fixed_size_partitioner(2), None]:
        with tf.Graph().as_default():
            e, train2 = model(part)
            with tf.Session() as s:
                tf.train.Saver().restore(s, path)
                out += [vals(s.run(p)) for p in (list(e) if part else [e])]
                s.run(train2)
                out.append(vals(s.run(whole(e))))
    shutil.rmtree(d)
    return out


@case
def nn_gather_embedding_lookup():
    def vals(a):
        return " ".join("%g" % x for x in a.flatten())

    out = []
    p = tf.constant([[0., 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, 11]])
    g = tf.gather(p, [[3, 0], [1, 1]])
    g1 = tf.gather(p, [2, 0], axis=1)
    out += [g.op.name, g.op.inputs[2].op.name, str(g.shape.as_list()), g1.op.name,
            str(g1.shape.as_list())]
    table = [[10. * i, 10. * i + 1] for i in range(7)]
    emb = tf.get_variable("emb", initializer=tf.constant(table),
                          partitioner=tf.fixed_size_partitioner(3))
    ids = tf.constant([5, 1, 5, 6, 0])
    by_mod = tf.nn.embedding_lookup(emb, ids)
    by_div = tf.nn.embedding_lookup(emb, ids, partition_strategy="div")
    w = tf.constant([[1., 2], [3, 4], [5, 6], [7, 8], [9, 10]])
    train = tf.train.GradientDescentOptimizer(0.5).minimize(
        tf.reduce_sum(by_mod * w) + tf.reduce_sum(by_div * w))
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        out += [vals(s.run(x)) for x in (g, g1, by_mod, by_div)]
        s.run(train)
        out += [vals(s.run(v)) for v in emb]
    return out


@case
def i91c_partitioned_device_setter():
    # Each shard is a variable of its own to the device function: round robin over the ps tasks.
    out = []
    with tf.device(tf.train.replica_device_setter(ps_tasks=2)):
        w = tf.get_variable("emb", [10, 4], partitioner=tf.fixed_size_partitioner(4))
        x = tf.get_variable("x", [3])
        y = tf.get_variable("y", [5], partitioner=tf.fixed_size_partitioner(3))
    out += [v.name + " " + v.device for v in w]
    out.append(x.device)
    out += [v.name + " " + v.device for v in y]
    return out


@case
def math_maximum_minimum():
    def vals(a):
        return " ".join("%g" % v for v in a.flatten())

    nan = float("nan")
    x = tf.constant([nan, 1., 2., 3., -0.0, 0.0])
    y = tf.constant([1., nan, 2., 1., 0.0, -0.0])
    mx, mn = tf.maximum(x, y), tf.minimum(x, y)
    w = tf.constant([1., 2, 3, 4, 5, 6])
    g = tf.gradients(tf.reduce_sum(mx * w), [x, y]) + tf.gradients(tf.reduce_sum(mn * w), [x, y])
    # Broadcasting (a leaky ReLU, tf.maximum(0.1 * x, x)), and the gradient of a broadcast operand.
    a = tf.constant([[-2., -1., 0.], [1., 2., 3.]])
    b = tf.constant([0.5, -1., 4.])
    leaky = tf.maximum(0.1 * a, a)
    gb = tf.gradients(tf.reduce_sum(tf.minimum(a, b)), [a, b])
    ints = tf.maximum(tf.constant([1, 5, -3]), tf.constant([3, 2, -3]))
    ge, le = tf.greater_equal(x, y), tf.less_equal(x, y)
    out = [mx.op.name, mn.op.name, ge.op.name, le.op.name]
    with tf.Session() as s:
        out += [vals(t) for t in s.run([mx, mn] + g + [leaky] + gb + [ints])]
        out += [" ".join(str(bool(v)) for v in t) for t in s.run([ge, le])]
    return out


def _vals(a):
    import numpy as np
    if isinstance(a, (list, tuple)):
        return " | ".join(_vals(t) for t in a)
    return " ".join("%g" % v for v in np.asarray(a).flatten())


@case
def math_pow():
    x = tf.constant([[0.0, 0.5, 2.0], [-2.0, 3.0, 1.0]])
    y = tf.constant([2.0, -1.5, 0.5])
    p = tf.pow(x, y)
    q = tf.pow(x, 3.0)
    r = tf.pow(2.0, y)
    gx, gy = tf.gradients(tf.reduce_sum(tf.pow(x, y) * tf.constant([[1., 2, 3], [4, 5, 6]])), [x, y])
    ints = tf.pow(tf.constant([2, -3, 5, 0]), tf.constant([10, 3, 0, 0]))
    big = tf.pow(tf.constant([3], dtype=tf.int32), tf.constant([21]))  # wraps
    out = [p.op.name, q.op.name, q.op.inputs[1].op.name, r.op.name, r.op.inputs[0].op.name]
    with tf.Session() as s:
        out += [_vals(t) for t in s.run([p, q, r, gx, gy, ints, big])]
        try:
            a, b = tf.placeholder(tf.int32), tf.placeholder(tf.int32)
            s.run(tf.pow(a, b), {a: [2], b: [-1]})
            out.append("no error")
        except tf.errors.InvalidArgumentError as e:
            out += [l.strip() for l in e.message.split("\n") if "negative integer powers" in l][:1]
    return out


@case
def train_lr_schedules():
    gs = tf.train.get_or_create_global_step()
    step = tf.placeholder(tf.int64, [])
    n0 = len(tf.get_default_graph().get_operations())
    e = tf.train.exponential_decay(0.1, gs, 100, 0.96, staircase=True)
    out = [o.name + " " + o.type for o in tf.get_default_graph().get_operations()[n0:]]
    ex = tf.train.exponential_decay(0.1, step, 100, 0.96)
    es = tf.train.exponential_decay(0.1, step, 100, 0.96, staircase=True)
    po = tf.train.polynomial_decay(0.1, step, 1000, 0.01, power=0.5)
    pc = tf.train.polynomial_decay(0.1, step, 1000, 0.01, power=0.5, cycle=True)
    it = tf.train.inverse_time_decay(0.1, step, 100, 0.5, staircase=True)
    ne = tf.train.natural_exp_decay(0.1, step, 100, 0.5)
    co = tf.train.cosine_decay(0.1, step, 1000, alpha=0.1)
    pw = tf.train.piecewise_constant(step, [100, 200], [1.0, 0.5, 0.1])
    out += [t.name for t in [ex, es, po, pc, it, ne, co]]
    with tf.Session() as s:
        for v in [0, 1, 99, 100, 150, 200, 201, 1000, 2500]:
            out.append(_vals(s.run([ex, es, po, pc, it, ne, co, pw], {step: v})))
    # A GradientDescentOptimizer on the schedule: the step's rate is the schedule's value.
    w = tf.get_variable("w", [2], initializer=tf.constant_initializer(1.0))
    lr = tf.train.exponential_decay(0.1, gs, 2, 0.5, staircase=True)
    train = tf.train.GradientDescentOptimizer(lr).minimize(tf.reduce_sum(w * w), global_step=gs)
    mom = tf.get_variable("m", [2], initializer=tf.constant_initializer(1.0))
    mt = tf.train.MomentumOptimizer(lr, tf.constant(0.5)).minimize(tf.reduce_sum(mom * mom))
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        for _ in range(5):
            s.run([mt])
            s.run(train)
            out.append(_vals(s.run([w, mom, lr, gs])))
    return out


@case
def train_schedule_op_names():
    """The ops each schedule and an EMA with num_updates build, in order (name and type)."""
    gs = tf.train.get_or_create_global_step()
    out = []
    builders = [
        lambda: tf.train.polynomial_decay(0.1, gs, 1000, 0.01, power=0.5),
        lambda: tf.train.inverse_time_decay(0.1, gs, 100, 0.5, staircase=True),
        lambda: tf.train.natural_exp_decay(0.1, gs, 100, 0.5),
        lambda: tf.train.cosine_decay(0.1, gs, 1000, alpha=0.1),
        lambda: tf.train.exponential_decay(0.1, gs, 390.625, 0.5),
    ]
    for build in builders:
        n0 = len(tf.get_default_graph().get_operations())
        build()
        out += [o.name + " " + o.type for o in tf.get_default_graph().get_operations()[n0:]]
    w = tf.get_variable("w", [2], initializer=tf.constant_initializer(1.0))
    ema = tf.train.ExponentialMovingAverage(0.9, gs)
    n0 = len(tf.get_default_graph().get_operations())
    ema.apply([w])
    out += [o.name + " " + o.type for o in tf.get_default_graph().get_operations()[n0:]
            if o.name.startswith("ExponentialMovingAverage")]
    return out


@case
def train_rmsprop():
    """RMSPropOptimizer (tf_cnn_benchmarks' rmsprop: decay 0.9, momentum 0.9, epsilon 1.0; and
    centered): slot names, op names, values after three steps."""
    w = tf.get_variable("w", [3], initializer=tf.constant_initializer(1.0))
    u = tf.get_variable("u", [2], initializer=tf.constant_initializer(-2.0))
    loss = tf.reduce_sum(w * w * tf.constant([1.0, 2.0, 3.0])) + tf.reduce_sum(u * u * u)
    opt = tf.train.RMSPropOptimizer(0.1, decay=0.9, momentum=0.9, epsilon=1.0)
    step = opt.minimize(loss, var_list=[w])
    opt2 = tf.train.RMSPropOptimizer(0.05, decay=0.8, momentum=0.5, epsilon=1e-3, centered=True)
    step2 = opt2.minimize(loss, var_list=[u])
    out = [opt.get_slot(w, "rms").op.name, opt.get_slot(w, "momentum").op.name,
           opt2.get_slot(u, "rms").op.name, opt2.get_slot(u, "mg").op.name,
           opt2.get_slot(u, "momentum").op.name, sorted(opt2.get_slot_names()).__str__()]
    out += sorted(o.name + " " + o.type for o in tf.get_default_graph().get_operations()
                  if o.type in ("ApplyRMSProp", "ApplyCenteredRMSProp"))
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        for _ in range(3):
            s.run([step, step2])
            out.append(_vals(s.run([w, u, opt.get_slot(w, "rms"), opt2.get_slot(u, "mg")])))
    return out


@case
def train_adagrad():
    """AdagradOptimizer: the slot's name and initial value, the op, values after three steps, the
    error for a non-positive initial accumulator."""
    w = tf.get_variable("w", [3], initializer=tf.constant_initializer(1.0))
    loss = tf.reduce_sum(w * w * tf.constant([1.0, 2.0, 3.0]))
    opt = tf.train.AdagradOptimizer(0.1, initial_accumulator_value=0.5)
    step = opt.minimize(loss)
    out = [opt.get_slot(w, "accumulator").op.name, step.name]
    out += [o.name + " " + o.type for o in tf.get_default_graph().get_operations()
            if o.type == "ApplyAdagrad"]
    try:
        tf.train.AdagradOptimizer(0.1, initial_accumulator_value=0.0)
        out.append("no error")
    except ValueError as e:
        out.append(str(e))
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        out.append(_vals(s.run(opt.get_slot(w, "accumulator"))))
        for _ in range(3):
            s.run(step)
            out.append(_vals(s.run([w, opt.get_slot(w, "accumulator")])))
    return out


@case
def train_exponential_moving_average():
    gs = tf.train.get_or_create_global_step()
    with tf.device("/cpu:0"):
        with tf.variable_scope("conv1"):
            w = tf.get_variable("w", [2], initializer=tf.constant_initializer(1.0))
    b = tf.Variable([3.0, 4.0], name="b")
    loss = tf.reduce_sum(w * b)
    ema = tf.train.ExponentialMovingAverage(0.9, gs)
    with tf.variable_scope("tower"):
        op = ema.apply([w, b, loss])
    out = [op.name, ema.average(w).name, ema.average(b).name, ema.average(loss).name,
           ema.average(w).device, ema.average_name(w)]
    out += sorted(ema.variables_to_restore().keys())
    out += [v.name for v in tf.moving_average_variables()]
    ema2 = tf.train.ExponentialMovingAverage(0.5, name="avg")
    op2 = ema2.apply([w])
    out += [ema2.average(w).name, op2.name, ema2.average_name(b)]
    try:
        ema.apply([gs])
        out.append("no error")
    except TypeError as e:
        out.append(str(e))
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        out.append(_vals(s.run([ema.average(w), ema.average(loss)])))
        s.run(tf.assign(w, [2.0, 5.0]))
        s.run(op)
        out.append(_vals(s.run([ema.average(w), ema.average(b), ema.average(loss)])))
        s.run(tf.assign_add(gs, 100))
        s.run([op, op2])
        out.append(_vals(s.run([ema.average(w), ema.average(loss), ema2.average(w)])))
    return out


@case
def nn_lrn_in_top_k():
    import numpy as np
    x = tf.constant(np.linspace(-1.5, 2.0, 2 * 1 * 2 * 7).reshape(2, 1, 2, 7).astype(np.float32))
    y = tf.nn.lrn(x, 2, bias=1.0, alpha=0.001 / 9.0, beta=0.75, name="norm1")
    y2 = tf.nn.local_response_normalization(x, depth_radius=1, bias=2.0, alpha=0.5, beta=0.5)
    w = tf.constant(np.linspace(0.5, 3.0, 28).reshape(2, 1, 2, 7).astype(np.float32))
    gx = tf.gradients(tf.reduce_sum(y2 * w), [x])[0]
    nan, inf = float("nan"), float("inf")
    p = tf.constant([[0.1, 0.3, 0.3, 0.2], [1., 2., 3., 4.], [5., 5., 5., 5.],
                     [nan, 1., 2., 0.], [1., nan, 2., 0.], [1., inf, 2., 0.], [0., 0., 1., 0.]])
    t = tf.constant([1, 0, 3, 2, 1, 2, 9])
    ks = [tf.nn.in_top_k(p, t, k) for k in (0, 1, 2, 4)]
    k64 = tf.nn.in_top_k(p, tf.constant([1, 0, 3, 2, 1, 2, 9], tf.int64), 2)
    out = [y.op.name, y2.op.name, ks[0].op.name, ks[1].op.name, ks[0].op.inputs[2].op.name,
           gx.op.type]
    with tf.Session() as s:
        out += [_vals(v) for v in s.run([y, y2, gx])]
        out += [" ".join(str(bool(b)) for b in v) for v in s.run(ks + [k64])]
    return out


def _cifar10_inference(images):
    """TF's models/tutorials/image/cifar10/cifar10.py inference(), float32."""
    def on_cpu(name, shape, initializer):
        with tf.device("/cpu:0"):
            return tf.get_variable(name, shape, initializer=initializer, dtype=tf.float32)

    def with_decay(name, shape, stddev, wd):
        var = on_cpu(name, shape, tf.truncated_normal_initializer(stddev=stddev, dtype=tf.float32))
        if wd is not None:
            tf.add_to_collection("losses", tf.multiply(tf.nn.l2_loss(var), wd, name="weight_loss"))
        return var

    with tf.variable_scope("conv1") as scope:
        kernel = with_decay("weights", [5, 5, 3, 64], 5e-2, None)
        conv = tf.nn.conv2d(images, kernel, [1, 1, 1, 1], padding="SAME")
        biases = on_cpu("biases", [64], tf.constant_initializer(0.0))
        conv1 = tf.nn.relu(tf.nn.bias_add(conv, biases), name=scope.name)
    pool1 = tf.nn.max_pool(conv1, ksize=[1, 3, 3, 1], strides=[1, 2, 2, 1], padding="SAME",
                           name="pool1")
    norm1 = tf.nn.lrn(pool1, 4, bias=1.0, alpha=0.001 / 9.0, beta=0.75, name="norm1")
    with tf.variable_scope("conv2") as scope:
        kernel = with_decay("weights", [5, 5, 64, 64], 5e-2, None)
        conv = tf.nn.conv2d(norm1, kernel, [1, 1, 1, 1], padding="SAME")
        biases = on_cpu("biases", [64], tf.constant_initializer(0.1))
        conv2 = tf.nn.relu(tf.nn.bias_add(conv, biases), name=scope.name)
    norm2 = tf.nn.lrn(conv2, 4, bias=1.0, alpha=0.001 / 9.0, beta=0.75, name="norm2")
    pool2 = tf.nn.max_pool(norm2, ksize=[1, 3, 3, 1], strides=[1, 2, 2, 1], padding="SAME",
                           name="pool2")
    with tf.variable_scope("local3") as scope:
        reshape = tf.reshape(pool2, [images.get_shape().as_list()[0], -1])
        dim = reshape.get_shape()[1]
        weights = with_decay("weights", [dim, 384], 0.04, 0.004)
        biases = on_cpu("biases", [384], tf.constant_initializer(0.1))
        local3 = tf.nn.relu(tf.matmul(reshape, weights) + biases, name=scope.name)
    with tf.variable_scope("local4") as scope:
        weights = with_decay("weights", [384, 192], 0.04, 0.004)
        biases = on_cpu("biases", [192], tf.constant_initializer(0.1))
        local4 = tf.nn.relu(tf.matmul(local3, weights) + biases, name=scope.name)
    with tf.variable_scope("softmax_linear") as scope:
        weights = with_decay("weights", [192, 10], 1 / 192.0, None)
        biases = on_cpu("biases", [10], tf.constant_initializer(0.0))
        return tf.add(tf.matmul(local4, weights), biases, name=scope.name)


@case
def tutorial_cifar10_multi_gpu():
    """cifar10_multi_gpu_train.py's graph (2 towers, batch 2): names, devices, collections."""
    out = []
    with tf.device("/cpu:0"):
        global_step = tf.get_variable("global_step", [], initializer=tf.constant_initializer(0),
                                      trainable=False)
        lr = tf.train.exponential_decay(0.1, global_step, 350, 0.1, staircase=True)
        opt = tf.train.GradientDescentOptimizer(lr)
        tower_grads = []
        with tf.variable_scope(tf.get_variable_scope()):
            for i in range(2):
                with tf.device("/gpu:%d" % i):
                    with tf.name_scope("tower_%d" % i) as scope:
                        images = tf.placeholder(tf.float32, [2, 24, 24, 3], name="images")
                        labels = tf.placeholder(tf.int32, [2], name="labels")
                        logits = _cifar10_inference(images)
                        xent = tf.nn.sparse_softmax_cross_entropy_with_logits(
                            labels=tf.cast(labels, tf.int64), logits=logits,
                            name="cross_entropy_per_example")
                        tf.add_to_collection("losses", tf.reduce_mean(xent, name="cross_entropy"))
                        tf.add_n(tf.get_collection("losses"), name="total_loss")
                        losses = tf.get_collection("losses", scope)
                        total_loss = tf.add_n(losses, name="total_loss")
                        out += [scope, logits.op.name, logits.device, total_loss.op.name]
                        out += [t.op.name for t in losses]
                        tf.get_variable_scope().reuse_variables()
                        tower_grads.append(opt.compute_gradients(total_loss))
        average_grads = []
        for grad_and_vars in zip(*tower_grads):
            grads = [tf.expand_dims(g, 0) for g, _ in grad_and_vars]
            grad = tf.reduce_mean(tf.concat(axis=0, values=grads), 0)
            average_grads.append((grad, grad_and_vars[0][1]))
        out.append(average_grads[0][0].op.name)
        apply_op = opt.apply_gradients(average_grads, global_step=global_step)
        ema = tf.train.ExponentialMovingAverage(0.9999, global_step)
        ema_op = ema.apply(tf.trainable_variables())
        train_op = tf.group(apply_op, ema_op)
    out += [apply_op.name, ema_op.name, train_op.name, lr.op.name]
    out += ["%s %s %s" % (v.op.name, v.get_shape().as_list(), v.device)
            for v in tf.trainable_variables()]
    out.append(str(len(tf.global_variables())))
    out += [ema.average(v).op.name for v in tf.trainable_variables()[:2]]
    return out


@case
def clip_by_norms():
    """global_norm, clip_by_global_norm (with an empty entry, an inf norm) and clip_by_norm:
    the ops in order, values and gradients."""
    a = tf.constant([[3.0, 4.0]])
    b = tf.constant([12.0])
    n0 = len(tf.get_default_graph().get_operations())
    clipped, norm = tf.clip_by_global_norm([a, None, b], 6.5)
    out = [o.name + " " + o.type for o in tf.get_default_graph().get_operations()[n0:]]
    out += [clipped[0].name, str(clipped[1]), clipped[2].name, norm.name]
    n0 = len(tf.get_default_graph().get_operations())
    c2 = tf.clip_by_norm(a, 2.0)
    out += [o.name + " " + o.type for o in tf.get_default_graph().get_operations()[n0:]]
    z = tf.constant([[3.0, 4.0], [0.0, 0.0]])
    c3 = tf.clip_by_norm(z, 2.0, axes=[1])
    g3 = tf.gradients(tf.reduce_sum(c3 * tf.constant([[1.0, 2.0], [3.0, 4.0]])), [z])[0]
    big, _ = tf.clip_by_global_norm([tf.constant([1.0, float("inf")])], 1.0)
    small, n2 = tf.clip_by_global_norm([a], 100.0)
    gn = tf.global_norm([a, b])
    with tf.Session() as s:
        out += [_vals(v) for v in s.run([clipped[0], clipped[2], norm, c2, c3, g3, small[0], n2, gn])]
        out.append(" ".join("nan" if v != v else "%g" % v for v in s.run(big[0])))
    return out


@case
def nn_moments_batch_normalization():
    import numpy as np
    """tf.nn.moments and tf.nn.batch_normalization: the ops, values, gradients (through the
    statistics too), keep_dims, no offset or scale; SquaredDifference with broadcasting."""
    x = tf.constant([[1.0, 2.0, 4.0], [3.0, 5.0, 9.0]])
    n0 = len(tf.get_default_graph().get_operations())
    m, v = tf.nn.moments(x, [0])
    y = tf.nn.batch_normalization(x, m, v, tf.constant([0.5, 0.0, -1.0]),
                                  tf.constant([2.0, 1.0, 3.0]), 1e-3)
    out = [o.name + " " + o.type for o in tf.get_default_graph().get_operations()[n0:]]
    mk, vk = tf.nn.moments(x, [1], keep_dims=True)
    y2 = tf.nn.batch_normalization(x, mk, vk, None, None, 0.0)
    w = tf.constant([[1.0, -2.0, 0.5], [0.25, 3.0, -1.0]])
    gx = tf.gradients(tf.reduce_sum(y * w), [x])[0]
    gx2 = tf.gradients(tf.reduce_sum(y2 * w), [x])[0]
    sd = tf.squared_difference(tf.constant([[1.0], [4.0]]), tf.constant([0.5, 2.0, -1.0]))
    ga, gb = tf.gradients(tf.reduce_sum(sd * w), [sd.op.inputs[0], sd.op.inputs[1]])
    isd = tf.squared_difference(tf.constant([3, -4]), tf.constant([5, 6]))
    out += [mk.shape.as_list().__str__(), y2.op.name]
    with tf.Session() as s:
        # (5 digits: float32 sums in another order differ in the 6th)
        out += [" ".join("%.5g" % e for e in np.asarray(t).flatten())
                for t in s.run([m, v, y, mk, vk, y2, gx, gx2, sd, ga, gb, isd])]
    return out


@case
def nn_conv2d_transpose_l2_normalize():
    """conv2d_transpose (SAME and VALID, gradients to the input and filter, the channel errors)
    and l2_normalize (ops, values, a zero row, gradient)."""
    import numpy as np
    x = tf.constant(np.arange(2 * 3 * 3 * 2, dtype=np.float32).reshape(2, 3, 3, 2) / 10)
    f = tf.constant(np.linspace(-1, 1, 3 * 3 * 4 * 2).astype(np.float32).reshape(3, 3, 4, 2))
    n0 = len(tf.get_default_graph().get_operations())
    y = tf.nn.conv2d_transpose(x, f, [2, 6, 6, 4], [1, 2, 2, 1], padding="SAME")
    out = [o.name + " " + o.type for o in tf.get_default_graph().get_operations()[n0:]]
    yv = tf.nn.conv2d_transpose(x, f, [2, 7, 7, 4], [1, 2, 2, 1], padding="VALID")
    w = tf.constant(np.linspace(-2, 2, 2 * 6 * 6 * 4).astype(np.float32).reshape(2, 6, 6, 4))
    gx, gf = tf.gradients(tf.reduce_sum(y * w), [x, f])
    for bad in (lambda: tf.nn.conv2d_transpose(x, f, [2, 6, 6, 5], [1, 2, 2, 1]),
                lambda: tf.nn.conv2d_transpose(tf.zeros([2, 3, 3, 3]), f, [2, 6, 6, 4], [1, 2, 2, 1])):
        try:
            bad()
            out.append("no error")
        except ValueError as e:  # shape inference's text, up to the node
            out.append(str(e).split(" for '")[0])
    v = tf.constant([[3.0, 4.0], [0.0, 0.0], [1.0, -1.0]])
    n0 = len(tf.get_default_graph().get_operations())
    n = tf.nn.l2_normalize(v, axis=1)
    out += [o.name + " " + o.type for o in tf.get_default_graph().get_operations()[n0:]]
    gn = tf.gradients(tf.reduce_sum(n * tf.constant([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])), [v])[0]
    na = tf.nn.l2_normalize(v)
    with tf.Session() as s:
        # (4 digits: float32 sums in another order differ in the 6th, and a value on a rounding
        # boundary in the 5th)
        out += [" ".join("%.4g" % e for e in np.asarray(t).flatten())
                for t in s.run([y, yv, gx, gf, n, gn, na])]
    return out


@case
def m_device_merging():
    out = []
    with tf.device("/job:ps"):
        with tf.device("/gpu:1"):
            out.append(tf.constant(1).device)
    with tf.device("/gpu:1"):
        with tf.device(None):
            out.append(tf.constant(1).device)
    with tf.device("/job:ps/task:0"):
        v = tf.get_variable("v", [1])
        out += [v.device, v.initial_value.device]
    return out


def _op_line(o):
    """An op as the control-flow cases compare it: name, type, inputs, control inputs and the
    op it is colocated with."""
    coloc = [g.decode()[5:] for g in o.colocation_groups()]
    return " ".join([o.name, o.type] + [i.name for i in o.inputs] +
                    ["^" + c.name for c in o.control_inputs] + ["@" + ",".join(coloc)])


@case
def control_flow_cond():
    """tf.cond: the graph (Switches named after the op that needs them, pivots, Merge), its
    gradients (cond_grad Switches and Merges, zeros for the other branch), values for both
    branches, what cannot be fetched, TF's errors."""
    import numpy as np
    x = tf.placeholder(tf.float32, [2], name="x")
    p = tf.placeholder(tf.bool, [], name="p")
    w = tf.get_variable("w", [2], initializer=tf.ones_initializer())
    n0 = len(tf.get_default_graph().get_operations())
    r = tf.cond(p, lambda: x * w + tf.constant([1.0, 1.0]), lambda: x)
    n1 = len(tf.get_default_graph().get_operations())
    gx, gw = tf.gradients(r, [x, w])
    ops = tf.get_default_graph().get_operations()
    out = [r.name, str(r.shape.as_list())] + [_op_line(o) for o in ops[n0:n1]]
    # the gradients' ops, except the grad_ys TF fills (compared elsewhere)
    out += [_op_line(o) for o in ops[n1:] if "grad_ys" not in o.name and o.name != "gradients/Shape"]
    out += [gx.name, gw.name]
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        for pv in (True, False):
            out += [" ".join("%g" % e for e in np.asarray(t).flatten())
                    for t in s.run([r, gx, gw], {x: [1.0, 2.0], p: pv})]
        try:
            s.run(tf.get_default_graph().get_operation_by_name("cond/mul").outputs[0],
                  {x: [1.0, 2.0], p: True})
        except ValueError as e:
            out.append(str(e))
    out.append(err(lambda: tf.cond(x[0], lambda: x, lambda: x)))
    out.append(err(lambda: tf.cond(p, lambda: x, lambda: tf.constant(1))))
    return out


@case
def control_flow_nested_assign():
    """A cond inside a cond's branch, a variable made in a branch (lifted out), assignments in
    branches (RefSwitch, RefMerge), a branch that returns an op (with_dependencies)."""
    p = tf.placeholder(tf.bool, [], name="p")
    q = tf.placeholder(tf.bool, [], name="q")
    x = tf.constant([1.0, 2.0], name="x")
    holder = []

    def outer_true():
        v = tf.get_variable("v", [2], initializer=tf.constant_initializer(3.0))
        holder.append(v)
        return tf.cond(q, lambda: x * v, lambda: x + v)
    n0 = len(tf.get_default_graph().get_operations())
    r = tf.cond(p, outer_true, lambda: -x)
    ops = tf.get_default_graph().get_operations()
    out = [r.name] + [_op_line(o) for o in ops[n0:]]
    a = tf.get_variable("a", [], initializer=tf.zeros_initializer())
    n1 = len(tf.get_default_graph().get_operations())
    ra = tf.cond(p, lambda: tf.assign(a, 1.0), lambda: tf.assign_add(a, 5.0))
    done = tf.cond(p, lambda: tf.assign_add(a, 100.0).op, lambda: tf.no_op())
    ops = tf.get_default_graph().get_operations()
    out += [ra.name, done.name, str(done.dtype.name)] + [_op_line(o) for o in ops[n1:]]
    out.append(str(len(tf.get_collection("cond_context"))))
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        for pv, qv in ((True, True), (True, False), (False, True)):
            out.append(" ".join("%g" % e for e in s.run(r, {p: pv, q: qv})))
        for pv in (False, False, True):
            out.append("%g" % s.run(ra, {p: pv}))
        out.append("%s %g" % (s.run(done, {p: False}), s.run(a)))
        out.append("%s %g" % (s.run(done, {p: True}), s.run(a)))
    return out


@case
def control_flow_batch_norm_ema():
    """TF1's batch-norm idiom: the batch's statistics and a moving average of them while
    training, the moving average when evaluating, through tf.cond; the graph's names, the
    variables, and values after two training steps and an evaluation."""
    import numpy as np
    x = tf.constant(np.arange(8, dtype=np.float32).reshape(4, 2) / 4.0, name="x")
    training = tf.placeholder(tf.bool, [], name="is_training")
    w = tf.get_variable("w", [2, 2], initializer=tf.constant_initializer(0.5))
    h = tf.matmul(x, w) + tf.constant([[0.0, 1.0], [2.0, -1.0], [0.5, 0.25], [1.0, 3.0]])
    mean, var = tf.nn.moments(h, [0])
    ema = tf.train.ExponentialMovingAverage(0.5)

    def train_stats():
        update = ema.apply([mean, var])
        with tf.control_dependencies([update]):
            return tf.identity(mean), tf.identity(var)
    n0 = len(tf.get_default_graph().get_operations())
    m, v = tf.cond(training, train_stats, lambda: (ema.average(mean), ema.average(var)))
    ops = tf.get_default_graph().get_operations()
    out = [m.name, v.name] + [_op_line(o) for o in ops[n0:]]
    y = tf.nn.batch_normalization(h, m, v, None, None, 1e-3)
    loss = tf.reduce_sum(y * tf.constant([[1.0, -2.0], [0.5, 3.0], [-1.0, 0.25], [2.0, 1.0]]))
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    out += [t.op.name for t in tf.global_variables()] + [t.op.name for t in tf.trainable_variables()]
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        for _ in range(2):
            s.run(train, {training: True})
        shadows = [ema.average(mean), ema.average(var)]
        out += [" ".join("%.5g" % e for e in np.asarray(t).flatten())
                for t in s.run([w] + shadows)]
        out.append("%.5g" % s.run(loss, {training: False}))
        out += [" ".join("%.5g" % e for e in np.asarray(t).flatten())
                for t in s.run([w] + shadows)]
    return out


@case
def control_flow_case():
    """tf.case with a default: nested conds under "case", the first true predicate's function,
    TF's TypeError for a non-bool predicate."""
    x = tf.placeholder(tf.float32, [], name="x")
    n0 = len(tf.get_default_graph().get_operations())
    r = tf.case([(tf.less(x, 0.0), lambda: -x), (tf.greater(x, 10.0), lambda: x - 10.0)],
                default=lambda: x * 2.0)
    out = [r.name] + [_op_line(o) for o in tf.get_default_graph().get_operations()[n0:]]
    with tf.Session() as s:
        out.append(" ".join("%g" % s.run(r, {x: v}) for v in (-3.0, 5.0, 20.0, 0.0, 10.0)))
    try:
        tf.case([(x, lambda: x)], default=lambda: x)
        out.append("no error")
    except TypeError as e:
        out.append(str(e))
    return out


@case
def layers_cnn():
    """tf.layers: conv2d, max_pooling2d, flatten, dense (named and not), dropout on a training
    tensor (a cond) and a bool; variables, op names, sharing by name with reuse, the
    already-exists error, values with fixed initializers."""
    import numpy as np
    x = tf.placeholder(tf.float32, [None, 6, 6, 1], name="x")
    training = tf.placeholder(tf.bool, [], name="training")
    n0 = len(tf.get_default_graph().get_operations())
    k = tf.constant_initializer(0.1)
    h = tf.layers.conv2d(x, 4, 3, padding="same", activation=tf.nn.relu, kernel_initializer=k)
    h = tf.layers.max_pooling2d(h, 2, 2)
    h = tf.layers.conv2d(h, 2, [3, 3], kernel_initializer=k, bias_initializer=tf.constant_initializer(0.5))
    h = tf.layers.average_pooling2d(h, [1, 1], [1, 1], padding="same")
    f = tf.layers.flatten(h)
    d = tf.layers.dense(f, 5, activation=tf.nn.relu, name="fc", kernel_initializer=k)
    d = tf.layers.dropout(d, rate=0.4, training=training)
    logits = tf.layers.dense(d, 3, kernel_initializer=tf.constant_initializer(-0.2), use_bias=False)
    ev = tf.layers.dropout(logits, 0.5, training=False)
    out = [o.name + " " + o.type for o in tf.get_default_graph().get_operations()[n0:]
           if "/Initializer/" not in o.name and "dropout/cond/dropout/" not in o.name]
    out += [v.op.name + " " + str(v.shape.as_list()) for v in tf.global_variables()]
    out += [str(f.shape.as_list()), str(logits.shape.as_list()), ev.op.name]
    with tf.variable_scope("tower", reuse=tf.AUTO_REUSE):
        a = tf.layers.dense(f, 3, name="shared")
        b = tf.layers.dense(f, 3, name="shared")
    out += [a.op.name, b.op.name, str(len(tf.global_variables()))]
    c = tf.layers.dense(f, 3, name="fc2")
    e = tf.layers.dense(f, 3, name="fc2", reuse=True)
    out += [c.op.name, e.op.name, str(len(tf.global_variables()))]
    out.append(err(lambda: tf.layers.dense(f, 3, name="fc")))
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        xv = (np.arange(72, dtype=np.float32).reshape(2, 6, 6, 1) - 30.0) / 10.0
        out.append(" ".join("%.5g" % v for v in s.run(logits, {x: xv, training: False}).flatten()))
        out.append(" ".join("%.5g" % v for v in s.run(ev, {x: xv, training: False}).flatten()))
    return out


@case
def layers_batch_norm():
    """tf.layers.batch_normalization: the fused kernel (NHWC training on a bool, NHWC on a
    training tensor, NCHW without gamma / beta), the composed ops (2-D inputs on a training
    tensor), UPDATE_OPS, variables, sharing with reuse, gradients and values."""
    import numpy as np
    g = tf.get_default_graph()
    # Left out: the composed ops' gradient graph (gradients_2: Rsqrt's gradient is TF's RsqrtGrad
    # op, composed ops in ScopeFlow, a known difference; its values are compared).
    skip = lambda o: "/Initializer/" in o.name or o.name.startswith("gradients_2/")
    out = []
    x = tf.placeholder(tf.float32, [2, 3, 3, 4], name="x")
    training = tf.placeholder(tf.bool, [], name="training")
    n0 = len(g.get_operations())
    y1 = tf.layers.batch_normalization(x, training=True, name="bn1")
    w = tf.placeholder(tf.float32, [2, 3, 3, 4], name="w")
    l1 = tf.reduce_sum(y1 * w)
    gr1 = tf.gradients(l1, [x] + tf.trainable_variables("bn1"))
    y2 = tf.layers.batch_normalization(x, training=training, momentum=0.9, name="bn2",
                                       gamma_initializer=tf.constant_initializer(1.5),
                                       beta_initializer=tf.constant_initializer(0.25))
    l2 = tf.reduce_sum(y2 * w)
    gr2 = tf.gradients(l2, [x] + tf.trainable_variables("bn2"))
    xc = tf.placeholder(tf.float32, [2, 4, 3, 3], name="xc")
    y3 = tf.layers.batch_normalization(xc, axis=1, training=True, center=False, scale=False)
    z = tf.placeholder(tf.float32, [5, 3], name="z")
    y4 = tf.layers.batch_normalization(z, training=training, epsilon=0.01, name="dense_bn")
    wz = tf.placeholder(tf.float32, [5, 3], name="wz")
    l4 = tf.reduce_sum(y4 * wz)
    gr4 = tf.gradients(l4, [z] + tf.trainable_variables("dense_bn"))
    y5 = tf.layers.batch_normalization(z, training=False, name="dense_bn", reuse=True)
    out += [_op_line(o) for o in g.get_operations()[n0:] if not skip(o)]
    out += [v.op.name + " " + str(v.shape.as_list()) + " " + str(v in tf.trainable_variables())
            for v in tf.global_variables()]
    out += ["UPDATE_OPS " + " ".join(o.name for o in tf.get_collection(tf.GraphKeys.UPDATE_OPS))]
    out += [str(y.shape.as_list()) for y in (y1, y2, y3, y4, y5)]
    # (TF's message goes on with Python's spelling of the shape.)
    out.append(err(lambda: tf.layers.batch_normalization(tf.placeholder(tf.float32, [2, None])))
               .split(" Received")[0])
    out.append(err(lambda: tf.layers.batch_normalization(x, name="bn1")))
    xv = ((np.arange(72, dtype=np.float32).reshape(2, 3, 3, 4) * 7) % 11 - 5.0) / 4.0
    ic, iz = np.arange(72, dtype=np.float32), np.arange(15, dtype=np.float32)
    xcv = (((ic * 5) % 13 - 5.5) / 3.0 + ic / 32.0).reshape(2, 4, 3, 3)
    zv = (((iz * 3) % 7 - 2.25) / 2.0 + iz / 16.0).reshape(5, 3)
    wv = ((np.arange(72, dtype=np.float32).reshape(2, 3, 3, 4) * 5) % 9 - 2.5) / 3.0
    wzv = ((np.arange(15, dtype=np.float32).reshape(5, 3) * 2) % 5 - 1.5) / 2.0
    # 4 digits: TF sums the statistics in float32, ScopeFlow in double.
    fmt = lambda a: " ".join("%.4g" % v for v in np.asarray(a).flatten())
    moving = [v for v in tf.global_variables() if "moving" in v.op.name]
    updates = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        feed = {x: xv, xc: xcv, z: zv, w: wv, wz: wzv, training: True}
        for r in s.run([y1, y2, y3, y4] + gr1 + gr2 + gr4, feed):
            out.append(fmt(r))
        s.run(updates, feed)
        s.run(updates, feed)
        out += [v.op.name + " " + fmt(s.run(v)) for v in moving]
        feed[training] = False
        for r in s.run([y2, y4, y5] + gr2 + gr4, feed):
            out.append(fmt(r))
        s.run(updates, feed)  # inference: the moving statistics stay
        out += [v.op.name + " " + fmt(s.run(v)) for v in moving]
    return out


@case
def layers_batch_norm_layouts():
    """tf.layers.batch_normalization on NCHW with a training tensor (the inference branch's
    gradient transposes to NHWC), on 5-D inputs (NDHWC, NCDHW: fused), and
    tf.nn.fused_batch_norm's epsilon (TF 2: no floor)."""
    import numpy as np
    g = tf.get_default_graph()
    skip = lambda o: "/Initializer/" in o.name
    xc = tf.placeholder(tf.float32, [2, 4, 3, 3], name="xc")
    wc = tf.placeholder(tf.float32, [2, 4, 3, 3], name="wc")
    training = tf.placeholder(tf.bool, [], name="training")
    x5 = tf.placeholder(tf.float32, [2, 3, 2, 2, 4], name="x5")
    n0 = len(g.get_operations())
    y1 = tf.layers.batch_normalization(xc, axis=1, training=training, name="nchw")
    gr1 = tf.gradients(tf.reduce_sum(y1 * wc), [xc] + tf.trainable_variables("nchw"))
    y5 = tf.layers.batch_normalization(x5, training=True, name="ndhwc")
    y6 = tf.layers.batch_normalization(x5, axis=1, training=True, name="ncdhw")
    ye, _, _ = tf.nn.fused_batch_norm(xc, tf.ones([4]), tf.zeros([4]), epsilon=1e-7,
                                      data_format="NCHW", name="eps")
    out = [_op_line(o) for o in g.get_operations()[n0:] if not skip(o)]
    out.append("epsilon %.3g" % ye.op.get_attr("epsilon"))
    out += [str(y.shape.as_list()) for y in (y1, y5, y6)]
    i72 = np.arange(72, dtype=np.float32)
    i96 = np.arange(96, dtype=np.float32)
    xcv = (((i72 * 5) % 13 - 5.5) / 3.0 + i72 / 32.0).reshape(2, 4, 3, 3)
    wcv = (((i72 * 7) % 9 - 3.5) / 4.0).reshape(2, 4, 3, 3)
    x5v = (((i96 * 3) % 11 - 4.5) / 3.0 + i96 / 64.0).reshape(2, 3, 2, 2, 4)
    fmt = lambda a: " ".join("%.4g" % v for v in np.asarray(a).flatten())
    moving = [v for v in tf.global_variables() if "moving" in v.op.name]
    updates = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        for t in (True, False):
            feed = {xc: xcv, wc: wcv, x5: x5v, training: t}
            for r in s.run([y1] + gr1, feed):
                out.append(fmt(r))
            s.run(updates, feed)
        for r in s.run([y5, y6, ye], {xc: xcv, x5: x5v}):
            out.append(fmt(r))
        out += [v.op.name + " " + fmt(s.run(v)) for v in moving]
    return out


@case
def layers_dense_tensordot():
    """tf.layers.dense on rank-3 inputs: TF's tensordot, with the run-time shape arithmetic for a
    batch of None and Consts for a fully defined shape (shared by reuse); tf.tensordot with
    permuted pairs, an integer axes and a static side against a run-time one; gradients through
    the run-time path (InvertPermutation, Reshape's -1 Const); values."""
    import numpy as np
    g = tf.get_default_graph()
    skip = lambda o: "/Initializer/" in o.name
    x = tf.placeholder(tf.float32, [None, 5, 3], name="x")
    x2 = tf.placeholder(tf.float32, [2, 5, 3], name="x2")
    a = tf.placeholder(tf.float32, [2, 3, 4], name="a")
    b = tf.placeholder(tf.float32, [4, 3, 6], name="b")
    n0 = len(g.get_operations())
    y = tf.layers.dense(x, 4, activation=tf.nn.relu, name="proj")
    y2 = tf.layers.dense(x2, 4, name="proj", reuse=True)
    t = tf.tensordot(a, b, [[1, 2], [1, 0]])
    t2 = tf.tensordot(a, b, 1)
    tm = tf.tensordot(a, x, [[1], [2]], name="mixed")
    kernel, bias = tf.trainable_variables("proj")
    gr = tf.gradients(tf.reduce_sum(y * y), [x, kernel, bias])
    gt = tf.gradients(tf.reduce_sum(tm * tm), [x, a])
    out = [_op_line(o) for o in g.get_operations()[n0:] if not skip(o)]
    out += [str(v.shape.as_list()) for v in [y, y2, t, t2, tm] + gr + gt]
    out += [v.op.name + " " + str(v.shape.as_list()) for v in tf.global_variables()]
    i = np.arange(120, dtype=np.float32)
    xv = (((i[:30] * 7) % 11 - 5.0) / 4.0 + i[:30] / 41.0).reshape(2, 5, 3)
    av = (((i[:24] * 5) % 13 - 6.0) / 5.0 + i[:24] / 37.0).reshape(2, 3, 4)
    bv = (((i[:72] * 3) % 7 - 3.0) / 3.0).reshape(4, 3, 6)
    kv = (((i[:12] * 5) % 9 - 4.0) / 3.0).reshape(3, 4)
    bsv = np.array([0.25, -0.5, 0.75, 0.0], dtype=np.float32)
    fmt = lambda r: " ".join("%.4g" % v for v in np.asarray(r).flatten())
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        s.run([tf.assign(kernel, kv), tf.assign(bias, bsv)])
        for r in s.run([y, y2, t, t2, tm] + gr + gt, {x: xv, x2: xv, a: av, b: bv}):
            out.append(fmt(r))
    return out


@case
def math_broadcast_gradients():
    """Gradients of broadcasting binary ops as TF 2.21's _ReduceGradientArgs: static reduction
    axes ([?, 3] with [3]), run-time ones ([?, ?] with [3]), a [2, 1] stretched, a scalar, and
    the fully-specified-equal fast paths of Add / Sub / Mul / SquaredDifference; op for op,
    static shapes and values."""
    import numpy as np
    g = tf.get_default_graph()
    a = tf.placeholder(tf.float32, [None, 3], name="a")
    b = tf.placeholder(tf.float32, [3], name="b")
    c = tf.placeholder(tf.float32, [2, 1], name="c")
    d = tf.placeholder(tf.float32, [2, 3], name="d")
    e = tf.placeholder(tf.float32, [None, None], name="e")
    r = tf.placeholder(tf.float32, [1, 3], name="r")
    u = tf.placeholder(tf.float32, None, name="u")
    big = tf.placeholder(tf.float32, [40, 40], name="big")
    c2 = tf.placeholder(tf.float32, [40, 1], name="c2")
    n0 = len(g.get_operations())
    ys = [a + b, a - b, a * b, a / b, tf.pow(d, c), tf.squared_difference(d, c), d * d, d - c,
          e * b, d + 2.0, tf.squared_difference(d, d), d + d, b * r, u * b, r * a,
          tf.pow(big, c2)]
    gr = tf.gradients(ys, [a, b, c, d, e, r, u, big, c2])
    out = [_op_line(o) for o in g.get_operations()[n0:]]
    out += [str(t.shape.as_list()) if t.shape.rank is not None else "None" for t in gr]
    i = np.arange(12, dtype=np.float32)
    feed = {a: ((i[:6] * 5) % 7 / 3.0 + 0.5).reshape(2, 3), b: np.array([1.5, -0.75, 2.0], np.float32),
            c: np.array([[0.5], [1.25]], np.float32), d: ((i[:6] * 3) % 5 / 2.0 + 0.25).reshape(2, 3),
            e: ((i[:6] * 7) % 11 / 4.0 - 1.0).reshape(2, 3),
            r: np.array([[0.25, -1.5, 0.5]], np.float32), u: ((i[:6] * 2) % 5 / 3.0 - 0.5).reshape(2, 3),
            big: (np.arange(1600, dtype=np.float32) % 13 / 7.0 + 0.125).reshape(40, 40),
            c2: (np.arange(40, dtype=np.float32) % 3 / 2.0 + 0.5).reshape(40, 1)}
    with tf.Session() as s:
        for k, t in enumerate(gr[:7] + gr[8:]):  # c2's sums of 40 cancel: 4 digits
            f = "%.4g" if k == 7 else "%.5g"
            out.append(" ".join(f % v for v in np.asarray(s.run(t, feed)).flatten()))
        out.append("%.4g" % np.asarray(s.run(gr[7], feed)).sum())
    return out



@case
def math_tile_range_reductions():
    """tf.tile, tf.range, floormod / floordiv (% and //), tf.dynamic_stitch, zeros_like /
    ones_like, and the gradients of Sum, Mean, Max, Tile, FloorMod and DynamicStitch as TF 2.21
    builds them: _SumGrad's Reshape + Tile fast paths (and the ops its reduced-shape cache leaves
    the first time), reduced_shape's FloorMod / Range / DynamicStitch at run time, _MeanGrad's
    run-time factor, an input of unknown rank; op for op, static shapes and values."""
    import numpy as np
    g = tf.get_default_graph()
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    y = tf.placeholder(tf.float32, [2, 3], name="y")
    u = tf.placeholder(tf.float32, None, name="u")
    w = tf.placeholder(tf.float32, [2, 1, 3], name="w")
    big = tf.placeholder(tf.float32, [40, 40], name="big")
    n0 = len(g.get_operations())
    fwd = [tf.tile(y, [2, 1]), tf.tile(x, tf.constant([1, 2])), tf.range(5), tf.range(1, 10, 3),
           tf.range(0.5, 2.0, 0.25), tf.range(10, 1, -4), tf.range(0, 2.5, 0.5),
           tf.range(tf.constant(3), tf.constant(9, tf.int64), 2),
           tf.math.floormod(tf.constant([7, -7, 7, -7, 0]), tf.constant([3, 3, -3, -3, 5])),
           tf.constant([5.5, -5.5, 5.5, -5.5]) % tf.constant([2.0, 2.0, -2.0, -2.0]),
           tf.math.floordiv(tf.constant([7, -7, 7, -7]), tf.constant([3, 3, -3, -3])),
           tf.math.floordiv(tf.constant([5.5, -5.5]), tf.constant([2.0, 2.0])),
           tf.dynamic_stitch([tf.constant([0, 2]), tf.constant([[1], [3]])], [y, w]),
           tf.zeros_like(x), tf.zeros_like(y), tf.ones_like(x), tf.ones_like(y), tf.zeros_like(big),
           tf.zeros_like(x, dtype=tf.int32), tf.ones_like(y, dtype=tf.int32)]
    ys = [fwd[0], fwd[1], tf.reduce_sum(x), tf.reduce_sum(x, 1), tf.reduce_sum(y, 0),
          tf.reduce_sum(y * y, 0), tf.reduce_sum(y, -1, keepdims=True), tf.reduce_sum(y),
          tf.reduce_sum(u, [0]), tf.reduce_mean(x), tf.reduce_mean(x, 1, keepdims=True),
          tf.reduce_mean(y, 0), tf.reduce_mean(u, 1), tf.reduce_max(x, 1),
          tf.reduce_max(y, 1, keepdims=True), tf.reduce_max(y, [0, 1]),
          tf.math.floormod(x, tf.constant([2.0, 3.0, 4.0])), fwd[12], tf.reduce_mean(u),
          tf.reduce_sum(tf.reduce_max(y)), tf.reduce_max(tf.reduce_sum(y * 2.0))]
    gr = tf.gradients(ys, [x, y, u, w])
    out = [_op_line(o) for o in g.get_operations()[n0:]]
    out += [str(t.shape.as_list()) if t.shape.rank is not None else "None" for t in fwd + ys + gr]
    i = np.arange(12, dtype=np.float32)
    feed = {x: ((i[:6] * 5) % 7 / 3.0 + 0.5).reshape(2, 3),
            y: ((i[:6] * 3) % 5 / 2.0 + 0.25).reshape(2, 3) * np.array([1, -1, 1], np.float32),
            u: ((i[:6] * 7) % 11 / 4.0 - 1.0).reshape(2, 3),
            w: ((i[:6] * 2) % 5 / 3.0 - 0.5).reshape(2, 1, 3),
            big: np.zeros([40, 40], np.float32)}
    with tf.Session() as s:
        for t in fwd[:17] + fwd[18:] + gr:
            out.append(" ".join("%.5g" % v for v in np.asarray(s.run(t, feed)).flatten()))
        out.append("%.5g" % np.asarray(s.run(fwd[17], feed)).sum())
    for f in [lambda: tf.range(1, 5, 0), lambda: tf.range(5, 1, 1), lambda: tf.range(1, 5, -1),
              lambda: tf.tile(y, [1, 2, 3]), lambda: tf.tile(y, [-1, 2])]:
        out.append(err(f).split(" for '{{node")[0])
    return out

def main():
    results = {}
    for name, fn in CASES.items():
        with tf.Graph().as_default():
            try:
                results[name] = fn()
            except Exception as e:  # a case that itself breaks is recorded, not hidden
                results[name] = ["CASE FAILED: %s: %s" % (type(e).__name__, e)]
    out = {"tensorflow_version": tf.__version__ if hasattr(tf, "__version__") else "",
           "cases": results}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tf_golden.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")
    print("wrote %d cases to %s" % (len(results), path))


if __name__ == "__main__":
    sys.exit(main())
