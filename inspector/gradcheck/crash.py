"""What `inspector gradcheck` says when its child died: GradcheckCrash, from the runner's crash report.

The crash itself (culprit, blame, Caffe's log, the stack of a stopped child) is trace.childrun.crash's,
as for a trace; here it becomes one line saying what happened while doing what (the stage the child was
in, and the summary naming the layer Caffe was building), then Caffe's "Check failed" line or the
traceback through the user's code. An exception with none of the user's frames on its stack, raised
during the check proper, is inspector's own failure and says so.
"""
from __future__ import annotations

from ..errors import CheckFailed
from ..trace.childrun.crash import ChildRun, child_crash
from ..trace.report import Crash
from ..trace.tracebacks import is_user_file

# Stages before the check proper (api.check_in_net's): an error there is the net's or Caffe's, whoever's code raised it
BEFORE_THE_CHECK = ("importing", "building the net", "running the net forward")
REMEDY = "Run `inspector trace` on the net to see the layer calls that lead to it."


class GradcheckCrash(CheckFailed):
    """The child process running the check died: the stage it was in and how (a Crash, as trace reports it)."""

    def __init__(self, message: str, remedy: str, stage: str | None, crash: Crash, details: str | None):
        super().__init__(message, remedy)
        self.stage, self.crash, self.details = stage, crash, details


def crash_error(layer: str, stage: str | None, child: ChildRun, exception: dict | None,
                layer_types: dict[str, str]) -> GradcheckCrash:
    """What the user reads when the child checking `layer` died in `stage` (see the module doc)."""
    crash = child_crash(child, exception, layer_types, running=layer)
    doing = f" while {stage}" if stage else ""
    if exception is not None:
        frames = exception.get("frames") or []
        checking = stage is not None and not stage.startswith(BEFORE_THE_CHECK)
        if checking and not any(is_user_file(f["file"]) for f in frames):  # the layer's code was not on the stack
            message = (f"inspector itself failed{doing} (gradcheck of {layer!r}): {exception['type']}: "
                       f"{exception['message']}; this is not your layer's fault.")
            return GradcheckCrash(message, "Please report it, with the output of `inspector --debug gradcheck ...`.",
                                  stage, crash, None)
        at = f" (raised at {crash.location})" if crash.location else ""
        message = f"The gradcheck of {layer!r} stopped{doing}: {exception['type']}: {exception['message']}{at}."
        return GradcheckCrash(message, REMEDY, stage, crash, crash.traceback)
    if crash.stopped:  # inspector ended it: past --timeout, or on a signal (exit 128 + its number)
        ended = (f"was still running after {crash.timeout:g} s" if crash.kind == "timeout"
                 else f"was interrupted ({crash.signal})")
        at = f" (at {crash.location})" if crash.location else ""
        error = GradcheckCrash(f"The gradcheck of {layer!r} {ended}{doing}{at}.", REMEDY, stage, crash, None)
        if crash.interrupt_exit_code is not None:
            error.exit_code = crash.interrupt_exit_code
        return error
    if crash.summary:
        doing += f" ({crash.summary})"
    if crash.check_failed:
        message = f"Caffe aborted the gradcheck of {layer!r}{doing} (exit code {child.returncode})."
        return GradcheckCrash(message, REMEDY, stage, crash, crash.check_failed)
    if child.returncode < 0:  # the crash names a known signal (ChildRun.add_log)
        died_of = crash.signal or f"signal {-child.returncode}"
        message = f"The process running the gradcheck of {layer!r} died of {died_of}{doing}."
    else:
        message = f"The gradcheck of {layer!r} ended without a result{doing} (exit code {child.returncode})."
    return GradcheckCrash(message, REMEDY, stage, crash, "\n".join(crash.log_tail[-15:]).strip() or None)

