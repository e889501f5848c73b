#!/usr/bin/env python3
"""Plots sf-bench tower-benchmark results: images/sec per placement strategy against the
number of towers, with error bars from images_per_sec_stderr, one line per strategy
(variable_update, plus local_parameter_device for parameter_server).

With --efficiency a second panel shows the scaling efficiency
    E_K = throughput(K towers of b images) / throughput(1 tower of K*b images)
for each K whose 1-tower baseline (same strategy, num_devices 1, batch_size K*b) is among
the inputs; points without one are left out, and a note says so.

Usage:
  scripts/plot_bench.py results/ [more.json ...] [-o bench.png] [--efficiency]
  scripts/plot_bench.py --self-test
Arguments are sf-bench JSON files or folders (their *.json; files there that are not
sf-bench results, such as Google Benchmark output, are skipped). A file holds one result
object, a list of them, or {"results": [...]}. Needs matplotlib (python3-matplotlib)."""
import argparse
import json
import math
import os
import shutil
import statistics
import sys
import tempfile

REQUIRED = ("images_per_sec", "num_devices", "variable_update", "model", "batch_size", "device")
STRATEGIES = ("parameter_server", "replicated", "independent")


class BenchError(Exception):
    """A missing, unreadable or malformed input: reported as one line, exit status 2."""


# ---------------------------------------------------------------- loading
def strategy_of(r):
    """The line a run belongs to: its strategy and every option that changes its speed (runs
    that differ in one of them are never averaged into one point)."""
    vu = r["variable_update"]
    s = vu
    if vu == "parameter_server":
        ps = r.get("local_parameter_device", "?")
        s = f"parameter_server (ps on {ps}"
        if ps == "gpu":
            s += f", {r.get('ps_strategy', 'round_robin')}"
        s += ")"
    elif vu == "replicated" and r.get("all_reduce_spec"):
        s = f"replicated ({r['all_reduce_spec']})"
    if r.get("gradient_repacking"):
        s += f" pack={r['gradient_repacking']}"
    if r.get("inbound_copy_streams"):
        s += " +inbound"
    if r.get("pin_host_memory"):
        s += " +pinned"
    return s


def check_result(r, where):
    if not isinstance(r, dict):
        raise BenchError(f"{where}: expected a JSON object, got {type(r).__name__}")
    missing = [k for k in REQUIRED if k not in r]
    if missing:
        raise BenchError(f"{where}: missing key(s) {', '.join(missing)}")
    for k in ("images_per_sec", "num_devices", "batch_size"):
        v = r[k]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise BenchError(f"{where}: '{k}' must be a finite number, got {v!r}")
    if r["num_devices"] < 1 or r["batch_size"] < 1 or r["images_per_sec"] < 0:
        raise BenchError(f"{where}: num_devices and batch_size must be >= 1 and images_per_sec "
                         f">= 0, got {r['num_devices']}, {r['batch_size']}, {r['images_per_sec']}")
    if r["variable_update"] not in STRATEGIES:
        raise BenchError(f"{where}: unknown variable_update {r['variable_update']!r} "
                         f"(expected one of {', '.join(STRATEGIES)})")
    se = r.get("images_per_sec_stderr", 0) or 0
    if isinstance(se, bool) or not isinstance(se, (int, float)) or not math.isfinite(se) or se < 0:
        raise BenchError(f"{where}: 'images_per_sec_stderr' must be a number >= 0, got {se!r}")


def results_in(doc):
    """The result objects of one parsed file, or None when it holds no sf-bench result."""
    if isinstance(doc, dict) and isinstance(doc.get("results"), list):
        doc = doc["results"]
    items = doc if isinstance(doc, list) else [doc]
    if not items or not all(isinstance(r, dict) and "images_per_sec" in r for r in items):
        return None
    return items


def load_file(path, strict):
    """Results of `path`; with strict=False (files found in a folder) a file that is not an
    sf-bench result is skipped (None) rather than an error."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except FileNotFoundError:
        raise BenchError(f"{path}: no such file") from None
    except json.JSONDecodeError as e:
        raise BenchError(f"{path}: not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})") \
            from None
    except (OSError, UnicodeDecodeError) as e:
        raise BenchError(f"{path}: cannot read ({e})") from None
    items = results_in(doc)
    if items is None:
        if strict:
            raise BenchError(f"{path}: not an sf-bench result (no 'images_per_sec')")
        return None
    for i, r in enumerate(items):
        check_result(r, path if len(items) == 1 else f"{path} [{i}]")
    return items


def load(paths):
    results, skipped = [], []
    for p in paths:
        if os.path.isdir(p):
            files = sorted(os.path.join(p, f) for f in os.listdir(p) if f.endswith(".json"))
            found = 0
            for f in files:
                items = load_file(f, strict=False)
                if items is None:
                    skipped.append(f)
                else:
                    results += items
                    found += len(items)
            if not found:
                raise BenchError(f"{p}: no sf-bench JSON results in this folder")
        elif os.path.exists(p):
            results += load_file(p, strict=True)
        else:
            raise BenchError(f"{p}: no such file or folder")
    for f in skipped:
        print(f"plot_bench: skipped {f} (not an sf-bench result)", file=sys.stderr)
    if not results:
        raise BenchError("no results to plot")
    return results


# ---------------------------------------------------------------- grouping
def mean_point(rs):
    """(mean images/sec, its stderr) of repeated runs of one configuration."""
    ips = statistics.fmean(r["images_per_sec"] for r in rs)
    se = math.sqrt(sum((r.get("images_per_sec_stderr") or 0) ** 2 for r in rs)) / len(rs)
    return ips, se


def index_runs(results):
    """{(model, device, strategy, num_devices, batch_size): (images/sec, stderr)}."""
    runs = {}
    for r in results:
        key = (r["model"], r["device"], strategy_of(r), int(r["num_devices"]), int(r["batch_size"]))
        runs.setdefault(key, []).append(r)
    return {k: mean_point(rs) for k, rs in runs.items()}


def series(runs):
    """{(model, device, strategy, b): {K: (images/sec, stderr)}} for the lines to draw: the
    configurations with a multi-tower point. 1-tower-only configurations (e.g. efficiency
    baselines of K*b images) are drawn only when nothing else is there."""
    lines = {}
    for (model, device, strategy, k, b), point in runs.items():
        lines.setdefault((model, device, strategy, b), {})[k] = point
    multi = {key: pts for key, pts in lines.items() if any(k > 1 for k in pts)}
    if multi:
        # A line's own K=1 point is kept; combos that only exist at K=1 are dropped.
        combos = {(m, d, b) for (m, d, _, b) in multi}
        return {key: pts for key, pts in lines.items() if (key[0], key[1], key[3]) in combos}
    return lines


def efficiency(runs, lines):
    """{line key: {K: (E_K, stderr)}} where the 1-tower K*b baseline exists; and the
    (line, K) pairs that had none."""
    eff, missing = {}, []
    for key, pts in lines.items():
        model, device, strategy, b = key
        for k, (ips, se) in sorted(pts.items()):
            base = runs.get((model, device, strategy, 1, k * b))
            if base is None or base[0] <= 0:
                missing.append((key, k))
                continue
            e = ips / base[0]
            # K = 1 is its own baseline: E_1 = 1 exactly.
            rel = 0.0 if k == 1 else math.hypot(se / ips if ips else 0.0, base[1] / base[0])
            eff.setdefault(key, {})[k] = (e, e * rel)
    if not any(k > 1 for pts in eff.values() for k in pts):
        eff = {}  # E_1 = 1 on its own says nothing
    return eff, missing


# ---------------------------------------------------------------- plotting
def describe(lines):
    combos = sorted({(m, d, b) for (m, d, _, b) in lines})
    one = len(combos) == 1
    if one:
        m, d, b = combos[0]
        title = f"{m} on {d}, batch {b} per tower"
    else:
        title = "; ".join(f"{m}/{d}/b{b}" for m, d, b in combos)

    def label(key):
        m, d, strategy, b = key
        return strategy if one else f"{strategy} ({m}/{d}/b{b})"

    return title, label


def plot(results, output, want_efficiency=False, title=None):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = index_runs(results)
    lines = series(runs)
    auto_title, label = describe(lines)
    eff = {}
    if want_efficiency:
        eff, missing = efficiency(runs, lines)
        for key, k in missing:
            print(f"plot_bench: no 1-tower baseline of batch {k * key[3]} for {label(key)} at "
                  f"K={k}; its efficiency point is left out", file=sys.stderr)
        if not eff:
            print("plot_bench: --efficiency: no baselines found (need num_devices=1 runs with "
                  "batch_size K*b); plotting throughput only", file=sys.stderr)
    panels = 2 if eff else 1
    fig, axes = plt.subplots(1, panels, figsize=(7 * panels, 5), squeeze=False)
    ax = axes[0][0]
    towers = sorted({k for pts in lines.values() for k in pts})
    for key in sorted(lines):
        pts = lines[key]
        ks = sorted(pts)
        ax.errorbar(ks, [pts[k][0] for k in ks], yerr=[pts[k][1] for k in ks], marker="o",
                    capsize=4, label=label(key))
    ax.set_xlabel("towers (devices)")
    ax.set_ylabel("images/sec")
    ax.set_xticks(towers)
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("throughput")
    if eff:
        ax2 = axes[0][1]
        for key in sorted(eff):
            pts = eff[key]
            ks = sorted(pts)
            ax2.errorbar(ks, [pts[k][0] for k in ks], yerr=[pts[k][1] for k in ks], marker="o",
                         capsize=4, label=label(key))
        ax2.axhline(1.0, color="gray", linestyle="--", linewidth=1)
        ax2.set_xlabel("towers (devices)")
        ax2.set_ylabel("efficiency E_K = T(K x b) / T(1 x K*b)")
        ax2.set_xticks(towers)
        ax2.set_ylim(bottom=0)
        ax2.grid(True, alpha=0.3)
        ax2.legend(fontsize=8)
        ax2.set_title("scaling efficiency")
    fig.suptitle(title or f"sf-bench: {auto_title}")
    fig.tight_layout()
    try:
        fig.savefig(output, dpi=110)
    except OSError as e:
        raise BenchError(f"{output}: cannot write ({e})") from None
    finally:
        plt.close(fig)
    return lines, eff


# ---------------------------------------------------------------- self-test
def synthetic(strategy, ps, k, b, ips):
    return {"images_per_sec": ips, "images_per_sec_stderr": 0.02 * ips,
            "step_ms_median": 1000.0 * k * b / ips, "bytes_copied_per_step": 1000 * k,
            "final_loss": 2.3, "param_checksum": 12345.0, "num_devices": k,
            "variable_update": strategy, "local_parameter_device": ps, "model": "fashion_cnn",
            "batch_size": b, "device": "gpu",
            "placement": [{"variable": "conv1/weights", "device": f"/device:{ps.upper()}:0",
                           "bytes": 3200}],
            "devices": [f"/device:GPU:{i}" for i in range(k)]}


def self_test():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("plot_bench self-test: SKIPPED (matplotlib not installed)")
        return 77
    tmp = tempfile.mkdtemp(prefix="plot_bench_")
    try:
        b = 64
        strategies = [("parameter_server", "cpu", 0.70), ("parameter_server", "gpu", 0.85),
                      ("replicated", "gpu", 0.90), ("independent", "gpu", 0.95)]
        for vu, ps, scale in strategies:
            for k in (1, 2, 4, 8):
                r = synthetic(vu, ps, k, b, 1000.0 * k * scale ** math.log2(k))
                with open(os.path.join(tmp, f"{vu}_{ps}_{k}.json"), "w") as f:
                    json.dump(r, f)
            for k in (2, 4):  # baselines for K = 2, 4 only: K = 8 is skipped with a note
                r = synthetic(vu, ps, 1, k * b, 1100.0 * k)
                with open(os.path.join(tmp, f"{vu}_{ps}_base_{k * b}.json"), "w") as f:
                    json.dump(r, f)
        with open(os.path.join(tmp, "bench_kernels.json"), "w") as f:  # skipped, not an error
            json.dump({"benchmarks": []}, f)
        out = os.path.join(tmp, "bench.png")
        lines, eff = plot(load([tmp]), out, want_efficiency=True)
        assert len(lines) == 4, sorted(lines)
        assert all(sorted(pts) == [1, 2, 4, 8] for pts in lines.values()), lines
        key = ("fashion_cnn", "gpu", "replicated", b)
        assert sorted(eff[key]) == [1, 2, 4], eff[key]
        e2 = eff[key][2][0]
        assert abs(e2 - 2000 * 0.9 / 2200) < 1e-9, e2
        with open(out, "rb") as f:
            head = f.read(8)
        assert head == b"\x89PNG\r\n\x1a\n" and os.path.getsize(out) > 5000, os.path.getsize(out)
        # Without baselines: --efficiency is skipped, one panel is drawn.
        only = [os.path.join(tmp, f"replicated_gpu_{k}.json") for k in (1, 2, 4)]
        out2 = os.path.join(tmp, "nobase.png")
        _, eff2 = plot(load(only), out2, want_efficiency=True)
        assert eff2 == {} and os.path.getsize(out2) > 0
        # Clear errors for bad inputs.
        bad = os.path.join(tmp, "bad.json")
        with open(bad, "w") as f:
            f.write("{not json")
        incomplete = os.path.join(tmp, "incomplete.json")
        with open(incomplete, "w") as f:
            json.dump({"images_per_sec": 1.0}, f)
        for paths, expected in (([os.path.join(tmp, "missing.json")], "no such file"),
                                ([bad], "not valid JSON"),
                                ([incomplete], "missing key(s) num_devices"),
                                ([os.path.join(tmp, "bench_kernels.json")], "not an sf-bench"),
                                ([tmp], "not valid JSON")):
            try:
                load(paths)
            except BenchError as e:
                assert expected in str(e), (expected, str(e))
            else:
                raise AssertionError(f"no error for {paths}")
        print(f"plot_bench self-test: OK ({os.path.getsize(out)} bytes of PNG)")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("paths", nargs="*", help="sf-bench JSON files or folders of them")
    ap.add_argument("-o", "--output", default="bench.png", help="PNG to write (default bench.png)")
    ap.add_argument("--efficiency", action="store_true",
                    help="add a panel of E_K = T(K towers x b) / T(1 tower x K*b)")
    ap.add_argument("--title", help="figure title (default: from model, device, batch)")
    ap.add_argument("--self-test", action="store_true", help="plot synthetic results and check")
    args = ap.parse_args(argv)
    if args.self_test:
        return self_test()
    if not args.paths:
        ap.error("give sf-bench JSON files or folders (or --self-test)")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("plot_bench.py: error: matplotlib is required (apt-get install python3-matplotlib)",
              file=sys.stderr)
        return 2
    try:
        lines, _ = plot(load(args.paths), args.output, args.efficiency, args.title)
    except BenchError as e:
        print(f"plot_bench.py: error: {e}", file=sys.stderr)
        return 2
    print(f"plot_bench: wrote {args.output} ({len(lines)} line(s))")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
