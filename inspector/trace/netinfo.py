"""What a net is made of, read from the prototxt and from the built caffe.Net.

- `read_net_parameter` parses the prototxt with Caffe's own protobuf schema (caffe_pb2): what
  this Caffe (a fork included) would reject is an input error here, not an abort in the child.
- `net_spec` reads the prototxt into the project's NetSpec once per process while the file is
  unchanged: the child's checks, its Python layers and the fine-tuning view all ask for it.
- The Python layers of a net: `python_layer_specs` lists those Caffe keeps for a phase, in build
  order, from the NetSpec (its include/exclude rules are Net::FilterNet's): Caffe creates and sets
  up layers one after another, so the k-th setup call belongs to the k-th of them.
  `python_layers_of` lists a built caffe.Net's (index, name, layer object); `is_python_layer`
  tells one layer, written or built.
- `describe_layers` reads the built net: type, top shapes, parameter shapes and counts (a blob
  shared through `param { name }` is counted once, found by its data pointer), and the Split
  layers Caffe inserted.
- `backward_reason` says why Caffe never calls a layer's backward, from the net's own wiring.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..forks import POINT_AT_FORK, forks_with_field, forks_with_type, from_which_fork, unknown_field
from ..phases import Phase, parse_phase
from ..prototxt import PYTHON_LAYER_TYPE, LayerSpec, NetSpec, read_net, read_prototxt_text
from ..records import to_data

_LINE_COLUMN = re.compile(r"^(\d+:\d+)\s*:")  # text_format's error prefix


def pycaffe_folder(caffe) -> str:
    """The python/caffe folder the running pycaffe came from, for messages."""
    return str(Path(caffe.__file__).resolve().parent)


def read_net_parameter(prototxt: Path):
    """The net as Caffe's own schema reads it; a field this Caffe lacks is an InputError naming the forks that
    have it."""
    return read_caffe_text(prototxt, "NetParameter", "net")


def read_caffe_text(path: Path, message_type: str, what: str):
    """A prototxt parsed as caffe_pb2.<message_type> (a net, a solver); a field this Caffe lacks is an InputError
    naming the forks that have it, any other error one naming the line and column."""
    import caffe  # noqa: PLC0415 - only once pycaffe is importable
    from caffe.proto import caffe_pb2  # noqa: PLC0415
    from google.protobuf import text_format  # noqa: PLC0415

    param = getattr(caffe_pb2, message_type)()
    try:
        text_format.Parse(read_prototxt_text(path), param)  # UTF-8, regular files only, CR kept
    except text_format.ParseError as exc:
        reason = str(exc).rstrip(".")
        unknown = unknown_field(reason)
        if unknown is None:
            raise InputError(f"{path} is not a valid Caffe {what}: {reason}.",
                             "Fix the prototxt at the line and column named.") from exc
        message, name = unknown
        where = _LINE_COLUMN.match(reason)
        raise InputError(
            f"{path}:{where.group(1) + ':' if where else ''} the Caffe at {pycaffe_folder(caffe)} has no field "
            f"'{name}' in {message}{from_which_fork(forks_with_field(message, name))}.",
            f"The {what} was written for another Caffe: {POINT_AT_FORK}.") from exc
    return param


def net_spec(prototxt: Path | NetSpec) -> NetSpec:
    """The prototxt as the project's NetSpec, parsed once per process while the file is unchanged (by its path,
    modification time and size); a NetSpec is passed through. Callers read it, never change it."""
    if isinstance(prototxt, NetSpec):
        return prototxt
    path = Path(prototxt).resolve()
    try:
        status = path.stat()
    except OSError:
        return read_net(path)  # the InputError saying what is wrong with the path
    return _parsed_net_spec(path, status.st_mtime_ns, status.st_size)


@functools.lru_cache(maxsize=8)
def _parsed_net_spec(path: Path, mtime_ns: int, size: int) -> NetSpec:
    return read_net(path)


def require_known_layer_types(caffe, prototxt: Path, phase: str) -> None:
    """An InputError for layer types this Caffe does not register, before Caffe aborts on "Unknown layer type"."""
    registered = set(caffe.layer_type_list())
    unknown = [layer for layer in net_spec(prototxt).layers_for(phase) if layer.type not in registered]
    if not unknown:
        return
    first = unknown[0]
    others = sorted({layer.type for layer in unknown} - {first.type})
    more = f" (and {', '.join(repr(t) for t in others)})" if others else ""
    raise InputError(
        f"{prototxt}:{first.line}: layer '{first.name}' has type '{first.type}'{more}, which the Caffe at "
        f"{pycaffe_folder(caffe)} does not register{from_which_fork(forks_with_type(first.type))}.",
        f"The net was written for another Caffe: {POINT_AT_FORK}.")


def check_net_for_caffe(caffe, prototxt: Path, phase: str):
    """The net as this Caffe's schema reads it, after the checks that turn Caffe's aborts on a field or a layer
    type it lacks into input errors. Cached by the file's path and modification time: the traced child asks
    before importing the layers and build_net asks again before building, and the file is parsed once."""
    path = Path(prototxt)
    return _checked_net(caffe, path, path.stat().st_mtime_ns, phase)


@functools.lru_cache(maxsize=8)
def _checked_net(caffe, path: Path, mtime_ns: int, phase: str):
    param = read_net_parameter(path)
    require_known_layer_types(caffe, path, phase)
    return param


def require_layers(prototxt: Path | NetSpec, phase: str) -> list[LayerSpec]:
    """The layers Caffe builds in `phase`, or an InputError when there are none (a solver, an empty net)."""
    net = net_spec(prototxt)
    in_phase = net.layers_for(phase)
    if in_phase:
        return in_phase
    shown = net.source if isinstance(prototxt, NetSpec) else prototxt  # the path as the user gave it
    if net.is_solver:
        raise InputError(f"{shown} is a solver definition, not a net.",
                         "Give the net prototxt its `net:` (or `train_net:`) line names.")
    if not net.layers:
        raise InputError(f"{shown} defines no layers: there is nothing to run or check.",
                         "Give a net prototxt with layers.")
    phase = parse_phase(phase)
    raise InputError(f"{shown} has no layer in the {phase} phase (every layer is excluded by its "
                     "include/exclude rules).", f"Try --phase {phase.other}.")


def is_python_layer(layer) -> bool:
    """Whether a layer (a LayerSpec as written, or a layer object of a built caffe.Net) is a Python layer."""
    return layer.type == PYTHON_LAYER_TYPE


def python_layer_specs(prototxt: Path | NetSpec, phase: str | Phase) -> list[LayerSpec]:
    """The Python layers Caffe builds for `phase`, in build order (the shared NetSpec's FilterNet)."""
    return [layer for layer in net_spec(prototxt).layers_for(phase) if is_python_layer(layer)]


@dataclass(frozen=True)
class NetPythonLayer:
    """A Python layer of a built caffe.Net."""

    index: int  # in net.layers (Caffe's inserted Split layers counted)
    name: str
    layer: Any  # the PythonLayer object Caffe made, an instance of the user's class

    def __iter__(self) -> Iterator[Any]:  # for index, name, layer in python_layers_of(net)
        return iter((self.index, self.name, self.layer))


def python_layers_of(net) -> list[NetPythonLayer]:
    """The Python layers of a built caffe.Net, in net order."""
    return [NetPythonLayer(index, name, layer) for index, (name, layer) in enumerate(zip(net._layer_names, net.layers))
            if is_python_layer(layer)]


def data_pointer(array) -> int:
    return array.__array_interface__["data"][0]


@dataclass
class LayerInfo:
    """A layer of the built net, as the "net" event carries it and the report keeps it (TraceReport.layers), with
    its times once the passes ended. Fields in the order of the data's keys."""

    index: int
    name: str
    type: str
    python: bool = field(default=False, kw_only=True)
    bottoms: list[str]
    tops: list[str]
    top_shapes: dict[str, list[int]]
    param_shapes: list[list[int]]
    param_count: int  # parameters this layer owns; blobs shared with an earlier layer count 0 here
    shares_params_with: list[str]
    inserted_by_caffe: bool  # a Split layer Caffe added where one blob feeds several layers
    needs_backward: bool | None = None
    forward_ms: float | None = None  # None until the passes finished (a crash cuts them short)
    backward_ms: float | None = None

    def to_dict(self) -> dict:
        return to_data(self)


def describe_layers(net, declared_names: set[str] | None = None) -> list[LayerInfo]:
    """One LayerInfo per layer of the built net, in order."""
    blob_names = list(net._blob_names)
    owner_of_pointer: dict[int, str] = {}
    infos = []
    for index, (name, layer) in enumerate(zip(net._layer_names, net.layers)):
        bottoms = [blob_names[i] for i in net._bottom_ids(index)]
        tops = [blob_names[i] for i in net._top_ids(index)]
        shapes, count, shared_with = [], 0, []
        for blob in layer.blobs:
            shapes.append(list(blob.shape))
            pointer = data_pointer(blob.data)
            if pointer in owner_of_pointer:
                if owner_of_pointer[pointer] not in shared_with:
                    shared_with.append(owner_of_pointer[pointer])
            else:
                owner_of_pointer[pointer] = name
                count += int(blob.count)
        layer_type = layer.type
        infos.append(LayerInfo(
            index=index, name=name, type=layer_type, bottoms=bottoms, tops=tops,
            top_shapes={t: list(net.blobs[t].shape) for t in tops},
            param_shapes=shapes, param_count=count, shares_params_with=shared_with,
            inserted_by_caffe=(layer_type == "Split" and declared_names is not None and name not in declared_names),
            python=is_python_layer(layer),
        ))
    return infos


def loss_reader(net):
    """loss() -> the net's weighted loss as it stands (after a forward pass). The loss blobs are found once:
    this runs every pass, and pycaffe's blob_loss_weights builds a dict on every access."""
    import numpy as np  # noqa: PLC0415 - the child's (with pycaffe): inspector's own process reads nets without it

    blobs = list(net._blobs)
    weighted = [(blobs[i], float(w)) for i, w in enumerate(net._blob_loss_weights) if w]
    add = np.add.reduce  # ndarray.sum without its Python wrapper

    def loss() -> float:
        total = 0.0
        for blob, weight in weighted:
            total += weight * float(add(blob.data, None))
        return total
    return loss


def blob_shapes(net) -> dict[str, list[int]]:
    return {name: list(blob.shape) for name, blob in net.blobs.items()}


def blobs_under_loss(net) -> set[str]:
    """Blobs whose values reach a loss, walking the net backwards as Net::Init does."""
    blob_names = list(net._blob_names)
    weights = list(net._blob_loss_weights)
    under = {blob_names[i] for i, w in enumerate(weights) if w != 0}
    for index in range(len(net.layers) - 1, -1, -1):
        tops = [blob_names[i] for i in net._top_ids(index)]
        if any(t in under for t in tops):
            under.update(blob_names[i] for i in net._bottom_ids(index))
    return under


def backward_reason(net, layer_name: str, propagate_down: dict[str, list[bool]] | None,
                    force_backward: bool | None) -> str:
    """Why Caffe does not call this layer's backward, in the words a user can act on."""
    names = list(net._layer_names)
    index = names.index(layer_name)
    blob_names = list(net._blob_names)
    tops = [blob_names[i] for i in net._top_ids(index)]
    under = blobs_under_loss(net)
    if not any(t in under for t in tops):
        return "no loss above it: none of its tops reaches a layer with a loss_weight"
    for consumer_index, consumer in enumerate(names):
        flags = (propagate_down or {}).get(consumer) or []
        bottoms = [blob_names[i] for i in net._bottom_ids(consumer_index)]
        for bottom, flag in zip(bottoms, flags):
            if bottom in tops and not flag:
                return f"propagate_down: false on {consumer}'s bottom {bottom!r} stops the gradient above it"
    if force_backward is False or force_backward is None:
        return ("force_backward missing: nothing below it needs a gradient (no learnable parameters), "
                "so Caffe skips its backward")
    return "Caffe decided its bottoms need no gradient"


def zero_gradient_reason(net, index: int) -> str:
    """Why the layer at `index` got all-zero top diffs, from the net's wiring."""
    blob_names = list(net._blob_names)
    tops = [blob_names[i] for i in net._top_ids(index)]
    if not any(top in blobs_under_loss(net) for top in tops):
        return ("no loss above it (none of its tops reaches a layer with a non-zero loss_weight); Caffe called its "
                "backward anyway (force_backward)")
    return "the layers above it passed down a zero gradient (their backward wrote zero, or nothing, to its tops)"
