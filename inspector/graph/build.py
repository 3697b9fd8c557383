"""NetSpec (+ blob shapes) -> a directed graph of layer nodes and blob nodes (PlainDiGraph; networkx on request).

One pass over the layers in prototxt order, as Caffe's Net::Init wires them:
- each bottom connects from the blob version current at that point; each top makes a blob
  node. A top that is also a bottom (in place, e.g. ReLU) makes a new version of the blob
  (conv1, conv1@1, conv1@2 ...), so in-place chains read as a line, not as cycles;
- versions are counted per phase, so with phase ALL the TRAIN and TEST data layers that both
  write `data` share one `data` node, and a layer of one phase never reads a blob of the other;
  with ALL, a layer kept only under some stage is wired in the phases its rules name, and
  layers that no written-for net state keeps together (one data layer per stage) are
  alternative sources of one blob, not a top produced twice;
- a bottom that no earlier layer produced is linked to a later producer if one exists (that is
  how a real cycle shows) or to a placeholder blob marked undefined; the problems met while
  wiring are kept as lints (NetGraph.lints) for lint.py.

shared_param_groups reads which layers share learnable blobs by param name (the report lists them,
the exporters box them together).

Node ids: "layer:NAME" (a duplicate name gets "#2", "#3"), "blob:NAME" and "blob:NAME@K".
"""
from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..phases import Phase, parse_phase
from ..prototxt import PHASES, LayerSpec, NetSpec
from .digraph import PlainDiGraph
from .records import Lint


@dataclass
class NetGraph:
    """A net's graph and the facts gathered while building it."""

    net: NetSpec
    phase: str
    stages: list[str]
    level: int
    digraph: PlainDiGraph
    layer_nodes: list[str]  # in prototxt order
    layers: list[LayerSpec]  # the layers in the graph, in prototxt order
    dropped: dict[str, list[str]]  # phase -> layer names FilterNet drops there
    lints: list[Lint] = field(default_factory=list)
    blob_shapes: dict[str, list[int]] = field(default_factory=dict)
    _networkx: Any = field(default=None, init=False, repr=False)

    @property
    def graph(self):
        """The graph as a networkx.DiGraph, made on first use (importing networkx takes 0.4 s)."""
        if self._networkx is None:
            self._networkx = self.digraph.to_networkx()
        return self._networkx

    @property
    def wiring_phases(self) -> tuple[str, ...]:
        return PHASES if self.phase == "ALL" else (self.phase,)

    def topological_layer_nodes(self) -> list[str]:
        """Layer nodes in an order where each comes after the producers of its bottoms (prototxt order on ties)."""
        nodes = self.digraph.nodes
        ordered = self.digraph.topological_order(key=lambda node: nodes[node]["order"])
        if ordered is None:
            return list(self.layer_nodes)
        return [n for n in ordered if nodes[n]["kind"] == "layer"]


def normalize_phase(phase: str | None) -> str:
    """The phase to draw in caffe.proto's spelling (TRAIN, TEST or ALL); TRAIN when none is given."""
    return parse_phase(phase or Phase.TRAIN, allow_all=True).prototxt


def _candidate_states(*layers: LayerSpec):
    """The net states these layers were written for: no stage, or the stages one include rule asks for."""
    rules = [r for layer in layers for r in layer.include + layer.exclude]
    levels = {0} | {v for r in rules for v in (r.min_level, r.max_level) if v is not None}
    stage_sets: list[list[str]] = [[], *(r.stage for layer in layers for r in layer.include if r.stage)]
    return [(p, lvl, stage_set) for p in PHASES for lvl in sorted(levels) for stage_set in stage_sets]


def possible_phases(layer: LayerSpec) -> tuple[str, ...]:
    """The phases some net state (stages, level) includes this layer in."""
    states = _candidate_states(layer)
    return tuple(p for p in PHASES if any(layer.included_in(p, lvl, st) for q, lvl, st in states if q == p))


def can_coexist(a: LayerSpec, b: LayerSpec) -> bool:
    """Whether one net state includes both layers (else they are alternatives, e.g. per-stage data layers)."""
    return any(a.included_in(p, lvl, st) and b.included_in(p, lvl, st) for p, lvl, st in _candidate_states(a, b))


def build_graph(net: NetSpec, phase: str | None = "TRAIN", stages=(), level: int = 0,
                blob_shapes: dict[str, list[int]] | None = None) -> NetGraph:
    """The graph of the layers Caffe keeps for this phase (or all layers, with their phases, for ALL)."""
    phase = normalize_phase(phase)
    stages = list(stages)
    blob_shapes = dict(blob_shapes or {})
    graph = PlainDiGraph(name=net.name, phase=phase)
    nodes = graph.nodes
    lints: list[Lint] = []
    dropped = {p: [layer.name for layer in net.layers if not layer.included_in(p, level, stages)] for p in PHASES}

    layers: list[tuple[LayerSpec, tuple[str, ...], tuple[str, ...]]] = []
    for layer in net.layers:
        in_phases = tuple(p for p in PHASES if layer.included_in(p, level, stages))
        if phase == "ALL":  # wired in every phase some stage or level could put it in
            layers.append((layer, in_phases, possible_phases(layer) or PHASES))
        elif phase in in_phases:
            layers.append((layer, (phase,), (phase,)))
    wiring_phases = PHASES if phase == "ALL" else (phase,)

    productions: dict[tuple[str, str], int] = {}  # (blob, phase) -> times produced so far
    current: dict[tuple[str, str], str] = {}  # (blob, phase) -> node id of its current version
    producer_of: dict[str, str] = {}  # blob node -> layer name
    producers: dict[str, list[LayerSpec]] = {}  # blob node -> every layer writing it
    first_node_of: dict[str, str] = {}  # blob name -> its first node (for bottoms produced later)

    def blob_node(name: str, version: int, order: int) -> str:
        node = f"blob:{name}" if version == 0 else f"blob:{name}@{version}"
        if node not in nodes:
            graph.add_node(node, kind="blob", name=name, version=version,
                           label=name if version == 0 else f"{name}@{version}",
                           shape=blob_shapes.get(name), input=False, undefined=False, order=order)
            first_node_of.setdefault(name, node)
        return node

    for spec in net.inputs:
        if spec.layer is None:
            node = blob_node(spec.name, 0, -1)
            nodes[node]["input"] = True
            if nodes[node]["shape"] is None and spec.shape:
                nodes[node]["shape"] = list(spec.shape)
            for p in wiring_phases:
                productions[(spec.name, p)] = 1
                current[(spec.name, p)] = node

    name_counts: Counter = Counter()
    layer_nodes: list[str] = []
    pending: list[tuple[str, LayerSpec, int, str, tuple[str, ...]]] = []
    for position, (layer, in_phases, wire) in enumerate(layers):
        name_counts[layer.name] += 1
        count = name_counts[layer.name]
        node = f"layer:{layer.name}" if count == 1 else f"layer:{layer.name}#{count}"
        order = 2 * position + 1
        graph.add_node(node, kind="layer", name=layer.name, type=layer.type, order=order, index=layer.index,
                       line=layer.line, phases=list(in_phases),
                       python=layer.python.label if layer.python else None,
                       param_str=layer.python.param_str if layer.python else None,
                       loss_weights=layer.effective_loss_weights if layer.is_loss else [],
                       loss=layer.is_loss, frozen=layer.frozen, shared_params=layer.shared_param_names,
                       lr_mults=[p.lr_mult for p in layer.params])
        layer_nodes.append(node)
        for i, bottom in enumerate(layer.bottoms):
            sources = {current[(bottom, p)] for p in wire if (bottom, p) in current}
            missing = tuple(p for p in wire if (bottom, p) not in current)
            for source in sorted(sources):
                graph.add_edge(source, node, role="bottom", index=i, blob=bottom, shape=blob_shapes.get(bottom))
            if missing:
                pending.append((node, layer, i, bottom, missing))
        for i, top in enumerate(layer.tops):
            in_place = top in layer.bottoms
            version = max(productions.get((top, p), 0) for p in wire)
            if in_place and version == 0:
                version = 1  # in place on a bottom nobody made: version 0 is that bottom's undefined placeholder
            earlier = [current[(top, p)] for p in wire if (top, p) in current]
            from_input = any(nodes[blob]["input"] for blob in earlier)
            rivals = [producers.get(blob, []) for blob in earlier]
            if version > 0 and not in_place and phase == "ALL" and not from_input and not any(
                    can_coexist(layer, other) for group in rivals for other in group):
                version -= 1  # the earlier producers run in other stages only: same blob, another source
            elif version > 0 and not in_place:
                previous = "the net input" if from_input else f"layer '{producer_of.get(earlier[0], '?')}'"
                lints.append(Lint(
                    "top-produced-twice", "error", layer.name,
                    f"top '{top}' is already produced by {previous} and this layer does not "
                    "read it (not in place); Caffe stops with 'Top blob produced by multiple sources'",
                    layer.line))
            target = blob_node(top, version, order + 1)
            producer_of.setdefault(target, layer.name)
            producers.setdefault(target, []).append(layer)
            graph.add_edge(node, target, role="top", index=i, blob=top, shape=blob_shapes.get(top))
            for p in wire:
                productions[(top, p)] = version + 1
                current[(top, p)] = target

    for node, layer, index, bottom, missing in pending:
        where = "" if set(missing) == set(wiring_phases) else f" in {'/'.join(missing)}"
        later = first_node_of.get(bottom)
        if later is not None and nodes[later]["undefined"]:
            later = None  # a placeholder made for an earlier undefined bottom of the same name
        if later is not None and any(spec is layer for spec in producers.get(later, [])):
            later = None  # in place on a misspelt bottom: its own top is no producer (Caffe: 'Unknown bottom blob')
        if later is not None and not graph.has_edge(later, node):
            graph.add_edge(later, node, role="bottom", index=index, blob=bottom, shape=blob_shapes.get(bottom))
            lints.append(Lint(
                "bottom-produced-later", "error", layer.name,
                f"bottom '{bottom}'{where} is produced only later, by layer '{producer_of.get(later, '?')}'; "
                "Caffe reads layers in order and stops with 'Unknown bottom blob'", layer.line))
        elif later is None:
            placeholder = blob_node(bottom, 0, graph.nodes[node]["order"] - 1)
            nodes[placeholder]["undefined"] = True
            graph.add_edge(placeholder, node, role="bottom", index=index, blob=bottom, shape=blob_shapes.get(bottom))
            lints.append(Lint(
                "undefined-bottom", "error", layer.name,
                f"bottom '{bottom}'{where} is produced by no layer and is not a net input; Caffe stops with "
                "'Unknown bottom blob'", layer.line, blob=bottom))
        else:
            lints.append(Lint(
                "undefined-bottom", "error", layer.name,
                f"bottom '{bottom}'{where} is produced by no layer of that phase before this one", layer.line,
                blob=bottom))

    for blob, layer_name in producer_of.items():
        nodes[blob]["producer"] = layer_name
    return NetGraph(net=net, phase=phase, stages=stages, level=level, digraph=graph, layer_nodes=layer_nodes,
                    layers=[entry[0] for entry in layers], dropped=dropped, lints=lints,
                    blob_shapes=blob_shapes)


def shared_param_groups(netgraph: NetGraph) -> list[tuple[list[str], list[str]]]:
    """Layers connected by shared param names: [(param names, layer nodes)], each a union of sharing."""
    nodes = netgraph.digraph.nodes
    by_param: dict[str, list[str]] = {}
    for node in netgraph.layer_nodes:
        for name in nodes[node]["shared_params"]:
            by_param.setdefault(name, []).append(node)
    group_of: dict[str, int] = {}  # layer node -> its group; groups merge when a layer shares two names
    members: dict[int, tuple[set[str], set[str]]] = {}  # group -> (param names, layer nodes)
    new_keys = itertools.count()
    for name, sharers in by_param.items():
        if len(sharers) < 2:
            continue
        merged = {group_of[n] for n in sharers if n in group_of}
        group = min(merged) if merged else next(new_keys)
        params, layers = members.setdefault(group, (set(), set()))
        for other in merged - {group}:
            other_params, other_layers = members.pop(other)
            params |= other_params
            layers |= other_layers
        params.add(name)
        layers.update(sharers)
        for node in layers:
            group_of[node] = group
    groups = [(sorted(params), [n for n in netgraph.layer_nodes if n in layers]) for params, layers in members.values()]
    position = {node: i for i, node in enumerate(netgraph.layer_nodes)}
    return sorted(groups, key=lambda g: position[g[1][0]])
