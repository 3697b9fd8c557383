"""ExplainReport: what Caffe does with a layer class, as facts with file:line, and its three views.

The report holds facts only (dataclasses); `to_dict()` is the JSON view with stable top-level keys
(file, class, holder, methods, attributes, guards, error_handling, lifecycle, diagnostics, then
type, blob_constraints, device_methods, pycaffe_layer), `to_markdown()` a document for a wiki,
and `__rich_console__` the terminal view. All three are built from the same fields, so they
cannot disagree. This module imports no libclang, so a cached report renders without it.

Locations: the JSON keeps every file:line as the facts hold it (relative to `root`). The text and
markdown views name the header once at the top, with the tree, and then show the header's own
lines compactly (`:27` in a text table cell, `python_layer.hpp:27` elsewhere); other files keep
their path relative to the tree.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import PurePath
from typing import Any

# table columns that hold a file:line
LOCATION_COLUMNS = ("declared", "body", "at")


def from_fields(cls, data: dict[str, Any], **nested: Any):
    """A dataclass from its dict view: the class's own fields only (derived keys such as a
    Holder's description are dropped), nested objects given already built."""
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names and k not in nested}, **nested)


def where(file: str | None, line: int | None) -> str:
    if not file:
        return ""
    return f"{file}:{line}" if line else file


@dataclass
class BaseClass:
    name: str
    file: str | None = None
    line: int | None = None
    parent: str | None = None  # the class this one is a base of (None: of the explained class)


@dataclass
class ClassInfo:
    name: str
    template_params: list[str]
    bases: list[str]
    export_macro: str | None
    line: int
    base_chain: list[BaseClass] = field(default_factory=list)


@dataclass
class Holder:
    member: str
    type: str
    line: int
    constructor: str | None = None  # the constructor's signature
    constructor_param: str | None = None  # the parameter the Python object arrives in
    init: str | None = None  # the member's initializer
    reference: str | None = None  # "borrowed" | "stolen" | "raw pointer"
    init_line: int | None = None

    @property
    def description(self) -> str:
        if self.constructor_param is None:
            return f"{self.type} {self.member}"
        how = {"borrowed": f"made from a borrowed {self.constructor_param}",
               "stolen": f"taking over (stealing) the reference of {self.constructor_param}",
               "raw pointer": f"stored as the raw {self.constructor_param}, no reference taken"}.get(
            self.reference or "", f"initialised as {self.member}({self.init})")
        return f"{self.type} {self.member}, {how}"


@dataclass
class Call:
    name: str
    args: list[str]
    line: int
    file: str
    in_try: bool = False


@dataclass
class Method:
    cpp: str
    access: str
    virtual: bool
    override: bool
    line: int  # declaration line in the header
    kind: str = "method"  # "method" | "constructor" | "destructor"
    defined_at: str | None = None  # file:line of the body, None when no body was found
    python_calls: list[Call] = field(default_factory=list)
    member_calls: list[tuple[str, int]] = field(default_factory=list)  # (method of the same class, line)
    not_implemented: bool = False  # its body is NOT_IMPLEMENTED: calling it aborts

    @property
    def python(self) -> str | None:
        return self.python_calls[0].name if self.python_calls else None

    @property
    def args(self) -> list[str]:
        return self.python_calls[0].args if self.python_calls else []

    def to_dict(self) -> dict:
        return {
            "cpp": self.cpp, "python": self.python, "args": self.args, "virtual": self.virtual,
            "line": self.line, "override": self.override, "access": self.access, "kind": self.kind,
            "defined_at": self.defined_at,
            "python_calls": [asdict(c) for c in self.python_calls],
            "member_calls": [[name, line] for name, line in self.member_calls],
            "not_implemented": self.not_implemented,
        }


@dataclass
class Attribute:
    name: str
    value: str
    expression: str
    line: int
    file: str
    method: str


@dataclass
class AttributeRead:
    """A value C++ reads back from the Python object (`prefetch_ = self_.attr("_prefetch")`)."""

    name: str
    target: str
    line: int
    file: str
    method: str


@dataclass
class Guard:
    condition: str
    message: str
    action: str
    aborts: bool
    line: int
    file: str
    method: str


@dataclass
class Handling:
    kind: str  # "try/catch" | "gil" | "python-error" | "lock" | "thread"
    detail: str
    line: int
    file: str
    method: str
    effect: str | None = None  # what the handler does, read from the bodies it calls


@dataclass
class Constraint:
    name: str
    value: str
    owner: str
    line: int
    file: str

    @property
    def active(self) -> bool:
        # Layer's defaults (-1, false) mean "no constraint".
        return self.value not in ("-1", "false")


@dataclass
class Reference:
    """A piece of C++ on one side of a lifecycle step."""

    text: str
    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        loc = where(self.file, self.line)
        return f"{self.text} ({loc})" if loc else self.text


@dataclass
class LifecycleStep:
    stage: str  # "construction" | "setup" | "iteration"
    name: str
    cpp: list[Reference]
    python: list[Reference]
    notes: list[Reference] = field(default_factory=list)


@dataclass
class Diagnostic:
    level: str  # "error" | "warning" | "note"
    message: str
    file: str | None = None
    line: int | None = None


@dataclass
class ExplainReport:
    file: str
    cls: ClassInfo
    holder: Holder | None = None
    methods: list[Method] = field(default_factory=list)
    attributes: list[Attribute] = field(default_factory=list)
    attributes_read: list[AttributeRead] = field(default_factory=list)
    guards: list[Guard] = field(default_factory=list)
    error_handling: list[Handling] = field(default_factory=list)
    lifecycle: list[LifecycleStep] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    type_string: str | None = None
    blob_constraints: list[Constraint] = field(default_factory=list)
    device_methods: dict[str, str | None] = field(default_factory=dict)  # Forward_cpu -> file:line or None
    pycaffe_layer: list[Reference] = field(default_factory=list)  # what caffe.Layer exposes
    files_read: list[str] = field(default_factory=list)
    root: str | None = None  # the Caffe tree the facts' relative paths start from
    absent: list[str] = field(default_factory=list)  # what this Caffe does not do for a Python layer
    partial: bool = False  # the header has parse errors: facts near them may be wrong or missing

    @property
    def is_python_layer(self) -> bool:
        return any(m.python_calls for m in self.methods)

    def method(self, name: str) -> Method | None:
        return next((m for m in self.methods if m.cpp == name), None)

    def attribute(self, name: str) -> Attribute | None:
        return next((a for a in self.attributes if a.name == name), None)

    # ---- views ----
    def to_dict(self) -> dict:
        cls = asdict(self.cls)
        return {
            "file": self.file,
            "root": self.root,
            "partial": self.partial,
            "class": cls,
            "holder": None if self.holder is None else {**asdict(self.holder), "description": self.holder.description},
            "methods": [m.to_dict() for m in self.methods],
            "attributes": [asdict(a) for a in self.attributes],
            "attributes_read": [asdict(a) for a in self.attributes_read],
            "guards": [asdict(g) for g in self.guards],
            "error_handling": [asdict(h) for h in self.error_handling],
            "lifecycle": [
                {"step": n, "stage": s.stage, "name": s.name,
                 "cpp": [asdict(r) for r in s.cpp], "python": [asdict(r) for r in s.python],
                 "notes": [asdict(r) for r in s.notes]}
                for n, s in enumerate(self.lifecycle, 1)
            ],
            "diagnostics": [asdict(d) for d in self.diagnostics],
            "python_layer": self.is_python_layer,
            "type": self.type_string,
            "blob_constraints": [{**asdict(c), "active": c.active} for c in self.blob_constraints],
            "device_methods": self.device_methods,
            "pycaffe_layer": [asdict(r) for r in self.pycaffe_layer],
            "absent": self.absent,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExplainReport:
        """The report back from its JSON view (the explain cache stores that view, not code)."""
        def refs(items):
            return [from_fields(Reference, r) for r in items]

        klass = data["class"]
        return cls(
            file=data["file"], root=data["root"], partial=data["partial"],
            cls=from_fields(ClassInfo, klass, base_chain=[from_fields(BaseClass, b) for b in klass["base_chain"]]),
            holder=None if data["holder"] is None else from_fields(Holder, data["holder"]),
            methods=[from_fields(Method, m, python_calls=[from_fields(Call, c) for c in m["python_calls"]],
                                 member_calls=[(name, line) for name, line in m["member_calls"]])
                     for m in data["methods"]],
            attributes=[from_fields(Attribute, a) for a in data["attributes"]],
            attributes_read=[from_fields(AttributeRead, a) for a in data["attributes_read"]],
            guards=[from_fields(Guard, g) for g in data["guards"]],
            error_handling=[from_fields(Handling, h) for h in data["error_handling"]],
            lifecycle=[LifecycleStep(s["stage"], s["name"], refs(s["cpp"]), refs(s["python"]), refs(s["notes"]))
                       for s in data["lifecycle"]],
            diagnostics=[from_fields(Diagnostic, d) for d in data["diagnostics"]],
            type_string=data["type"],
            blob_constraints=[from_fields(Constraint, c) for c in data["blob_constraints"]],
            device_methods=dict(data["device_methods"]),
            pycaffe_layer=refs(data["pycaffe_layer"]),
            absent=list(data["absent"]),
        )

    @property
    def display_file(self) -> str:
        prefix = (self.root or "").rstrip("/") + "/"
        return self.file[len(prefix):] if self.root and self.file.startswith(prefix) else self.file

    @property
    def header_name(self) -> str:
        return PurePath(self.file).name

    def _locator(self, header_as: str) -> Locator:
        return Locator((self.file, self.display_file), header_as)

    def _legend(self) -> list[str]:
        """Where the header is and how the text view writes locations, said once under the title."""
        if not self.root:
            return [f":NN below is line NN of {self.header_name}"]
        return [f"Caffe tree: {self.root}",
                f":NN below is line NN of {self.header_name}; other paths are relative to the tree"]

    def _class_line(self) -> str:
        c = self.cls
        head = f"template <{', '.join(c.template_params)}> " if c.template_params else ""
        export = f"{c.export_macro} " if c.export_macro else ""
        bases = f" : {', '.join(c.bases)}" if c.bases else ""
        return f"{head}class {export}{c.name}{bases}"

    def _sections(self, loc: Locator):
        """(title, header row, rows) of each table, shared by the markdown and text views."""
        f = self.display_file
        methods: list[tuple[str, ...]] = [
            (m.cpp,
             ("virtual" + (", override" if m.override else "")) if m.virtual else ("override" if m.override else ""),
             m.access, f"{m.python}({', '.join(m.args)})" if m.python else "", loc(f, m.line),
             (("inline" if m.defined_at == where(f, m.line) else loc.text(m.defined_at))
              or ("no body found" if m.kind == "method" else ""))
             + (" (not implemented: aborts if called)" if m.not_implemented else ""))
            for m in self.methods
        ]
        header: tuple[str, ...] = ("C++ method", "virtual", "access", "calls Python", "declared", "body")
        if not any(m.python for m in self.methods):  # a C++ layer: no column of blanks
            header, methods = header[:3] + header[4:], [row[:3] + row[4:] for row in methods]
        yield "Methods", header, methods
        if self.attributes:
            yield ("Attributes set on the Python object", ("attribute", "value", "set in", "at"),
                   [(a.name, a.value, a.method, loc(a.file, a.line)) for a in self.attributes])
        if self.attributes_read:
            yield ("Attributes read back from the Python object", ("attribute", "read into", "in", "at"),
                   [(a.name, a.target, a.method, loc(a.file, a.line)) for a in self.attributes_read])
        if self.guards:
            yield ("Guards", ("condition", "action", "message", "in", "at"),
                   [(g.condition or "(always)", g.action + ("" if g.aborts else " (does not abort)"), g.message,
                     g.method, loc(g.file, g.line)) for g in self.guards])
        if self.error_handling:
            yield ("Error, GIL and thread handling", ("kind", "code", "in", "at"),
                   [(h.kind, h.detail + (f" -> {h.effect}" if h.effect else ""), h.method, loc(h.file, h.line))
                    for h in self.error_handling])
        active = [c for c in self.blob_constraints if c.active]
        if active:
            yield ("Blob-count constraints", ("constraint", "value", "from", "at"),
                   [(c.name, c.value, c.owner, loc(c.file, c.line)) for c in active])
        if self.device_methods:
            yield ("Device methods", ("method", "body"),
                   [(name, loc.text(at) if at else "not defined here (Layer's default)")
                    for name, at in self.device_methods.items()])

    def _facts_lines(self, loc: Locator) -> list[str]:
        f = self.display_file
        lines = [f"{self._class_line()}  ({loc(f, self.cls.line)})"]
        chain = self.cls.base_chain
        if len(chain) > 1 or (chain and chain[0].file):
            linear = all(b.parent == (chain[n - 1].name if n else None) for n, b in enumerate(chain))
            title, joint = ("base chain: ", " -> ") if linear else ("bases (all, depth first): ", ", ")
            lines.append(title + joint.join(
                (f"{b.name} ({loc(b.file, b.line)})" if b.file else b.name)
                + ("" if linear or b.parent is None else f" [base of {b.parent}]") for b in chain))
        if self.type_string is not None:
            lines.append(f'type(): "{self.type_string}"')
        if self.holder is not None:
            h = self.holder
            lines.append(f"Python object held in: {h.description}  ({loc(f, h.line)})")
            if h.constructor:
                lines.append(f"constructor: {h.constructor}  ({loc(f, h.init_line)})")
        return lines

    def _lifecycle_lines(self, loc: Locator) -> list[tuple[str, list[str]]]:
        out = []
        for n, s in enumerate(self.lifecycle, 1):
            sub = ([f"C++: {loc.reference(r)}" for r in s.cpp] + [f"Python: {loc.reference(r)}" for r in s.python]
                   + [loc.reference(r) for r in s.notes])
            out.append((f"{n}. [{s.stage}] {s.name}", sub))
        return out

    def _partial_lines(self, loc: Locator) -> list[str]:
        """Said first when the header has parse errors, so no fact below is taken on trust."""
        if not self.partial:
            return []
        errors = [d for d in self.diagnostics if d.level == "error" and d.file in (self.file, self.display_file)]
        return ([f"PARTIAL: {self.header_name} has {len(errors)} parse error{'s' if len(errors) != 1 else ''}; "
                 "facts near them may be wrong or missing"]
                + [f"  {loc(d.file, d.line)}: {d.message}" for d in errors])

    def _diagnostic_line(self, d: Diagnostic, loc: Locator) -> str:
        return f"{d.level}: {d.message}" + (f" ({loc(d.file, d.line)})" if d.file else "")

    def to_markdown(self) -> str:
        loc = self._locator(self.header_name)
        read_from = (f"Read from `{self.display_file}` in the Caffe tree `{self.root}`; other paths below are relative "
                     f"to the tree." if self.root else f"Read from `{self.file}`.")
        out = [f"# {self.cls.name}", "", read_from, ""]
        partial = self._partial_lines(loc)
        if partial:
            out += [f"> **{partial[0]}**"] + [f"> - {line.strip()}" for line in partial[1:]] + [""]
        out += [f"- {line}" for line in self._facts_lines(loc)]
        for title, header, rows in self._sections(loc):
            out += ["", f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
        if self.absent:
            out += ["", "## Not done by this Caffe", ""] + [f"- {line}" for line in self.absent]
        if self.pycaffe_layer:
            out += ["", "## What caffe.Layer exposes (pycaffe)", ""]
            out += [f"- {loc.reference(r)}" for r in self.pycaffe_layer]
        if self.lifecycle:
            out += ["", "## Lifecycle", ""]
            for title, sub in self._lifecycle_lines(loc):
                out.append(title.replace(". [", ". **[", 1).replace("] ", "]** ", 1))
                out += [f"   - {s}" for s in sub]
        if self.diagnostics:
            out += ["", "## Diagnostics", ""]
            out += [f"- {self._diagnostic_line(d, loc)}" for d in self.diagnostics]
        return "\n".join(out) + "\n"

    def __rich_console__(self, console, options):
        from rich.table import Table  # noqa: PLC0415
        from rich.text import Text  # noqa: PLC0415

        cell, prose = self._locator(""), self._locator(self.header_name)
        yield Text(f"{self.cls.name}  {self.display_file}", style="bold")
        for line in self._legend():
            yield Text(f"  {line}", style="dim")
        for line in self._partial_lines(prose):
            yield Text(line, style="bold red")
        for line in self._facts_lines(prose):
            yield Text("  " + line)
        for title, header, rows in self._sections(cell):
            table = Table(title=title, title_justify="left", show_lines=False)
            for col in header:
                # a file:line folded over two lines reads as two things
                table.add_column(col, overflow="fold", no_wrap=col in LOCATION_COLUMNS)
            for row in rows:
                table.add_row(*[Text(str(c)) for c in row])
            yield table
        if self.absent:
            yield Text("Not done by this Caffe", style="italic")
            for line in self.absent:
                yield Text(f"  {line}")
        if self.pycaffe_layer:
            yield Text("What caffe.Layer exposes (pycaffe)", style="italic")
            for r in self.pycaffe_layer:
                yield Text(f"  {prose.reference(r)}")
        if self.lifecycle:
            yield Text("Lifecycle", style="italic")
            for title, sub in self._lifecycle_lines(prose):
                yield Text(title, style="bold")
                for s in sub:
                    yield Text(f"     {s}")
        for d in self.diagnostics:
            yield Text(self._diagnostic_line(d, prose), style="dim")


@dataclass
class Locator:
    """Writes file:line for a view: the explained header's own lines as `header_as:NN` (":27" in a
    table cell, "python_layer.hpp:27" in a sentence), every other file as the facts hold it."""

    header: tuple[str, ...]  # the names the header goes by in the facts (absolute, relative to the tree)
    header_as: str

    def __call__(self, file: str | None, line: int | None) -> str:
        if file in self.header and line:
            return f"{self.header_as}:{line}"
        return where(file, line)

    def text(self, located: str | None) -> str | None:
        """A "file:line..." string (a body's defined_at, a device method's entry) with the header shortened."""
        for name in self.header:
            if located and located.startswith(name + ":"):
                return self.header_as + located[len(name):]
        return located

    def reference(self, ref: Reference) -> str:
        at = self(ref.file, ref.line)
        return f"{ref.text} ({at})" if at else ref.text


def _md_cell(value) -> str:
    text = str(value).replace("|", "\\|").replace("\n", " ")
    return f"`{text}`" if text and any(ch in text for ch in "()<>*_") else text
