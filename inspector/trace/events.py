"""Trace events as JSON lines: how the child writes them and the parent reads them.

The "call" events (one per Python layer call, the bulk of a trace) go through orjson, about
fifteen times faster than the json module, which matters because they are encoded inside the
traced passes. orjson writes NaN and Inf as null, so only events whose numbers are finite by
construction take that way (a call's statistics count non-finite values and never hold one),
and so does an "iteration" event whose loss is finite (one a pass, in the API inside the pass).
The others go through json, strictly (RFC 8259 has no NaN or Infinity): a non-finite number
becomes null and the event gets a "nonfinite" field, a JSON Pointer to each such value and the
value as text ({"/loss": "NaN"}), which decode_event puts back. Lines are bytes, newline included:
the child writes them to its EventLog as they are, and the parent copies them to a JSONL file as
they are.

EventLog is the file the lines go through from the child to the parent: a shared memory map of it,
appended to. The child copies each line in after the ones before it, then stores how many bytes of
lines there are in the file's first 8 bytes. No system call per event (a pipe also wakes its reader
at every write, which slowed the traced passes), and the lines a process wrote before dying stay in
the file. follow_event_log reads up to that count, while the child runs and after it has ended, and
stores in the next 8 bytes how far it has passed lines on. A log made with `rotate_after` starts
again from the top once it holds that many bytes and the reader has passed every line on (the
writer waits for it), so a long run does not fill the disk; the count's top 16 bits say how many
times it started again, so the reader knows to read from the top.
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
NONFINITE_FIELD = "nonfinite"


def encode_event(event: dict) -> bytes:
    """One JSON line, with its newline, in UTF-8, strict JSON (see the module doc)."""
    kind = event.get("event")
    if kind in FINITE_EVENTS or (kind in FINITE_WHEN and _finite(event.get(FINITE_WHEN[kind]))):
        try:
            return orjson.dumps(event, option=orjson.OPT_APPEND_NEWLINE)
        except TypeError:  # a value orjson does not know: json says which
            pass
    try:
        return _strict_json(event)
    except ValueError:  # a NaN or an Infinity somewhere: null there, the value kept by its pointer
        nonfinite: dict[str, str] = {}
        cleaned = _without_nonfinite(event, "", nonfinite)
        cleaned[NONFINITE_FIELD] = nonfinite
        return _strict_json(cleaned)


def _strict_json(value) -> bytes:
    return json.dumps(value, allow_nan=False, separators=(",", ":")).encode() + b"\n"


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _without_nonfinite(value, pointer: str, found: dict[str, str]):
    """`value` with each NaN or Infinity replaced by None, recorded in `found` under its JSON Pointer."""
    if isinstance(value, float) and not math.isfinite(value):
        found[pointer] = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        return None
    if isinstance(value, dict):
        return {key: _without_nonfinite(item, f"{pointer}/{_pointer_token(str(key))}", found)
                for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_without_nonfinite(item, f"{pointer}/{i}", found) for i, item in enumerate(value)]
    return value


def _pointer_token(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")  # RFC 6901


def decode_event(line: str | bytes) -> dict:
    """The event of one JSON line, its non-finite numbers back in place; ValueError if it is not one."""
    event = orjson.loads(line)
    if isinstance(event, dict) and isinstance(event.get(NONFINITE_FIELD), dict):
        for pointer, text in event.pop(NONFINITE_FIELD).items():
            _put(event, pointer, float(text))
    return event


def _put(document, pointer: str, value: float) -> None:
    tokens = [token.replace("~1", "/").replace("~0", "~") for token in pointer.split("/")[1:]]
    if not tokens:
        return
    for token in tokens[:-1]:
        document = document[int(token)] if isinstance(document, list) else document[token]
    last = tokens[-1]
    if isinstance(document, list):
        document[int(last)] = value
    else:
        document[last] = value


_HEADER = struct.Struct("=qq")  # the writer's count (see the module doc), then how far the reader has passed lines on
_COUNT_BITS = 48  # below them the bytes of lines counted, above them how many times the log started again
_COUNT_MASK = (1 << _COUNT_BITS) - 1
_READ, _READ_OFFSET = struct.Struct("=q"), 8
WRITER_WAIT_SECONDS = 0.001  # how often a writer waiting to start again looks at the reader's progress


class EventLog:
    """The child's end of the event log: emit(event) appends the event's line to `file` (a path or an open
    descriptor of a file created empty by the parent), growing it as needed; with `rotate_after`, starting
    again from the top past that many bytes once the reader has caught up."""

    INITIAL_SIZE = 1 << 20

    def __init__(self, file: str | Path | int, rotate_after: int | None = None):
        fd = file if isinstance(file, int) else os.open(file, os.O_RDWR)
        try:
            os.ftruncate(fd, self.INITIAL_SIZE)
            self._map = mmap.mmap(fd, self.INITIAL_SIZE)  # keeps its own handle on the file
        finally:
            os.close(fd)
        self._words = memoryview(self._map)[:_HEADER.size].cast("q")
        self._end = _HEADER.size
        self._rotations = 0
        self._rotate_after = rotate_after
        self._count_base = -_HEADER.size  # the count stored for a line ending at `end`: this plus end
        self._limit = self._room()  # a line ending past this takes _make_room first

    def emit(self, event: dict) -> None:
        self.write(encode_event(event))

    def write(self, line: bytes) -> None:
        start = self._end
        end = start + len(line)
        if end > self._limit:  # past the map's end, or time to start again from the top
            start, end = self._make_room(start, len(line))
        self._map[start:end] = line
        # after the copy: a reader never counts a line still being written
        self._words[0] = self._count_base + end
        self._end = end

    def _room(self) -> int:
        return len(self._map) if self._rotate_after is None else min(len(self._map), self._rotate_after)

    def _make_room(self, start: int, size: int) -> tuple[int, int]:
        if self._rotate_after is not None and start > _HEADER.size and start + size > self._rotate_after:
            start = self._start_again()
        end = start + size
        if end > len(self._map):
            self._grow(end)
        self._limit = self._room()
        return start, end

    def _start_again(self) -> int:
        counted = self._words[0]
        while self._words[1] != counted:  # lines the reader has not passed on yet
            time.sleep(WRITER_WAIT_SECONDS)
        self._rotations += 1
        self._words[0] = self._rotations << _COUNT_BITS
        self._count_base = (self._rotations << _COUNT_BITS) - _HEADER.size
        return _HEADER.size

    def _grow(self, needed: int) -> None:
        size = len(self._map)
        while size < needed:
            size *= 2
        self._words.release()  # a mapping with a view on it cannot be resized
        self._map.resize(size)  # the file grows with it
        self._words = memoryview(self._map)[:_HEADER.size].cast("q")


def follow_event_log(file: str | Path | int, finished: Callable[[], bool], on_line: Callable[[bytes, dict], None],
                     poll_seconds: float = 0.02) -> None:
    """The parent's end: pass on each line of the event log `file` (a path or an open descriptor, read and
    written: see the module doc), raw without its newline and decoded, as it comes, until `finished()` (the
    child has exited) and every line it wrote has been read."""
    fd = os.open(file, os.O_RDWR) if not isinstance(file, int) else file
    try:
        rotations, done = 0, 0  # times the writer started again, bytes of lines passed on since
        while True:
            ended = finished()  # asked before reading, so that nothing written before the end is missed
            header = os.pread(fd, _HEADER.size, 0)
            counted = _HEADER.unpack(header)[0] if len(header) == _HEADER.size else 0
            if counted >> _COUNT_BITS != rotations:  # the writer started again from the top, all read before
                rotations, done = counted >> _COUNT_BITS, 0
            count = counted & _COUNT_MASK
            progressed = False
            if count > done:
                chunk = _read_at(fd, _HEADER.size + done, count - done)
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
                os.pwrite(fd, _READ.pack(rotations << _COUNT_BITS | done), _READ_OFFSET)
            if progressed:
                continue
            if ended:
                return
            time.sleep(poll_seconds)
    finally:
        if not isinstance(file, int):
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
