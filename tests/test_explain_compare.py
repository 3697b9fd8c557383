"""explain --compare: two Caffe trees (or a tree and a header) side by side, differences first,
with the porting notes a layer's author needs (fork excerpts in tests/explain_golden/)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_cli
from inspector.explain import explain
from inspector.explain.compare import compare

GOLDEN = Path(__file__).parent / "explain_golden"


@pytest.fixture(scope="module")
def bvlc_vs_fast_rcnn():
    return compare(explain("python_layer", str(GOLDEN / "bvlc-master"), use_cache=False),
                   explain("python_layer", str(GOLDEN / "fast-rcnn"), use_cache=False))


def row(comparison, topic: str, item: str):
    return next(r for r in comparison.rows if (r.topic, r.item) == (topic, item))


def test_porting_notes_name_param_str_underscore_and_missing_phase(bvlc_vs_fast_rcnn):
    assert bvlc_vs_fast_rcnn.notes[:2] == [
        "bvlc-master sets self.param_str, fast-rcnn sets self.param_str_: a layer that reads self.param_str_ fails "
        "under bvlc-master (AttributeError), and one that reads self.param_str fails under fast-rcnn",
        "bvlc-master sets self.phase; fast-rcnn does not"]


def test_attributes_phase_and_per_pass_reshape_differ(bvlc_vs_fast_rcnn):
    assert row(bvlc_vs_fast_rcnn, "attribute set", "phase kind").b == "absent (self.phase does not exist)"
    assert row(bvlc_vs_fast_rcnn, "attribute set", "self.param_str_").a == "-"
    reshape = row(bvlc_vs_fast_rcnn, "lifecycle", "reshape (every forward pass)")
    assert (reshape.a, reshape.b.split(" ->")[0]) == ("Layer::Forward -> Reshape", "Net::ForwardFromTo")
    assert row(bvlc_vs_fast_rcnn, "try/catch", "Forward_cpu").a == "-"


def test_same_calls_are_rows_that_match(bvlc_vs_fast_rcnn):
    backward = row(bvlc_vs_fast_rcnn, "python call", "Backward_cpu")
    assert backward.same and backward.a == "backward(top, propagate_down, bottom)"


def test_differences_come_first(bvlc_vs_fast_rcnn):
    ordered = [r.same for r in bvlc_vs_fast_rcnn.ordered_rows()]
    assert ordered == sorted(ordered) and not ordered[0] and ordered[-1]


def test_a_tree_against_itself_has_no_differences():
    report = explain("python_layer", str(GOLDEN / "ssd"), use_cache=False)
    comparison = compare(report, report)
    assert comparison.differences == [] and comparison.notes == []


def test_guard_with_another_message_is_one_row():
    comparison = compare(explain("python_layer", str(GOLDEN / "bvlc-master"), use_cache=False),
                         explain("python_layer", str(GOLDEN / "ssd"), use_cache=False))
    guard = row(comparison, "guard", "LayerSetUp: LOG(FATAL)")
    assert guard.a.endswith(": PythonLayer does not support CLI Multi-GPU, use train.py")
    assert guard.b.endswith("!ShareInParallel(): PythonLayer is not implemented in Multi-GPU training")


def test_cli_compare_json_and_markdown(tmp_path):
    env = {"INSPECTOR_CACHE": str(tmp_path / "cache")}
    args = ("explain", "python_layer", "--caffe-root", GOLDEN / "nvidia-0.17", "--compare", GOLDEN / "nvidia-0.11")
    res = run_cli(*args, "--format", "json", env=env)
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["same"] is False and data["rows"][0]["same"] is False
    assert {"topic": "class", "item": "template parameters", "a": "Ftype, Btype", "b": "Dtype", "same": False} in data["rows"]
    md = run_cli(*args, "--format", "markdown", env=env)
    assert md.stdout.startswith("# explain: nvidia-0.17 vs nvidia-0.11")
    assert "| ≠ | class | template parameters | Ftype, Btype | Dtype |" in md.stdout
    text = run_cli(*args, env={**env, "COLUMNS": "200"})
    assert text.returncode == 0 and "nvidia-0.17 sets self.param_str; nvidia-0.11 does not" in text.stdout


def test_cli_compare_with_a_header(tmp_path):
    res = run_cli("explain", "python_layer", "--caffe-root", GOLDEN / "bvlc-master", "--compare",
                  Path(__file__).parent / "explain_variants" / "dtype_mitype_motype.hpp", "--format", "json",
                  env={"INSPECTOR_CACHE": str(tmp_path / "cache")})
    assert res.returncode == 0, res.stderr
    rows = {(r["topic"], r["item"]): r for r in json.loads(res.stdout)["rows"]}
    assert rows[("class", "template parameters")]["b"] == "Dtype, MItype, MOtype"
    assert rows[("attribute set", "phase kind")]["b"] == "string"


def test_cli_compare_missing_other_is_exit_2(tmp_path):
    res = run_cli("explain", "python_layer", "--caffe-root", GOLDEN / "bvlc-master", "--compare", tmp_path / "nope")
    assert res.returncode == 2 and "does not exist" in res.stderr
