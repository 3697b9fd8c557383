"""TrainingReport: the training view of a traced solver run, folded from the recorder's events.

Memory stays flat in what matters: each per-iteration series is a compact array of doubles (8 bytes a
value), the warnings are followed as streaks (where each began, O(1) a series), and the Python layer call
log keeps the first and last iterations (runner.CallWindow) while every call still goes to --format jsonl.
The text view summarises (first, last, min, max, the trend between the first and last tenth of the run)
so that a long run stays one screen; to_dict() gives every iteration, in the shape
issue 13 fixed: iterations [{iteration, lr, losses, wall_ms}], layers {blob key: {update_ratio,
weight_norm, grad_norm, frozen}}, anomaly or null.

Warnings (Findings with the iteration they started), each silent on a healthy run:
- flat_loss: an output with a loss weight that stayed exactly where it was for the last half of the run (10 iterations
  at least) without being zero (a hinge loss at zero has nothing left to learn, not a bug).
- update_ratio: a trainable blob whose ||dw||/||w|| stayed outside 1e-5..1e-1 from some iteration to the end
  (the last quarter of the run, 5 iterations at least).
- exploding_gradient: a blob's gradient norm above 100 times its median over the first iterations.
- dead_relu: a ReLU whose top was all zero from some iteration to the end (5 iterations at least).
"""
from __future__ import annotations

import math
from array import array
from dataclasses import dataclass, field

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..records import from_data
from ..shapes import shape_text
from .contract import KIND_TEXT, finding

RATIO_BAND = (1e-5, 1e-1)
EXPLODING_FACTOR = 100.0
BASELINE_ITERATIONS = 5  # the gradient norms an explosion is measured against
MIN_STREAK = 5
UNDEFINED = -1.0  # an update ratio with ||w|| = 0 (norms and ratios are never negative)


@dataclass
class Streak:
    """Where the present run of a condition began (None: not holding now)."""

    start: int | None = None
    length: int = 0

    def update(self, holds: bool, iteration: int) -> None:
        if holds:
            if self.start is None:
                self.start, self.length = iteration, 0
            self.length += 1
        else:
            self.start, self.length = None, 0


@dataclass
class BlobSeries:
    key: str
    layer: str
    index: int
    shape: list[int]
    lr_mult: float | None
    shared_with: list[str]
    frozen: bool
    weight_norm: array = field(default_factory=lambda: array("d"))
    grad_norm: array = field(default_factory=lambda: array("d"))
    update_ratio: array = field(default_factory=lambda: array("d"))
    ratio_streak: Streak = field(default_factory=Streak)
    ratio_side: str = ""
    exploding_at: int | None = None

    @property
    def last_ratio(self) -> float:
        return next((r for r in reversed(self.update_ratio) if r != UNDEFINED), math.nan)

    def to_dict(self) -> dict:
        return {"layer": self.layer, "blob_index": self.index, "shape": self.shape, "lr_mult": self.lr_mult,
                "frozen": self.frozen, "shared_with": self.shared_with,
                "update_ratio": [None if r == UNDEFINED else r for r in self.update_ratio],
                "weight_norm": list(self.weight_norm), "grad_norm": list(self.grad_norm)}


@dataclass
class TrainingReport:
    solver: str
    net: str = ""
    solver_type: str = ""
    lr_policy: str = ""
    base_lr: float | None = None
    max_iter: int = 0
    planned: int = 0
    search: bool = True
    outputs: list[str] = field(default_factory=list)
    loss_outputs: list[str] = field(default_factory=list)  # the outputs with a loss weight (not an accuracy)
    iteration: array = field(default_factory=lambda: array("q"))
    lr: array = field(default_factory=lambda: array("d"))
    wall_ms: array = field(default_factory=lambda: array("d"))
    losses: dict[str, array] = field(default_factory=dict)
    blobs: list[BlobSeries] = field(default_factory=list)
    anomaly: dict | None = None
    ended: bool = False
    loss_streaks: dict[str, Streak] = field(default_factory=dict)
    relu_streaks: dict[str, Streak] = field(default_factory=dict)

    # -- folding the events --
    def start(self, event: dict) -> None:
        self.net, self.solver_type, self.lr_policy = event["net"], event["type"], event["lr_policy"]
        self.base_lr, self.max_iter, self.planned = event["base_lr"], event["max_iter"], event["iterations"]
        self.search, self.outputs = event["search"], event["outputs"]
        self.loss_outputs = event.get("loss_outputs", self.outputs)
        self.losses = {name: array("d") for name in self.outputs}
        self.loss_streaks = {name: Streak() for name in self.outputs}
        self.blobs = [BlobSeries(p["key"], p["layer"], p["index"], p["shape"], p["lr_mult"], p["shared_with"],
                                 p["frozen"]) for p in event["params"]]

    def add_iteration(self, event: dict) -> None:
        it = event["iteration"]
        previous = {name: values[-1] for name, values in self.losses.items() if values}
        self.iteration.append(it)
        self.lr.append(math.nan if event["lr"] is None else event["lr"])
        self.wall_ms.append(event["wall_ms"])
        for name, values in self.losses.items():
            value = event["losses"].get(name, math.nan)
            values.append(value)
            self.loss_streaks[name].update(previous.get(name) == value, it)
        ratios = event["update_ratio"]
        for blob, weight, grad, ratio in zip(self.blobs, event["weight_norm"], event["grad_norm"], ratios):
            blob.weight_norm.append(weight)
            blob.grad_norm.append(grad)
            blob.update_ratio.append(UNDEFINED if ratio is None else ratio)
            if not blob.frozen and ratio is not None:
                side = "below" if ratio < RATIO_BAND[0] else "above" if ratio > RATIO_BAND[1] else ""
                if side != blob.ratio_side:
                    blob.ratio_streak.update(False, it)
                blob.ratio_side = side
                blob.ratio_streak.update(bool(side), it)
            if blob.exploding_at is None and len(blob.grad_norm) > BASELINE_ITERATIONS:
                baseline = sorted(blob.grad_norm[:BASELINE_ITERATIONS])[BASELINE_ITERATIONS // 2]
                if baseline > 0 and grad > EXPLODING_FACTOR * baseline:
                    blob.exploding_at = it
        zero = set(event.get("zero_relus", ()))
        for name in zero - set(self.relu_streaks):
            self.relu_streaks[name] = Streak()
        for name, streak in self.relu_streaks.items():
            streak.update(name in zero, it)

    def warnings(self) -> list[dict]:
        """The warnings of the run so far, as finding events (check, layer, method, iteration, message, fix)."""
        found = []
        runs = len(self.iteration)
        for name, streak in self.loss_streaks.items():
            if name not in self.loss_outputs:  # an accuracy at 1 is no flat loss
                continue
            values = self.losses[name]
            held = streak.length + 1 if streak.start is not None else 0  # the iterations at one value
            if held >= max(10, runs // 2) and values and values[-1] != 0 and math.isfinite(values[-1]):
                since = streak.start - 1 if streak.start else 0
                found.append(finding("flat_loss", name, "forward", since, value=values[-1], held=held))
        for blob in self.blobs:
            streak = blob.ratio_streak
            if streak.start is not None and streak.length >= max(MIN_STREAK, runs // 4):
                low, high = RATIO_BAND
                found.append(finding("update_ratio", blob.layer, "update", streak.start, blob.key,
                                     case=blob.ratio_side, side=blob.ratio_side,
                                     bound=low if blob.ratio_side == "below" else high, last=blob.last_ratio))
            if blob.exploding_at is not None:
                found.append(finding("exploding_gradient", blob.layer, "backward", blob.exploding_at, blob.key,
                                     factor=EXPLODING_FACTOR, baseline=BASELINE_ITERATIONS,
                                     largest=max(blob.grad_norm)))
        for name, streak in self.relu_streaks.items():
            if streak.start is not None and streak.length >= MIN_STREAK:
                found.append(finding("dead_relu", name, "forward", streak.start))
        return found

    # -- views --
    def to_dict(self) -> dict:
        iterations = [{"iteration": it, "lr": None if math.isnan(lr) else lr,
                       "losses": {name: values[k] for name, values in self.losses.items()}, "wall_ms": wall}
                      for k, (it, lr, wall) in enumerate(zip(self.iteration, self.lr, self.wall_ms))]
        return {"solver": self.solver, "net": self.net, "type": self.solver_type, "lr_policy": self.lr_policy,
                "base_lr": self.base_lr, "max_iter": self.max_iter, "planned_iterations": self.planned,
                "nonfinite_search": self.search, "iterations": iterations,
                "layers": {blob.key: blob.to_dict() for blob in self.blobs}, "anomaly": self.anomaly}

    def __rich_console__(self, console, options):
        runs = len(self.iteration)
        mean_ms = sum(self.wall_ms) / runs if runs else 0.0
        planned = f" of {self.planned}" if self.planned else ""
        yield Text(f"training  {self.solver}  ({self.solver_type}, lr_policy {self.lr_policy}, {runs}{planned} "
                   f"iteration(s) run, max_iter {self.max_iter}, {mean_ms:.2f} ms an iteration)", style="bold")
        if not runs:
            return
        yield self._series_table()
        yield self._blob_table()
        if self.anomaly:
            yield self._anomaly_view()

    def _series_table(self) -> Table:
        table = Table(title=f"per iteration ({self.iteration[0]}..{self.iteration[-1]})", title_justify="left",
                      box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1, 0, 0))
        for column in ("series", "first", "last", "min (iter)", "max (iter)", "first -> last tenth"):
            table.add_column(column, justify="left" if column == "series" else "right")
        for name, values in self.losses.items():
            table.add_row(f"output {name}", *_summary(values, self.iteration))
        table.add_row("lr", *_summary(self.lr, self.iteration))
        table.add_row("wall ms", *_summary(self.wall_ms, self.iteration))
        return table

    def _blob_table(self) -> Table:
        table = Table(title="param blobs: weight norm first -> last, gradient norm last (max), update ratio "
                            "||dw||/||w|| median (min..max), healthy about 1e-3",
                      title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1, 0, 0))
        for column in ("blob", "shape", "lr_mult", "weight norm", "grad norm", "update ratio"):
            table.add_column(column, justify="left" if column in ("blob", "shape") else "right",
                             no_wrap=column != "blob")
        for blob in self.blobs:
            weights = blob.weight_norm
            ratios = sorted(r for r in blob.update_ratio if r != UNDEFINED and not math.isnan(r))
            if blob.frozen:
                ratio_text = "frozen" + (" (unchanged)" if all(r == 0 for r in ratios) else " (CHANGED)")
            elif ratios:
                ratio_text = f"{ratios[len(ratios) // 2]:.3g} ({ratios[0]:.2g}..{ratios[-1]:.2g})"
            else:
                ratio_text = "-"
            shared = f" (shared with {', '.join(blob.shared_with)})" if blob.shared_with else ""
            table.add_row(blob.key + shared, shape_text(blob.shape),
                          "?" if blob.lr_mult is None else f"{blob.lr_mult:g}",
                          f"{weights[0]:.4g} -> {weights[-1]:.4g}" if weights else "-",
                          f"{blob.grad_norm[-1]:.3g} ({max(blob.grad_norm):.3g})" if blob.grad_norm else "-",
                          ratio_text, style="bold red" if ratio_text.endswith("(CHANGED)") else None)
        return table

    def _anomaly_view(self) -> Group:
        a = self.anomaly or {}
        kind = KIND_TEXT.get(a["kind"], a["kind"])
        action = {"forward": f"forward wrote {kind} to", "backward": f"backward wrote {kind} to",
                  "update": f"the update left {kind} in"}[a["method"]]
        lines = [Text(f"FIRST NON-FINITE VALUE at iteration {a['iteration']}: layer {a['layer']}, {action} "
                      f"{a['blob']} ({a['part']}); training stopped there"
                      + (" (checked once an iteration: run without --no-stats to name the first layer)"
                         if a.get("coarse") else ""), style="bold red")]
        facts = a.get("last_finite") or {}
        for name, mean in facts.get("tops", {}).items():
            lines.append(Text(f"  its top {name} when last finite: mean {mean:.4g}"))
        for name, stats in facts.get("bottoms", {}).items():
            lines.append(Text(f"  its bottom {name} in this iteration: {stats['min']:.4g}..{stats['max']:.4g} "
                              f"mean {stats['mean']:.4g} std {stats['std']:.4g}"))
        if facts.get("lr") is not None:
            lines.append(Text(f"  lr at iteration {facts.get('params_iteration')}: {facts['lr']:.6g}"))
        for key, values in facts.get("params", {}).items():
            ratio = values["update_ratio"]
            lines.append(Text(f"  {key} at iteration {facts.get('params_iteration')}: weight norm "
                              f"{values['weight_norm']:.4g}, grad norm {values['grad_norm']:.4g}, update ratio "
                              + ("-" if ratio is None else f"{ratio:.3g}")))
        return Group(*lines)


def _summary(values: array, iterations: array) -> list[str]:
    """first, last, min (at), max (at), and the mean of the first tenth against the last tenth."""
    finite = [(v, it) for v, it in zip(values, iterations) if math.isfinite(v)]
    if not finite:
        return ["-"] * 5
    low, high = min(finite), max(finite)
    tenth = max(1, len(finite) // 10)
    head = sum(v for v, _ in finite[:tenth]) / tenth
    tail = sum(v for v, _ in finite[-tenth:]) / tenth
    trend = "flat" if head == tail else ("falling" if tail < head else "rising")
    return [f"{values[0]:.4g}", f"{values[-1]:.4g}", f"{low[0]:.4g} ({low[1]})", f"{high[0]:.4g} ({high[1]})",
            f"{head:.4g} -> {tail:.4g} {trend}"]


class TrainingFolder:
    """Folds the training events into report.training (ReportBuilder's handlers), drives the progress bar,
    and adds the warnings when the run ends."""

    EVENTS = ("training", "train_iteration", "training_anomaly", "training_end")

    def __init__(self, report, solver: str, on_iteration=None):
        self.report = report
        report.training = TrainingReport(solver)
        self.on_iteration = on_iteration

    def install(self, builder) -> None:
        for kind in self.EVENTS:
            builder.handlers[kind] = self.add

    def add(self, event: dict) -> None:
        training: TrainingReport = self.report.training
        kind = event["event"]
        if kind == "training":
            training.start(event)
        elif kind == "train_iteration":
            training.add_iteration(event)
            if self.on_iteration is not None:
                self.on_iteration(event)
        elif kind == "training_anomaly":
            training.anomaly = {k: v for k, v in event.items() if k != "event"}
        elif kind == "training_end":
            training.ended = True
            from .report import Finding  # noqa: PLC0415

            for warning in training.warnings():
                self.report.findings.append(from_data(Finding, warning))
