"""inspector graph at the size of real nets: the one-screen summary, --all, blocks, --fold, downscaled rasters."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import run_cli

from inspector.graph import build_graph, fold_in_place, graph_net, to_dot
from inspector.graph.textview import SUMMARY_OVER
from inspector.prototxt import parse_net

TRIPLET = Path(__file__).parent.parent / "sample_nets" / "triplet" / "train.prototxt"

# conv -> in-place BatchNorm, Scale, ReLU, as ResNets write them; `shortcut` reads conv2's first version
BN_BLOCK = """
name: "bn_block"
input: "data" input_shape { dim: 1 dim: 3 dim: 8 dim: 8 }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1" convolution_param { num_output: 4 kernel_size: 1 } }
layer { name: "bn1" type: "BatchNorm" bottom: "conv1" top: "conv1" }
layer { name: "scale1" type: "Scale" bottom: "conv1" top: "conv1" scale_param { bias_term: true } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "conv2" type: "Convolution" bottom: "conv1" top: "conv2" convolution_param { num_output: 4 kernel_size: 1 } }
layer { name: "shortcut" type: "Power" bottom: "conv2" top: "short" }
layer { name: "relu2" type: "ReLU" bottom: "conv2" top: "conv2" }
layer { name: "mine" type: "Python" bottom: "conv2" top: "conv2" python_param { module: "m" layer: "L" } }
layer { name: "sum" type: "Eltwise" bottom: "conv2" bottom: "short" top: "sum" }
"""


@pytest.fixture(scope="module")
def googlenet_train(caffe_root) -> Path:
    return caffe_root / "models" / "bvlc_googlenet" / "train_val.prototxt"


def test_a_big_net_prints_one_screen_of_blocks_not_a_row_per_layer(googlenet_train):
    result = run_cli("graph", googlenet_train)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) < 45  # 159 layers
    assert "159 layers in 24 blocks" in result.stdout and "--all lists every layer" in result.stdout
    runs = {line.split("  ")[1].strip(): line for line in lines if line.startswith("  inception")}
    assert "5 x 14" not in result.stdout  # the aux classifiers split inception 4a .. 4e
    assert runs["inception_4b/output .. inception_4d/output"].split()[3:6] == ["3", "x", "14"]
    assert "loss layers (3): loss1/loss, loss2/loss, loss3/loss3" in result.stdout
    assert "inception_4c/5x5_reduce" not in result.stdout  # no per-layer rows
    assert lines[-1].startswith("159 layers (61 ReLU, 59 Convolution")  # the summary line stays last


def test_all_prints_every_layer_of_a_big_net(googlenet_train):
    result = run_cli("graph", googlenet_train, "--all")
    assert result.returncode == 0, result.stderr
    assert "inception_4c/5x5_reduce" in result.stdout
    rows = [line for line in result.stdout.splitlines() if line[:4].strip().isdigit() and " layers " not in line]
    assert [int(row.split()[0]) for row in rows] == list(range(1, 160))
    assert "blocks" not in result.stdout.splitlines()[1]


def test_a_small_net_prints_its_table_as_before():
    result = run_cli("graph", TRIPLET)
    assert result.stdout.splitlines()[1].split() == ["#", "layer", "type", "bottoms", "->", "tops", "notes"]
    assert "triplet_select" in result.stdout and "blocks" not in result.stdout
    assert len(graph_net(TRIPLET).layers) <= SUMMARY_OVER


def test_blocks_of_a_train_net_split_where_one_blob_is_in_flight(googlenet_train):
    summary = graph_net(googlenet_train).summary
    assert summary.narrowest == 1  # the label rides along to three losses, and is not counted
    names = [(run.first, run.last, run.blocks, run.layers_each) for run in summary.blocks]
    assert ("inception_3a/output", "inception_3b/output", 2, 14) in names
    assert ("loss1/loss1", "loss1/loss1", 1, 8) in names
    assert sum(run.blocks * run.layers_each for run in summary.blocks) == 159


def chain_prototxt(path: Path, pairs: int) -> Path:
    """InnerProduct, then ReLU in place, `pairs` times."""
    path.write_text("\n".join(['input: "x0" input_shape { dim: 1 dim: 4 }']
                              + [f'layer {{ name: "ip{i}" type: "InnerProduct" bottom: "x{i}" top: "x{i + 1}" '
                                 'inner_product_param { num_output: 4 } }\n'
                                 f'layer {{ name: "relu{i}" type: "ReLU" bottom: "x{i + 1}" top: "x{i + 1}" }}'
                                 for i in range(pairs)]))
    return path


def test_a_net_of_alike_blocks_reads_as_one_run(tmp_path):
    net = chain_prototxt(tmp_path / "chain.prototxt", 100)
    assert [(r.first, r.last, r.blocks, r.types) for r in graph_net(net).summary.blocks] == [
        ("x1", "x100", 100, {"InnerProduct": 1, "ReLU": 1})]
    result = run_cli("graph", net)
    assert "  x1 .. x100  100 x 2  InnerProduct, ReLU" in result.stdout


def test_json_has_every_layer_and_the_blocks(googlenet_train):
    data = json.loads(run_cli("graph", googlenet_train, "--format", "json").stdout)
    assert len(data["layers"]) == 159
    assert data["summary"]["narrowest"] == 1
    assert {"first", "last", "blocks", "layers_each", "types", "params"} <= set(data["summary"]["blocks"][0])


def test_fold_draws_batchnorm_scale_relu_inside_the_conv_node():
    netgraph = build_graph(parse_net(BN_BLOCK), "TRAIN")
    dot = to_dot(fold_in_place(netgraph))
    assert '"layer:conv1" [shape=box' in dot and "conv1\\nConvolution\\n+ BatchNorm + Scale + ReLU" in dot
    assert '"layer:bn1"' not in dot and '"layer:relu1"' not in dot and '"blob:conv1@1"' not in dot
    assert '"layer:conv1" -> "blob:conv1@3"' in dot and '"blob:conv1@3" [shape=ellipse, color="#616161", label="conv1"]' in dot


def test_fold_keeps_python_layers_and_blob_versions_read_twice_in_sight():
    netgraph = build_graph(parse_net(BN_BLOCK), "TRAIN")
    folded = fold_in_place(netgraph)
    assert "layer:relu2" in folded.digraph  # conv2's first version is read by shortcut too
    assert "layer:mine" in folded.digraph  # a Python layer is never hidden
    assert len(netgraph.layer_nodes) == 9 and len(folded.layer_nodes) == 6
    assert "layer:bn1" in netgraph.digraph  # the report's graph is not folded


def test_fold_option_writes_the_folded_drawing(tmp_path):
    net = tmp_path / "bn.prototxt"
    net.write_text(BN_BLOCK)
    result = run_cli("graph", net, "--fold", "-o", tmp_path / "bn.dot")
    assert result.returncode == 0, result.stderr
    assert "+ BatchNorm + Scale + ReLU" in (tmp_path / "bn.dot").read_text()
    assert "bn1" in result.stdout  # the table lists every layer still


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot")
def test_a_raster_graphviz_scales_down_is_a_warning_suggesting_svg(tmp_path):
    # 400 layers drawn left to right: wider than cairo's 32767-pixel bitmap limit
    result = run_cli("graph", chain_prototxt(tmp_path / "chain.prototxt", 200), "-o", tmp_path / "g.png")
    assert result.returncode == 0, result.stderr
    assert "warning [drawing-downscaled] Graphviz scaled g.png down to" in result.stdout
    assert "write .svg or .pdf" in result.stdout


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot")
def test_an_svg_or_a_raster_that_fits_gets_no_downscale_warning(tmp_path, caffe_root):
    deploy = caffe_root / "models" / "bvlc_googlenet" / "deploy.prototxt"
    assert "drawing-downscaled" not in run_cli("graph", deploy, "-o", tmp_path / "g.svg").stdout
    assert "drawing-downscaled" not in run_cli("graph", TRIPLET, "-o", tmp_path / "t.png").stdout


def test_control_characters_in_names_are_printed_as_escapes(tmp_path):
    net = tmp_path / "esc.prototxt"
    net.write_text('input: "x" layer { name: "evil\\033[2J" type: "ReLU" bottom: "x" top: "y" }')
    result = run_cli("graph", net)
    assert "\x1b" not in result.stdout
    assert "evil\\x1b[2J" in result.stdout


def test_a_module_many_layers_use_is_looked_up_once_and_each_layer_keeps_its_lint(tmp_path):
    (tmp_path / "mylayers.py").write_text("class Good:\n    pass\n")
    layers = [("good", "mylayers", "Good"), ("typo", "mylayers", "Goood"), ("gone", "nomodule", "X"),
              ("gone2", "nomodule", "X"), ("good2", "mylayers", "Good"), ("typo2", "mylayers", "Goood")]
    net = tmp_path / "py.prototxt"
    net.write_text('input: "x0"\n' + "\n".join(
        f'layer {{ name: "{name}" type: "Python" bottom: "x{i}" top: "x{i + 1}" '
        f'python_param {{ module: "{module}" layer: "{cls}" }} }}' for i, (name, module, cls) in enumerate(layers)))
    codes = [(f.code, f.layer) for f in graph_net(net).lints if f.code.startswith("python-")]
    assert sorted(codes) == [("python-class-not-found", "typo"), ("python-class-not-found", "typo2"),
                             ("python-module-not-found", "gone"), ("python-module-not-found", "gone2")]


def test_with_shapes_the_summary_counts_parameters_a_run_of_blocks(tmp_path):
    net = chain_prototxt(tmp_path / "chain.prototxt", 100)
    shapes = tmp_path / "shapes.json"
    shapes.write_text(json.dumps({"blob_shapes": {f"x{i}": [1, 4] for i in range(101)}}))
    report = graph_net(net, shapes=shapes)
    assert report.summary.blocks[0].params == 100 * (4 * 4 + 4)  # weights and bias of each InnerProduct
    result = run_cli("graph", net, "--shapes", shapes)
    assert "  x1 .. x100  100 x 2  InnerProduct, ReLU      2,000" in result.stdout.splitlines()
    assert result.stdout.splitlines()[-1].endswith("; 2,000 params")
