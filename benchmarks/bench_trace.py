"""How much `inspector trace` slows a net down: the triplet sample net, plain pycaffe against traced.

In one run, on three nets built alike from sample_nets/triplet/train.prototxt (batch >= 64, set
through the data layer's param_str in a temp copy when the sample's is smaller):
- plain: N forward+backward passes in pycaffe;
- traced --no-stats: the same under inspector.trace (shapes and timings only);
- traced (default): with the statistics of the Python layers' blobs and the write checks;
each traced run also encodes every event as the command streams it (inspector.trace.events). Passes
are interleaved (one of each in turn, the order rotating) and the median pass of each is compared, so
load from other processes hits all three alike; the load average is printed beside the result. Prints
both ratios against their goals (<= 1.05 and <= 1.15).

Then trace's per-layer times beside `caffe time -model X -iterations N` (build/tools/caffe in the
Caffe tree, PYTHONPATH set to the layers' folder) on the same net.

    .venv/bin/python benchmarks/bench_trace.py [--passes 30] [--rounds 10] [--batch 256]
"""
from __future__ import annotations

import argparse
import os
import re
import site
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "sample_nets" / "triplet" / "train.prototxt"
MIN_BATCH = 64


def batch_prototxt(batch: int | None) -> Path:
    """A copy of the sample net (in its own folder, so its layers import) with a batch of at least
    MIN_BATCH rows (or about `batch`), set through the data layer's samples_per_class."""
    text = SAMPLE.read_text()
    classes = int(re.search(r"'classes_per_batch': (\d+)", text).group(1))
    per_class = int(re.search(r"'samples_per_class': (\d+)", text).group(1))
    wanted = max(batch or classes * per_class, MIN_BATCH)
    if wanted != classes * per_class:
        text = text.replace(f"'samples_per_class': {per_class}", f"'samples_per_class': {-(-wanted // classes)}")
    path = SAMPLE.parent / f".bench_trace_{os.getpid()}.prototxt"
    path.write_text(text)
    return path


def time_passes(net, passes: int) -> float:
    started = time.perf_counter()
    for _ in range(passes):
        net.forward()
        net.backward()
    return time.perf_counter() - started


def caffe_time(prototxt: Path, iterations: int) -> dict[str, tuple[float, float]]:
    from inspector.caffe_env import find_caffe_root

    binary = find_caffe_root() / "build" / "tools" / "caffe"
    if not binary.is_file():
        return {}
    pycaffe = str(find_caffe_root() / "python")
    # the caffe binary embeds the system Python: it needs this interpreter's packages (numpy) on its path too
    paths = [str(prototxt.parent), pycaffe, *site.getsitepackages(), os.environ.get("PYTHONPATH", "")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in paths if p),
               GLOG_minloglevel="0", GLOG_logtostderr="1")
    proc = subprocess.run([str(binary), "time", "-model", str(prototxt), "-iterations", str(iterations)],
                          capture_output=True, text=True, env=env, cwd=prototxt.parent, timeout=600)
    times: dict[str, list[float]] = {}
    for match in re.finditer(r"\]\s+(\S+)\s+(forward|backward): ([\d.]+) ms\.", proc.stderr):
        times.setdefault(match.group(1), [0.0, 0.0])["forward backward".split().index(match.group(2))] = float(match.group(3))
    if not times:
        print(f"caffe time failed (exit {proc.returncode}): {proc.stderr.strip().splitlines()[-1:]}")
    return {k: tuple(v) for k, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passes", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--batch", type=int, help=f"rows per batch (default: the sample's, at least {MIN_BATCH})")
    args = parser.parse_args()
    os.environ.setdefault("GLOG_minloglevel", "2")
    from inspector import trace
    from inspector.trace.events import encode_event
    from inspector.trace.netload import build_net

    prototxt = batch_prototxt(args.batch)
    try:
        plain, quick, full = (build_net(prototxt) for _ in range(3))
        batch = plain.blobs["data"].data.shape[0]
        sink = os.open(os.devnull, os.O_WRONLY)

        def stream(event):  # what the command's child does with every event
            os.write(sink, encode_event(event))

        for net in (plain, quick, full):  # warm up (first-call allocations, numpy caches)
            time_passes(net, 2)
        nets = {"plain": plain, "no-stats": quick, "stats": full}
        pass_times: dict[str, list[float]] = {name: [] for name in nets}
        with trace(quick, stats=False, on_event=stream), trace(full, stats=True, on_event=stream) as full_trace:
            for i in range(args.rounds * args.passes):
                # one pass of each in turn, the order rotating, so load from other processes hits all alike
                order = list(nets)[i % 3:] + list(nets)[:i % 3]
                for name in order:
                    pass_times[name].append(time_passes(nets[name], 1))
        report = full_trace.report
        median = {name: statistics.median(times) for name, times in pass_times.items()}
        print(f"triplet net, batch {batch}, {args.rounds * args.passes} forward+backward passes each, "
              f"interleaved; median pass (load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores)")
        for name, seconds in median.items():
            print(f"  {name:9s} {seconds * 1e3:8.3f} ms/pass")
        for name, label, goal in (("no-stats", "--no-stats", 1.05), ("stats", "(stats)   ", 1.15)):
            ratio = median[name] / median["plain"]
            print(f"ratio traced {label} / plain: {ratio:.3f}  (goal <= {goal:.2f}: {'met' if ratio <= goal else 'MISSED'})")

        reference = caffe_time(prototxt, args.passes)
        print(f"\nper-layer ms per pass: inspector trace (stats) beside `caffe time -iterations {args.passes}`")
        print(f"  {'layer':16s} {'trace fwd':>10s} {'caffe fwd':>10s} {'trace bwd':>10s} {'caffe bwd':>10s}")
        for layer in report.layers:
            ref = reference.get(layer["name"], (float("nan"), float("nan")))
            print(f"  {layer['name']:16s} {layer['forward_ms']:10.3f} {ref[0]:10.3f} {layer['backward_ms']:10.3f} {ref[1]:10.3f}")
    finally:
        prototxt.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
