#!/usr/bin/env python3
"""Prints a short table from Google Benchmark JSON files: each benchmark's time and
throughput (GB/s, TFLOP/s counters), then the GPU conv2d comparison of sf-bench-kernels:
per pass and shape, native ("cuda") and cuDNN TFLOP/s, % of the FP32 peak measured in the
same run (BM_Gpu_Fp32Peak), the native/cuDNN speed ratio, geometric means per pass and
shape family against the kernels issue's targets, and the shape classes where the native
kernel won every pass measured (candidates for kNativeClasses in conv2d_igemm.cc); last, when
both are given, sf-train's images/sec (its --json) against PyTorch's on the same convnet
(benchmarks/compare/pytorch_fashion_cnn.py --json)."""
import json
import math
import re
import sys

CONV = re.compile(r"^BM_Conv2D_Gpu/(fprop|dgrad|wgrad)/([^/]+)/(native|cudnn)(/manual_time)?$")
TARGETS = {"fprop": 0.6, "dgrad": 0.5, "wgrad": 0.5}  # native/cuDNN geomean on ResNet shapes


def load(path):
    with open(path) as f:
        return json.load(f)


def train_label(sf):
    """sf-train's run in words: where the variables live, CUDA-graph replay."""
    parts = [f"variables on {sf.get('local_parameter_device', 'cpu')}"]
    if sf.get("cuda_graph"):
        parts.append(f"CUDA graph: {sf.get('cuda_graph_state', '?')}")
    return ", ".join(parts)


def train_comparison(runs, pt):
    """One line per sf-train run: its training throughput against PyTorch eager's."""
    for sf in runs:
        train_line(sf, pt)


def train_line(sf, pt):
    """One line: sf-train's training throughput against PyTorch eager's."""
    if not sf or not pt:
        return
    sf_ips, pt_ips = sf["images_per_sec"], pt["images_per_sec"]
    sf_batch = sf.get("batch_size", 0) * sf.get("towers", 1)
    note = "" if sf_batch == pt.get("batch_size") else \
        f" (batch differs: sf-train {sf_batch}, PyTorch {pt.get('batch_size')})"
    ratio = sf_ips / pt_ips if pt_ips else float("nan")
    print()
    print(f"Fashion-MNIST CNN training: sf-train {sf_ips:.0f} images/sec ({sf.get('device', '?')}, "
          f"{sf.get('towers', 1)} tower(s) of {sf.get('batch_size')}, {train_label(sf)}) vs PyTorch "
          f"{pt.get('torch_version', '?')} eager {pt_ips:.0f} images/sec ({pt.get('device', '?')}): "
          f"sf-train/PyTorch {ratio:.2f}{note}")


def geomean(values):
    values = [v for v in values if v > 0]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def seconds(b):
    scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[b.get("time_unit", "ns")]
    return b["real_time"] * scale


def conv_summary(rows):
    peak = next((b.get("TFLOP/s", 0) for b in rows if b["name"].startswith("BM_Gpu_Fp32Peak")), 0)
    runs = {}
    for b in rows:
        m = CONV.match(b["name"])
        if m:
            runs[(m.group(1), m.group(2), m.group(3))] = b
    if not runs:
        return
    print()
    print(f"GPU conv2d, native vs cuDNN (FP32 peak measured: {peak:.1f} TFLOP/s)" if peak else
          "GPU conv2d, native vs cuDNN (no FP32 peak measured)")
    head = (f"{'pass':<6} {'shape':<27} {'native TF/s':>11} {'%peak':>6} {'cuDNN TF/s':>10} "
            f"{'%peak':>6} {'ratio':>6}  class / native plan")
    print(head)
    ratios = {}  # (pass, family) -> [ratio]
    by_class = {}  # shape class -> [ratio]
    for (pss, shape, impl), b in sorted(runs.items()):
        if impl != "native":
            continue
        c = runs.get((pss, shape, "cudnn"))
        nt = b.get("TFLOP/s", 0)
        ct = c.get("TFLOP/s", 0) if c else 0
        ratio = seconds(c) / seconds(b) if c else float("nan")
        pct = lambda t: f"{100 * t / peak:5.1f}%" if peak else "     -"
        label = b.get("label", "")
        print(f"{pss:<6} {shape:<27} {nt:>11.2f} {pct(nt):>6} {ct:>10.2f} {pct(ct):>6} "
              f"{ratio:>6.2f}  {label}")
        if c:
            family = shape.split("_")[0]
            ratios.setdefault((pss, family), []).append(ratio)
            by_class.setdefault(label.split(" | ")[0], []).append(ratio)
    print()
    for (pss, family), rs in sorted(ratios.items()):
        g = geomean(rs)
        target = TARGETS.get(pss) if family == "resnet" else None
        verdict = "" if target is None else (f"  target >= {target}: " +
                                             ("met" if g >= target else "NOT met"))
        print(f"native/cuDNN geomean {pss} {family:<7} {g:5.2f} over {len(rs)} shapes{verdict}")
    wins = sorted(cls for cls, rs in by_class.items() if min(rs) > 1.0)
    print("shape classes where native beat cuDNN in every measurement: " +
          (", ".join(f"'{c}'" for c in wins) if wins else "none"))


def main(paths):
    rows = []
    sf_train, pytorch = [], None
    for p in paths:
        doc = load(p)
        if "torch_version" in doc:
            pytorch = doc
            continue
        if "benchmarks" not in doc:  # sf-train's --json
            sf_train.append(doc)
            continue
        for b in doc["benchmarks"]:
            if b.get("run_type") == "aggregate" or b.get("error_occurred"):
                continue
            rows.append(b)
    width = max((len(b["name"]) for b in rows), default=20)
    print(f"{'benchmark':<{width}}  {'time':>12}  {'GB/s':>8}  {'TFLOP/s':>8}")
    for b in rows:
        gbs = b.get("bytes_per_second", 0) / 1e9
        tfs = b.get("TFLOP/s", 0)
        t, unit = b["real_time"], b.get("time_unit", "ns")
        print(f"{b['name']:<{width}}  {t:>10.2f}{unit:>2}  " +
              (f"{gbs:>8.2f}" if gbs else f"{'':>8}") + "  " +
              (f"{tfs:>8.2f}" if tfs else f"{'':>8}"))
    conv_summary(rows)
    train_comparison(sf_train, pytorch)


if __name__ == "__main__":
    main(sys.argv[1:])
