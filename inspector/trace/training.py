"""The training recorder: what each solver iteration did, as events, and where the first non-finite value appeared.

How (one recorder on a pycaffe solver, in the traced child or in the Python API):
- The solver's own callbacks bracket an iteration: on_start (after Caffe cleared the param diffs) and
  on_gradients_ready (after forward and backward, before ApplyUpdate). At on_gradients_ready the
  recorder reads each net output (summed over the passes of iter_size, then averaged as Caffe does),
  the learning rate the update is about to use, and each learnable param blob's weight and gradient
  norms, and keeps a copy of the weights. After the update (the next on_start, or when step() returns)
  the change ||w_after - w_before|| over ||w_before|| is the update ratio; a frozen blob (lr_mult 0)
  is compared with its value when recording began instead: it must not have changed at all, whatever
  wrote it (the update, or a layer writing its own blobs). One "train_iteration" event carries the iteration.
- The first anomaly: with the search on, the net's after_forward and after_backward callbacks sum each
  top's data, each bottom's diff and each param's diff in float64 (a sum is finite exactly when every
  value is), so the first non-finite value is named by layer, blob, forward or backward, and iteration;
  the weights after an update are checked through their norms. The recorder then raises TrainingStopped
  from on_gradients_ready, so the update carrying the NaN is never applied and step() returns at once.
  Without the search (--no-stats) the losses, gradients and weights are checked once an iteration, and
  the anomaly says it was found at that grain.
- With a debugger asked for, a Python layer's forward or backward that leaves a non-finite value stops in
  pdb in its own frame, as it returns (sys.settrace, only for those methods' code).
- Norms come from float32 BLAS dot products; a non-finite result is worked out again in float64, so
  only a real NaN or Inf is called one.
"""
from __future__ import annotations

import math
import pdb as pdb_module
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import contract
from .netinfo import python_layers_of
from .stats import array_stats

_add, _vdot = np.add.reduce, np.vdot
_clock = time.perf_counter


class TrainingStopped(FloatingPointError):
    """Raised from the solver's callback at the first non-finite value: step() returns before the update."""


def norm(array: np.ndarray) -> float:
    """The L2 norm; NaN or Inf only when the array holds one (a float32 overflow of the squares is redone)."""
    square_sum = float(_vdot(array, array))
    if not square_sum < math.inf:
        wide = array.astype(np.float64).ravel()
        square_sum = float(np.dot(wide, wide))
    return math.sqrt(square_sum)


def nonfinite_kind(array: np.ndarray) -> str:
    return "nan" if np.isnan(array).any() else "inf"


def finite_sum(array: np.ndarray) -> float:
    """The float64 sum: finite exactly when every value is (float32 values cannot overflow it)."""
    return float(_add(array, None, np.float64))


@dataclass
class ParamBlob:
    """One learnable param blob of the net (a blob shared through `param { name }` is listed once, by its owner)."""

    key: str  # "ip1" for a layer's only blob, "ip1[0]", "ip1[1]" where a layer has several (as in net.params)
    layer: str
    index: int
    blob: Any  # pycaffe's Blob
    lr_mult: float | None  # from the net's prototxt; None when unknown (the API on a solver without its file)
    before: np.ndarray  # the weights before this iteration's update (a frozen blob's: when recording began)
    change: np.ndarray  # scratch for w_after - w_before
    shared_with: list[str] = field(default_factory=list)

    @property
    def frozen(self) -> bool:
        return self.lr_mult == 0

    def to_dict(self) -> dict:
        return {"key": self.key, "layer": self.layer, "index": self.index, "shape": list(self.blob.data.shape),
                "lr_mult": self.lr_mult, "frozen": self.frozen, "shared_with": self.shared_with}


def param_blobs(net, lr_mults: dict[str, list[float]] | None) -> list[ParamBlob]:
    """The net's learnable param blobs in layer order, each shared blob once."""
    owners: dict[int, ParamBlob] = {}
    blobs = []
    for name, layer in zip(net._layer_names, net.layers):
        count = len(layer.blobs)
        for j, blob in enumerate(layer.blobs):
            pointer = blob.data.__array_interface__["data"][0]
            if pointer in owners:
                if name not in owners[pointer].shared_with:
                    owners[pointer].shared_with.append(name)
                continue
            mults = (lr_mults or {}).get(name, []) if lr_mults is not None else None
            lr_mult = None if mults is None else (mults[j] if j < len(mults) else 1.0)
            # a frozen blob's `before` stays its value at the start: it must never move
            param = ParamBlob(name if count == 1 else f"{name}[{j}]", name, j, blob, lr_mult, blob.data.copy(),
                              np.empty_like(blob.data))
            owners[pointer] = param
            blobs.append(param)
    return blobs


@dataclass
class IterationValues:
    """What one iteration measured, before the update is known."""

    iteration: int
    started: float
    lr: float | None = None
    losses: dict[str, float] = field(default_factory=dict)
    weight_norm: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)


class TrainingRecorder:
    """Records a solver's iterations as events (see the module docstring); attach() once, then train."""

    def __init__(self, solver, emit: Callable[[dict], None], learning_rate: Callable[[int], float] | None,
                 lr_mults: dict[str, list[float]] | None, search: bool = True, debug: bool = False,
                 on_iteration: Callable[[int], None] | None = None):
        self.solver = solver
        self.net = solver.net
        self.emit = emit
        # the lr: Caffe's GetLearningRate mirrored from the solver file, else pycaffe's solver.lr (Caffe's own)
        self.learning_rate = learning_rate or (lambda _iteration: float(solver.lr))
        self.search = search
        self.debug = debug
        self.on_iteration = on_iteration
        self.active = True
        self.params = param_blobs(self.net, lr_mults)
        self.anomaly: dict | None = None
        self.current: IterationValues | None = None  # begun, its update not yet recorded
        self.iterations = 0
        net = self.net
        self.layer_names = list(net._layer_names)
        self.layer_types = [layer.type for layer in net.layers]
        self.blob_names = list(net._blob_names)
        self.blobs = list(net._blobs)
        self.top_ids = [list(net._top_ids(i)) for i in range(len(self.layer_names))]
        self.bottom_ids = [list(net._bottom_ids(i)) for i in range(len(self.layer_names))]
        self.outputs = [(self.blob_names[i], self.blobs[i]) for i in net._outputs]
        self.output_sums = [0.0] * len(self.outputs)
        self.passes = 0
        self.relus = {i for i, kind in enumerate(self.layer_types) if kind == "ReLU"}
        self.zero_relus: list[str] = []  # ReLU layers whose top was all zero in this iteration
        self.top_means: dict[int, dict[str, float]] = {}  # by layer: its tops' means when last finite
        self.last_params: dict | None = None  # the last recorded iteration's per-blob values
        self.frozen_reported: set[str] = set()
        self._debugger = PythonLayerDebugger(self) if debug else None

    # -- wiring --
    def attach(self) -> None:
        """Register the solver's and the net's callbacks (Caffe keeps them; they do nothing once inactive)."""
        self.solver.add_callback(self.on_start, self.on_gradients_ready)
        self.net.after_forward(self._after_forward)
        if self.search:
            self.net.after_backward(self._after_backward)
        if self._debugger is not None:
            self._debugger.install()

    def describe(self, **solver_facts) -> None:
        """The "training" event: the solver's facts, the param blobs and the net outputs, before iteration 0."""
        weights = list(self.net._blob_loss_weights)
        losses = [name for name in (name for name, _ in self.outputs) if weights[self.blob_names.index(name)]]
        self.emit({"event": "training", **solver_facts, "search": self.search,
                   "params": [p.to_dict() for p in self.params], "outputs": [name for name, _ in self.outputs],
                   "loss_outputs": losses})

    # -- the solver's callbacks --
    def on_start(self) -> None:
        if not self.active:
            return
        if self.current is not None:  # the API: the previous step's update is done by now
            self.finish_iteration()
        iteration = int(self.solver.iter)
        if self.on_iteration is not None:
            self.on_iteration(iteration)
        self.current = IterationValues(iteration, _clock())
        self.output_sums = [0.0] * len(self.outputs)
        self.passes = 0
        self.zero_relus = []

    def on_gradients_ready(self) -> None:
        current = self.current
        if not self.active or current is None:
            return
        passes = max(self.passes, 1)
        current.losses = {name: total / passes for (name, _), total in zip(self.outputs, self.output_sums)}
        current.lr = self.learning_rate(current.iteration)
        for param in self.params:
            blob = param.blob
            weights = blob.data
            current.weight_norm.append(norm(weights))
            current.grad_norm.append(norm(blob.diff))
            if not param.frozen:
                np.copyto(param.before, weights)
        if self.anomaly is None and not self.search:
            self._check_iteration(current)
        if self.anomaly is not None:
            raise TrainingStopped(self.anomaly_text())

    def finish_iteration(self, updated: bool = True) -> None:
        """Record the iteration begun last, its update applied (`updated`) or not (stopped before it)."""
        current, self.current = self.current, None
        if current is None:
            return
        update_ratio: list[float | None] = []
        for j, param in enumerate(self.params):
            if not updated or j >= len(current.weight_norm):
                update_ratio.append(None)
                continue
            weights = param.blob.data
            np.subtract(weights, param.before, out=param.change)
            change = norm(param.change)
            before = current.weight_norm[j]
            update_ratio.append(change / before if before > 0 else None)
            if param.frozen and change != 0 and param.key not in self.frozen_reported:
                self.frozen_reported.add(param.key)
                self.emit(contract.finding("frozen_changed", param.layer, "update", current.iteration, param.key,
                                           change=change))
        wall_ms = (_clock() - current.started) * 1e3
        values = {"weight_norm": current.weight_norm, "grad_norm": current.grad_norm, "update_ratio": update_ratio}
        self.last_params = {"iteration": current.iteration, "lr": current.lr, **values}
        if self.anomaly is None and updated:  # the weights after the update: its norms and gradients led to it
            broken = next((p for p, ratio in zip(self.params, update_ratio)
                           if ratio is not None and not math.isfinite(ratio)), None)
            if broken is not None:
                self._set_anomaly(broken.layer, broken.key, "data", "update", current.iteration,
                                  nonfinite_kind(broken.blob.data))
        self.iterations += 1
        self.emit({"event": "train_iteration", "iteration": current.iteration, "lr": current.lr,
                   "losses": current.losses, "wall_ms": round(wall_ms, 4), **values, "zero_relus": self.zero_relus})

    def end(self) -> None:
        """Stop recording: the last iteration is finished and the "training_end" event sent."""
        if self.current is not None:
            self.finish_iteration(updated=self.anomaly is None)
        self.active = False
        if self._debugger is not None:
            self._debugger.remove()
        self.emit({"event": "training_end", "iterations_run": self.iterations,
                   "stopped_at_anomaly": self.anomaly is not None})

    # -- the net's callbacks: outputs, dead ReLUs, the first non-finite value --
    def _after_forward(self, i: int) -> None:
        if not self.active or self.current is None:
            return
        if self.search and self.anomaly is None:
            means = {}
            for j in self.top_ids[i]:
                data = self.blobs[j].data
                total = finite_sum(data)
                if not math.isfinite(total):  # the pass goes on: the outputs below are still read
                    self._set_anomaly(self.layer_names[i], self.blob_names[j], "data", "forward",
                                      self.current.iteration, nonfinite_kind(data), layer_index=i)
                    break
                means[self.blob_names[j]] = total / data.size if data.size else 0.0
            else:
                self.top_means[i] = means
        if i in self.relus:
            blob = self.blobs[self.top_ids[i][0]]
            if not np.count_nonzero(blob.data) and blob.count:
                self.zero_relus.append(self.layer_names[i])
        if i == len(self.layer_names) - 1:
            self.passes += 1
            for k, (_, blob) in enumerate(self.outputs):
                data = blob.data
                self.output_sums[k] += float(data.flat[0]) if data.size == 1 else finite_sum(data) / max(data.size, 1)

    def _after_backward(self, i: int) -> None:
        if not self.active or self.current is None or self.anomaly is not None:
            return
        name, iteration = self.layer_names[i], self.current.iteration
        for j in self.bottom_ids[i]:
            diff = self.blobs[j].diff
            if not math.isfinite(finite_sum(diff)):
                self._set_anomaly(name, self.blob_names[j], "diff", "backward", iteration, nonfinite_kind(diff),
                                  layer_index=i)
                return
        for param in self.params:
            if param.layer == name:
                diff = param.blob.diff
                if not math.isfinite(finite_sum(diff)):
                    self._set_anomaly(name, param.key, "diff", "backward", iteration, nonfinite_kind(diff),
                                      layer_index=i)
                    return

    def _check_iteration(self, current: IterationValues) -> None:
        """Without the search: the losses, then the gradients, checked once the iteration's backward is done."""
        for name, value in current.losses.items():
            if not math.isfinite(value):
                producer = next((self.layer_names[i] for i in range(len(self.layer_names) - 1, -1, -1)
                                 if self.blob_names.index(name) in self.top_ids[i]), name)
                self._set_anomaly(producer, name, "data", "forward", current.iteration,
                                  "nan" if math.isnan(value) else "inf", coarse=True)
                return
        for param, grad in zip(self.params, current.grad_norm):
            if not math.isfinite(grad):
                self._set_anomaly(param.layer, param.key, "diff", "backward", current.iteration,
                                  nonfinite_kind(param.blob.diff), coarse=True)
                return

    # -- the anomaly --
    def _set_anomaly(self, layer: str, blob: str, part: str, method: str, iteration: int, kind: str,
                     layer_index: int | None = None, coarse: bool = False) -> None:
        self.anomaly = {"layer": layer, "blob": blob, "method": method, "iteration": iteration, "kind": kind,
                        "part": part, "coarse": coarse, "last_finite": self._last_finite(layer, layer_index)}
        self.emit({"event": "training_anomaly", **self.anomaly})
        self.emit(contract.finding("nonfinite_training", layer, method, iteration, blob, **self._anomaly_words()))

    def anomaly_text(self) -> str:
        """The nonfinite_training message of the anomaly."""
        a = self.anomaly or {}
        return contract.check("nonfinite_training").text(layer=a.get("layer"), blob=a.get("blob"),
                                                         iteration=a.get("iteration"), **self._anomaly_words())

    def _anomaly_words(self) -> dict:
        """The anomaly's fields of the nonfinite_training message beside layer, blob and iteration."""
        a = self.anomaly or {}
        kind = contract.KIND_TEXT.get(str(a.get("kind")), "?")
        what = {"forward": f"forward wrote {kind} to", "backward": f"backward wrote {kind} to",
                "update": f"the solver's update left {kind} in"}[a.get("method", "forward")]
        grain = " (checked once an iteration, without --no-stats the first layer is named)" if a.get("coarse") else ""
        return {"what": what, "part": a.get("part"), "grain": grain}

    def _last_finite(self, layer: str, layer_index: int | None) -> dict:
        """What led to it: the layer's tops when last finite, its bottoms now, its params in the last iteration."""
        facts: dict = {"tops": self.top_means.get(layer_index, {}) if layer_index is not None else {}}
        if layer_index is not None:
            bottoms = {}
            for j in self.bottom_ids[layer_index]:
                if j not in self.top_ids[layer_index]:  # an in-place bottom is the top it broke
                    stats = array_stats(self.blobs[j].data)
                    if not (stats["nan"] or stats["inf"]):
                        bottoms[self.blob_names[j]] = {k: stats[k] for k in ("min", "max", "mean", "std")}
            facts["bottoms"] = bottoms
        if self.last_params is not None:
            facts["params_iteration"], facts["lr"] = self.last_params["iteration"], self.last_params["lr"]
            facts["params"] = {p.key: {name: self.last_params[name][j] for name in
                                       ("weight_norm", "grad_norm", "update_ratio")}
                               for j, p in enumerate(self.params) if p.layer == layer}
        return facts


class PythonLayerDebugger:
    """pdb in a Python layer's own frame when its forward or backward returns having left a NaN or Inf
    (forward: in its tops' data, backward: in its bottoms' diffs). sys.settrace follows only those methods."""

    def __init__(self, recorder: TrainingRecorder):
        self.recorder = recorder
        self.codes: dict = {}  # code object -> "forward" | "backward"
        for _, _, layer in python_layers_of(recorder.net):
            for method in ("forward", "backward"):
                function = getattr(type(layer), method, None)
                function = getattr(function, "__wrapped__", function)  # the user's method, not the tracer's wrapper
                if function is not None and hasattr(function, "__code__"):
                    self.codes[function.__code__] = method
        self.opened = False
        self._previous: Any = None  # the trace function there was (a debugger's, a coverage tool's)

    def install(self) -> None:
        self._previous = sys.gettrace()
        sys.settrace(self._on_call)

    def remove(self) -> None:
        sys.settrace(self._previous)

    def _on_call(self, frame, event, arg):
        if event == "call" and frame.f_code in self.codes and not self.opened and self.recorder.active:
            frame.f_trace_lines = False
            return self._on_return
        return None

    def _on_return(self, frame, event, arg):
        if event != "return" or self.opened:
            return None
        method = self.codes[frame.f_code]
        names = frame.f_code.co_varnames
        written = frame.f_locals.get(names[2] if method == "forward" else names[3])
        part = "data" if method == "forward" else "diff"
        for i in range(len(written) if written is not None else 0):
            values = getattr(written[i], part)
            if not math.isfinite(finite_sum(values)):
                self.opened = True
                side = "top" if method == "forward" else "bottom"
                print(f"inspector: {method} left {contract.KIND_TEXT[nonfinite_kind(values)]} in {side}[{i}].{part}; "
                      f"pdb in the layer's frame as it returns (iteration {self.recorder.current.iteration}).",
                      flush=True)
                debugger = pdb_module.Pdb()
                debugger.reset()
                debugger.interaction(frame, None)
                sys.settrace(None)
                return None
        return None
