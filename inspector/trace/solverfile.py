"""Solver prototxt files: recognised by their fields, read with Caffe's schema, prepared for a traced run.

- `is_solver_file` reads a prototxt with the project's tolerant reader (no Caffe needed): a solver names
  a net and learning settings and has no layers (NetSpec.is_solver).
- `solver_net_path` finds the net a solver names: relative to the solver's folder first (a solver kept
  beside its net), then to the current folder (Caffe's own rule, which BVLC's examples rely on).
- In the child, `read_solver_parameter` parses the file with caffe_pb2 (a field this Caffe does not know
  is bad input) and `prepared_solver_file` writes the copy the traced run uses: the net's path made
  absolute, snapshots and test nets off, so a short traced run neither overwrites the user's snapshots
  nor needs the test data. `solver_class` is pycaffe's class for the solver's `type` (or the legacy
  `solver_type` enum, upgraded as Caffe's UpgradeSolverType does).
- `LearningRate` is SGDSolver::GetLearningRate (src/caffe/solvers/sgd_solver.cpp) in Python, with its
  float32 and double arithmetic and the C library's powf and expf it calls, so the lr the report shows is
  the one the update used, to the last bit.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import math
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..phases import Phase
from ..prototxt import read_net
from .netinfo import net_spec

# the legacy `solver_type` enum and the `type` names Caffe upgrades it to (UpgradeSolverType)
LEGACY_SOLVER_TYPES = {"SGD": "SGD", "NESTEROV": "Nesterov", "ADAGRAD": "AdaGrad", "RMSPROP": "RMSProp",
                       "ADADELTA": "AdaDelta", "ADAM": "Adam"}


def is_solver_file(path: Path) -> bool:
    """Whether the prototxt at `path` is a solver (an unreadable file is left to the net's own checks)."""
    try:
        return read_net(path).is_solver
    except InputError:
        return False


def solver_net_path(solver: Path, named: str | None, inline: bool) -> tuple[Path, Path]:
    """The net file a solver trains, its `net:` (or `train_net:`) relative to the solver's folder, else to here;
    and that folder (the one the user runs the solver from)."""
    if named is None:
        if inline:
            raise InputError(f"{solver} holds its net inline (net_param); the training view needs it in a file.",
                             "Move the net to a .prototxt file and name it with net: \"FILE\".")
        raise InputError(f"{solver} names no net (no net: or train_net: field).",
                         "Add net: \"train.prototxt\" to the solver.")
    folders = list(dict.fromkeys((solver.parent.resolve(), Path.cwd().resolve())))
    for folder in folders:
        candidate = folder / named
        if candidate.is_file():
            return candidate.resolve(), folder
    places = " nor in ".join(str(folder) for folder in folders)
    raise InputError(f"{solver} names the net {named!r}, which is {'neither' if len(folders) > 1 else 'not'} in "
                     f"{places}.",
                     "Fix the solver's net: path (relative to the solver's folder), or run from the folder it is "
                     "relative to.")


def static_solver_net(solver: Path) -> tuple[Path, Path]:
    """solver_net_path from the tolerant reader's view of the file (the parent's check, before any child)."""
    message = read_net(solver).message
    named = message.get("net") or message.get("train_net")
    return solver_net_path(solver, None if named is None else str(named),
                           message.has("net_param") or message.has("train_net_param"))


def net_lr_mults(net: Path) -> dict[str, list[float]]:
    """Each train-phase layer's lr_mult per param blob, as its `param { lr_mult }` blocks give them."""
    return {layer.name: [p.lr_mult for p in layer.params] for layer in net_spec(net).layers_for(Phase.TRAIN)}


def read_solver_parameter(solver: Path):
    """The solver as caffe_pb2.SolverParameter, its legacy solver_type upgraded to type."""
    from caffe.proto import caffe_pb2  # noqa: PLC0415 - only once pycaffe is importable

    from .netinfo import read_caffe_text  # noqa: PLC0415

    param = read_caffe_text(solver, "SolverParameter", "solver")
    if param.HasField("solver_type"):
        if param.HasField("type"):
            raise InputError(f"{solver} sets both solver_type and type; Caffe refuses that.",
                             "Keep only type: \"SGD\" (or Nesterov, AdaGrad, RMSProp, AdaDelta, Adam).")
        param.type = LEGACY_SOLVER_TYPES[caffe_pb2.SolverParameter.SolverType.Name(param.solver_type)]
        param.ClearField("solver_type")
    return param


def prepared_solver_file(param, net: Path, folder: Path) -> Path:
    """Write the solver the traced run uses into `folder`: the net by its absolute path, no snapshots,
    no test nets (the training view runs the train net only)."""
    from google.protobuf import text_format  # noqa: PLC0415

    prepared = type(param)()
    prepared.CopyFrom(param)
    for name in ("net_param", "train_net", "train_net_param", "test_net", "test_net_param", "test_state",
                 "test_iter"):
        prepared.ClearField(name)
    prepared.net = str(net)
    prepared.test_interval = 0
    prepared.test_initialization = False
    prepared.snapshot = 0
    prepared.snapshot_after_train = False
    path = folder / "solver.prototxt"
    path.write_text(text_format.MessageToString(prepared))
    return path


def solver_class(caffe, solver_type: str):
    """pycaffe's solver class for a SolverParameter type ("SGD" -> caffe.SGDSolver)."""
    cls = getattr(caffe, f"{solver_type}Solver", None)
    if cls is None:
        known = sorted(name[:-len("Solver")] for name in dir(caffe) if name.endswith("Solver") and name != "Solver")
        raise InputError(f"Unknown solver type {solver_type!r}; this pycaffe has {', '.join(known)}.",
                         "Set type: to one of those in the solver.")
    return cls


_f32 = np.float32


class LearningRate:
    """SGDSolver::GetLearningRate: the rate the update at an iteration uses. Call it once per iteration, in
    order, as ApplyUpdate does: "multistep" counts its steps as it goes, like Caffe's current_step_."""

    POLICIES = ("fixed", "step", "exp", "inv", "multistep", "poly", "sigmoid")

    def __init__(self, param):
        self.policy = param.lr_policy
        if self.policy not in self.POLICIES:
            raise InputError(f"Unknown lr_policy {self.policy!r}; Caffe knows {', '.join(self.POLICIES)}.",
                             "Fix lr_policy in the solver.")
        self.base_lr, self.gamma, self.power = _f32(param.base_lr), _f32(param.gamma), _f32(param.power)
        self.stepsize, self.stepvalues, self.max_iter = param.stepsize, list(param.stepvalue), param.max_iter
        self.current_step = 0
        # GetLearningRate's own CHECKs: Caffe would abort at the first update
        if self.policy in ("step", "sigmoid") and self.stepsize <= 0:
            raise InputError(f"lr_policy {self.policy!r} needs stepsize > 0 (Caffe's CHECK_GT would abort).",
                             "Set stepsize in the solver.")
        if self.policy in ("step", "exp", "inv", "multistep", "sigmoid") and self.gamma < 0:
            raise InputError(f"lr_policy {self.policy!r} needs gamma >= 0, the solver has {param.gamma:g} "
                             "(Caffe's CHECK_GE would abort).", "Set gamma to 0 or more in the solver.")

    def __call__(self, iteration: int) -> float:
        # C++ overloads, as sgd_solver.cpp gets them: pow(float, int) computes in double, pow(float, float) and
        # exp(float) are the C library's powf and expf; the rate is stored as float32
        base, gamma, f32 = float(self.base_lr), self.gamma, _f32
        if self.policy == "fixed":
            return base
        if self.policy == "step":
            self.current_step = iteration // self.stepsize
            rate = base * math.pow(gamma, self.current_step)
        elif self.policy == "exp":
            rate = base * math.pow(gamma, iteration)
        elif self.policy == "inv":
            rate = self.base_lr * _powf(f32(1) + gamma * f32(iteration), -self.power)
        elif self.policy == "multistep":
            if self.current_step < len(self.stepvalues) and iteration >= self.stepvalues[self.current_step]:
                self.current_step += 1
            rate = base * math.pow(gamma, self.current_step)
        elif self.policy == "poly":
            rate = self.base_lr * _powf(f32(1) - f32(iteration) / f32(self.max_iter), self.power)
        else:  # sigmoid
            rate = self.base_lr * (f32(1) / (f32(1) + _expf(-gamma * (f32(iteration) - f32(self.stepsize)))))
        return float(f32(rate))


def _libm():
    """The C library's float functions (Caffe's pow(float, float) and exp(float)), or None where it is not found."""
    name = ctypes.util.find_library("m")
    if name is None:
        return None
    libm = ctypes.CDLL(name)
    for function in (libm.powf, libm.expf):
        function.restype = ctypes.c_float
    libm.powf.argtypes, libm.expf.argtypes = [ctypes.c_float, ctypes.c_float], [ctypes.c_float]
    return libm


_LIBM = _libm()


def _powf(x, y) -> np.float32:
    return _f32(_LIBM.powf(x, y)) if _LIBM else _f32(math.pow(x, y))


def _expf(x) -> np.float32:
    return _f32(_LIBM.expf(x)) if _LIBM else _f32(math.exp(x))
