"""inspector trace on the sample nets (correct layers: no findings) and with --weights (the fine-tuning view)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import SAMPLE_NETS, run_cli
from inspector.trace.runner import TraceOptions, run_trace

GRADCHECK_NETS = Path(__file__).resolve().parent / "nets_gradcheck"


@pytest.fixture(scope="module")
def triplet_report(caffe):
    return run_trace(TraceOptions(SAMPLE_NETS / "triplet" / "train.prototxt", iterations=2))


def test_triplet_sample_runs_with_no_findings(triplet_report):
    assert triplet_report.crash is None and triplet_report.completed
    assert triplet_report.findings == []


def test_triplet_sample_records_its_three_python_layers(triplet_report):
    assert [p.name for p in triplet_report.python_layers] == ["data", "triplet_select", "tripletloss"]
    select = triplet_report.python_layer("triplet_select")
    assert select.class_name == "TripletSelectLayer" and select.source_file.endswith("tripletselectlayer.py")
    forward = [c for c in select.calls if c["method"] == "forward" and not c["probe"]]
    assert [c["iteration"] for c in forward] == [1, 2]
    assert len(forward[0]["tops"]) == 3 and forward[0]["tops"][0]["shape"] == forward[0]["bottoms"][0]["shape"]
    assert triplet_report.python_layer("tripletloss").param_str == "'margin': 0.2"


def test_triplet_sample_loss_is_recorded_per_iteration(triplet_report):
    assert len(triplet_report.losses) == 2 and all(0 <= loss < 1 for loss in triplet_report.losses)


def test_finetune_sample_runs_with_no_findings(caffe):
    report = run_trace(TraceOptions(SAMPLE_NETS / "finetune" / "finetune_train.prototxt", iterations=1))
    assert report.crash is None and report.findings == []


@pytest.fixture(scope="module")
def base_weights(caffe, tmp_path_factory) -> Path:
    from inspector.trace.netload import build_net

    path = tmp_path_factory.mktemp("weights") / "base.caffemodel"
    build_net(GRADCHECK_NETS / "finetune_base.prototxt").save(str(path))
    return path


def test_weights_with_shape_mismatches_are_reported_not_loaded(base_weights, tmp_path):
    result = run_cli("trace", GRADCHECK_NETS / "finetune_new.prototxt", "--weights", base_weights,
                     "--format", "json", cwd=tmp_path)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["crash"] is None  # Caffe never got to abort
    assert report["finetune"]["mismatched"] == ["ip2", "ip3"] and report["finetune"]["abort_at"] == "ip2"
    assert report["layers"] == []  # the net was not built with those weights


def test_compatible_weights_load_and_the_view_is_in_the_report(base_weights):
    report = run_trace(TraceOptions(GRADCHECK_NETS / "finetune_compatible.prototxt", iterations=1,
                                    weights=base_weights))
    assert report.crash is None and report.finetune.weights_loadable
    assert report.finetune.copied == ["ip1", "scale", "ip2", "ip3"]
    assert report.layers and report.completed
