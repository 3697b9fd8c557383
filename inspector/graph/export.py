"""Writers for a NetGraph: DOT (written here), SVG/PNG/PDF (Graphviz's dot), GraphML, node-link JSON, Mermaid.

The graph core knows nothing of files; this module only reads node and edge attributes, and takes
colours and labels from style.py: Python layers amber with module.Class and param_str, loss layers
red with their loss weight, frozen layers (all lr_mult 0) grey and dashed, layers that share a param
name boxed together in a dashed cluster; blob nodes show the blob's shape when it is known.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from ..errors import InputError, MissingDependency
from ..outputs import check_output, replacing, write_output
from ..render import escape_control, strict_json
from ..shapes import shape_text
from .build import NetGraph, shared_param_groups
from .records import Lint
from .style import COLOURS, blob_label_lines, layer_label_lines, layer_style

EXPORT_SUFFIXES = (".dot", ".gv", ".svg", ".png", ".pdf", ".graphml", ".json", ".mmd")
GRAPHVIZ_FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf"}

def _dot_quote(text: str) -> str:
    """A DOT string; control characters (which stop dot's parser) are written out as \\xNN."""
    text = escape_control(text)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(netgraph: NetGraph, rankdir: str = "LR") -> str:
    """The graph as Graphviz DOT text."""
    graph = netgraph.digraph
    q = _dot_quote
    out = [f"digraph {q(netgraph.net.name or 'net')} {{",
           f"  graph [rankdir={rankdir}, fontname=Helvetica, label={q(_title(netgraph))}, labelloc=t];",
           '  node [fontname=Helvetica, fontsize=10];',
           '  edge [fontname=Helvetica, fontsize=8];']
    for node, attrs in graph.nodes(data=True):
        if attrs["kind"] == "layer":
            style = layer_style(attrs)
            extra = ', style="filled,dashed"' if style == "frozen" else ', style=filled'
            if style == "python":
                extra += ", penwidth=2, color=\"#e65100\""
            out.append(f"  {q(node)} [shape=box{extra}, fillcolor={q(COLOURS[style])}, "
                       f"label={q(chr(10).join(layer_label_lines(attrs, netgraph.phase)))}];")
        else:
            colour = "#d32f2f" if attrs["undefined"] else "#616161"
            out.append(f"  {q(node)} [shape=ellipse, color={q(colour)}, "
                       f"label={q(chr(10).join(blob_label_lines(attrs)))}];")
    for index, (params, layers) in enumerate(shared_param_groups(netgraph)):
        out.append(f"  subgraph cluster_shared_{index} {{")
        out.append(f"    label={q('shared params: ' + ', '.join(params))}; style=dashed; color=\"#7b1fa2\";")
        out.extend(f"    {q(node)};" for node in layers)
        out.append("  }")
    for source, target, attrs in graph.edges(data=True):
        shape = shape_text(attrs.get("shape"))
        out.append(f"  {q(source)} -> {q(target)}" + (f" [label={q(shape)}];" if shape else ";"))
    out.append("}")
    return "\n".join(out) + "\n"


def _title(netgraph: NetGraph) -> str:
    phase = "all phases" if netgraph.phase == "ALL" else netgraph.phase
    stages = f", stages {', '.join(netgraph.stages)}" if netgraph.stages else ""
    return f"{netgraph.net.name or 'net'} ({phase}{stages})"


def run_dot(dot_text: str, fmt: str, output: Path, shown_as: str | Path | None = None) -> float | None:
    """Render DOT through Graphviz's dot into output (named `shown_as` in messages: the user's path, not a temp);
    the factor dot scaled a raster down by to fit, if it did."""
    shown_as = shown_as or output
    dot = shutil.which("dot")
    if dot is None:
        raise MissingDependency(f"Graphviz's dot is needed to write {Path(shown_as).suffix} files and is not on PATH.",
                                "apt-get install graphviz (or write .dot and render it elsewhere)")
    proc = subprocess.run([dot, f"-T{fmt}", "-o", str(output)], input=dot_text.encode(), capture_output=True)
    if proc.returncode != 0:
        message = proc.stderr.decode(errors="replace").strip().splitlines()
        raise MissingDependency(f"dot failed to write {shown_as}: {message[-1] if message else 'no message'}",
                                "Check the Graphviz install with `dot -V`, or write .dot instead.")
    # "dot: graph is too large for cairo-renderer bitmaps. Scaling by 0.122057 to fit" (gd says it alike)
    scaled = re.search(r"Scaling by ([0-9.]+) to fit", proc.stderr.decode(errors="replace"))
    return float(scaled.group(1)) if scaled else None


def downscaled_lint(output: Path, factor: float) -> Lint:
    return Lint("drawing-downscaled", "warning", None,
                   f"Graphviz scaled {output.name} down to {factor:.1%} of its size to fit its bitmap limit, so its "
                   "text is hard to read; write .svg or .pdf (no limit), or fold in-place layers with --fold", None)


# Characters XML 1.0 cannot hold at all, not even as a character reference.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_safe(text: str) -> str:
    """Text GraphML can hold: characters XML forbids are written as \\xNN / \\uNNNN."""
    return _XML_INVALID.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                            else f"\\u{ord(m.group()):04x}", text)


def _plain_attrs(attrs: dict) -> dict:
    """GraphML holds only scalars: lists and dicts become JSON text, None an empty string."""
    out = {}
    for key, value in attrs.items():
        if value is None:
            out[key] = ""
        elif isinstance(value, (list, tuple, dict)):
            out[key] = json.dumps(value)  # escapes control characters itself
        elif isinstance(value, str):
            out[key] = _xml_safe(value)
        else:
            out[key] = value
    return out


def to_graphml_graph(netgraph: NetGraph):
    """A networkx.DiGraph with GraphML-ready (scalar) attributes."""
    import networkx as nx  # noqa: PLC0415 - only GraphML output pays for the import

    plain = nx.DiGraph()
    plain.graph.update(_plain_attrs(netgraph.digraph.graph))
    for node, attrs in netgraph.digraph.nodes(data=True):
        plain.add_node(_xml_safe(node), **_plain_attrs(attrs))
    for source, target, attrs in netgraph.digraph.edges(data=True):
        plain.add_edge(_xml_safe(source), _xml_safe(target), **_plain_attrs(attrs))
    return plain


def to_graphml(netgraph: NetGraph) -> str:
    """The graph as GraphML text, well-formed whatever the prototxt's names hold."""
    import networkx as nx  # noqa: PLC0415 - only GraphML output pays for the import

    return "\n".join(nx.generate_graphml(to_graphml_graph(netgraph))) + "\n"


def to_node_link(netgraph: NetGraph) -> dict:
    import networkx as nx  # noqa: PLC0415 - only node-link JSON output pays for the import

    return nx.node_link_data(netgraph.graph, edges="edges")


def _mermaid_text(lines: list[str]) -> str:
    return "<br/>".join(escape_control(line).replace('"', "#quot;") for line in lines)


def to_mermaid(netgraph: NetGraph, rankdir: str = "LR") -> str:
    graph = netgraph.digraph
    ids = {node: f"n{i}" for i, node in enumerate(graph.nodes)}
    out = [f"flowchart {rankdir}"]
    styled: dict[str, list[str]] = {}
    for node, attrs in graph.nodes(data=True):
        if attrs["kind"] == "layer":
            out.append(f'  {ids[node]}["{_mermaid_text(layer_label_lines(attrs, netgraph.phase))}"]')
            styled.setdefault(layer_style(attrs), []).append(ids[node])
        else:
            out.append(f'  {ids[node]}(["{_mermaid_text(blob_label_lines(attrs))}"])')
    for index, (params, layers) in enumerate(shared_param_groups(netgraph)):
        out.append(f'  subgraph shared_{index}["shared params: {", ".join(params)}"]')
        out.extend(f"    {ids[n]}" for n in layers)
        out.append("  end")
    for source, target, attrs in graph.edges(data=True):
        shape = shape_text(attrs.get("shape"))
        out.append(f"  {ids[source]} -->|{shape}| {ids[target]}" if shape else f"  {ids[source]} --> {ids[target]}")
    for style, colour in COLOURS.items():
        out.append(f"  classDef {style} fill:{colour},stroke:#555")
    for style, members in styled.items():
        out.append(f"  class {','.join(members)} {style}")
    return "\n".join(out) + "\n"


def check_export_path(output: str | Path) -> str:
    """The export format of an output path (its suffix); InputError for an unknown one."""
    output = Path(output)
    suffix = output.suffix.lower()
    if suffix not in EXPORT_SUFFIXES:
        raise InputError(f"unknown output format '{output.suffix or output.name}'.",
                         "Use one of: " + ", ".join(EXPORT_SUFFIXES) + ".")
    return suffix


def export(netgraph: NetGraph, output: str | Path, rankdir: str = "LR", notes: list[Lint] | None = None) -> Path:
    """Write the graph to output, the format chosen by its suffix; an existing file is replaced only when done.
    What the user should know about the file (a raster Graphviz scaled down) is appended to `notes`."""
    suffix = check_export_path(output)
    check_output(output)
    if suffix in (".dot", ".gv"):
        write_output(output, to_dot(netgraph, rankdir))
    elif suffix in GRAPHVIZ_FORMATS:
        dot_text = to_dot(netgraph, rankdir)
        with replacing(output) as temp:
            factor = run_dot(dot_text, GRAPHVIZ_FORMATS[suffix], temp, output)
        if factor is not None and notes is not None:
            notes.append(downscaled_lint(Path(output), factor))
    elif suffix == ".graphml":
        write_output(output, to_graphml(netgraph))
    elif suffix == ".json":
        write_output(output, strict_json(to_node_link(netgraph), indent=1))
    else:
        write_output(output, to_mermaid(netgraph, rankdir))
    return Path(output)
