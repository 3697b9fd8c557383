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

from conftest import SAMPLE_NETS, run_cli

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


def test_a_solver_caffe_refuses_is_a_crash_in_the_solver_not_in_a_layer(tmp_path):
    solver = regression_solver(tmp_path, solver_changes=[('lr_policy: "fixed"', 'lr_policy: "fixed"\ntype: "RMSProp"')])
    code, report = trace_json(solver)
    crash = report["crash"]
    assert code == 1 and crash["kind"] == "caffe_abort"
    assert (crash["layer"], crash["method"]) == ("RMSPropSolver", "setup")
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
    from inspector.trace.solverfile import LearningRate, read_solver_parameter

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
