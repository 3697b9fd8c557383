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
- Statistics: the blobs a method reads (forward's bottoms' data, backward's tops' diffs) as it gets
  them, the blobs it writes as it leaves them. Inside one sweep of the net, a blob the previous
  Python layer just wrote and no layer has written since keeps the statistics measured then (the
  layer callbacks drop them when a layer that writes the blob runs). This all runs on every call,
  so it counts numpy calls: see array_stats, cast_to_float32 and the net's blobs kept in adopt().
"""
from __future__ import annotations

import contextlib
import inspect
import math
import pdb as pdb_module
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from ..shapes import shape_text, shapes_text
from .marker import METHOD_CODES, Marker
from .tracebacks import format_traceback

METHODS = ("setup", "reshape", "forward", "backward")
FLOAT32_EXACT_INTEGER = 2 ** 24  # larger integers do not survive Caffe's cast to float32
_clock = time.perf_counter


# ---- statistics ----

NO_VALUES = {"min": None, "max": None, "mean": None, "std": None}
_minimum, _maximum, _add, _vdot = np.minimum.reduce, np.maximum.reduce, np.add.reduce, np.vdot
# mean square minus squared mean loses about float32's precision times mean_square / variance: kept
# when that ratio is under 100 (std within a few 1e-6), else the variance comes from centred values
VARIANCE_KEPT = 0.01


def array_stats(array: np.ndarray) -> dict:
    """min, max, mean, std and the NaN and Inf counts of a blob's data or diff.

    Four numpy calls on the common all-finite path, since this runs on every blob of every call:
    min and max (which propagate NaN and show Inf, so two finite ones prove every value finite),
    a float64 sum for the mean and a dot product for the mean square. Where the variance is small
    beside the mean square, mean square minus squared mean cancels badly in float32, so it is
    computed again from the centred values.
    """
    count = array.size
    if not count:
        return {**NO_VALUES, "nan": 0, "inf": 0}
    # the ufuncs' own reduce, not ndarray.min and friends: those go through numpy's Python wrappers
    low, high = float(_minimum(array, None)), float(_maximum(array, None))
    if -math.inf < low and high < math.inf:
        if low == high:  # constant (an all-zero diff, often): nothing more to compute
            return {"min": low, "max": high, "mean": low, "std": 0.0, "nan": 0, "inf": 0}
        mean = float(_add(array, None, np.float64)) / count
        mean_square = float(_vdot(array, array)) / count  # BLAS: overflows to Inf without a numpy warning
        variance = mean_square - mean * mean
        if not VARIANCE_KEPT * mean_square < variance < math.inf:
            centred = array - mean
            square_sum = float(_vdot(centred, centred))
            if square_sum == math.inf:  # squares past float32's range: redo in float64 (the stats stay finite)
                centred = array.astype(np.float64) - mean
                square_sum = float(_vdot(centred, centred))
            variance = square_sum / count
        return {"min": low, "max": high, "mean": mean, "std": math.sqrt(variance), "nan": 0, "inf": 0}
    values = array.reshape(-1)
    finite_mask = np.isfinite(values)
    nan = int(np.isnan(values).sum())
    inf = int(count - finite_mask.sum() - nan)
    values = values[finite_mask]
    if not values.size:
        return {**NO_VALUES, "nan": nan, "inf": inf}
    stats = array_stats(values)
    stats.update(nan=nan, inf=inf)
    return stats


def blob_shape(blob, allocated: bool = False) -> tuple[int, ...]:
    # blob.data.shape is ten times faster than pycaffe's blob.shape (an IntVec), but touching the
    # data of a blob without memory fails Caffe's CHECK(data_), so those take the slow way (`allocated`:
    # see blob_summary). Shapes stay tuples while tracing (a list would be one more call per blob); the
    # report gives lists.
    return blob.data.shape if allocated or blob.count else tuple(blob.shape)


def blob_summary(blob, part: str | None = None, allocated: bool = False) -> dict:
    """The blob's shape and dtype, with the statistics of its "data" or "diff" when `part` names one;
    `allocated` when the blob is known to have memory (see LayerState.allocated), so count need not be asked."""
    if not (allocated or blob.count):
        return {"shape": tuple(blob.shape), "dtype": "float32"}  # pycaffe's Blob is Blob<float>, always
    if part is None:
        return {"shape": blob.data.shape, "dtype": "float32"}
    array = blob.data if part == "data" else blob.diff
    return {"shape": array.shape, "dtype": "float32", part: array_stats(array)}


def shape_summaries(blobs, allocated: bool = False) -> list[dict]:
    """blob_summary(b) of each blob, inlined: this runs on every call. `allocated` when every blob is known
    to have memory (see LayerState.allocated), so count need not be asked."""
    if allocated:
        return [{"shape": b.data.shape, "dtype": "float32"} for b in blobs]
    return [{"shape": b.data.shape, "dtype": "float32"} if b.count else blob_summary(b) for b in blobs]


# ---- watching what a layer writes ----

def cast_to_float32(value) -> tuple[str | None, np.ndarray]:
    """`value` cast to float32 as Caffe's float32 blob stores it, and how the cast changed it (or None)."""
    array = np.asarray(value)
    cast = array.astype(np.float32)  # warns (or raises, under np.seterr) just as the assignment's own cast would
    if array.dtype.kind == "f" and array.size:
        # cheap proofs first: a finite sum means no Inf in the cast, no zero in it means nothing underflowed
        if not -math.inf < float(np.add.reduce(cast, None)) < math.inf:
            overflow = np.isinf(cast) & np.isfinite(array)
            if overflow.any():
                return (f"{array.dtype} values up to {np.abs(array[np.isfinite(array)]).max():.3g} overflow "
                        "float32 to Inf"), cast
        nonzero = np.count_nonzero(cast)
        if nonzero != cast.size and nonzero != np.count_nonzero(array):
            flushed = (cast == 0) & (array != 0)
            smallest = np.abs(array[flushed]).min()
            return f"{array.dtype} values as small as {smallest:.3g} underflow float32 to zero", cast
    elif array.size and int(np.abs(array).max()) > FLOAT32_EXACT_INTEGER:
        return (f"{array.dtype} values up to {int(np.abs(array).max())} lose digits in float32 "
                "(exact only to 2^24)"), cast
    return None, cast


FLOAT32 = np.dtype(np.float32)


class WatchedArray(np.ndarray):
    """A view of a blob's data or diff that reports writes whose values the float32 cast changes."""

    def __setitem__(self, key, value):
        watch = getattr(self, "watch", None)
        dtype = getattr(value, "dtype", None)
        if watch is not None and dtype is not None and dtype != FLOAT32 and dtype.kind in "fiu":
            problem, value = cast_to_float32(value)  # the cast numpy would make anyway, done once
            if problem:
                blob, part = watch
                blob.report(blob.where, part, problem)
        super().__setitem__(key, value)


def _entry_summary(blob, part: str, fresh: dict | None, blob_ids: list[int], position: int, allocated: bool) -> dict:
    """blob_summary of a blob a method reads, taking the statistics its writer left in this sweep when there are."""
    stats = fresh.get((blob_ids[position], part)) if fresh is not None and position < len(blob_ids) else None
    if stats is None:
        return blob_summary(blob, part, allocated)
    return {"shape": blob_shape(blob, allocated), "dtype": "float32", part: stats}


def _all_zero(stats: dict | None) -> bool:
    """Whether a blob's statistics say every value is zero (a blob with no values counts as zero)."""
    return stats is None or stats["min"] is None or (stats["min"] == 0 and stats["max"] == 0)


def _whole_numbers(blob) -> bool:
    """Whether a blob's data holds only whole numbers (labels, indices)."""
    data = blob.data
    return bool(data.size) and bool(np.all(data == np.round(data)))


def _shares_a_top(bottom, tops: list) -> bool:
    """Whether a bottom is also one of the tops (in place), from their memory."""
    if not bottom.count:
        return False
    data = bottom.data
    top_arrays = (t.data for t in tops if t.count)
    return any(a.shape == data.shape and np.may_share_memory(a, data) for a in top_arrays)


class WatchedBlob:
    """Stands in for a Blob forward writes (a top) or backward writes (a bottom); .data and .diff come back
    as WatchedArray views. `report(where, part, problem)` hears of lossy writes."""

    __slots__ = ("_blob", "report", "where")

    def __init__(self, blob, where: str, report: Callable[[str, str, str], None]):
        self._blob = blob
        self.where = where
        self.report = report

    @property
    def data(self):
        view = self._blob.data.view(WatchedArray)
        view.watch = (self, "data")
        return view

    @property
    def diff(self):
        view = self._blob.diff.view(WatchedArray)
        view.watch = (self, "diff")
        return view

    def __getattr__(self, name):
        return getattr(self._blob, name)


# ---- where the process is, for after an abort ----

@dataclass
class LayerState:
    """What the tracer keeps between calls of one Python layer."""

    name: str
    shapes_after_reshape: list[tuple[int, ...]] | None = None
    reshape_bottoms: list[dict] | None = None  # the bottoms' summaries its last reshape recorded
    param_str_reads: int = 0
    fork_param_str_reads: int = 0
    param_str: str = ""
    calls: int = 0
    backward_calls: int = 0
    index: int | None = None  # in the net, with the net's indices of its bottom and top blobs
    bottom_ids: list[int] = field(default_factory=list)
    top_ids: list[int] = field(default_factory=list)
    bottom_in_place: list[bool] = field(default_factory=list)  # by bottom: also one of its tops
    # Whether all those blobs have memory, so that reading .data cannot fail Caffe's CHECK(data_) and pycaffe
    # need not be asked for .count first (a C++ call a blob on every call): a blob keeps its memory once it
    # has had some, since Blob::Reshape only ever replaces it with a larger one
    allocated: bool = False
    bottom_blobs: list = field(default_factory=list)  # the net's blobs of those indices
    top_blobs: list = field(default_factory=list)
    reshaped_in: int = -1  # the net's layer call (Tracer._layer_calls) its last reshape ran in
    zero_top_diff_at: int = 0  # the first iteration its backward got all-zero top diffs (and wrote zero)
    # by bottom: the first iteration and the count of backward calls that wrote an all-zero diff under a non-zero top
    # diff, and the bottoms it ever gave a non-zero diff. A hinge loss (the triplet loss) rightly writes zero when
    # every margin holds: only a bottom that never once gets a gradient is suspect (checks.check_backward_calls)
    zero_diff_at: dict[int, int] = field(default_factory=dict)
    zero_diff_calls: dict[int, int] = field(default_factory=dict)
    nonzero_diff: set[int] = field(default_factory=set)
    # the net's propagate_down for this layer: Caffe fixes it when it builds the net (bottom_need_backward_)
    net_propagate_down: list[bool] | None = None
    # "forward" -> the WatchedBlob stand-ins of its tops, "backward" -> of its bottoms, for calls from the net,
    # whose blobs stay the same: made once, not on every call
    watched: dict[str, list] = field(default_factory=dict)


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
    net_outputs: frozenset[int] = frozenset()  # blob indices of the net's outputs (read by no layer)
    # nanoseconds spent in each layer's forward and backward (by layer index), summed over the passes
    forward_ns: list[int] = field(default_factory=list)
    backward_ns: list[int] = field(default_factory=list)
    states: dict[int, LayerState] = field(default_factory=dict)  # id(layer object) -> state
    _restore: list[Callable[[], None]] = field(default_factory=list)
    _reported: set = field(default_factory=set)
    _running: tuple[int, str] | None = None  # (layer index, "forward" | "backward") between a layer's callbacks
    in_call: tuple[str, str] | None = None  # (layer name, method) while a Python layer's method runs, for its prints
    _layer_calls: int = 0  # layer calls the net made so far (its callbacks count them)
    # (blob index, "data" | "diff") -> statistics measured since a layer last wrote that part, within one sweep
    # of the net (one C++ forward or backward): the next Python layer reads the blob its neighbour just wrote
    _fresh: dict[tuple[int, str], dict | None] = field(default_factory=dict)

    @property
    def forward_ms(self) -> dict[int, float]:
        """Milliseconds in each layer's forward over all passes, for the layers that ran one."""
        return {i: ns / 1e6 for i, ns in enumerate(self.forward_ns) if ns}

    @property
    def backward_ms(self) -> dict[int, float]:
        return {i: ns / 1e6 for i, ns in enumerate(self.backward_ns) if ns}

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
        self.net_outputs = frozenset(net._outputs)
        blobs = list(net._blobs)  # by index: a layer the net calls gets these
        for index, (name, layer) in enumerate(zip(net._layer_names, net.layers)):
            if layer.type == "Python":
                state = self.states.get(id(layer))
                if state is None:
                    state = self.states[id(layer)] = LayerState(name, param_str=getattr(layer, "param_str", ""))
                else:
                    state.name = name
                state.index = index
                state.bottom_ids, state.top_ids = list(net._bottom_ids(index)), list(net._top_ids(index))
                state.bottom_in_place = [blob_id in state.top_ids for blob_id in state.bottom_ids]
                state.bottom_blobs = [blobs[j] for j in state.bottom_ids]
                state.top_blobs = [blobs[j] for j in state.top_ids]
                state.allocated = all(blob.count for blob in state.bottom_blobs + state.top_blobs)

    # -- findings --
    def finding(self, check: str, severity: str, layer: str, method: str, message: str, fix: str,
                blob: str | None = None, iteration: int | None = None) -> None:
        """Send a finding (severity "error", "warning" or "info"), once per check, layer, method and blob."""
        key = (check, layer, method, blob)
        if key in self._reported:
            return
        self._reported.add(key)
        self.emit({"event": "finding", "check": check, "severity": severity, "layer": layer, "method": method,
                   "iteration": self.iteration if iteration is None else iteration, "blob": blob,
                   "message": message, "fix": fix})

    # -- the wrapper every Python layer method goes through --
    def call(self, layer, method: str, function, args):
        """Run one Python layer method and record it as a "call" event, with the contract checks that need its data.

        A forward's bottoms are recorded as the method got them and its tops as it left them; a backward's
        tops as it got them and its bottoms as it left them; setup and reshape record both as left. Inside
        a pass of the net (the layer callbacks say which layer is running), the layer's blobs are the net's,
        known since adopt(), and a forward right after its reshape takes the shapes that reshape recorded:
        Layer::Forward runs one after the other with nothing between.
        """
        if not self.active:
            return function(layer, *args)
        state = self.states.get(id(layer)) or self.state_of(layer)
        running = self._running
        in_net = running is not None and running[0] == state.index
        slots = self.marker.slots
        if slots is not None:
            if in_net:  # the callbacks marked this layer's index and the iteration: the method is new
                slots[0] = METHOD_CODES[method]
            else:
                self.marker.mark(state.name, method, self.iteration)
        if in_net:  # the net's own blobs: indexing pycaffe's blob vectors costs a C++ call each
            bottoms, tops = state.bottom_blobs, state.top_blobs
        else:
            bottom, top = (args[2], args[0]) if method == "backward" else args
            bottoms, tops = [bottom[i] for i in range(len(bottom))], [top[i] for i in range(len(top))]
        if method == "forward":
            return self._forward(layer, state, function, args, bottoms, tops, in_net and state.allocated,
                                 running is not None and in_net and running[1] == "forward")
        if method == "backward":
            return self._backward(layer, state, function, args, bottoms, tops, in_net, in_net and state.allocated,
                                  running is not None and in_net and running[1] == "backward")
        wall_ms = self._run(layer, state, method, function, args)
        allocated = in_net and state.allocated
        bottom_summaries, top_summaries = shape_summaries(bottoms, allocated), shape_summaries(tops, allocated)
        if method == "reshape":
            state.shapes_after_reshape = [s["shape"] for s in top_summaries]
            state.reshaped_in = self._layer_calls if in_net else -1
            state.reshape_bottoms = bottom_summaries
        self.emit({"event": "call", "layer": state.name, "method": method, "iteration": self.iteration,
                   "probe": self.probing, "wall_ms": wall_ms, "bottoms": bottom_summaries, "tops": top_summaries})

    def _run(self, layer, state: LayerState, method: str, function, args) -> float:
        """Call the user's method; its wall time in milliseconds. An exception is sent as an event (and, with
        post_mortem, opens pdb in its frame) and raised again for Caffe."""
        self.in_call = (state.name, method)
        started = _clock()
        try:
            function(layer, *args)
        except BaseException as exc:
            self._running = self.in_call = None  # Caffe calls no after_* callback past an exception
            self.emit({"event": "exception", "layer": state.name, "method": method,
                       "iteration": self.iteration, **format_traceback(exc)})
            if self.post_mortem:
                pdb_module.post_mortem(exc.__traceback__)
            raise
        wall_ms = round((_clock() - started) * 1e3, 4)
        self.in_call = None
        state.calls += 1
        return wall_ms

    def _forward(self, layer, state: LayerState, function, args, bottoms, tops, allocated: bool,
                 in_sweep: bool) -> None:
        """forward(bottom, top), `in_sweep` when the net's forward sweep called it."""
        after_reshape = in_sweep and state.reshaped_in == self._layer_calls
        top_shapes_before = (state.shapes_after_reshape if after_reshape and state.shapes_after_reshape is not None
                             else [s["shape"] for s in shape_summaries(tops, allocated)])
        stats = self.stats
        if stats:
            # the bottoms are summarised as forward gets them, the tops as it leaves them; the copies
            # (bytes compare NaN-safe and fast) show a bottom forward changed
            fresh = self._fresh if in_sweep else None
            in_place = state.bottom_in_place if in_sweep else [_shares_a_top(b, tops) for b in bottoms]
            bottom_summaries: list[dict] = []
            bottom_copies: list[bytes | None] = []
            for j, b in enumerate(bottoms):
                if not (allocated or b.count):
                    bottom_summaries.append(blob_summary(b))
                    bottom_copies.append(None)
                    continue
                data = b.data
                carried = fresh.get((state.bottom_ids[j], "data")) if fresh is not None else None
                bottom_summaries.append({"shape": data.shape, "dtype": "float32", "data": carried or array_stats(data)})
                bottom_copies.append(None if in_place[j] else data.tobytes())
            # only the tops are watched: the bottoms it reads stay plain arrays, at numpy's speed
            args = (args[0], self._watched(state, "forward", tops))
        else:
            bottom_summaries = (state.reshape_bottoms if after_reshape and state.reshape_bottoms is not None
                                else shape_summaries(bottoms, allocated))
        wall_ms = self._run(layer, state, "forward", function, args)
        if stats:
            top_summaries = [blob_summary(b, "data", allocated) for b in tops]
            if fresh is not None:
                for blob_id, summary in zip(state.top_ids, top_summaries):
                    fresh[blob_id, "data"] = summary.get("data")
        else:
            top_summaries = shape_summaries(tops, allocated)
        self.emit({"event": "call", "layer": state.name, "method": "forward", "iteration": self.iteration,
                   "probe": self.probing, "wall_ms": wall_ms, "bottoms": bottom_summaries, "tops": top_summaries})

        name = state.name
        top_shapes = [s["shape"] for s in top_summaries]
        if top_shapes != top_shapes_before:
            # Legal: Layer::Forward runs each layer's Reshape before its Forward, so the layers above follow the
            # new shape (py-faster-rcnn's ProposalLayer relies on it). It matters only to code that reads a net
            # output between net.reshape() and forward: an info there, nothing elsewhere.
            changed = [i for i, (a, b) in enumerate(zip(top_shapes_before, top_shapes)) if a != b]
            for i in changed:
                if i < len(state.top_ids) and state.top_ids[i] in self.net_outputs:
                    self.finding("reshape_in_forward", "info", name, "forward",
                                 f"forward reshaped top[{i}] from {shape_text(top_shapes_before[i])} to "
                                 f"{shape_text(top_shapes[i])}; it is a net output, so code reading it after "
                                 "net.reshape() and before forward sees the old shape.",
                                 "Nothing to fix for Caffe; read the output after forward.", blob=f"top[{i}]")
            state.shapes_after_reshape = top_shapes  # what the layers above and backward see
        elif state.shapes_after_reshape is not None and top_shapes_before != state.shapes_after_reshape:
            self.finding("shape_changed_after_reshape", "error", name, "forward",
                         f"the tops were {shapes_text(top_shapes_before)} at forward, not the "
                         f"{shapes_text(state.shapes_after_reshape)} reshape left.",
                         "Set top shapes only in reshape() and do not reshape them elsewhere.")
        if not stats:
            return
        for i, top in enumerate(top_summaries):
            data = top.get("data")
            if data and (data["nan"] or data["inf"]):
                self.finding("nonfinite_output", "error", name, "forward",
                             f"forward wrote {data['nan']} NaN and {data['inf']} Inf values to top[{i}].",
                             "Guard divisions and logs (add an epsilon, clip) in forward.", blob=f"top[{i}]")
        for i, copy in enumerate(bottom_copies):
            if copy is not None and (not bottoms[i].count or bottoms[i].data.tobytes() != copy):
                if i < len(state.bottom_ids):
                    self._fresh.pop((state.bottom_ids[i], "data"), None)  # its writer's statistics no longer hold
                self.finding("bottom_modified", "error", name, "forward",
                             f"forward changed bottom[{i}].data, which other layers read too.",
                             "Work on a copy (bottom[i].data.copy()) instead of writing to a bottom.",
                             blob=f"bottom[{i}]")

    def _backward(self, layer, state: LayerState, function, args, bottoms, tops, in_net: bool, allocated: bool,
                  in_sweep: bool) -> None:
        """backward(top, propagate_down, bottom), `in_sweep` when the net's backward sweep called it."""
        flags = args[1]
        propagate_down = state.net_propagate_down if in_net else None
        if propagate_down is None:  # Caffe fixes the net's propagate_down when it builds the net: read once
            propagate_down = [bool(flags[i]) for i in range(len(flags))]  # iterating a BoolVec is ten times slower
            if in_net:
                state.net_propagate_down = propagate_down
        stats = self.stats
        if stats:  # the tops' diffs as backward gets them
            fresh = self._fresh if in_sweep else None
            top_summaries = [_entry_summary(b, "diff", fresh, state.top_ids, j, allocated) for j, b in enumerate(tops)]
            args = (args[0], flags, self._watched(state, "backward", bottoms))
        else:
            top_summaries = shape_summaries(tops, allocated)
        top_shapes = [s["shape"] for s in top_summaries]
        if state.shapes_after_reshape is not None and top_shapes != state.shapes_after_reshape:
            # checked before the call: a backward given tops of the wrong shape often raises
            self.finding("shape_changed_after_reshape", "error", state.name, "backward",
                         f"the tops were {shapes_text(top_shapes)} at backward, not the "
                         f"{shapes_text(state.shapes_after_reshape)} its reshape() left: a layer above reshaped "
                         "them as its bottoms, or this layer did after reshape().",
                         "Reshape a blob only in the reshape() of the layer whose top it is; "
                         "a layer above should reshape its own tops, never its bottoms.")
        wall_ms = self._run(layer, state, "backward", function, args)
        state.backward_calls += 1
        if stats:  # the bottoms' diffs as backward leaves them
            bottom_summaries = [blob_summary(b, "diff" if flag else None, allocated)
                                for b, flag in zip(bottoms, propagate_down)]
            if fresh is not None:
                for blob_id, summary in zip(state.bottom_ids, bottom_summaries):
                    fresh[blob_id, "diff"] = summary.get("diff")
        else:
            bottom_summaries = shape_summaries(bottoms, allocated)
        self.emit({"event": "call", "layer": state.name, "method": "backward", "iteration": self.iteration,
                   "probe": self.probing, "wall_ms": wall_ms, "bottoms": bottom_summaries, "tops": top_summaries,
                   "propagate_down": propagate_down})
        if not stats:
            return
        name = state.name
        for i, bottom in enumerate(bottom_summaries):
            diff = bottom.get("diff")
            if not diff or not propagate_down[i]:
                continue
            if diff["nan"] or diff["inf"]:
                self.finding("nonfinite_diff", "error", name, "backward",
                             f"backward wrote {diff['nan']} NaN and {diff['inf']} Inf values to bottom[{i}].diff.",
                             "Guard divisions and logs (add an epsilon, clip) in backward.", blob=f"bottom[{i}]")
            elif self.probing:
                continue
            elif diff["min"] == 0 and diff["max"] == 0:
                if all(_all_zero(top.get("diff")) for top in top_summaries):
                    state.zero_top_diff_at = state.zero_top_diff_at or self.iteration  # not its fault: said after
                elif not _whole_numbers(bottoms[i]):  # a label's gradient is zero by rights
                    state.zero_diff_at.setdefault(i, self.iteration)
                    state.zero_diff_calls[i] = state.zero_diff_calls.get(i, 0) + 1
            else:
                state.nonzero_diff.add(i)

    def _watched(self, state: LayerState, method: str, written: list) -> list:
        """WatchedBlob stand-ins of the blobs `method` writes (forward: the tops, backward: the bottoms), made once
        for the net's calls, whose blobs (the state's own lists) stay the same."""
        in_net = written is (state.top_blobs if method == "forward" else state.bottom_blobs)
        watched = state.watched.get(method) if in_net else None
        if watched is None:
            report = self._write_reporter(state, method)
            part = "top" if method == "forward" else "bottom"
            watched = [WatchedBlob(b, f"{part}[{i}]", report) for i, b in enumerate(written)]
            if in_net:
                state.watched[method] = watched
        return watched

    def _write_reporter(self, state: LayerState, method: str) -> Callable[[str, str, str], None]:
        def report(where: str, part: str, problem: str) -> None:
            self.finding("lossy_write", "error", state.name, method, f"{method} wrote to {where}.{part}: {problem}.",
                         f"Compute in a range float32 holds and assign float32 values, e.g. "
                         f"{where}.{part}[...] = values.astype(np.float32).", blob=where)
        return report

    # -- installing the wrappers --
    def _wrapper(self, method: str, function):
        tracer = self

        def traced(layer, *args):
            return tracer.call(layer, method, function, args)

        traced.__wrapped__ = function  # type: ignore[attr-defined]  # the original method, restored at the end
        traced.traced_method = method  # type: ignore[attr-defined]  # a subclass that inherits it wraps the original
        return traced

    def _bound_wrapper(self, layer, method: str, function):
        call = self.call

        def traced(*args):  # one frame between Caffe and the tracer: this runs on every call
            return call(layer, method, function, args)

        traced.__wrapped__ = function  # type: ignore[attr-defined]  # the original method, restored at the end
        return traced

    def wrap_classes(self, classes) -> None:
        """Wrap the methods of Python layer classes (before the net is built, so setup is seen)."""
        for cls in dict.fromkeys(classes):
            for method in METHODS:
                function = cls.__dict__.get(method) or getattr(cls, method, None)
                if function is None:
                    continue
                if getattr(function, "traced_method", None) == method:  # a base class's, wrapped already: once is all
                    function = function.__wrapped__
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
                self._replace(layer, method, self._bound_wrapper(layer, method, function))
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
        # the four callbacks run around every layer of every pass: integer nanoseconds in list slots, tuples
        # made once, no dict lookups; the milliseconds are worked out when asked for (forward_ms, backward_ms)
        clock = time.perf_counter_ns
        names = list(net._layer_names)
        count, last = len(names), len(names) - 1
        forward_ns, backward_ns = self.forward_ns, self.backward_ns
        forward_ns[:], backward_ns[:] = [0] * count, [0] * count
        forward_started, backward_started = [0] * count, [0] * count  # 0: no before_* seen while active
        running_forward = [(i, "forward") for i in range(count)]
        running_backward = [(i, "backward") for i in range(count)]
        slots = self.marker.slots  # None without a marker file (the Python API)
        forward_code, backward_code = METHOD_CODES["forward"], METHOD_CODES["backward"]
        counting = on_pass_end is not None

        # with statistics, what each layer writes, to drop the statistics carried for it (see _fresh)
        tops_of = [[(b, "data") for b in net._top_ids(i)] if self.stats else () for i in range(count)]
        bottoms_of = [[(b, "diff") for b in net._bottom_ids(i)] if self.stats else () for i in range(count)]
        fresh = self._fresh

        def before_forward(i):
            if self.active:
                if counting and not i and not self.probing:
                    self.iteration += 1
                if slots is not None:
                    if not i:
                        slots[2] = self.iteration
                    slots[0], slots[1] = forward_code, i
                for key in tops_of[i]:
                    fresh.pop(key, None)
                self._running = running_forward[i]
                self._layer_calls += 1
                forward_started[i] = clock()

        def after_forward(i):
            started = forward_started[i]
            if started and self.active:
                forward_ns[i] += clock() - started
                forward_started[i] = 0
                self._running = None
                if counting and i == last and not self.probing:
                    on_pass_end()

        def before_backward(i):
            if self.active:
                if slots is not None:
                    slots[0], slots[1] = backward_code, i
                for key in bottoms_of[i]:
                    fresh.pop(key, None)
                self._running = running_backward[i]
                self._layer_calls += 1
                backward_started[i] = clock()

        def after_backward(i):
            started = backward_started[i]
            if started and self.active:
                backward_ns[i] += clock() - started
                backward_started[i] = 0
                self._running = None
                if on_backward_end is not None and not i and not self.probing:
                    on_backward_end()

        if self.stats:  # statistics carry over from layer to layer only inside one sweep: between, any code may write
            for attribute in ("_forward", "_backward"):
                self._replace(net, attribute, _sweep(getattr(net, attribute), fresh))

        net.before_forward(before_forward)
        net.after_forward(after_forward)
        net.before_backward(before_backward)
        net.after_backward(after_backward)

    def watch_solver(self, solver) -> None:
        """Mark the solver's update in each step (after backward, before ApplyUpdate changes the weights), so
        that an abort there is put down to the solver, not to the last layer the backward pass marked."""
        marker = self.marker

        def on_gradients_ready() -> None:
            if self.active:
                marker.mark("", "update", self.iteration)

        solver.add_callback(lambda: None, on_gradients_ready)

    # -- what the records cannot say by themselves --
    def param_str_findings(self, saw_setup: bool) -> None:
        for state in self.states.values():
            if saw_setup and state.param_str.strip() and not state.param_str_reads and not state.fork_param_str_reads:
                self.finding("param_str_unread", "warning", state.name, "setup",
                             f"the layer was given param_str {state.param_str!r} but never read self.param_str.",
                             "Parse self.param_str in setup(), or drop the param_str from the prototxt.")


class LayerOutput:
    """Stands in for sys.stdout or sys.stderr in the traced process: text goes to the stream as before, and each
    whole line a Python layer's method prints is also sent as an "output" event naming the layer, the method and
    the iteration (the tracer's in_call), so the report keeps every layer's prints apart."""

    def __init__(self, stream, name: str, tracer: Tracer):
        self._stream, self._name, self._tracer = stream, name, tracer
        self._pending = ""  # the start of a line printed without its newline yet

    def write(self, text: str) -> int:
        written = self._stream.write(text)
        running = self._tracer.in_call
        if running is not None and self._tracer.active:
            self._pending += text
            if "\n" in self._pending:
                whole, _, self._pending = self._pending.rpartition("\n")
                self._tracer.emit({"event": "output", "layer": running[0], "method": running[1],
                                   "iteration": self._tracer.iteration, "probe": self._tracer.probing,
                                   "stream": self._name,
                                   "lines": whole.split("\n")})
        return written if written is not None else len(text)

    def flush(self) -> None:
        self._stream.flush()

    def __getattr__(self, name):  # fileno, encoding, isatty and the rest: the real stream's
        return getattr(self._stream, name)


@contextlib.contextmanager
def tracing(tracer: Tracer) -> Iterator[Tracer]:
    """The span a child traces in: sys.stdout and sys.stderr stand in as LayerOutput, so what each layer prints is
    told apart, and after it the streams and the traced classes are restored."""
    real_streams = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = LayerOutput(sys.stdout, "stdout", tracer), LayerOutput(sys.stderr, "stderr", tracer)
    try:
        yield tracer
    finally:
        sys.stdout, sys.stderr = real_streams
        tracer.restore()


def _sweep(run, fresh: dict):
    """net._forward or net._backward (one C++ sweep over layers), forgetting carried statistics before and after."""
    def sweep(*args):
        fresh.clear()
        try:
            return run(*args)
        finally:
            fresh.clear()
    return sweep


def class_source(cls) -> str | None:
    try:
        return inspect.getsourcefile(cls)
    except TypeError:
        return None
