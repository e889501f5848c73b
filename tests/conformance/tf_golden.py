#!/usr/bin/env python3
"""Runs CONFORMANCE.md / API.md cases on the real TensorFlow (tf.compat.v1, graph mode,
reference variables) and writes the names, flags and error texts it sees into
tf_golden.json beside this file. The C++ test tf_golden_test.cc runs the same cases in
ScopeFlow and compares, mapping only TF's Python spellings to ScopeFlow's (CONFORMANCE.md's
table). CI does not need TensorFlow: the JSON is checked in.

Usage: python3 -m venv /tmp/tfenv && /tmp/tfenv/bin/pip install tensorflow-cpu
       /tmp/tfenv/bin/python tests/conformance/tf_golden.py
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
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
