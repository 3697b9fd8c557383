"""Blob shapes recorded by `inspector trace`, for drawing run-time shapes on a static graph.

With no net, graph reads ./.inspector/last-trace.json, whose schema (the net's absolute path, its phase,
"blob_shapes" {blob: [dims]}, "param_shapes" {layer: [[dims], ...]}, a version) lives in inspector.last_trace,
beside its writer's encoder. --shapes FILE reads that file too, a trace report (--format json, "blob_shapes"
nested one level down at most), or any JSON object with "blob_shapes".
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import orjson

from ..errors import InputError
from ..last_trace import LAST_TRACE, LastTrace, blob_shapes, checked, decode, param_shapes
from ..prototxt import read_regular_file


@dataclass
class TraceShapes:
    source: Path
    net: str | None
    phase: str | None
    blob_shapes: dict[str, list[int]] = field(default_factory=dict)
    param_shapes: dict[str, list[list[int]]] | None = None


def last_trace_path(cwd: str | Path | None = None) -> Path:
    return Path(cwd or ".").resolve() / LAST_TRACE


def _find_key(data, key: str, depth: int = 2):
    """data[key], or the first data[...][key] up to depth levels down."""
    if not isinstance(data, dict):
        return None
    if key in data:
        return data[key]
    if depth > 0:
        for value in data.values():
            found = _find_key(value, key, depth - 1)
            if found is not None:
                return found
    return None


def load_shapes(path: str | Path) -> TraceShapes:
    """Read a trace JSON; InputError when it is missing, not JSON, of another last-trace version, or holds no
    blob shapes."""
    path = Path(path)
    text = read_regular_file(path, "a trace report (JSON)")
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:  # also JSON nested deeper than orjson reads
        raise InputError(f"{path} is not a readable JSON file: {exc}.",
                         "Give the JSON a trace wrote (inspector trace ... --format json).") from None
    if isinstance(data, dict) and "version" in data:  # a last-trace.json: its own schema
        return _shapes_of(checked(data, path), path)
    net, phase = _find_key(data, "net"), _find_key(data, "phase")
    return TraceShapes(source=path, net=str(net) if isinstance(net, str) else None,
                       phase=str(phase).upper() if isinstance(phase, str) else None,
                       blob_shapes=blob_shapes(_find_key(data, "blob_shapes"), path),
                       param_shapes=param_shapes(_find_key(data, "param_shapes")))


def _shapes_of(trace: LastTrace, path: Path) -> TraceShapes:
    return TraceShapes(source=path, net=trace.net, phase=trace.phase.upper(), blob_shapes=trace.blob_shapes,
                       param_shapes=trace.param_shapes)


def load_last_trace(cwd: str | Path | None = None) -> TraceShapes:
    """The shapes of ./.inspector/last-trace.json (inspector.last_trace's schema); InputError when there is none
    or it is not one."""
    path = last_trace_path(cwd)
    if not path.is_file():
        raise InputError(f"no net given and no trace recorded here ({LAST_TRACE} not found).",
                         "Give a net: inspector graph NET.prototxt (or run inspector trace first).")
    return _shapes_of(decode(read_regular_file(path, "a trace record (JSON)"), path), path)
