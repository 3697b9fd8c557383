"""The trace -> graph hand-off, ./.inspector/last-trace.json: one schema for its writer and its reader.

`inspector trace` writes the file after each run (trace.report.write_last_trace) and `inspector graph` with no
net reads it (graph.shapes.load_last_trace) to draw the traced net with its run-time shapes. LastTrace holds what
graph needs (the net's path, its phase, the blob and parameter shapes) and the format's version, then the whole
trace report for any other reader. `encode` gives strict JSON (orjson's, a NaN as null with its place listed under
"nonfinite", as every JSON inspector writes); `decode` checks the version and the shape of what graph reads and
refuses anything else with one InputError (exit 2) that says to trace again. A file with no "version" is of
version 1: the layout before the field was added, unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from .errors import InputError
from .records import NOT_DATA, to_data

LAST_TRACE = Path(".inspector") / "last-trace.json"
VERSION = 1
RETRACE = "Run inspector trace NET again here, or give the net: inspector graph NET.prototxt."


@dataclass
class LastTrace:
    net: str  # the traced prototxt's absolute path (a solver's net for a solver's run)
    phase: str  # "train" | "test"
    blob_shapes: dict[str, list[int]]
    param_shapes: dict[str, list[list[int]]] | None = None  # layer -> its parameter blobs' shapes
    report: dict | None = field(default=None, metadata=NOT_DATA)  # TraceReport.to_dict() of the run: data already
    version: int = VERSION


def encode(record: LastTrace) -> str:
    """The file's text: strict JSON, the version first, the report last."""
    from .render import strict_json  # noqa: PLC0415 (rich, which only the writer needs)

    data = to_data(record)
    data = {"version": data.pop("version"), **data}
    if record.report is not None:
        data["report"] = record.report
    return strict_json(data)


def decode(text: str | bytes, path: Path) -> LastTrace:
    """The LastTrace in a file's text; InputError (naming `path`) when it is not JSON, is of another version, or
    lacks what graph reads."""
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:  # also JSON nested deeper than orjson reads
        raise InputError(f"{path} is not a readable JSON file: {exc}.", RETRACE) from None
    return checked(data, path)


def checked(data: Any, path: Path) -> LastTrace:
    """The LastTrace in parsed JSON data; InputError as decode's."""
    if not isinstance(data, dict):
        raise InputError(f"{path} is not a trace record: it holds a JSON {type(data).__name__}, not an object.",
                         RETRACE)
    version = data.get("version", 1)
    if version != VERSION:
        raise InputError(f"{path} is of last-trace format {version!r}; this inspector reads format {VERSION}.",
                         RETRACE)
    net, phase = data.get("net"), data.get("phase")
    if not isinstance(net, str) or not isinstance(phase, str):
        raise InputError(f"{path} is not a trace record: it needs \"net\" and \"phase\" as text.", RETRACE)
    return LastTrace(net, phase, blob_shapes(data.get("blob_shapes"), path), param_shapes(data.get("param_shapes")),
                     data.get("report") if isinstance(data.get("report"), dict) else None)


def blob_shapes(value: Any, path: Path) -> dict[str, list[int]]:
    """{blob: [dims]} as a trace wrote it; InputError when it is missing or malformed."""
    if not isinstance(value, dict):
        raise InputError(f"{path} has no \"blob_shapes\" object.",
                         "Give a trace report or .inspector/last-trace.json written by inspector trace.")
    try:
        return {str(k): [int(d) for d in v] for k, v in value.items()}
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"{path}: \"blob_shapes\" must map blob names to lists of dims.",
                         "Give a trace report written by inspector trace.") from None


def param_shapes(value: Any) -> dict[str, list[list[int]]] | None:
    """{layer: [[dims], ...]}, or None when absent or malformed (optional: it only gives the parameter counts)."""
    if not isinstance(value, dict):
        return None
    try:
        return {str(k): [[int(d) for d in s] for s in v] for k, v in value.items()}
    except (TypeError, ValueError, OverflowError):
        return None
