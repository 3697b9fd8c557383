"""The Tracer: every Python layer call recorded as an event, with the contract checks that need its data.

How: instrument.py puts Tracer.call in front of each Python layer method (and the layer callbacks around
every layer); call runs the user's method through _run (wall time, exceptions, post-mortem) and records a
"call" event: a forward's bottoms as it got them and its tops as it left them, a backward's tops as it got
them and its bottoms as it left them, with statistics (stats.py) unless they are off. The tops a forward
writes and the bottoms a backward writes are handed over as WatchedBlob stand-ins (watch.py), which report
lossy writes. call_checks.py judges each record and checks.py the run; both report through finding(),
which takes the check's severity, message and fix from its row in contract.ROWS. Before each call the
layer and method are written to a Marker, so that when Caffe aborts the parent still knows what ran.

Statistics inside one sweep of the net: a blob the previous Python layer just wrote, and no layer has
written since, keeps the statistics measured then (`fresh`; the layer callbacks drop them when a layer
that writes the blob runs). This all runs on every call, so it counts numpy and pycaffe calls: the net's
blobs are kept in adopt(), the WatchedBlob stand-ins made once.
"""
from __future__ import annotations

import pdb as pdb_module
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from . import call_checks, contract, instrument
from .instrument import Replacements
from .marker import METHOD_CODES, Marker
from .netinfo import python_layers_of
from .stats import blob_summary, bottom_entries, entry_summary, shape_summaries, shares_a_top
from .tracebacks import format_traceback
from .watch import WatchedBlob

_clock = time.perf_counter


def _keep_fresh(fresh: dict | None, blob_ids: list[int], summaries: list[dict], part: str) -> None:
    """Keep the statistics of the blobs a method just wrote (inside a sweep), for the next layer that reads them."""
    if fresh is not None:
        for blob_id, summary in zip(blob_ids, summaries):
            fresh[blob_id, part] = summary.get(part)


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
    reshaped_in: int = -1  # the net's layer call (Tracer.layer_calls) its last reshape ran in
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
    replacements: Replacements = field(default_factory=Replacements)  # what restore() puts back
    _reported: set = field(default_factory=set)
    # set by the layer callbacks (instrument.attach_timers): the layer running, and how many layer calls so far
    running: tuple[int, str] | None = None  # (layer index, "forward" | "backward") between a layer's callbacks
    layer_calls: int = 0
    in_call: tuple[str, str] | None = None  # (layer name, method) while a Python layer's method runs, for its prints
    # (blob index, "data" | "diff") -> statistics measured since a layer last wrote that part, within one sweep
    # of the net (one C++ forward or backward): the next Python layer reads the blob its neighbour just wrote
    fresh: dict[tuple[int, str], dict | None] = field(default_factory=dict)

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
        for index, name, layer in python_layers_of(net):
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
    def finding(self, check: str, layer: str, method: str, blob: str | None = None, iteration: int | None = None,
                case: str = "", **values) -> None:
        """Send the finding of a check in the table (contract.ROWS), once per check, layer, method and blob;
        `values` fill its message and fix."""
        key = (check, layer, method, blob)
        if key in self._reported:
            return
        self._reported.add(key)
        self.emit(contract.finding(check, layer, method, self.iteration if iteration is None else iteration, blob,
                                   case=case, **values))

    def param_str_findings(self, saw_setup: bool) -> None:
        """param_str_unread, once the run is over: a layer given a param_str that never read it."""
        for state in self.states.values():
            if saw_setup and state.param_str.strip() and not state.param_str_reads and not state.fork_param_str_reads:
                self.finding("param_str_unread", state.name, "setup", param_str=state.param_str)

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
        running = self.running
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
            state.reshaped_in = self.layer_calls if in_net else -1
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
            self.running = self.in_call = None  # Caffe calls no after_* callback past an exception
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
        after_reshape = in_sweep and state.reshaped_in == self.layer_calls
        top_shapes_before = (state.shapes_after_reshape if after_reshape and state.shapes_after_reshape is not None
                             else [s["shape"] for s in shape_summaries(tops, allocated)])
        stats = self.stats
        if stats:
            # the bottoms are summarised as forward gets them (with copies, to show a bottom it changed), the tops
            # as it leaves them
            fresh = self.fresh if in_sweep else None
            in_place = state.bottom_in_place if in_sweep else [shares_a_top(b, tops) for b in bottoms]
            bottom_summaries, bottom_copies = bottom_entries(bottoms, state.bottom_ids, fresh, in_place, allocated)
            # only the tops are watched: the bottoms it reads stay plain arrays, at numpy's speed
            args = (args[0], self._watched(state, "forward", tops))
        else:
            bottom_summaries = (state.reshape_bottoms if after_reshape and state.reshape_bottoms is not None
                                else shape_summaries(bottoms, allocated))
        wall_ms = self._run(layer, state, "forward", function, args)
        if stats:
            top_summaries = [blob_summary(b, "data", allocated) for b in tops]
            _keep_fresh(fresh, state.top_ids, top_summaries, "data")
        else:
            top_summaries = shape_summaries(tops, allocated)
        self.emit({"event": "call", "layer": state.name, "method": "forward", "iteration": self.iteration,
                   "probe": self.probing, "wall_ms": wall_ms, "bottoms": bottom_summaries, "tops": top_summaries})

        call_checks.forward_shapes(self, state, top_shapes_before, [s["shape"] for s in top_summaries])
        if stats:
            call_checks.forward_values(self, state, top_summaries, bottoms, bottom_copies)

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
            fresh = self.fresh if in_sweep else None
            top_summaries = [entry_summary(b, "diff", fresh, state.top_ids, j, allocated) for j, b in enumerate(tops)]
            args = (args[0], flags, self._watched(state, "backward", bottoms))
        else:
            top_summaries = shape_summaries(tops, allocated)
        call_checks.backward_tops(self, state, [s["shape"] for s in top_summaries])
        wall_ms = self._run(layer, state, "backward", function, args)
        state.backward_calls += 1
        if stats:  # the bottoms' diffs as backward leaves them
            bottom_summaries = [blob_summary(b, "diff" if flag else None, allocated)
                                for b, flag in zip(bottoms, propagate_down)]
            _keep_fresh(fresh, state.bottom_ids, bottom_summaries, "diff")
        else:
            bottom_summaries = shape_summaries(bottoms, allocated)
        self.emit({"event": "call", "layer": state.name, "method": "backward", "iteration": self.iteration,
                   "probe": self.probing, "wall_ms": wall_ms, "bottoms": bottom_summaries, "tops": top_summaries,
                   "propagate_down": propagate_down})
        if stats:
            call_checks.backward_diffs(self, state, bottom_summaries, top_summaries, bottoms, propagate_down)

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
            self.finding("lossy_write", state.name, method, blob=where, part=part, problem=problem)
        return report

    # -- installing it (instrument.py does the work) --
    def wrap_classes(self, classes) -> None:
        """Wrap the methods of Python layer classes (before the net is built, so setup is seen)."""
        instrument.wrap_classes(self, classes)

    def wrap_instances(self, net) -> None:
        """Wrap the methods of the Python layer objects of an already built net."""
        instrument.wrap_instances(self, net)

    def attach_timers(self, net, on_pass_end: Callable[[], None] | None = None,
                      on_backward_end: Callable[[], None] | None = None) -> None:
        """Time every layer; with the hooks, also count the passes a caller makes (net.forward, solver.step)."""
        instrument.attach_timers(self, net, on_pass_end, on_backward_end)

    def watch_solver(self, solver) -> None:
        """Mark the solver's update in each step, so an abort there is put down to the solver."""
        instrument.watch_solver(self, solver)

    def restore(self) -> None:
        """Put back every method, property and net attribute the tracer replaced."""
        self.replacements.restore()
