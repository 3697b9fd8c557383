"""`inspector graph` on the command line: exit codes, messages, JSON view, export by suffix."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli

NETS = Path(__file__).parent / "nets_static"


def test_graph_prints_layers_and_summary_and_exits_0():
    result = run_cli("graph", NETS / "fork_roi.prototxt")
    assert result.returncode == 0, result.stderr
    assert "rpn.proposal_layer.ProposalLayer" in result.stdout
    assert "5 layers (1 Convolution, 1 PriorBox, 1 Python, 1 ROIPooling, 1 ReLU)" in result.stdout


def test_lint_errors_exit_1_after_the_report():
    result = run_cli("graph", NETS / "lint_problems.prototxt")
    assert result.returncode == 1
    assert "[undefined-bottom] uses_ghost" in result.stdout and "[cycle] ahead" in result.stdout


def test_syntax_error_exits_2_with_position():
    result = run_cli("graph", NETS / "syntax_error.prototxt")
    assert result.returncode == 2
    assert "syntax_error.prototxt:6:7: expected ':' or '{' after field 'top'" in result.stderr
    assert "Traceback" not in result.stderr


def test_json_format_prints_the_report(tmp_path):
    result = run_cli("graph", NETS / "shared_and_frozen.prototxt", "--format", "json", "--phase", "all")
    data = json.loads(result.stdout)
    assert set(data) >= {"layers", "blobs", "edges", "lints", "summary"}
    assert data["phase"] == "ALL"
    assert data["summary"]["frozen_layers"] == ["frozen_fc"]
    assert data["summary"]["dropped"]["TRAIN"] == ["debug_only"]


def test_stage_option_keeps_stage_layers():
    result = run_cli("graph", NETS / "shared_and_frozen.prototxt", "--stage", "debug", "--format", "json")
    assert "debug_only" in [l["name"] for l in json.loads(result.stdout)["layers"]]


def test_output_suffix_chooses_format(tmp_path):
    result = run_cli("graph", NETS / "v1_lenet.prototxt", "--phase", "test", "-o", tmp_path / "net.dot", "--rankdir", "TB")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "net.dot").read_text().startswith('digraph "LeNetV1"')


def test_unknown_output_suffix_exits_2_with_the_list(tmp_path):
    result = run_cli("graph", NETS / "v1_lenet.prototxt", "-o", tmp_path / "net.bmp")
    assert result.returncode == 2
    assert "unknown output format '.bmp'" in result.stderr and ".graphml" in result.stderr


def test_no_net_and_no_trace_exits_2_saying_how_to_give_one(tmp_path):
    result = run_cli("graph", cwd=tmp_path)
    assert result.returncode == 2
    assert "no trace recorded here" in result.stderr and "inspector graph NET.prototxt" in result.stderr


def test_no_net_uses_last_trace_with_its_shapes(tmp_path):
    (tmp_path / ".inspector").mkdir()
    (tmp_path / ".inspector" / "last-trace.json").write_text(json.dumps(
        {"net": str(NETS / "v1_lenet.prototxt"), "phase": "train",
         "blob_shapes": {"data": [64, 1, 28, 28], "conv1": [64, 20, 24, 24]}}))
    result = run_cli("graph", "--format", "json", cwd=tmp_path)
    data = json.loads(result.stdout)
    assert data["name"] == "LeNetV1"
    assert {e["blob"]: e["shape"] for e in data["edges"]}["conv1"] == [64, 20, 24, 24]


def test_solver_prototxt_is_refused_naming_its_net(caffe_root):
    result = run_cli("graph", caffe_root / "examples" / "mnist" / "lenet_solver.prototxt")
    assert result.returncode == 2
    assert "is a solver, not a net (its net is examples/mnist/lenet_train_test.prototxt)" in result.stderr


def test_static_promise_holds_on_the_command_line(tmp_path):
    import shutil

    shutil.copytree(NETS / "static_promise", tmp_path / "net")
    result = run_cli("graph", tmp_path / "net" / "net.prototxt", "-o", tmp_path / "out.svg", cwd=tmp_path / "net")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out.svg").is_file() and not (tmp_path / "net" / "IMPORTED").exists()


@pytest.mark.caffe
def test_graph_after_a_real_trace_shows_its_shapes(tmp_path, caffe):
    net = Path(__file__).parent.parent / "sample_nets" / "triplet" / "train.prototxt"
    run_cli("trace", net, "--iterations", "1", cwd=tmp_path)
    last = json.loads((tmp_path / ".inspector" / "last-trace.json").read_text())
    if not last["blob_shapes"]:
        pytest.skip(f"inspector trace recorded no blob shapes for the triplet net: {(last['report'].get('crash') or {}).get('check_failed')}")
    result = run_cli("graph", "--format", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["net"] == str(net.resolve()) and data["shapes_from"].endswith("last-trace.json")
    assert all(edge["shape"] for edge in data["edges"])
    assert data["summary"]["params"] > 0
