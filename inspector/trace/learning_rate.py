"""SGDSolver::GetLearningRate (src/caffe/solvers/sgd_solver.cpp) in Python, with its float32 and double
arithmetic and the C library's powf and expf it calls, so the lr the report shows is the one the update used,
to the last bit. Used in the child that runs the solver (with numpy), so inspector's own process does not
load numpy to read a solver file."""
from __future__ import annotations

import ctypes
import ctypes.util
import math

import numpy as np

from ..errors import InputError

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
