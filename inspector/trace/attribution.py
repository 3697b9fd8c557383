"""Which layer a crash belongs to, and in which stage, from Caffe's own log and inspector's markers.

How:
- ConstructionLog follows what Net::Init logs at INFO level (the child runs Caffe with GLOG_minloglevel=0,
  whatever the user set): "Creating layer X" (the layer factory, before the layer exists), "Creating Layer X"
  (the net, after), "X <- blob" and "X -> blob" (its wiring), "Setting up X" (after its SetUp returned),
  "Top shape: 4 6 (24)" (its tops' shapes), "Network initialization done.". A new "Initializing net from
  parameters" line starts a new net (a solver builds several).
- While the net is being built, the layer Caffe was working on is the last one created and not yet set up:
  an abort then is that layer's construction ("create" when the factory had not made it yet, "setup"
  after). "Unknown layer type: T" names the first layer of type T not yet built, when the log has no
  factory line.
- Once the net is built, the marker (the layer callbacks mark every layer of every pass) names the layer
  and whether it was in forward or backward, with the iteration; a solver watched by the tracer
  (Tracer.watch_solver) marks its update, so an abort in ApplyUpdate is the solver update's, no layer's.
- For a C++ layer, every bottom a Python layer produced (through the Split layers Caffe inserted) is named
  with the method that gave it its shape: "'p' comes from Python layer 'py' (reshape)".
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..prototxt import PYTHON_LAYER_TYPE
from ..shapes import shape_text

if TYPE_CHECKING:
    from .netinfo import LayerInfo
    from .report import CallRecord

GLOG_MESSAGE = re.compile(r"^I\d{4,8} [\d:.]+ +\d+ \S+:\d+\] (.*)$")
UNKNOWN_TYPE = re.compile(r"Unknown layer type: (\S+)")
STAGE_OF_METHOD = {"import": "import", "setup": "net construction", "reshape": "net construction",
                   "create": "net construction", "forward": "forward", "backward": "backward",
                   "update": "solver update"}


@dataclass
class ConstructionLog:
    """What Caffe's INFO log says about the net being built (see the module doc)."""

    factory_created: list[str] = field(default_factory=list)  # "Creating layer X": before the factory makes it
    created: list[str] = field(default_factory=list)  # "Creating Layer X": made, being wired and set up
    set_up: list[str] = field(default_factory=list)
    bottoms: dict[str, list[str]] = field(default_factory=dict)
    tops: dict[str, list[str]] = field(default_factory=dict)
    top_shapes: dict[str, list[list[int]]] = field(default_factory=dict)
    initialized: bool = False
    started: bool = False

    def feed(self, line: str) -> None:
        match = GLOG_MESSAGE.match(line)
        if not match:
            return
        message = match.group(1)
        if message.startswith("Initializing net from parameters"):
            self.restart()  # a new net: a solver builds its train net, then its test nets
        elif message.startswith("Creating layer "):
            self.factory_created.append(message[len("Creating layer "):].strip())
        elif message.startswith("Creating Layer "):
            self.created.append(message[len("Creating Layer "):].strip())
        elif message.startswith("Setting up "):
            self.set_up.append(message[len("Setting up "):].strip())
        elif message.startswith("Top shape: ") and self.set_up:
            dims = message[len("Top shape: "):].split("(")[0].split()
            self.top_shapes.setdefault(self.set_up[-1], []).append([int(d) for d in dims if d.isdigit()])
        elif message == "Network initialization done.":
            self.initialized = True
        else:
            for arrow, wiring in ((" <- ", self.bottoms), (" -> ", self.tops)):
                layer, sep, blob = message.partition(arrow)
                if sep and " " not in layer:
                    wiring.setdefault(layer, []).append(blob.replace(" (in-place)", "").strip())
                    break

    def restart(self) -> None:
        """Forget the net before: another one is being built."""
        fresh = ConstructionLog(started=True)
        for name in vars(fresh):
            setattr(self, name, getattr(fresh, name))

    def building(self) -> str | None:
        """The layer under construction now: made by the factory or the net, and not yet set up."""
        done = set(self.set_up)
        for names in (self.factory_created, self.created):
            if names and names[-1] not in done:
                return names[-1]
        return None

    def blob_shapes(self) -> dict[str, list[int]]:
        """The shape each blob had when the layer producing it was set up."""
        shapes: dict[str, list[int]] = {}
        for layer in self.set_up:
            shapes.update(zip(self.tops.get(layer, []), self.top_shapes.get(layer, [])))
        return shapes


@dataclass
class Culprit:
    """The layer a crash belongs to and what it was doing."""

    layer: str | None
    method: str | None  # create | setup | reshape | forward | backward | import
    stage: str | None  # import | net construction | forward | backward | after net construction
    iteration: int | None = None


def construction_culprit(log: ConstructionLog, check_failed: str | None, layer_types: dict[str, str],
                         mark: dict | None) -> Culprit:
    """The layer Caffe was building when it aborted, from its log (the marker only adds a Python layer's method)."""
    building = log.building()
    unknown = UNKNOWN_TYPE.search(check_failed or "")
    if building is None and unknown:
        built = set(log.set_up) | set(log.created)
        building = next((name for name, kind in layer_types.items() if kind == unknown.group(1) and name not in built),
                        None)
    if building is None:
        return Culprit(None, None, "net construction")
    if building not in log.created:
        return Culprit(building, "create", "net construction", 0)
    if mark and mark.get("layer") == building and mark.get("method") in ("setup", "reshape"):
        return Culprit(building, mark["method"], "net construction", 0)
    return Culprit(building, "setup", "net construction", 0)


def fed_by_python(layer: str, bottoms: list[str], producers: dict[str, tuple[str, str | None]],
                  python_layers: set[str], method_of: dict[str, str]) -> list[dict]:
    """For each bottom of `layer` that a Python layer produced: the blob as written, that layer and the method
    that set its shape. `producers` maps a blob to (producing layer, the blob it copies, for a Split layer)."""
    found = []
    for blob in bottoms:
        source = blob
        producer, copied = producers.get(source, (None, None))
        while copied:  # a Split layer Caffe inserted: follow it to the blob it copies
            source = copied
            producer, copied = producers.get(source, (None, None))
        if producer in python_layers and producer != layer:
            found.append({"blob": source, "layer": producer, "method": method_of.get(producer, "reshape")})
    return found


def summary_line(layer_type: str | None, culprit: Culprit, bottom_shapes: list[list[int]] | None,
                 fed: list[dict]) -> str | None:
    """The one line a user reads first: "Eltwise 'sum' aborted in setup: bottom shapes 4x7 vs 4x6; 'p' comes
    from Python layer 'py' (reshape)"."""
    if culprit.layer is None:
        return None
    kind = f"{layer_type} " if layer_type else ""
    if culprit.method == "create":
        line = f"Caffe could not create {kind}layer {culprit.layer!r}"
    else:
        doing = culprit.method or "?"
        if culprit.stage in ("forward", "backward") and culprit.iteration is not None:
            doing += f" (iteration {culprit.iteration})"
        line = f"{kind}{culprit.layer!r} aborted in {doing}"
    parts = []
    if bottom_shapes:
        label = "bottom shapes" if len(bottom_shapes) > 1 else "bottom shape"
        parts.append(f"{label} {' vs '.join(shape_text(s) for s in bottom_shapes)}")
    parts += [f"{f['blob']!r} comes from Python layer {f['layer']!r} ({f['method']})" for f in fed]
    return line + (": " + "; ".join(parts) if parts else "")


def python_exception_stage(method: str | None, iteration: int | None) -> str | None:
    """The stage a Python layer's own exception happened in: reshape is construction only before the passes."""
    if method == "reshape":
        return "net construction" if not iteration else "forward"
    return STAGE_OF_METHOD.get(method or "")


def culprit_after_construction(construction: ConstructionLog, mark: dict | None) -> Culprit:
    """The layer the marker names once the net is built (or before, where Caffe's log says nothing)."""
    if mark is None:
        return Culprit(None, None, "after net construction" if construction.initialized else None)
    method, iteration = mark["method"], mark["iteration"]
    if construction.initialized and not iteration and method in ("setup", "reshape", "import"):
        # the mark is left from construction: what failed came after it (loading weights, filling inputs)
        return Culprit(None, None, "after net construction")
    return Culprit(mark["layer"] or None, method, python_exception_stage(method, iteration), iteration)


@dataclass
class NetWiring:
    """The layers in build order, with their tops and bottoms and which are Python layers or inserted Splits."""

    order: list[str]
    bottoms: dict[str, list[str]]
    tops: dict[str, list[str]]
    types: dict[str, str]
    splits: set[str]

    @classmethod
    def of(cls, construction: ConstructionLog, report_layers: list[LayerInfo],
           layer_types: dict[str, str]) -> NetWiring:
        if report_layers:  # the built net's own description
            return cls([layer.name for layer in report_layers],
                       {layer.name: layer.bottoms for layer in report_layers},
                       {layer.name: layer.tops for layer in report_layers},
                       {layer.name: layer.type for layer in report_layers},
                       {layer.name for layer in report_layers if layer.inserted_by_caffe})
        order = list(dict.fromkeys(construction.created + construction.factory_created))
        splits = {name for name in order if name not in layer_types and name.endswith("_split")}
        types = {name: layer_types.get(name, "Split" if name in splits else "") for name in order}
        return cls(order, dict(construction.bottoms), dict(construction.tops), types, splits)

    def producers_before(self, layer: str) -> dict[str, tuple[str, str | None]]:
        """blob -> (the last layer before `layer` that writes it, the blob it copies when that is a Split)."""
        producers: dict[str, tuple[str, str | None]] = {}
        for name in self.order:
            if name == layer:
                break
            copied = self.bottoms.get(name, [None])[0] if name in self.splits else None
            for top in self.tops.get(name, []):
                producers[top] = (name, copied)
        return producers


def shaping_method(calls: list[CallRecord], top_index: int, stage: str | None) -> str:
    """Which method of a Python layer gave its top its current shape, from the layer's recorded calls."""
    if stage in ("forward", "backward"):
        forwards = [c for c in calls if c.method == "forward" and not c.probe]
        reshapes = [c for c in calls if c.method == "reshape" and not c.probe]
        if forwards and reshapes and top_index < len(forwards[-1].tops) and top_index < len(reshapes[-1].tops):
            before = reshapes[-1].tops[top_index].shape
            after = forwards[-1].tops[top_index].shape
            if list(before) != list(after):
                return f"forward, which reshaped it from {shape_text(before)} to {shape_text(after)}"
    return "reshape"


def blame(culprit: Culprit, wiring: NetWiring, construction: ConstructionLog,
          python_calls: dict[str, list[CallRecord]]) -> tuple[str | None, list[dict], str | None]:
    """The culprit's layer type, the Python layers feeding it (see fed_by_python) and the summary line."""
    layer = culprit.layer
    if layer is None:
        return None, [], None
    layer_type = wiring.types.get(layer) or None
    fed: list[dict] = []
    shapes = None
    if layer_type != PYTHON_LAYER_TYPE:
        bottoms = wiring.bottoms.get(layer, [])
        producers = wiring.producers_before(layer)
        python_layers = {name for name, kind in wiring.types.items() if kind == PYTHON_LAYER_TYPE} | set(python_calls)
        methods: dict[str, str] = {}
        for name in python_layers:
            for blob in bottoms:
                source = blob
                copied = producers[source][1] if source in producers else None
                while copied:
                    source = copied
                    copied = producers[source][1] if source in producers else None
                if producers.get(source, (None,))[0] == name and source in wiring.tops.get(name, []):
                    methods[name] = shaping_method(python_calls.get(name, []), wiring.tops[name].index(source),
                                                   culprit.stage)
        fed = fed_by_python(layer, bottoms, producers, python_layers, methods)
        if culprit.stage == "net construction":
            known = construction.blob_shapes()
            if bottoms and all(b in known for b in bottoms):
                shapes = [known[b] for b in bottoms]
    return layer_type, fed, summary_line(layer_type, culprit, shapes, fed)
