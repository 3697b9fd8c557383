"""inspector gradcheck: central differences against a layer's backward, in real pycaffe."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import SAMPLE_NETS, run_cli

pytestmark = pytest.mark.caffe  # every test here runs a net in pycaffe

NETS = Path(__file__).resolve().parent / "nets_gradcheck"
LAYERS = NETS / "layers.prototxt"
LABELS = NETS / "labels.prototxt"
TRIPLET = SAMPLE_NETS / "triplet" / "train.prototxt"


@pytest.fixture(scope="module")
def gradcheck(caffe):
    from inspector.gradcheck import gradcheck

    return gradcheck


def blob(report, label_start):
    return next(b for b in report.blobs if b.label.startswith(label_start))


def test_correct_python_layer_passes_on_every_element(gradcheck):
    report = gradcheck(LAYERS, "square")
    assert report.passed
    assert report.checked == 20  # the whole 4 x 5 bottom: smaller than --samples
    assert report.failures == 0


def test_wrong_gradient_fails_with_its_worst_elements(gradcheck):
    report = gradcheck(LAYERS, "wrong_square")
    assert not report.passed
    worst = report.worst[0]
    assert worst.status == "fail"
    assert worst.blob == "bottom[0] x"
    assert worst.analytic == pytest.approx(worst.numeric / 2, rel=1e-2)  # the missing factor 2
    assert worst.error > worst.allowed


def test_learnable_blobs_of_a_python_layer_are_checked(gradcheck):
    report = gradcheck(LAYERS, "scale")
    assert report.passed
    assert blob(report, "blobs[0]").checked == 5
    assert blob(report, "bottom[0]").checked == 20


def test_wrong_param_gradient_fails_on_the_param_blob_only(gradcheck):
    report = gradcheck(LAYERS, "wrong_scale")
    assert not report.passed
    assert blob(report, "blobs[0]").failures == 5
    assert blob(report, "bottom[0]").failures == 0


def test_loss_top_diff_is_the_loss_weight(gradcheck):
    report = gradcheck(LAYERS, "euclidean_pred_only")
    assert report.top_diffs == ["loss weight 2 x 1.5"]
    assert report.passed


def test_prototxt_propagate_down_false_skips_the_bottom(gradcheck):
    report = gradcheck(LAYERS, "euclidean_pred_only")
    assert blob(report, "bottom[1] target").skipped == "propagate_down: false in the prototxt"
    assert blob(report, "bottom[0] x_scaled").checked == 20


def test_both_bottoms_checked_when_the_layer_differentiates_both(gradcheck):
    report = gradcheck(LAYERS, "euclidean")
    assert [b.checked for b in report.blobs] == [20, 20]
    assert report.passed


def test_whole_number_bottom_with_zero_gradient_is_skipped_as_label(gradcheck):
    report = gradcheck(LABELS, "centre_loss")
    assert blob(report, "bottom[1] labels").skipped == "whole numbers with a zero gradient: a label"
    assert blob(report, "bottom[0] data").checked == 6
    assert report.passed


def test_element_next_to_a_kink_is_reported_as_kink_not_failure(gradcheck):
    report = gradcheck(LABELS, "abs")
    assert report.passed
    assert report.kinks == 1
    kink = report.worst[0]
    assert (kink.status, kink.index, kink.value) == ("kink", (0, 0), pytest.approx(0.003))
    assert kink.note == "matches the right-side slope"


def test_bottom_whose_backward_raises_is_skipped_and_the_others_checked(gradcheck):
    report = gradcheck(NETS / "refuses_label_gradient.prototxt", "refusing_loss")
    assert blob(report, "bottom[1] labels").skipped == "backward raises when asked for it (NotImplementedError)"
    assert blob(report, "bottom[0] data").checked == 6
    assert report.passed


def test_samples_limit_the_elements_checked_per_blob(gradcheck):
    first = gradcheck(LAYERS, "square", samples=7, seed=3)
    again = gradcheck(LAYERS, "square", samples=7, seed=3)
    assert first.checked == 7
    assert sorted(e.index for e in first.elements) == sorted(e.index for e in again.elements)


def test_cpp_layer_params_checked_through_the_net(gradcheck):
    report = gradcheck(LAYERS, "ip")
    assert report.layer_type == "InnerProduct"
    assert blob(report, "bottom[0] x").skipped == "the net does not backpropagate into it"
    assert [blob(report, "blobs[0]").checked, blob(report, "blobs[1]").checked] == [15, 3]
    assert report.passed


def test_check_leaves_every_blob_as_it_was(caffe):
    from inspector.gradcheck import check_layer
    from inspector.trace.netload import build_net

    net = build_net(LAYERS)
    net.forward()
    before = {name: (b.data.copy(), b.diff.copy()) for name, b in net.blobs.items()}
    params_before = [p.data.copy() for p in net.layer_dict["scale"].blobs]
    check_layer(net, "scale")
    for name, b in net.blobs.items():
        np.testing.assert_array_equal(b.data, before[name][0], err_msg=name)
        np.testing.assert_array_equal(b.diff, before[name][1], err_msg=name)
    np.testing.assert_array_equal(net.layer_dict["scale"].blobs[0].data, params_before[0])


def test_unknown_layer_is_an_input_error_listing_python_layers(gradcheck):
    from inspector.errors import InputError

    with pytest.raises(InputError) as caught:
        gradcheck(LAYERS, "no_such_layer")
    assert "no_such_layer" in caught.value.message
    assert "square, wrong_square, scale" in caught.value.remedy


def test_triplet_loss_layer_passes(gradcheck):
    report = gradcheck(TRIPLET, "tripletloss")
    assert report.passed
    assert report.top_diffs == ["loss weight 1 x 1.5"]
    assert [b.checked for b in report.blobs] == [64, 64, 64]


def test_triplet_select_layer_passes_and_skips_labels(gradcheck):
    report = gradcheck(TRIPLET, "triplet_select")
    assert report.passed
    assert blob(report, "bottom[0] fc9_1").checked == 64
    assert blob(report, "bottom[1] labels").skipped is not None


def test_cli_wrong_gradient_exits_1_with_worst_element_table(caffe):
    result = run_cli("gradcheck", LAYERS, "--layer", "wrong_square")
    assert result.returncode == 1
    assert "worst elements" in result.stdout
    assert "bottom[0] x" in result.stdout and "fail" in result.stdout
    assert "FAIL" in result.stdout


def test_cli_passing_layer_exits_0(caffe):
    result = run_cli("gradcheck", LAYERS, "--layer", "square")
    assert result.returncode == 0
    assert "PASS" in result.stdout


def test_cli_json_matches_the_report(caffe):
    result = run_cli("gradcheck", LAYERS, "--layer", "wrong_scale", "--format", "json")
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert (data["layer"], data["passed"], data["failures"], data["checked"]) == ("wrong_scale", False, 5, 25)
    assert [b["blob"] for b in data["blobs"]] == ["bottom[0] x", "blobs[0]"]
    assert data["worst"][0]["blob"] == "blobs[0]" and data["worst"][0]["status"] == "fail"


def test_cli_unknown_layer_exits_2_with_python_layers(caffe):
    result = run_cli("gradcheck", LAYERS, "--layer", "nope")
    assert result.returncode == 2
    assert "No layer named 'nope'" in result.stderr
    assert "wrong_square" in result.stderr
    assert "Traceback" not in result.stderr


def test_relative_error_is_reported_beside_caffes_rule(gradcheck):
    report = gradcheck(LAYERS, "wrong_square")
    assert blob(report, "bottom[0] x").max_relative == pytest.approx(0.5, rel=1e-2)  # |x - 2x| / |2x|


def test_cli_layer_with_nothing_to_check_exits_2(caffe):
    result = run_cli("gradcheck", LABELS, "--layer", "data")
    assert result.returncode == 2
    assert "Layer 'data' has nothing to check (it has no bottoms and no blobs)" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_non_positive_step_exits_2(caffe):
    result = run_cli("gradcheck", LAYERS, "--layer", "square", "--step", "0")
    assert result.returncode == 2
    assert "must be positive" in result.stderr


# ---- the check runs in a child process: crashes are reported, not inherited ----
CRASHES = NETS / "crashes.prototxt"
# A Python layer's forward widens its top past what the next InnerProduct was set up for: Caffe's CHECK aborts.
CHECK_FAILS = Path(__file__).resolve().parent / "nets_trace" / "crash_check.prototxt"


def test_report_rebuilt_from_the_child_equals_the_in_process_check(gradcheck):
    from inspector.gradcheck import check_in_net

    from_child = gradcheck(LAYERS, "scale")
    in_process = check_in_net(LAYERS, "scale")
    assert from_child.to_dict() == in_process.to_dict()
    assert from_child.elements == in_process.elements and len(from_child.elements) == 25


def test_caffe_check_failure_names_the_stage_and_the_check_line(gradcheck):
    from inspector.gradcheck import GradcheckCrash

    with pytest.raises(GradcheckCrash) as caught:
        gradcheck(CHECK_FAILS, "ip2")
    crash = caught.value
    assert crash.stage == "running the net forward up to layer 'ip2'"
    assert crash.crash.kind == "caffe_abort" and crash.crash.exit_code < 0
    assert "Check failed: K_ == new_K (5 vs. 6)" in crash.crash.check_failed
    assert crash.exit_code == 1


def test_cli_caffe_check_failure_exits_1_with_the_check_line(caffe):
    result = run_cli("gradcheck", CHECK_FAILS, "--layer", "ip2")
    assert result.returncode == 1
    assert "Caffe aborted the gradcheck of 'ip2' while running the net forward up to layer 'ip2'" in result.stderr
    assert "inner_product_layer.cpp" in result.stderr and "Check failed: K_ == new_K" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_layer_exception_during_the_check_shows_the_layers_traceback_only(caffe):
    result = run_cli("gradcheck", CRASHES, "--layer", "first_input_only")
    assert result.returncode == 1
    assert ("stopped while checking blob bottom[0] x: ValueError: the input changed since the first forward"
            in result.stderr)
    assert f'File "{NETS / "gradcheck_layers.py"}"' in result.stderr
    assert "inspector/trace" not in result.stderr


def test_cli_segfault_in_backward_exits_1_naming_the_signal_and_the_layer_frame(caffe):
    result = run_cli("gradcheck", CRASHES, "--layer", "segfault")
    assert result.returncode == 1
    assert "died of SIGSEGV while running 'segfault' backward" in result.stderr
    assert f'File "{NETS / "gradcheck_layers.py"}"' in result.stderr and "in backward" in result.stderr
    assert "inspector/trace" not in result.stderr


def test_cli_layer_setup_error_exits_1_while_building_the_net(caffe):
    result = run_cli("gradcheck", NETS / "raises_in_setup.prototxt", "--layer", "picky")
    assert result.returncode == 1
    assert "stopped while building the net: ValueError: setup rejects param_str" in result.stderr
    assert "in setup" in result.stderr
    assert "inspector/trace" not in result.stderr


# ---- broken backwards fail, correct ones pass ----
BROKEN = NETS / "broken_backward.prototxt"


def test_backward_that_writes_nothing_fails_against_the_numeric_gradient(gradcheck):
    report = gradcheck(BROKEN, "noop")
    assert not report.passed and report.failures == 6
    assert blob(report, "bottom[0] data").note == "backward leaves its diff untouched: checked as a zero gradient"
    worst = report.worst[0]
    assert worst.analytic == 0 and abs(worst.numeric) > worst.allowed  # 2x times the random top diff, not 0


def test_cli_backward_that_writes_nothing_exits_1(caffe):
    result = run_cli("gradcheck", BROKEN, "--layer", "noop")
    assert result.returncode == 1, result.stderr
    assert "FAIL: 6 of 6 elements" in result.stdout and "checked as a zero gradient" in result.stdout


def test_loss_whose_backward_ignores_top_diff_fails(gradcheck):
    report = gradcheck(BROKEN, "loss_ignoring_top_diff")
    assert report.top_diffs == ["loss weight 1 x 1.5"]
    assert not report.passed
    worst = report.worst[0]
    assert worst.numeric == pytest.approx(1.5 * worst.analytic, rel=1e-2)


def test_loss_that_scales_by_top_diff_passes(gradcheck):
    assert gradcheck(BROKEN, "square_loss").passed


def test_labels_whose_diff_the_backward_leaves_alone_are_skipped_not_failed(gradcheck):
    report = gradcheck(BROKEN, "label_untouched")
    assert report.passed
    assert blob(report, "bottom[1] labels").skipped == "whole numbers its backward leaves untouched: a label"
    assert blob(report, "bottom[0] data").checked == 6


# ---- bad input is exit 2 with a message ----

@pytest.mark.parametrize("option, value", [("--step", "nan"), ("--step", "inf"), ("--threshold", "nan"),
                                           ("--threshold", "-1")])
def test_cli_non_finite_or_negative_step_and_threshold_exit_2(caffe, option, value):
    result = run_cli("gradcheck", LAYERS, "--layer", "square", option, value)
    assert result.returncode == 2
    assert "must be positive finite numbers" in result.stderr and "Traceback" not in result.stderr


def test_cli_solver_file_exits_2_pointing_at_the_net(caffe):
    result = run_cli("gradcheck", NETS / "solver.prototxt", "--layer", "square")
    assert result.returncode == 2
    assert "is a solver definition, not a net" in result.stderr and "`net:`" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_empty_net_exits_2(caffe):
    result = run_cli("gradcheck", NETS / "empty.prototxt", "--layer", "square")
    assert result.returncode == 2
    assert "defines no layers" in result.stderr


def test_cli_missing_layer_module_is_reported_as_the_import_that_failed(caffe):
    result = run_cli("gradcheck", NETS / "missing_module.prototxt", "--layer", "ghost")
    assert result.returncode == 1
    assert ("stopped while importing Python layer 'ghost' (no_such_layer_module.Ghost): ModuleNotFoundError: "
            "No module named 'no_such_layer_module'") in result.stderr
    assert "SystemError" not in result.stderr and "returned NULL" not in result.stderr


def test_cli_input_blob_from_npy_file(caffe, tmp_path):
    batch = np.linspace(-1, 1, 20, dtype=np.float32).reshape(4, 5)
    np.save(tmp_path / "x.npy", batch)
    result = run_cli("gradcheck", LAYERS, "--layer", "square", "--input", f"x={tmp_path / 'x.npy'}",
                     "--format", "json")
    assert result.returncode == 0, result.stderr
    values = {tuple(e["index"]): e["value"] for e in json.loads(result.stdout)["worst"]}
    assert all(v == pytest.approx(batch[i]) for i, v in values.items())


@pytest.mark.parametrize("array, expected", [
    (np.zeros((3, 5), dtype=np.float32), "has shape [3, 5], but blob 'x' is declared [4, 5]"),
    (np.array([["a"] * 5] * 4), "holds <U1 values; blob 'x' takes numbers"),
])
def test_cli_input_of_the_wrong_shape_or_dtype_exits_2(caffe, tmp_path, array, expected):
    np.save(tmp_path / "x.npy", array)
    result = run_cli("gradcheck", LAYERS, "--layer", "square", "--input", f"x={tmp_path / 'x.npy'}")
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr and "CRASH" not in result.stdout + result.stderr


def test_lemonaha_triplet_loss_ignoring_top_diff_fails(gradcheck):
    report = gradcheck(NETS / "lemonaha_triplet.prototxt", "tripletloss")
    assert not report.passed and report.failures > 0
    failing = [e for e in report.elements if e.status == "fail"]
    assert all(e.numeric == pytest.approx(1.5 * e.analytic, rel=2e-2) for e in failing)


def test_cli_abort_while_building_the_net_names_the_layer_caffe_was_building(caffe):
    result = run_cli("gradcheck", CHECK_FAILS.parent / "eltwise_after_python.prototxt", "--layer", "loss")
    assert result.returncode == 1
    assert ("Caffe aborted the gradcheck of 'loss' while building the net (Eltwise 'sum' aborted in setup: "
            "bottom shapes 4x7 vs 4x6; 'p' comes from Python layer 'py' (reshape))") in result.stderr


def test_trace_and_gradcheck_report_a_caffe_abort_through_the_same_crash(gradcheck):
    from inspector.gradcheck import GradcheckCrash
    from inspector.trace.runner import TraceOptions, run_trace

    net = CHECK_FAILS.parent / "eltwise_after_python.prototxt"
    traced = run_trace(TraceOptions(net, iterations=1)).crash
    with pytest.raises(GradcheckCrash) as caught:
        gradcheck(net, "loss")
    checked = caught.value.crash
    assert traced.summary == ("Eltwise 'sum' aborted in setup: bottom shapes 4x7 vs 4x6; "
                              "'p' comes from Python layer 'py' (reshape)")
    assert checked.summary == traced.summary
    assert checked.headline() == traced.headline() == (
        "CRASH (caffe_abort, exit code -6) in layer sum (Eltwise) during setup (net construction)")
    assert checked.fed_by == traced.fed_by == [{"blob": "p", "layer": "py", "method": "reshape"}]
    for line in (checked.check_failed, traced.check_failed):
        assert "eltwise_layer.cpp" in line and "Check failed: bottom[0]->shape() == bottom[i]->shape()" in line
