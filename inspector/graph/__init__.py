"""inspector graph: draw and lint a prototxt statically (no Caffe, nothing imported or run).

    report = graph_net("train.prototxt", phase="TRAIN", output="net.svg")

build.py makes the graph from a NetSpec (a digraph.PlainDiGraph: networkx is imported only when
asked for, by NetGraph.graph), lint.py finds problems (Lints), export.py writes DOT/SVG/PNG/PDF/
GraphML/JSON/Mermaid with the colours and labels of style.py (fold.py folds in-place layers for
--fold), report.py is the result object, made of the typed records of records.py, blocks.py finds
a big net's blocks and textview.py prints a report (a table, or a summary of a big net).
shapes.py reads the blob shapes a trace recorded (./.inspector/last-trace.json, or a trace report
given with --shapes).
"""
from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..caffe_env import registered_layer_types
from ..errors import InputError
from ..outputs import check_output
from ..prototxt import NetSpec, read_net
from .build import NetGraph, build_graph
from .export import EXPORT_SUFFIXES, check_export_path, export, to_dot, to_mermaid
from .fold import fold_in_place
from .lint import run_lints
from .records import SEVERITIES, BlobSlot, BlockRun, GraphBlob, GraphEdge, GraphLayer, Lint
from .report import GraphReport, GraphSummary, make_report
from .shapes import TraceShapes, last_trace_path, load_last_trace, load_shapes

__all__ = ["EXPORT_SUFFIXES", "BlobSlot", "BlockRun", "GraphBlob", "GraphEdge", "GraphLayer", "GraphReport",
           "GraphSummary", "Lint", "NetGraph", "TraceShapes", "build_graph", "export", "fold_in_place", "graph_net",
           "last_trace_path", "load_last_trace", "load_shapes", "run_lints", "to_dot", "to_mermaid"]


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for a while, as it was afterwards. Reading a 16,000-layer net
    makes about a million small objects, none in a cycle, and each full collection walks all of them
    again: half the run's time went there."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def graph_net(net_path: str | Path | None = None, *, phase: str | None = None, stages=(), level: int = 0,
              shapes: str | Path | None = None, output: str | Path | None = None, rankdir: str = "LR",
              cwd: str | Path | None = None, check_types: bool = True, fold: bool = False) -> GraphReport:
    """Read, graph, lint and (with output) export a net; without net_path, the last trace's net and shapes.
    `check_types`: note the layer types the importable Caffe does not register (when there is one);
    `fold`: draw in-place layers inside the node of the layer they follow (the report is not folded)."""
    with collector_paused():
        return _graph_net(net_path, phase, stages, level, shapes, output, rankdir, cwd, check_types, fold)


def _graph_net(net_path, phase, stages, level, shapes, output, rankdir, cwd, check_types, fold) -> GraphReport:
    trace = None
    if net_path is None:
        trace = load_last_trace(cwd)
        net_path = trace.net
        if net_path is None:
            raise InputError(f"{trace.source} names no net.", "Give the prototxt: inspector graph NET.prototxt")
    if shapes is not None:
        trace = load_shapes(shapes)
    if output is not None:
        check_export_path(output)
        check_output(output, [net_path, shapes, trace.source if trace else None])
    net = read_net(net_path)
    if net.is_solver:
        named = net.message.get("net") or net.message.get("train_net")
        raise InputError(f"{net_path} is a solver, not a net" + (f" (its net is {named})." if named else "."),
                         "Give the net prototxt the solver names.")
    stages, level = list(stages) or net.state_stages, level or net.state_level
    phase_note, netgraph = None, None
    blob_shapes = trace.blob_shapes if trace else None
    if phase is None:
        phase = (trace.phase if trace and trace.phase else None) or net.state_phase
    if phase is None:
        netgraph, phase_note = written_for_phase(net, stages, level, blob_shapes)
    if netgraph is None:
        netgraph = build_graph(net, phase, stages, level, blob_shapes)
    lints = run_lints(netgraph, registered_layer_types() if check_types else None)
    notes: list[Lint] = []
    drawn = fold_in_place(netgraph) if fold else netgraph
    written = export(drawn, output, rankdir, notes) if output is not None else None
    lints = sorted(lints + notes, key=lambda lint: SEVERITIES.index(lint.severity))
    return make_report(netgraph, lints, trace.param_shapes if trace else None,
                       shapes_from=str(trace.source) if trace else None,
                       output=str(written) if written else None, phase_note=phase_note)


def written_for_phase(net: NetSpec, stages: list[str], level: int,
                      blob_shapes: dict[str, list[int]] | None = None) -> tuple[NetGraph, str | None]:
    """The graph to draw when no phase is given: TRAIN's, or TEST's for a file whose bottoms only TEST defines.

    A val/test file (its data layer under `include { phase: TEST }`) drawn for TRAIN would show
    false undefined bottoms; the note says which phase was picked and why. The graph built to decide
    is the one returned (a big net is built once, not twice).
    """
    train_graph = build_graph(net, "TRAIN", stages, level, blob_shapes)
    train = [lint for lint in train_graph.lints if lint.code == "undefined-bottom"]
    if not train:
        return train_graph, None
    test = build_graph(net, "TEST", stages, level, blob_shapes)
    if any(lint.code == "undefined-bottom" for lint in test.lints) or not test.layers:
        return train_graph, None
    first = train[0]
    return test, (f"no --phase given: drawn for TEST, the phase this file is written for (under TRAIN, "
                    f"bottom '{first.blob}' of layer '{first.layer}' is produced by no layer); "
                    "--phase train to see TRAIN")
