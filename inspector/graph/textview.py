"""The text view of a GraphReport: every layer for a small net, one screen of summary for a big one.

A net of up to SUMMARY_OVER layers prints as a table, a layer a row, then its lints. A bigger
net prints its blocks (see blocks.py: runs of alike blocks, one line a run), its Python and loss
layers, its first MAX_LINTS_SHOWN lints (errors first; the rest counted by kind), then the
one-line summary; `every_layer=True` (`inspector graph --all`) prints the full table at any size.

Tables are laid out by inspector.render.table (linear; rich.Table takes about 1 ms a row). User
text (names, param_str, messages) is data: never markup, control characters shown as escapes.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from rich.console import Console, ConsoleOptions
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

from ..render.table import table_segments, visible
from ..shapes import shape_text
from .records import BlobSlot, GraphLayer, Lint
from .report import GraphReport
from .style import ROW_STYLES, SEVERITY_STYLES

SUMMARY_OVER = 60  # layers; above this the text report is the summary unless every layer is asked for
MAX_RUNS_SHOWN = 24  # lines of block runs in the summary (the first and the last ones)
MAX_LINTS_SHOWN = 20  # lints listed in the summary
MAX_NAMES_SHOWN = 10  # names listed in one summary line (Python layers, dropped layers)


def _lint_text(lint: Lint) -> Text:
    where = f"{lint.layer}: " if lint.layer else ""
    line = f" (line {lint.line})" if lint.line else ""
    return Text.assemble((lint.severity, SEVERITY_STYLES[lint.severity]),
                         visible(f" [{lint.code}] {where}{lint.message}{line}"))


def _slot_text(slot: BlobSlot) -> str:
    shape = shape_text(slot.shape)
    return f"{slot.blob} ({shape})" if shape else slot.blob


def _notes(layer: GraphLayer, phase: str) -> str:
    notes = []
    if layer.param_str:
        notes.append(f"param_str {layer.param_str}")
    if layer.loss_weights:
        notes.append("loss_weight " + ", ".join(f"{w:g}" for w in layer.loss_weights if w))
    if layer.frozen:
        notes.append("frozen")
    if layer.shared_params:
        notes.append("shares " + ", ".join(layer.shared_params))
    if phase == "ALL" and len(layer.phases) != 2:
        notes.append("/".join(layer.phases) + " only" if layer.phases else "in no phase")
    if layer.in_place:
        notes.append("in place")
    return "; ".join(notes)


def _names(names: list[str]) -> str:
    shown = ", ".join(visible(n) for n in names[:MAX_NAMES_SHOWN])
    return shown + (f", ... ({len(names) - MAX_NAMES_SHOWN} more)" if len(names) > MAX_NAMES_SHOWN else "")


class GraphText:
    """The text view of a GraphReport (printed by rich); to_dict() is the report's, for --format json."""

    def __init__(self, report: GraphReport, every_layer: bool = False):
        self.report = report
        self.every_layer = every_layer

    def to_dict(self) -> dict:
        return self.report.to_dict()

    @property
    def summarized(self) -> bool:
        return not self.every_layer and len(self.report.layers) > SUMMARY_OVER

    def __rich_console__(self, console: Console, options: ConsoleOptions):
        report = self.report
        phase = "all phases" if report.phase == "ALL" else report.phase
        stages = f", stages {', '.join(report.stages)}" if report.stages else ""
        yield Text(visible(f"{report.name or 'net'}  {report.net}  ({phase}{stages})"), style="bold")
        if report.phase_note:
            yield Text(visible(report.phase_note), style="dim")
        if self.summarized:
            yield from self._summary(options.max_width)
        else:
            yield from self._layer_table(options.max_width)
            yield from (_lint_text(lint) for lint in report.lints)
        for phase_name, names in report.summary.dropped.items():
            if names and report.phase in ("ALL", phase_name):
                listed = _names(names) if self.summarized else visible(", ".join(names))
                yield Text(f"{phase_name} drops {len(names)} layer(s): {listed}", style="dim")
        if report.output:
            yield Text(visible(f"wrote {report.output}"))
        yield Text(visible(report.summary_line()), style="bold")

    def _layer_table(self, width: int) -> Iterator[Segment]:
        report = self.report
        rows, styles = [], []
        style_of = {name: Style.parse(style) if style else None for name, style in ROW_STYLES.items()}
        for i, layer in enumerate(report.layers, 1):
            bottoms = ", ".join(_slot_text(slot) for slot in layer.bottom_edges)
            tops = ", ".join(_slot_text(slot) for slot in layer.top_edges)
            rows.append((str(i), visible(layer.name), visible(layer.python or layer.type),
                         visible(f"{bottoms} -> {tops}"), visible(_notes(layer, report.phase))))
            styles.append(style_of[layer.style])
        yield from table_segments(("#", "layer", "type", "bottoms -> tops", "notes"), rows, styles, width)

    def _summary(self, width: int) -> Iterator[Text | Segment]:
        report, summary = self.report, self.report.summary
        runs = summary.blocks
        yield Text(f"{summary.layers} layers in {sum(r.blocks for r in runs)} blocks, split where the fewest blobs "
                   f"are in flight ({summary.narrowest}, data layers' tops aside); alike blocks in a row make one "
                   "line; --all lists every layer")
        rows = []
        for run in runs:
            name = visible(run.first if run.blocks == 1 else f"{run.first} .. {run.last}")
            count = f"{run.layers_each}" if run.blocks == 1 else f"{run.blocks} x {run.layers_each}"
            types = ", ".join(f"{visible(t)} {n}" if n > 1 else visible(t) for t, n in run.types.items())
            params = "" if run.params is None else f"{run.params:,}"
            rows.append((name, count, types) + ((params,) if summary.params is not None else ()))
        header = ("blocks", "layers", "layer types in a block") + (("params",) if summary.params is not None else ())
        if len(rows) > MAX_RUNS_SHOWN:
            head, tail = MAX_RUNS_SHOWN * 2 // 3, MAX_RUNS_SHOWN - MAX_RUNS_SHOWN * 2 // 3
            hidden = len(rows) - head - tail
            elided = (f"... {hidden} more lines", "", "", "")[:len(header)]
            rows = [*rows[:head], elided, *rows[-tail:]]
        yield from table_segments(header, rows, [None] * len(rows), width, indent="  ")
        if summary.python_layers:
            yield Text(f"Python layers ({len(summary.python_layers)}): {_names(summary.python_layers)}",
                       style=ROW_STYLES["python"])
        if summary.loss_layers:
            yield Text(f"loss layers ({len(summary.loss_layers)}): {_names(summary.loss_layers)}",
                       style=ROW_STYLES["loss"])
        yield from (_lint_text(lint) for lint in report.lints[:MAX_LINTS_SHOWN])  # errors first
        if len(report.lints) > MAX_LINTS_SHOWN:
            more = Counter(f"{lint.severity} [{lint.code}]" for lint in report.lints[MAX_LINTS_SHOWN:])
            yield Text(f"... and {', '.join(f'{n} {kind}' for kind, n in more.items())} (--all lists them all)")
