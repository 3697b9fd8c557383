"""inspector graph as a library: the graph, lints, shapes and every export format."""
from __future__ import annotations

import json
import os
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import networkx as nx
import pytest

from inspector.errors import InputError
from inspector.graph import build_graph, graph_net, run_lints, to_dot
from inspector.graph.report import make_report
from inspector.prototxt import parse_net, read_net

NETS = Path(__file__).parent / "nets_static"
TRIPLET = Path(__file__).parent.parent / "sample_nets" / "triplet" / "train.prototxt"


def lint_codes(report) -> dict[str, list[str]]:
    codes: dict[str, list[str]] = {}
    for lint in report.lints:
        codes.setdefault(lint.code, []).append(lint.layer)
    return codes


def test_in_place_layers_make_blob_versions_not_cycles():
    netgraph = build_graph(read_net(NETS / "v1_lenet.prototxt"), "TRAIN")
    graph = netgraph.graph
    assert nx.is_directed_acyclic_graph(graph)
    assert list(graph.predecessors("layer:relu1")) == ["blob:ip1"]
    assert list(graph.successors("layer:relu1")) == ["blob:ip1@1"]
    assert graph.has_edge("blob:ip1@1", "layer:prob")


def test_phase_all_shares_blobs_written_by_each_phases_data_layer(caffe_root):
    report = graph_net(caffe_root / "examples" / "mnist" / "lenet_train_test.prototxt", phase="all")
    graph = report.netgraph.graph
    assert set(graph.predecessors("blob:data")) == {"layer:mnist", "layer:mnist#2"}
    assert {layer.name: layer.phases for layer in report.layers}["accuracy"] == ["TEST"]
    assert report.summary.dropped == {"TRAIN": ["mnist", "accuracy"], "TEST": ["mnist"]}
    assert "duplicate-layer-name" not in lint_codes(report)


def test_phase_train_drops_test_only_layers(caffe_root):
    report = graph_net(caffe_root / "examples" / "mnist" / "lenet_train_test.prototxt", phase="train")
    assert "accuracy" not in [layer.name for layer in report.layers]
    assert report.summary.dropped == {"TRAIN": ["mnist", "accuracy"]}
    assert report.ok


def test_layers_are_listed_in_topological_order(caffe_root):
    report = graph_net(caffe_root / "models" / "bvlc_googlenet" / "deploy.prototxt")
    position = {layer.name: i for i, layer in enumerate(report.layers)}
    for layer in report.layers:
        for slot in layer.bottom_edges:
            producer = report.netgraph.graph.nodes[slot.node].get("producer")
            if producer:
                assert position[producer] < position[layer.name]


def test_undefined_bottom_is_an_error():
    report = graph_net(NETS / "lint_problems.prototxt")
    assert lint_codes(report)["undefined-bottom"] == ["uses_ghost"]
    assert report.netgraph.graph.nodes["blob:ghost"]["undefined"]
    assert not report.ok


def test_top_produced_twice_without_in_place_is_an_error():
    assert lint_codes(graph_net(NETS / "lint_problems.prototxt"))["top-produced-twice"] == ["again"]


def test_duplicate_layer_names_in_one_phase_are_a_warning():
    report = graph_net(NETS / "lint_problems.prototxt")
    assert lint_codes(report)["duplicate-layer-name"] == ["fc1"]
    assert "layer:fc1#2" in report.netgraph.graph


def test_cycle_is_reported_with_its_path():
    report = graph_net(NETS / "lint_problems.prototxt")
    cycles = [f for f in report.lints if f.code == "cycle"]
    assert [f.message for f in cycles] == ["cycle: ahead -> loop -> makes_later -> later -> ahead"]
    assert lint_codes(report)["bottom-produced-later"] == ["ahead"]


def test_python_module_not_on_path_is_a_warning():
    report = graph_net(NETS / "lint_problems.prototxt")
    missing = [f for f in report.lints if f.code == "python-module-not-found"]
    assert [(f.layer, f.severity) for f in missing] == [("missing_py", "warning")]


def test_python_module_next_to_the_prototxt_is_found():
    report = graph_net(NETS / "static_promise" / "net.prototxt")
    assert "python-module-not-found" not in lint_codes(report)


def test_unconsumed_tops_are_listed_as_net_outputs():
    report = graph_net(NETS / "lint_problems.prototxt")
    outputs = [f for f in report.lints if f.code == "net-output"]
    assert {f.severity for f in outputs} == {"info"}
    assert sorted(report.summary.outputs) == ["sum", "unused"]


def test_graphing_never_imports_the_python_module(tmp_path):
    folder = tmp_path / "net"
    shutil.copytree(NETS / "static_promise", folder)
    for fmt in ("svg", "dot", "json"):
        report = graph_net(folder / "net.prototxt", output=tmp_path / f"out.{fmt}")
        assert report.layers[1].python == "leaves_mark.MarkLayer"
    assert not (folder / "IMPORTED").exists()
    assert "leaves_mark" not in __import__("sys").modules


def test_fork_net_graphs_with_python_label_and_frozen_layer():
    report = graph_net(NETS / "fork_roi.prototxt")
    layers = {layer.name: layer for layer in report.layers}
    assert layers["rpn-data"].python == "rpn.proposal_layer.ProposalLayer"
    assert layers["rpn-data"].param_str == "'feat_stride': 16"
    assert layers["conv1"].frozen and layers["roi_pool5"].type == "ROIPooling"
    assert report.ok


def test_shared_params_are_grouped_in_a_dot_cluster():
    report = graph_net(NETS / "shared_and_frozen.prototxt")
    assert report.summary.shared_params == {"bias, w": ["fc_a", "fc_b"]}
    dot = to_dot(report.netgraph)
    cluster = dot.split("subgraph cluster_shared_0 {")[1].split("}")[0]
    assert '"layer:fc_a"' in cluster and '"layer:fc_b"' in cluster and "shared params: bias, w" in cluster


def test_dot_styles_python_loss_and_frozen_layers():
    dot = to_dot(graph_net(NETS / "shared_and_frozen.prototxt").netgraph, rankdir="TB")
    assert "rankdir=TB" in dot
    assert '"layer:frozen_fc" [shape=box, style="filled,dashed", fillcolor="#cfd8dc"' in dot
    assert 'loss_weight 0.5' in dot
    python_dot = to_dot(graph_net(NETS / "static_promise" / "net.prototxt").netgraph)
    assert 'fillcolor="#ffd54f", label="marker\\nleaves_mark.MarkLayer\\n{\'k\': 1}"' in python_dot


def test_triplet_sample_net_is_drawn_with_its_python_layers(tmp_path):
    report = graph_net(TRIPLET, output=tmp_path / "triplet.svg")
    layers = {layer.name: layer for layer in report.layers}
    assert layers["triplet_select"].python == "tripletselectlayer.TripletSelectLayer"
    assert layers["triplet_select"].tops == ["archor", "positive", "negative"]
    assert layers["tripletloss"].python == "tripletlosslayer.TripletLayer"
    assert layers["tripletloss"].param_str == "'margin': 0.2"
    svg_text = " ".join(t.text or "" for t in ET.parse(tmp_path / "triplet.svg").iter())
    assert "tripletlosslayer.TripletLayer" in svg_text and "tripletselectlayer.TripletSelectLayer" in svg_text
    assert not [f for f in report.lints if f.code.startswith("python-")]


def test_svg_export_is_xml_with_layer_names(caffe_root, tmp_path):
    graph_net(caffe_root / "examples" / "mnist" / "lenet_train_test.prototxt", output=tmp_path / "net.svg")
    root = ET.parse(tmp_path / "net.svg").getroot()
    assert root.tag.endswith("svg")
    assert "conv1" in {t.text for t in root.iter() if t.tag.endswith("text")}


def test_png_and_pdf_exports_have_their_magic(tmp_path):
    graph_net(NETS / "fork_roi.prototxt", output=tmp_path / "net.png")
    graph_net(NETS / "fork_roi.prototxt", output=tmp_path / "net.pdf")
    assert (tmp_path / "net.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "net.pdf").read_bytes()[:4] == b"%PDF"


def test_graphml_reads_back_with_the_same_nodes_and_edges(tmp_path):
    report = graph_net(NETS / "fork_roi.prototxt", output=tmp_path / "net.graphml")
    back = nx.read_graphml(tmp_path / "net.graphml")
    assert set(back.nodes) == set(report.netgraph.graph.nodes)
    assert set(back.edges) == set(report.netgraph.graph.edges)
    assert back.nodes["layer:rpn-data"]["python"] == "rpn.proposal_layer.ProposalLayer"


def test_node_link_json_export_rebuilds_the_graph(tmp_path):
    report = graph_net(NETS / "fork_roi.prototxt", output=tmp_path / "net.json")
    back = nx.node_link_graph(json.loads((tmp_path / "net.json").read_text()), edges="edges")
    assert set(back.edges) == set(report.netgraph.graph.edges)


def test_mermaid_export_has_nodes_edges_and_python_class(tmp_path):
    report = graph_net(NETS / "fork_roi.prototxt", output=tmp_path / "net.mmd")
    text = (tmp_path / "net.mmd").read_text()
    assert text.startswith("flowchart LR")
    assert text.count(" --> ") == report.netgraph.graph.number_of_edges()
    assert "rpn.proposal_layer.ProposalLayer" in text and "class " in text


def test_unknown_output_suffix_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="unknown output format '.xyz'") as info:
        graph_net(NETS / "fork_roi.prototxt", output=tmp_path / "net.xyz")
    assert ".svg" in info.value.remedy


def test_shapes_from_a_trace_label_edges_and_count_params(tmp_path):
    shapes = {"data": [1, 3, 224, 224], "im_info": [1, 3], "conv1": [1, 16, 224, 224], "rois": [5, 5],
              "pool5": [5, 16, 7, 7], "conv1_mbox_priorbox": [1, 2, 100]}
    trace = tmp_path / "trace.json"
    trace.write_text(json.dumps({"report": {"net": "x", "phase": "test", "blob_shapes": shapes}}))
    report = graph_net(NETS / "fork_roi.prototxt", shapes=trace)
    assert all(edge.shape == shapes[edge.blob] for edge in report.edges)
    assert report.summary.params == 16 * 3 * 3 * 3 + 16  # conv1; the rest learn nothing
    assert report.summary.params_uncounted == ["rpn-data"]


def test_graph_without_net_uses_the_last_trace(tmp_path):
    (tmp_path / ".inspector").mkdir()
    (tmp_path / ".inspector" / "last-trace.json").write_text(json.dumps(
        {"net": str(NETS / "v1_lenet.prototxt"), "phase": "test", "blob_shapes": {"data": [64, 1, 28, 28]}}))
    report = graph_net(cwd=tmp_path)
    assert report.phase == "TEST" and report.name == "LeNetV1"
    assert report.netgraph.graph.nodes["blob:data"]["shape"] == [64, 1, 28, 28]


def test_every_net_in_caffes_examples_and_models_graphs_without_errors(caffe_root):
    nets = [p for folder in ("examples", "models") for p in (caffe_root / folder).glob("**/*.prototxt")
            if "solver" not in p.name]
    for path in nets:
        for phase in ("train", "all"):
            report = graph_net(path, phase=phase)
            assert report.layers and not report.errors, (path, phase, report.errors)


def test_caffes_autoencoder_needs_a_stage_in_test(caffe_root):
    path = caffe_root / "examples" / "mnist" / "mnist_autoencoder.prototxt"
    without_stage = graph_net(path, phase="test")
    undefined = [f for f in without_stage.errors if f.code == "undefined-bottom"]
    assert undefined and all("bottom 'data'" in f.message for f in undefined)
    with_stage = graph_net(path, phase="test", stages=["test-on-test"])
    assert not [f for f in with_stage.errors if f.code == "undefined-bottom"]


def test_phase_all_draws_per_stage_data_layers_as_sources_of_one_blob(caffe_root):
    report = graph_net(caffe_root / "examples" / "mnist" / "mnist_autoencoder.prototxt", phase="all")
    assert set(report.netgraph.graph.predecessors("blob:data")) == {"layer:data", "layer:data#2", "layer:data#3"}
    assert "top-produced-twice" not in lint_codes(report)


def test_caffes_autoencoder_example_reuses_the_layer_name_loss(caffe_root):
    report = graph_net(caffe_root / "examples" / "mnist" / "mnist_autoencoder.prototxt", phase="train")
    assert report.errors == []
    assert [(f.code, f.severity, f.layer) for f in report.lints if f.code == "duplicate-layer-name"] == [
        ("duplicate-layer-name", "warning", "loss")]


# ---- phase-aware lints ----
def test_a_file_written_for_test_only_is_drawn_for_test_without_false_errors():
    report = graph_net(NETS / "test_only.prototxt")
    assert report.phase == "TEST" and report.errors == []
    assert report.phase_note.startswith("no --phase given: drawn for TEST, the phase this file is written for")
    assert report.to_dict()["phase_note"] == report.phase_note


def test_a_net_for_both_phases_is_still_drawn_for_train_without_a_note(caffe_root):
    report = graph_net(caffe_root / "examples" / "mnist" / "lenet_train_test.prototxt")
    assert report.phase == "TRAIN" and report.phase_note is None and report.errors == []


def test_an_undefined_bottom_another_phase_defines_says_under_which():
    report = graph_net(NETS / "test_only.prototxt", phase="train")
    messages = {(f.layer, f.blob): f.message for f in report.errors}
    assert set(messages) == {("conv1", "data"), ("accuracy", "label"), ("loss", "label")}
    assert all(m.endswith("(it exists under --phase test)") for m in messages.values())


def test_an_undefined_bottom_a_stage_defines_names_the_stage(caffe_root):
    report = graph_net(caffe_root / "examples" / "mnist" / "mnist_autoencoder.prototxt", phase="test")
    assert report.errors and all(f.message.endswith("(it exists under --stage test-on-train)") for f in report.errors)


def test_a_truly_undefined_bottom_gets_no_hint():
    report = graph_net(NETS / "lint_problems.prototxt", phase="train")
    assert [f for f in report.errors if f.code == "undefined-bottom" and "exists under" in f.message] == []


# ---- wiring as Caffe builds it ----
def test_an_in_place_layer_on_a_net_input_is_a_new_version_of_the_input():
    net = parse_net('input: "data"\ninput_shape { dim: 1 dim: 3 }\n'
                    'layer { name: "relu" type: "ReLU" bottom: "data" top: "data" }\n')
    netgraph = build_graph(net, "TRAIN")
    assert list(netgraph.graph.predecessors("layer:relu")) == ["blob:data"]
    assert list(netgraph.graph.successors("layer:relu")) == ["blob:data@1"]
    assert netgraph.lints == []


def test_a_layer_rewriting_a_net_input_not_in_place_is_produced_twice():
    net = parse_net('input: "data"\nlayer { name: "d" type: "DummyData" top: "data" }\n')
    lints = build_graph(net, "ALL").lints
    assert [(lint.code, lint.layer) for lint in lints] == [("top-produced-twice", "d")]
    assert "already produced by the net input" in lints[0].message


def test_a_misspelt_bottom_on_an_in_place_layer_is_an_unknown_bottom_not_a_cycle():
    net = parse_net('input: "data"\ninput_shape { dim: 1 dim: 3 }\n'
                    'layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" }\n'
                    'layer { name: "relu" type: "ReLU" bottom: "ipx" top: "ipx" }\n')
    netgraph = build_graph(net, "TRAIN")
    lints = run_lints(netgraph)
    assert [(f.code, f.layer, f.blob) for f in lints if f.severity == "error"] == [("undefined-bottom", "relu", "ipx")]
    assert "Unknown bottom blob" in lints[0].message
    assert nx.is_directed_acyclic_graph(netgraph.graph)


def test_graphml_stays_well_formed_with_control_characters_in_names(tmp_path):
    net = tmp_path / "ctl.prototxt"
    net.write_text('name: "n\\x01"\ninput: "da\\x1bta"\ninput_shape { dim: 1 }\n'
                   'layer { name: "r\\x00\\x0b" type: "ReLU" bottom: "da\\x1bta" top: "out\\x7f"\n'
                   '  python_param { param_str: "\\x02" } }\n')
    graph_net(net, output=tmp_path / "net.graphml")
    text = (tmp_path / "net.graphml").read_text()
    ET.fromstring(text)  # well-formed XML
    read_back = nx.read_graphml(tmp_path / "net.graphml")
    assert "layer:r\\x00\\x0b" in read_back.nodes and "blob:da\\x1bta" in read_back.nodes


def test_dot_and_svg_exports_write_control_characters_out_as_text(tmp_path):
    net = tmp_path / "ctl.prototxt"
    net.write_text('name: "n\\x00"\nlayer { name: "r\\x1b[2J" type: "ReLU" bottom: "a" top: "a" }\n')
    graph_net(net, output=tmp_path / "net.dot")
    dot_text = (tmp_path / "net.dot").read_text()
    assert "\x00" not in dot_text and "\x1b" not in dot_text and 'label="r\\\\x1b[2J' in dot_text
    if shutil.which("dot"):
        graph_net(net, output=tmp_path / "net.svg")
        svg = ET.fromstring((tmp_path / "net.svg").read_text())
        assert "r\\x1b[2J" in [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")]


def test_node_link_json_is_strict_json(tmp_path):
    net = tmp_path / "nan.prototxt"
    net.write_text('input: "d"\nlayer { name: "l" type: "EuclideanLoss" bottom: "d" bottom: "d" top: "l" '
                   'loss_weight: inf }\n')
    graph_net(net, output=tmp_path / "net.json")

    def refuse(constant):
        raise AssertionError(f"non-standard JSON constant {constant}")

    data = json.loads((tmp_path / "net.json").read_text(), parse_constant=refuse)
    assert "Infinity" in data["nonfinite"].values()


def test_param_count_of_a_shape_that_does_not_fit_the_layer_is_unknown_not_a_crash(tmp_path):
    net = parse_net('input: "data"\nlayer { name: "c" type: "Convolution" bottom: "data" top: "c" '
                    'convolution_param { num_output: 4 kernel_size: 3 group: 0 } }\n'
                    'layer { name: "b" type: "BatchNorm" bottom: "c" top: "b" }\n')
    netgraph = build_graph(net, "TRAIN", blob_shapes={"data": [1, 3, 8, 8], "c": [4]})
    report = make_report(netgraph, [])
    assert report.summary.params_uncounted == ["c", "b"]


def test_a_word_where_a_layer_param_needs_a_number_is_a_value_error_with_position(tmp_path):
    shapes = tmp_path / "shapes.json"
    shapes.write_text(json.dumps({"blob_shapes": {"data": [1, 3, 8, 8]}}))
    net = tmp_path / "net.prototxt"
    net.write_text('input: "data"\nlayer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip"\n'
                   '  inner_product_param { num_output: many } }\n')
    with pytest.raises(InputError, match=r"net.prototxt:3:25: field 'num_output' expects an integer, not many"):
        graph_net(net, shapes=shapes)


@pytest.mark.parametrize("content", ["fifo", "[" * 100_000, "{\"blob_shapes\": {\"data\": [1e400]}}"])
def test_a_shapes_file_that_is_a_fifo_too_deep_or_out_of_range_is_bad_input(tmp_path, content):
    shapes = tmp_path / "shapes.json"
    if content == "fifo":
        os.mkfifo(shapes)
    else:
        shapes.write_text(content)
    with pytest.raises(InputError):
        graph_net(NETS / "fork_roi.prototxt", shapes=shapes)
