"""Trace events as JSON lines: how the child writes them and the parent reads them.

The "call" events (one per Python layer call, the bulk of a trace) go through orjson, about
fifteen times faster than the json module, which matters because they are encoded inside the
traced passes. orjson writes NaN and Inf as null, so only events whose numbers are finite by
construction take that way (a call's statistics count non-finite values and never hold one);
the others (a NaN loss, a finding's message) use json, which writes NaN and Infinity.
"""
from __future__ import annotations

import json

import orjson

FINITE_EVENTS = frozenset({"call"})


def encode_event(event: dict) -> str:
    """One JSON line (without its newline)."""
    if event.get("event") in FINITE_EVENTS:
        try:
            return orjson.dumps(event).decode()
        except TypeError:  # a value orjson does not know: json says which
            pass
    return json.dumps(event, allow_nan=True, separators=(",", ":"))


def decode_event(line: str | bytes) -> dict:
    """The event of one JSON line; ValueError if it is not one."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:  # NaN and Infinity are json's extension, not JSON
        return json.loads(line)
