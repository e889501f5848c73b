#!/usr/bin/env python3
"""TensorFlow's own cifar10_multi_gpu_train.py step (tf.compat.v1, graph mode) on synthetic
images fed per step, the peer of `sf-cifar10-multi-gpu-train --data synthetic` in the same run:
the same graph (tests/conformance/tf_golden.py's _cifar10_inference, towers on /cpu:i or /gpu:i,
variables on /cpu:0, averaged gradients, exponential_decay, moving averages), the same feeds
(24x24x3 float batches and int32 labels per tower), images/sec from the steps after the first.

Usage: python3 -m venv /tmp/tfenv && /tmp/tfenv/bin/pip install tensorflow-cpu
       /tmp/tfenv/bin/python scripts/bench_cifar10_tutorial_tf.py --num_gpus 2 --batch_size 64 \
           --max_steps 12 --device cpu --json out.json
"""
import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "conformance"))
import numpy as np  # noqa: E402
import tf_golden  # noqa: E402  (disables v2 behaviour and resource variables)

tf = tf_golden.tf


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--num_gpus", type=int, default=1)
    p.add_argument("--batch_size", type=int, default=64)
    p.add_argument("--max_steps", type=int, default=12)
    p.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    p.add_argument("--intra_threads", type=int, default=0)
    p.add_argument("--json", default="")
    a = p.parse_args()
    if a.max_steps < 2:
        p.error("--max_steps must be at least 2 (the first step is not timed)")
    rng = np.random.default_rng(1)
    with tf.Graph().as_default(), tf.device("/cpu:0"):
        global_step = tf.get_variable("global_step", [], initializer=tf.constant_initializer(0),
                                      trainable=False)
        per_epoch = 50000.0 / a.batch_size / a.num_gpus
        lr = tf.train.exponential_decay(0.1, global_step, max(1, int(per_epoch * 350)), 0.1,
                                        staircase=True)
        opt = tf.train.GradientDescentOptimizer(lr)
        tower_grads, feeds, losses = [], [], []
        with tf.variable_scope(tf.get_variable_scope()):
            for i in range(a.num_gpus):
                with tf.device("/%s:%d" % (a.device, i)):
                    with tf.name_scope("tower_%d" % i) as scope:
                        images = tf.placeholder(tf.float32, [a.batch_size, 24, 24, 3])
                        labels = tf.placeholder(tf.int32, [a.batch_size])
                        logits = tf_golden._cifar10_inference(images)
                        xent = tf.nn.sparse_softmax_cross_entropy_with_logits(
                            labels=tf.cast(labels, tf.int64), logits=logits)
                        tf.add_to_collection("losses", tf.reduce_mean(xent, name="cross_entropy"))
                        loss = tf.add_n(tf.get_collection("losses", scope), name="total_loss")
                        tf.get_variable_scope().reuse_variables()
                        tower_grads.append(opt.compute_gradients(loss))
                        feeds.append((images, labels))
                        losses.append(loss)
        grads = []
        for gv in zip(*tower_grads):
            g = tf.reduce_mean(tf.concat([tf.expand_dims(g, 0) for g, _ in gv], 0), 0)
            grads.append((g, gv[0][1]))
        apply_op = opt.apply_gradients(grads, global_step=global_step)
        ema = tf.train.ExponentialMovingAverage(0.9999, global_step)
        train_op = tf.group(apply_op, ema.apply(tf.trainable_variables()))
        config = tf.ConfigProto(device_count={"CPU": max(1, a.num_gpus)},
                                allow_soft_placement=True,
                                intra_op_parallelism_threads=a.intra_threads)
        with tf.Session(config=config) as sess:
            sess.run(tf.global_variables_initializer())
            batches = [{im: rng.standard_normal((a.batch_size, 24, 24, 3)).astype(np.float32),
                        lb: rng.integers(0, 10, a.batch_size).astype(np.int32)}
                       for im, lb in feeds]
            feed = {k: v for b in batches for k, v in b.items()}
            seconds = []
            for step in range(a.max_steps):
                start = time.perf_counter()
                _, loss_value = sess.run([train_op, losses[-1]], feed)
                seconds.append(time.perf_counter() - start)
                print("step %d, loss = %.2f (%.1f examples/sec)" %
                      (step, loss_value, a.batch_size * a.num_gpus / seconds[-1]))
    timed = seconds[1:]
    ips = a.batch_size * a.num_gpus * len(timed) / sum(timed)
    print("total images/sec: %.1f" % ips)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"program": "tensorflow cifar10_multi_gpu_train", "version": tf.__version__,
                       "num_gpus": a.num_gpus, "batch_size": a.batch_size,
                       "steps": a.max_steps, "images_per_sec": ips,
                       "final_loss": float(loss_value)}, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
