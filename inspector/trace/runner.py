"""`inspector trace`: run the net in a child process and build the report from what it streams.

The child (inspector.trace.child) writes one JSON event per line to an event log (events.EventLog,
a file it appends to through shared memory) as things happen; this side reads the log as it grows,
every POLL_SECONDS, folds the events into a TraceReport, copies them to the JSONL file when asked,
and drives the progress bar. Caffe's log (the child's stderr, INFO level) is read at the same time: the
"needs backward computation" lines Net::Init prints, and the "Check failed" line of an abort.
If the child dies, the report keeps every event that arrived, and the marker file names the
layer and method that were running. run_child (the process, the event log, Caffe's log) is shared with
`inspector gradcheck`, whose check runs the same way.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable

from ..errors import CheckFailed, InputError, InspectorError, MissingDependency
from .events import follow_event_log
from .instrument import INSPECTOR_PACKAGE, Marker
from .netload import existing_file
from .report import Crash, ReportBuilder, TraceReport
from .solverfile import is_solver_file

NEEDS_BACKWARD = re.compile(r"\] (\S+) (needs|does not need) backward computation\.")
FATAL_LINE = re.compile(r"^F\d{4} ")
LOG_TAIL_LINES = 60
POLL_SECONDS = 0.02  # how often the event log is read while the child runs


@dataclass
class TraceOptions:
    net: Path
    phase: str = "train"
    iterations: int | None = 2  # None: the default for the file (a net's or a solver's)
    weights: Path | None = None
    inputs: dict[str, Path] = field(default_factory=dict)
    seed: int = 0
    stats: bool = True
    pdb: bool = False


def validate(options: TraceOptions) -> TraceOptions:
    """Check what the user gave before starting a child (bad paths are exit 2, not a crash)."""
    options.net = existing_file(options.net, "Net definition", "the NET argument")
    if options.weights:
        options.weights = existing_file(options.weights, "Weights file", "--weights")
    options.inputs = {blob: existing_file(p, f"Input file for blob {blob!r}", "--input") for blob, p in options.inputs.items()}
    if options.phase not in ("train", "test"):
        raise InputError(f"Unknown phase {options.phase!r}.", "Use --phase train or --phase test.")
    if options.iterations is None:  # a net runs 2 passes, a solver trains longer (training_child)
        from .training_hooks import DEFAULT_ITERATIONS  # noqa: PLC0415

        options.iterations = DEFAULT_ITERATIONS if is_solver_file(options.net) else 2
    if options.iterations < 1:
        raise InputError(f"--iterations must be at least 1, got {options.iterations}.", "Pass --iterations 1 or more.")
    return options


# glog's line prefix: severity, then the date as mmdd or yyyymmdd, then the time
GLOG_PREFIX = re.compile(r"^([IWEF])\d{4,8} \d\d:\d\d:\d\d")
# a line of the net definition Caffe prints in an INFO message: `name: ...`, `layer {`, `}`
PROTOTXT_LINE = re.compile(r"^\s*(\w+\s*[:{]|\})")


class CaffeLog:
    """Reads the child's stderr (Caffe's glog and any prints) on a thread, keeping what the report needs."""

    def __init__(self, stream: IO[str]):
        self.needs_backward: dict[str, bool] = {}
        self.fatal: list[str] = []
        self.tail: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        in_info = False  # inside a multi-line INFO message (Caffe prints the whole net definition)
        for line in stream:
            line = line.rstrip("\n")
            match = NEEDS_BACKWARD.search(line)
            if match:
                self.needs_backward[match.group(1)] = match.group(2) == "needs"
                continue
            if "Check failed" in line or FATAL_LINE.match(line):
                self.fatal.append(line)
            glog = GLOG_PREFIX.match(line)
            if glog:
                in_info = glog.group(1) == "I"
            elif in_info:
                in_info = bool(PROTOTXT_LINE.match(line))
            if in_info:
                continue  # Caffe's INFO chatter, the net definition it prints included, is not worth keeping
            self.tail.append(line)
            del self.tail[:-LOG_TAIL_LINES]

    def join(self) -> None:
        self._thread.join(timeout=10)


SIGNAL_NUMBERS = {int(number) for number in signal.Signals}
# faulthandler's dump after an abort: inspector's and the interpreter's own frames, the module list
FAULTHANDLER_NOISE = ('File "' + INSPECTOR_PACKAGE, 'File "<frozen ', "Extension modules:")


def readable_log_tail(lines: list[str], check_failed: str | None) -> list[str]:
    """The log's last lines as a user reads them: the Check failed line (shown on its own) and
    faulthandler's frames of inspector and of the interpreter left out."""
    return [line for line in lines if line != check_failed and not line.strip().startswith(FAULTHANDLER_NOISE)]


def check_failed_line(lines: list[str]) -> str | None:
    for line in lines:
        if "Check failed" in line:
            return line
    return lines[0] if lines else None


@dataclass
class ChildRun:
    """How a child process ended: its exit code, Caffe's log, what its code printed, the marker's last mark."""

    returncode: int
    log: CaffeLog
    printed: CaffeLog | None
    mark: dict | None

    @property
    def abort_kind(self) -> str:
        if self.log.fatal or self.returncode == -signal.SIGABRT:
            return "caffe_abort"  # a failed CHECK or LOG(FATAL) ends in abort()
        if self.returncode < 0:
            return signal.Signals(-self.returncode).name if -self.returncode in SIGNAL_NUMBERS else "signal"
        return "killed"

    def add_log(self, crash: Crash) -> Crash:
        """The crash with Caffe's "Check failed" line, the log's last lines and the last printed lines."""
        crash.check_failed = check_failed_line(self.log.fatal)
        crash.log_tail = readable_log_tail(self.log.tail, crash.check_failed)
        if self.printed is not None and self.printed.tail:
            crash.printed = list(self.printed.tail)
        return crash


def run_child(module: str, config: dict, on_event: Callable[[str, dict], None], glog_level: int = 0,
              interactive: bool = False) -> ChildRun:
    """Run `python -m MODULE --events FILE --marker M --config JSON`, passing each event line it writes
    (raw and parsed) to on_event as it comes, and return how it ended. Caffe may abort the child:
    whatever it wrote before that has been passed on, and the marker holds what was running."""
    with tempfile.TemporaryDirectory(prefix="inspector-child-") as tmp:
        marker_path, events_path = Path(tmp) / "marker", Path(tmp) / "events.jsonl"
        Marker.create(marker_path)
        events_path.touch()
        env = dict(os.environ, GLOG_minloglevel=str(glog_level), GLOG_logtostderr="1", PYTHONUNBUFFERED="1")
        command = [sys.executable, "-m", module, "--events", str(events_path),
                   "--marker", str(marker_path), "--config", json.dumps(config)]
        child = subprocess.Popen(
            command, env=env, cwd=os.getcwd(), text=True,
            # --pdb needs the terminal; otherwise the layers' prints join Caffe's log, keeping stdout for the report
            stdin=None if interactive else subprocess.DEVNULL,
            stdout=None if interactive else subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        log = CaffeLog(child.stderr)
        printed = CaffeLog(child.stdout) if child.stdout else None
        follow_event_log(events_path, lambda: child.poll() is not None,
                         lambda line, event: on_event(line.decode() + "\n", event), POLL_SECONDS)
        returncode = child.wait()
        log.join()
        if printed:
            printed.join()
        return ChildRun(returncode, log, printed, Marker.read(marker_path))


def child_error(event: dict) -> InspectorError:
    """The InspectorError a child reported in an "error" event, with its kind and exit code."""
    kinds = {"MissingDependency": MissingDependency, "CheckFailed": CheckFailed}
    error = kinds.get(event.get("kind"), InputError)(event["message"], event.get("remedy"))
    error.exit_code = event.get("exit_code", error.exit_code)
    return error


def run_trace(options: TraceOptions, jsonl: IO[str] | None = None, progress: bool = False,
              finetune=None) -> TraceReport:
    """Trace the net in a child process; the report holds everything recorded, even after a crash."""
    options = validate(options)
    config = {"net": str(options.net), "phase": options.phase, "iterations": options.iterations,
              "weights": str(options.weights) if options.weights else None,
              "inputs": {k: str(v) for k, v in options.inputs.items()}, "seed": options.seed,
              "stats": options.stats, "pdb": options.pdb}
    builder = ReportBuilder(str(options.net), options.phase, options.iterations, options.seed, options.stats)
    builder.report.finetune = finetune
    module, progress_bar = "inspector.trace.child", _progress_bar(progress, options.iterations)
    if is_solver_file(options.net):  # the training view: the solver trains its net (training_child)
        from .training_hooks import start_training  # noqa: PLC0415

        module, progress_bar = start_training(options, config, builder, progress)
    with progress_bar as advance:
        def on_event(line: str, event: dict) -> None:
            builder.add(event)
            if jsonl is not None:
                jsonl.write(line if line.endswith("\n") else line + "\n")
                jsonl.flush()
            if event.get("event") == "iteration":
                advance()

        child = run_child(module, config, on_event, glog_level=0, interactive=options.pdb)
    log = child.log
    if log.needs_backward:
        event = {"event": "needs_backward", "layers": log.needs_backward}
        builder.add(event)
        if jsonl is not None:
            jsonl.write(json.dumps(event) + "\n")
    if builder.error:
        raise child_error(builder.error)
    report = builder.report
    if not report.completed:
        report.crash = _crash(builder, child)
    return report


def _crash(builder: ReportBuilder, child: ChildRun) -> Crash:
    mark = child.mark
    if mark and mark["layer"] is None and mark["index"] is not None and builder.report.layers:
        layers = builder.report.layers  # the marker names a layer of the net by its index
        mark["layer"] = layers[mark["index"]]["name"] if mark["index"] < len(layers) else f"layer #{mark['index']}"
    crash = builder.python_exception_crash(child.returncode)
    if crash is not None and crash.layer is None and mark:
        crash.layer, crash.method, crash.iteration = mark["layer"], mark["method"], mark["iteration"]
    if crash is None:
        crash = Crash(child.abort_kind, child.returncode, mark["layer"] if mark else None,
                      mark["method"] if mark else None, mark["iteration"] if mark else None)
    return child.add_log(crash)


def _progress_bar(enabled: bool, total: int):
    if not enabled:
        return nullcontext(lambda: None)
    from contextlib import contextmanager  # noqa: PLC0415

    from rich.progress import Progress  # noqa: PLC0415

    from ..render import stderr_console  # noqa: PLC0415

    @contextmanager
    def bar():
        with Progress(console=stderr_console(), transient=True) as progress:
            task = progress.add_task("tracing", total=total)
            yield lambda: progress.advance(task)
    return bar()
