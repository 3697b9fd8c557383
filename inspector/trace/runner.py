"""`inspector trace`: run the net in a child process and build the report from what it streams.

The child (inspector.trace.child) writes one JSON event per line to an event log (events.EventLog,
a file it appends to through shared memory) as things happen; this side reads the log as it grows,
every POLL_SECONDS, folds the events into a TraceReport, copies them to the JSONL file when asked,
and drives the progress bar. Caffe's log (the child's stderr, INFO level) is read at the same time: the
"needs backward computation" lines Net::Init prints, and the "Check failed" line of an abort.
If the child dies, the report keeps every event that arrived, and the marker file names the
layer and method that were running. run_child (the process, the event log, Caffe's log) is shared with
`inspector gradcheck`, whose check runs the same way.

The child never outlives inspector and leaves nothing behind: the event log and the marker are files
with no name, passed as open descriptors; the child has a session of its own (a terminal's Ctrl-C
reaches inspector only) and dies with its parent (child.die_with_parent). Past --timeout, or when
inspector gets SIGINT, SIGTERM or SIGHUP, run_child ends the child with SIGTERM, on which it dumps its
Python stack to its log (faulthandler), and the report says where it was. A JSONL stream ends with an
"end" event, and a long run's report keeps a bounded window of its calls (CallWindow).
"""
from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from ..errors import (
    EXIT_CHECK_FAILED,
    EXIT_OK,
    CheckFailed,
    InputError,
    InspectorError,
    MissingDependency,
)
from ..prototxt import read_net
from .attribution import (
    ConstructionLog,
    Culprit,
    NetWiring,
    blame,
    construction_culprit,
    culprit_after_construction,
    python_exception_stage,
)
from .events import encode_event, follow_event_log
from .marker import Marker
from .netload import existing_file
from .report import CallRecord, Crash, ReportBuilder, TraceReport
from .solverfile import is_solver_file
from .tracebacks import INSPECTOR_PACKAGE, is_user_file

NEEDS_BACKWARD = re.compile(r"\] (\S+) (needs|does not need) backward computation\.")
FATAL_LINE = re.compile(r"^F\d{4} ")
LOG_TAIL_LINES = 60
POLL_SECONDS = 0.02  # how often the event log is read while the child runs
CALL_ITERATIONS_KEPT = 100  # a long run's report keeps the calls of its first and last this many iterations


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
    timeout: float | None = None  # seconds before a run still going is ended and reported (None: no limit)


def validate(options: TraceOptions) -> TraceOptions:
    """Check what the user gave before starting a child (bad paths are exit 2, not a crash)."""
    options.net = existing_file(options.net, "Net definition", "the NET argument")
    if options.weights:
        options.weights = existing_file(options.weights, "Weights file", "--weights")
    options.inputs = {blob: existing_file(p, f"Input file for blob {blob!r}", "--input")
                      for blob, p in options.inputs.items()}
    if options.phase not in ("train", "test"):
        raise InputError(f"Unknown phase {options.phase!r}.", "Use --phase train or --phase test.")
    if options.iterations is None:  # a net runs 2 passes, a solver trains longer (training_child)
        from .training_hooks import DEFAULT_ITERATIONS  # noqa: PLC0415

        options.iterations = DEFAULT_ITERATIONS if is_solver_file(options.net) else 2
    if options.iterations < 1:
        raise InputError(f"--iterations must be at least 1, got {options.iterations}.", "Pass --iterations 1 or more.")
    validate_timeout(options.timeout)
    return options


def validate_timeout(timeout: float | None) -> None:
    if timeout is not None and not (0 < timeout < math.inf):
        raise InputError(f"--timeout must be a positive number of seconds, got {timeout:g}.",
                         "Pass --timeout 60, say, or leave it out for no limit.")


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
        self.construction = ConstructionLog()  # which layer Net::Init was building, for a crash's culprit
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        in_info = False  # inside a multi-line INFO message (Caffe prints the whole net definition)
        for line in stream:
            line = line.rstrip("\n")
            self.construction.feed(line)
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
FAULTHANDLER_NOISE = ('File "' + INSPECTOR_PACKAGE, 'File "<frozen ', "Extension modules:",
                      "WARNING: Logging before InitGoogleLogging()")  # glog's note when pycaffe did not initialise it


def readable_log_tail(lines: list[str], check_failed: str | None) -> list[str]:
    """The log's last lines as a user reads them: the Check failed line (shown on its own) and
    faulthandler's frames of inspector and of the interpreter left out."""
    return [line for line in lines if line != check_failed and not line.strip().startswith(FAULTHANDLER_NOISE)]


def check_failed_line(lines: list[str]) -> str | None:
    for line in lines:
        if "Check failed" in line:
            return line
    return lines[0] if lines else None


STACK_HEADER = "(most recent call first):"  # faulthandler's line above each thread's frames
STACK_FRAME = re.compile(r'^\s*File "(?P<file>.+)", line (?P<line>\d+) in (?P<function>.*)$')


@dataclass
class ChildRun:
    """How a child process ended: its exit code, Caffe's log, what its code printed, the marker's last mark,
    and whether inspector ended it: on a signal inspector got (`stopped_by`), or past `timeout` seconds."""

    returncode: int
    log: CaffeLog
    printed: CaffeLog | None
    mark: dict | None
    stopped_by: str | None = None
    timeout: float | None = None  # set when the child ran past it

    @property
    def abort_kind(self) -> str:
        if self.timeout is not None:
            return "timeout"
        if self.stopped_by:
            return "interrupted"
        if self.log.fatal or self.returncode == -signal.SIGABRT:
            return "caffe_abort"  # a failed CHECK or LOG(FATAL) ends in abort()
        if self.returncode < 0:
            return signal.Signals(-self.returncode).name if -self.returncode in SIGNAL_NUMBERS else "signal"
        return "exited"  # the process ended on its own (os._exit in a layer) before its last event

    def add_log(self, crash: Crash) -> Crash:
        """The crash with Caffe's "Check failed" line, the log's last lines and the last printed lines; for a
        child inspector ended, the signal or timeout and the line it was running (its stack, dumped on SIGTERM)."""
        crash.check_failed = check_failed_line(self.log.fatal)
        lines = self.log.tail
        if self.stopped_by or self.timeout is not None:
            crash.signal, crash.timeout = self.stopped_by, self.timeout
            lines, dump = _split_stack_dump(lines)
            frames = _stopped_stack(dump)
            crash.location = crash.location or _running_line(frames)
            crash.traceback = crash.traceback or _stack_text(frames)
        elif self.returncode < 0 and -self.returncode in SIGNAL_NUMBERS:
            crash.signal = signal.Signals(-self.returncode).name
        crash.log_tail = readable_log_tail(lines, crash.check_failed)
        if self.printed is not None and self.printed.tail:
            crash.printed = list(self.printed.tail)
        return crash


def _split_stack_dump(lines: list[str]) -> tuple[list[str], list[str]]:
    """The log's lines before the stack dump that ends it (faulthandler's, on SIGTERM), and the dump."""
    start = len(lines)
    for i in range(len(lines) - 1, -1, -1):
        line = lines[i]
        if line.endswith(STACK_HEADER):
            start = i
        elif line.strip() and not STACK_FRAME.match(line):
            break
    return lines[:start], lines[start:]


def _stopped_stack(dump: list[str]) -> list[tuple[str, str, str]]:
    """The frames (file, line, function; innermost first) of the thread running the job in a stack dump:
    the one not started by the threading module (the main thread), inspector's own frames left out."""
    threads: list[list[tuple[str, str, str]]] = []
    for line in dump:
        if line.endswith(STACK_HEADER):
            threads.append([])
        elif (match := STACK_FRAME.match(line)) and threads:
            threads[-1].append((match["file"], match["line"], match["function"]))
    main = [frames for frames in threads if frames and not frames[-1][0].endswith("threading.py")]
    frames = (main or threads or [[]])[0]
    return [frame for frame in frames if not frame[0].startswith((INSPECTOR_PACKAGE, "<"))]


def _stack_text(frames: list[tuple[str, str, str]]) -> str | None:
    if not frames:
        return None
    return "\n".join(["Stack when ended (most recent call first):",
                      *(f'  File "{file}", line {line} in {function}' for file, line, function in frames)])


def _running_line(frames: list[tuple[str, str, str]]) -> str | None:
    """file:line of the innermost frame in the user's files (else the innermost one outside inspector), None
    when Python was only in pycaffe's net.forward or net.backward (a C++ layer was running: the marker names it)."""
    frames = [frame for frame in frames if not _in_pycaffe(frame[0])]
    users = [frame for frame in frames if is_user_file(frame[0])]
    for file, line, _ in (users or frames)[:1]:
        return f"{file}:{line}"
    return None


def _in_pycaffe(file: str) -> bool:
    folder = Path(file).parent
    return folder.name == "caffe" and (folder / "pycaffe.py").is_file()


STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))
KILL_AFTER_SECONDS = 5.0  # a child that SIGTERM does not end (stuck in the kernel) then gets SIGKILL


class _Ending:
    """Whether inspector must end the child before it finishes: a signal inspector got (SIGINT, SIGTERM,
    SIGHUP) or the timeout; and ending it: SIGTERM (its stack is dumped, then it dies), SIGKILL if that fails.
    Ctrl-Z pauses the child with inspector (and the timeout's clock)."""

    def __init__(self, timeout: float | None):
        self.child: subprocess.Popen | None = None
        self.signal: str | None = None
        self.timed_out = False
        self._deadline = time.monotonic() + timeout if timeout else None
        self._terminated_at: float | None = None

    def on_signal(self, number: int, frame) -> None:
        if self.signal is None and not self.timed_out:
            self.signal = signal.Signals(number).name

    def on_suspend(self, number: int, frame) -> None:
        """Ctrl-Z (SIGTSTP): the terminal stops inspector alone (the child has a session of its own), so the
        child is stopped here, then inspector stops as SIGTSTP would stop it, and both go on together."""
        child = self.child if self.child is not None and self.child.poll() is None else None
        if child is not None:
            os.kill(child.pid, signal.SIGSTOP)
        stopped_at = time.monotonic()
        signal.signal(signal.SIGTSTP, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTSTP)  # inspector stops here, until SIGCONT (the shell's fg or bg)
        signal.signal(signal.SIGTSTP, self.on_suspend)
        if self._deadline is not None:
            self._deadline += time.monotonic() - stopped_at  # time stopped is not time running
        if child is not None:
            os.kill(child.pid, signal.SIGCONT)

    def finished(self, child: subprocess.Popen) -> bool:
        """Whether the child has exited; if it must end, ends it (asked each time the event log is polled)."""
        if child.poll() is not None:
            return True
        now = time.monotonic()
        if self._deadline is not None and now >= self._deadline and self.signal is None:
            self.timed_out = True
        if self.signal or self.timed_out:
            if self._terminated_at is None:
                child.terminate()
                self._terminated_at = now
            elif now - self._terminated_at > KILL_AFTER_SECONDS:
                child.kill()
        return False

    @contextmanager
    def handling_signals(self, interactive: bool):
        """SIGINT, SIGTERM and SIGHUP end the child instead of inspector, for this block (from the main thread
        only, where Python runs signal handlers). With --pdb, SIGINT is the debugger's (the child shares the
        terminal), so inspector ignores it."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        suspend = () if interactive or not hasattr(signal, "SIGTSTP") else (signal.SIGTSTP,)
        previous = {number: signal.getsignal(number) for number in (*STOP_SIGNALS, *suspend)}
        try:
            for number in STOP_SIGNALS:
                ignored = interactive and number == signal.SIGINT
                signal.signal(number, signal.SIG_IGN if ignored else self.on_signal)
            for number in suspend:  # with --pdb the child shares the terminal: Ctrl-Z stops both already
                signal.signal(number, self.on_suspend)
            yield
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)


def run_child(module: str, config: dict, on_event: Callable[[str, dict], None], glog_level: int = 0,
              interactive: bool = False, timeout: float | None = None) -> ChildRun:
    """Run `python -m MODULE --events-fd N --marker-fd M --parent-pid P --config JSON`, passing each event line
    it writes (raw and parsed) to on_event as it comes, and return how it ended. Caffe may abort the child:
    whatever it wrote before that has been passed on, and the marker holds what was running. Past `timeout`
    seconds, or when inspector gets SIGINT, SIGTERM or SIGHUP, the child is ended and the run returns as one
    that crashed (ChildRun.abort_kind "timeout" or "interrupted"). The event log and the marker are files with
    no name (made in a temporary folder removed before the child starts), so no kill leaves one behind."""
    with tempfile.TemporaryDirectory(prefix="inspector-child-") as tmp:
        marker_path, events_path = Path(tmp) / "marker", Path(tmp) / "events.jsonl"
        Marker.create(marker_path)
        marker_fd = os.open(marker_path, os.O_RDWR)
        events_fd = os.open(events_path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        env = dict(os.environ, GLOG_minloglevel=str(glog_level), GLOG_logtostderr="1", PYTHONUNBUFFERED="1")
        command = [sys.executable, "-m", module, "--events-fd", str(events_fd), "--marker-fd", str(marker_fd),
                   "--parent-pid", str(os.getpid()), "--config", json.dumps(config)]
        ending = _Ending(timeout)
        with ending.handling_signals(interactive):
            child = subprocess.Popen(
                command, env=env, cwd=os.getcwd(), text=True, pass_fds=(events_fd, marker_fd),
                # --pdb needs the terminal; otherwise the layers' prints join Caffe's log, keeping stdout for the
                # report, and the child has a session of its own: a terminal's Ctrl-C reaches inspector alone
                stdin=None if interactive else subprocess.DEVNULL,
                stdout=None if interactive else subprocess.PIPE,
                stderr=subprocess.PIPE, start_new_session=not interactive,
            )
            ending.child = child
            try:
                assert child.stderr is not None  # stderr=PIPE
                log = CaffeLog(child.stderr)
                printed = CaffeLog(child.stdout) if child.stdout else None
                follow_event_log(events_fd, lambda: ending.finished(child),
                                 lambda line, event: on_event(line.decode() + "\n", event), POLL_SECONDS)
                returncode = child.wait()
            finally:
                if child.poll() is None:  # inspector itself failed while the child ran: the child goes too
                    child.kill()
                    child.wait()
            log.join()  # still under the handlers: a late Ctrl-C does not lose the finished run
            if printed:
                printed.join()
        return ChildRun(returncode, log, printed, Marker.read(marker_fd), stopped_by=ending.signal,
                        timeout=timeout if ending.timed_out else None)
    finally:
        os.close(events_fd)
        os.close(marker_fd)


def child_error(event: dict) -> InspectorError:
    """The InspectorError a child reported in an "error" event, with its kind and exit code."""
    kinds = {"MissingDependency": MissingDependency, "CheckFailed": CheckFailed}
    error = kinds.get(event.get("kind", ""), InputError)(event["message"], event.get("remedy"))
    error.exit_code = event.get("exit_code", error.exit_code)
    return error


def run_trace(options: TraceOptions, jsonl: IO[str] | None = None, progress: bool = False,
              finetune=None) -> TraceReport:
    """Trace the net in a child process; the report holds everything recorded, even after a crash, an
    interrupt or a timeout. The JSONL stream, when asked for, ends with an "end" event (end_event)."""
    options = validate(options)
    assert options.iterations is not None  # validate() gave it the file's default
    config = {"net": str(options.net), "phase": options.phase, "iterations": options.iterations,
              "weights": str(options.weights) if options.weights else None,
              "inputs": {k: str(v) for k, v in options.inputs.items()}, "seed": options.seed,
              "stats": options.stats, "pdb": options.pdb}
    builder = ReportBuilder(str(options.net), options.phase, options.iterations, options.seed, options.stats)
    builder.report.finetune = finetune
    module, progress_bar = "inspector.trace.child", _progress_bar(progress, options.iterations)
    window = CallWindow(builder.report)
    if is_solver_file(options.net):  # the training view: the solver trains its net (training_child)
        from .training_hooks import TRAINING_CALL_ITERATIONS, start_training  # noqa: PLC0415

        module, progress_bar = start_training(options, config, builder, progress)
        window = CallWindow(builder.report, TRAINING_CALL_ITERATIONS)

    def write(line: str) -> None:
        if jsonl is not None:
            jsonl.write(line if line.endswith("\n") else line + "\n")
            jsonl.flush()

    with progress_bar as advance:
        def on_event(line: str, event: dict) -> None:
            builder.add(event)
            write(line)
            kind = event.get("event")
            if kind in ("iteration", "train_iteration"):
                window.iteration_done(event["iteration"])
                advance()
            elif kind == "finding":
                window.finding(event)

        child = run_child(module, config, on_event, glog_level=0, interactive=options.pdb, timeout=options.timeout)
    log = child.log
    if log.needs_backward:
        event = {"event": "needs_backward", "layers": log.needs_backward}
        builder.add(event)
        write(encode_event(event).decode())
    if builder.error:
        error = child_error(builder.error)
        write(encode_event(end_event(None, error)).decode())
        raise error
    report = builder.report
    if not report.completed and report.not_run is None:
        report.crash = _crash(builder, child, _layer_types(options.net, options.phase))
    write(encode_event(end_event(report)).decode())
    return report


class CallWindow:
    """Keeps the report of a long run to a bounded size as its events come: the calls of the first and of
    the last CALL_ITERATIONS_KEPT iterations, and in between only the calls with a finding or a NaN or Inf;
    the report counts the others (`calls_left_out`; a JSONL stream has every call)."""

    def __init__(self, report: TraceReport, kept: int = CALL_ITERATIONS_KEPT):
        self.report = report
        self.kept = kept  # iterations kept whole at each end
        self._decided: dict[str, int] = {}  # a layer's record -> how many of its first calls are kept for good
        self._findings: set[tuple[str, str, int]] = set()  # (layer, method, iteration) of each finding

    def finding(self, event: dict) -> None:
        self._findings.add((event["layer"], event["method"], event["iteration"]))

    def iteration_done(self, iteration: int) -> None:
        """The calls older than the last `kept` iterations, past the first ones, go unless notable."""
        last_to_decide = iteration - self.kept
        if last_to_decide <= self.kept:
            return
        for record in self.report.python_layers:
            calls, start = record.calls, self._decided.get(record.name, 0)
            end = start
            while end < len(calls) and calls[end]["iteration"] <= last_to_decide and not calls[end].get("probe"):
                end += 1
            kept = [call for call in calls[start:end]
                    if call["iteration"] <= self.kept or self._notable(record.name, call)]
            self.report.calls_left_out += end - start - len(kept)
            record.calls = calls[:start] + kept + calls[end:]
            self._decided[record.name] = start + len(kept)

    def _notable(self, layer: str, call: CallRecord) -> bool:
        if (layer, call["method"], call["iteration"]) in self._findings:
            return True
        return any(stats and (stats["nan"] or stats["inf"]) for blob in (*call["bottoms"], *call["tops"])
                   for stats in (blob.get("data"), blob.get("diff")))


def exit_status(report: TraceReport) -> int:
    """The command's exit code for a report: 0 all well, 1 a finding, a crash or a timeout, 128 + the signal
    number when inspector was interrupted (130 for Ctrl-C), as a shell reports a process a signal ended."""
    crash = report.crash
    if crash is not None and crash.kind == "interrupted" and crash.signal is not None:
        return 128 + signal.Signals[crash.signal]
    return EXIT_OK if report.ok else EXIT_CHECK_FAILED


def end_event(report: TraceReport | None, error: InspectorError | None = None) -> dict:
    """The last event of a JSONL stream, the truth of how the run ended: "outcome" is "finished", "crashed",
    "interrupted", "timeout", "not_run" (weights Caffe would abort loading) or "error" (the input was refused:
    its message); with the exit code, whether all was well, the findings counted, and the crash (kind, signal
    or exit code, layer, method, iteration, Caffe's Check failed line or the traceback)."""
    if report is None:
        return {"event": "end", "outcome": "error", "exit_code": error.exit_code if error else EXIT_CHECK_FAILED,
                "ok": False, "message": error.message if error else None, "remedy": error.remedy if error else None}
    crash = report.crash
    if crash is not None:
        outcome = crash.kind if crash.stopped else "crashed"
    else:
        outcome = "not_run" if report.not_run is not None else "finished"
    return {"event": "end", "outcome": outcome, "exit_code": exit_status(report), "ok": report.ok,
            "completed": report.completed, "findings": len(report.findings),
            "errors": sum(f.severity == "error" for f in report.findings),
            "crash": crash.to_dict() if crash else None}


def summary_line(report: TraceReport) -> str:
    """How the run ended, in one line (printed on the terminal when the report goes to a file)."""
    if report.crash is not None:
        return report.crash.headline(brief=True)
    if report.not_run is not None:
        return f"NOT RUN: {report.not_run}"
    errors = sum(f.severity == "error" for f in report.findings)
    faults = sum(f.severity != "info" for f in report.findings)
    notes = len(report.findings) - faults
    summary = f"{faults} finding(s), {errors} error(s)" if faults else "No findings"
    return summary + (f" ({notes} info note(s))" if notes else "")


def _crash(builder: ReportBuilder, child: ChildRun, layer_types: dict[str, str]) -> Crash:
    """The Crash of a child that died: the layer and stage from the layer's own exception, else from Caffe's log
    (while the net is built) and the marker (in the passes), with the Python layers feeding a C++ culprit."""
    mark = child.mark
    report = builder.report
    if mark and mark["layer"] is None and mark["index"] is not None:
        layers = report.layers  # the marker names a layer of the net by its index
        mark["layer"] = layers[mark["index"]]["name"] if mark["index"] < len(layers) else f"layer #{mark['index']}"
    construction = child.log.construction
    crash = builder.python_exception_crash(child.returncode)
    if crash is not None:
        if crash.layer is None and mark:
            culprit = culprit_after_construction(construction, mark)
            crash.layer, crash.method, crash.iteration = culprit.layer, culprit.method, culprit.iteration
            crash.stage = culprit.stage
        else:
            crash.stage = python_exception_stage(crash.method, crash.iteration)
    else:
        if construction.started and not construction.initialized:
            culprit = construction_culprit(construction, check_failed_line(child.log.fatal), layer_types, mark)
        else:
            culprit = culprit_after_construction(construction, mark)
        crash = Crash(child.abort_kind, child.returncode, culprit.layer, culprit.method, culprit.iteration,
                      stage=culprit.stage)
    wiring = NetWiring.of(construction, report.layers, layer_types)
    python_calls = {record.name: record.calls for record in report.python_layers}
    culprit = Culprit(crash.layer, crash.method, crash.stage, crash.iteration)
    crash.layer_type, crash.fed_by, crash.summary = blame(culprit, wiring, construction, python_calls)
    if crash.kind in ("interrupted", "timeout", "exited", "python_exception"):
        crash.summary = None  # nothing aborted (the headline says it all), or the layer's traceback says it better
    return child.add_log(crash)


def _layer_types(net: Path, phase: str) -> dict[str, str]:
    """name -> type of the layers Caffe builds in `phase`, as written (empty when the file does not parse)."""
    try:
        return {layer.name: layer.type for layer in read_net(net).layers_for(phase)}
    except InspectorError:
        return {}


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
