"""The fine-tuning view: which layers a .caffemodel fills, which start fresh, are frozen or mismatch."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from conftest import SAMPLE_NETS, run_cli
from inspector.render import to_json

pytestmark = pytest.mark.caffe  # every test here runs a net in pycaffe

NETS = Path(__file__).resolve().parent / "nets_gradcheck"
BASE = NETS / "finetune_base.prototxt"
NEW = NETS / "finetune_new.prototxt"
COMPATIBLE = NETS / "finetune_compatible.prototxt"


@pytest.fixture(scope="module")
def base_weights(caffe, tmp_path_factory) -> Path:
    """The base net's weights, saved untrained (a training run of 0 iterations)."""
    from inspector.trace.netload import build_net

    path = tmp_path_factory.mktemp("weights") / "base.caffemodel"
    build_net(BASE).save(str(path))
    return path


@pytest.fixture(scope="module")
def report(base_weights):
    from inspector.trace.finetune import finetune_view

    return finetune_view(NEW, base_weights)


def test_layers_with_matching_shapes_are_copied(report):
    assert report.copied == ["ip1", "scale"]


def test_python_layer_blobs_are_matched_like_any_layer(report):
    assert report.layer("scale").type == "Python"
    assert report.layer("scale").net_shapes == report.layer("scale").model_shapes == [[3]]


def test_renamed_and_new_layers_start_fresh(report):
    assert report.fresh == ["classifier_new", "frozen_head"]


def test_lr_mult_zero_layers_are_frozen(report):
    assert report.frozen == ["ip1", "frozen_head"]
    assert report.layer("ip1").lr_mults == [0.0, 0.0]
    assert report.layer("ip2").lr_mults == [1.0, 1.0]


def test_frozen_layer_without_weights_is_warned_about(report):
    assert len(report.warnings) == 1 and report.warnings[0].startswith("frozen_head is frozen")


def test_shape_mismatch_is_reported_per_param(report):
    ip2 = report.layer("ip2")
    assert ip2.status == "mismatched"
    assert ip2.problem == "param 0: caffemodel 6x3, net 7x3; param 1: caffemodel 6, net 7"


def test_blob_count_mismatch_is_reported(report):
    ip3 = report.layer("ip3")
    assert ip3.status == "mismatched"
    assert ip3.problem == "Incompatible number of blobs: the caffemodel has 2, the net 1"


def test_caffemodel_layers_missing_from_the_net_are_ignored(report):
    assert report.ignored == ["classifier", "aux"]


def test_mismatch_makes_weights_unloadable_at_caffes_first_abort(report):
    assert not report.weights_loadable
    assert report.mismatched == ["ip2", "ip3"]
    assert report.abort_at == "ip2"


def test_caffe_itself_aborts_where_the_view_says(report, base_weights):
    script = (f"import caffe; caffe.set_mode_cpu(); import sys; sys.path.insert(0, {str(NETS)!r}); "
              f"caffe.Net({str(NEW)!r}, caffe.TRAIN, weights={str(base_weights)!r})")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert f"Cannot copy param 0 weights from layer '{report.abort_at}'; shape mismatch" in proc.stderr


def test_compatible_net_loads_and_caffe_agrees(caffe, base_weights):
    from inspector.trace.finetune import finetune_view
    from inspector.trace.netload import build_net

    view = finetune_view(COMPATIBLE, base_weights)
    assert view.weights_loadable and view.abort_at is None
    assert view.copied == ["ip1", "scale", "ip2", "ip3"]
    assert view.fresh == ["classifier_digits"]
    build_net(COMPATIBLE, weights=base_weights)  # Caffe loads them without aborting


def test_v1_caffemodel_with_legacy_blob_shapes_is_read(caffe, base_weights, tmp_path):
    from caffe.proto import caffe_pb2

    from inspector.trace.finetune import finetune_view

    model = caffe_pb2.NetParameter()
    model.ParseFromString(base_weights.read_bytes())
    v1 = caffe_pb2.NetParameter(name="v1")
    for layer in model.layer:
        if not layer.blobs:
            continue
        old = v1.layers.add(name=layer.name, type=caffe_pb2.V1LayerParameter.INNER_PRODUCT)
        for blob in layer.blobs:
            dims = [1] * (4 - len(blob.shape.dim)) + list(blob.shape.dim)
            old.blobs.add(num=dims[0], channels=dims[1], height=dims[2], width=dims[3], data=blob.data)
    path = tmp_path / "v1.caffemodel"
    path.write_bytes(v1.SerializeToString())
    view = finetune_view(NEW, path)
    assert (view.copied, view.mismatched, view.ignored) == (["ip1", "scale"], ["ip2", "ip3"], ["classifier", "aux"])
    assert view.layer("ip1").model_shapes == [[1, 1, 3, 4], [1, 1, 1, 3]]


def test_not_a_caffemodel_is_an_input_error(caffe, tmp_path):
    from inspector.errors import InputError
    from inspector.trace.finetune import finetune_view

    junk = tmp_path / "junk.caffemodel"
    junk.write_bytes(b"\xff\xfe not protobuf \x00\x01")
    with pytest.raises(InputError, match="not a binary caffemodel"):
        finetune_view(NEW, junk)


def test_text_and_json_views_agree(report):
    console = Console(width=200, record=True, color_system=None)
    console.print(report)
    text = console.export_text()
    for name in report.copied + report.fresh + report.mismatched + report.ignored:
        assert name in text
    assert "Caffe would abort loading these weights at layer 'ip2'" in text
    data = json.loads(to_json(report))
    assert data["weights_loadable"] is False
    assert {layer["name"]: layer["status"] for layer in data["layers"]} == {
        "ip1": "copied", "scale": "copied", "ip2": "mismatched", "ip3": "mismatched",
        "classifier_new": "fresh", "frozen_head": "fresh", "classifier": "ignored", "aux": "ignored"}


SAMPLE = SAMPLE_NETS / "finetune"


@pytest.fixture(scope="module")
def sample_base_weights(caffe, tmp_path_factory) -> Path:
    """The sample's base net, trained briefly by its own script into a temp folder."""
    out = tmp_path_factory.mktemp("sample_finetune")
    proc = subprocess.run([sys.executable, str(SAMPLE / "train.py"), "--base-iterations", "20", "--iterations", "1",
                           "--out-dir", str(out)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "GLOG_minloglevel": "2"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out / "base.caffemodel"


def test_sample_finetune_net_copies_frozen_body_and_starts_renamed_head_fresh(sample_base_weights):
    from inspector.trace.finetune import finetune_view

    view = finetune_view(SAMPLE / "finetune_train.prototxt", sample_base_weights)
    assert (view.copied, view.fresh, view.ignored, view.frozen) == (
        ["ip1", "ip2"], ["fc_new"], ["fc_digits"], ["ip1", "ip2"])
    assert view.weights_loadable


def test_cli_trace_weights_shows_the_view_and_exits_0_when_loadable(sample_base_weights):
    result = run_cli("trace", SAMPLE / "finetune_train.prototxt", "--weights", sample_base_weights)
    assert result.returncode == 0, result.stderr
    assert "copied frozen" in result.stdout and "fc_new" in result.stdout
    assert "Caffe loads these weights (2 copied, 1 fresh, 0 mismatched, 1 ignored, 2 frozen)." in result.stdout


def test_cli_trace_weights_mismatch_exits_1_with_json_view(base_weights):
    result = run_cli("trace", NEW, "--weights", base_weights, "--format", "json")
    assert result.returncode == 1
    view = json.loads(result.stdout)["finetune"]
    assert (view["weights_loadable"], view["abort_at"], view["mismatched"]) == (False, "ip2", ["ip2", "ip3"])
    assert view["frozen"] == ["ip1", "frozen_head"]


def test_cli_trace_weights_mismatch_says_the_net_was_not_run(base_weights):
    result = run_cli("trace", NEW, "--weights", base_weights)
    assert result.returncode == 1
    assert "NOT RUN: Caffe would abort loading base.caffemodel at layer 'ip2' (shape mismatch)" in result.stdout
    assert "No findings." not in result.stdout
    data = json.loads(run_cli("trace", NEW, "--weights", base_weights, "--format", "json").stdout)
    assert (data["ok"], data["completed"], data["crash"]) == (False, False, None)
    assert data["not_run"].startswith("Caffe would abort loading")


@pytest.fixture(scope="module")
def counted_weights(caffe, tmp_path_factory) -> Path:
    """The base net's weights with every value set apart (1, 2, 3, ... in each blob), so that a copy shows in the net."""
    from inspector.trace.netload import build_net

    net = build_net(BASE)
    for blobs in net.params.values():
        for blob in blobs:
            blob.data[...] = np.arange(blob.count, dtype=np.float32).reshape(blob.data.shape) + 1
    path = tmp_path_factory.mktemp("counted") / "counted.caffemodel"
    net.save(str(path))
    return path


def test_weights_into_the_built_net_load_as_caffe_net_with_weights_does(caffe, counted_weights):
    from inspector.trace.finetune import weights_into
    from inspector.trace.netload import build_net

    net = build_net(COMPATIBLE)
    view = weights_into(net, COMPATIBLE, counted_weights, "train")
    assert view.weights_loadable and view.copied == ["ip1", "scale", "ip2", "ip3"]
    loaded_by_caffe = build_net(COMPATIBLE, weights=counted_weights)
    for name in ("ip1", "scale", "ip2", "ip3", "classifier_digits"):
        for ours, caffes in zip(net.params[name], loaded_by_caffe.params[name]):
            np.testing.assert_array_equal(ours.data, caffes.data)
    assert net.params["ip2"][0].data[0, :3].tolist() == [1.0, 2.0, 3.0]


def test_weights_caffe_would_refuse_are_left_out_of_the_built_net(caffe, counted_weights):
    from inspector.trace.finetune import not_run_reason, weights_into
    from inspector.trace.netload import build_net

    net = build_net(NEW)
    view = weights_into(net, NEW, counted_weights, "train")
    assert (view.weights_loadable, view.abort_at) == (False, "ip2")
    assert not_run_reason(view) == ("Caffe would abort loading counted.caffemodel at layer 'ip2' (shape mismatch), "
                                    "so the net was not run.")
    fresh = build_net(NEW)
    for name in ("ip1", "ip2"):  # nothing copied, not even ip1 (which matches): the net stays as built
        np.testing.assert_array_equal(net.params[name][0].data, fresh.params[name][0].data)


def test_the_view_of_the_built_net_is_the_view_of_its_own_net(report, caffe, base_weights):
    from inspector.trace.finetune import finetune_of
    from inspector.trace.netload import build_net

    assert finetune_of(build_net(NEW), NEW, base_weights, "TRAIN").to_dict() == report.to_dict()
