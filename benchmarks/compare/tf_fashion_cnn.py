#!/usr/bin/env python3
"""Peer for sf-train on the CPU: the same Fashion-MNIST convnet and tower layout in TensorFlow's
own TF1 API (tf.compat.v1 graph mode, as in TF's cifar10_multi_gpu_train.py), so that a user can
compare ScopeFlow with the framework whose semantics it copies, on the same machine.

Model (as samples/train/sf_train.cc): conv 5x5x32 SAME + relu -> maxpool 2x2 -> conv 5x5x64
SAME + relu -> maxpool 2x2 -> dense 3136->1024 + relu -> dropout (keep 0.5) -> dense 10, mean
sparse softmax cross-entropy, Adam 1e-3; weights truncated_normal(stddev 0.1), biases 0.1; NHWC.
Towers: --towers K logical CPU devices (ConfigProto device_count={"CPU": K}, as sf-train's
SessionOptions::device_count), tower_i under a name scope on /device:CPU:i, variables created by
tower 0 and shared through variable_scope reuse, gradients averaged over towers, one update.
Each step feeds a shuffled batch per tower from numpy (feed_dict), as sf-train feeds its
placeholders. --warmup steps untimed, then --steps timed steps.
Usage: python3 benchmarks/compare/tf_fashion_cnn.py [--towers 2] [--batch_size 64] [--steps 300]
           [--warmup 20] [--data /usr/share/datasets/fashion-mnist] [--json FILE]
Prints "images/sec: N"; --json writes images_per_sec, batch_size, towers, device, tf_version."""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_fashion_cnn import read_idx  # noqa: E402  (the same IDX reader)


def build(tf, towers, batch):
    v1 = tf.compat.v1
    images = [v1.placeholder(tf.float32, [batch, 28, 28, 1], name=f"images_{i}")
              for i in range(towers)]
    labels = [v1.placeholder(tf.int64, [batch], name=f"labels_{i}") for i in range(towers)]

    def weight(name, shape):
        return v1.get_variable(name, shape,
                               initializer=v1.truncated_normal_initializer(stddev=0.1))

    def bias(name, n):
        return v1.get_variable(name, [n], initializer=v1.constant_initializer(0.1))

    def tower(x, y):
        with v1.variable_scope("conv1"):
            h = tf.nn.relu(tf.nn.conv2d(x, weight("weights", [5, 5, 1, 32]), [1, 1, 1, 1], "SAME")
                           + bias("biases", 32))
        h = tf.nn.max_pool2d(h, 2, 2, "SAME")
        with v1.variable_scope("conv2"):
            h = tf.nn.relu(tf.nn.conv2d(h, weight("weights", [5, 5, 32, 64]), [1, 1, 1, 1],
                                        "SAME") + bias("biases", 64))
        h = tf.nn.max_pool2d(h, 2, 2, "SAME")
        h = tf.reshape(h, [batch, 7 * 7 * 64])
        with v1.variable_scope("fc1"):
            h = tf.nn.relu(tf.matmul(h, weight("weights", [3136, 1024])) + bias("biases", 1024))
        h = v1.nn.dropout(h, keep_prob=0.5)
        with v1.variable_scope("fc2"):
            logits = tf.matmul(h, weight("weights", [1024, 10])) + bias("biases", 10)
        return tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))

    opt = v1.train.AdamOptimizer(1e-3)
    grads, losses = [], []
    for i in range(towers):
        with tf.device(f"/device:CPU:{i}"), tf.name_scope(f"tower_{i}"), \
                v1.variable_scope("", reuse=i > 0):
            loss = tower(images[i], labels[i])
            losses.append(loss)
            grads.append(opt.compute_gradients(loss))
    with tf.device("/device:CPU:0"):
        averaged = []
        for pairs in zip(*grads):
            g = tf.add_n([g for g, _ in pairs]) / float(towers)
            averaged.append((g, pairs[0][1]))
        train = opt.apply_gradients(averaged, global_step=v1.train.get_or_create_global_step())
        loss = tf.add_n(losses) / float(towers)
    return images, labels, train, loss


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--towers", type=int, default=2)
    ap.add_argument("--batch_size", type=int, default=64, help="images per tower per step")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json")
    args = ap.parse_args()
    if args.towers < 1 or args.batch_size < 1 or args.steps < 1:
        ap.error("--towers, --batch_size and --steps must be positive")

    import numpy as np
    import tensorflow as tf
    v1 = tf.compat.v1
    v1.disable_eager_execution()
    v1.set_random_seed(args.seed)
    images_np = read_idx(os.path.join(args.data, "train-images-idx3-ubyte.gz"))
    labels_np = read_idx(os.path.join(args.data, "train-labels-idx1-ubyte.gz")).astype(np.int64)
    images_np = (images_np.astype(np.float32) / 255.0)[:, :, :, None]

    images, labels, train, loss = build(tf, args.towers, args.batch_size)
    config = v1.ConfigProto(device_count={"CPU": args.towers})
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(images_np))
    per_step = args.towers * args.batch_size
    with v1.Session(config=config) as sess:
        sess.run(v1.global_variables_initializer())
        start, last = None, 0.0
        for step in range(args.warmup + args.steps):
            if step == args.warmup:
                start = time.perf_counter()
            first = (step * per_step) % (len(order) - per_step)
            feed = {}
            for i in range(args.towers):
                idx = order[first + i * args.batch_size:first + (i + 1) * args.batch_size]
                feed[images[i]] = images_np[idx]
                feed[labels[i]] = labels_np[idx]
            _, last = sess.run([train, loss], feed_dict=feed)
        seconds = time.perf_counter() - start
    ips = args.steps * per_step / seconds
    print(f"tensorflow {tf.__version__} on cpu: {args.towers} tower(s) x {args.batch_size}, "
          f"{args.steps} steps in {seconds:.2f} s, loss {last:.4f}")
    print(f"images/sec: {ips:.1f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"images_per_sec": ips, "batch_size": args.batch_size,
                       "towers": args.towers, "device": "cpu", "tf_version": tf.__version__,
                       "steps": args.steps, "final_loss": float(last)}, f, indent=1)


if __name__ == "__main__":
    main()
