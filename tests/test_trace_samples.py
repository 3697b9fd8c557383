"""inspector trace on the sample nets (correct layers: no findings) and with --weights (the fine-tuning view)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import SAMPLE_NETS, run_cli
from inspector.trace.runner import TraceOptions, run_trace

pytestmark = pytest.mark.caffe  # every test here runs a net in pycaffe

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
    forward = [c for c in select.calls if c.method == "forward" and not c.probe]
    assert [c.iteration for c in forward] == [1, 2]
    assert len(forward[0].tops) == 3 and forward[0].tops[0].shape == forward[0].bottoms[0].shape
    assert triplet_report.python_layer("tripletloss").param_str == "'margin': 0.2"


def test_triplet_sample_loss_is_recorded_per_iteration(triplet_report):
    assert len(triplet_report.losses) == 2 and all(0 <= loss < 1 for loss in triplet_report.losses)


@pytest.mark.parametrize("columns", ["120", "80"])
def test_text_view_logs_each_call_of_the_sample_on_one_line(caffe, tmp_path, columns):
    result = run_cli("trace", SAMPLE_NETS / "triplet" / "train.prototxt", "--iterations", "3", cwd=tmp_path,
                     env={"COLUMNS": columns})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("tripletloss  tripletlosslayer.TripletLayer"))
    header = next(i for i in range(start, len(lines)) if lines[i].split()[:2] == ["iter", "method"])
    end = next(i for i in range(header, len(lines)) if not lines[i].strip() or lines[i].startswith("  *"))
    log = lines[header + 1:end]
    assert all(len(line) <= int(columns) for line in lines)
    calls = [line.split() for line in log]
    assert all(call[1] in ("setup", "reshape", "forward", "backward") for call in calls)  # no continuation lines
    assert [call[:2] for call in calls[:2]] == [["0", "setup"], ["0", "reshape"]]
    assert [call[:2] for call in calls if call[0] in "123"] == [
        [str(i), method] for i in (1, 2, 3) for method in ("reshape", "forward", "backward")]
    forward = next(call for call in calls if call[:2] == ["1", "forward"])
    assert forward[3:6] == ["3x", "100x32", "->"] and forward[6] == "1"


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
