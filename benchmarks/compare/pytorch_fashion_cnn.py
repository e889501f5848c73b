#!/usr/bin/env python3
"""Peer for sf-train's throughput: the same Fashion-MNIST convnet trained by PyTorch eager.
conv 5x5x32 SAME + relu -> maxpool 2x2 -> conv 5x5x64 SAME + relu -> maxpool 2x2 ->
dense 3136->1024 + relu -> dropout 0.5 -> dense 10, mean sparse softmax cross-entropy, Adam
(lr 1e-3, betas 0.9/0.999, eps 1e-8: TF1's AdamOptimizer defaults and sf-train's --lr),
weights truncated-normal(0, 0.1) cut at 2 stddev and biases 0.1, as samples/train/sf_train.cc.
Layout is NCHW (PyTorch's own); TF32 is off, so matmuls and convolutions are FP32 like
ScopeFlow's. Each step gathers a shuffled batch on the host and copies it to the device, as
sf-train feeds its placeholders. Timing: --warmup steps untimed, then --steps timed steps
bracketed by torch.cuda.synchronize() (sf-train's images/sec includes its first steps).
Data: synthetic images of Fashion-MNIST's shape (uniform [0, 1), random labels), or the real
training set with --data DIR (train-*-idx*-ubyte.gz, read with numpy).
Usage: python3 benchmarks/compare/pytorch_fashion_cnn.py [--batch_size 64] [--steps 200]
           [--warmup 20] [--device cuda|cpu] [--json FILE] [--data /usr/share/datasets/fashion-mnist]
Prints "images/sec: N"; --json writes images_per_sec, batch_size, device, torch version, steps."""
import argparse
import gzip
import json
import os
import sys
import time

import numpy as np


def read_idx(path):
    """An IDX file (gzip) as a numpy array of its dims: magic 0x00000801 (labels) or
    0x00000803 (images), big-endian int32 dims, then unsigned bytes."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    if magic >> 8 != 0x08 or (magic & 0xFF) not in (1, 3):
        raise ValueError(f"{path}: not an unsigned-byte IDX file (magic 0x{magic:08x})")
    ndim = magic & 0xFF
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise ValueError(f"{path}: {body.size} bytes of data for dims {dims}")
    return body.reshape(dims)


def load_data(folder, n_synthetic, seed):
    """(images float32 [N, 1, 28, 28] in [0, 1], labels int64 [N])."""
    if folder:
        images = read_idx(os.path.join(folder, "train-images-idx3-ubyte.gz"))
        labels = read_idx(os.path.join(folder, "train-labels-idx1-ubyte.gz"))
        return (images.astype(np.float32) / 255.0)[:, None, :, :], labels.astype(np.int64)
    rng = np.random.default_rng(seed)
    images = rng.random((n_synthetic, 1, 28, 28), dtype=np.float32)
    labels = rng.integers(0, 10, size=n_synthetic, dtype=np.int64)
    return images, labels


def build_model(torch):
    nn = torch.nn

    class FashionCnn(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, 5, padding=2)
            self.conv2 = nn.Conv2d(32, 64, 5, padding=2)
            self.fc1 = nn.Linear(7 * 7 * 64, 1024)
            self.fc2 = nn.Linear(1024, 10)
            self.pool = nn.MaxPool2d(2, 2)
            self.dropout = nn.Dropout(0.5)
            for layer in (self.conv1, self.conv2, self.fc1, self.fc2):
                # NOTE: TF's truncated_normal redraws beyond 2 stddev; so does a=-0.2, b=0.2.
                nn.init.trunc_normal_(layer.weight, mean=0.0, std=0.1, a=-0.2, b=0.2)
                nn.init.constant_(layer.bias, 0.1)

        def forward(self, x):
            x = self.pool(torch.relu(self.conv1(x)))
            x = self.pool(torch.relu(self.conv2(x)))
            x = torch.flatten(x, 1)
            x = self.dropout(torch.relu(self.fc1(x)))
            return self.fc2(x)

    return FashionCnn()


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch_size", type=int, default=64, help="images per step (default 64)")
    ap.add_argument("--steps", type=int, default=200, help="timed steps (default 200)")
    ap.add_argument("--warmup", type=int, default=20, help="untimed steps first (default 20)")
    ap.add_argument("--device", default=None, help="cuda or cpu (default: cuda if available)")
    ap.add_argument("--json", help="write the result here")
    ap.add_argument("--data", help="folder with Fashion-MNIST's gzip IDX files (default: synthetic)")
    ap.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    if args.batch_size < 1 or args.steps < 1 or args.warmup < 0:
        ap.error("--batch_size and --steps must be >= 1, --warmup >= 0")

    import torch

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True  # fixed shapes: pick the fastest FP32 algorithms
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        ap.error("--device cuda: no CUDA device available to PyTorch")
    torch.manual_seed(args.seed)

    images, labels = load_data(args.data, 60000, args.seed)
    images, labels = torch.from_numpy(images), torch.from_numpy(labels)
    n = images.shape[0]
    if n < args.batch_size:
        ap.error(f"--batch_size {args.batch_size} exceeds the {n} training images")
    model = build_model(torch).to(device)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.999), eps=1e-8)
    loss_fn = torch.nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(args.seed)
    order = torch.randperm(n, generator=gen)
    pos = 0

    def sync():
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    def step():
        nonlocal order, pos
        if pos + args.batch_size > n:
            order, pos = torch.randperm(n, generator=gen), 0
        idx = order[pos:pos + args.batch_size]
        pos += args.batch_size
        x = images[idx].to(device, non_blocking=False)
        y = labels[idx].to(device, non_blocking=False)
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    for _ in range(args.warmup):
        step()
    sync()
    start = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    sync()
    seconds = time.perf_counter() - start
    final_loss = float(loss.item())
    ips = args.steps * args.batch_size / seconds
    print(f"torch {torch.__version__} on {device}: {args.steps} steps of {args.batch_size} in "
          f"{seconds:.3f}s, final loss {final_loss:.4f}")
    print(f"images/sec: {ips:.1f}")
    if args.json:
        result = {"images_per_sec": ips, "batch_size": args.batch_size, "device": device,
                  "device_name": (torch.cuda.get_device_name(device)
                                  if device.startswith("cuda") else "cpu"),
                  "torch_version": torch.__version__, "steps": args.steps,
                  "warmup_steps": args.warmup, "seconds": seconds, "final_loss": final_loss,
                  "learning_rate": args.lr, "data": args.data or "synthetic", "tf32": False}
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
