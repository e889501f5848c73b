#!/usr/bin/env python3
"""Peer for sf-layers-mnist: TF1's layers tutorial model (tensorflow/examples/tutorials/layers/
cnn_mnist.py) in TensorFlow's own tf.compat.v1.layers (graph mode, reference variables; needs
tf_keras: pip install tf-keras), trained the same way on the same Fashion-MNIST files:
conv2d 32 5x5 same relu, max_pooling2d 2, conv2d 64 5x5 same relu, max_pooling2d 2, flatten,
dense 1024 relu, dropout 0.4 on an is_training placeholder (a tf.cond), dense 10; mean sparse
softmax cross-entropy, GradientDescent 0.001; batches fed from numpy in a seeded shuffled
order. The first step is left out of images/sec, as sf-layers-mnist does.
--batch_norm: each conv2d without its bias, then tf.layers.batch_normalization on is_training,
then relu; the train op under control_dependencies(UPDATE_OPS), as sf-layers-mnist --batch_norm.
Usage: python3 benchmarks/compare/tf_layers_mnist.py [--steps 200] [--batch_size 100]
           [--data /usr/share/datasets/fashion-mnist] [--batch_norm] [--json FILE]
Prints "images/sec: N"; --json writes images_per_sec, final_loss, steps, batch_size, tf_version."""
import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_fashion_cnn import read_idx  # noqa: E402  (the same IDX reader)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--batch_size", type=int, default=100)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--batch_norm", action="store_true")
    ap.add_argument("--json")
    a = ap.parse_args()
    import numpy as np
    import tensorflow as tf
    v1 = tf.compat.v1
    v1.disable_v2_behavior()
    v1.disable_resource_variables()
    images = read_idx(os.path.join(a.data, "train-images-idx3-ubyte.gz")).astype(np.float32)
    images = (images / 255.0).reshape(-1, 28, 28, 1)
    labels = read_idx(os.path.join(a.data, "train-labels-idx1-ubyte.gz")).astype(np.int32)
    x = v1.placeholder(tf.float32, [a.batch_size, 28, 28, 1], name="images")
    y = v1.placeholder(tf.int32, [a.batch_size], name="labels")
    training = v1.placeholder(tf.bool, [], name="is_training")
    def conv(t, filters):
        if not a.batch_norm:
            return v1.layers.conv2d(t, filters, [5, 5], padding="same", activation=tf.nn.relu)
        c = v1.layers.conv2d(t, filters, [5, 5], padding="same", use_bias=False)
        return tf.nn.relu(v1.layers.batch_normalization(c, training=training))
    h = conv(x, 32)
    h = v1.layers.max_pooling2d(h, [2, 2], 2)
    h = conv(h, 64)
    h = v1.layers.max_pooling2d(h, [2, 2], 2)
    h = v1.layers.dense(v1.layers.flatten(h), 1024, activation=tf.nn.relu)
    h = v1.layers.dropout(h, rate=0.4, training=training)
    logits = v1.layers.dense(h, 10)
    loss = v1.losses.sparse_softmax_cross_entropy(labels=y, logits=logits)
    with tf.control_dependencies(v1.get_collection(v1.GraphKeys.UPDATE_OPS)):
        train = v1.train.GradientDescentOptimizer(0.001).minimize(loss)
    order = np.random.RandomState(1).permutation(len(labels))
    per_epoch = len(labels) // a.batch_size
    with v1.Session() as s:
        s.run(v1.global_variables_initializer())
        t_first = None
        for step in range(a.steps):
            start = (step % per_epoch) * a.batch_size
            idx = order[start:start + a.batch_size]
            final_loss, _ = s.run([loss, train], {x: images[idx], y: labels[idx], training: True})
            if step == 0:
                t_first = time.perf_counter()
        seconds = time.perf_counter() - t_first
    ips = (a.steps - 1) * a.batch_size / seconds
    print("images/sec: %.1f" % ips)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"images_per_sec": ips, "final_loss": float(final_loss), "steps": a.steps,
                       "batch_size": a.batch_size, "batch_norm": a.batch_norm,
                       "tf_version": tf.__version__}, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    sys.exit(main())
