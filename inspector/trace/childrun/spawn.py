"""Starting a child, following it and ending it: the parent's side of every child inspector runs.

run_child starts `python -m MODULE` (the trace, the training or the gradient check) with an event log and
a marker passed as open descriptors of files with no name (shared_file: in memory on Linux, elsewhere in a
temporary folder removed before the child starts; no kill leaves one behind), a session of its own (a
terminal's Ctrl-C reaches inspector only) and its parent's pid (it dies with inspector:
serve.die_with_parent). While it runs, the event log is read every POLL_SECONDS and each event passed on,
Caffe's log (its stderr) is read on a thread (caffelog.CaffeLog), and Ending decides whether inspector
must end it: past the timeout, or on SIGINT, SIGTERM or SIGHUP, the child gets SIGTERM (it dumps its
stack, stackdump.py) and SIGKILL if that fails.
What comes back is a crash.ChildRun: how the child ended, its log, its marker's last mark.
"""
from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from ...errors import InputError
from ..events import follow_event_log
from ..marker import Marker
from .caffelog import CaffeLog
from .crash import ChildRun

POLL_SECONDS = 0.02  # how often the event log is read while the child runs
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))
KILL_AFTER_SECONDS = 5.0  # a child that SIGTERM does not end (stuck in the kernel) then gets SIGKILL


def validate_timeout(timeout: float | None) -> None:
    if timeout is not None and not (0 < timeout < math.inf):
        raise InputError(f"--timeout must be a positive number of seconds, got {timeout:g}.",
                         "Pass --timeout 60, say, or leave it out for no limit.")


class Ending:
    """Whether inspector must end the child before it finishes: a signal inspector got (SIGINT, SIGTERM,
    SIGHUP) or the timeout; and ending it: SIGTERM (its stack is dumped, then it dies), SIGKILL if that fails.
    Ctrl-Z pauses the child with inspector (and the timeout's clock)."""

    def __init__(self, timeout: float | None):
        self.child: subprocess.Popen | None = None
        self.signal: str | None = None
        self.timed_out = False
        self._deadline = time.monotonic() + timeout if timeout else None
        self._terminated_at: float | None = None

    def on_signal(self, number: int, frame) -> None:
        if self.signal is None and not self.timed_out:
            self.signal = signal.Signals(number).name

    def on_suspend(self, number: int, frame) -> None:
        """Ctrl-Z (SIGTSTP): the terminal stops inspector alone (the child has a session of its own), so the
        child is stopped here, then inspector stops as SIGTSTP would stop it, and both go on together."""
        child = self.child if self.child is not None and self.child.poll() is None else None
        if child is not None:
            os.kill(child.pid, signal.SIGSTOP)
        stopped_at = time.monotonic()
        signal.signal(signal.SIGTSTP, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTSTP)  # inspector stops here, until SIGCONT (the shell's fg or bg)
        signal.signal(signal.SIGTSTP, self.on_suspend)
        if self._deadline is not None:
            self._deadline += time.monotonic() - stopped_at  # time stopped is not time running
        if child is not None:
            os.kill(child.pid, signal.SIGCONT)

    def finished(self, child: subprocess.Popen) -> bool:
        """Whether the child has exited; if it must end, ends it (asked each time the event log is polled)."""
        if child.poll() is not None:
            return True
        now = time.monotonic()
        if self._deadline is not None and now >= self._deadline and self.signal is None:
            self.timed_out = True
        if self.signal or self.timed_out:
            if self._terminated_at is None:
                child.terminate()
                self._terminated_at = now
            elif now - self._terminated_at > KILL_AFTER_SECONDS:
                child.kill()
        return False

    @contextmanager
    def handling_signals(self, interactive: bool):
        """SIGINT, SIGTERM and SIGHUP end the child instead of inspector, for this block (from the main thread
        only, where Python runs signal handlers). With --pdb, SIGINT is the debugger's (the child shares the
        terminal), so inspector ignores it."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        suspend = () if interactive or not hasattr(signal, "SIGTSTP") else (signal.SIGTSTP,)
        previous = {number: signal.getsignal(number) for number in (*STOP_SIGNALS, *suspend)}
        try:
            for number in STOP_SIGNALS:
                ignored = interactive and number == signal.SIGINT
                signal.signal(number, signal.SIG_IGN if ignored else self.on_signal)
            for number in suspend:  # with --pdb the child shares the terminal: Ctrl-Z stops both already
                signal.signal(number, self.on_suspend)
            yield
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)


def shared_file(name: str, size: int) -> int:
    """An open descriptor (read and write) of a file of `size` zero bytes with no name, for the parent and the child
    to share: in memory where the system makes such files (Linux's memfd_create), so writing it never waits on a
    disk, nor fails with SIGBUS on a full one; elsewhere made in a temporary folder that is removed at once."""
    try:
        fd = os.memfd_create(f"inspector-{name}")  # close-on-exec: Popen's pass_fds hands it to the child
    except (AttributeError, OSError):  # not Linux, a kernel before 3.17, or a sandbox that forbids it
        with tempfile.TemporaryDirectory(prefix="inspector-child-") as tmp:
            fd = os.open(Path(tmp) / name, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    os.ftruncate(fd, size)
    return fd


def run_child(module: str, config: dict, on_event: Callable[[bytes, dict], None], glog_level: int = 0,
              interactive: bool = False, timeout: float | None = None) -> ChildRun:
    """Run `python -m MODULE --events-fd N --marker-fd M --parent-pid P --config JSON`, passing each event line
    it writes (raw bytes without the newline, and parsed) to on_event as it comes, and return how it ended. Caffe
    may abort the child: whatever it wrote before that has been passed on, and the marker holds what was running.
    Past `timeout` seconds, or when inspector gets SIGINT, SIGTERM or SIGHUP, the child is ended and the run
    returns as one that crashed (ChildRun.abort_kind "timeout" or "interrupted")."""
    marker_fd = shared_file("marker", Marker.SIZE)
    try:
        events_fd = shared_file("events", 0)
    except BaseException:
        os.close(marker_fd)
        raise
    try:
        env = dict(os.environ, GLOG_minloglevel=str(glog_level), GLOG_logtostderr="1", PYTHONUNBUFFERED="1")
        command = [sys.executable, "-m", module, "--events-fd", str(events_fd), "--marker-fd", str(marker_fd),
                   "--parent-pid", str(os.getpid()), "--config", json.dumps(config)]
        ending = Ending(timeout)
        with ending.handling_signals(interactive):
            child = subprocess.Popen(
                command, env=env, cwd=os.getcwd(), text=True, pass_fds=(events_fd, marker_fd),
                # --pdb needs the terminal; otherwise the layers' prints join Caffe's log, keeping stdout for the
                # report, and the child has a session of its own: a terminal's Ctrl-C reaches inspector alone
                stdin=None if interactive else subprocess.DEVNULL,
                stdout=None if interactive else subprocess.PIPE,
                stderr=subprocess.PIPE, start_new_session=not interactive,
            )
            ending.child = child
            try:
                assert child.stderr is not None  # stderr=PIPE
                log = CaffeLog(child.stderr)
                printed = CaffeLog(child.stdout) if child.stdout else None
                follow_event_log(events_fd, lambda: ending.finished(child), on_event, POLL_SECONDS)
                returncode = child.wait()
            finally:
                if child.poll() is None:  # inspector itself failed while the child ran: the child goes too
                    child.kill()
                    child.wait()
            log.join()  # still under the handlers: a late Ctrl-C does not lose the finished run
            if printed:
                printed.join()
        return ChildRun(returncode, log, printed, Marker.read(marker_fd), stopped_by=ending.signal,
                        timeout=timeout if ending.timed_out else None)
    finally:
        os.close(events_fd)
        os.close(marker_fd)
