"""The child's side of the runner: `python -m MODULE --events-fd N --marker-fd M --parent-pid P --config JSON`.

serve parses those options, ties the process to its parent (die_with_parent), turns faulthandler on (a
Caffe abort still prints the Python stack that led to it; SIGTERM, how the parent ends a run, prints it
and then ends the process), opens the event log and the marker, and runs the command's job(config, emit,
marker). An InspectorError the job raises is sent as an "error" event (bad input: the parent exits with its
code), any other exception as an "exception" event with its traceback, and a job that returns ends with
"done". The trace (trace.child), the training (trace.training_child) and the gradient check
(gradcheck.child) are jobs served here.
"""
from __future__ import annotations

import argparse
import contextlib
import ctypes
import faulthandler
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable

from ...errors import InspectorError
from ..events import EventLog
from ..marker import Marker
from ..tracebacks import format_traceback

EVENT_LOG_BYTES = 16 << 20  # the event log starts again from the top past this, once the parent has read it
EXIT_PARENT_GONE = 129  # as if ended by SIGHUP: no one is left to read it
PR_SET_PDEATHSIG = 1  # linux/prctl.h
PARENT_WATCH_SECONDS = 0.5

Job = Callable[[dict, Callable[[dict], None], Marker], None]


def serve(job: Job, argv: list[str] | None, prog: str) -> int:
    """Run job(config, emit, marker) as the child `prog` (see the module doc); the process's exit code."""
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--events-fd", type=int, required=True,
                        help="the event log, an open file, written from its end")
    parser.add_argument("--marker-fd", type=int)
    parser.add_argument("--parent-pid", type=int, help="exit when this process is gone")
    parser.add_argument("--config", required=True)
    args = parser.parse_args(argv)
    if args.parent_pid:
        die_with_parent(args.parent_pid)
    faulthandler.enable(sys.stderr)  # a Caffe abort still prints the Python stack that led to it
    # SIGTERM (how the parent ends a run past its --timeout, or interrupted) prints the stack too, then ends
    # the process as SIGTERM does: the report names the line that was running
    faulthandler.register(signal.SIGTERM, file=sys.stderr, all_threads=True, chain=True)
    # each line is in the file before the traced code goes on: an abort loses none
    emit = EventLog(args.events_fd, rotate_after=EVENT_LOG_BYTES).emit

    try:
        job(json.loads(args.config), emit, Marker(args.marker_fd))
    except InspectorError as exc:
        emit({"event": "error", "kind": type(exc).__name__, "message": exc.message, "remedy": exc.remedy,
              "exit_code": exc.exit_code})
        return exc.exit_code
    except BaseException as exc:  # the layer's own error: recorded by the tracer, or here if raised elsewhere
        emit({"event": "exception", "layer": None, "method": None, "iteration": None, "outside_layer": True,
              **format_traceback(exc)})
        return 1
    emit({"event": "done"})
    return 0


def die_with_parent(parent_pid: int) -> None:
    """End this process when `parent_pid` (inspector) ends, even by SIGKILL: on Linux the kernel's parent-death
    signal, elsewhere a thread that watches the parent's pid (on Linux no thread: it would join every stack
    dump of a crash); and at once if the parent is gone already."""
    signal_asked = False
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):  # no prctl in this libc: the thread below does it
            signal_asked = ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL) == 0

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_WATCH_SECONDS)
        os._exit(EXIT_PARENT_GONE)

    if os.getppid() != parent_pid:  # gone before the signal was asked for
        os._exit(EXIT_PARENT_GONE)
    if not signal_asked:
        threading.Thread(target=watch, name="inspector-parent-watch", daemon=True).start()
