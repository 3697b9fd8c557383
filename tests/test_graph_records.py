"""The graph report as typed records: its JSON keys, reading it back, and what report.py may import."""
from __future__ import annotations

import ast
import json
from pathlib import Path

import inspector.graph
from inspector.graph import BlobSlot, GraphLayer, GraphReport, Lint, graph_net
from inspector.records import from_data
from inspector.render import strict_json

NETS = Path(__file__).parent / "nets_static"
TRIPLET = Path(__file__).parent.parent / "sample_nets" / "triplet" / "train.prototxt"
GRAPH_PACKAGE = Path(inspector.graph.__file__).parent


def test_the_json_report_keeps_its_keys_in_their_order():
    data = graph_net(NETS / "test_only.prototxt", phase="train").to_dict()
    assert list(data) == ["net", "name", "phase", "stages", "phase_note", "shapes_from", "output", "ok",
                          "layers", "blobs", "edges", "lints", "summary"]
    conv1 = next(layer for layer in data["layers"] if layer["name"] == "conv1")
    assert list(conv1) == ["node", "name", "type", "line", "bottoms", "tops", "bottom_edges", "top_edges", "phases",
                           "python", "param_str", "loss_weights", "frozen", "lr_mults", "shared_params", "in_place",
                           "style", "params"]
    assert conv1["bottom_edges"] == [{"blob": "data", "node": "blob:data", "index": 0, "shape": None}]
    assert list(data["blobs"][0]) == ["node", "name", "version", "label", "shape", "producer", "input", "undefined",
                                      "consumers"]
    assert list(data["edges"][0]) == ["source", "target", "blob", "role", "shape"]
    assert list(data["summary"]) == ["layers", "blobs", "layers_by_type", "python_layers", "loss_layers",
                                     "frozen_layers", "shared_params", "outputs", "dropped", "params",
                                     "params_uncounted", "blocks", "narrowest"]
    assert list(data["summary"]["blocks"][0]) == ["first", "last", "blocks", "layers_each", "types", "params"]
    assert data["ok"] is False


def test_a_lint_has_a_blob_key_only_when_it_is_about_a_blob():
    lints = graph_net(NETS / "test_only.prototxt", phase="train").to_dict()["lints"]
    undefined = next(lint for lint in lints if lint["code"] == "undefined-bottom")
    output = next(lint for lint in lints if lint["code"] == "net-output")
    assert list(undefined) == ["code", "severity", "layer", "message", "line", "blob"]
    assert undefined["blob"] == "data" and undefined["layer"] == "conv1"
    assert list(output) == ["code", "severity", "layer", "message", "line"]


def test_a_report_read_back_from_its_json_is_the_same_report(tmp_path):
    shapes = tmp_path / "shapes.json"
    shapes.write_text(json.dumps({"blob_shapes": {"data": [100, 1, 8, 8], "ip1": [100, 128]},
                                  "param_shapes": {"ip1": [[128, 64], [128]]}}))
    report = graph_net(TRIPLET, shapes=shapes)
    back = from_data(GraphReport, json.loads(strict_json(report.to_dict())))
    assert back == report
    assert isinstance(back.layers[0], GraphLayer) and isinstance(back.layers[1].bottom_edges[0], BlobSlot)
    assert back.layers[1].bottom_edges[0].shape == [100, 1, 8, 8]
    assert back.summary.params == report.summary.params and back.ok


def test_lints_read_back_as_lints_with_their_blob():
    report = graph_net(NETS / "test_only.prototxt", phase="train")
    back = from_data(GraphReport, json.loads(strict_json(report.to_dict())))
    assert back.lints == report.lints and all(isinstance(lint, Lint) for lint in back.lints)
    assert [lint.blob for lint in back.lints if lint.code == "undefined-bottom"] == ["data", "label", "label"]
    assert not back.ok


def graph_modules_imported_by(module: str) -> set[str]:
    """The inspector.graph modules `module` imports, directly or through other graph modules (any import,
    at the top or inside a function)."""
    seen, todo = set(), [module]
    while todo:
        name = todo.pop()
        tree = ast.parse((GRAPH_PACKAGE / f"{name}.py").read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                if node.level == 1 and node.module:
                    found = node.module.split(".")[0]
                elif node.level == 0 and (node.module or "").startswith("inspector.graph."):
                    found = (node.module or "").split(".")[2]
                else:
                    continue
                if found not in seen:
                    seen.add(found)
                    todo.append(found)
    return seen


def test_the_report_does_not_import_the_exporters():
    imported = graph_modules_imported_by("report")
    assert {"build", "records", "style"} <= imported  # the walk reads report.py's imports
    assert "export" not in imported


def test_the_exporters_take_their_colours_and_labels_from_the_style_module():
    assert "style" in graph_modules_imported_by("export")
    export_source = (GRAPH_PACKAGE / "export.py").read_text()
    assert "def layer_style" not in export_source and "COLOURS = " not in export_source


def test_graph_lints_and_trace_findings_go_by_different_names():
    from inspector.trace.report import Finding

    assert Lint.__name__ != Finding.__name__
    assert not hasattr(inspector.graph, "Finding")
