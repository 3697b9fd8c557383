"""inspector gradcheck: a layer's backward against central differences, on the net's own data.

How, in passes (Caffe's GradientChecker, include/caffe/test/test_gradient_check_util.hpp,
applied to one layer of a real net):

1. Build the net (trace.netload.build_net) and run it forward up to and including the layer, so
   its bottoms hold exactly what the net feeds it (a later in-place layer could overwrite them).
2. Work on the layer alone, on the net's own bottom/top blobs. A Python layer is driven through
   the user's object (`net.layers[i]`): reshape + forward, backward with a propagate_down of our
   choosing. A C++ layer goes through `net._forward(i, i)` / `net._backward(i, i)`, where Caffe
   decides propagate_down. Before every forward the bottoms are rewritten from a saved copy and
   numpy, `random` and Caffe are reseeded, as Caffe's checker reseeds, so layers that draw
   random numbers repeat themselves.
3. The objective is sum(top_data * top_diff) with a seeded random top diff, or, on a loss top,
   1.5 times its loss weight (Caffe puts the loss weight in a loss top's diff; a diff other than 1
   makes a backward that ignores top[0].diff fail). Backward gives the analytic gradient.
4. Which bottoms take a gradient, by this rule (the others are reported as skipped, with why):
   - `propagate_down: false` in the prototxt;
   - the backward raises when asked for it (it is retried without that bottom, last first);
     an error raised in inspector's own code is never put down to the backward;
   - it holds only whole numbers and its gradient is all zero, or its diff is left untouched
     (a sentinel survives): a label; for a C++ layer, an untouched diff means the net does not
     backpropagate into it.
   A Python layer's bottom of other values whose diff the backward leaves untouched is checked
   with a zero analytic gradient: to Caffe that is the gradient it gave, so `def backward(...):
   pass` fails against the numeric gradient.
   The layer's own blobs (self.blobs, a C++ layer's weights) are checked unless the backward
   leaves their diff untouched (for a C++ layer: lr_mult 0, or no loss above it).
5. Central differences on K sampled elements per blob (all of a small blob; seeded), divided by
   the step actually taken in float32. Caffe's rule: |analytic - numeric| <=
   threshold * max(|analytic|, |numeric|, 1).
6. Kinks. A perturbation can flip a discrete choice (which triplet is selected, which hinge is
   active) or cross a non-smooth point (|x| at 0). Instead of Caffe's fixed kink window:
   - a Python layer's discrete choices are its integer and boolean arrays after forward (index
     lists, masks, in its attributes); where a perturbation changes them, or changes a top's
     shape, the step is shrunk (x0.1, x0.01) until the choices hold; an element whose choices
     flip even then is a kink;
   - an element that fails the rule is a kink when the analytic gradient matches one of the two
     one-sided differences (the side that kept the structure); a wrong gradient matches neither.
   Kinks are counted and listed, not counted as failures.
7. Every blob's data and diff, and the layer's state, are restored (a last forward on the
   original inputs, then the saved arrays written back).

`gradcheck()` runs passes 1-7 in a child process (inspector.trace.gradcheck_child, over
trace.runner's event log), since a failed CHECK in Caffe ends the process it runs in. The child sends
what it is doing as "stage" events and the report as JSON; the parent rebuilds the report, or, when
the child dies, raises GradcheckCrash naming the stage, Caffe's "Check failed" line or the layer's
traceback. `check_layer()` is the same check in-process, on a net the caller built.
"""
from __future__ import annotations

import math
import random
import signal
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rich.table import Table
from rich.text import Text

from ..errors import CheckFailed, InputError
from ..shapes import shape_text
from .netinfo import python_layer_specs, require_layers
from .netload import (
    PHASES,
    build_net,
    existing_file,
    import_layer_class,
    put_layers_on_path,
)
from .tracebacks import is_inspector_file, is_user_file

DEFAULT_STEP = 1e-2
DEFAULT_THRESHOLD = 1e-2
DEFAULT_SAMPLES = 64
WORST_SHOWN = 10
# Written into diffs before a first backward to see which it leaves alone: a value no gradient takes
# everywhere, and small enough that a layer accumulating into the diff (+=) still changes it.
DIFF_SENTINEL = np.float32(0.3183099)

# A loss top's diff is its loss weight times this, not the weight alone: a backward that ignores top[0].diff
# is right when the diff is 1 and wrong otherwise (Caffe's GradientChecker uses top diffs other than 1 too).
LOSS_TOP_DIFF_FACTOR = 1.5
# Stages before the check proper: an error there is the net's or Caffe's, whoever's code raised it
BEFORE_THE_CHECK = ("importing", "building the net", "running the net forward")
UNTOUCHED_NOTE = "backward leaves its diff untouched: checked as a zero gradient"

OK, FAIL, KINK = "ok", "fail", "kink"
# Where --step flips a discrete choice, the step is shrunk by these factors before calling it a kink.
STEP_FACTORS = (1.0, 0.1, 0.01)


@dataclass
class ElementCheck:
    """One checked element: where it is, both gradients, and the verdict under Caffe's rule."""

    blob: str
    index: tuple[int, ...]
    value: float
    analytic: float
    numeric: float
    error: float  # |analytic - numeric|
    allowed: float  # threshold * max(|analytic|, |numeric|, 1)
    status: str  # ok | fail | kink
    step: float  # the step used: --step, or smaller where --step flipped a discrete choice
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.error / self.allowed

    def to_dict(self) -> dict:
        return {"blob": self.blob, "index": list(self.index), "value": self.value, "analytic": self.analytic,
                "numeric": self.numeric, "error": self.error, "allowed": self.allowed, "status": self.status,
                "step": self.step, "note": self.note}

    @classmethod
    def from_dict(cls, d: dict) -> ElementCheck:
        return cls(d["blob"], tuple(d["index"]), d["value"], d["analytic"], d["numeric"], d["error"], d["allowed"],
                   d["status"], d["step"], d["note"])


@dataclass
class BlobCheck:
    """A bottom or param blob of the layer: checked (how many elements, how many failed) or skipped."""

    label: str  # bottom[0] fc9_1 | blobs[1]
    role: str  # bottom | param
    shape: list[int]
    checked: int = 0
    failures: int = 0
    kinks: int = 0
    max_ratio: float = 0.0  # worst error / allowed over the checked elements
    # worst |analytic - numeric| / max(|analytic|, |numeric|) away from kinks: Caffe's floor of 1 in
    # the allowed error hides a wrong gradient that is small; this does not
    max_relative: float = 0.0
    skipped: str | None = None
    note: str = ""  # how a checked blob was checked, when it is not the plain way

    def to_dict(self) -> dict:
        return {"blob": self.label, "role": self.role, "shape": self.shape, "count": int(np.prod(self.shape)),
                "checked": self.checked, "failures": self.failures, "kinks": self.kinks,
                "max_ratio": self.max_ratio, "max_relative_error": self.max_relative, "skipped": self.skipped,
                "note": self.note}

    @classmethod
    def from_dict(cls, d: dict) -> BlobCheck:
        return cls(d["blob"], d["role"], d["shape"], d["checked"], d["failures"], d["kinks"], d["max_ratio"],
                   d["max_relative_error"], d["skipped"], d.get("note", ""))


@dataclass
class GradcheckReport:
    prototxt: Path
    layer: str
    layer_type: str
    phase: str
    step: float
    threshold: float
    samples: int
    seed: int
    top_diffs: list[str]  # per top: "random" or "loss weight 1"
    blobs: list[BlobCheck] = field(default_factory=list)
    elements: list[ElementCheck] = field(default_factory=list, repr=False)

    @property
    def failures(self) -> int:
        return sum(b.failures for b in self.blobs)

    @property
    def kinks(self) -> int:
        return sum(b.kinks for b in self.blobs)

    @property
    def checked(self) -> int:
        return sum(b.checked for b in self.blobs)

    @property
    def passed(self) -> bool:
        return self.failures == 0

    @property
    def worst(self) -> list[ElementCheck]:
        """Failures first, then kinks, then the rest, each by error over allowed error."""
        rank = {FAIL: 0, KINK: 1, OK: 2}
        return sorted(self.elements, key=lambda e: (rank[e.status], -e.ratio))[:WORST_SHOWN]

    def to_dict(self) -> dict:
        return {
            "prototxt": str(self.prototxt), "layer": self.layer, "layer_type": self.layer_type,
            "phase": self.phase, "step": self.step, "threshold": self.threshold, "samples": self.samples,
            "seed": self.seed, "top_diffs": self.top_diffs, "passed": self.passed, "checked": self.checked,
            "failures": self.failures, "kinks": self.kinks,
            "blobs": [b.to_dict() for b in self.blobs],
            "worst": [e.to_dict() for e in self.worst],
        }

    def to_message(self) -> dict:
        """The JSON view plus every checked element: what the child process sends back."""
        return {**self.to_dict(), "elements": [e.to_dict() for e in self.elements]}

    @classmethod
    def from_dict(cls, d: dict) -> GradcheckReport:
        """The report again, from to_message() (or from to_dict(), keeping only the worst elements)."""
        return cls(Path(d["prototxt"]), d["layer"], d["layer_type"], d["phase"], d["step"], d["threshold"],
                   d["samples"], d["seed"], d["top_diffs"], [BlobCheck.from_dict(b) for b in d["blobs"]],
                   [ElementCheck.from_dict(e) for e in d.get("elements", d["worst"])])

    def __rich_console__(self, console, options):
        yield Text(f"gradcheck {self.layer} ({self.layer_type}) in {self.prototxt.name}, {self.phase} phase: "
                   f"step {self.step:g}, threshold {self.threshold:g}, up to {self.samples} elements a blob, "
                   f"seed {self.seed}; top diffs: {', '.join(self.top_diffs)}")
        blobs = Table(title="blobs", title_justify="left")
        for column in ("blob", "shape", "checked", "failures", "kinks", "worst error/allowed",
                       "worst relative error", "note"):
            blobs.add_column(column, overflow="fold")
        for b in self.blobs:
            if b.skipped:
                blobs.add_row(Text(b.label), shape_text(b.shape), "-", "-", "-", "-", "-",
                              Text(f"skipped: {b.skipped}", style="dim"))
                continue
            failures = Text(str(b.failures), "red") if b.failures else "0"
            blobs.add_row(Text(b.label), shape_text(b.shape), str(b.checked), failures, str(b.kinks),
                          f"{b.max_ratio:.3g}", f"{b.max_relative:.3g}", Text(b.note))
        yield blobs
        worst = Table(title="worst elements", title_justify="left")
        for column in ("blob", "index", "value", "step", "analytic", "numeric", "error", "allowed", "status"):
            worst.add_column(column, justify="left" if column in ("blob", "index", "status") else "right")
        colour = {FAIL: "red", KINK: "yellow", OK: "green"}
        for e in self.worst:
            status = Text.assemble((e.status, colour[e.status]), f" ({e.note})" if e.note else "")
            worst.add_row(Text(e.blob), str(list(e.index)), f"{e.value:.4g}", f"{e.step:g}", f"{e.analytic:.6g}",
                          f"{e.numeric:.6g}", f"{e.error:.3g}", f"{e.allowed:.3g}", status)
        yield worst
        kinks = f", {self.kinks} at kinks (not counted as failures)" if self.kinks else ""
        if self.passed:
            yield Text.assemble(("PASS", "green"), f": {self.checked} elements within the threshold{kinks}.")
        else:
            yield Text.assemble(("FAIL", "red"), f": {self.failures} of {self.checked} elements off by more "
                                f"than the threshold{kinks}.")


class _PythonLayerRunner:
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


class _NetLayerRunner:
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


def _snapshot(blobs: list) -> list[tuple[tuple[int, ...], np.ndarray, np.ndarray]]:
    return [(tuple(b.data.shape), b.data.copy(), b.diff.copy()) for b in blobs]


def _restore(blobs: list, saved) -> None:
    for blob, (shape, data, diff) in zip(blobs, saved):
        if tuple(blob.data.shape) != shape:
            blob.reshape(*shape)
        blob.data[...] = data
        blob.diff[...] = diff


def _python_layer_names(net) -> list[str]:
    return [name for name, layer in zip(net._layer_names, net.layers) if layer.type == "Python"]


class _Checker:
    """One gradient check of one layer: the runner, the fixed inputs, the objective."""

    def __init__(self, caffe, net, index: int, seed: int, step: float, threshold: float):
        self.caffe, self.net, self.seed = caffe, net, seed
        self.step, self.threshold = step, threshold
        blobs = net._blobs
        self.bottom_ids, self.top_ids = list(net._bottom_ids(index)), list(net._top_ids(index))
        self.bottoms = [blobs[j] for j in self.bottom_ids]
        self.tops = [blobs[j] for j in self.top_ids]
        runner = _PythonLayerRunner if net.layers[index].type == "Python" else _NetLayerRunner
        self.runner = runner(net, index, self.bottoms, self.tops)
        self.params = self.runner.params
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
        self.runner.forward()
        if [tuple(t.data.shape) for t in self.tops] != self.top_shapes:
            return float("nan"), False
        objective = sum(float(np.sum(t.data.astype(np.float64) * d)) for t, d in zip(self.tops, self.top_diffs))
        return objective, True

    def choose_top_diffs(self, loss_weights: list[float]) -> list[str]:
        _reseed(self.seed, self.caffe)
        self.runner.forward()
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
        self.runner.backward(propagate_down)

    def differences(self, blob_data: np.ndarray, flat: int, write) -> _Differences:
        """Differences at one element, with the step shrunk while a perturbation flips a discrete choice."""
        for step in (self.step * factor for factor in STEP_FACTORS):
            found = self._differences_at(blob_data, flat, write, step)
            if found.changed is None:
                return found
        return found

    def _differences_at(self, blob_data: np.ndarray, flat: int, write, step: float) -> _Differences:
        flat_view = blob_data.reshape(-1)
        original = flat_view[flat]
        results = []
        for sign in (1, -1):
            flat_view[flat] = original + np.float32(sign * step)
            moved = float(flat_view[flat])
            write()
            objective, same_shape = self.forward()
            changed = None if same_shape else "a top changes shape"
            if changed is None and self.runner.discrete_state() != self.base_state:
                changed = "a discrete choice flips"
            results.append((objective, moved, changed))
        flat_view[flat] = original
        write()
        (plus, x_plus, changed_plus), (minus, x_minus, changed_minus) = results
        x, base = float(original), self.base_objective
        return _Differences(central=(plus - minus) / (x_plus - x_minus), right=(plus - base) / (x_plus - x),
                            left=(base - minus) / (x - x_minus), step=step, changed=changed_plus or changed_minus)


@dataclass
class _Differences:
    central: float
    right: float  # one-sided slopes, to recognise a kink the step straddles
    left: float
    step: float
    changed: str | None  # why the perturbation changed the layer's discrete structure, if it did


def _verdict(analytic: float, found: _Differences, threshold: float) -> tuple[float, float, str, str]:
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


class GradcheckCrash(CheckFailed):
    """The child process running the check died: the stage it was in and how (a Crash, as trace reports it)."""

    def __init__(self, message: str, remedy: str, stage: str | None, crash, details: str | None):
        super().__init__(message, remedy)
        self.stage, self.crash, self.details = stage, crash, details


def gradcheck(prototxt: Path, layer: str, step: float = DEFAULT_STEP, threshold: float = DEFAULT_THRESHOLD,
              samples: int = DEFAULT_SAMPLES, seed: int = 0, phase: str = "train",
              inputs: dict[str, Path] | None = None, timeout: float | None = None) -> GradcheckReport:
    """Check `layer`'s backward in the net of `prototxt` against central differences, in a child process;
    see the module doc. `inputs` fill the net's input blobs from .npy files (as trace's --input).
    A crash of Caffe or of the layer, `timeout` seconds passing or an interrupt raise GradcheckCrash."""
    from .runner import child_error, run_child, validate_timeout  # noqa: PLC0415

    prototxt = existing_file(Path(prototxt), "Net definition", "the NET argument")
    _layer_spec(prototxt, layer, phase, step, threshold, samples)  # bad input is exit 2 before any child starts
    validate_timeout(timeout)
    inputs = {blob: existing_file(Path(path), f"Input file for blob {blob!r}", "--input")
              for blob, path in (inputs or {}).items()}
    config = {"net": str(prototxt), "layer": layer, "step": step, "threshold": threshold, "samples": samples,
              "seed": seed, "phase": phase, "inputs": {blob: str(path) for blob, path in inputs.items()}}
    received: dict = {"stage": None, "report": None, "error": None, "exception": None}

    def on_event(line: str, event: dict) -> None:
        kind = event.get("event")
        if kind == "stage":
            received["stage"] = event["stage"]
        elif kind == "result":
            received["report"] = event["report"]
        elif kind in ("error", "exception"):
            received[kind] = event

    # INFO level: Caffe's log names the layer it was building if it aborts then
    child = run_child("inspector.trace.gradcheck_child", config, on_event, glog_level=0, timeout=timeout)
    if received["error"]:
        raise child_error(received["error"])
    if received["report"] is None:
        raise _crash_error(layer, received["stage"], child, received["exception"], prototxt, phase)
    return GradcheckReport.from_dict(received["report"])


def _layer_spec(prototxt: Path, layer: str, phase: str, step: float, threshold: float, samples: int):
    """The layer's LayerSpec in the prototxt, or an InputError for the options, the file or the layer name."""
    if not (0 < step < math.inf and 0 < threshold < math.inf) or samples <= 0:
        raise InputError(f"--step and --threshold must be positive finite numbers and --samples a positive count "
                         f"(got {step:g}, {threshold:g}, {samples}).",
                         "Try the defaults: --step 1e-2 --threshold 1e-2 --samples 64.")
    if phase not in PHASES:
        raise InputError(f"Unknown phase {phase!r}.", "Use --phase train or --phase test.")
    in_phase = require_layers(prototxt, phase)
    layer_spec = next((s for s in in_phase if s.name == layer), None)
    if layer_spec is None:
        python_layers = [s.name for s in in_phase if s.is_python]
        raise InputError(
            f"No layer named {layer!r} in {prototxt} ({phase} phase).",
            f"Python layers there: {', '.join(python_layers) or 'none'}. Pass one with --layer.")
    return layer_spec


def check_in_net(prototxt: Path, layer: str, step: float = DEFAULT_STEP, threshold: float = DEFAULT_THRESHOLD,
                 samples: int = DEFAULT_SAMPLES, seed: int = 0, phase: str = "train",
                 on_stage: Callable[[str], None] = lambda stage: None,
                 inputs: dict[str, Path] | None = None) -> GradcheckReport:
    """Build the net, run it forward up to the layer and check the layer, in this process (the child's job).
    on_stage hears what is about to run, for the report of a crash; `inputs` fill input blobs from .npy files."""
    prototxt = Path(prototxt)
    layer_spec = _layer_spec(prototxt, layer, phase, step, threshold, samples)
    put_layers_on_path(prototxt)
    for spec in python_layer_specs(prototxt, phase):
        python = spec.python
        assert python is not None  # python_layer_specs gives Python layers only
        # imported here first: inside Caffe's constructor a missing module is only "SystemError ... returned NULL"
        on_stage(f"importing Python layer {spec.name!r} ({python.module}.{python.layer})")
        import_layer_class(spec)
    on_stage("building the net")
    net = build_net(prototxt, phase=phase, seed=seed, inputs=inputs)
    index = list(net._layer_names).index(layer)
    on_stage(f"running the net forward up to layer {layer!r}")
    net._forward(0, index)  # up to the layer only: a later in-place layer could overwrite the layer's bottoms
    return check_layer(net, layer, step=step, threshold=threshold, samples=samples, seed=seed,
                       layer_spec=layer_spec, prototxt=prototxt, phase=phase, on_stage=on_stage)


def _crash_error(layer: str, stage: str | None, child, exception: dict | None, prototxt: Path,
                 phase: str) -> GradcheckCrash:
    """What the user reads when the child died: one line for what happened while doing what (the layer Caffe
    was building, when it was), then Caffe's "Check failed" line, or the traceback through the user's code
    (none of inspector's frames)."""
    from .attribution import NetWiring, blame, construction_culprit  # noqa: PLC0415
    from .report import Crash  # noqa: PLC0415

    doing = f" while {stage}" if stage else ""
    remedy = "Run `inspector trace` on the net to see the layer calls that lead to it."
    if exception is not None:
        crash = child.add_log(Crash("python_exception", child.returncode, layer, None, None,
                                    traceback=exception.get("text"), location=exception.get("location")))
        frames = exception.get("frames") or []
        checking = stage is not None and not stage.startswith(BEFORE_THE_CHECK)
        if checking and not any(is_user_file(f["file"]) for f in frames):  # the layer's code was not on the stack
            message = (f"inspector itself failed{doing} (gradcheck of {layer!r}): {exception['type']}: "
                       f"{exception['message']}; this is not your layer's fault.")
            return GradcheckCrash(message, "Please report it, with the output of `inspector --debug gradcheck ...`.",
                                  stage, crash, None)
        at = f" (raised at {crash.location})" if crash.location else ""
        message = (f"The gradcheck of {layer!r} stopped{doing}: "
                   f"{exception['type']}: {exception['message']}{at}.")
        return GradcheckCrash(message, remedy, stage, crash, crash.traceback)
    crash = child.add_log(Crash(child.abort_kind, child.returncode, layer, None, None))
    if crash.stopped:  # inspector ended it: past --timeout, or on a signal (exit 128 + its number)
        ended = (f"was still running after {crash.timeout:g} s" if crash.kind == "timeout"
                 else f"was interrupted ({crash.signal})")
        at = f" (at {crash.location})" if crash.location else ""
        error = GradcheckCrash(f"The gradcheck of {layer!r} {ended}{doing}{at}.", remedy, stage, crash, None)
        if crash.kind == "interrupted":
            error.exit_code = 128 + signal.Signals[crash.signal]
        return error
    construction = child.log.construction
    if construction.started and not construction.initialized:
        layer_types = {spec.name: spec.type for spec in require_layers(prototxt, phase)}
        culprit = construction_culprit(construction, crash.check_failed, layer_types, child.mark)
        crash.layer, crash.method, crash.stage = culprit.layer, culprit.method, culprit.stage
        crash.layer_type, crash.fed_by, crash.summary = blame(culprit, NetWiring.of(construction, [], layer_types),
                                                              construction, {})
        if crash.summary:
            doing += f" ({crash.summary})"
    if crash.check_failed:
        message = f"Caffe aborted the gradcheck of {layer!r}{doing} (exit code {child.returncode})."
        return GradcheckCrash(message, remedy, stage, crash, crash.check_failed)
    if child.returncode < 0:
        message = f"The process running the gradcheck of {layer!r} died of {_signal_name(-child.returncode)}{doing}."
    else:
        message = f"The gradcheck of {layer!r} ended without a result{doing} (exit code {child.returncode})."
    return GradcheckCrash(message, remedy, stage, crash, "\n".join(crash.log_tail[-15:]).strip() or None)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def check_layer(net, layer: str, step: float = DEFAULT_STEP, threshold: float = DEFAULT_THRESHOLD,
                samples: int = DEFAULT_SAMPLES, seed: int = 0, layer_spec=None, prototxt: Path | None = None,
                phase: str = "train", on_stage: Callable[[str], None] = lambda stage: None) -> GradcheckReport:
    """Check one layer of a built net whose bottoms already hold data; every blob is left as it was.

    `layer_spec` (the prototxt's LayerSpec) gives propagate_down and the bottom names as written;
    on_stage hears each step before it runs ("checking blob bottom[0] x").
    """
    import caffe  # noqa: PLC0415 - the net exists, so pycaffe is loaded

    names = list(net._layer_names)
    if layer not in names:
        raise InputError(f"No layer named {layer!r} in the net.",
                         f"Python layers there: {', '.join(_python_layer_names(net)) or 'none'}.")
    index = names.index(layer)
    checker = _Checker(caffe, net, index, seed, step, threshold)
    watched = checker.bottoms + checker.tops + checker.params
    saved = _snapshot(watched)
    report = GradcheckReport(prototxt=Path(prototxt or "<net>"), layer=layer, layer_type=net.layers[index].type,
                             phase=phase, step=step, threshold=threshold, samples=samples, seed=seed, top_diffs=[])
    try:
        loss_weights = [float(net._blob_loss_weights[j]) for j in checker.top_ids]
        on_stage(f"running {layer!r} forward to choose the top diffs")
        report.top_diffs = checker.choose_top_diffs(loss_weights)
        _check_blobs(report, checker, layer_spec, net, samples, seed, on_stage)
    finally:
        _restore(watched, saved)
        checker.inputs = [data for _, data, _ in saved[:len(checker.bottoms)]]
        try:  # the layer's own state (cached selections, normalisers) back to the original inputs
            checker.forward()
        finally:
            _restore(watched, saved)
    if not any(b.checked for b in report.blobs):
        reasons = "; ".join(f"{b.label}: {b.skipped}" for b in report.blobs) or "it has no bottoms and no blobs"
        raise InputError(f"Layer {layer!r} has nothing to check ({reasons}).",
                         "Give it a bottom that takes a gradient, or set `force_backward: true` in the prototxt.")
    return report


def _raised_by_users_code(exc: BaseException) -> bool:
    """Whether an exception came out of the user's code (a frame of theirs is on its stack), not inspector's alone."""
    return any(not is_inspector_file(frame.filename) for frame in traceback.extract_tb(exc.__traceback__))


def _check_blobs(report: GradcheckReport, checker: _Checker, layer_spec, net, samples: int, seed: int,
                 on_stage: Callable[[str], None]) -> None:
    bottom_names = [net._blob_names[j] for j in checker.bottom_ids]
    if layer_spec is not None and len(layer_spec.bottoms) == len(bottom_names):
        bottom_names = list(layer_spec.bottoms)  # as written, not Caffe's inserted split blobs
    checks = [BlobCheck(f"bottom[{k}] {name}", "bottom", list(b.data.shape))
              for k, (name, b) in enumerate(zip(bottom_names, checker.bottoms))]
    param_checks = [BlobCheck(f"blobs[{k}]", "param", list(b.data.shape)) for k, b in enumerate(checker.params)]
    report.blobs = checks + param_checks

    propagate_down = [True] * len(checker.bottoms)
    for k, wanted in enumerate(layer_spec.propagate_down[:len(checks)] if layer_spec is not None else []):
        if not wanted:
            propagate_down[k] = False
            checks[k].skipped = "propagate_down: false in the prototxt"

    # Pass 1: which bottom and param diffs the backward writes (a sentinel survives where it does not).
    on_stage(f"running {report.layer!r} backward to see which diffs it writes")
    checker.forward()
    while True:
        try:
            checker.backward(propagate_down, DIFF_SENTINEL)
            break
        except Exception as exc:
            if not _raised_by_users_code(exc):
                raise  # inspector's own failure: never put down to the layer's backward
            asked = [k for k, on in enumerate(propagate_down) if on]
            if not asked or not checker.runner.chooses_propagate_down:
                raise CheckFailed(f"{report.layer}.backward raised {type(exc).__name__}: {exc}",
                                  "Run `inspector trace` on the net to see the call that fails.") from exc
            propagate_down[asked[-1]] = False
            checks[asked[-1]].skipped = f"backward raises when asked for it ({type(exc).__name__})"
    untouched = [False] * len(checker.bottoms)  # a Python layer's bottoms its backward writes nothing to
    for k, blob in enumerate(checker.bottoms):
        if propagate_down[k] and not checker.in_place[k] and np.all(blob.diff == DIFF_SENTINEL):
            values = checker.inputs[k]
            if not checker.runner.chooses_propagate_down:
                propagate_down[k] = False
                checks[k].skipped = "the net does not backpropagate into it"
            elif np.all(values == np.round(values)):
                propagate_down[k] = False
                checks[k].skipped = "whole numbers its backward leaves untouched: a label"
            else:  # a gradient it never writes is a zero one to Caffe: checked, so `backward: pass` fails
                untouched[k] = True
                checks[k].note = UNTOUCHED_NOTE
    params_written = [not np.all(blob.diff == DIFF_SENTINEL) for blob in checker.params]
    for check, written in zip(param_checks, params_written):
        if not written:
            check.skipped = ("backward leaves its diff untouched" if checker.runner.chooses_propagate_down
                             else "Caffe computes no gradient for it (lr_mult 0, or no loss above the layer)")

    # Pass 2: the analytic gradients, into zeroed diffs.
    on_stage(f"running {report.layer!r} backward for the analytic gradients")
    checker.base_objective, _ = checker.forward()
    checker.base_state = checker.runner.discrete_state()
    checker.backward(propagate_down, np.float32(0))
    analytic = [np.zeros_like(blob.diff) if untouched[k] else blob.diff.copy()
                for k, blob in enumerate(checker.bottoms)]
    analytic_params = [blob.diff.copy() for blob in checker.params]
    for k in range(len(checker.bottoms)):
        values = checker.inputs[k]
        if propagate_down[k] and not untouched[k] and not np.any(analytic[k]) and np.all(values == np.round(values)):
            propagate_down[k] = False
            checks[k].skipped = "whole numbers with a zero gradient: a label"

    rng = np.random.default_rng(seed)
    targets = [(checks[k], analytic[k], checker.inputs[k], lambda: None)
               for k in range(len(checks)) if propagate_down[k]]
    for check, blob, grads, written in zip(param_checks, checker.params, analytic_params, params_written):
        if not written:
            continue
        data = blob.data.copy()

        def write_param(blob=blob, data=data):
            blob.data[...] = data

        targets.append((check, grads, data, write_param))
    for check, grads, data, write in targets:
        on_stage(f"checking blob {check.label}")
        count = data.size
        chosen = np.sort(rng.choice(count, size=samples, replace=False)) if count > samples else np.arange(count)
        for flat in chosen:
            flat = int(flat)
            value = float(data.reshape(-1)[flat])
            found = checker.differences(data, flat, write)
            grad = float(grads.reshape(-1)[flat])
            error, allowed, status, note = _verdict(grad, found, report.threshold)
            element = ElementCheck(check.label, tuple(int(i) for i in np.unravel_index(flat, data.shape)),
                                   value, grad, found.central, error, allowed, status, found.step, note)
            report.elements.append(element)
            check.checked += 1
            check.failures += status == FAIL
            check.kinks += status == KINK
            check.max_ratio = max(check.max_ratio, element.ratio)
            if status != KINK and error:
                check.max_relative = max(check.max_relative, error / max(abs(grad), abs(found.central)))
