"""What the training view costs: `inspector trace SOLVER.prototxt` on the triplet sample's solver.

Two measurements, each against a reference taken in the same run:
- time per iteration: three solvers built alike from sample_nets/triplet/solver.prototxt step one iteration
  at a time, in blocks of BLOCK_ITERATIONS of one solver taken in turn (the order rotating, so load from
  other processes hits all alike; blocks, since single iterations in turn leave each one's caches cold from
  the other solvers, which shrinks the ratios): plain solver.step(1), and solver.step(1) inside
  `inspector.trace(solver)` with statistics (the non-finite search, the Python layers' call statistics) and
  with stats=False (--no-stats: norms, ratios and losses only). The median block's mean iteration of each
  is compared. Then the command itself: the median of the wall_ms
  its child measured per iteration (its event log written, the parent reading it), against the plain
  median measured just before and after it.
- memory: the whole command (`inspector trace SOLVER --iterations N --format json --out FILE`) at N and 10N
  iterations; the peak resident set (VmHWM) of the parent and of its child process, read from /proc while
  they run. The goal: 10x the iterations at most ~1.3x the peak.

    .venv/bin/python benchmarks/bench_training.py [--iterations 200] [--memory-iterations 100]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "sample_nets" / "triplet"
SOLVER = SAMPLE / "solver.prototxt"


def make_solver(caffe, seed: int = 0):
    caffe.set_random_seed(seed)
    return caffe.SGDSolver(str(SOLVER))


BLOCK_ITERATIONS = 20  # iterations of one solver back to back, as a run makes them


def time_interleaved(iterations: int) -> dict[str, float]:
    """The median block's mean seconds of one solver.step(1): plain, traced with statistics, traced without."""
    import caffe

    from inspector import trace

    os.chdir(SAMPLE)
    sys.path.insert(0, str(SAMPLE))
    caffe.set_mode_cpu()
    solvers = {"plain": make_solver(caffe), "trace": make_solver(caffe), "trace --no-stats": make_solver(caffe)}
    times: dict[str, list[float]] = {name: [] for name in solvers}
    clock = time.perf_counter
    with trace(solvers["trace"]), trace(solvers["trace --no-stats"], stats=False):
        names = list(solvers)
        block = min(BLOCK_ITERATIONS, iterations)
        for k in range(max(1, iterations // block)):
            for name in names[k % 3:] + names[:k % 3]:
                solver = solvers[name]
                started = clock()
                for _ in range(block):
                    solver.step(1)
                times[name].append((clock() - started) / block)
    return {name: statistics.median(values) for name, values in times.items()}


def plain_median(iterations: int) -> float:
    import caffe

    solver = make_solver(caffe)
    values = []
    for _ in range(iterations):
        started = time.perf_counter()
        solver.step(1)
        values.append(time.perf_counter() - started)
    return statistics.median(values)


def command_median_ms(iterations: int, *extra: str) -> float:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "run.json"
        subprocess.run([sys.executable, "-m", "inspector", "trace", str(SOLVER), "--iterations", str(iterations),
                        "--format", "json", "--out", str(out), *extra], check=False, capture_output=True)
        report = json.loads(out.read_text())
    return statistics.median(i["wall_ms"] for i in report["training"]["iterations"])


def peak_rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def command_peaks(iterations: int) -> tuple[int, int]:
    """Peak RSS (KiB) of the command's process and of its child, over a run of `iterations`."""
    with tempfile.TemporaryDirectory() as folder:
        process = subprocess.Popen([sys.executable, "-m", "inspector", "trace", str(SOLVER), "--iterations",
                                    str(iterations), "--format", "json", "--out", str(Path(folder) / "run.json")],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        parent = child = 0
        while process.poll() is None:
            parent = max(parent, peak_rss_kib(process.pid))
            for pid in children(process.pid):
                child = max(child, peak_rss_kib(pid))
            time.sleep(0.02)
    return parent, child


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=200, help="timed iterations of each solver")
    parser.add_argument("--memory-iterations", type=int, default=100, help="N for the N against 10N memory runs")
    args = parser.parse_args()
    os.environ.setdefault("GLOG_minloglevel", "2")
    print(f"load average {os.getloadavg()[0]:.2f}; triplet sample solver, batch 100")

    medians = time_interleaved(args.iterations)
    plain = medians["plain"]
    for name, value in medians.items():
        print(f"  {name:18s} {value * 1e3:7.3f} ms an iteration   ratio {value / plain:.3f}")

    before = plain_median(args.iterations)
    command = command_median_ms(args.iterations)
    command_no_stats = command_median_ms(args.iterations, "--no-stats")
    after = plain_median(args.iterations)
    reference = (before + after) / 2
    print(f"  plain (before, after) {before * 1e3:.3f}, {after * 1e3:.3f} ms; the command's child, its own wall_ms:")
    for name, value in (("inspector trace", command), ("inspector trace --no-stats", command_no_stats)):
        print(f"    {name:26s} {value:7.3f} ms   ratio {value / (reference * 1e3):.3f}")

    n = args.memory_iterations
    small, large = command_peaks(n), command_peaks(10 * n)
    print(f"memory, peak RSS (parent + child): {n} iterations {small[0] // 1024} + {small[1] // 1024} MiB, "
          f"{10 * n} iterations {large[0] // 1024} + {large[1] // 1024} MiB")
    ratio = (large[0] + large[1]) / max(small[0] + small[1], 1)
    print(f"  10x the iterations: {ratio:.3f}x the peak (goal <= 1.3: {'met' if ratio <= 1.3 else 'missed'}); "
          f"parent {large[0] / max(small[0], 1):.3f}x, child {large[1] / max(small[1], 1):.3f}x")


if __name__ == "__main__":
    main()
