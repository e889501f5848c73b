#!/usr/bin/env python3
"""Prints a short table from Google Benchmark JSON files: each benchmark's time and
throughput (GB/s, TFLOP/s counters), then the GPU conv2d comparison of sf-bench-kernels:
per pass and shape, native ("cuda") and cuDNN TFLOP/s, % of the FP32 peak measured in the
same run (BM_Gpu_Fp32Peak), the native/cuDNN speed ratio, geometric means per pass and
shape family against the kernels issue's targets, and the shape classes where the native
kernel won every pass measured (candidates for kNativeClasses in conv2d_igemm.cc); last, when
both are given, sf-train's images/sec (its --json) against PyTorch's on the same convnet
(benchmarks/compare/pytorch_fashion_cnn.py --json); then sf-bench's tower runs (its --json):
logical-GPU efficiency E_K = images/sec(K towers x b) / images/sec(1 tower x K*b) against the
towers issue's targets, measured vs predicted step time per strategy (--explain), and
`sf-bench allreduce` against the same run's device-to-device copy bandwidth."""
import json
import math
import re
import sys

CONV = re.compile(r"^BM_Conv2D_Gpu/(fprop|dgrad|wgrad)/([^/]+)/(native|cudnn)(/manual_time)?$")
TARGETS = {"fprop": 0.6, "dgrad": 0.5, "wgrad": 0.5}  # native/cuDNN geomean on ResNet shapes


class SummaryError(Exception):
    """A missing, unreadable or malformed input: one line on stderr, exit status 2."""


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except OSError as e:
        raise SummaryError(f"{path}: cannot read: {e.strerror or e}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise SummaryError(f"{path}: not JSON: {e}") from None


def train_label(sf):
    """sf-train's run in words: where the variables live, CUDA-graph replay."""
    parts = [f"variables on {sf.get('local_parameter_device', 'cpu')}"]
    if sf.get("pin_host_memory"):
        parts.append("host memory pinned")
    if sf.get("cuda_graph"):
        parts.append(f"CUDA graph: {sf.get('cuda_graph_state', '?')}")
    # Session 8's plan optimizations: off in the A/B run, else how much they removed.
    if sf.get("constant_folding") is False or sf.get("group_updates") is False:
        parts.append("constant folding and grouped updates off")
    elif "nodes_folded" in sf:
        parts.append(f"{sf['nodes_folded']} folded, {sf.get('nodes_forwarded', 0)} forwarded, "
                     f"{sf.get('updates_grouped', 0)} updates grouped")
    return ", ".join(parts)


def train_comparison(runs, pt):
    """One line per sf-train run (its --json): images/sec against PyTorch eager's on the same
    convnet, and the test accuracy against the training issue's GPU target."""
    for name, sf in runs:
        sf_ips = sf["images_per_sec"]
        sf_batch = sf.get("batch_size", 0) * sf.get("towers", 1)
        line = (f"sf-train {name}: {sf_ips:.0f} images/sec ({sf.get('device', '?')}, "
                f"{sf.get('towers', 1)} tower(s) of {sf.get('batch_size')}, {train_label(sf)}), "
                f"test accuracy {sf.get('test_accuracy', float('nan')):.4f} after "
                f"{sf.get('epochs', '?')} epoch(s)")
        if sf.get("device") == "gpu" and "max_steps" not in sf:
            per_epoch = sf.get("test_accuracy_per_epoch") or [sf.get("test_accuracy", 0)]
            best = max(per_epoch[:15])
            first = next((i + 1 for i, a in enumerate(per_epoch) if a >= 0.916), None)
            line += f", best {best:.4f}" + (f", >= 0.916 at epoch {first}" if first else "") + \
                " (target >= 0.916 within 15 epochs: " + ("met)" if best >= 0.916 else "NOT met)")
        if pt and pt.get("images_per_sec"):
            # Like for like: the peer leaves its warm-up steps out of its time; so does sf-train's
            # images_per_sec_after_warmup (the same 20 steps) when the run had them.
            after = sf.get("images_per_sec_after_warmup")
            like = after if after and sf.get("warmup_steps") == pt.get("warmup_steps") else None
            ratio = (like or sf_ips) / pt["images_per_sec"]
            if like:
                line += f"; after the first {sf['warmup_steps']} steps {like:.0f} images/sec"
            line += (f"; vs PyTorch {pt.get('torch_version', '?')} eager "
                     f"{pt['images_per_sec']:.0f} images/sec"
                     f"{' (also after its warm-up)' if like else ''}: {ratio:.2f}x")
            if sf_batch != pt.get("batch_size"):
                line += f" (batch differs: {sf_batch} vs {pt.get('batch_size')})"
            elif sf_batch == 64:
                line += " (target >= 1.5x: " + ("met)" if ratio >= 1.5 else "NOT met)")
        print(line)


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


E_TARGETS = {4: 0.95, 8: 0.90}  # replicated, Fashion CNN, b=128, logical GPUs on one card


def strategy(run):
    s = run.get("variable_update", "?")
    if s == "replicated":
        s += "/" + (run.get("all_reduce_spec") or "copy")
    elif s == "parameter_server":
        s += "/" + run.get("local_parameter_device", "cpu")
        if run.get("local_parameter_device") == "gpu" and run.get("ps_strategy"):
            s += " " + run["ps_strategy"]  # round_robin | greedy
    if run.get("gradient_repacking"):
        s += f" pack={run['gradient_repacking']}"  # --gradient_repacking P
    if run.get("inbound_copy_streams"):
        s += " +inbound"  # SessionOptions::inbound_copy_streams
    if run.get("pin_host_memory"):
        s += " +pinned"  # SessionOptions::pin_host_memory
    return s


def tower_summary(runs, allreduce):
    """Efficiency, cost-model error and all-reduce bandwidth from sf-bench's JSON files."""
    if runs:
        print()
        print("sf-bench towers (images/sec; E_K against 1 tower x K*b of the same strategy, "
              "else of replicated, as named)")
        one = {(strategy(r), r["batch_size"]): r for r in runs if r.get("num_devices") == 1}
        for r in sorted(runs, key=lambda r: (strategy(r), r["num_devices"], r["batch_size"])):
            k, b = r["num_devices"], r["batch_size"]
            line = (f"  {strategy(r):<28} {k:>2} x {b:<5} {r['images_per_sec']:>10.0f} "
                    f"+/- {r.get('images_per_sec_stderr', 0):<5.0f} img/s "
                    f"step {r['step_ms_median']:.2f} ms")
            base = one.get((strategy(r), k * b))
            against = ""
            if base is None:  # one tower computes the same under every strategy
                base = next((x for (st, bb), x in sorted(one.items(), key=lambda i: i[0])
                             if bb == k * b and st.startswith("replicated")), None)
                against = f" (vs 1-tower {strategy(base)})" if base else ""
            if k > 1 and base:
                e = r["images_per_sec"] / base["images_per_sec"]
                line += f"  E_{k} = {e:.3f}{against}"
                t = E_TARGETS.get(k)
                if t and r.get("variable_update") == "replicated" and b == 128:
                    line += f" (target >= {t}: " + ("met)" if e >= t else "NOT met)")
            if "predicted_step_ms" in r:
                err = 100 * (r["step_ms_median"] - r["predicted_step_ms"]) / r["predicted_step_ms"]
                line += f"  predicted {r['predicted_step_ms']:.2f} ms ({err:+.1f}%" + \
                    (", within 15%)" if abs(err) <= 15 else ", OUTSIDE 15%)")
            if "predicted_step_ms_shared" in r:  # the shared-device model (packed, per-transfer)
                p = r["predicted_step_ms_shared"]
                err = 100 * (r["step_ms_median"] - p) / p
                line += f"  shared {p:.2f} ms ({err:+.1f}%" + \
                    (", within 15%)" if abs(err) <= 15 else ", OUTSIDE 15%)")
                if "host_overlap" in r and r.get("local_parameter_device") == "cpu" and \
                        r.get("variable_update") == "parameter_server":
                    line += f" host overlap {r['host_overlap']:.2f}"
                    if "host_link_ms" in r:
                        line += f" host link {r['host_link_ms']:.2f} ms"
                    if "host_traffic_copies" in r:
                        line += f" ({r['host_traffic_copies']} copies beside the step)"
                    if "host_update_ms" in r:
                        u = r["host_update_ms"]
                        e2 = 100 * (r["step_ms_median"] - (p + u)) / (p + u)
                        line += (f" CPU:0 mean+update {u:.2f} ms (not modelled; with it"
                                 f" serial: {p + u:.2f} ms, {e2:+.1f}%)")
                    if "predicted_step_ms_shared_host_part" in r:  # session 11, reported
                        q = r["predicted_step_ms_shared_host_part"]
                        e3 = 100 * (r["step_ms_median"] - q) / q
                        line += (f" [update in the host part: {r['host_part_ms']:.2f} ms,"
                                 f" overlap {r['host_part_overlap']:.2f}: {q:.2f} ms, {e3:+.1f}%]")
                if "copy_in_step_ms" in r:
                    line += (f" copy {1e3 * r['copy_in_step_ms']:.1f} us in a step"
                             f" ({1e3 * r.get('copy_ms', 0):.1f} alone")
                    if "in_step_background_ms" in r:  # session 10: beside the towers' step
                        line += (f"; {r['in_step_copies']} copies beside a"
                                 f" {r['in_step_background_ms']:.2f} ms step")
                    line += ")"
            print(line)
    for name, rows in allreduce:
        big = [x for x in rows if x["bytes"] >= 64 << 20]
        for x in big:
            copy = x.get("copy_gb_per_s", 0)
            frac = x["busbw_gb_per_s"] / copy if copy else float("nan")
            rounds = x.get("rounds", 1)
            print(f"  all-reduce {name} ({x.get('op', 'mean')}, {rounds} per run): "
                  f"{x['bytes'] >> 20} MiB "
                  f"{x['time_us']:.0f} us, "
                  f"busbw {x['busbw_gb_per_s']:.1f} GB/s = {100 * frac:.0f}% of the D2D copy "
                  f"({copy:.1f} GB/s; target >= 60%: " + ("met)" if frac >= 0.6 else "NOT met)"))


def main(paths):
    rows = []
    pytorch = None
    sf_train, towers, allreduce = [], [], []
    for p in paths:
        doc = load(p)
        if isinstance(doc, list):  # sf-bench allreduce --json
            allreduce.append((p.rsplit("/", 1)[-1].removesuffix(".json"), doc))
            continue
        if "variable_update" in doc:  # sf-bench --json
            towers.append(doc)
            continue
        if "torch_version" in doc:
            pytorch = doc
            continue
        if "traceEvents" in doc:  # a Chrome trace (--trace_file): not a result
            continue
        if "benchmarks" not in doc:  # sf-train's --json
            if "images_per_sec" not in doc:
                print(f"bench_summary: {p}: no images_per_sec (not an sf-train result?)",
                      file=sys.stderr)
                continue
            sf_train.append((p.rsplit("/", 1)[-1].removesuffix(".json"), doc))
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
    # How fast this machine's host side is (runs on machines of one kind differed by a third):
    # the pageable and pinned host-to-device copies of sf-bench-devices.
    rates = {b["name"]: b.get("bytes_per_second", 0) / 1e9 for b in rows
             if b["name"].startswith("BM_Copy_CudaMemcpy/bytes:67108864/dir:0/")}
    if rates:
        pageable = next((v for n, v in rates.items() if "pinned:0" in n), 0)
        pinned = next((v for n, v in rates.items() if "pinned:1" in n), 0)
        print(f"\nhost side: 64 MiB host-to-device copy {pageable:.1f} GB/s pageable, "
              f"{pinned:.1f} GB/s pinned")
    if sf_train:
        print()
        train_comparison(sf_train, pytorch)
    tower_summary(towers, allreduce)


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except SummaryError as e:
        print(f"bench_summary: {e}", file=sys.stderr)
        sys.exit(2)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        # A result missing a key or holding a value of the wrong type.
        print(f"bench_summary: a result is malformed ({type(e).__name__}: {e})", file=sys.stderr)
        sys.exit(2)
