"""The gradient check's passes over one layer of a built net, one function a pass (steps 2-6 of the
package doc, inspector.gradcheck).

The layer is driven through a driver: the user's object for a Python layer (PythonLayerDriver,
propagate_down ours to choose), the net for a C++ one (NetLayerDriver, Caffe decides). Checker holds the
fixed inputs and the objective sum(top_data * top_diff) (choose_top_diffs, step 3), and gives the
differences at one element with the step shrunk where it flips a discrete choice (step 6). run_passes
calls the passes in order:
1. blob_checks: a BlobCheck for each bottom (named as written) and param blob, propagate_down from the prototxt;
2. find_written_diffs: which diffs the backward writes (a sentinel survives where it does not), retrying
   without a bottom the backward raises for; labels and untouched bottoms decided (step 4);
3. analytic_gradients: backward into zeroed diffs (step 3);
4. numeric_pass: central differences on the sampled elements of a blob, check_element each (step 5);
5. verdict: Caffe's rule, and kinks told from failures by the one-sided slopes (steps 5 and 6).
"""
from __future__ import annotations

import random
import traceback
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import CheckFailed
from ..trace.netinfo import is_python_layer
from ..trace.tracebacks import without_inspector_frames
from .report import FAIL, KINK, OK, BlobCheck, ElementCheck, GradcheckReport

# Written into diffs before a first backward to see which it leaves alone: a value no gradient takes
# everywhere, and small enough that a layer accumulating into the diff (+=) still changes it.
DIFF_SENTINEL = np.float32(0.3183099)
# A loss top's diff is its loss weight times this, not the weight alone: a backward that ignores top[0].diff
# is right when the diff is 1 and wrong otherwise (Caffe's GradientChecker uses top diffs other than 1 too).
LOSS_TOP_DIFF_FACTOR = 1.5
UNTOUCHED_NOTE = "backward leaves its diff untouched: checked as a zero gradient"
# Where --step flips a discrete choice, the step is shrunk by these factors before calling it a kink.
STEP_FACTORS = (1.0, 0.1, 0.01)


class PythonLayerDriver:
    """Drives the user's layer object directly, so propagate_down is ours to choose."""

    chooses_propagate_down = True

    def __init__(self, net, index: int, bottoms: list, tops: list):
        self.layer = net.layers[index]
        self.bottoms, self.tops = bottoms, tops

    def forward(self) -> None:
        self.layer.reshape(self.bottoms, self.tops)
        self.layer.forward(self.bottoms, self.tops)

    def backward(self, propagate_down: list[bool]) -> None:
        self.layer.backward(self.tops, list(propagate_down), self.bottoms)

    @property
    def params(self) -> list:
        return list(self.layer.blobs)

    def discrete_state(self) -> tuple:
        """The layer's integer and boolean arrays (index lists, masks): the choices its forward made."""
        state = []
        for name, value in sorted(getattr(self.layer, "__dict__", {}).items()):
            items = value if isinstance(value, (tuple, list)) else (value,)
            if items and all(isinstance(v, np.ndarray) and v.dtype.kind in "biu" for v in items):
                state.append((name, tuple((v.dtype.str, v.shape, v.tobytes()) for v in items)))
        return tuple(state)


class NetLayerDriver:
    """Drives a C++ layer through the net; Caffe decides which bottoms get a gradient."""

    chooses_propagate_down = False

    def __init__(self, net, index: int, bottoms: list, tops: list):
        self.net, self.index = net, index

    def forward(self) -> None:
        self.net._forward(self.index, self.index)

    def backward(self, propagate_down: list[bool]) -> None:
        self.net._backward(self.index, self.index)

    @property
    def params(self) -> list:
        return list(self.net.layers[self.index].blobs)

    def discrete_state(self) -> tuple:
        return ()  # a C++ layer's choices are out of sight; its kinks are found by the one-sided slopes


def _reseed(seed: int, caffe) -> None:
    np.random.seed(seed)
    random.seed(seed)
    caffe.set_random_seed(seed)


def snapshot(blobs: list) -> list[tuple[tuple[int, ...], np.ndarray, np.ndarray]]:
    return [(tuple(b.data.shape), b.data.copy(), b.diff.copy()) for b in blobs]


def restore(blobs: list, saved) -> None:
    for blob, (shape, data, diff) in zip(blobs, saved):
        if tuple(blob.data.shape) != shape:
            blob.reshape(*shape)
        blob.data[...] = data
        blob.diff[...] = diff


class Checker:
    """One gradient check of one layer: the driver, the fixed inputs, the objective."""

    def __init__(self, caffe, net, index: int, seed: int, step: float, threshold: float):
        self.caffe, self.net, self.seed = caffe, net, seed
        self.step, self.threshold = step, threshold
        blobs = net._blobs
        self.bottom_ids, self.top_ids = list(net._bottom_ids(index)), list(net._top_ids(index))
        self.bottoms = [blobs[j] for j in self.bottom_ids]
        self.tops = [blobs[j] for j in self.top_ids]
        driver = PythonLayerDriver if is_python_layer(net.layers[index]) else NetLayerDriver
        self.driver = driver(net, index, self.bottoms, self.tops)
        self.params = self.driver.params
        self.in_place = [j in self.top_ids for j in self.bottom_ids]
        self.inputs = [b.data.copy() for b in self.bottoms]
        self.base_objective = float("nan")
        self.base_state: tuple = ()
        self.top_shapes: list[tuple[int, ...]] = []
        self.top_diffs: list[np.ndarray] = []

    def forward(self) -> tuple[float, bool]:
        """The objective on the current inputs, and whether every top kept its shape."""
        for blob, values in zip(self.bottoms, self.inputs):
            if tuple(blob.data.shape) != values.shape:
                blob.reshape(*values.shape)
            blob.data[...] = values
        _reseed(self.seed, self.caffe)
        self.driver.forward()
        if [tuple(t.data.shape) for t in self.tops] != self.top_shapes:
            return float("nan"), False
        objective = sum(float(np.sum(t.data.astype(np.float64) * d)) for t, d in zip(self.tops, self.top_diffs))
        return objective, True

    def choose_top_diffs(self, loss_weights: list[float]) -> list[str]:
        _reseed(self.seed, self.caffe)
        self.driver.forward()
        self.top_shapes = [tuple(t.data.shape) for t in self.tops]
        rng = np.random.default_rng(self.seed)
        described = []
        self.top_diffs = []
        for shape, weight in zip(self.top_shapes, loss_weights):
            if weight:
                self.top_diffs.append(np.full(shape, weight * LOSS_TOP_DIFF_FACTOR, dtype=np.float32))
                described.append(f"loss weight {weight:g} x {LOSS_TOP_DIFF_FACTOR:g}")
            else:
                self.top_diffs.append(rng.standard_normal(shape).astype(np.float32))
                described.append("random")
        return described

    def backward(self, propagate_down: list[bool], fill: np.float32) -> None:
        """Backward with the fixed top diffs, bottom and param diffs first set to `fill`."""
        for top, diff in zip(self.tops, self.top_diffs):
            top.diff[...] = diff
        for blob, asked, in_place in zip(self.bottoms, propagate_down, self.in_place):
            if asked and not in_place:
                blob.diff[...] = fill
        for blob in self.params:
            blob.diff[...] = fill  # zero in the real pass: Caffe layers accumulate param diffs
        self.driver.backward(propagate_down)

    def differences(self, blob_data: np.ndarray, flat: int, write) -> Differences:
        """Differences at one element, with the step shrunk while a perturbation flips a discrete choice."""
        for step in (self.step * factor for factor in STEP_FACTORS):
            found = self._differences_at(blob_data, flat, write, step)
            if found.changed is None:
                return found
        return found

    def _differences_at(self, blob_data: np.ndarray, flat: int, write, step: float) -> Differences:
        flat_view = blob_data.reshape(-1)
        original = flat_view[flat]
        results = []
        for sign in (1, -1):
            flat_view[flat] = original + np.float32(sign * step)
            moved = float(flat_view[flat])
            write()
            objective, same_shape = self.forward()
            changed = None if same_shape else "a top changes shape"
            if changed is None and self.driver.discrete_state() != self.base_state:
                changed = "a discrete choice flips"
            results.append((objective, moved, changed))
        flat_view[flat] = original
        write()
        (plus, x_plus, changed_plus), (minus, x_minus, changed_minus) = results
        x, base = float(original), self.base_objective
        return Differences(central=(plus - minus) / (x_plus - x_minus), right=(plus - base) / (x_plus - x),
                            left=(base - minus) / (x - x_minus), step=step, changed=changed_plus or changed_minus)


@dataclass
class Differences:
    central: float
    right: float  # one-sided slopes, to recognise a kink the step straddles
    left: float
    step: float
    changed: str | None  # why the perturbation changed the layer's discrete structure, if it did


def verdict(analytic: float, found: Differences, threshold: float) -> tuple[float, float, str, str]:
    def within(a: float, b: float) -> bool:
        return abs(a - b) <= threshold * max(abs(a), abs(b), 1.0)

    error = abs(analytic - found.central)
    allowed = threshold * max(abs(analytic), abs(found.central), 1.0)
    if found.changed:
        return error, allowed, KINK, f"{found.changed} within a step of {found.step:g}"
    if within(analytic, found.central):
        return error, allowed, OK, ""
    for side, slope in (("right", found.right), ("left", found.left)):
        if within(analytic, slope):
            return error, allowed, KINK, f"matches the {side}-side slope"
    return error, allowed, FAIL, ""


@dataclass
class BlobPlan:
    """What the passes decide about the layer's blobs: which bottoms take a gradient and how each is checked."""

    bottoms: list[BlobCheck]
    params: list[BlobCheck]
    propagate_down: list[bool]
    untouched: list[bool]  # a Python layer's bottoms its backward writes nothing to: checked as zero gradients
    params_written: list[bool]


def run_passes(report: GradcheckReport, checker: Checker, layer_spec, net, samples: int, seed: int,
               on_stage: Callable[[str], None]) -> None:
    """Passes 1-5 on a checker whose top diffs are chosen; the blobs and elements go into `report`."""
    plan = blob_checks(checker, layer_spec, net)
    report.blobs = plan.bottoms + plan.params
    on_stage(f"running {report.layer!r} backward to see which diffs it writes")
    find_written_diffs(plan, checker, report.layer)
    on_stage(f"running {report.layer!r} backward for the analytic gradients")
    analytic, analytic_params = analytic_gradients(plan, checker)
    rng = np.random.default_rng(seed)
    targets = [(plan.bottoms[k], analytic[k], checker.inputs[k], lambda: None)
               for k in range(len(plan.bottoms)) if plan.propagate_down[k]]
    for check, blob, grads, written in zip(plan.params, checker.params, analytic_params, plan.params_written):
        if not written:
            continue
        data = blob.data.copy()

        def write_param(blob=blob, data=data):
            blob.data[...] = data

        targets.append((check, grads, data, write_param))
    for check, grads, data, write in targets:
        on_stage(f"checking blob {check.label}")
        report.elements += numeric_pass(checker, check, grads, data, write, rng, samples)


def blob_checks(checker: Checker, layer_spec, net) -> BlobPlan:
    """Pass 1: a BlobCheck for each bottom (named as written, not as Caffe's inserted splits) and param blob;
    a bottom with `propagate_down: false` in the prototxt is skipped."""
    bottom_names = [net._blob_names[j] for j in checker.bottom_ids]
    if layer_spec is not None and len(layer_spec.bottoms) == len(bottom_names):
        bottom_names = list(layer_spec.bottoms)
    bottoms = [BlobCheck(f"bottom[{k}] {name}", "bottom", list(b.data.shape))
               for k, (name, b) in enumerate(zip(bottom_names, checker.bottoms))]
    params = [BlobCheck(f"blobs[{k}]", "param", list(b.data.shape)) for k, b in enumerate(checker.params)]
    propagate_down = [True] * len(checker.bottoms)
    for k, wanted in enumerate(layer_spec.propagate_down[:len(bottoms)] if layer_spec is not None else []):
        if not wanted:
            propagate_down[k] = False
            bottoms[k].skipped = "propagate_down: false in the prototxt"
    return BlobPlan(bottoms, params, propagate_down, [False] * len(bottoms), [True] * len(params))


def find_written_diffs(plan: BlobPlan, checker: Checker, layer: str) -> None:
    """Pass 2: which bottom and param diffs the backward writes (a sentinel survives where it does not); a
    bottom the backward raises for is skipped (retried without it, last first); untouched bottoms are labels
    (whole numbers), not backpropagated into (a C++ layer), or checked as zero gradients."""
    checker.forward()
    propagate_down, bottoms = plan.propagate_down, plan.bottoms
    while True:
        try:
            checker.backward(propagate_down, DIFF_SENTINEL)
            break
        except Exception as exc:
            if not raised_by_users_code(exc):
                raise  # inspector's own failure: never put down to the layer's backward
            asked = [k for k, on in enumerate(propagate_down) if on]
            if not asked or not checker.driver.chooses_propagate_down:
                raise CheckFailed(f"{layer}.backward raised {type(exc).__name__}: {exc}",
                                  "Run `inspector trace` on the net to see the call that fails.") from exc
            propagate_down[asked[-1]] = False
            bottoms[asked[-1]].skipped = f"backward raises when asked for it ({type(exc).__name__})"
    for k, blob in enumerate(checker.bottoms):
        if propagate_down[k] and not checker.in_place[k] and np.all(blob.diff == DIFF_SENTINEL):
            values = checker.inputs[k]
            if not checker.driver.chooses_propagate_down:
                propagate_down[k] = False
                bottoms[k].skipped = "the net does not backpropagate into it"
            elif np.all(values == np.round(values)):
                propagate_down[k] = False
                bottoms[k].skipped = "whole numbers its backward leaves untouched: a label"
            else:  # a gradient it never writes is a zero one to Caffe: checked, so `backward: pass` fails
                plan.untouched[k] = True
                bottoms[k].note = UNTOUCHED_NOTE
    plan.params_written = [not np.all(blob.diff == DIFF_SENTINEL) for blob in checker.params]
    for check, written in zip(plan.params, plan.params_written):
        if not written:
            check.skipped = ("backward leaves its diff untouched" if checker.driver.chooses_propagate_down
                             else "Caffe computes no gradient for it (lr_mult 0, or no loss above the layer)")


def raised_by_users_code(exc: BaseException) -> bool:
    """Whether an exception came out of the user's code (a frame of theirs is on its stack), not inspector's alone."""
    return bool(without_inspector_frames(traceback.TracebackException.from_exception(exc, lookup_lines=False)).stack)


def analytic_gradients(plan: BlobPlan, checker: Checker) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Pass 3: the analytic gradients of the bottoms and params, from a backward into zeroed diffs (zero for an
    untouched bottom); a bottom of whole numbers with an all-zero gradient is skipped as a label."""
    checker.base_objective, _ = checker.forward()
    checker.base_state = checker.driver.discrete_state()
    checker.backward(plan.propagate_down, np.float32(0))
    analytic = [np.zeros_like(blob.diff) if plan.untouched[k] else blob.diff.copy()
                for k, blob in enumerate(checker.bottoms)]
    analytic_params = [blob.diff.copy() for blob in checker.params]
    for k in range(len(checker.bottoms)):
        values = checker.inputs[k]
        if (plan.propagate_down[k] and not plan.untouched[k] and not np.any(analytic[k])
                and np.all(values == np.round(values))):
            plan.propagate_down[k] = False
            plan.bottoms[k].skipped = "whole numbers with a zero gradient: a label"
    return analytic, analytic_params


def numeric_pass(checker: Checker, check: BlobCheck, grads: np.ndarray, data: np.ndarray, write,
                 rng: np.random.Generator, samples: int) -> list[ElementCheck]:
    """Pass 4: `samples` elements of one blob (all of a smaller one, seeded) checked, the blob's counts kept."""
    count = data.size
    chosen = np.sort(rng.choice(count, size=samples, replace=False)) if count > samples else np.arange(count)
    elements = [check_element(checker, check.label, grads, data, int(flat), write) for flat in chosen]
    for element in elements:
        check.checked += 1
        check.failures += element.status == FAIL
        check.kinks += element.status == KINK
        check.max_ratio = max(check.max_ratio, element.ratio)
        if element.status != KINK and element.error:
            check.max_relative = max(check.max_relative,
                                     element.error / max(abs(element.analytic), abs(element.numeric)))
    return elements


def check_element(checker: Checker, label: str, grads: np.ndarray, data: np.ndarray, flat: int,
                  write) -> ElementCheck:
    """One element: central differences (the step shrunk where it flips a choice) against the analytic gradient."""
    value = float(data.reshape(-1)[flat])
    found = checker.differences(data, flat, write)
    grad = float(grads.reshape(-1)[flat])
    error, allowed, status, note = verdict(grad, found, checker.threshold)
    return ElementCheck(label, tuple(int(i) for i in np.unravel_index(flat, data.shape)),
                        value, grad, found.central, error, allowed, status, found.step, note)
