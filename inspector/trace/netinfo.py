"""What a net is made of, read from the prototxt and from the built caffe.Net.

- `read_net_parameter` parses the prototxt with Caffe's own protobuf schema (caffe_pb2): what
  this Caffe (a fork included) would reject is an input error here, not an abort in the child.
- `python_layer_specs` lists the Python layers Caffe keeps for a phase, in build order, from the
  project's NetSpec (its include/exclude rules are Net::FilterNet's): Caffe creates and sets up
  layers one after another, so the k-th setup call belongs to the k-th of them.
- `describe_layers` reads the built net: type, top shapes, parameter shapes and counts (a blob
  shared through `param { name }` is counted once, found by its data pointer), and the Split
  layers Caffe inserted.
- `backward_reason` says why Caffe never calls a layer's backward, from the net's own wiring.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..prototxt import LayerSpec, read_net


def read_net_parameter(prototxt: Path):
    return read_caffe_text(prototxt, "NetParameter", "net")


def read_caffe_text(path: Path, message: str, what: str):
    """A prototxt parsed as caffe_pb2.<message>; InputError naming the line and column Caffe's schema rejects."""
    from caffe.proto import caffe_pb2  # noqa: PLC0415 - only once pycaffe is importable
    from google.protobuf import text_format  # noqa: PLC0415

    param = getattr(caffe_pb2, message)()
    try:
        text_format.Parse(Path(path).read_text(), param)
    except text_format.ParseError as exc:
        raise InputError(f"{path} is not a valid Caffe {what}: {str(exc).rstrip('.')}.",
                         "Fix the prototxt at the line and column named.") from exc
    return param


def python_layer_specs(prototxt: Path, phase: str) -> list[LayerSpec]:
    """The Python layers Caffe builds for `phase`, in build order (the shared NetSpec's FilterNet)."""
    return [layer for layer in read_net(prototxt).layers_for(phase) if layer.type == "Python"]


def data_pointer(array) -> int:
    return array.__array_interface__["data"][0]


@dataclass
class LayerInfo:
    index: int
    name: str
    type: str
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
    python: bool = False

    def to_dict(self) -> dict:
        return {
            "index": self.index, "name": self.name, "type": self.type, "python": self.python,
            "bottoms": self.bottoms, "tops": self.tops, "top_shapes": self.top_shapes,
            "param_shapes": self.param_shapes, "param_count": self.param_count,
            "shares_params_with": self.shares_params_with, "inserted_by_caffe": self.inserted_by_caffe,
            "needs_backward": self.needs_backward,
            "forward_ms": self.forward_ms, "backward_ms": self.backward_ms,
        }


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
            python=(layer_type == "Python"),
        ))
    return infos


def loss_reader(net):
    """loss() -> the net's weighted loss as it stands (after a forward pass). The loss blobs are found once:
    this runs every pass, and pycaffe's blob_loss_weights builds a dict on every access."""
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
