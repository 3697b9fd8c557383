"""--fold: a NetGraph for drawing, each in-place layer folded into the node of the layer it follows.

Netron draws a conv with its BatchNorm, Scale and ReLU as one node; a Caffe prototxt writes them as
in-place layers (top == bottom), which the graph shows as blob versions conv1, conv1@1, conv1@2.
Folding walks the layers in prototxt order and merges an in-place layer L into the layer H that
wrote its bottom when: L has one bottom and one top (the same blob), that bottom version is read by
L alone, L is neither a Python nor a loss layer (those stay in sight), and in `--phase all` both run
in the same phases. The blob version between them goes; H's node lists the folded layers' types;
the blob after L keeps the name the first version had. The report and its table are not folded.
"""
from __future__ import annotations

import dataclasses

from .build import NetGraph
from .digraph import PlainDiGraph


def _copy(graph: PlainDiGraph) -> PlainDiGraph:
    copy = PlainDiGraph(**graph.graph)
    for node, attrs in graph.nodes.items():
        copy.add_node(node, **attrs)
    for source, target, attrs in graph.edges(data=True):
        copy.add_edge(source, target, **attrs)
    return copy


def _host_of(graph: PlainDiGraph, node: str, attrs: dict) -> tuple[str, str] | None:
    """(the layer to fold `node` into, the blob version between them), or None when it stays a node."""
    if attrs.get("python") or attrs.get("loss") or graph.in_degree(node) != 1 or graph.out_degree(node) != 1:
        return None
    bottom, top = next(graph.predecessors(node)), next(graph.successors(node))
    if graph.nodes[bottom]["name"] != graph.nodes[top]["name"] or graph.out_degree(bottom) != 1:
        return None
    writers = list(graph.predecessors(bottom))
    if len(writers) != 1 or graph.nodes[writers[0]]["kind"] != "layer":
        return None
    host = writers[0]
    return (host, bottom) if graph.nodes[host]["phases"] == attrs["phases"] else None


def fold_in_place(netgraph: NetGraph) -> NetGraph:
    """A copy of netgraph with in-place layers folded into the node of the layer they follow."""
    graph = _copy(netgraph.digraph)
    folded: set[str] = set()
    for node in netgraph.layer_nodes:
        found = _host_of(graph, node, graph.nodes[node])
        if found is None:
            continue
        host, between = found
        top = next(graph.successors(node))
        edge = dict(graph.succ[host][between])  # host's top slot, now writing the blob after `node`
        graph.nodes[top]["label"] = graph.nodes[between]["label"]
        graph.nodes[top]["producer"] = graph.nodes[host]["name"]
        graph.nodes[host]["folded"] = [*graph.nodes[host].get("folded", []), graph.nodes[node]["type"]]
        graph.remove_node(between)
        graph.remove_node(node)
        graph.add_edge(host, top, **edge)
        folded.add(node)
    kept = [(n, layer) for n, layer in zip(netgraph.layer_nodes, netgraph.layers) if n not in folded]
    return dataclasses.replace(netgraph, digraph=graph, layer_nodes=[n for n, _ in kept],
                               layers=[layer for _, layer in kept])
