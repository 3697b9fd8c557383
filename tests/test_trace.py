"""inspector trace: real pycaffe runs of small nets whose Python layers keep or break the layer contract.

Each net in tests/nets_trace/ breaks one rule on purpose (tracetestlayers.py says which); the
checks must fire there, name the layer, method and iteration with a fix, and stay silent on the
correct layers (siamese.prototxt here, the triplet sample net in test_trace_samples.py).
"""
from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest

from conftest import REPO, run_cli
from inspector.trace.runner import TraceOptions, run_trace

pytestmark = pytest.mark.caffe  # every test here runs a net in pycaffe

NETS = Path(__file__).resolve().parent / "nets_trace"


@pytest.fixture(autouse=True)
def _needs_caffe(caffe):
    """Every test here runs the real Caffe."""


@functools.lru_cache(maxsize=None)
def traced(name: str, iterations: int = 2, stats: bool = True, phase: str = "train"):
    return run_trace(TraceOptions(NETS / f"{name}.prototxt", phase=phase, iterations=iterations, stats=stats))


def checks_fired(report) -> set[str]:
    return {f.check for f in report.findings}


# ---- records ----

def test_every_python_layer_call_is_recorded_in_order():
    report = traced("siamese")
    methods = [c.method for c in report.calls("scale") if not c.probe]
    assert methods[:2] == ["setup", "reshape"]
    assert methods[2:] == ["reshape", "forward", "backward"] * 2
    assert [c.iteration for c in report.calls("scale", "forward") if not c.probe] == [1, 2]


def test_calls_carry_shapes_dtypes_and_statistics():
    forward = traced("siamese").calls("scale", "forward")[0]
    assert forward.bottoms[0].shape == [4, 5]
    assert forward.tops[0].dtype == "float32"
    stats = forward.tops[0].data
    assert set(stats) == {"min", "max", "mean", "std", "nan", "inf"}
    assert stats["min"] <= stats["mean"] <= stats["max"] and stats["nan"] == 0
    backward = traced("siamese").calls("loss", "backward")[0]
    assert backward.propagate_down == [True, True]
    assert backward.bottoms[0].diff["std"] > 0


def test_a_layer_whose_class_inherits_from_another_traced_class_is_recorded_once_a_call():
    """'zeroed' (ZeroDiff) inherits setup, reshape and forward from Scale, the class of 'scale' in the same net."""
    report = traced("subclassed_layer", iterations=1)
    for layer in ("scale", "zeroed"):
        methods = [c.method for c in report.calls(layer) if not c.probe]
        assert methods == ["setup", "reshape", "reshape", "forward", "backward"], layer


def test_python_layer_identity_is_recorded():
    record = traced("siamese").python_layer("scale")
    assert (record.module, record.class_name, record.param_str, record.phase) == (
        "tracetestlayers", "Scale", "'factor': 2", "train")
    assert record.source_file == str(NETS / "tracetestlayers.py")


def test_every_layer_has_type_shapes_and_times():
    layers = {layer.name: layer for layer in traced("siamese").layers}
    assert layers["ip_a"].type == "InnerProduct"
    assert layers["ip_a"].top_shapes == {"feat_a": [4, 5]}
    assert layers["ip_a"].param_shapes == [[5, 6], [5]]
    assert layers["scale"].python and layers["scale"].forward_ms > 0
    assert layers["ip_a"].backward_ms > 0


def test_shared_parameters_are_counted_once():
    layers = {layer.name: layer for layer in traced("siamese").layers}
    assert layers["ip_a"].param_count == 35
    assert layers["ip_b"].param_count == 0
    assert layers["ip_b"].shares_params_with == ["ip_a"]


def test_split_layers_caffe_inserted_are_marked():
    splits = [layer for layer in traced("siamese").layers if layer.inserted_by_caffe]
    assert [s.type for s in splits] == ["Split"]
    assert splits[0].bottoms == ["data"]


def test_needs_backward_comes_from_caffes_own_decision():
    layers = {layer.name: layer for layer in traced("siamese").layers}
    assert layers["loss"].needs_backward is True
    assert layers["data"].needs_backward is False


def test_correct_layers_produce_no_findings():
    report = traced("siamese")
    assert report.findings == [] and report.ok and report.crash is None


def test_no_stats_records_shapes_and_timings_only():
    report = traced("siamese", stats=False)
    forward = report.calls("scale", "forward")[0]
    assert forward.tops[0].shape == [4, 5] and forward.tops[0].data is None
    assert report.layers[0].forward_ms >= 0


# ---- contract checks, each on a layer that breaks it ----

def test_top_reshaped_in_forward_is_not_blamed_but_the_backward_that_breaks_is():
    report = traced("reshape_in_forward")
    assert report.findings_of("reshape_in_forward") == []
    assert report.calls("broken", "forward")[0].tops[0].shape == [4, 6]
    assert report.calls("loss", "forward")[0].bottoms[0].shape == [4, 6]  # the layer above followed
    crash = report.crash  # ReshapeInForward keeps Scale's backward, which assumes top and bottom of one shape
    assert (crash.layer, crash.method) == ("broken", "backward") and "broadcast" in crash.traceback


def test_proposal_style_top_set_in_forward_runs_clean_and_the_layer_above_follows():
    report = traced("proposal_style")
    assert report.ok and [f for f in report.findings if f.severity != "info"] == []
    rows = report.calls("proposal", "forward")[0].tops[0].shape[0]
    assert rows > 1 and report.blob_shapes["rois"] == [rows, 5] and report.blob_shapes["fc"] == [rows, 3]


def test_proposal_style_cli_exits_0(tmp_path):
    result = run_cli("trace", NETS / "proposal_style.prototxt", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings" in result.stdout


def test_top_reshaped_in_forward_that_is_a_net_output_is_an_info_note():
    report = traced("proposal_output", phase="test")
    [finding] = report.findings_of("reshape_in_forward")
    assert (finding.severity, finding.layer, finding.blob) == ("info", "proposal", "top[0]")
    assert "1x5 to " in finding.message and "net output" in finding.message
    assert report.ok


def test_bottom_modified_by_forward_is_found():
    [finding] = traced("modifies_bottom").findings_of("bottom_modified")
    assert (finding.layer, finding.method, finding.blob) == ("broken", "forward", "bottom[0]")


def test_float64_write_that_overflows_float32_is_found():
    [finding] = traced("lossy_write").findings_of("lossy_write")
    assert finding.layer == "broken" and "overflow float32" in finding.message
    assert "nonfinite_output" in checks_fired(traced("lossy_write"))


def test_nan_diff_is_found():
    [finding] = traced("nan_diff").findings_of("nonfinite_diff")
    assert (finding.layer, finding.method, finding.iteration) == ("broken", "backward", 1)
    assert "20 NaN" in finding.message


def test_all_zero_diff_is_found():
    [finding] = traced("zero_diff").findings_of("zero_diff")
    assert finding.severity == "warning" and finding.layer == "broken"


def test_all_zero_diff_names_the_first_iteration_and_every_call():
    [finding] = traced("zero_diff").findings_of("zero_diff")
    assert finding.iteration == 1 and "in every one of its 2 call(s)" in finding.message
    assert "inspector gradcheck NET --layer broken" in finding.fix


def test_a_hinge_loss_whose_gradient_is_zero_only_at_some_iterations_is_not_blamed():
    report = traced("hinge_sometimes_zero", iterations=4)
    calls = [c for c in report.calls("hinge", "backward") if not c.probe]
    zero = [c.bottoms[0].diff["max"] == c.bottoms[0].diff["min"] == 0 for c in calls]
    assert zero == [True, False, True, False]  # the check had zero diffs under a non-zero top diff to judge
    assert report.findings_of("zero_diff") == [] and report.ok


def test_zero_diffs_under_zero_top_diffs_are_explained_not_blamed():
    report = traced("identity_chain")
    assert report.findings_of("zero_diff") == [] and report.ok
    notes = report.findings_of("no_gradient_reaches")
    assert [f.layer for f in notes] == ["id1", "id2", "id3"] and {f.severity for f in notes} == {"info"}
    assert "no loss above it" in notes[-1].message and "Nothing to fix" in notes[-1].fix


def test_zero_gradient_of_a_label_under_force_backward_is_not_a_finding():
    report = traced("label_force_backward")
    assert report.calls("loss", "backward")[0].propagate_down == [True, True]
    assert report.findings == [] and report.ok


def test_diff_accumulated_with_plus_equals_is_found():
    [finding] = traced("accumulates_diff").findings_of("diff_accumulates")
    assert (finding.layer, finding.method) == ("broken", "backward")
    assert "+=" in finding.fix


def test_loss_ignoring_top_diff_is_found():
    [finding] = traced("loss_ignores_top_diff").findings_of("loss_ignores_top_diff")
    assert finding.layer == "loss" and "loss_weight" in finding.message


def test_loss_using_top_diff_passes():
    assert "loss_ignores_top_diff" not in checks_fired(traced("siamese"))


def test_reading_forks_param_str_underscore_is_found():
    [finding] = traced("fork_param_str").findings_of("param_str_fork_name")
    assert (finding.layer, finding.method) == ("broken", "setup") and "self.param_str" in finding.fix


def test_param_str_never_read_is_found():
    [finding] = traced("unread_param_str").findings_of("param_str_unread")
    assert finding.layer == "broken" and "'factor': 3" in finding.message


@pytest.mark.parametrize("net, layer, reason", [
    ("no_loss_above", "dangling", "no loss above it"),
    ("no_force_backward", "scale", "force_backward missing"),
    ("propagate_down_false", "scale", "propagate_down: false"),
])
def test_backward_never_called_names_the_reason(net, layer, reason):
    [finding] = [f for f in traced(net).findings_of("backward_never_called") if f.layer == layer]
    assert reason in finding.message and finding.method == "backward"
    # only a missing loss is worth a warning; the rest is Caffe doing as the net says
    assert finding.severity == ("warning" if reason == "no loss above it" else "info")


def test_backward_of_layers_under_the_loss_is_not_reported():
    assert traced("siamese").findings_of("backward_never_called") == []


# ---- crashes ----

def test_caffe_check_failure_keeps_the_record_and_names_the_layer():
    report = traced("crash_check")
    crash = report.crash
    assert crash.kind == "caffe_abort" and crash.exit_code < 0
    assert (crash.layer, crash.method, crash.iteration) == ("ip2", "forward", 1)
    assert "Check failed" in crash.check_failed and "inner_product_layer.cpp" in crash.check_failed
    assert [c.method for c in report.calls("widen")] == ["setup", "reshape", "reshape", "forward"]
    assert not report.ok
    assert (crash.stage, crash.layer_type) == ("forward", "InnerProduct")
    assert crash.summary == ("InnerProduct 'ip2' aborted in forward (iteration 1): 'wide' comes from Python layer "
                             "'widen' (forward, which reshaped it from 4x5 to 4x6)")


def test_python_exception_in_a_layer_shows_its_traceback():
    report = traced("raises_in_forward")
    crash = report.crash
    assert crash.kind == "python_exception"
    assert (crash.layer, crash.method, crash.iteration) == ("broken", "forward", 2)
    assert "ValueError: bad batch" in crash.traceback
    assert crash.location.startswith(str(NETS / "tracetestlayers.py") + ":")
    assert len(report.calls("broken", "forward")) == 1  # the first pass, kept


def test_crash_exits_1_and_prints_the_check_line(tmp_path):
    result = run_cli("trace", NETS / "crash_check.prototxt", cwd=tmp_path)
    assert result.returncode == 1
    assert "CRASH" in result.stdout and "Check failed" in result.stdout and "ip2" in result.stdout
    assert "Traceback" not in result.stderr


# ---- command line and outputs ----

def test_json_output_parses_and_last_trace_is_written(tmp_path):
    result = run_cli("trace", NETS / "siamese.prototxt", "--format", "json", "--iterations", "1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] and [p["name"] for p in report["python_layers"]] == ["scale", "loss"]
    last = json.loads((tmp_path / ".inspector" / "last-trace.json").read_text())
    assert last["net"] == str(NETS / "siamese.prototxt") and last["phase"] == "train"
    assert last["blob_shapes"]["feat_a"] == [4, 5]


def test_jsonl_events_are_written_to_out(tmp_path):
    out = tmp_path / "events.jsonl"
    result = run_cli("trace", NETS / "accumulates_diff.prototxt", "--format", "jsonl", "--out", out, cwd=tmp_path)
    assert result.returncode == 1
    events = [json.loads(line) for line in out.read_text().splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "python_layers" and kinds[-2:] == ["needs_backward", "end"] and "done" in kinds
    assert any(e["event"] == "finding" and e["check"] == "diff_accumulates" for e in events)


def test_text_output_shows_the_layer_table_and_call_log(tmp_path):
    result = run_cli("trace", NETS / "siamese.prototxt", "--iterations", "1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "InnerProduct" in result.stdout and "Split (inserted)" in result.stdout
    assert "scale  tracetestlayers.Scale" in result.stdout and "No findings." in result.stdout
    assert " 1 forward " in result.stdout and "4x5 -> 4x5" in result.stdout  # one line a call, compact shapes


def test_text_call_log_shows_nan_counts_and_the_finding_on_the_call_line(tmp_path):
    result = run_cli("trace", NETS / "nan_diff.prototxt", "--iterations", "1", cwd=tmp_path)
    log = result.stdout[result.stdout.index("broken  tracetestlayers.NanDiff"):]
    line = next(line for line in log.splitlines() if line.split()[:2] == ["1", "backward"])
    assert "bottom[0].diff 20 NaN" in line and "nonfinite_diff" in line


def test_text_call_log_of_a_long_run_folds_its_middle_iterations_into_one_row_a_method(tmp_path):
    result = run_cli("trace", NETS / "siamese.prototxt", "--iterations", "30", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    log = result.stdout[result.stdout.index("scale  tracetestlayers.Scale"):].splitlines()
    rows = [line.split() for line in log[3:log.index(next(line for line in log if "folded" in line))]]
    assert [row[:2] for row in rows if row[0] == "3-27"] == [["3-27", "reshape"], ["3-27", "forward"],
                                                               ["3-27", "backward"]]
    assert all("25 calls," in " ".join(row) for row in rows if row[0] == "3-27")
    assert [row[0] for row in rows if row[1] == "forward"] == ["1", "2", "3-27", "28", "29", "30", "31*", "32*"]
    assert "  iterations 3..27 folded: 75 calls in 3 row(s), one a method; --format json lists each" in log
    losses = next(line for line in log if line.startswith("loss per iteration: "))
    assert ", (24 more from " in losses and losses.endswith("; --format json lists each")
    assert len(losses.split(", (")[0].split(", ")) == 3  # the first three, then the last three after the range


def test_text_call_log_of_a_short_run_folds_nothing(tmp_path):
    result = run_cli("trace", NETS / "siamese.prototxt", "--iterations", "11", cwd=tmp_path)
    log = result.stdout[result.stdout.index("scale  tracetestlayers.Scale"):]
    losses = next(line for line in result.stdout.splitlines() if line.startswith("loss per iteration: "))
    assert len(losses.split(", ")) == 11 and "more" not in losses
    log = log[:log.index("  * a probe pass")]
    assert "folded" not in log
    assert [line.split()[0] for line in log.splitlines() if line.split()[1:2] == ["forward"]] == [
        *map(str, range(1, 12)), "12*", "13*"]


def test_folded_call_log_row_counts_the_nan_calls_and_their_findings(tmp_path):
    result = run_cli("trace", NETS / "nan_diff.prototxt", "--iterations", "30", cwd=tmp_path)
    log = result.stdout[result.stdout.index("broken  tracetestlayers.NanDiff"):]
    row = next(line for line in log.splitlines() if line.split()[:2] == ["3-27", "backward"])
    assert "25 calls," in row and "25 with NaN/Inf" in row
    json_report = json.loads(run_cli("trace", NETS / "nan_diff.prototxt", "--iterations", "30", "--format", "json",
                                     cwd=tmp_path).stdout)
    broken = next(p for p in json_report["python_layers"] if p["name"] == "broken")
    assert len([c for c in broken["calls"] if c["method"] == "backward" and not c["probe"]]) == 30  # JSON: each call


def test_input_blob_from_npy_file(tmp_path):
    import numpy as np

    batch = np.arange(24, dtype=np.float32).reshape(4, 6)
    np.save(tmp_path / "batch.npy", batch)
    report = run_trace(TraceOptions(NETS / "siamese.prototxt", iterations=1, inputs={"data": tmp_path / "batch.npy"}))
    assert report.inputs == {"data": str(tmp_path / "batch.npy")}


def test_input_of_the_wrong_shape_is_an_input_error(tmp_path):
    import numpy as np

    np.save(tmp_path / "batch.npy", np.zeros((3, 6), dtype=np.float32))
    result = run_cli("trace", NETS / "siamese.prototxt", "--input", f"data={tmp_path / 'batch.npy'}", cwd=tmp_path)
    assert result.returncode == 2
    assert "[3, 6]" in result.stderr and "[4, 6]" in result.stderr and "Traceback" not in result.stderr


def test_missing_net_is_an_input_error(tmp_path):
    result = run_cli("trace", tmp_path / "nope.prototxt", cwd=tmp_path)
    assert result.returncode == 2 and "does not exist" in result.stderr


def test_pdb_opens_a_post_mortem_in_the_layers_frame(tmp_path):
    import os
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "inspector", "trace", str(NETS / "raises_in_forward.prototxt"), "--pdb"],
                          input="p self.passes\nq\n", capture_output=True, text=True, cwd=tmp_path, timeout=300,
                          env=dict(os.environ, COLUMNS="200", NO_COLOR="1"))
    raise_line = next(i for i, line in enumerate((NETS / "tracetestlayers.py").read_text().splitlines(), 1)
                      if 'raise ValueError("bad batch' in line)
    assert proc.returncode == 1
    assert f"tracetestlayers.py({raise_line})forward()" in proc.stdout
    assert "(Pdb) 2" in proc.stdout  # the layer's own state, in its frame


def test_graph_without_a_net_draws_the_last_trace_with_its_shapes(tmp_path):
    assert run_cli("trace", NETS / "siamese.prototxt", "--iterations", "1", cwd=tmp_path).returncode == 0
    result = run_cli("graph", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "siamese.prototxt" in result.stdout and "feat_a (4x5)" in result.stdout


def test_a_layer_module_that_fails_to_import_is_reported_with_its_traceback():
    crash = traced("missing_module").crash
    assert (crash.kind, crash.layer, crash.method) == ("python_exception", "ghost", "import")
    assert "No module named 'no_such_layer_module'" in crash.traceback


def test_jsonl_goes_to_stdout_without_out(tmp_path):
    result = run_cli("trace", NETS / "siamese.prototxt", "--format", "jsonl", "--iterations", "1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["iteration"] for e in events if e["event"] == "iteration"] == [1]


def test_top_whose_shape_changed_after_reshape_is_found():
    [finding] = traced("top_reshaped_later").findings_of("shape_changed_after_reshape")
    assert (finding.layer, finding.method, finding.iteration) == ("scale", "backward", 1)
    assert "the tops were 20 at backward, not the 4x5 its reshape() left" in finding.message
    crash = traced("top_reshaped_later").crash  # Scale's backward then fails on the flattened diff
    assert crash.location.startswith(str(NETS / "tracetestlayers.py") + ":")


def test_test_phase_runs_forward_only():
    report = traced("siamese", phase="test")
    assert report.phase == "test" and report.python_layer("scale").phase == "test"
    assert [c.method for c in report.calls("scale")] == ["setup", "reshape", "reshape", "forward", "reshape", "forward"]
    assert report.findings == []


def test_segfault_in_a_layer_names_the_signal_and_the_layers_frame(tmp_path):
    report = traced("segfault_in_backward")
    crash = report.crash
    assert (crash.kind, crash.exit_code) == ("SIGSEGV", -11)
    assert (crash.layer, crash.method, crash.iteration) == ("broken", "backward", 1)
    assert any(str(NETS / "tracetestlayers.py") in line and "in backward" in line for line in crash.log_tail)
    assert not any("/inspector/trace/" in line for line in crash.log_tail)  # inspector's own frames left out
    assert len(report.calls("broken", "forward")) == 1  # what ran before the crash is kept


def test_raised_at_is_the_users_line_when_numpy_raises():
    crash = traced("raises_in_numpy").crash
    line = next(i for i, text in enumerate((NETS / "tracetestlayers.py").read_text().splitlines(), 1)
                if "np.reshape(bottom[0].data, (7, 7))" in text)
    assert crash.location == f"{NETS / 'tracetestlayers.py'}:{line}"
    assert "fromnumeric.py" in crash.traceback  # numpy's frames stay: they say how it failed
    assert "/inspector/" not in crash.traceback  # inspector's own frames do not


def test_a_missing_module_points_at_no_line_of_importlib():
    crash = traced("missing_module").crash
    assert crash.location is None
    assert "/inspector/" not in crash.traceback


# ---- crash attribution: the layer Caffe was working on, from its own log ----

def test_cpp_layer_fed_by_a_python_layer_is_named_with_the_python_layer():
    crash = traced("eltwise_after_python").crash
    assert (crash.layer, crash.layer_type, crash.method, crash.stage) == ("sum", "Eltwise", "setup", "net construction")
    assert crash.summary == ("Eltwise 'sum' aborted in setup: bottom shapes 4x7 vs 4x6; "
                             "'p' comes from Python layer 'py' (reshape)")
    assert crash.fed_by == [{"blob": "p", "layer": "py", "method": "reshape"}]


def test_unknown_layer_type_names_that_layer_before_caffe_aborts_not_the_last_python_layer(tmp_path):
    result = run_cli("trace", NETS / "unknown_layer_type.prototxt", cwd=tmp_path)
    assert result.returncode == 2
    assert "unknown_layer_type.prototxt:6: layer 'roi_pool' has type 'ROIPooling'" in result.stderr
    assert "CRASH" not in result.stdout and "in layer py" not in result.stderr


def test_unknown_layer_type_in_caffes_own_log_is_that_layers_creation_not_the_last_python_layer():
    # trace refuses such a net before building it (a fork's layer type is bad input); a Caffe whose registry
    # differs from its caffe_pb2 still aborts in the factory, so the attribution is tried on Caffe's own log
    import os
    import subprocess
    import sys

    from inspector.prototxt import read_net
    from inspector.trace.attribution import ConstructionLog, construction_culprit

    net = NETS / "unknown_layer_type.prototxt"
    proc = subprocess.run([sys.executable, "-c", f"import caffe; caffe.Net({str(net)!r}, caffe.TRAIN)"], cwd=NETS,
                          env=dict(os.environ, GLOG_minloglevel="0", GLOG_logtostderr="1"), capture_output=True,
                          text=True, timeout=300)
    log = ConstructionLog()
    for line in proc.stderr.splitlines():
        log.feed(line)
    check_failed = next(line for line in proc.stderr.splitlines() if "Check failed" in line)
    types = {layer.name: layer.type for layer in read_net(net).layers_for("train")}
    culprit = construction_culprit(log, check_failed, types, {"layer": "proposal", "method": "reshape"})
    assert proc.returncode < 0 and "Unknown layer type: ROIPooling" in check_failed
    assert (culprit.layer, culprit.method, culprit.stage) == ("roi_pool", "create", "net construction")


def test_python_layer_error_in_setup_is_in_net_construction(tmp_path):
    crash = run_trace(TraceOptions(NETS.parent / "nets_gradcheck" / "raises_in_setup.prototxt")).crash
    assert (crash.layer, crash.method, crash.stage) == ("picky", "setup", "net construction")


def test_crash_attribution_holds_when_the_user_silences_glog(tmp_path):
    result = run_cli("trace", NETS / "eltwise_after_python.prototxt", cwd=tmp_path, env={"GLOG_minloglevel": "3"})
    assert result.returncode == 1
    assert "CRASH (caffe_abort, exit code -6) in layer sum (Eltwise) during setup (net construction)" in result.stdout
    assert "'p' comes from Python layer 'py' (reshape)" in result.stdout
    assert "Logging before InitGoogleLogging" not in result.stdout


# ---- bad input is exit 2, never a crash ----

def test_empty_net_exits_2(tmp_path):
    result = run_cli("trace", NETS.parent / "nets_gradcheck" / "empty.prototxt", cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "defines no layers" in result.stderr and "CRASH" not in result.stdout


def test_net_with_no_layer_in_the_phase_exits_2_naming_the_other_phase(tmp_path):
    net = tmp_path / "test_only.prototxt"
    net.write_text('layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 } } '
                   'include { phase: TEST } }\n')
    result = run_cli("trace", net, cwd=tmp_path)
    assert result.returncode == 2
    assert "no layer in the train phase" in result.stderr and "--phase test" in result.stderr


def test_input_of_a_non_numeric_dtype_is_an_input_error(tmp_path):
    import numpy as np

    np.save(tmp_path / "batch.npy", np.array([["a"] * 6] * 4))
    result = run_cli("trace", NETS / "siamese.prototxt", "--input", f"data={tmp_path / 'batch.npy'}", cwd=tmp_path)
    assert result.returncode == 2
    assert "takes numbers" in result.stderr and "CRASH" not in result.stdout and "None" not in result.stdout


def test_input_that_is_not_npy_is_an_input_error(tmp_path):
    (tmp_path / "batch.npy").write_bytes(b"not numpy at all")
    result = run_cli("trace", NETS / "siamese.prototxt", "--input", f"data={tmp_path / 'batch.npy'}", cwd=tmp_path)
    assert result.returncode == 2
    assert "is not a readable .npy file" in result.stderr and "CRASH" not in result.stdout


# ---- the contract probe compares only what can be compared ----

def test_probe_reseeds_pythons_random_so_a_randomised_layer_is_no_false_alarm():
    report = traced("random_rows")
    assert report.findings_of("diff_accumulates") == [] and report.findings_of("probe_skipped") == []
    assert report.ok


def test_probe_that_cannot_be_repeated_is_skipped_with_a_note_not_a_finding():
    report = traced("cycling_rows")
    assert report.findings_of("diff_accumulates") == [] and report.ok
    notes = {f.layer: f for f in report.findings_of("probe_skipped")}
    assert notes["crop"].severity == "info" and "gave different diffs" in notes["crop"].message
    assert "its shape changed between two identical passes" in notes["scale"].message


def test_nan_loss_is_a_finding_naming_where_the_nan_starts():
    report = traced("nan_loss")
    [finding] = report.findings_of("nonfinite_loss")
    assert (finding.severity, finding.layer, finding.iteration) == ("error", "log", 1)
    assert "the loss is nan at iteration 1" in finding.message and "'log' of layer 'log'" in finding.message
    assert not report.ok


# ---- what a debugging user also needs ----

def test_a_layers_prints_are_kept_with_the_method_and_iteration_that_printed_them():
    output = traced("chatty").python_layer("chatty").output
    assert output[0] == {"iteration": 0, "probe": False, "method": "setup", "stream": "stdout",
                         "text": "chatty: factor 2.0"}
    assert output[1:3] == [
        {"iteration": 1, "probe": False, "method": "forward", "stream": "stdout", "text": "chatty: forward (4, 5)"},
        {"iteration": 1, "probe": False, "method": "forward", "stream": "stdout", "text": output[2]["text"]}]
    assert output[-1]["probe"] and output[-1]["iteration"] == 4
    assert output[2]["text"].startswith("chatty: mean ")
    assert traced("chatty").python_layer("loss").output == []


def test_text_view_shows_a_layers_last_printed_lines_and_json_all_of_them(tmp_path):
    text = run_cli("trace", NETS / "chatty.prototxt", cwd=tmp_path).stdout
    assert "printed (last 5 of 9 lines, all in --format json):" in text
    assert "  4* forward  chatty: forward (4, 5)" in text
    data = json.loads(run_cli("trace", NETS / "chatty.prototxt", "--format", "json", cwd=tmp_path).stdout)
    chatty = next(p for p in data["python_layers"] if p["name"] == "chatty")
    assert len(chatty["output"]) == 9 and chatty["output"][0]["text"] == "chatty: factor 2.0"


def test_bwd_column_says_yes_for_every_layer_under_force_backward():
    layers = traced("identity_chain").layers
    assert [layer.needs_backward for layer in layers] == [True] * len(layers)


def test_caffes_own_python_layer_test_net_runs_clean():
    report = traced("caffe_python_net")
    assert report.ok and [f for f in report.findings if f.severity != "info"] == []
    assert [f.layer for f in report.findings_of("no_gradient_reaches")] == ["one", "two", "three"]


def test_abort_in_the_solver_update_is_the_updates_not_the_last_layers(tmp_path):
    import os
    import subprocess
    import sys

    from inspector.trace.attribution import ConstructionLog, culprit_after_construction
    from inspector.trace.marker import Marker

    marker = tmp_path / "marker"
    Marker.create(marker)
    script = (  # a solver under the tracer, as a training run has it; Caffe aborts in SGDSolver::Regularize
        "import sys, caffe\n"
        "from inspector.trace.tracer import Tracer\nfrom inspector.trace.marker import Marker\n"
        f"sys.path.insert(0, {str(NETS)!r})\n"
        f"solver = caffe.get_solver({str(NETS / 'solver_bad_regularization.prototxt')!r})\n"
        f"tracer = Tracer(lambda event: None, marker=Marker({str(marker)!r}))\n"
        "tracer.adopt(solver.net)\n"
        "tracer.attach_timers(solver.net, on_pass_end=lambda: None)\n"
        "tracer.watch_solver(solver)\n"
        "solver.step(1)\n")
    proc = subprocess.run([sys.executable, "-c", script], cwd=NETS, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, GLOG_minloglevel="0", GLOG_logtostderr="1"))
    assert proc.returncode < 0 and "Unknown regularization type: L3" in proc.stderr
    culprit = culprit_after_construction(ConstructionLog(started=True, initialized=True), Marker.read(marker))
    assert (culprit.layer, culprit.method, culprit.stage, culprit.iteration) == (None, "update", "solver update", 1)
