"""`inspector trace`: what the traced child runs and how its events become the report.

run_trace validates the options (TraceOptions), picks the child (inspector.trace.child for a net,
training_child for a solver), and runs it through the one child-process runner (childrun.spawn.run_child).
Each event that comes is folded into a TraceReport (report.ReportBuilder), copied to the JSONL file when
asked, and drives the progress bar; a long run's report keeps a bounded window of its calls (CallWindow).
After the child: the "needs backward computation" lines from Caffe's log, the child's "error" event as
the InspectorError it was, and, when the child died before its last pass, the crash
(childrun.crash.child_crash: the layer, its stage, Caffe's "Check failed" line or the traceback). A JSONL
stream ends with an "end" event; exit_status and summary_line say how the run ended.
"""
from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from ..errors import EXIT_CHECK_FAILED, EXIT_OK, InputError, InspectorError
from ..phases import parse_phase
from .childrun.crash import child_crash, child_error, written_layer_types
from .childrun.spawn import run_child, validate_timeout
from .events import encode_event
from .netload import existing_file
from .report import CallRecord, ReportBuilder, TraceReport
from .solverfile import is_solver_file

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
    options.phase = parse_phase(options.phase)
    if options.iterations is None:  # a net runs 2 passes, a solver trains longer (training_child)
        from .training_hooks import DEFAULT_ITERATIONS  # noqa: PLC0415

        options.iterations = DEFAULT_ITERATIONS if is_solver_file(options.net) else 2
    if options.iterations < 1:
        raise InputError(f"--iterations must be at least 1, got {options.iterations}.", "Pass --iterations 1 or more.")
    validate_timeout(options.timeout)
    return options


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

    def write(line: bytes) -> None:
        if jsonl is not None:  # a line as the child wrote it (without its newline) or as encode_event gives it
            text = line.decode()
            jsonl.write(text if text.endswith("\n") else text + "\n")
            jsonl.flush()

    with progress_bar as advance:
        def on_event(line: bytes, event: dict) -> None:
            builder.add(event)
            write(line)
            if window.take(event):
                advance()

        child = run_child(module, config, on_event, glog_level=0, interactive=options.pdb, timeout=options.timeout)
    log = child.log
    if log.needs_backward:
        event = {"event": "needs_backward", "layers": log.needs_backward}
        builder.add(event)
        write(encode_event(event))
    if builder.error:
        error = child_error(builder.error)
        write(encode_event(end_event(None, error)))
        raise error
    report = builder.report
    if not report.completed and report.not_run is None:
        python_calls = {record.name: record.calls for record in report.python_layers}
        report.crash = child_crash(child, builder.last_exception, written_layer_types(options.net, options.phase),
                                   report.layers, python_calls)
    write(encode_event(end_event(report)))
    return report


class CallWindow:
    """Keeps the report of a long run to a bounded size as its events come: the calls of the first and of
    the last CALL_ITERATIONS_KEPT iterations, and in between only the calls with a finding or a NaN or Inf;
    the report counts the others (`calls_left_out`; a JSONL stream has every call)."""

    def __init__(self, report: TraceReport, kept: int = CALL_ITERATIONS_KEPT):
        self.report = report
        self.kept = kept  # iterations kept whole at each end
        self._decided: dict[str, int] = {}  # a layer's record -> how many of its first calls are kept for good
        # (layer, method, iteration) of each finding, starting with those the report holds already
        self._findings: set[tuple[str, str, int]] = {(f.layer, f.method, f.iteration) for f in report.findings}

    def take(self, event: dict) -> bool:
        """Follow an event the report has just taken; True when it ends an iteration."""
        kind = event.get("event")
        if kind in ("iteration", "train_iteration"):
            self._iteration_done(event["iteration"])
            return True
        if kind == "finding":
            self._findings.add((event["layer"], event["method"], event["iteration"]))
        return False

    def _iteration_done(self, iteration: int) -> None:
        """The calls older than the last `kept` iterations, past the first ones, go unless notable."""
        last_to_decide = iteration - self.kept
        if last_to_decide <= self.kept:
            return
        for record in self.report.python_layers:
            calls, start = record.calls, self._decided.get(record.name, 0)
            end = start
            while end < len(calls) and calls[end].iteration <= last_to_decide and not calls[end].probe:
                end += 1
            kept = [call for call in calls[start:end]
                    if call.iteration <= self.kept or self._notable(record.name, call)]
            self.report.calls_left_out += end - start - len(kept)
            record.calls = calls[:start] + kept + calls[end:]
            self._decided[record.name] = start + len(kept)

    def _notable(self, layer: str, call: CallRecord) -> bool:
        return (layer, call.method, call.iteration) in self._findings or call.has_nonfinite


def exit_status(report: TraceReport) -> int:
    """The command's exit code for a report: 0 all well, 1 a finding, a crash or a timeout, 128 + the signal
    number when inspector was interrupted (130 for Ctrl-C), as a shell reports a process a signal ended."""
    if report.crash is not None and report.crash.interrupt_exit_code is not None:
        return report.crash.interrupt_exit_code
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
