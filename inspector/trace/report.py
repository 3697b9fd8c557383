"""TraceReport: what a traced run recorded, built from its event stream, with its text and JSON views.

The same events come from the child process of `inspector trace` (through its event log) or from the
in-process tracer of the Python API, and ReportBuilder turns either stream into one
TraceReport, so the command and a debugging session give the same records and findings.
"""
from __future__ import annotations

import math
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from ..records import NOT_DATA, OMIT_NONE, from_data, key, to_data
from ..shapes import named_shapes_text, shapes_text
from .netinfo import LayerInfo

if TYPE_CHECKING:
    from .finetune import FinetuneReport
    from .training_report import TrainingReport

PRINTED_LINES_SHOWN = 5  # a layer's printed lines in the text view; JSON has them all
CALL_LOG_FOLD_ABOVE = 12  # iterations a call log prints whole; a longer one folds its middle (fold_calls)
CALL_LOG_EDGE = 3  # iterations printed whole at each end of a folded call log
SEVERITY_LABELS = {"error": ("error", "red"), "warning": ("warn", "yellow"), "info": ("info", "dim")}


BlobStats = dict[str, float | None]  # min, max, mean, std (None when no value is finite), nan, inf (counts)


@dataclass
class Finding:
    check: str
    severity: str  # "error" | "warning" | "info" (a fact worth knowing, never a fault)
    layer: str
    method: str
    iteration: int
    blob: str | None = field(default=None, kw_only=True)  # declared here: the data's keys keep this order
    message: str
    fix: str

    def to_dict(self) -> dict:
        return to_data(self)


@dataclass(slots=True)
class BlobRecord:
    """A blob as a call saw it: its shape and dtype, and the statistics of its data or diff when recorded
    (min, max, mean, std, nan, inf)."""

    shape: list[int]
    dtype: str
    data: BlobStats | None = field(default=None, metadata=OMIT_NONE)
    diff: BlobStats | None = field(default=None, metadata=OMIT_NONE)


@dataclass(slots=True)
class CallRecord:
    """One call of a Python layer's method: when, how long, and its bottoms and tops."""

    method: str
    iteration: int
    probe: bool  # a probe pass of the contract checks, after the iterations
    wall_ms: float
    bottoms: list[BlobRecord]
    tops: list[BlobRecord]
    propagate_down: list[bool] | None = field(default=None, metadata=OMIT_NONE)  # backward's flags

    @property
    def has_nonfinite(self) -> bool:
        """Whether any of its blobs' recorded data or diff holds a NaN or an Inf."""
        return any(stats and (stats["nan"] or stats["inf"]) for blob in (*self.bottoms, *self.tops)
                   for stats in (blob.data, blob.diff))

    @classmethod
    def of_event(cls, event: dict) -> CallRecord:
        """The record of a "call" event (runs once a call, so built field by field rather than by from_data)."""
        return cls(event["method"], event["iteration"], event.get("probe", False), event["wall_ms"],
                   [_blob_record(b) for b in event["bottoms"]], [_blob_record(b) for b in event["tops"]],
                   event.get("propagate_down"))


def _blob_record(blob: dict) -> BlobRecord:
    shape = blob["shape"]  # the tracer's tuples (in-process), as JSON gives them
    return BlobRecord(list(shape) if type(shape) is tuple else shape, blob["dtype"], blob.get("data"),
                      blob.get("diff"))


@dataclass
class PythonLayerRecord:
    name: str
    module: str
    class_name: str = field(metadata=key("class"))
    source_file: str | None
    param_str: str
    phase: str
    calls: list[CallRecord] = field(default_factory=list)
    output: list[dict] = field(default_factory=list)  # each line its methods printed: iteration, method, stream, text

    def to_dict(self) -> dict:
        return to_data(self)


@dataclass
class Crash:
    """How the run ended early: the running layer and method, Caffe's CHECK line, the Python traceback."""

    # fields in the order of the data's keys; those declared keyword-only are left out of the positional order
    # "caffe_abort" | "python_exception" | a signal's name ("SIGSEGV") | "exited" (on its own, before the end)
    # | "interrupted" (inspector got `signal` and ended the run) | "timeout" (past `timeout` seconds)
    kind: str
    exit_code: int | None
    signal: str | None = field(default=None, kw_only=True)  # the signal that ended the process, or inspector got
    timeout: float | None = field(default=None, kw_only=True)  # the --timeout the run went past
    layer: str | None
    layer_type: str | None = field(default=None, kw_only=True)
    method: str | None
    # import | net construction | forward | backward | after net construction (loading weights, inputs)
    stage: str | None = field(default=None, kw_only=True)
    iteration: int | None
    # "Eltwise 'sum' aborted in setup: bottom shapes 4x7 vs 4x6; 'p' comes from ..."
    summary: str | None = field(default=None, kw_only=True)
    fed_by: list[dict] = field(default_factory=list, kw_only=True)  # Python layers that fed a C++ culprit's bottoms
    check_failed: str | None = None
    traceback: str | None = None
    location: str | None = None  # file:line of the frame that raised (the layer's own code)
    log_tail: list[str] = field(default_factory=list)  # Caffe's last log lines (INFO left out)
    printed: list[str] = field(default_factory=list)  # the last lines the layers printed

    def to_dict(self) -> dict:
        return to_data(self)

    @property
    def interrupt_exit_code(self) -> int | None:
        """128 + the signal's number when inspector was interrupted (130 for Ctrl-C), as a shell reports a process
        a signal ended; None for any other ending."""
        if self.kind == "interrupted" and self.signal is not None:
            return 128 + signal.Signals[self.signal]
        return None

    @property
    def stopped(self) -> bool:
        """Ended by inspector (interrupted, or past the timeout) rather than by itself."""
        return self.kind in ("interrupted", "timeout")

    def headline(self, brief: bool = False) -> str:
        """One line: how the run ended, in which layer (and its type), method and stage, e.g.
        "CRASH (caffe_abort, exit code -6) in layer sum (Eltwise) during setup (net construction)"; `brief`
        leaves out the exit code and iteration (the summary printed beside an output file)."""
        where = f" in layer {self.layer}" if self.layer else " outside any layer"
        if self.layer and self.layer_type:
            where += f" ({self.layer_type})"
        doing = f" during {self.method}" if self.method else ""
        context = [self.stage] if self.stage and self.stage != self.method else []
        if not brief and self.iteration and self.stage in ("forward", "backward", "solver update"):
            context.append(f"iteration {self.iteration}")
        if not self.method and not self.stage:
            context.append("stage unknown")
        if self.method == "update" and self.layer is None:  # no layer runs in ApplyUpdate
            where, doing = "", " during the solver update"
            context = [f"iteration {self.iteration}"] if not brief and self.iteration is not None else []
        place = f"{where}{doing}" + (f" ({', '.join(context)})" if context else "")
        if self.kind == "interrupted":
            return f"INTERRUPTED ({self.signal}){place}"
        if self.kind == "timeout":
            return f"TIMEOUT (still running after {self.timeout:g} s){place}"
        if self.kind == "exited":
            return f"EXIT: the process exited with code {self.exit_code}{place} before finishing"
        return f"CRASH ({self.kind}){place}" if brief else f"CRASH ({self.kind}, exit code {self.exit_code}){place}"


@dataclass
class TraceReport:
    DATA_DERIVED: ClassVar[dict[str, str]] = {"ok": "stats"}  # fields in the order of the data's keys
    net: str
    phase: str
    iterations: int
    seed: int
    stats: bool
    completed: bool = False
    not_run: str | None = None  # why the passes were never started (weights Caffe would abort loading)
    layers: list[LayerInfo] = field(default_factory=list)
    python_layers: list[PythonLayerRecord] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    blob_shapes: dict[str, list[int]] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)
    crash: Crash | None = None
    calls_left_out: int = 0  # calls of a long run's middle iterations not kept (runner.CallWindow)
    # the fine-tuning view (inspector.trace.finetune) when weights were given
    finetune: FinetuneReport | None = field(default=None, metadata=OMIT_NONE)
    # the training view (training_report) of a solver's run
    training: TrainingReport | None = field(default=None, metadata=NOT_DATA)

    @property
    def weights_loadable(self) -> bool:
        return self.finetune is None or self.finetune.weights_loadable

    @property
    def ok(self) -> bool:
        return (self.crash is None and self.completed and self.weights_loadable
                and not any(f.severity == "error" for f in self.findings))

    def python_layer(self, name: str) -> PythonLayerRecord:
        return next(p for p in self.python_layers if p.name == name)

    def calls(self, layer: str, method: str | None = None) -> list[CallRecord]:
        return [c for c in self.python_layer(layer).calls if method is None or c.method == method]

    def findings_of(self, check: str) -> list[Finding]:
        return [f for f in self.findings if f.check == check]

    def to_dict(self) -> dict:
        data = to_data(self)
        if self.training is not None:  # its own view of the run: every iteration, not its fields
            data["training"] = self.training.to_dict()
        return data

    # -- text view --
    def __rich_console__(self, console, options):
        yield Text(f"trace {self.net} (phase {self.phase}, {self.iterations} iteration(s), seed {self.seed})",
                   style="bold")
        if self.finetune is not None and hasattr(self.finetune, "__rich_console__"):
            yield self.finetune
        if self.layers:
            yield self._layer_table()
        for record in self.python_layers:
            if record.calls or self.not_run is None:
                yield self._call_log(record)
        if self.calls_left_out:
            yield Text(f"{self.calls_left_out:,} calls of the middle iterations left out (those with a finding or a "
                       "NaN/Inf kept); --format jsonl has every call", style="dim")
        if self.training is not None:
            yield self.training
        elif self.losses:
            yield Text("loss per iteration: " + _losses_text(self.losses))
        if self.findings:
            yield self._findings_table()
        if self.crash:
            yield self._crash_view(self.crash)
        if self.not_run is not None:
            yield Text(f"NOT RUN: {self.not_run}", style="bold red")
        if self.crash is None and self.completed:
            errors = sum(f.severity == "error" for f in self.findings)
            faults = [f for f in self.findings if f.severity != "info"]
            notes = len(self.findings) - len(faults)
            summary = f"{len(faults)} finding(s), {errors} error(s)." if faults else "No findings."
            if notes:
                summary = summary[:-1] + f" ({notes} info note(s))."
            yield Text(summary, style="red" if errors else "green")

    def _layer_table(self) -> Table:
        table = Table(title="layers", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1, 0, 0))
        table.add_column("#", justify="right")
        table.add_column("layer", no_wrap=True)  # names and types whole; the shapes fold, at ", "
        table.add_column("type", no_wrap=True)
        table.add_column("top shapes", overflow="fold", ratio=1)
        table.add_column("params", justify="right")
        table.add_column("fwd ms", justify="right")
        table.add_column("bwd ms", justify="right")
        table.add_column("bwd")
        for layer in self.layers:
            params = f"{layer.param_count:,}" if layer.param_shapes else ""
            if layer.shares_params_with:
                params += f" (shared with {', '.join(layer.shares_params_with)})"
            needs = layer.needs_backward
            kind = layer.type + (" (inserted)" if layer.inserted_by_caffe else "")
            table.add_row(str(layer.index), layer.name, kind, named_shapes_text(layer.top_shapes), params,
                          _ms(layer.forward_ms), _ms(layer.backward_ms),
                          "" if needs is None else ("yes" if needs else "no"),
                          style="bold cyan" if layer.python else None)
        return table

    def _call_log(self, record: PythonLayerRecord) -> Group:
        """One line a call, as a debugger's log: iteration, method, time, shapes (bottoms -> tops), propagate_down,
        and the tops' data (forward) or the bottoms' diffs (backward) in brief; NaN and Inf counts and the
        findings of the call in red. A long run's middle iterations fold into one row a method (fold_calls), so
        the log stays a screen whatever the run's length. Every number stays in the JSON view."""
        head = Text.assemble((record.name, "bold cyan"), f"  {record.module}.{record.class_name}",
                             f"  param_str={record.param_str!r}" if record.param_str else "",
                             f"  phase {record.phase}")
        source = Text(f"  {record.source_file}", style="dim") if record.source_file else Text("")
        findings: dict[tuple, list[str]] = {}
        infos: dict[tuple, list[str]] = {}
        for f in self.findings:
            if f.layer == record.name:
                (infos if f.severity == "info" else findings).setdefault((f.method, f.iteration), []).append(f.check)
        table = Table(box=None, pad_edge=False, show_edge=False, header_style="dim", padding=(0, 1, 0, 0))
        table.add_column("iter", justify="right")
        table.add_column("method")
        table.add_column("ms", justify="right")
        table.add_column("bottoms -> tops", overflow="fold")
        table.add_column("p.down")
        table.add_column("top data / bottom diff", overflow="fold", ratio=1)
        first, folded, last = fold_calls(record.calls)
        for call in first:
            table.add_row(*_call_row(call, findings, infos))
        for group in folded:
            table.add_row(*group.row(findings, infos), style="dim")
        for call in last:
            table.add_row(*_call_row(call, findings, infos))
        lines: list[RenderableType] = [head, source, table]
        if folded:
            count = sum(len(group.calls) for group in folded)
            start = min(group.calls[0].iteration for group in folded)
            end = max(group.calls[-1].iteration for group in folded)
            lines.append(Text(f"  iterations {start}..{end} folded: {count:,} calls in {len(folded)} row(s), one a "
                              "method; --format json lists each", style="dim"))
        if any(call.probe for call in record.calls):
            lines.append(Text("  * a probe pass of the contract checks, after the iterations", style="dim"))
        if record.output:
            shown = record.output[-PRINTED_LINES_SHOWN:]
            more = f"last {len(shown)} of {len(record.output)} lines, " if len(record.output) > len(shown) else ""
            lines.append(Text(f"  printed ({more}all in --format json):", style="dim"))
            lines += [Text(f"  {str(line['iteration']) + ('*' if line.get('probe') else ''):>4} {line['method']:<8} "
                           f"{line['text']}") for line in shown]
        return Group(*lines)

    def _findings_table(self) -> Table:
        table = Table(title="findings", title_justify="left")
        for column in ("", "check", "layer", "method", "iter", "finding", "fix"):
            table.add_column(column, overflow="fold")
        for f in self.findings:
            label = SEVERITY_LABELS.get(f.severity, (f.severity, ""))
            table.add_row(Text(*label), f.check, Text(f.layer), f.method, str(f.iteration), Text(f.message),
                          Text(f.fix))
        return table

    def _crash_view(self, c: Crash) -> Group:
        lines = [Text(c.headline(), style="bold red")]
        if c.summary:
            lines.append(Text(c.summary, style="bold"))
        if c.check_failed:
            lines.append(Text(c.check_failed, style="red"))
        if c.location:
            lines.append(Text(f"{'running' if c.stopped else 'raised'} at {c.location}"))
        if c.traceback:
            lines.append(Text(c.traceback.rstrip()))
        elif c.log_tail:
            lines.append(Text("\n".join(c.log_tail[-15:]), style="dim"))
        if c.printed:
            lines.append(Text("last lines printed by the layers:\n" + "\n".join(c.printed[-10:]), style="dim"))
        return Group(*lines)


def finetune_from_dict(view: dict):
    """The fine-tuning view the child sent, as its own result object again (for its text view)."""
    from .finetune import FinetuneReport  # noqa: PLC0415

    return from_data(FinetuneReport, view)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _losses_text(losses: list[float]) -> str:
    """The losses, each; a long run's first and last CALL_LOG_EDGE, and the range of those between."""
    if len(losses) <= CALL_LOG_FOLD_ABOVE:
        return ", ".join(f"{x:.6g}" for x in losses)
    edge = CALL_LOG_EDGE
    middle = [x for x in losses[edge:-edge] if not math.isnan(x)]
    spread = f" from {min(middle):.6g} to {max(middle):.6g}" if middle else ""
    return (", ".join(f"{x:.6g}" for x in losses[:edge]) + f", ({len(losses) - 2 * edge:,} more{spread}), "
            + ", ".join(f"{x:.6g}" for x in losses[-edge:]) + "; --format json lists each")


def _call_row(call: CallRecord, findings: dict[tuple, list[str]], infos: dict[tuple, list[str]]) -> tuple:
    """A call's row of the call log; `findings` and `infos` (method, iteration) -> checks, taken as shown."""
    stats = _call_stats(call)
    checks = findings.pop((call.method, call.iteration), None)
    if checks:
        stats.append(("  " if stats else "") + "! " + ", ".join(checks), "bold red")
    notes = infos.pop((call.method, call.iteration), None)
    if notes:
        stats.append(("  " if stats else "") + "i " + ", ".join(notes), "dim")
    flags = call.propagate_down
    return (f"{call.iteration}{'*' if call.probe else ''}", call.method, f"{call.wall_ms:.3f}", _call_row_shapes(call),
            "" if flags is None else ",".join("T" if flag else "F" for flag in flags), stats)


@dataclass
class FoldedCalls:
    """A method's calls in the folded middle of a long run's call log, shown as one row."""

    method: str
    calls: list[CallRecord]

    def row(self, findings: dict[tuple, list[str]], infos: dict[tuple, list[str]]) -> tuple:
        """iterations, method, mean ms, the shapes (when all alike), then the count, the total time, the calls
        with a NaN or an Inf and the findings among them."""
        calls = self.calls
        total = sum(call.wall_ms for call in calls)
        shapes = {_call_row_shapes(call) for call in calls}
        text = Text(f"{len(calls):,} calls, {total:.3f} ms in all")
        nonfinite = sum(call.has_nonfinite for call in calls)
        if nonfinite:
            text.append(f"  {nonfinite:,} with NaN/Inf", "bold red")
        for found, style, mark in ((findings, "bold red", "!"), (infos, "dim", "i")):
            counts: dict[str, int] = {}
            for call in calls:
                for check in found.pop((call.method, call.iteration), ()):
                    counts[check] = counts.get(check, 0) + 1
            if counts:
                text.append(f"  {mark} " + ", ".join(f"{check} x{n}" for check, n in counts.items()), style)
        return (f"{calls[0].iteration}-{calls[-1].iteration}", self.method, f"{total / len(calls):.3f}",
                shapes.pop() if len(shapes) == 1 else "(varied)", "", text)


def _call_row_shapes(call: CallRecord) -> str:
    return f"{shapes_text(b.shape for b in call.bottoms)} -> {shapes_text(t.shape for t in call.tops)}"


def fold_calls(calls: list[CallRecord]) -> tuple[list[CallRecord], list[FoldedCalls], list[CallRecord]]:
    """A call log in three parts: the calls of its first CALL_LOG_EDGE iterations, its middle ones folded by
    method, the calls of its last CALL_LOG_EDGE iterations (and the probe passes). Nothing folds unless the
    log spans more than CALL_LOG_FOLD_ABOVE iterations, so a short run prints every call."""
    iterations = sorted({call.iteration for call in calls if not call.probe})
    if len(iterations) <= CALL_LOG_FOLD_ABOVE:
        return calls, [], []
    head_end, tail_start = iterations[CALL_LOG_EDGE - 1], iterations[-CALL_LOG_EDGE]
    first, last = [], []
    by_method: dict[str, FoldedCalls] = {}
    for call in calls:
        if call.probe or call.iteration >= tail_start:
            last.append(call)
        elif call.iteration <= head_end:
            first.append(call)
        else:
            by_method.setdefault(call.method, FoldedCalls(call.method, [])).calls.append(call)
    return first, list(by_method.values()), last


def _pooled(parts: list[tuple[dict, int]]) -> dict | None:
    """min, max, mean and std over several blobs' finite values, from each one's statistics and size."""
    parts = [(s, size - s["nan"] - s["inf"]) for s, size in parts if s and s["min"] is not None]
    total = sum(n for _, n in parts)
    if not total:
        return None
    mean = sum(s["mean"] * n for s, n in parts) / total
    variance = sum(n * (s["std"] ** 2 + (s["mean"] - mean) ** 2) for s, n in parts) / total
    return {"min": min(s["min"] for s, _ in parts), "max": max(s["max"] for s, _ in parts),
            "mean": mean, "std": variance ** 0.5}


def _call_stats(call: CallRecord) -> Text:
    """The tops' data after forward or the bottoms' diffs after backward (pooled over blobs of one shape,
    else the first one's and how many more), then every non-zero NaN or Inf count of the call's blobs, in red."""
    text = Text()
    part, blobs = ("data", call.tops) if call.method == "forward" else ("diff", call.bottoms)
    stats = [(b, getattr(b, part)) for b in blobs if getattr(b, part)]
    if stats and all(b.shape == stats[0][0].shape for b, _ in stats):
        pooled, more = _pooled([(s, math.prod(b.shape)) for b, s in stats]), 0
    else:
        pooled, more = ((_pooled([(stats[0][1], math.prod(stats[0][0].shape))]), len(stats) - 1) if stats
                        else (None, 0))
    if pooled and pooled["min"] == pooled["max"]:
        text.append(f"all {pooled['min']:.3g}")
    elif pooled:
        text.append(f"{pooled['min']:.3g}..{pooled['max']:.3g}")
        if part == "data":
            text.append(f" μ{pooled['mean']:.3g}")
        text.append(f" σ{pooled['std']:.3g}")
        if more:
            text.append(f" +{more} more", "dim")
    for side, side_blobs in (("bottoms", call.bottoms), ("tops", call.tops)):
        for i, blob in enumerate(side_blobs):
            for name, s in (("data", blob.data), ("diff", blob.diff)):
                counts = [f"{s[kind]} {label}" for kind, label in (("nan", "NaN"), ("inf", "Inf")) if s and s[kind]]
                if counts:
                    text.append(f"{'  ' if text else ''}{side[:-1]}[{i}].{name} {' '.join(counts)}", "bold red")
    return text


class ReportBuilder:
    """Folds trace events, in order, into a TraceReport."""

    def __init__(self, net: str, phase: str, iterations: int, seed: int, stats: bool):
        self.report = TraceReport(net=net, phase=phase, iterations=iterations, seed=seed, stats=stats)
        self.last_exception: dict | None = None
        self.error: dict | None = None
        self.running: dict | None = None  # the Python layer call begun and not finished
        self.force_backward = False  # the net's force_backward, from the "net" event
        self.handlers: dict[str, Callable[[dict], None]] = {}  # event kind -> its folder (the training view's)

    def _record(self, name: str) -> PythonLayerRecord:
        for record in self.report.python_layers:
            if record.name == name:
                return record
        record = PythonLayerRecord(name, "?", "?", None, "", self.report.phase)
        self.report.python_layers.append(record)
        return record

    def add(self, event: dict) -> None:
        kind = event.get("event")
        r = self.report
        if kind == "call":  # by far the most frequent
            self._record(event["layer"]).calls.append(CallRecord.of_event(event))
        elif kind in self.handlers:
            self.handlers[kind](event)
        elif kind == "python_layers":
            for spec in event["layers"]:
                r.python_layers.append(from_data(PythonLayerRecord, {**spec, "phase": r.phase}))
        elif kind == "output":
            record = self._record(event["layer"])
            record.output += [{"iteration": event["iteration"], "probe": event.get("probe", False),
                               "method": event["method"], "stream": event["stream"], "text": text}
                              for text in event["lines"]]
        elif kind == "net":
            self.force_backward = bool(event.get("force_backward"))
            r.layers = [from_data(LayerInfo, layer) for layer in event["layers"]]
            r.blob_shapes = event["blob_shapes"]
            r.inputs = event.get("inputs", {})
        elif kind == "exception":
            if self.last_exception is None or event.get("layer"):  # the layer's own record beats the re-raise
                self.last_exception = event
        elif kind == "finding":
            r.findings.append(from_data(Finding, event))
        elif kind == "iteration":
            r.losses.append(event["loss"])
        elif kind == "timings":
            for layer in r.layers:
                layer.forward_ms = round(event["forward_ms"].get(str(layer.index), 0.0), 4)
                layer.backward_ms = round(event["backward_ms"].get(str(layer.index), 0.0), 4)
            r.blob_shapes = event.get("blob_shapes", r.blob_shapes)
            for layer in r.layers:
                layer.top_shapes = {t: r.blob_shapes.get(t, s) for t, s in layer.top_shapes.items()}
        elif kind == "needs_backward":
            for layer in r.layers:
                if layer.name in event["layers"]:
                    # Net::Init logs its decision before force_backward, which then makes every layer run backward
                    layer.needs_backward = self.force_backward or event["layers"][layer.name]
        elif kind == "finetune":
            r.finetune = finetune_from_dict(event["view"])
        elif kind == "error":
            self.error = event
        elif kind == "not_run":
            r.not_run = event["reason"]
        elif kind == "done":
            r.completed = r.not_run is None


def write_last_trace(report: TraceReport, folder: Path | None = None) -> Path:
    """./.inspector/last-trace.json (inspector.last_trace's schema): the net, its phase and run-time blob shapes
    (for `inspector graph`), and the report.

    Strict JSON, written atomically; OutputError (the path and the OS's reason) when it cannot be.
    """
    from ..last_trace import LastTrace, encode  # noqa: PLC0415
    from ..outputs import OutputError, write_output  # noqa: PLC0415

    folder = (folder or Path.cwd()) / ".inspector"
    try:
        folder.mkdir(exist_ok=True)
    except OSError as exc:
        raise OutputError(folder, exc.strerror or type(exc).__name__) from None
    net = report.training.net if report.training is not None and report.training.net else report.net  # a solver's
    record = LastTrace(str(Path(net).resolve()), report.phase, report.blob_shapes,
                       {layer.name: layer.param_shapes for layer in report.layers if layer.param_shapes},
                       report.to_dict())
    return write_output(folder / "last-trace.json", encode(record))
