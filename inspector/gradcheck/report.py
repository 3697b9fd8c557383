"""gradcheck's result objects: each element checked, each blob, and the report with its text view.

ElementCheck is one element (both gradients, the verdict under Caffe's rule), BlobCheck a bottom or
param blob (checked, with its counts, or skipped, with why), GradcheckReport the whole check. Their JSON
goes through inspector.records (to_data, from_data); the report's view adds the totals and the worst
elements, and to_message adds every element, for the child to send back. The report prints itself with
rich (two tables and the verdict line).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from rich.table import Table
from rich.text import Text

from ..records import NOT_DATA, from_data, key, to_data
from ..shapes import shape_text

WORST_SHOWN = 10
OK, FAIL, KINK = "ok", "fail", "kink"


@dataclass
class ElementCheck:
    """One checked element: where it is, both gradients, and the verdict under Caffe's rule."""

    blob: str
    index: tuple[int, ...]
    value: float
    analytic: float
    numeric: float
    error: float  # |analytic - numeric|
    allowed: float  # threshold * max(|analytic|, |numeric|, 1)
    status: str  # ok | fail | kink
    step: float  # the step used: --step, or smaller where --step flipped a discrete choice
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.error / self.allowed

    def to_dict(self) -> dict:
        return to_data(self)


@dataclass
class BlobCheck:
    """A bottom or param blob of the layer: checked (how many elements, how many failed) or skipped."""

    label: str = field(metadata=key("blob"))  # bottom[0] fc9_1 | blobs[1]
    role: str  # bottom | param
    shape: list[int]
    count: int = 0  # elements in the blob (set from the shape)
    checked: int = 0
    failures: int = 0
    kinks: int = 0
    max_ratio: float = 0.0  # worst error / allowed over the checked elements
    # worst |analytic - numeric| / max(|analytic|, |numeric|) away from kinks: Caffe's floor of 1 in
    # the allowed error hides a wrong gradient that is small; this does not
    max_relative: float = field(default=0.0, metadata=key("max_relative_error"))
    skipped: str | None = None
    note: str = ""  # how a checked blob was checked, when it is not the plain way

    def __post_init__(self) -> None:
        self.count = math.prod(self.shape)

    def to_dict(self) -> dict:
        return to_data(self)


@dataclass
class GradcheckReport:
    prototxt: Path
    layer: str
    layer_type: str
    phase: str
    step: float
    threshold: float
    samples: int
    seed: int
    top_diffs: list[str]  # per top: "random" or "loss weight 1"
    blobs: list[BlobCheck] = field(default_factory=list)
    elements: list[ElementCheck] = field(default_factory=list, repr=False, metadata=NOT_DATA)  # every one checked

    @property
    def failures(self) -> int:
        return sum(b.failures for b in self.blobs)

    @property
    def kinks(self) -> int:
        return sum(b.kinks for b in self.blobs)

    @property
    def checked(self) -> int:
        return sum(b.checked for b in self.blobs)

    @property
    def passed(self) -> bool:
        return self.failures == 0

    @property
    def worst(self) -> list[ElementCheck]:
        """Failures first, then kinks, then the rest, each by error over allowed error."""
        rank = {FAIL: 0, KINK: 1, OK: 2}
        return sorted(self.elements, key=lambda e: (rank[e.status], -e.ratio))[:WORST_SHOWN]

    def to_dict(self) -> dict:
        """The JSON view: the fields, the totals, and the worst elements (not every one)."""
        data = to_data(self)
        blobs = data.pop("blobs")
        return {**data, "passed": self.passed, "checked": self.checked, "failures": self.failures,
                "kinks": self.kinks, "blobs": blobs, "worst": to_data(self.worst)}

    def to_message(self) -> dict:
        """The JSON view plus every checked element: what the child process sends back."""
        return {**self.to_dict(), "elements": to_data(self.elements)}

    @classmethod
    def from_dict(cls, d: dict) -> GradcheckReport:
        """The report again, from to_message() (or from to_dict(), keeping only the worst elements)."""
        report = from_data(cls, d)
        report.elements = [from_data(ElementCheck, e) for e in d.get("elements", d["worst"])]
        return report

    def __rich_console__(self, console, options):
        yield Text(f"gradcheck {self.layer} ({self.layer_type}) in {self.prototxt.name}, {self.phase} phase: "
                   f"step {self.step:g}, threshold {self.threshold:g}, up to {self.samples} elements a blob, "
                   f"seed {self.seed}; top diffs: {', '.join(self.top_diffs)}")
        blobs = Table(title="blobs", title_justify="left")
        for column in ("blob", "shape", "checked", "failures", "kinks", "worst error/allowed",
                       "worst relative error", "note"):
            blobs.add_column(column, overflow="fold")
        for b in self.blobs:
            if b.skipped:
                blobs.add_row(Text(b.label), shape_text(b.shape), "-", "-", "-", "-", "-",
                              Text(f"skipped: {b.skipped}", style="dim"))
                continue
            failures = Text(str(b.failures), "red") if b.failures else "0"
            blobs.add_row(Text(b.label), shape_text(b.shape), str(b.checked), failures, str(b.kinks),
                          f"{b.max_ratio:.3g}", f"{b.max_relative:.3g}", Text(b.note))
        yield blobs
        worst = Table(title="worst elements", title_justify="left")
        for column in ("blob", "index", "value", "step", "analytic", "numeric", "error", "allowed", "status"):
            worst.add_column(column, justify="left" if column in ("blob", "index", "status") else "right")
        colour = {FAIL: "red", KINK: "yellow", OK: "green"}
        for e in self.worst:
            status = Text.assemble((e.status, colour[e.status]), f" ({e.note})" if e.note else "")
            worst.add_row(Text(e.blob), str(list(e.index)), f"{e.value:.4g}", f"{e.step:g}", f"{e.analytic:.6g}",
                          f"{e.numeric:.6g}", f"{e.error:.3g}", f"{e.allowed:.3g}", status)
        yield worst
        kinks = f", {self.kinks} at kinks (not counted as failures)" if self.kinks else ""
        if self.passed:
            yield Text.assemble(("PASS", "green"), f": {self.checked} elements within the threshold{kinks}.")
        else:
            yield Text.assemble(("FAIL", "red"), f": {self.failures} of {self.checked} elements off by more "
                                f"than the threshold{kinks}.")
