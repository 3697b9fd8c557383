"""The fine-tuning view: what a .caffemodel gives a net, layer by layer, before Caffe loads it.

How (mirroring Net::CopyTrainedLayersFrom in src/caffe/net.cpp):
1. Read the caffemodel as caffe_pb2.NetParameter (binary). A V1 file keeps its layers in the
   `layers` field; Caffe upgrades it to `layer` keeping names and blobs, so both are read alike.
2. Take each layer's param blob shapes from the net built without weights: the shapes Caffe's
   layers really set up, Python layers' self.blobs included. The trace child builds its one net
   so and calls `weights_into`, which copies the weights in (net.copy_from, Caffe's own
   CopyTrainedLayersFrom, as caffe.Net(..., weights=) does) only when the view says Caffe
   would load them; `finetune_view` builds a net of its own for a view alone.
3. Compare by layer name, source layer by source layer, as Caffe does (the first net layer of
   that name): the blob counts must be equal (CHECK_EQ, "Incompatible number of blobs") and each
   blob must pass Blob::ShapeEquals (legacy num/channels/height/width protos compared against
   the trailing four axes) or Caffe aborts with "Cannot copy param j weights ... shape mismatch".
4. Read lr_mult per param blob from the prototxt (inspector.prototxt; a blob without a `param`
   block has lr_mult 1): a layer whose every blob has lr_mult 0 is frozen.

Statuses: copied (weights load), fresh (the net has params and the caffemodel no layer of that
name: a renamed layer starts from its fillers), mismatched (Caffe would abort), ignored (a
caffemodel layer with weights that no net layer takes). Layers with no weights on either side
are left out. Caffe stops at the first mismatch; this view lists them all.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from rich.table import Table
from rich.text import Text

from ..errors import InputError
from ..phases import Phase, parse_phase
from ..records import to_data
from ..shapes import shape_text, shapes_text
from .netinfo import net_spec
from .netload import build_net

COPIED, FRESH, MISMATCHED, IGNORED = "copied", "fresh", "mismatched", "ignored"
STATUS_STYLE = {COPIED: "green", FRESH: "yellow", MISMATCHED: "bold red", IGNORED: "dim"}


@dataclass
class LayerWeights:
    """One layer's fate when the caffemodel is loaded into the net."""

    DATA_DERIVED: ClassVar[dict[str, str]] = {"frozen": "status"}  # fields in the order of the data's keys

    name: str
    type: str
    status: str  # copied | fresh | mismatched | ignored
    lr_mults: list[float] = field(default_factory=list)  # per net param blob
    net_shapes: list[list[int]] = field(default_factory=list)  # the net's param blobs
    model_shapes: list[list[int]] = field(default_factory=list)  # the caffemodel's blobs
    problem: str | None = None  # Caffe's complaint, for a mismatch

    @property
    def frozen(self) -> bool:
        return bool(self.lr_mults) and all(m == 0 for m in self.lr_mults)

    def to_dict(self) -> dict:
        return to_data(self)


@dataclass
class FinetuneReport:
    DATA_DERIVED: ClassVar[dict[str, str]] = {  # fields in the order of the data's keys
        "weights_loadable": "phase", **dict.fromkeys(("copied", "fresh", "mismatched", "ignored", "frozen", "warnings"),
                                                     "abort_at")}

    prototxt: Path
    weights: Path
    phase: str
    abort_at: str | None = None  # the first mismatch in the caffemodel's order, where Caffe stops
    layers: list[LayerWeights] = field(default_factory=list)

    def _named(self, status: str) -> list[str]:
        return [layer.name for layer in self.layers if layer.status == status]

    @property
    def copied(self) -> list[str]:
        return self._named(COPIED)

    @property
    def fresh(self) -> list[str]:
        return self._named(FRESH)

    @property
    def mismatched(self) -> list[str]:
        return self._named(MISMATCHED)

    @property
    def ignored(self) -> list[str]:
        return self._named(IGNORED)

    @property
    def frozen(self) -> list[str]:
        return [layer.name for layer in self.layers if layer.frozen]

    @property
    def weights_loadable(self) -> bool:
        """Whether Caffe would load these weights into this net without aborting."""
        return not self.mismatched

    @property
    def warnings(self) -> list[str]:
        """Frozen layers that start fresh keep their filler values for good."""
        return [f"{layer.name} is frozen (lr_mult 0) but gets no weights from the caffemodel: "
                "it keeps its initial filler values" for layer in self.layers if layer.frozen and layer.status == FRESH]

    def layer(self, name: str) -> LayerWeights:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    def to_dict(self) -> dict:
        return to_data(self)

    def __rich_console__(self, console, options):
        table = Table(title=f"weights from {self.weights.name} into {self.prototxt.name} ({self.phase})",
                      title_justify="left")
        for column in ("layer", "type", "status", "lr_mult", "net shapes", "caffemodel shapes", "problem"):
            table.add_column(column, overflow="fold")
        for layer in self.layers:
            style = STATUS_STYLE[layer.status]
            status = Text.assemble((layer.status, style), (" frozen", "cyan") if layer.frozen else "")
            table.add_row(layer.name, layer.type, status, " ".join(f"{m:g}" for m in layer.lr_mults),
                          shapes_text(layer.net_shapes), shapes_text(layer.model_shapes), layer.problem or "")
        yield table
        for warning in self.warnings:
            yield Text.assemble(("warning:", "yellow"), f" {warning}")
        counts = ", ".join(f"{len(getattr(self, s))} {s}" for s in (COPIED, FRESH, MISMATCHED, IGNORED, "frozen"))
        if self.weights_loadable:
            yield Text.assemble(("Caffe loads these weights", "green"), f" ({counts}).")
        else:
            yield Text.assemble(("Caffe would abort loading these weights", "red"), f" at layer "
                                f"{self.abort_at!r}, the first mismatch in the caffemodel ({counts}).")


def _is_legacy(blob_proto) -> bool:
    return any(blob_proto.HasField(f) for f in ("num", "channels", "height", "width"))


def proto_shape(blob_proto) -> list[int]:
    """The shape Blob::FromProto gives a BlobProto: legacy protos are 4-D (num, channels, height, width)."""
    if _is_legacy(blob_proto):
        return [blob_proto.num, blob_proto.channels, blob_proto.height, blob_proto.width]
    return list(blob_proto.shape.dim)


def shape_equals(shape: list[int], blob_proto) -> bool:
    """Blob::ShapeEquals: legacy protos match the trailing four axes, padded with ones."""
    if _is_legacy(blob_proto):
        if len(shape) > 4:
            return False
        padded = [1] * (4 - len(shape)) + list(shape)
        return padded == [blob_proto.num, blob_proto.channels, blob_proto.height, blob_proto.width]
    return list(shape) == list(blob_proto.shape.dim)


def read_caffemodel(weights: Path):
    """The caffemodel as a NetParameter; InputError when it is not a binary caffemodel."""
    from caffe.proto import caffe_pb2  # noqa: PLC0415 - pycaffe is imported by build_net first
    from google.protobuf.message import DecodeError  # noqa: PLC0415

    weights = Path(weights)
    try:
        raw = weights.read_bytes()
    except OSError as exc:
        raise InputError(f"Weights file {weights} cannot be read: {exc.strerror}.",
                         "Check the path given to --weights.") from None
    if raw.startswith(b"\x89HDF"):
        raise InputError(f"{weights} is an HDF5 weights file; this view reads binary .caffemodel files.",
                         "Save the weights with net.save(path) (binary) to compare them here.")
    model = caffe_pb2.NetParameter()
    try:
        model.ParseFromString(raw)
    except DecodeError as exc:
        raise InputError(f"{weights} is not a binary caffemodel (NetParameter): {exc}.",
                         "Give the .caffemodel a solver snapshot or net.save() wrote.") from None
    if len(model.layer) and len(model.layers):
        raise InputError(f"{weights} has both `layer` and `layers` fields, which Caffe refuses to upgrade.",
                         "Re-save the weights with a current Caffe (net.save).")
    return model


def _source_layers(model) -> list[tuple[str, str, list]]:
    """(name, type, blobs) per caffemodel layer, V1 `layers` read as Caffe's upgrade reads them."""
    if len(model.layers):
        enum = type(model.layers[0]).LayerType
        return [(layer.name, enum.Name(layer.type), list(layer.blobs)) for layer in model.layers]
    return [(layer.name, layer.type, list(layer.blobs)) for layer in model.layer]


def finetune_view(prototxt: Path, weights: Path, phase: str | Phase = Phase.TRAIN) -> FinetuneReport:
    """Which layers the caffemodel fills, which start fresh or are frozen, and every shape mismatch, from a net
    built here for the purpose."""
    prototxt, weights, phase = Path(prototxt), Path(weights), parse_phase(phase)
    if not weights.is_file():
        raise InputError(f"Weights file {weights} does not exist.", "Check the path given to --weights.")
    net = build_net(prototxt, phase=phase)  # without weights: Caffe would abort on a mismatch
    return finetune_of(net, prototxt, weights, phase)


def weights_into(net, prototxt: Path, weights: Path, phase: str | Phase) -> FinetuneReport:
    """The fine-tuning view of `weights` for `net`, built from `prototxt` without weights; the weights copied into
    the net when Caffe loads them (view.weights_loadable). When it would abort, the net is left as built and
    `not_run_reason(view)` says why it is not to be run."""
    view = finetune_of(net, prototxt, weights, phase)
    if view.weights_loadable:
        net.copy_from(str(weights))  # Net::CopyTrainedLayersFrom, what caffe.Net(..., weights=) calls
    return view


def not_run_reason(view: FinetuneReport) -> str:
    """Why a net whose weights Caffe would refuse is not run (the report's "NOT RUN" line)."""
    return (f"Caffe would abort loading {view.weights.name} at layer {view.abort_at!r} (shape mismatch), so the net "
            "was not run.")


def finetune_of(net, prototxt: Path, weights: Path, phase: str | Phase) -> FinetuneReport:
    """The fine-tuning view of `weights` for a caffe.Net built from `prototxt` in `phase` without weights."""
    prototxt, weights, phase = Path(prototxt), Path(weights), parse_phase(phase)
    model = read_caffemodel(weights)
    specs = {spec.name: spec for spec in net_spec(prototxt).layers_for(phase)}

    names = list(net._layer_names)
    net_shapes = {name: [list(b.shape) for b in layer.blobs] for name, layer in zip(names, net.layers)}
    net_types = {name: layer.type for name, layer in zip(names, net.layers)}
    report = FinetuneReport(prototxt=prototxt, weights=weights, phase=phase.value)
    by_name: dict[str, LayerWeights] = {}

    for source_name, source_type, blobs in _source_layers(model):
        if source_name not in net_shapes:
            if blobs:
                report.layers.append(LayerWeights(source_name, source_type, IGNORED,
                                                  model_shapes=[proto_shape(b) for b in blobs]))
            continue
        target = net_shapes[source_name]
        entry = by_name.get(source_name) or LayerWeights(
            source_name, net_types[source_name], COPIED, net_shapes=target,
            lr_mults=_lr_mults(specs, source_name, target))
        entry.model_shapes = [proto_shape(b) for b in blobs]
        if len(target) != len(blobs):
            entry.status = MISMATCHED
            entry.problem = (f"Incompatible number of blobs: the caffemodel has {len(blobs)}, "
                             f"the net {len(target)}")
        else:
            bad = [j for j, (shape, blob) in enumerate(zip(target, blobs)) if not shape_equals(shape, blob)]
            if bad:
                entry.status = MISMATCHED
                entry.problem = "; ".join(
                    f"param {j}: caffemodel {shape_text(proto_shape(blobs[j]))}, net {shape_text(target[j])}"
                    for j in bad)
            elif entry.status != MISMATCHED:
                entry.status = COPIED
        by_name[source_name] = entry
        if entry.status == MISMATCHED and report.abort_at is None:
            report.abort_at = source_name

    for name in names:
        if name in by_name:
            if by_name[name].net_shapes or by_name[name].model_shapes:
                report.layers.append(by_name[name])
        elif net_shapes[name]:
            report.layers.append(LayerWeights(name, net_types[name], FRESH, net_shapes=net_shapes[name],
                                              lr_mults=_lr_mults(specs, name, net_shapes[name])))
    order = {name: i for i, name in enumerate(names)}
    report.layers.sort(key=lambda layer: (layer.status == IGNORED, order.get(layer.name, 0)))
    return report


def _lr_mults(specs: dict, name: str, shapes: list) -> list[float]:
    """lr_mult per param blob, as the prototxt gives it (1 where no `param` block covers the blob)."""
    params = specs[name].params if name in specs else []
    return [params[j].lr_mult if j < len(params) else 1.0 for j in range(len(shapes))]
