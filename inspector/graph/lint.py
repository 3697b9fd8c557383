"""Lints over a NetGraph: what would stop Caffe, or surprise the person training the net.

Each lint returns Lints (code, severity, layer, message, line):
- wiring problems found while building (undefined bottoms, bottoms produced only later,
  a top produced twice without being in place): errors;
- duplicate layer names within one phase (two Data layers called `mnist`, one per phase, are
  fine): warning, since Caffe builds the net and only name-keyed things (weights, net.params) suffer;
- cycles in the graph: error;
- Python layers whose module cannot be found, or whose module file defines no such class:
  warning. Static only: importlib.machinery.PathFinder locates each module part by part
  without importing any parent package, and the class is looked up with ast in the file's text;
  the prototxt's folder is searched first, as Caffe users run from it;
- blobs nobody consumes after their last version: the net's outputs, info;
- layer types the importable Caffe does not register (a fork's layers, e.g. ROIPooling), info, with the
  forks known to have them: only when pycaffe is importable (asked of a child Python, cached), so a machine
  without Caffe still gets a static graph;
- an undefined bottom that another net state defines (a file written for TEST drawn for
  TRAIN, a data layer kept only under a stage) says so: "it exists under --phase test".
"""
from __future__ import annotations

import ast
import itertools
import os
import sys
from collections import defaultdict
from dataclasses import replace
from importlib.machinery import PathFinder
from pathlib import Path

from ..caffe_env import LayerRegistry
from ..forks import forks_with_type, from_which_fork
from ..prototxt import PHASES
from .build import NetGraph, build_graph
from .records import SEVERITIES, Lint

MAX_CYCLES_REPORTED = 5


def python_search_path(net_dir: Path | None) -> list[str]:
    """Where `import MODULE` would look when Caffe runs from the prototxt's folder."""
    first = [str(net_dir)] if net_dir else []
    return first + [os.getcwd()] + [p for p in sys.path if p]


def find_module_file(module: str, search_path: list[str]):
    """The ModuleSpec of a dotted module, found part by part without importing anything."""
    spec, path = None, search_path
    for depth, part in enumerate(module.split(".")):
        name = ".".join(module.split(".")[: depth + 1])
        if depth == 0 and part in sys.builtin_module_names:
            return None if "." in module else "builtin"
        spec = PathFinder.find_spec(name, path)
        if spec is None:
            return None
        path = list(spec.submodule_search_locations or [])
    return spec


def defines_class(source_file: str, class_name: str) -> bool | None:
    """Whether a module's text defines (or binds) the name at top level; None when unreadable."""
    try:
        tree = ast.parse(Path(source_file).read_text(encoding="utf-8", errors="replace"))
    except (OSError, SyntaxError, ValueError):
        return None
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            return True
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == class_name for t in targets):
                return True
        if isinstance(node, (ast.Import, ast.ImportFrom)) and any(
                (alias.asname or alias.name) == class_name or alias.name == "*" for alias in node.names):
            return True
    return False


def lint_python_modules(netgraph: NetGraph) -> list[Lint]:
    lints = []
    net_dir = netgraph.net.path.parent if netgraph.net.path else None
    search_path = python_search_path(net_dir)
    specs: dict[str, object] = {}
    defined: dict[tuple[str, str], bool | None] = {}
    for layer in netgraph.layers:
        if layer.python is None:
            continue
        module, cls = layer.python.module, layer.python.layer
        if not module or not cls:
            lints.append(Lint("python-param-incomplete", "error", layer.name,
                                    "Python layer without python_param { module layer }", layer.line))
            continue
        if module not in specs:  # a net repeats one module in many layers: look it up once
            specs[module] = find_module_file(module, search_path)
        spec = specs[module]
        if spec is None:
            where = f"{net_dir}, the current folder or sys.path" if net_dir else "the current folder or sys.path"
            lints.append(Lint("python-module-not-found", "warning", layer.name,
                                    f"module '{module}' is not found in {where}; add its folder to PYTHONPATH",
                                    layer.line))
            continue
        origin = getattr(spec, "origin", None)
        if origin and origin.endswith(".py") and (origin, cls) not in defined:
            defined[(origin, cls)] = defines_class(origin, cls)  # parsed once, not once a layer
        if origin and origin.endswith(".py") and defined[(origin, cls)] is False:
            lints.append(Lint("python-class-not-found", "warning", layer.name,
                                    f"{origin} defines no top-level name '{cls}'", layer.line))
    return lints


def lint_duplicate_names(netgraph: NetGraph) -> list[Lint]:
    lints, seen = [], set()
    for phase in netgraph.wiring_phases:
        by_name = defaultdict(list)
        for node in netgraph.layer_nodes:
            attrs = netgraph.digraph.nodes[node]
            if netgraph.phase != "ALL" or phase in attrs["phases"]:
                by_name[attrs["name"]].append(attrs)
        for name, entries in by_name.items():
            if len(entries) > 1 and name not in seen:
                seen.add(name)
                lines = ", ".join(str(e["line"]) for e in entries)
                # Caffe builds such a net, so a warning: the harm comes later, where names are keys.
                lints.append(Lint("duplicate-layer-name", "warning", name,
                                        f"{len(entries)} layers named '{name}' in {phase}, on lines {lines}; "
                                        "Caffe builds it, but copies weights and indexes net.params by layer name, "
                                        "so they get mixed up",
                                        entries[1]["line"]))
    return lints


def lint_cycles(netgraph: NetGraph) -> list[Lint]:
    if netgraph.digraph.is_acyclic():
        return []
    import networkx as nx  # noqa: PLC0415 - only a net with a cycle pays for the import

    graph = netgraph.graph
    lints = []
    for cycle in itertools.islice(nx.simple_cycles(graph), MAX_CYCLES_REPORTED):
        start = min(range(len(cycle)), key=lambda i: graph.nodes[cycle[i]]["order"])
        cycle = cycle[start:] + cycle[:start]  # read from the earliest layer in the prototxt
        path = " -> ".join(graph.nodes[n]["label"] if graph.nodes[n]["kind"] == "blob" else graph.nodes[n]["name"]
                           for n in cycle + cycle[:1])
        first_layer = next(graph.nodes[n] for n in cycle if graph.nodes[n]["kind"] == "layer")
        lints.append(Lint("cycle", "error", first_layer["name"], f"cycle: {path}", first_layer["line"]))
    return lints


def lint_outputs(netgraph: NetGraph) -> list[Lint]:
    graph = netgraph.digraph
    lints = []
    for node, attrs in graph.nodes(data=True):
        if attrs["kind"] == "blob" and graph.out_degree(node) == 0 and not attrs["undefined"]:
            producer = attrs.get("producer")
            lints.append(Lint("net-output", "info", producer,
                                    f"'{attrs['name']}' is consumed by no layer: a net output", None))
    return lints


def undefined_bottoms(netgraph: NetGraph) -> set[tuple[str | None, str | None]]:
    """(layer, bottom) of every undefined-bottom lint met while wiring."""
    return {(f.layer, f.blob) for f in netgraph.lints if f.code == "undefined-bottom"}


def other_net_states(netgraph: NetGraph) -> list[tuple[str, list[str], str]]:
    """The net states the file may be written for besides the drawn one: (phase, stages, option spelling)."""
    stage_sets = [list(netgraph.stages)] + [
        rule.stage for layer in netgraph.net.layers for rule in layer.include if rule.stage]
    states, seen = [], {(netgraph.phase, tuple(netgraph.stages))}
    for phase in (netgraph.phase, *(p for p in PHASES if p != netgraph.phase)):
        for stages in stage_sets:
            if (phase, tuple(stages)) in seen:
                continue
            seen.add((phase, tuple(stages)))
            spelling = " ".join([f"--phase {phase.lower()}"] * (phase != netgraph.phase)
                                + [f"--stage {s}" for s in stages if s not in netgraph.stages])
            states.append((phase, stages, spelling or f"--phase {phase.lower()}"))
    return states


def hint_other_states(netgraph: NetGraph, lints: list[Lint]) -> list[Lint]:
    """Undefined bottoms that another net state defines for the same layer say where: "(it exists under ...)"."""
    undefined = undefined_bottoms(netgraph)
    if netgraph.phase == "ALL" or not undefined:
        return lints
    where: dict[tuple[str | None, str | None], str] = {}
    for phase, stages, spelling in other_net_states(netgraph):
        other = build_graph(netgraph.net, phase, stages, netgraph.level)
        kept = {layer.name for layer in other.layers}
        for key in undefined - undefined_bottoms(other):
            if key[0] in kept:
                where.setdefault(key, spelling)
    return [replace(f, message=f"{f.message} (it exists under {where[f.layer, f.blob]})")
            if f.code == "undefined-bottom" and (f.layer, f.blob) in where else f for f in lints]


def lint_layer_types(netgraph: NetGraph, registry: LayerRegistry | None) -> list[Lint]:
    """Layer types the Caffe at hand would reject with "Unknown layer type", one lint a type."""
    if registry is None:
        return []
    lints, seen = [], set()
    for layer in netgraph.layers:
        if layer.type in registry.types or layer.type in seen or not layer.type:
            continue
        seen.add(layer.type)
        lints.append(Lint("layer-type-not-in-caffe", "info", layer.name,
                                f"the Caffe at {registry.package_dir} does not register layer type '{layer.type}'"
                                f"{from_which_fork(forks_with_type(layer.type))}; trace needs a Caffe that has it",
                                layer.line))
    return lints


def run_lints(netgraph: NetGraph, registry: LayerRegistry | None = None) -> list[Lint]:
    """All lints, errors first, each group in prototxt order; `registry` for the layer-type lint."""
    lints = (hint_other_states(netgraph, list(netgraph.lints)) + lint_duplicate_names(netgraph)
             + lint_cycles(netgraph) + lint_python_modules(netgraph) + lint_layer_types(netgraph, registry)
             + lint_outputs(netgraph))
    return sorted(lints, key=lambda f: SEVERITIES.index(f.severity))
