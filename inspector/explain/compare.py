"""Two explain reports side by side: what one Caffe does for a layer class that the other does not.

`compare(a, b)` turns each report into topics (the class's template parameters and bases, the
holder of the Python object, each C++ -> Python call with its arguments, every attribute set on
or read from the Python object, guards, error/GIL/lock/thread handling, the lifecycle steps and
where each comes from, what each Caffe leaves undone) and pairs them by topic. A row says the
value on each side, "-" where a side has nothing; rows that differ come first. Porting notes put
the differences a layer's author trips on in words: an attribute one side sets under another
name (param_str vs param_str_), phase as an int, a string or absent, a per-pass reshape missing.

The comparison is a result object like the report: `to_dict()` (JSON), `to_markdown()` and the
rich terminal view are built from the same rows.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import PurePath

from .report import ExplainReport

ABSENT = "-"
TOPIC_ORDER = ("class", "holder", "python call", "attribute set", "attribute read", "guard", "try/catch", "gil",
               "lock", "thread", "lifecycle", "not done")
HOOKS = ("LayerSetUp", "Reshape", "Forward_cpu", "Backward_cpu")


@dataclass
class ComparisonRow:
    topic: str  # "class" | "holder" | "python call" | "attribute set" | ...
    item: str  # what in the topic: a method, an attribute's name, a lifecycle step
    a: str
    b: str

    @property
    def same(self) -> bool:
        return self.a == self.b


@dataclass
class ExplainComparison:
    a_name: str  # how each side is named in the views: its tree, else its header
    b_name: str
    a_file: str
    b_file: str
    rows: list[ComparisonRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # porting notes, in words

    @property
    def differences(self) -> list[ComparisonRow]:
        return [r for r in self.rows if not r.same]

    def ordered_rows(self) -> list[ComparisonRow]:
        """Differences first, each group in topic order."""
        return self.differences + [r for r in self.rows if r.same]

    def to_dict(self) -> dict:
        return {
            "a": {"name": self.a_name, "file": self.a_file},
            "b": {"name": self.b_name, "file": self.b_file},
            "same": not self.differences,
            "notes": self.notes,
            "rows": [{**asdict(r), "same": r.same} for r in self.ordered_rows()],
        }

    def to_markdown(self) -> str:
        out = [f"# explain: {self.a_name} vs {self.b_name}", "",
               f"- A: `{self.a_file}` ({self.a_name})", f"- B: `{self.b_file}` ({self.b_name})", ""]
        if self.notes:
            out += ["## Porting notes", ""] + [f"- {note}" for note in self.notes] + [""]
        out += [f"## {len(self.differences)} differences, {len(self.rows) - len(self.differences)} the same", "",
                "| | topic | item | A | B |", "|---|---|---|---|---|"]
        out += [f"| {'' if r.same else '≠'} | {r.topic} | {_md(r.item)} | {_md(r.a)} | {_md(r.b)} |"
                for r in self.ordered_rows()]
        return "\n".join(out) + "\n"

    def __rich_console__(self, console, options):
        from rich.table import Table  # noqa: PLC0415
        from rich.text import Text  # noqa: PLC0415

        yield Text(f"explain: {self.a_name} vs {self.b_name}", style="bold")
        yield Text(f"  A: {self.a_file}", style="dim")
        yield Text(f"  B: {self.b_file}", style="dim")
        if self.notes:
            yield Text("Porting notes", style="italic")
            for note in self.notes:
                yield Text(f"  {note}")
        table = Table(title=f"{len(self.differences)} differences first, then what is the same",
                      title_justify="left")
        for col in ("", "topic", "item", "A", "B"):
            table.add_column(col, overflow="fold")
        for r in self.ordered_rows():
            table.add_row(Text("" if r.same else "≠", style="bold"), Text(r.topic), Text(r.item), Text(r.a), Text(r.b),
                          style=None if not r.same else "dim")
        yield table


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ") or " "


def _side_name(report: ExplainReport) -> str:
    """The tree's folder name (caffe-fast-rcnn), else the header's path."""
    return PurePath(report.root).name if report.root else report.file


def _phase_kind(value: str | None) -> str:
    if value is None:
        return "absent (self.phase does not exist)"
    return "string" if '"' in value else "int"


def topics(report: ExplainReport) -> dict[tuple[str, str], str]:
    """Every fact of the report that a comparison pairs, keyed by (topic, item)."""
    out: dict[tuple[str, str], str] = {}
    cls = report.cls
    out[("class", "template parameters")] = ", ".join(cls.template_params) or ABSENT
    out[("class", "bases")] = ", ".join(cls.bases) or ABSENT
    out[("class", "base chain")] = " -> ".join(b.name for b in cls.base_chain) or ABSENT
    if report.holder is not None:
        out[("holder", "Python object held in")] = report.holder.description
    for method in report.methods:
        if method.python_calls or method.cpp in HOOKS:
            calls = "; ".join(f"{c.name}({', '.join(c.args)})" for c in method.python_calls)
            out[("python call", method.cpp)] = calls or ("no Python call" if report.method(method.cpp) else ABSENT)
    for hook in HOOKS:
        out.setdefault(("python call", hook), f"{cls.name} does not define {hook}")
    for attr in report.attributes:
        out[("attribute set", f"self.{attr.name}")] = f"{attr.value} (in {attr.method})"
    phase = report.attribute("phase")
    out[("attribute set", "phase kind")] = _phase_kind(phase.value if phase else None)
    for read in report.attributes_read:
        out[("attribute read", f"self.{read.name}")] = f"into {read.target} (in {read.method})"
    for guard in report.guards:  # paired by where and how they act, so a changed message is one row
        item = f"{guard.method}: {guard.action}"
        n = sum(1 for topic, key in out if topic == "guard" and key.split(" #")[0] == item)
        out[("guard", item + (f" #{n + 1}" if n else ""))] = f"if {guard.condition or 'always'}: {guard.message}"
    for kind in ("try/catch", "gil", "lock", "thread"):
        for hook in sorted({h.method for h in report.error_handling if h.kind == kind}):
            entries = [h for h in report.error_handling if h.kind == kind and h.method == hook]
            out[(kind, hook)] = "; ".join(h.detail + (f" -> {h.effect}" if h.effect else "") for h in entries)
    for n, step in enumerate(report.lifecycle):
        where = [r.text for r in step.cpp if "->" in r.text or r.text.startswith(("Net::", "Layer", "GetPython"))]
        key = step.name if step.stage != "construction" else "create the layer"
        out[("lifecycle", key)] = "; ".join(where[:2]) or f"step {n + 1}"
        if step.stage == "construction":
            out[("lifecycle", "import")] = "; ".join(r.text for r in step.python) or ABSENT
    for line in report.absent:
        out[("not done", line.split(":")[0])] = line
    return out


def _porting_notes(a: ExplainReport, b: ExplainReport, a_name: str, b_name: str) -> list[str]:
    notes = []
    a_attrs, b_attrs = {x.name for x in a.attributes}, {x.name for x in b.attributes}
    for name in sorted(a_attrs - b_attrs):
        twin = next((other for other in b_attrs - a_attrs if other.rstrip("_") == name.rstrip("_")), None)
        if twin:
            notes.append(f"{a_name} sets self.{name}, {b_name} sets self.{twin}: a layer that reads self.{twin} "
                         f"fails under {a_name} (AttributeError), and one that reads self.{name} fails under {b_name}")
        elif name not in {other.rstrip("_") for other in b_attrs}:
            notes.append(f"{a_name} sets self.{name}; {b_name} does not")
    for name in sorted(b_attrs - a_attrs):
        if not any(other.rstrip("_") == name.rstrip("_") for other in a_attrs):
            notes.append(f"{b_name} sets self.{name}; {a_name} does not")
    pa, pb = a.attribute("phase"), b.attribute("phase")
    if pa and pb and _phase_kind(pa.value) != _phase_kind(pb.value):
        notes.append(f"self.phase is {_phase_kind(pa.value)} in {a_name} ({pa.value}) and {_phase_kind(pb.value)} "
                     f"in {b_name} ({pb.value})")
    a_steps, b_steps = {s.name for s in a.lifecycle}, {s.name for s in b.lifecycle}
    for name in sorted(a_steps - b_steps):
        notes.append(f"{a_name} has the step \"{name}\"; {b_name} does not")
    for name in sorted(b_steps - a_steps):
        notes.append(f"{b_name} has the step \"{name}\"; {a_name} does not")
    return notes


def compare(a: ExplainReport, b: ExplainReport) -> ExplainComparison:
    a_name, b_name = _side_name(a), _side_name(b)
    if a_name == b_name:
        a_name, b_name = "A", "B"
    ta, tb = topics(a), topics(b)
    keys = sorted(list(ta) + [k for k in tb if k not in ta], key=lambda k: TOPIC_ORDER.index(k[0]))
    rows = [ComparisonRow(topic, item, ta.get((topic, item), ABSENT), tb.get((topic, item), ABSENT))
            for topic, item in keys]
    return ExplainComparison(a_name, b_name, a.file, b.file, rows, _porting_notes(a, b, a_name, b_name))
