"""GraphReport: what `inspector graph` found, as records (records.py) serialised by inspector.records, and as
text (textview.py).

The report holds the layers in topological order, the blobs and edges with their shapes, the
lints and a summary (layers by type, Python layers, parameter count when shapes allow,
what each phase drops). Parameter counts come from the trace's param shapes when it has them,
else from blob shapes and the layer's *_param for the layer types whose learnable blobs Caffe
sizes from them (Convolution, Deconvolution, InnerProduct, BatchNorm, Scale, Bias, PReLU).
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..prototxt import LayerSpec, Message
from ..records import NOT_DATA, to_data
from .blocks import find_blocks
from .build import NetGraph, shared_param_groups
from .records import BlobSlot, BlockRun, GraphBlob, GraphEdge, GraphLayer, Lint
from .style import layer_style


def _block(layer: LayerSpec, name: str) -> Message:
    block = layer.message.get(name)
    return block if isinstance(block, Message) else Message()


def layer_param_count(layer: LayerSpec, bottom_shapes: list[list[int] | None]) -> int | None:
    """Learnable values of a layer, from its bottom shapes and *_param; None when it cannot be known.

    A value of the wrong kind (`num_output: "x"`) is a PrototxtValueError, as Caffe refuses it; a
    shape that does not fit the layer (too few axes, group 0) leaves the count unknown.
    """
    try:
        return _param_count(layer, bottom_shapes[0] if bottom_shapes else None)
    except (IndexError, ZeroDivisionError):
        return None


def _param_count(layer: LayerSpec, first: list[int] | None) -> int | None:
    kind = layer.type
    if kind in ("Convolution", "Deconvolution"):
        param = _block(layer, "convolution_param")
        if first is None or not param.has("num_output"):
            return None
        spatial = len(first) - 2
        kernel = param.integers("kernel_size") or [param.integer("kernel_h", 1), param.integer("kernel_w", 1)]
        kernel = kernel * spatial if len(kernel) == 1 else kernel
        group, out = param.integer("group", 1), param.integer("num_output", 0)
        bias = str(param.get("bias_term", "true")).lower() != "false"
        return out * (first[1] // group) * math.prod(kernel) + (out if bias else 0)
    if kind == "InnerProduct":
        param = _block(layer, "inner_product_param")
        if first is None or not param.has("num_output"):
            return None
        axis = param.integer("axis", 1)
        out = param.integer("num_output", 0)
        bias = str(param.get("bias_term", "true")).lower() != "false"
        return out * math.prod(first[axis:]) + (out if bias else 0)
    if kind == "BatchNorm":
        return None if first is None else 2 * first[1] + 1  # mean, variance, scale factor
    if kind in ("Scale", "Bias"):
        if len(layer.bottoms) > 1:
            return 0  # the scale/bias comes from the second bottom
        param = _block(layer, f"{kind.lower()}_param")
        if first is None:
            return None
        axis = param.integer("axis", 1)
        num_axes = param.integer("num_axes", 1)
        count = math.prod(first[axis:] if num_axes == -1 else first[axis: axis + num_axes])
        has_bias = kind == "Scale" and str(param.get("bias_term", "false")).lower() == "true"
        return count * (2 if has_bias else 1)
    if kind == "PReLU":
        param = _block(layer, "prelu_param")
        if str(param.get("channel_shared", "false")).lower() == "true":
            return 1
        return None if first is None else first[1]
    if layer.params or layer.is_python:
        return None  # a learnable layer whose blob sizes only running Caffe knows
    return 0


@dataclass(slots=True)
class GraphSummary:
    """What a reader wants first: counts, the Python, loss and frozen layers, what is shared, dropped and learnt."""

    layers: int
    blobs: int
    layers_by_type: dict[str, int]
    python_layers: list[str]  # "name (module.Class)"
    loss_layers: list[str]
    frozen_layers: list[str]
    shared_params: dict[str, list[str]]  # param names ("a, b") -> layers sharing them
    outputs: list[str]
    dropped: dict[str, list[str]]
    params: int | None  # learnable values, None when no shapes are known
    params_uncounted: list[str]  # layers whose params could not be counted
    blocks: list[BlockRun] = field(default_factory=list)  # runs of alike blocks, see blocks.py
    narrowest: int = 0  # blobs in flight where the blocks split


@dataclass(kw_only=True)
class GraphReport:
    """The result of `inspector graph`; its fields, in order, are the JSON's keys (with "ok" after "output")."""

    net: str  # the prototxt path, or <text>
    name: str
    phase: str
    stages: list[str]
    phase_note: str | None = None  # why this phase was drawn, when the user named none
    shapes_from: str | None = None
    output: str | None = None
    layers: list[GraphLayer]
    blobs: list[GraphBlob]
    edges: list[GraphEdge]
    lints: list[Lint]
    summary: GraphSummary
    netgraph: NetGraph | None = field(default=None, repr=False, compare=False, metadata=NOT_DATA)

    @property
    def errors(self) -> list[Lint]:
        return [lint for lint in self.lints if lint.severity == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict:
        items = list(to_data(self).items())
        at = [name for name, _ in items].index("layers")  # "ok", derived from the lints, where it always was
        return dict([*items[:at], ("ok", self.ok), *items[at:]])

    def summary_line(self) -> str:
        s = self.summary
        by_type = ", ".join(f"{n} {t}" for t, n in sorted(s.layers_by_type.items(), key=lambda kv: (-kv[1], kv[0])))
        parts = [f"{s.layers} layers ({by_type})", f"{s.blobs} blobs", f"{len(s.python_layers)} Python"]
        if s.params is not None:
            parts.append(f"{s.params:,} params" + (f" (+ {len(s.params_uncounted)} layers uncounted)"
                                                     if s.params_uncounted else ""))
        return "; ".join(parts)

    def __rich_console__(self, console, options):
        from .textview import GraphText  # noqa: PLC0415 - the view imports this module

        yield GraphText(self)


def _slots(ends: Iterable[tuple[str, dict]], nodes: dict[str, dict]) -> list[BlobSlot]:
    """A layer's bottoms or tops in slot order, from (blob node, edge attributes) pairs."""
    slots = [BlobSlot(blob=nodes[blob]["label"], node=blob, index=edge["index"], shape=edge["shape"])
             for blob, edge in ends]
    return sorted(slots, key=lambda slot: slot.index)


def make_report(netgraph: NetGraph, lints: list[Lint], param_shapes: dict | None = None,
                shapes_from: str | None = None, output: str | None = None,
                phase_note: str | None = None) -> GraphReport:
    graph = netgraph.digraph
    nodes = graph.nodes
    groups = shared_param_groups(netgraph)
    shared_names = {name for params, _ in groups for name in params}
    specs = dict(zip(netgraph.layer_nodes, netgraph.layers))
    layers: list[GraphLayer] = []
    params_total, uncounted = 0, []
    for node in netgraph.topological_layer_nodes():
        attrs, spec = nodes[node], specs[node]
        if param_shapes and attrs["name"] in param_shapes:
            count = sum(math.prod(shape) for shape in param_shapes[attrs["name"]])
        else:
            count = layer_param_count(spec, [netgraph.blob_shapes.get(b) for b in spec.bottoms])
        if count is None:
            uncounted.append(attrs["name"])
        else:
            params_total += count
        layers.append(GraphLayer(
            node=node, name=attrs["name"], type=attrs["type"], line=attrs["line"],
            bottoms=spec.bottoms, tops=spec.tops, bottom_edges=_slots(graph.pred[node].items(), nodes),
            top_edges=_slots(graph.succ[node].items(), nodes),
            phases=attrs["phases"], python=attrs["python"], param_str=attrs["param_str"],
            loss_weights=attrs["loss_weights"], frozen=attrs["frozen"], lr_mults=attrs["lr_mults"],
            shared_params=[n for n in attrs["shared_params"] if n in shared_names],
            in_place=bool(spec.in_place_tops), style=layer_style(attrs), params=count))
    blobs = [GraphBlob(node=n, name=a["name"], version=a["version"], label=a["label"], shape=a["shape"],
                       producer=a.get("producer"), input=a["input"], undefined=a["undefined"],
                       consumers=[nodes[c]["name"] for c in graph.successors(n)])
             for n, a in nodes.items() if a["kind"] == "blob"]
    edges = [GraphEdge(source=s, target=t, blob=e["blob"], role=e["role"], shape=e["shape"])
             for s, t, e in graph.edges(data=True)]
    known_shapes = bool(netgraph.blob_shapes) or bool(param_shapes)
    blocks, narrowest = find_blocks(layers)
    summary = GraphSummary(
        layers=len(layers), blobs=len(blobs),
        layers_by_type=dict(Counter(layer.type for layer in layers)),
        python_layers=[f"{layer.name} ({layer.python})" for layer in layers if layer.python],
        loss_layers=[layer.name for layer in layers if layer.loss_weights],
        frozen_layers=[layer.name for layer in layers if layer.frozen],
        shared_params={", ".join(params): [nodes[n]["name"] for n in members] for params, members in groups},
        outputs=[b.label for b in blobs if not b.consumers and not b.undefined],
        dropped={p: names for p, names in netgraph.dropped.items() if netgraph.phase in ("ALL", p)},
        params=params_total if known_shapes else None,
        params_uncounted=uncounted if known_shapes else [],
        blocks=blocks, narrowest=narrowest,
    )
    net = netgraph.net
    return GraphReport(net=str(net.path) if net.path else net.source, name=net.name, phase=netgraph.phase,
                       stages=netgraph.stages, layers=layers, blobs=blobs, edges=edges, lints=lints,
                       summary=summary, shapes_from=shapes_from, output=output, phase_note=phase_note,
                       netgraph=netgraph)
