"""How a child ended, and the crash report of one that died: the same for trace, training and gradcheck.

ChildRun is what run_child returns: the exit code, Caffe's log, what the layers printed, the marker's last
mark, and whether inspector ended the child (a signal, the timeout). child_crash turns a child that died
before its final record into a report.Crash, in passes:
1. the culprit: a Python layer's own exception names its layer and method (or the marker does, for an
   exception outside any layer); else, while Net::Init was building the net, Caffe's log names the layer
   it was building (attribution.construction_culprit); after that, the marker
   (attribution.culprit_after_construction); `running` names the layer when no evidence does (gradcheck's);
2. the blame: the culprit's type, the Python layers feeding a C++ culprit and the summary line
   (attribution.blame), dropped where nothing aborted or a traceback says it better;
3. the log (ChildRun.add_log): Caffe's "Check failed" line, the log's last readable lines, the last printed
   lines, and for a child inspector ended the signal or timeout and the line it was on (stackdump.py).
"""
from __future__ import annotations

import signal
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ...errors import CheckFailed, InputError, InspectorError, MissingDependency
from ...prototxt import read_net
from ..attribution import (
    Culprit,
    NetWiring,
    blame,
    construction_culprit,
    culprit_after_construction,
    python_exception_stage,
)
from ..report import CallRecord, Crash
from .caffelog import CaffeLog, check_failed_line, readable_log_tail
from .stackdump import running_line, split_stack_dump, stack_text, stopped_stack

if TYPE_CHECKING:
    from ..netinfo import LayerInfo

SIGNAL_NUMBERS = {int(number) for number in signal.Signals}
# kinds whose headline says it all (nothing aborted), or whose traceback says it better than a summary
NO_SUMMARY_KINDS = ("interrupted", "timeout", "exited", "python_exception")


@dataclass
class ChildRun:
    """How a child process ended: its exit code, Caffe's log, what its code printed, the marker's last mark,
    and whether inspector ended it: on a signal inspector got (`stopped_by`), or past `timeout` seconds."""

    returncode: int
    log: CaffeLog
    printed: CaffeLog | None
    mark: dict | None
    stopped_by: str | None = None
    timeout: float | None = None  # set when the child ran past it

    @property
    def abort_kind(self) -> str:
        if self.timeout is not None:
            return "timeout"
        if self.stopped_by:
            return "interrupted"
        if self.log.fatal or self.returncode == -signal.SIGABRT:
            return "caffe_abort"  # a failed CHECK or LOG(FATAL) ends in abort()
        if self.returncode < 0:
            return signal.Signals(-self.returncode).name if -self.returncode in SIGNAL_NUMBERS else "signal"
        return "exited"  # the process ended on its own (os._exit in a layer) before its last event

    def add_log(self, crash: Crash) -> Crash:
        """The crash with Caffe's "Check failed" line, the log's last lines and the last printed lines; for a
        child inspector ended, the signal or timeout and the line it was running (its stack, dumped on SIGTERM)."""
        crash.check_failed = check_failed_line(self.log.fatal)
        lines = self.log.tail
        if self.stopped_by or self.timeout is not None:
            crash.signal, crash.timeout = self.stopped_by, self.timeout
            lines, dump = split_stack_dump(lines)
            frames = stopped_stack(dump)
            crash.location = crash.location or running_line(frames)
            crash.traceback = crash.traceback or stack_text(frames)
        elif self.returncode < 0 and -self.returncode in SIGNAL_NUMBERS:
            crash.signal = signal.Signals(-self.returncode).name
        crash.log_tail = readable_log_tail(lines, crash.check_failed)
        if self.printed is not None and self.printed.tail:
            crash.printed = list(self.printed.tail)
        return crash


def child_error(event: dict) -> InspectorError:
    """The InspectorError a child reported in an "error" event, with its kind and exit code."""
    kinds = {"MissingDependency": MissingDependency, "CheckFailed": CheckFailed}
    error = kinds.get(event.get("kind", ""), InputError)(event["message"], event.get("remedy"))
    error.exit_code = event.get("exit_code", error.exit_code)
    return error


def child_crash(child: ChildRun, exception: dict | None, layer_types: dict[str, str],
                layers: list[LayerInfo] | None = None, python_calls: dict[str, list[CallRecord]] | None = None,
                running: str | None = None) -> Crash:
    """The Crash of a child that died (see the module doc). `exception` is the child's last "exception" event,
    `layer_types` the net's layers as written (name -> type), `layers` the built net's own description when
    it got that far, `python_calls` the Python layers' recorded calls, `running` the layer when nothing names one."""
    mark = _named_mark(child.mark, layers or [])
    construction = child.log.construction
    if exception is not None:
        crash = Crash("python_exception", child.returncode, exception.get("layer"), exception.get("method"),
                      exception.get("iteration"), traceback=exception.get("text"), location=exception.get("location"))
        if crash.layer is None and mark:
            culprit = culprit_after_construction(construction, mark)
            crash.layer, crash.method, crash.iteration = culprit.layer, culprit.method, culprit.iteration
            crash.stage = culprit.stage
        else:
            crash.stage = python_exception_stage(crash.method, crash.iteration)
    else:
        if construction.started and not construction.initialized:
            culprit = construction_culprit(construction, check_failed_line(child.log.fatal), layer_types, mark)
        else:
            culprit = culprit_after_construction(construction, mark)
        crash = Crash(child.abort_kind, child.returncode, culprit.layer, culprit.method, culprit.iteration,
                      stage=culprit.stage)
    wiring = NetWiring.of(construction, layers or [], layer_types)
    culprit = Culprit(crash.layer, crash.method, crash.stage, crash.iteration)
    crash.layer_type, crash.fed_by, crash.summary = blame(culprit, wiring, construction, python_calls or {})
    if crash.kind in NO_SUMMARY_KINDS:
        crash.summary = None
    crash.layer = crash.layer or running  # after the blame: that is for a culprit the evidence names
    return child.add_log(crash)


def _named_mark(mark: dict | None, layers: list[LayerInfo]) -> dict | None:
    """The mark with its layer named: the marker names a layer of the built net by its index."""
    if mark and mark["layer"] is None and mark["index"] is not None:
        index = mark["index"]
        mark = {**mark, "layer": layers[index].name if index < len(layers) else f"layer #{index}"}
    return mark


def written_layer_types(net: Path, phase: str) -> dict[str, str]:
    """name -> type of the layers Caffe builds in `phase`, as written (empty when the file does not parse)."""
    try:
        return {layer.name: layer.type for layer in read_net(net).layers_for(phase)}
    except InspectorError:
        return {}
