"""Trace events as JSON lines: how the child writes them and the parent reads them.

The "call" events (one per Python layer call, the bulk of a trace) go through orjson, about
fifteen times faster than the json module, which matters because they are encoded inside the
traced passes. orjson writes NaN and Inf as null, so only events whose numbers are finite by
construction take that way (a call's statistics count non-finite values and never hold one),
and so does an "iteration" event whose loss is finite (one a pass, in the API inside the pass);
the others (a NaN loss, a finding's message) use json, which writes NaN and Infinity. Lines are
bytes, newline included, as orjson makes them: the child writes them to its EventLog as they are.

EventLog is the file the lines go through from the child to the parent: a shared memory map of it,
appended to. The child copies each line in after the ones before it, then stores how many bytes of
lines there are in the file's first 8 bytes. No system call per event (a pipe also wakes its reader
at every write, which slowed the traced passes), and the lines a process wrote before dying stay in
the file. follow_event_log reads up to that count, while the child runs and after it has ended.
"""
from __future__ import annotations

import json
import math
import mmap
import os
import struct
import time
from collections.abc import Callable
from pathlib import Path

import orjson

FINITE_EVENTS = frozenset({"call"})
FINITE_WHEN = {"iteration": "loss"}  # event -> its one float: orjson's way when that is finite


def encode_event(event: dict) -> bytes:
    """One JSON line, with its newline, in UTF-8."""
    kind = event.get("event")
    if kind in FINITE_EVENTS or (kind in FINITE_WHEN and _finite(event.get(FINITE_WHEN[kind]))):
        try:
            return orjson.dumps(event, option=orjson.OPT_APPEND_NEWLINE)
        except TypeError:  # a value orjson does not know: json says which
            pass
    return json.dumps(event, allow_nan=True, separators=(",", ":")).encode() + b"\n"


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def decode_event(line: str | bytes) -> dict:
    """The event of one JSON line; ValueError if it is not one."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:  # NaN and Infinity are json's extension, not JSON
        return json.loads(line)


_COUNT = struct.Struct("=q")  # bytes of complete lines after this header; stored after each line is copied in


class EventLog:
    """The child's end of the event log: emit(event) appends the event's line to the file at `path`
    (created empty by the parent), growing it as needed."""

    INITIAL_SIZE = 1 << 20

    def __init__(self, path: str | Path):
        fd = os.open(path, os.O_RDWR)
        try:
            os.ftruncate(fd, self.INITIAL_SIZE)
            self._map = mmap.mmap(fd, self.INITIAL_SIZE)  # keeps its own handle on the file
        finally:
            os.close(fd)
        self._count = memoryview(self._map)[:_COUNT.size].cast("q")
        self._end = _COUNT.size

    def emit(self, event: dict) -> None:
        self.write(encode_event(event))

    def write(self, line: bytes) -> None:
        start = self._end
        end = start + len(line)
        if end > len(self._map):
            self._grow(end)
        self._map[start:end] = line
        self._count[0] = end - _COUNT.size  # after the copy: a reader never counts a line still being written
        self._end = end

    def _grow(self, needed: int) -> None:
        size = len(self._map)
        while size < needed:
            size *= 2
        self._count.release()  # a mapping with a view on it cannot be resized
        self._map.resize(size)  # the file grows with it
        self._count = memoryview(self._map)[:_COUNT.size].cast("q")


def follow_event_log(path: str | Path, finished: Callable[[], bool], on_line: Callable[[bytes, dict], None],
                     poll_seconds: float = 0.02) -> None:
    """The parent's end: pass on each line of the event log at `path` (raw, without its newline, and decoded)
    as it comes, until `finished()` (the child has exited) and every line it wrote has been read."""
    fd = os.open(path, os.O_RDONLY)
    try:
        done = 0  # bytes of lines passed on
        while True:
            ended = finished()  # asked before reading, so that nothing written before the end is missed
            header = os.pread(fd, _COUNT.size, 0)
            count = _COUNT.unpack(header)[0] if len(header) == _COUNT.size else 0
            progressed = False
            if count > done:
                chunk = _read_at(fd, _COUNT.size + done, count - done)
                for line in chunk.split(b"\n")[:-1]:  # the count covers whole lines, each ending in a newline
                    try:
                        event = decode_event(line)
                    except ValueError:
                        if not ended:
                            break  # its bytes may not be visible here yet (a weakly ordered CPU): read it again
                        event = None  # the child is gone: a line that is not JSON is skipped
                    done += len(line) + 1
                    progressed = True
                    if event is not None:
                        on_line(line, event)
            if progressed:
                continue
            if ended:
                return
            time.sleep(poll_seconds)
    finally:
        os.close(fd)


def _read_at(fd: int, offset: int, size: int) -> bytes:
    parts = []
    while size > 0:
        part = os.pread(fd, size, offset)
        if not part:
            break
        parts.append(part)
        offset += len(part)
        size -= len(part)
    return b"".join(parts)
