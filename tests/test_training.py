"""`inspector trace SOLVER.prototxt`: the training view, on the real Caffe, pycaffe's solvers and the sample solvers.

The test solver (tests/nets_training) trains a small regression net: a Python data layer, two InnerProducts
around a Python pass-through layer that can be told to write a NaN or an Inf at a late iteration, and a
EuclideanLoss. Variants are written to a temporary folder with one line of the net or solver changed.
"""
from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, SAMPLE_NETS, run_cli

pytestmark = pytest.mark.caffe

NETS = Path(__file__).resolve().parent / "nets_training"
TRIPLET_SOLVER = SAMPLE_NETS / "triplet" / "solver.prototxt"
FINETUNE_SOLVER = SAMPLE_NETS / "finetune" / "finetune_solver.prototxt"


@pytest.fixture(autouse=True)
def _needs_caffe(caffe):
    """Every test here runs the real Caffe."""


def regression_solver(folder: Path, net_changes=(), solver_changes=()) -> Path:
    """The test solver and its net copied into `folder`, each (old, new) text replaced once."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, changes in (("regression.prototxt", net_changes), ("solver.prototxt", solver_changes)):
        text = (NETS / name).read_text()
        for old, new in changes:
            assert old in text, old
            text = text.replace(old, new)
        (folder / name).write_text(text)
    shutil.copy(NETS / "traininglayers.py", folder)
    return folder / "solver.prototxt"


def breaks(at: int, method: str = "forward", value: str = "nan") -> tuple[str, str]:
    return "'at': -1", f"'at': {at}, 'method': '{method}', 'value': '{value}'"


def trace_json(*args, cwd=None) -> tuple[int, dict]:
    result = run_cli("trace", *map(str, args), "--format", "json", cwd=cwd)
    assert result.stdout.strip(), result.stderr
    return result.returncode, json.loads(result.stdout)


def warnings_of(report: dict, check: str) -> list[dict]:
    return [f for f in report["findings"] if f["check"] == check]


TRAINING_CHECKS = ("flat_loss", "update_ratio", "exploding_gradient", "dead_relu", "frozen_changed",
                   "nonfinite_training")


# ---- solver files ----

def test_a_solver_file_trains_its_net_with_iterations_numbered_as_caffe_does():
    code, report = trace_json(TRIPLET_SOLVER, "--iterations", 5)
    training = report["training"]
    assert code == 0 and report["ok"]
    assert [i["iteration"] for i in training["iterations"]] == [0, 1, 2, 3, 4]
    assert training["type"] == "SGD" and training["lr_policy"] == "step"
    assert training["net"] == str(SAMPLE_NETS / "triplet" / "train.prototxt")
    losses = [i["losses"]["loss"] for i in training["iterations"]]
    assert all(0 < loss < 1 for loss in losses) and losses[-1] < losses[0]  # the triplet loss falls
    assert all(i["wall_ms"] > 0 for i in training["iterations"])
    # the Python layers are traced as for a net: calls, with the solver's iteration numbers
    assert [c["method"] for c in report["python_layers"][2]["calls"] if c["iteration"] == 4 and not c["probe"]] \
        == ["reshape", "forward", "backward"]


def test_the_json_shape_is_the_one_the_issue_fixed():
    _, report = trace_json(TRIPLET_SOLVER, "--iterations", 3)
    training = report["training"]
    assert set(training["iterations"][0]) == {"iteration", "lr", "losses", "wall_ms"}
    assert list(training["layers"]) == ["ip1[0]", "ip1[1]", "ip2[0]", "ip2[1]", "fc9_1[0]", "fc9_1[1]"]
    for blob in training["layers"].values():
        assert {"update_ratio", "weight_norm", "grad_norm", "frozen"} <= set(blob)
        assert len(blob["update_ratio"]) == len(blob["weight_norm"]) == len(blob["grad_norm"]) == 3
        assert blob["frozen"] is False
    assert training["anomaly"] is None


def test_the_update_ratio_is_the_norm_of_the_change_over_the_norm_of_the_weights():
    _, report = trace_json(TRIPLET_SOLVER, "--iterations", 4)
    weights = report["training"]["layers"]["ip1[0]"]
    for k in range(3):
        assert 1e-4 < weights["update_ratio"][k] < 1e-1
        # ||w_{k+1}|| can differ from ||w_k|| by at most ||dw_k|| (the triangle inequality)
        assert abs(weights["weight_norm"][k + 1] - weights["weight_norm"][k]) <= \
            weights["update_ratio"][k] * weights["weight_norm"][k] * (1 + 1e-5)
    # a bias filled with zeros has no ratio at iteration 0 (||w|| = 0)
    assert report["training"]["layers"]["ip1[1]"]["update_ratio"][0] is None


def test_iterations_are_capped_by_the_solvers_max_iter(tmp_path):
    solver = regression_solver(tmp_path, solver_changes=[("max_iter: 1000", "max_iter: 3")])
    _, report = trace_json(solver, "--iterations", 10)
    assert [i["iteration"] for i in report["training"]["iterations"]] == [0, 1, 2]


def test_the_net_is_found_relative_to_the_solver_from_any_folder(tmp_path):
    solver = regression_solver(tmp_path / "model")
    code, report = trace_json(solver, "--iterations", 2, cwd=tmp_path.parent)
    assert code == 0 and report["training"]["net"] == str((tmp_path / "model" / "regression.prototxt").resolve())


def test_a_solver_whose_net_is_missing_is_bad_input(tmp_path):
    solver = regression_solver(tmp_path, solver_changes=[('net: "regression.prototxt"', 'net: "missing.prototxt"')])
    result = run_cli("trace", solver)
    assert result.returncode == 2
    assert "names the net 'missing.prototxt'" in result.stderr and "Traceback" not in result.stderr


def test_a_solver_caffe_refuses_is_a_crash_after_the_net_not_in_a_layer(tmp_path):
    solver = regression_solver(tmp_path, solver_changes=[('lr_policy: "fixed"', 'lr_policy: "fixed"\ntype: "RMSProp"')])
    code, report = trace_json(solver)
    crash = report["crash"]
    assert code == 1 and crash["kind"] == "caffe_abort"
    assert (crash["layer"], crash["stage"]) == (None, "after net construction")  # not the last Python layer called
    assert "Momentum cannot be used with RMSProp" in crash["check_failed"]


def test_an_lr_policy_caffe_would_abort_on_is_bad_input(tmp_path):
    solver = regression_solver(tmp_path, solver_changes=[('lr_policy: "fixed"', 'lr_policy: "exp"\ngamma: -0.5')])
    result = run_cli("trace", solver)
    assert result.returncode == 2 and "lr_policy 'exp' needs gamma >= 0" in result.stderr


def test_an_unknown_solver_type_is_bad_input(tmp_path):
    solver = regression_solver(tmp_path, solver_changes=[('lr_policy: "fixed"', 'lr_policy: "fixed"\ntype: "Lion"')])
    result = run_cli("trace", solver)
    assert result.returncode == 2 and "Unknown solver type 'Lion'" in result.stderr


def test_a_traced_run_writes_no_snapshot(tmp_path):
    solver = regression_solver(tmp_path, solver_changes=[("snapshot: 0", 'snapshot: 1\nsnapshot_prefix: "snap"')])
    code, _ = trace_json(solver, "--iterations", 3, cwd=tmp_path)
    assert code == 0 and not list(tmp_path.glob("snap*"))


@pytest.mark.parametrize("solver_type", ["SGD", "Nesterov", "AdaGrad", "RMSProp", "AdaDelta", "Adam"])
def test_every_solver_type_is_built_with_pycaffes_own_class(tmp_path, solver_type):
    extra = {"AdaGrad": "", "RMSProp": "rms_decay: 0.98\n", "AdaDelta": "delta: 1e-6\n", "Adam": "momentum2: 0.999\n"}
    changes = [('lr_policy: "fixed"', f'lr_policy: "fixed"\ntype: "{solver_type}"\n{extra.get(solver_type, "")}')]
    if solver_type in ("AdaGrad", "RMSProp"):  # Caffe refuses momentum with these
        changes.append(("momentum: 0.9\n", ""))
    if solver_type == "AdaDelta":
        changes.append(("base_lr: 0.01", "base_lr: 1.0"))
    code, report = trace_json(regression_solver(tmp_path, solver_changes=changes), "--iterations", 20)
    training = report["training"]
    losses = [i["losses"]["loss"] for i in training["iterations"]]
    assert code == 0 and training["type"] == solver_type
    assert sum(losses[-5:]) < sum(losses[:5])  # it trains


# ---- the learning rate ----

POLICIES = {
    "fixed": "",
    "step": "gamma: 0.5\nstepsize: 3\n",
    "exp": "gamma: 0.9\n",
    "inv": "gamma: 0.1\npower: 0.75\n",
    "multistep": "gamma: 0.3\nstepvalue: 2\nstepvalue: 5\nstepvalue: 6\n",
    "poly": "power: 2.0\n",
    "sigmoid": "gamma: 0.5\nstepsize: 4\n",
}
LOGGED_LR = re.compile(r"Iteration (\d+), lr = (\S+)")
LOG_SCRIPT = """
import sys
import caffe
caffe.set_mode_cpu()
solver = caffe.get_solver(sys.argv[1])
solver.step(int(sys.argv[2]))
"""


def policy_solver(folder: Path, policy: str) -> Path:
    changes = [('lr_policy: "fixed"', f'lr_policy: "{policy}"\n{POLICIES[policy]}'), ("display: 0", "display: 1"),
               ("max_iter: 1000", "max_iter: 10")]
    return regression_solver(folder / policy, solver_changes=changes)


@pytest.mark.parametrize("policy", list(POLICIES))
def test_the_lr_is_the_one_caffes_own_log_prints(tmp_path, policy):
    solver = policy_solver(tmp_path, policy)
    log = subprocess.run([sys.executable, "-c", LOG_SCRIPT, str(solver), "10"], cwd=solver.parent,
                         env={"GLOG_logtostderr": "1", "GLOG_minloglevel": "0", "PYTHONPATH": str(solver.parent),
                              "PATH": "/usr/bin:/bin"}, capture_output=True, text=True)
    logged = {int(it): float(lr) for it, lr in LOGGED_LR.findall(log.stderr)}
    assert sorted(logged) == list(range(10)), log.stderr[-2000:]
    _, report = trace_json(solver, "--iterations", 10)
    traced = {i["iteration"]: i["lr"] for i in report["training"]["iterations"]}
    for iteration, lr in logged.items():  # glog prints 6 significant digits
        assert float(f"{traced[iteration]:.6g}") == pytest.approx(lr, rel=1e-9, abs=0), (iteration, traced, logged)
    assert (len(set(logged.values())) > 1) == (policy != "fixed")  # the policy really moves the lr here


@pytest.mark.parametrize("policy", list(POLICIES))
def test_the_lr_mirror_equals_caffes_get_learning_rate_to_the_last_bit(tmp_path, policy, caffe, monkeypatch):
    from inspector.trace.learning_rate import LearningRate
    from inspector.trace.solverfile import read_solver_parameter

    solver_file = policy_solver(tmp_path, policy)
    monkeypatch.chdir(solver_file.parent)
    monkeypatch.syspath_prepend(str(solver_file.parent))
    solver = caffe.get_solver(str(solver_file))
    mirror = LearningRate(read_solver_parameter(solver_file))
    for iteration in range(10):
        # pycaffe's solver.lr calls SGDSolver::GetLearningRate at solver.iter, as ApplyUpdate does next
        assert mirror(iteration) == solver.lr, iteration
        solver.step(1)


# ---- the Python API ----

def test_the_api_on_a_solver_gives_the_same_training_view(caffe, monkeypatch):
    from inspector import trace

    folder = SAMPLE_NETS / "triplet"
    monkeypatch.chdir(folder)
    monkeypatch.syspath_prepend(str(folder))
    caffe.set_random_seed(0)
    solver = caffe.SGDSolver("solver.prototxt")
    with trace(solver, solver_file="solver.prototxt") as t:
        solver.step(3)
    training = t.report.training
    assert list(training.iteration) == [0, 1, 2] and list(training.lr) == [pytest.approx(0.05)] * 3
    assert training.lr_policy == "step" and [b.lr_mult for b in training.blobs] == [1.0] * 6
    assert t.report.to_dict()["training"]["iterations"][2]["iteration"] == 2
    with trace(solver) as t:  # without the file: the lr is pycaffe's solver.lr, at Caffe's next iterations
        solver.step(2)
    assert list(t.report.training.iteration) == [3, 4] and t.report.training.lr[0] == pytest.approx(0.05)


def test_the_api_stops_a_solver_at_the_first_nonfinite_value(tmp_path, caffe, monkeypatch):
    from inspector import trace
    from inspector.trace.training import TrainingStopped

    solver_file = regression_solver(tmp_path, net_changes=[breaks(4)])
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    solver = caffe.get_solver(str(solver_file))
    with pytest.raises(TrainingStopped, match="passthrough at iteration 4"):
        with trace(solver) as t:
            solver.step(10)
    assert solver.iter == 4  # the update carrying the NaN was never applied
    anomaly = t.report.training.anomaly
    assert (anomaly["layer"], anomaly["blob"], anomaly["method"], anomaly["iteration"]) == ("passthrough", "g",
                                                                                            "forward", 4)


# ---- losses, frozen blobs, fine-tuning ----

def test_every_net_output_is_recorded_per_iteration():
    _, report = trace_json(FINETUNE_SOLVER, "--iterations", 4)
    first = report["training"]["iterations"][0]["losses"]
    assert set(first) == {"loss", "accuracy"}
    assert first["loss"] > 0 and 0 <= first["accuracy"] <= 1


def test_frozen_blobs_are_shown_frozen_and_stay_unchanged():
    code, report = trace_json(FINETUNE_SOLVER, "--iterations", 6)
    layers = report["training"]["layers"]
    assert code == 0 and not warnings_of(report, "frozen_changed")
    for key in ("ip1[0]", "ip1[1]", "ip2[0]", "ip2[1]"):
        assert layers[key]["frozen"] is True and layers[key]["lr_mult"] == 0
        assert len(set(layers[key]["weight_norm"])) == 1  # not one bit moved
        assert all(r in (0.0, None) for r in layers[key]["update_ratio"])
    assert layers["fc_new[0]"]["frozen"] is False and min(layers["fc_new[0]"]["update_ratio"]) > 0


SCALE_LAYER = ("""layer: "BreaksLate" param_str: "{'at': -1}" }""", """layer: "Scale" param_str: "{'drift': 0.01}" }""")
FROZEN_PARAM = ('name: "passthrough" type: "Python" bottom: "h" top: "g"',
                'name: "passthrough" type: "Python" bottom: "h" top: "g" param { lr_mult: 0 }')


def test_a_frozen_blob_that_changes_is_an_error(tmp_path):
    code, report = trace_json(regression_solver(tmp_path, net_changes=[SCALE_LAYER, FROZEN_PARAM]), "--iterations", 3)
    [finding] = warnings_of(report, "frozen_changed")
    assert code == 1 and finding["severity"] == "error"
    assert (finding["layer"], finding["blob"], finding["iteration"]) == ("passthrough", "passthrough", 0)
    assert "lr_mult 0 (frozen) but changed by norm 0.01 since training began" in finding["message"]


def test_a_frozen_python_layer_blob_left_alone_is_silent(tmp_path):
    scale = (SCALE_LAYER[0], SCALE_LAYER[1].replace("0.01", "0.0"))
    code, report = trace_json(regression_solver(tmp_path, net_changes=[scale, FROZEN_PARAM]), "--iterations", 3)
    assert code == 0 and not warnings_of(report, "frozen_changed")
    assert report["training"]["layers"]["passthrough"]["frozen"] is True


def test_weights_are_loaded_for_fine_tuning(tmp_path, caffe, monkeypatch):
    import numpy as np

    folder = SAMPLE_NETS / "finetune"
    monkeypatch.chdir(folder)
    monkeypatch.syspath_prepend(str(folder))
    base = caffe.get_solver("base_solver.prototxt")
    base.step(5)
    weights = tmp_path / "base.caffemodel"
    base.net.save(str(weights))
    code, report = trace_json(FINETUNE_SOLVER, "--iterations", 3, "--weights", weights)
    assert code == 0 and {layer["name"]: layer["status"] for layer in report["finetune"]["layers"]}["ip1"] == "copied"
    norm = float(np.linalg.norm(base.net.params["ip1"][0].data))
    assert report["training"]["layers"]["ip1[0]"]["weight_norm"] == [pytest.approx(norm, rel=1e-5)] * 3


# ---- the first anomaly ----

def test_a_nan_written_late_in_forward_is_found_where_it_appeared(tmp_path):
    code, report = trace_json(regression_solver(tmp_path, net_changes=[breaks(70)]), "--iterations", 100)
    anomaly = report["training"]["anomaly"]
    assert code == 1 and not report["ok"]
    assert {k: anomaly[k] for k in ("layer", "blob", "method", "iteration", "kind")} == \
        {"layer": "passthrough", "blob": "g", "method": "forward", "iteration": 70, "kind": "nan"}
    # training stopped there: iteration 70 is the last, and what led to it is the layer's last finite state
    assert report["training"]["iterations"][-1]["iteration"] == 70
    assert math.isfinite(anomaly["last_finite"]["tops"]["g"])
    assert anomaly["last_finite"]["bottoms"]["h"]["min"] >= 0  # its bottom comes out of a ReLU
    [finding] = warnings_of(report, "nonfinite_training")
    assert finding["severity"] == "error" and finding["iteration"] == 70


def test_an_inf_written_in_backward_is_found_in_the_bottom_diff(tmp_path):
    solver = regression_solver(tmp_path, net_changes=[breaks(40, "backward", "inf")])
    code, report = trace_json(solver, "--iterations", 60)
    anomaly = report["training"]["anomaly"]
    assert code == 1
    assert (anomaly["layer"], anomaly["blob"], anomaly["part"], anomaly["method"], anomaly["iteration"],
            anomaly["kind"]) == ("passthrough", "h", "diff", "backward", 40, "inf")


def test_weights_blown_up_by_the_update_are_found_at_the_update(tmp_path):
    solver = regression_solver(tmp_path, solver_changes=[("base_lr: 0.01", "base_lr: 3e38")])
    code, report = trace_json(solver, "--iterations", 10)
    anomaly = report["training"]["anomaly"]
    assert code == 1
    assert (anomaly["method"], anomaly["iteration"], anomaly["part"], anomaly["kind"]) == ("update", 0, "data", "inf")
    assert anomaly["blob"] in report["training"]["layers"]
    # what led to it: this iteration's lr and the blob's norms before the update, all finite
    facts = anomaly["last_finite"]
    assert facts["params_iteration"] == 0 and facts["lr"] == pytest.approx(3e38, rel=1e-6)
    assert math.isfinite(facts["params"][anomaly["blob"]]["grad_norm"])


def test_without_statistics_the_anomaly_is_found_once_an_iteration_and_says_so(tmp_path):
    solver = regression_solver(tmp_path, net_changes=[breaks(30)])
    code, report = trace_json(solver, "--iterations", 60, "--no-stats")
    anomaly = report["training"]["anomaly"]
    assert code == 1 and anomaly["coarse"] is True and anomaly["iteration"] == 30
    assert (anomaly["layer"], anomaly["blob"], anomaly["kind"]) == ("loss", "loss", "nan")  # the first seen


def test_a_healthy_run_has_no_anomaly_and_no_training_warnings():
    for solver, iterations in ((TRIPLET_SOLVER, 60), (NETS / "solver.prototxt", 100)):
        code, report = trace_json(solver, "--iterations", iterations)
        assert code == 0 and report["training"]["anomaly"] is None
        assert [f for f in report["findings"] if f["check"] in TRAINING_CHECKS] == []


def test_pdb_opens_in_the_python_layers_frame_at_the_first_nan(tmp_path):
    solver = regression_solver(tmp_path, net_changes=[breaks(5)])
    result = subprocess.run([sys.executable, "-m", "inspector", "trace", str(solver), "--iterations", "10", "--pdb"],
                            input="p self.calls['forward'], top[0].data[0, 0]\nc\n", capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 1
    assert "forward left NaN in top[0].data" in result.stdout
    # in forward's frame as it returns, its locals there: the 6th forward call (iteration 5) wrote the NaN
    assert "traininglayers.py" in result.stdout and re.search(r"\(6, (np\.float32\()?nan", result.stdout)


# ---- warnings ----

FIXED_BATCH = ("'seed': 1}", "'seed': 1, 'fixed': True}")


def test_a_loss_that_never_moves_is_flat(tmp_path):
    solver = regression_solver(tmp_path, [FIXED_BATCH], [("base_lr: 0.01", "base_lr: 0")])
    _, report = trace_json(solver, "--iterations", 30)
    [flat] = warnings_of(report, "flat_loss")
    assert (flat["layer"], flat["iteration"]) == ("loss", 0) and "30 iterations" in flat["message"]
    below = warnings_of(report, "update_ratio")
    assert {w["blob"] for w in below} == {"ip1[0]", "ip1[1]", "ip2[0]"} and all("below" in w["message"] for w in below)


def test_a_fixed_batch_that_is_learned_is_not_flat(tmp_path):
    _, report = trace_json(regression_solver(tmp_path, [FIXED_BATCH]), "--iterations", 30)
    assert not warnings_of(report, "flat_loss")


def test_update_ratios_far_above_the_band_and_exploding_gradients_are_warned_about(tmp_path):
    solver = regression_solver(tmp_path, solver_changes=[("base_lr: 0.01", "base_lr: 0.2")])
    _, report = trace_json(solver, "--iterations", 11)
    above = {w["blob"]: w for w in warnings_of(report, "update_ratio")}
    assert above["ip1[0]"]["iteration"] == 0 and "stayed above 0.1" in above["ip1[0]"]["message"]
    exploding = {w["blob"]: w["iteration"] for w in warnings_of(report, "exploding_gradient")}
    assert exploding["ip1[0]"] == 9
    assert report["training"]["anomaly"] is None  # still finite: the NaN would come at iteration 12


def test_a_relu_whose_top_is_all_zero_is_dead(tmp_path):
    dead_bias = ('bias_filler { type: "constant" value: 0.1 }', 'bias_filler { type: "constant" value: -100 }')
    _, report = trace_json(regression_solver(tmp_path, [dead_bias]), "--iterations", 10)
    [dead] = warnings_of(report, "dead_relu")
    assert (dead["layer"], dead["iteration"]) == ("relu1", 0)


# ---- the text view ----

def test_a_long_run_stays_one_screen():
    result = run_cli("trace", TRIPLET_SOLVER, "--iterations", 300)
    assert result.returncode == 0
    training = result.stdout[result.stdout.index("training  "):result.stdout.index("findings")]
    assert len(training.splitlines()) < 25
    assert re.search(r"output loss +0\.2289 +\S+", training)  # first, last, ...
    assert "ip1[0]" in training and "falling" in training
    # each Python layer's call log keeps the first and the last iteration only
    assert "299 forward" in result.stdout and " 150 forward" not in result.stdout


# ---- pictures ----

def test_plot_draws_the_run_as_png_and_svg(tmp_path):
    png, svg = tmp_path / "run.png", tmp_path / "run.svg"
    assert run_cli("trace", TRIPLET_SOLVER, "--iterations", 20, "--plot", png).returncode == 0
    assert run_cli("trace", TRIPLET_SOLVER, "--iterations", 20, "--plot", svg).returncode == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_mode & 0o444 == 0o444  # readable as any new file, not the temporary's 0600
    drawing = svg.read_text()
    for label in ("output loss", "update ratio", "fc9_1[1]", "lr_policy step"):
        assert label in drawing, label
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.png", "run.svg"]  # no temporary left behind


def test_plot_marks_the_first_nonfinite_value(tmp_path):
    solver = regression_solver(tmp_path, net_changes=[breaks(12)])
    result = run_cli("trace", solver, "--iterations", 20, "--plot", tmp_path / "broken.svg")
    assert result.returncode == 1
    assert "first non-finite value at iteration 12: passthrough forward" in (tmp_path / "broken.svg").read_text()


def test_plot_to_an_unknown_format_is_bad_input_before_training(tmp_path):
    result = run_cli("trace", TRIPLET_SOLVER, "--plot", tmp_path / "run.pdf")
    assert result.returncode == 2 and "neither .png nor .svg" in result.stderr and not list(tmp_path.iterdir())


def test_plot_of_a_net_is_bad_input(tmp_path):
    result = run_cli("trace", SAMPLE_NETS / "triplet" / "train.prototxt", "--plot", tmp_path / "run.png")
    assert result.returncode == 2 and "is a net, not a solver" in result.stderr


def test_jsonl_streams_every_iteration_as_it_trains(tmp_path):
    out = tmp_path / "run.jsonl"
    result = run_cli("trace", TRIPLET_SOLVER, "--iterations", 4, "--format", "jsonl", "--out", out)
    events = [json.loads(line) for line in out.read_text().splitlines()]
    kinds = [e["event"] for e in events]
    assert result.returncode == 0 and kinds.index("training") < kinds.index("train_iteration")
    iterations = [e for e in events if e["event"] == "train_iteration"]
    assert [e["iteration"] for e in iterations] == [0, 1, 2, 3]
    params = next(e for e in events if e["event"] == "training")["params"]
    assert [p["key"] for p in params] == ["ip1[0]", "ip1[1]", "ip2[0]", "ip2[1]", "fc9_1[0]", "fc9_1[1]"]
    assert all(len(e["update_ratio"]) == len(params) for e in iterations)
    assert "done" in kinds and kinds[-1] == "end"


def test_the_report_names_the_seed_the_solver_sets():
    _, report = trace_json(TRIPLET_SOLVER, "--iterations", 1)
    assert report["seed"] == 1  # the sample solver's random_seed, not --seed's default 0


def test_a_loss_that_overflows_is_recorded_as_it_was(tmp_path):
    solver = regression_solver(tmp_path, solver_changes=[("base_lr: 0.01", "base_lr: 0.2")])
    _, report = trace_json(solver, "--iterations", 20)
    anomaly, last = report["training"]["anomaly"], report["training"]["iterations"][-1]
    assert (anomaly["layer"], anomaly["method"], anomaly["iteration"]) == ("loss", "forward", last["iteration"])
    # the value the loss layer wrote, not a zero for a pass not counted: strict JSON's null, named as Infinity
    pointer = f"/training/iterations/{len(report['training']['iterations']) - 1}/losses/loss"
    assert last["losses"]["loss"] is None and report["nonfinite"][pointer] == "Infinity"


def test_the_progress_bar_shows_the_iteration_and_the_current_loss():
    from inspector.trace.training_hooks import TrainingProgress

    bar = TrainingProgress(True, 5)
    with bar.context():
        bar.update({"iteration": 3, "losses": {"loss": 0.25, "accuracy": 0.5}})
        [task] = bar.progress.tasks
        assert task.completed == 1 and task.description == "iteration 3  loss 0.25, accuracy 0.5"


def test_graph_after_tracing_a_solver_draws_its_net(tmp_path):
    solver = regression_solver(tmp_path)
    assert run_cli("trace", solver, "--iterations", 1, cwd=tmp_path).returncode == 0
    result = run_cli("graph", cwd=tmp_path)
    assert result.returncode == 0 and "passthrough" in result.stdout and "16x16" in result.stdout


def test_an_accuracy_that_reaches_one_is_no_flat_loss():
    _, report = trace_json(SAMPLE_NETS / "finetune" / "base_solver.prototxt", "--iterations", 300)
    accuracy = [i["losses"]["accuracy"] for i in report["training"]["iterations"]]
    assert accuracy[-100:] == [1.0] * 100  # it really stays at 1
    assert not warnings_of(report, "flat_loss")


LOGGED_LOSS = re.compile(r"Iteration (\d+) \(.*\), loss = (\S+)")


@pytest.mark.parametrize("iter_size", [1, 2])
def test_the_losses_are_the_ones_caffes_own_log_prints(tmp_path, iter_size):
    changes = [("display: 0", f"display: 1\niter_size: {iter_size}"), ("max_iter: 1000", "max_iter: 8")]
    solver = regression_solver(tmp_path, solver_changes=changes)
    log = subprocess.run([sys.executable, "-c", LOG_SCRIPT, str(solver), "8"], cwd=solver.parent,
                         env={"GLOG_logtostderr": "1", "GLOG_minloglevel": "0", "PYTHONPATH": str(solver.parent),
                              "PATH": "/usr/bin:/bin"}, capture_output=True, text=True)
    logged = {int(it): float(loss) for it, loss in LOGGED_LOSS.findall(log.stderr)}  # average_loss 1: this step's
    assert sorted(logged) == list(range(8)), log.stderr[-2000:]
    _, report = trace_json(solver, "--iterations", 8)
    traced = {i["iteration"]: i["losses"]["loss"] for i in report["training"]["iterations"]}
    assert {it: float(f"{loss:.6g}") for it, loss in traced.items()} == pytest.approx(logged, rel=1e-9)


def test_the_legacy_solver_type_enum_is_upgraded_as_caffe_does(tmp_path):
    solver = regression_solver(tmp_path, solver_changes=[('lr_policy: "fixed"', 'lr_policy: "fixed"\nsolver_type: NESTEROV')])
    code, report = trace_json(solver, "--iterations", 2)
    assert code == 0 and report["training"]["type"] == "Nesterov"


def test_a_solver_with_its_net_inline_is_bad_input(tmp_path):
    solver = regression_solver(tmp_path, solver_changes=[('net: "regression.prototxt"', 'net_param { name: "x" }')])
    result = run_cli("trace", solver)
    assert result.returncode == 2 and "holds its net inline" in result.stderr


def test_input_files_are_refused_for_a_solver(tmp_path):
    (tmp_path / "x.npy").write_bytes(b"")
    result = run_cli("trace", regression_solver(tmp_path), "--input", f"x={tmp_path / 'x.npy'}")
    assert result.returncode == 2 and "--input is for nets" in result.stderr


def test_an_abort_in_the_solver_update_is_the_updates_in_the_command(tmp_path):
    result = run_cli("trace", REPO / "tests" / "nets_trace" / "solver_bad_regularization.prototxt", "--iterations", "2",
                     cwd=tmp_path)
    assert result.returncode == 1
    assert "CRASH (caffe_abort, exit code -6) during the solver update (iteration 0)" in result.stdout
    assert "Unknown regularization type: L3" in result.stdout
