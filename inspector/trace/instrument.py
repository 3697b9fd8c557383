"""Putting a Tracer in front of a caffe.Net, and taking it away again.

How:
- Python layers: PythonLayer (C++) looks `setup`, `reshape`, `forward` and `backward` up on the
  layer object at each call, so replacing them on the class (before the net is built, to see
  setup: wrap_classes) or on the instances (an already built net: wrap_instances) puts a wrapper
  that calls Tracer.call in front of the user's method. `param_str` becomes a tracked property for
  the same span, so reads of it (and of `param_str_`, a fork's name this Caffe never sets) are seen.
  Every replacement is recorded in Replacements and undone by Tracer.restore().
- All layers: Net's before/after forward/backward callbacks (pycaffe's net.before_forward and
  friends) time each layer, count the passes, mark the running layer for a crash report and drop
  statistics carried for a blob its layer is about to write (attach_timers). Caffe offers no way to
  remove a callback, so they stay registered and do nothing once the tracer is inactive.
- The solver: its gradients-ready callback marks the update (watch_solver).
- Prints: while tracing, sys.stdout and sys.stderr stand in as LayerOutput, which tells each Python
  layer method's printed lines apart as "output" events (tracing).
"""
from __future__ import annotations

import contextlib
import inspect
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from .marker import METHOD_CODES
from .netinfo import python_layers_of
from .watch import sweep

if TYPE_CHECKING:
    from .tracer import Tracer

METHODS = ("setup", "reshape", "forward", "backward")


class Replacements:
    """Attributes replaced on classes, instances and nets, each with how to put the original back."""

    def __init__(self) -> None:
        self._undo: list[Callable[[], None]] = []

    def replace(self, owner, attribute: str, value) -> None:
        had_own = attribute in vars(owner)
        original = vars(owner).get(attribute)
        setattr(owner, attribute, value)

        def undo():
            if had_own:
                setattr(owner, attribute, original)
            else:
                delattr(owner, attribute)
        self._undo.append(undo)

    def restore(self) -> None:
        """Put every original back, the last replaced first."""
        while self._undo:
            self._undo.pop()()


def _class_wrapper(tracer: Tracer, method: str, function):

    def traced(layer, *args):
        return tracer.call(layer, method, function, args)

    traced.__wrapped__ = function  # type: ignore[attr-defined]  # the original method, restored at the end
    traced.traced_method = method  # type: ignore[attr-defined]  # a subclass that inherits it wraps the original
    return traced


def _bound_wrapper(tracer: Tracer, layer, method: str, function):
    call = tracer.call

    def traced(*args):  # one frame between Caffe and the tracer: this runs on every call
        return call(layer, method, function, args)

    traced.__wrapped__ = function  # type: ignore[attr-defined]  # the original method, restored at the end
    return traced


def wrap_classes(tracer: Tracer, classes) -> None:
    """Wrap the methods of Python layer classes (before the net is built, so setup is seen)."""
    for cls in dict.fromkeys(classes):
        for method in METHODS:
            function = cls.__dict__.get(method) or getattr(cls, method, None)
            if function is None:
                continue
            if getattr(function, "traced_method", None) == method:  # a base class's, wrapped already: once is all
                function = function.__wrapped__
            tracer.replacements.replace(cls, method, _class_wrapper(tracer, method, function))
        _track_param_str(tracer, cls)


def wrap_instances(tracer: Tracer, net) -> None:
    """Wrap the methods of the Python layer objects of an already built net."""
    for _, _, layer in python_layers_of(net):
        cls = type(layer)
        for method in METHODS:
            function = getattr(cls, method, None)
            if function is None:
                continue
            tracer.replacements.replace(layer, method, _bound_wrapper(tracer, layer, method, function))
        _track_param_str(tracer, cls)


def _track_param_str(tracer: Tracer, cls) -> None:
    if "param_str" in vars(cls):
        return

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
            tracer.finding("param_str_fork_name", state.name, "setup")
        raise AttributeError(f"{cls.__name__!r} object has no attribute 'param_str_' "
                             "(BVLC Caffe sets 'param_str')")

    def set_fork_param_str(layer, value):
        layer.__dict__["param_str_"] = value

    tracer.replacements.replace(cls, "param_str", property(get_param_str, set_param_str))
    if "param_str_" not in vars(cls):
        tracer.replacements.replace(cls, "param_str_", property(get_fork_param_str, set_fork_param_str))


def attach_timers(tracer: Tracer, net, on_pass_end: Callable[[], None] | None = None,
                  on_backward_end: Callable[[], None] | None = None) -> None:
    """Time every layer; with the hooks, also count the passes a caller makes (net.forward, solver.step)."""
    # the four callbacks run around every layer of every pass: integer nanoseconds in list slots, tuples
    # made once, no dict lookups; the milliseconds are worked out when asked for (forward_ms, backward_ms)
    clock = time.perf_counter_ns
    names = list(net._layer_names)
    count, last = len(names), len(names) - 1
    forward_ns, backward_ns = tracer.forward_ns, tracer.backward_ns
    forward_ns[:], backward_ns[:] = [0] * count, [0] * count
    forward_started, backward_started = [0] * count, [0] * count  # 0: no before_* seen while active
    running_forward = [(i, "forward") for i in range(count)]
    running_backward = [(i, "backward") for i in range(count)]
    slots = tracer.marker.slots  # None without a marker file (the Python API)
    forward_code, backward_code = METHOD_CODES["forward"], METHOD_CODES["backward"]
    counting = on_pass_end is not None

    # with statistics, what each layer writes, to drop the statistics carried for it (see Tracer.fresh)
    tops_of = [[(b, "data") for b in net._top_ids(i)] if tracer.stats else () for i in range(count)]
    bottoms_of = [[(b, "diff") for b in net._bottom_ids(i)] if tracer.stats else () for i in range(count)]
    fresh = tracer.fresh

    def before_forward(i):
        if tracer.active:
            if counting and not i and not tracer.probing:
                tracer.iteration += 1
            if slots is not None:
                if not i:
                    slots[2] = tracer.iteration
                slots[0], slots[1] = forward_code, i
            for key in tops_of[i]:
                fresh.pop(key, None)
            tracer.running = running_forward[i]
            tracer.layer_calls += 1
            forward_started[i] = clock()

    def after_forward(i):
        started = forward_started[i]
        if started and tracer.active:
            forward_ns[i] += clock() - started
            forward_started[i] = 0
            tracer.running = None
            if counting and i == last and not tracer.probing:
                on_pass_end()

    def before_backward(i):
        if tracer.active:
            if slots is not None:
                slots[0], slots[1] = backward_code, i
            for key in bottoms_of[i]:
                fresh.pop(key, None)
            tracer.running = running_backward[i]
            tracer.layer_calls += 1
            backward_started[i] = clock()

    def after_backward(i):
        started = backward_started[i]
        if started and tracer.active:
            backward_ns[i] += clock() - started
            backward_started[i] = 0
            tracer.running = None
            if on_backward_end is not None and not i and not tracer.probing:
                on_backward_end()

    if tracer.stats:  # statistics carry over from layer to layer only inside one sweep: between, any code may write
        for attribute in ("_forward", "_backward"):
            tracer.replacements.replace(net, attribute, sweep(getattr(net, attribute), fresh))

    net.before_forward(before_forward)
    net.after_forward(after_forward)
    net.before_backward(before_backward)
    net.after_backward(after_backward)


def watch_solver(tracer: Tracer, solver) -> None:
    """Mark the solver's update in each step (after backward, before ApplyUpdate changes the weights), so
    that an abort there is put down to the solver, not to the last layer the backward pass marked."""
    marker = tracer.marker

    def on_gradients_ready() -> None:
        if tracer.active:
            marker.mark("", "update", tracer.iteration)

    solver.add_callback(lambda: None, on_gradients_ready)


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


def class_source(cls) -> str | None:
    try:
        return inspect.getsourcefile(cls)
    except TypeError:
        return None
