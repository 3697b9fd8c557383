"""The debugging-session API: trace an existing caffe.Net or solver from a notebook or under pdb.

    from inspector import trace
    with trace(net) as t:          # or trace(solver): its training net
        net.forward(); net.backward()      # or solver.step(n)
    t.check()                      # optional: the probes (accumulated diffs, loss ignoring top diff)
    t.report                       # the same TraceReport `inspector trace` prints
    t.report.training              # with a solver: the training view (training_report), as for a solver file

A solver's iterations are numbered as Caffe's log numbers them (solver.iter, from 0); trace(solver,
solver_file="solver.prototxt") adds what pycaffe does not expose: the lr_policy and the net's lr_mults.

The net is already built, so setup is past: the Python layer objects' own methods are wrapped
(instance attributes, removed on exit) and every pass the net makes is recorded through its
layer callbacks. The records and findings are those of the command.

Events are kept (`events`) and folded into the report when it is read. A long run folds them as it goes,
past KEEP_EVENTS of them, and from then on its report keeps calls as the command's does (runner.CallWindow:
the first and last iterations whole, and every call with a finding or a NaN or Inf), so that memory stays
bounded however long a notebook trains; `on_event` still sees every event.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..phases import PHASE_OPTIONS
from .checks import check_backward_calls, check_diff_accumulation, check_loss, check_loss_uses_top_diff
from .instrument import class_source
from .netinfo import blob_shapes, describe_layers, loss_reader, python_layers_of
from .report import ReportBuilder, TraceReport
from .tracer import Tracer

if TYPE_CHECKING:
    from .runner import CallWindow

PHASE_NAMES = dict(enumerate(PHASE_OPTIONS))  # caffe.proto's Phase numbers: TRAIN 0, TEST 1
KEEP_EVENTS = 20_000  # events kept unfolded at most (a few thousand passes): past this, folded as the run goes


def _net_of(target):
    """The net to trace: the target itself, or a solver's training net."""
    if hasattr(target, "step") and hasattr(target, "net"):
        return target.net
    if hasattr(target, "_layer_names") and hasattr(target, "layers"):
        return target
    raise TypeError(f"trace() takes a caffe.Net or a caffe solver, not {type(target).__name__}")


class Trace:
    """A tracing span over a built net; use as a context manager, then read .report."""

    def __init__(self, target, *, stats: bool = True, seed: int = 0, post_mortem: bool = False, on_event=None,
                 solver_file=None):
        self.net = _net_of(target)
        self.solver = target if target is not self.net else None
        self.solver_file = solver_file
        self._recorder = None  # the training recorder, for a solver (training_hooks.attach_to_solver)
        self.seed = seed
        self.on_event = on_event
        self.events: list[dict] = []
        python_objects = [p.layer for p in python_layers_of(self.net)]
        phase = PHASE_NAMES.get(getattr(python_objects[0], "phase", -1), "unknown") if python_objects else "unknown"
        self._builder = ReportBuilder("<in-process net>", phase, 0, seed, stats)
        self._folded = 0  # events the builder has taken: it folds them when the report is read, not in the passes
        self._window: CallWindow | None = None  # the report's call window, once the run is long (see the module doc)
        self.tracer = Tracer(self._emit, stats=stats, post_mortem=post_mortem)
        self._backward_passes = 0

    def _emit(self, event: dict) -> None:
        self.events.append(event)
        if self.on_event is not None:
            self.on_event(event)
        if len(self.events) >= KEEP_EVENTS:  # a long run: fold what came, keep only what the report keeps
            self._fold_long_run()

    def _fold_long_run(self) -> None:
        if self._window is None:
            from .runner import CALL_ITERATIONS_KEPT, CallWindow  # noqa: PLC0415
            from .training_hooks import TRAINING_CALL_ITERATIONS  # noqa: PLC0415

            kept = CALL_ITERATIONS_KEPT if self.solver is None else TRAINING_CALL_ITERATIONS  # as the command keeps
            self._window = CallWindow(self._builder.report, kept)
        self._fold()
        self.events.clear()
        self._folded = 0

    def _fold(self) -> None:
        events, builder, window = self.events, self._builder, self._window
        while self._folded < len(events):
            event = events[self._folded]
            self._folded += 1
            builder.add(event)
            if window is not None:
                window.take(event)

    def __enter__(self) -> Trace:
        net, tracer = self.net, self.tracer
        tracer.adopt(net)
        described = []
        for _, name, layer in python_layers_of(net):
            cls = type(layer)
            described.append({"name": name, "module": cls.__module__, "class": cls.__name__,
                              "source_file": class_source(cls), "param_str": layer.__dict__.get("param_str", "")})
        self._emit({"event": "python_layers", "layers": described})
        self._emit({"event": "net", "layers": [i.to_dict() for i in describe_layers(net)],
                    "blob_shapes": blob_shapes(net)})
        self._loss = loss_reader(net)
        tracer.wrap_instances(net)
        if self.solver is not None:  # the recorder numbers the iterations (solver.iter) and reads the losses
            from .training_hooks import attach_to_solver  # noqa: PLC0415

            tracer.attach_timers(net, on_backward_end=self._backward_ended)
            self._recorder = attach_to_solver(self.solver, self._emit, self._builder, tracer, self.tracer.stats,
                                              self.tracer.post_mortem, self.solver_file)
            return self
        tracer.attach_timers(net, on_pass_end=self._pass_ended, on_backward_end=self._backward_ended)
        return self

    def _pass_ended(self) -> None:  # runs inside the pass (the last layer's callback)
        loss = self._loss()
        self._emit({"event": "iteration", "iteration": self.tracer.iteration, "loss": loss})
        check_loss(self.net, self.tracer, loss)

    def _backward_ended(self) -> None:
        self._backward_passes += 1

    def check(self) -> TraceReport:
        """Run the probes that need extra passes: diffs accumulated with +=, a loss ignoring top[0].diff."""
        check_diff_accumulation(self.net, self.tracer, self.seed)
        check_loss_uses_top_diff(self.net, self.tracer)
        return self.report

    def __exit__(self, *exc_info) -> None:
        tracer = self.tracer
        if self._recorder is not None:
            self._recorder.end()
        passes = max(self._recorder.iterations if self._recorder is not None else tracer.iteration, 1)
        self.report.iterations = passes if self._recorder is not None else tracer.iteration
        self._emit({"event": "timings",
                    "forward_ms": {str(i): t / passes for i, t in tracer.forward_ms.items()},
                    "backward_ms": {str(i): t / passes for i, t in tracer.backward_ms.items()},
                    "blob_shapes": blob_shapes(self.net)})
        if self._backward_passes:
            check_backward_calls(self.net, tracer, None, None)
        tracer.param_str_findings(saw_setup=False)
        tracer.restore()
        tracer.active = False
        if exc_info[0] is None:
            self._emit({"event": "done"})

    @property
    def report(self) -> TraceReport:
        self._fold()
        return self._builder.report


def trace(target, *, stats: bool = True, seed: int = 0, post_mortem: bool = False, on_event=None,
          solver_file=None) -> Trace:
    """Trace a caffe.Net or solver: `with trace(net) as t: net.forward(); net.backward()`, then `t.report`."""
    return Trace(target, stats=stats, seed=seed, post_mortem=post_mortem, on_event=on_event, solver_file=solver_file)
