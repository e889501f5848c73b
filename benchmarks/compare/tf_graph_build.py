#!/usr/bin/env python3
"""Peer for sf-bench-scope: the same graph-construction work in TensorFlow's tf.compat.v1
(graph mode, reference variables): 10,000 get_variable calls (100 scopes x 100, [16,16],
default glorot_uniform initializer), the same 10,000 again under reuse, and 10,000 `y + x`
ops. Prints microseconds per variable / per op.
Usage: /tmp/tfenv/bin/python benchmarks/compare/tf_graph_build.py"""
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()
tf.disable_resource_variables()


def timed(fn, repeats=3):
    best = float("inf")
    for _ in range(repeats):
        with tf.Graph().as_default():
            t = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t)
    return best


def build():
    for s in range(100):
        with tf.variable_scope("layer%d" % s):
            for v in range(100):
                tf.get_variable("w%d" % v, [16, 16])


def reuse():
    build()
    t = time.perf_counter()
    for s in range(100):
        with tf.variable_scope("layer%d" % s, reuse=True):
            for v in range(100):
                tf.get_variable("w%d" % v, [16, 16])
    return time.perf_counter() - t


def adds():
    x = tf.placeholder(tf.float32, [16])
    y = x
    for _ in range(10000):
        y = y + x


print("tensorflow", tf.__version__ if hasattr(tf, "__version__") else "")
print("get_variable (create): %.2f us/variable" % (timed(build, 1) / 10000 * 1e6))
with tf.Graph().as_default():
    print("get_variable (reuse):  %.2f us/variable" % (reuse() / 10000 * 1e6))
print("y + x:                 %.2f us/op" % (timed(adds) / 10000 * 1e6))
