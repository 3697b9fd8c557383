"""Trace events as JSON lines: how the child writes them and the parent reads them.

The "call" events (one per Python layer call, the bulk of a trace) go through orjson, about
fifteen times faster than the json module, which matters because they are encoded inside the
traced passes. orjson writes NaN and Inf as null, so only events whose numbers are finite by
construction take that way (a call's statistics count non-finite values and never hold one),
and so does an "iteration" event whose loss is finite (one a pass, in the API inside the pass);
the others (a NaN loss, a finding's message) use json, which writes NaN and Infinity. Lines are
bytes, newline included, as orjson makes them: the child writes them to the pipe as they are.
"""
from __future__ import annotations

import json
import math

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
