"""Instrument a caffe.Net: every Python layer call recorded, every layer timed, as a stream of events.

How:
- Python layers: PythonLayer (C++) looks `setup`, `reshape`, `forward` and `backward` up on the
  layer object at each call, so replacing them on the class (before the net is built, to see
  setup) or on the instances (an already built net) puts a recording wrapper in front of the
  user's method. `param_str` becomes a tracked property for the same span, so reads of it (and
  of `param_str_`, a fork's name this Caffe never sets) are seen. Everything is restored after.
- All layers: Net's before/after forward/backward callbacks (pycaffe's net.before_forward and
  friends) time each layer. Caffe offers no way to remove a callback, so they stay registered
  and do nothing once tracing stops.
- Each call becomes a "call" event (shapes, dtypes, wall time, statistics, propagate_down) sent
  to `emit`; the contract checks that need the call's data run inside the wrapper and send
  "finding" events. Before each call the layer and method are written to a Marker, so that when
  Caffe aborts the process the parent still knows what was running.
"""
from __future__ import annotations

import inspect
import mmap
import pdb as pdb_module
import struct
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .netinfo import data_pointer

METHODS = ("setup", "reshape", "forward", "backward")
FLOAT32_EXACT_INTEGER = 2 ** 24  # larger integers do not survive Caffe's cast to float32


# ---- statistics ----

def array_stats(array: np.ndarray) -> dict:
    """min, max, mean, std and the NaN and Inf counts of a blob's data or diff.

    Few numpy calls on the common all-finite path (the sum doubles as the NaN/Inf test, a dot
    product of the centred values gives the variance), since this runs on every blob of every call.
    """
    values = array.reshape(-1)
    if values.size == 0:
        return {"min": None, "max": None, "mean": None, "std": None, "nan": 0, "inf": 0}
    total = float(values.sum(dtype=np.float64))
    nan = inf = 0
    if not np.isfinite(total):
        finite_mask = np.isfinite(values)
        nan = int(np.isnan(values).sum())
        inf = int(values.size - finite_mask.sum() - nan)
        values = values[finite_mask]
        if values.size == 0:
            return {"min": None, "max": None, "mean": None, "std": None, "nan": nan, "inf": inf}
        total = float(values.sum(dtype=np.float64))
    mean = total / values.size
    centred = values - values.dtype.type(mean)  # centred first: E[x^2] - mean^2 cancels badly in float32
    return {"min": float(values.min()), "max": float(values.max()), "mean": mean,
            "std": (float(np.dot(centred, centred)) / values.size) ** 0.5, "nan": nan, "inf": inf}


def blob_shape(blob) -> list[int]:
    # blob.data.shape is ten times faster than pycaffe's blob.shape (an IntVec), but touching the
    # data of an empty blob fails Caffe's CHECK(data_), so empty blobs take the slow way
    return list(blob.data.shape) if blob.count else list(blob.shape)


def blob_summary(blob, *, data: bool = False, diff: bool = False, stats: bool = True) -> dict:
    summary = {"shape": blob_shape(blob), "dtype": "float32"}  # pycaffe's Blob is Blob<float>, always
    if stats and blob.count:
        if data:
            summary["data"] = array_stats(blob.data)
        if diff:
            summary["diff"] = array_stats(blob.diff)
    return summary


# ---- watching what a layer writes ----

def lossy_cast(value) -> str | None:
    """How writing `value` into a float32 blob would change it (Caffe casts silently), or None."""
    dtype = getattr(value, "dtype", None)
    if dtype is None or dtype == np.float32:
        return None
    array = np.asarray(value)
    if dtype.kind == "f":
        with np.errstate(over="ignore", under="ignore"):
            cast = array.astype(np.float32)
        overflow = np.isinf(cast) & np.isfinite(array)
        if overflow.any():
            return f"{dtype} values up to {np.abs(array[np.isfinite(array)]).max():.3g} overflow float32 to Inf"
        flushed = (cast == 0) & (array != 0)
        if flushed.any():
            return f"{dtype} values as small as {np.abs(array[flushed]).min():.3g} underflow float32 to zero"
    elif dtype.kind in "iu" and array.size and int(np.abs(array).max()) > FLOAT32_EXACT_INTEGER:
        return f"{dtype} values up to {int(np.abs(array).max())} lose digits in float32 (exact only to 2^24)"
    return None


class WatchedArray(np.ndarray):
    """A view of a blob's data or diff that reports writes whose values the float32 cast changes."""

    def __setitem__(self, key, value):
        report = getattr(self, "report_write", None)
        if report is not None:
            problem = lossy_cast(value)
            if problem:
                report(problem)
        super().__setitem__(key, value)


class WatchedBlob:
    """Stands in for a Blob forward writes (a top) or backward writes (a bottom); .data and .diff come back
    as WatchedArray views."""

    __slots__ = ("_blob", "_report")

    def __init__(self, blob, report: Callable[[str, str], None]):
        self._blob = blob
        self._report = report

    def _watched(self, part: str) -> np.ndarray:
        view = getattr(self._blob, part).view(WatchedArray)
        view.report_write = lambda problem: self._report(part, problem)
        return view

    @property
    def data(self):
        return self._watched("data")

    @property
    def diff(self):
        return self._watched("diff")

    def __getattr__(self, name):
        return getattr(self._blob, name)


# ---- where the process is, for after an abort ----

METHOD_CODES = {name: i for i, name in enumerate(("setup", "reshape", "forward", "backward", "import"))}
_MARK = struct.Struct("<ii i 96s")


class Marker:
    """The layer and method running now, in a small shared file the parent reads if Caffe aborts."""

    def __init__(self, path: str | None):
        self._map = None
        if path:
            with open(path, "r+b") as handle:
                self._map = mmap.mmap(handle.fileno(), _MARK.size)

    def mark(self, layer: str, method: str, iteration: int) -> None:
        if self._map is not None:
            _MARK.pack_into(self._map, 0, 1, METHOD_CODES.get(method, -1), iteration,
                            layer.encode()[:96])

    @staticmethod
    def create(path: Path) -> None:
        path.write_bytes(b"\0" * _MARK.size)

    @staticmethod
    def read(path: Path) -> dict | None:
        raw = Path(path).read_bytes()
        if len(raw) < _MARK.size:
            return None
        valid, code, iteration, name = _MARK.unpack_from(raw)
        if not valid:
            return None
        methods = {v: k for k, v in METHOD_CODES.items()}
        return {"layer": name.rstrip(b"\0").decode(errors="replace"), "method": methods.get(code, "?"),
                "iteration": iteration}


TRACE_PACKAGE = str(Path(__file__).resolve().parent)


def format_traceback(exc: BaseException) -> dict:
    """The exception with its frames (file, line, function, code) and where it was raised in the
    user's code: the innermost frame outside this package (a write check may sit below it)."""
    frames = [{"file": f.filename, "line": f.lineno, "function": f.name, "code": f.line or ""}
              for f in traceback.extract_tb(exc.__traceback__)]
    own = [f for f in frames if not f["file"].startswith(TRACE_PACKAGE)]
    raised_at = own[-1] if own else (frames[-1] if frames else None)
    return {"type": type(exc).__name__, "message": str(exc), "frames": frames,
            "location": f"{raised_at['file']}:{raised_at['line']}" if raised_at else None,
            "text": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))}


@dataclass
class LayerState:
    """What the tracer keeps between calls of one Python layer."""

    name: str
    shapes_after_reshape: list[list[int]] | None = None
    param_str_reads: int = 0
    fork_param_str_reads: int = 0
    param_str: str = ""
    calls: int = 0
    backward_calls: int = 0


@dataclass
class Tracer:
    """Records Python layer calls and layer times as events; `emit` receives each event (a dict)."""

    emit: Callable[[dict], None]
    stats: bool = True
    post_mortem: bool = False
    marker: Marker = field(default_factory=lambda: Marker(None))
    python_layer_names: list[str] = field(default_factory=list)  # build order, to name setup calls
    iteration: int = 0
    probing: bool = False
    active: bool = True
    layer_names: list[str] = field(default_factory=list)
    forward_ms: dict[int, float] = field(default_factory=dict)
    backward_ms: dict[int, float] = field(default_factory=dict)
    states: dict[int, LayerState] = field(default_factory=dict)  # id(layer object) -> state
    _restore: list[Callable[[], None]] = field(default_factory=list)
    _started: dict[int, float] = field(default_factory=dict)
    _reported: set = field(default_factory=set)

    # -- naming --
    def state_of(self, layer) -> LayerState:
        state = self.states.get(id(layer))
        if state is None:
            index = len(self.states)
            name = self.python_layer_names[index] if index < len(self.python_layer_names) else f"python#{index}"
            state = self.states[id(layer)] = LayerState(name)
        return state

    def adopt(self, net) -> None:
        """Name the Python layer objects of a built net (and forget setup-order guesses that disagree)."""
        self.layer_names = list(net._layer_names)
        for name, layer in zip(net._layer_names, net.layers):
            if layer.type == "Python":
                state = self.states.get(id(layer))
                if state is None:
                    self.states[id(layer)] = LayerState(name, param_str=getattr(layer, "param_str", ""))
                else:
                    state.name = name

    # -- findings --
    def finding(self, check: str, severity: str, layer: str, method: str, message: str, fix: str,
                blob: str | None = None) -> None:
        key = (check, layer, method, blob)
        if key in self._reported:
            return
        self._reported.add(key)
        self.emit({"event": "finding", "check": check, "severity": severity, "layer": layer, "method": method,
                   "iteration": self.iteration, "blob": blob, "message": message, "fix": fix})

    # -- the wrapper every Python layer method goes through --
    def call(self, layer, method: str, function, args):
        if not self.active:
            return function(layer, *args)
        state = self.state_of(layer)
        self.marker.mark(state.name, method, self.iteration)
        if method == "backward":
            top, propagate_down, bottom = args
            propagate_down = [bool(flag) for flag in propagate_down]
        else:
            bottom, top = args
            propagate_down = None
        bottoms, tops = [bottom[i] for i in range(len(bottom))], [top[i] for i in range(len(top))]
        top_shapes_before = [blob_shape(b) for b in tops]
        bottom_copies = None
        call_args = args
        if self.stats and method in ("forward", "backward"):
            # only the blobs the method writes are watched: reads get plain arrays and stay at numpy's speed
            if method == "forward":
                watched_top = [WatchedBlob(b, self._write_reporter(state, method, "top", i)) for i, b in enumerate(tops)]
                call_args = (bottom, watched_top)
            else:
                watched_bottom = [WatchedBlob(b, self._write_reporter(state, method, "bottom", i))
                                  for i, b in enumerate(bottoms)]
                call_args = (top, args[1], watched_bottom)
            if method == "forward":
                top_pointers = {data_pointer(b.data) for b in tops if b.count}
                # bytes compare NaN-safe and fast; in-place bottoms (shared with a top) are meant to change
                bottom_copies = [None if not b.count or data_pointer(b.data) in top_pointers else b.data.tobytes()
                                 for b in bottoms]
        if method == "backward" and state.shapes_after_reshape not in (None, top_shapes_before):
            # checked before the call: a backward given tops of the wrong shape often raises
            self.finding("shape_changed_after_reshape", "error", state.name, "backward",
                         f"the tops were {top_shapes_before} at backward, not the {state.shapes_after_reshape} its "
                         "reshape() left: a layer above reshaped them as its bottoms, or this layer did after "
                         "reshape().", "Reshape a blob only in the reshape() of the layer whose top it is; "
                         "a layer above should reshape its own tops, never its bottoms.")
        started = time.perf_counter()
        try:
            function(layer, *call_args)
        except BaseException as exc:
            self.emit({"event": "exception", "layer": state.name, "method": method,
                       "iteration": self.iteration, **format_traceback(exc)})
            if self.post_mortem:
                pdb_module.post_mortem(exc.__traceback__)
            raise
        wall_ms = (time.perf_counter() - started) * 1e3
        state.calls += 1
        if method == "backward":
            state.backward_calls += 1
        record = {
            "event": "call", "layer": state.name, "method": method, "iteration": self.iteration,
            "probe": self.probing, "wall_ms": round(wall_ms, 4),
            "bottoms": [blob_summary(b, data=method == "forward", diff=method == "backward" and propagate_down[i],
                                     stats=self.stats) for i, b in enumerate(bottoms)],
            "tops": [blob_summary(b, data=method == "forward", diff=method == "backward", stats=self.stats)
                     for b in tops],
        }
        if propagate_down is not None:
            record["propagate_down"] = propagate_down
        self.emit(record)
        self._check_call(state, method, record, top_shapes_before, bottoms, bottom_copies, propagate_down)

    def _write_reporter(self, state: LayerState, method: str, side: str, index: int):
        def report(part: str, problem: str) -> None:
            self.finding("lossy_write", "error", state.name, method,
                         f"{method} wrote to {side}[{index}].{part}: {problem}.",
                         f"Compute in a range float32 holds and assign float32 values, e.g. "
                         f"{side}[{index}].{part}[...] = values.astype(np.float32).",
                         blob=f"{side}[{index}]")
        return report

    def _check_call(self, state, method, record, top_shapes_before, bottoms, bottom_copies, propagate_down):
        top_shapes = [t["shape"] for t in record["tops"]]
        name = state.name
        if method == "reshape":
            state.shapes_after_reshape = top_shapes
        elif method == "forward":
            if top_shapes != top_shapes_before:
                changed = [i for i, (a, b) in enumerate(zip(top_shapes_before, top_shapes)) if a != b]
                i = changed[0]
                self.finding("reshape_in_forward", "error", name, "forward",
                             f"forward reshaped top[{i}] from {top_shapes_before[i]} to {top_shapes[i]}; Caffe had "
                             "already reshaped the layers above for the old shape.",
                             "Move top[i].reshape(...) into reshape(); forward must only fill the tops.",
                             blob=f"top[{i}]")
                state.shapes_after_reshape = top_shapes  # reported once here, not again at backward
            elif state.shapes_after_reshape is not None and top_shapes_before != state.shapes_after_reshape:
                self.finding("shape_changed_after_reshape", "error", name, "forward",
                             f"the tops were {top_shapes_before} at forward, not the {state.shapes_after_reshape} "
                             "reshape left.", "Set top shapes only in reshape() and do not reshape them elsewhere.")
            for i, top in enumerate(record["tops"]):
                data = top.get("data")
                if data and (data["nan"] or data["inf"]):
                    self.finding("nonfinite_output", "error", name, "forward",
                                 f"forward wrote {data['nan']} NaN and {data['inf']} Inf values to top[{i}].",
                                 "Guard divisions and logs (add an epsilon, clip) in forward.", blob=f"top[{i}]")
            for i, copy in enumerate(bottom_copies or []):
                if copy is not None and (not bottoms[i].count or bottoms[i].data.tobytes() != copy):
                    self.finding("bottom_modified", "error", name, "forward",
                                 f"forward changed bottom[{i}].data, which other layers read too.",
                                 "Work on a copy (bottom[i].data.copy()) instead of writing to a bottom.",
                                 blob=f"bottom[{i}]")
        elif method == "backward":
            for i, bottom in enumerate(record["bottoms"]):
                diff = bottom.get("diff")
                if not diff or not propagate_down[i]:
                    continue
                if diff["nan"] or diff["inf"]:
                    self.finding("nonfinite_diff", "error", name, "backward",
                                 f"backward wrote {diff['nan']} NaN and {diff['inf']} Inf values to bottom[{i}].diff.",
                                 "Guard divisions and logs (add an epsilon, clip) in backward.", blob=f"bottom[{i}]")
                elif diff["min"] == 0 and diff["max"] == 0 and not self.probing:
                    self.finding("zero_diff", "warning", name, "backward",
                                 f"backward left bottom[{i}].diff all zero although propagate_down[{i}] is true.",
                                 f"Assign the gradient to bottom[{i}].diff[...] (or check it is really zero).",
                                 blob=f"bottom[{i}]")

    # -- installing the wrappers --
    def _wrapper(self, method: str, function):
        tracer = self

        def traced(layer, *args):
            return tracer.call(layer, method, function, args)

        traced.__wrapped__ = function
        return traced

    def wrap_classes(self, classes) -> None:
        """Wrap the methods of Python layer classes (before the net is built, so setup is seen)."""
        for cls in dict.fromkeys(classes):
            for method in METHODS:
                function = cls.__dict__.get(method) or getattr(cls, method, None)
                if function is None:
                    continue
                self._replace(cls, method, self._wrapper(method, function))
            self._track_param_str(cls)

    def wrap_instances(self, net) -> None:
        """Wrap the methods of the Python layer objects of an already built net."""
        for layer in net.layers:
            if layer.type != "Python":
                continue
            cls = type(layer)
            for method in METHODS:
                function = getattr(cls, method, None)
                if function is None:
                    continue
                traced = self._wrapper(method, function)
                self._replace(layer, method, lambda *args, _traced=traced, _layer=layer: _traced(_layer, *args))
            self._track_param_str(cls)

    def _replace(self, owner, attribute: str, value) -> None:
        had_own = attribute in vars(owner)
        original = vars(owner).get(attribute)
        setattr(owner, attribute, value)

        def restore():
            if had_own:
                setattr(owner, attribute, original)
            else:
                delattr(owner, attribute)
        self._restore.append(restore)

    def _track_param_str(self, cls) -> None:
        if "param_str" in vars(cls):
            return
        tracer = self

        def get_param_str(layer):
            if tracer.active:
                tracer.state_of(layer).param_str_reads += 1
            return layer.__dict__.get("param_str", "")

        def set_param_str(layer, value):
            layer.__dict__["param_str"] = value  # kept in the instance, so it survives the restore
            tracer.state_of(layer).param_str = value

        def get_fork_param_str(layer):
            if "param_str_" in layer.__dict__:
                return layer.__dict__["param_str_"]
            if tracer.active:
                state = tracer.state_of(layer)
                state.fork_param_str_reads += 1
                tracer.finding("param_str_fork_name", "error", state.name, "setup",
                               "the layer reads self.param_str_, which this Caffe never sets "
                               "(a fork's name); BVLC Caffe sets self.param_str.",
                               "Read self.param_str instead of self.param_str_.")
            raise AttributeError(f"{cls.__name__!r} object has no attribute 'param_str_' "
                                 "(BVLC Caffe sets 'param_str')")

        def set_fork_param_str(layer, value):
            layer.__dict__["param_str_"] = value

        self._replace(cls, "param_str", property(get_param_str, set_param_str))
        if "param_str_" not in vars(cls):
            self._replace(cls, "param_str_", property(get_fork_param_str, set_fork_param_str))

    def restore(self) -> None:
        while self._restore:
            self._restore.pop()()

    # -- timing every layer through the net's callbacks --
    def attach_timers(self, net, on_pass_end: Callable[[], None] | None = None,
                      on_backward_end: Callable[[], None] | None = None) -> None:
        """Time every layer; with the hooks, also count the passes a caller makes (net.forward, solver.step)."""
        clock = time.perf_counter
        started = self._started
        names = list(net._layer_names)
        last = len(names) - 1
        marker = self.marker
        counting = on_pass_end is not None

        def before_forward(i):
            if self.active:
                if counting and i == 0 and not self.probing:
                    self.iteration += 1
                marker.mark(names[i], "forward", self.iteration)
                started[i] = clock()

        def after_forward(i):
            if self.active and i in started:
                self.forward_ms[i] = self.forward_ms.get(i, 0.0) + (clock() - started.pop(i)) * 1e3
                if counting and i == last and not self.probing:
                    on_pass_end()

        def before_backward(i):
            if self.active:
                marker.mark(names[i], "backward", self.iteration)
                started[-1 - i] = clock()

        def after_backward(i):
            if self.active and -1 - i in started:
                self.backward_ms[i] = self.backward_ms.get(i, 0.0) + (clock() - started.pop(-1 - i)) * 1e3
                if on_backward_end is not None and i == 0 and not self.probing:
                    on_backward_end()

        net.before_forward(before_forward)
        net.after_forward(after_forward)
        net.before_backward(before_backward)
        net.after_backward(after_backward)

    # -- what the records cannot say by themselves --
    def param_str_findings(self, saw_setup: bool) -> None:
        for state in self.states.values():
            if saw_setup and state.param_str.strip() and not state.param_str_reads and not state.fork_param_str_reads:
                self.finding("param_str_unread", "warning", state.name, "setup",
                             f"the layer was given param_str {state.param_str!r} but never read self.param_str.",
                             "Parse self.param_str in setup(), or drop the param_str from the prototxt.")


def class_source(cls) -> str | None:
    try:
        return inspect.getsourcefile(cls)
    except TypeError:
        return None
