#!/usr/bin/env python3
"""Peer for sf-bench-executor: the same graphs run by TensorFlow's tf.compat.v1 Session on
the CPU: a chain of 1,000 scalar adds (y = y + one) and 1,000 independent adds joined by
add_n, fed a scalar placeholder. Prints microseconds per op (best of 5 timed batches).
Usage: /tmp/tfenv/bin/python benchmarks/compare/tf_executor.py [inter_op_threads]"""
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow.compat.v1 as tf  # noqa: E402
from tensorflow.core.protobuf import rewriter_config_pb2  # noqa: E402

tf.disable_v2_behavior()
N = 1000
THREADS = int(sys.argv[1]) if len(sys.argv) > 1 else 1


def measure(build):
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [], name="x")
        y = build(x)
        # Graph rewrites off (Grappler would fold the chain into one AddN, constant folding
        # would fold the rest): this measures the executor, as sf-bench-executor does.
        rewrites = rewriter_config_pb2.RewriterConfig(disable_meta_optimizer=True)
        cfg = tf.ConfigProto(
            inter_op_parallelism_threads=THREADS, intra_op_parallelism_threads=1,
            graph_options=tf.GraphOptions(
                rewrite_options=rewrites,
                optimizer_options=tf.OptimizerOptions(opt_level=tf.OptimizerOptions.L0)))
        with tf.Session(config=cfg) as s:
            feed = {x: 0.0}
            for _ in range(20):
                s.run(y, feed)
            best = float("inf")
            for _ in range(5):
                reps = 50
                t = time.perf_counter()
                for _ in range(reps):
                    s.run(y, feed)
                best = min(best, (time.perf_counter() - t) / reps)
            return best / N * 1e6


def chain(x):
    one = tf.constant(1.0)
    y = x
    for _ in range(N):
        y = y + one
    return y


def wide(x):
    return tf.add_n([x + float(i) for i in range(N)])


print("tf %s inter_op_threads=%d" % (tf.__version__, THREADS))
print("chain_of_adds us_per_op %.3f" % measure(chain))
print("wide_adds     us_per_op %.3f" % measure(wide))
