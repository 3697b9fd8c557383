"""How much `inspector trace` slows a net down: the triplet sample net, plain pycaffe against traced.

By default at two batch sizes, one run each: the sample's own (100) and 256 (--batch; at least 64,
set through the data layer's param_str in a temp copy of sample_nets/triplet/train.prototxt). In
each run, nets built alike:
- plain: forward+backward passes in pycaffe;
- trace --no-stats: each pass as the command's child runs it (inspector.trace.child.run_pass), its
  Tracer set up as the child sets it up: the marker file, every event written as a JSON line to an
  event log (inspector.trace.events.EventLog), both files made as the command makes them
  (childrun.spawn.shared_file: in memory on Linux), shapes and timings only. The differences: the Python
  layers are wrapped on the instances, not the classes (the plain net shares the classes), and
  nothing reads the event log (the command's parent reads it every 20 ms, in its own process);
- trace (default): the same with the statistics of the Python layers' blobs and the write checks;
- hooks only: the --no-stats set-up with the tracer inactive, so the method wrappers and the layer
  callbacks run and return at once: what intercepting the calls costs before anything is recorded;
- API: `with inspector.trace(net)` (statistics on, events kept for the report) around plain
  net.forward()/net.backward(), as in a notebook.
Passes run in blocks of BLOCK_PASSES of one configuration at a time, the configurations in turn (the
order rotating), and the median block's mean pass of each is compared, so load from other processes hits
all alike; the load average is printed beside the result. Blocks, not single passes in turn: a real run
makes one net's passes back to back, while single passes in turn leave each pass's caches cold from the
other nets, which adds the same time to every configuration and shrinks the ratios (on the sample net
hooks only measured 0.996 that way against 1.015 in blocks of 30, --no-stats 1.023 against 1.056).
All the nets are built afresh several times (--builds, in a rotating order), since where a net's
memory lands alone moves one net's passes by a few percent against another's. The command's two
ratios are printed against their goals (<= 1.05 and <= 1.15), the API's beside them.

Then trace's per-layer times beside `caffe time -model X -iterations N` (build/tools/caffe in the
Caffe tree, PYTHONPATH set to the layers' folder) on the same net, and the tracer's own time inside
the Python layer calls a pass (Tracer.call's time minus the user's methods'), --no-stats and default:
what recording costs, without the noise of timing whole passes.

--slope measures instead the whole-process cost of a pass as a user pays it, the report included:
`inspector trace NET --iterations N` (--no-stats, default, --format json) against a plain pycaffe
script running N passes, each at 10 and 1010 passes, (T(1010) - T(10)) / 1000 a pass. Every round
runs each command once in a rotating order, and each ratio is taken against plain's slope of the same
round; the median round's ratio is printed with the spread over --rounds rounds.

Last, trace's fixed cost, as whole processes on the sample net: `inspector trace NET --iterations 1`
against a plain pycaffe script that builds the same net and runs one forward+backward pass
(median of --repeat interleaved runs; ratio and difference printed), with where the difference
goes: `--no-stats` (no probe passes, no statistics), `--format json` (no rich rendering), and the
imports each side pays (interpreter start, inspector's command line and trace modules, the child's
modules with pycaffe). --fixed-cost runs this part alone.

    .venv/bin/python benchmarks/bench_trace.py [--passes 100] [--builds 6] [--batch 0 256] [--fixed-cost]
    .venv/bin/python benchmarks/bench_trace.py --slope [--rounds 11]
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

from whole_process import median_runs

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


def batch_size(prototxt: Path) -> int:
    text = prototxt.read_text()
    return (int(re.search(r"'classes_per_batch': (\d+)", text).group(1))
            * int(re.search(r"'samples_per_class': (\d+)", text).group(1)))


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


def command_tracer(net, stats: bool):
    """A Tracer on `net` set up as the command's child sets one up (see the module's docstring), and its pass."""
    from inspector.trace.child import run_pass
    from inspector.trace.childrun.spawn import shared_file
    from inspector.trace.events import EventLog
    from inspector.trace.tracer import Tracer
    from inspector.trace.marker import Marker
    from inspector.trace.netinfo import loss_reader

    emit = EventLog(shared_file("events", 0)).emit  # each file lasts as long as its map
    tracer = Tracer(emit, stats=stats, marker=Marker(shared_file("marker", Marker.SIZE)))
    tracer.adopt(net)
    tracer.wrap_instances(net)
    tracer.attach_timers(net)
    loss = loss_reader(net)

    def one_pass() -> None:
        run_pass(net, tracer, emit, tracer.iteration + 1, True, loss)
    return tracer, one_pass


CONFIGS = ("plain", "hooks only", "--no-stats", "default", "API")


BLOCK_PASSES = 25  # passes of one configuration back to back, as a run makes them (see the module doc)


def build_round(prototxt: Path, order: int, passes: int, pass_times: dict[str, list[float]]):
    """Fresh nets for every configuration (built in a rotating order), `passes` passes of each in blocks taken in
    turn, each block's mean pass appended to pass_times; returns the default configuration's tracer for its
    per-layer times."""
    from inspector import trace
    from inspector.trace.netload import build_net

    names = CONFIGS[order % len(CONFIGS):] + CONFIGS[:order % len(CONFIGS)]
    nets = {name: build_net(prototxt) for name in names}
    for net in nets.values():  # warm up (first-call allocations, numpy caches)
        time_passes(net, 2)
    hooks_tracer, hooks_pass = command_tracer(nets["hooks only"], False)
    hooks_tracer.active = False  # the wrappers and callbacks still run, and return at once
    quick_tracer, quick_pass = command_tracer(nets["--no-stats"], False)
    full_tracer, full_pass = command_tracer(nets["default"], True)

    def plain_pass(net=nets["plain"]) -> None:
        net.forward()
        net.backward()

    def api_pass(net=nets["API"]) -> None:
        net.forward()
        net.backward()

    runs = {"plain": plain_pass, "hooks only": hooks_pass, "--no-stats": quick_pass, "default": full_pass,
            "API": api_pass}
    clock = time.perf_counter
    block = min(BLOCK_PASSES, passes)
    with trace(nets["API"]):
        for i in range(max(1, passes // block)):
            # a block of passes of each in turn, the order rotating, so load from other processes hits all alike
            for name in names[i % len(names):] + names[:i % len(names)]:
                run = runs[name]
                started = clock()
                for _ in range(block):
                    run()
                pass_times[name].append((clock() - started) / block)
    for tracer in (hooks_tracer, quick_tracer, full_tracer):
        tracer.restore()
        tracer.active = False
    return full_tracer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passes", type=int, default=100, help="passes of each configuration per build")
    parser.add_argument("--builds", type=int, default=6, help="times all the nets are built afresh")
    parser.add_argument("--batch", type=int, nargs="+", default=[0, 256],
                        help=f"rows per batch, one run each (0: the sample's own; at least {MIN_BATCH}); "
                             "default: the sample's, then 256")
    parser.add_argument("--fixed-cost", action="store_true", help="measure only trace's fixed cost")
    parser.add_argument("--slope", action="store_true",
                        help="measure only the whole-process cost per pass (10 against 1010 passes, --rounds times)")
    parser.add_argument("--rounds", type=int, default=11, help="rounds of the whole-process cost per pass")
    parser.add_argument("--repeat", type=int, default=7, help="whole-process runs of each, for the fixed cost")
    args = parser.parse_args()
    os.environ.setdefault("GLOG_minloglevel", "2")
    if args.slope:
        per_pass_slope(args.rounds)
        return
    if not args.fixed_cost:
        for batch in args.batch:
            benchmark(batch or None, args.passes, args.builds)
            print()
    fixed_cost(args.repeat)


PLAIN_PASSES = """
import sys
sys.path.insert(0, {folder!r})  # as inspector's child does, so that the Python layers import
import caffe
net = caffe.Net({prototxt!r}, caffe.TRAIN)
for _ in range({passes}):
    net.forward()
    net.backward()
"""


def per_pass_slope(rounds: int, few: int = 10, many: int = 1010) -> None:
    """The whole-process cost of a pass (the report included): (T(many) - T(few)) / (many - few), traced
    against plain, with --format json beside the text report to show what rendering costs.

    Paired by round: each round runs every command once (the order rotating) and gives each configuration's
    ratio to plain's slope of the same round, so load that comes and goes hits both sides of a ratio alike;
    the median round's ratio is the result, the spread over rounds beside it. The long run is 1000 passes
    longer than the short one, so a few milliseconds of start-up jitter move a ratio by well under 0.01."""
    import tempfile

    from whole_process import run_child

    python, inspector, net = sys.executable, str(Path(sys.executable).parent / "inspector"), str(SAMPLE)
    labels = ("plain", "--no-stats", "default", "default json")
    commands = {}
    for passes in (few, many):
        commands["plain", passes] = [python, "-c", PLAIN_PASSES.format(folder=str(SAMPLE.parent), prototxt=net,
                                                                       passes=passes)]
        for label, extra in (("--no-stats", ["--no-stats"]), ("default", []), ("default json", ["--format", "json"])):
            commands[label, passes] = [inspector, "trace", net, "--iterations", str(passes), *extra]
    names = list(commands)
    slopes: dict[str, list[tuple[float, float]]] = {label: [] for label in labels}  # (wall, CPU) seconds a pass
    with tempfile.TemporaryDirectory() as cwd:  # trace writes .inspector/last-trace.json where it runs
        for i in range(rounds):
            runs = {name: run_child(commands[name], cwd=Path(cwd))
                    for name in names[i % len(names):] + names[:i % len(names)]}
            for label in labels:
                slopes[label].append(((runs[label, many].wall - runs[label, few].wall) / (many - few),
                                      (runs[label, many].cpu - runs[label, few].cpu) / (many - few)))
    print(f"whole-process cost per pass (slope over {few}..{many} passes), {rounds} rounds, ratios paired by round "
          f"(load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores)")
    plain = slopes["plain"]
    for label, goal in zip(labels, (None, 1.05, 1.15, 1.15)):
        wall = statistics.median(s[0] for s in slopes[label])
        cpu = statistics.median(s[1] for s in slopes[label])
        ratios = sorted(s[0] / p[0] for s, p in zip(slopes[label], plain))
        cpu_ratio = statistics.median(s[1] / p[1] for s, p in zip(slopes[label], plain))
        verdict = "" if goal is None else (f"  (goal <= {goal:.2f}: "
                                           f"{'met' if statistics.median(ratios) <= goal else 'MISSED'})")
        print(f"  {label:13s} {wall * 1e3:6.2f} ms wall {cpu * 1e3:6.2f} ms CPU a pass;  ratio to plain "
              f"{statistics.median(ratios):.3f} wall (rounds {ratios[0]:.3f} to {ratios[-1]:.3f}), "
              f"{cpu_ratio:.3f} CPU{verdict}")


PLAIN_ONE_PASS = PLAIN_PASSES.replace("{passes}", "1")


def fixed_cost(repeat: int) -> None:
    """One traced pass against one plain pass, whole processes, and where the difference goes."""
    import tempfile

    python, inspector = sys.executable, str(Path(sys.executable).parent / "inspector")
    net = str(SAMPLE)
    commands = {
        "plain pycaffe, one pass": [python, "-c", PLAIN_ONE_PASS.format(folder=str(SAMPLE.parent), prototxt=net)],
        "inspector trace --iterations 1": [inspector, "trace", net, "--iterations", "1"],
        "  the same, --no-stats": [inspector, "trace", net, "--iterations", "1", "--no-stats"],
        "  the same, --format json": [inspector, "trace", net, "--iterations", "1", "--format", "json"],
        "python -c pass": [python, "-c", "pass"],
        "import caffe": [python, "-c", "import caffe"],
        "parent's imports (cli, trace runner, report)": [
            python, "-c", "import inspector.cli, inspector.trace.runner, inspector.trace.report, inspector.render"],
        "child's imports (with caffe)": [
            python, "-c", ("import caffe, inspector.trace.child, inspector.trace.checks, inspector.trace.netinfo, "
                           "inspector.trace.netload, inspector.caffe_env")],
    }
    with tempfile.TemporaryDirectory() as cwd:  # trace writes .inspector/last-trace.json where it runs
        median = median_runs(commands, repeat, cwd=Path(cwd))
    plain, traced = median["plain pycaffe, one pass"], median["inspector trace --iterations 1"]
    print(f"trace's fixed cost: the triplet sample net, one pass, whole processes, median of {repeat} interleaved "
          f"runs (load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores)")
    print(f"  {'':46s} {'wall s':>7s} {'CPU s':>7s}")
    for name, run in median.items():
        print(f"  {name:46s} {run.wall:7.3f} {run.cpu:7.3f}")
    print(f"ratio inspector trace / plain: {traced.wall / plain.wall:.2f} wall, {traced.cpu / plain.cpu:.2f} CPU; "
          f"difference {traced.wall - plain.wall:+.3f} s wall, {traced.cpu - plain.cpu:+.3f} s CPU "
          f"(goal <= +0.5 s: {'met' if traced.wall - plain.wall <= 0.5 else 'MISSED'})")


def tracer_time_in_calls(prototxt: Path, stats: bool, passes: int) -> float:
    """Microseconds a pass that Tracer.call spends around the user's methods (the pass's Python layer calls,
    the user's own code left out), on a net of its own set up as the command's child sets one up: what
    recording costs, free of the noise of whole passes. The clocks read for it add about 0.1 us a call."""
    from inspector.trace.netload import build_net
    from inspector.trace.tracer import Tracer

    clock, spent = time.perf_counter_ns, [0]
    recording = Tracer.call

    def call(self, layer, method, function, args):
        def user(layer, *args):
            started = clock()
            try:
                return function(layer, *args)
            finally:
                spent[0] -= clock() - started
        started = clock()
        try:
            return recording(self, layer, method, user, args)
        finally:
            spent[0] += clock() - started

    net = build_net(prototxt)
    time_passes(net, 2)
    Tracer.call = call  # type: ignore[method-assign]  # before the wrappers take the tracer's call
    tracer, one_pass = command_tracer(net, stats)
    try:
        for _ in range(20):
            one_pass()
        runs = []
        for _ in range(15):
            spent[0] = 0
            for _ in range(passes):
                one_pass()
            runs.append(spent[0] / passes / 1e3)
    finally:
        Tracer.call = recording  # type: ignore[method-assign]
        tracer.restore()
        tracer.active = False
    return statistics.median(runs)


def benchmark(batch: int | None, passes: int, builds: int) -> None:
    """The measurement at one batch size (None: the sample's own), printed."""
    prototxt = batch_prototxt(batch)
    try:
        pass_times: dict[str, list[float]] = {name: [] for name in CONFIGS}
        forward_ns, backward_ns, traced_passes, names = None, None, 0, []
        for build in range(builds):
            tracer = build_round(prototxt, build, passes, pass_times)
            names = tracer.layer_names
            forward_ns = [a + b for a, b in zip(forward_ns or [0] * len(names), tracer.forward_ns)]
            backward_ns = [a + b for a, b in zip(backward_ns or [0] * len(names), tracer.backward_ns)]
            traced_passes += tracer.iteration
        median = {name: statistics.median(times) for name, times in pass_times.items()}
        print(f"triplet net, batch {batch_size(prototxt)}: {builds} builds x {passes} forward+backward passes of each, "
              f"in blocks of {min(BLOCK_PASSES, passes)} taken in turn; the median block's mean pass (load average "
              f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores)")
        for name, seconds in median.items():
            print(f"  {name:11s} {seconds * 1e3:8.3f} ms/pass")
        for name, label, goal in (("--no-stats", "trace --no-stats", 1.05), ("default", "trace (default) ", 1.15)):
            ratio = median[name] / median["plain"]
            print(f"ratio {label} / plain: {ratio:.3f}  (goal <= {goal:.2f}: {'met' if ratio <= goal else 'MISSED'})")
        print(f"ratio API trace(net)     / plain: {median['API'] / median['plain']:.3f}  (statistics on, events kept)")
        print(f"ratio hooks only         / plain: {median['hooks only'] / median['plain']:.3f}  (the wrappers and "
              "layer callbacks of --no-stats, recording nothing: the floor of tracing through pycaffe)")

        reference = caffe_time(prototxt, passes)
        print(f"\nper-layer ms per pass: inspector trace (default) beside `caffe time -iterations {passes}`")
        print(f"  {'layer':16s} {'trace fwd':>10s} {'caffe fwd':>10s} {'trace bwd':>10s} {'caffe bwd':>10s}")
        for i, name in enumerate(names):
            ref = reference.get(name, (float("nan"), float("nan")))
            print(f"  {name:16s} {forward_ns[i] / 1e6 / traced_passes:10.3f} {ref[0]:10.3f} "
                  f"{backward_ns[i] / 1e6 / traced_passes:10.3f} {ref[1]:10.3f}")
        in_calls = {label: tracer_time_in_calls(prototxt, stats, passes)
                    for label, stats in (("--no-stats", False), ("default", True))}
        print("the tracer's own time inside the Python layer calls, microseconds a pass (median of 15 runs of "
              f"{passes} passes): " + ", ".join(f"{label} {us:.1f}" for label, us in in_calls.items()))
    finally:
        prototxt.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
