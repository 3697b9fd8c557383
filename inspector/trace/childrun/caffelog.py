"""Caffe's log as the parent reads it: the child's stderr (glog at INFO level and anything printed there),
read line by line on a thread while the child runs.

CaffeLog keeps what a report needs and drops the rest: the "needs backward computation" lines Net::Init
prints, the "Check failed" and other fatal lines of an abort, what Net::Init says about the net it builds
(attribution.ConstructionLog, for a crash's culprit) and a tail of the other lines, without Caffe's INFO
chatter (the net definition it prints included). readable_log_tail and check_failed_line turn that into
the lines a crash report shows.
"""
from __future__ import annotations

import re
import threading
from typing import IO

from ..attribution import ConstructionLog
from .stackdump import is_noise_frame

NEEDS_BACKWARD = re.compile(r"\] (\S+) (needs|does not need) backward computation\.")
FATAL_LINE = re.compile(r"^F\d{4} ")
LOG_TAIL_LINES = 60
# glog's line prefix: severity, then the date as mmdd or yyyymmdd, then the time
GLOG_PREFIX = re.compile(r"^([IWEF])\d{4,8} \d\d:\d\d:\d\d")
# a line of the net definition Caffe prints in an INFO message: `name: ...`, `layer {`, `}`
PROTOTXT_LINE = re.compile(r"^\s*(\w+\s*[:{]|\})")
# faulthandler's module list after an abort, and glog's note when pycaffe did not initialise it
LOG_NOISE = ("Extension modules:", "WARNING: Logging before InitGoogleLogging()")


class CaffeLog:
    """Reads the child's stderr (Caffe's glog and any prints) on a thread, keeping what the report needs."""

    def __init__(self, stream: IO[str]):
        self.needs_backward: dict[str, bool] = {}
        self.fatal: list[str] = []
        self.tail: list[str] = []
        self.construction = ConstructionLog()  # which layer Net::Init was building, for a crash's culprit
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        in_info = False  # inside a multi-line INFO message (Caffe prints the whole net definition)
        for line in stream:
            line = line.rstrip("\n")
            self.construction.feed(line)
            match = NEEDS_BACKWARD.search(line)
            if match:
                self.needs_backward[match.group(1)] = match.group(2) == "needs"
                continue
            if "Check failed" in line or FATAL_LINE.match(line):
                self.fatal.append(line)
            glog = GLOG_PREFIX.match(line)
            if glog:
                in_info = glog.group(1) == "I"
            elif in_info:
                in_info = bool(PROTOTXT_LINE.match(line))
            if in_info:
                continue  # Caffe's INFO chatter, the net definition it prints included, is not worth keeping
            self.tail.append(line)
            del self.tail[:-LOG_TAIL_LINES]

    def join(self) -> None:
        self._thread.join(timeout=10)


def readable_log_tail(lines: list[str], check_failed: str | None) -> list[str]:
    """The log's last lines as a user reads them: the Check failed line (shown on its own) and
    faulthandler's frames of inspector and of the interpreter left out."""
    return [line for line in lines
            if line != check_failed and not line.strip().startswith(LOG_NOISE) and not is_noise_frame(line)]


def check_failed_line(lines: list[str]) -> str | None:
    for line in lines:
        if "Check failed" in line:
            return line
    return lines[0] if lines else None
