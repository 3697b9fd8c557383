"""inspector graph: draw and lint a prototxt statically (no Caffe, nothing imported or run).

    report = graph_net("train.prototxt", phase="TRAIN", output="net.svg")

build.py makes the networkx graph from a NetSpec, lint.py finds problems, export.py writes
DOT/SVG/PNG/PDF/GraphML/JSON/Mermaid, report.py is the result object. shapes.py reads the blob
shapes a trace recorded (./.inspector/last-trace.json, or a trace report given with --shapes).
"""
from __future__ import annotations

from pathlib import Path

from ..caffe_env import registered_layer_types
from ..errors import InputError
from ..outputs import check_output
from ..prototxt import NetSpec, read_net
from .build import NetGraph, build_graph, normalize_phase
from .export import EXPORT_SUFFIXES, check_export_path, export, to_dot, to_mermaid
from .findings import Finding
from .lint import run_lints
from .report import GraphReport, make_report
from .shapes import TraceShapes, last_trace_path, load_last_trace, load_shapes

__all__ = ["EXPORT_SUFFIXES", "Finding", "GraphReport", "NetGraph", "TraceShapes", "build_graph", "export",
           "graph_net", "last_trace_path", "load_last_trace", "load_shapes", "run_lints", "to_dot", "to_mermaid"]


def graph_net(net_path: str | Path | None = None, *, phase: str | None = None, stages=(), level: int = 0,
              shapes: str | Path | None = None, output: str | Path | None = None, rankdir: str = "LR",
              cwd: str | Path | None = None, check_types: bool = True) -> GraphReport:
    """Read, graph, lint and (with output) export a net; without net_path, the last trace's net and shapes.
    `check_types`: note the layer types the importable Caffe does not register (when there is one)."""
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
    phase_note = None
    if phase is None:
        phase = (trace.phase if trace and trace.phase else None) or net.state_phase
    if phase is None:
        phase, phase_note = written_for_phase(net, stages, level)
    netgraph = build_graph(net, phase, stages, level, trace.blob_shapes if trace else None)
    lints = run_lints(netgraph, registered_layer_types() if check_types else None)
    written = export(netgraph, output, rankdir) if output is not None else None
    return make_report(netgraph, lints, trace.param_shapes if trace else None,
                       shapes_from=str(trace.source) if trace else None,
                       output=str(written) if written else None, phase_note=phase_note)


def written_for_phase(net: NetSpec, stages: list[str], level: int) -> tuple[str, str | None]:
    """The phase to draw when none is given: TRAIN, or TEST for a file whose bottoms only TEST defines.

    A val/test file (its data layer under `include { phase: TEST }`) drawn for TRAIN would show
    false undefined bottoms; the note says which phase was picked and why.
    """
    train = [f for f in build_graph(net, "TRAIN", stages, level).findings if f.code == "undefined-bottom"]
    if not train:
        return "TRAIN", None
    test = build_graph(net, "TEST", stages, level)
    if any(f.code == "undefined-bottom" for f in test.findings) or not test.layers:
        return "TRAIN", None
    first = train[0]
    return "TEST", (f"no --phase given: drawn for TEST, the phase this file is written for (under TRAIN, "
                    f"bottom '{first.blob}' of layer '{first.layer}' is produced by no layer); "
                    "--phase train to see TRAIN")
