"""Nets written for a Caffe fork: what the Caffe at hand lacks is bad input with advice, never a crash.

The nets in tests/nets_forks/ are valid for rbgirshick/caffe-fast-rcnn (py-faster-rcnn's Caffe) and not for
BVLC: one has its layer type ROIPooling, one its field DropoutParameter.scale_train. trace and gradcheck must
say what this Caffe lacks, which fork has it and how to point inspector at that fork (exit 2); graph stays
static and notes the type (info) when a pycaffe is importable.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, SAMPLE_NETS, run_cli
from inspector.forks import forks_with_field, forks_with_type, unknown_field

NETS = Path(__file__).resolve().parent / "nets_forks"


def test_the_table_knows_py_faster_rcnn_layers_and_fields():
    assert "rbgirshick/caffe-fast-rcnn" in forks_with_type("ROIPooling")[0]
    assert "rbgirshick/caffe-fast-rcnn" in forks_with_field("DropoutParameter", "scale_train")[0]
    assert forks_with_type("Convolution") == ()


def test_a_text_format_error_names_the_message_and_field():
    message = '35:3 : Message type "caffe.LayerParameter" has no field named "roi_pooling_param".'
    assert unknown_field(message) == ("LayerParameter", "roi_pooling_param")
    assert unknown_field("3:1 : Expected identifier, got: }") is None


@pytest.mark.caffe
def test_trace_of_a_fork_layer_type_is_bad_input_naming_the_layer_and_the_fork(caffe):
    result = run_cli("trace", NETS / "fork_layer_type.prototxt")
    assert result.returncode == 2
    assert "fork_layer_type.prototxt:13: layer 'roi_pool5' has type 'ROIPooling'" in result.stderr
    assert "does not register" in result.stderr and "rbgirshick/caffe-fast-rcnn" in result.stderr
    assert "PYTHONPATH" in result.stderr
    assert "CRASH" not in result.stdout + result.stderr and "Traceback" not in result.stderr


@pytest.mark.caffe
def test_trace_of_a_fork_field_is_bad_input_with_line_and_column(caffe):
    result = run_cli("trace", NETS / "fork_field.prototxt")
    assert result.returncode == 2
    assert "fork_field.prototxt:13:5: the Caffe at" in result.stderr
    assert "no field 'scale_train' in DropoutParameter" in result.stderr
    assert "rbgirshick/caffe-fast-rcnn" in result.stderr


@pytest.mark.caffe
def test_gradcheck_of_a_fork_net_is_bad_input_too(caffe):
    result = run_cli("gradcheck", NETS / "fork_layer_type.prototxt", "--layer", "fc6")
    assert result.returncode == 2
    assert "layer 'roi_pool5' has type 'ROIPooling'" in result.stderr
    assert "CRASH" not in result.stdout + result.stderr


@pytest.mark.caffe
def test_graph_notes_a_type_the_importable_caffe_lacks_as_info(caffe):
    result = run_cli("graph", NETS / "fork_layer_type.prototxt", "--format", "json")
    assert result.returncode == 0
    findings = [f for f in json.loads(result.stdout)["lints"] if f["code"] == "layer-type-not-in-caffe"]
    assert [(f["severity"], f["layer"]) for f in findings] == [("info", "roi_pool5")]
    assert "'ROIPooling'" in findings[0]["message"] and "caffe-fast-rcnn" in findings[0]["message"]


@pytest.mark.caffe
def test_graph_notes_no_type_on_a_net_this_caffe_builds(caffe):
    result = run_cli("graph", SAMPLE_NETS / "triplet" / "train.prototxt", "--format", "json")
    assert result.returncode == 0
    assert not [f for f in json.loads(result.stdout)["lints"] if f["code"] == "layer-type-not-in-caffe"]


def test_graph_never_loads_caffe_into_its_own_process():
    script = ("import sys; from inspector.graph import graph_net; "
              f"graph_net({str(NETS / 'fork_layer_type.prototxt')!r}); print('caffe' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


def test_graph_without_a_caffe_registry_has_no_type_notes():
    from inspector.graph import build_graph
    from inspector.graph.lint import lint_layer_types
    from inspector.prototxt import read_net

    netgraph = build_graph(read_net(NETS / "fork_layer_type.prototxt"), "TRAIN")
    assert lint_layer_types(netgraph, None) == []
