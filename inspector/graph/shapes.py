"""Blob shapes recorded by `inspector trace`, for drawing run-time shapes on a static graph.

The trace command writes ./.inspector/last-trace.json: a JSON object with at least "net" (the
prototxt's absolute path), "phase" ("train"/"test") and "blob_shapes" ({blob: [dims]}); it may
also hold "param_shapes" ({layer: [[dims], ...]}). --shapes FILE reads the same format, or a
full trace report with "blob_shapes" nested one level down.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from ..prototxt import read_regular_file

LAST_TRACE = Path(".inspector") / "last-trace.json"


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
    """Read a trace JSON; InputError when it is missing, not JSON, or holds no blob shapes."""
    path = Path(path)
    try:
        data = json.loads(read_regular_file(path, "a trace report (JSON)"))
    except (ValueError, RecursionError) as exc:  # RecursionError: JSON nested deeper than Python recurses
        raise InputError(f"{path} is not a readable JSON file: {exc}.",
                         "Give the JSON a trace wrote (inspector trace ... --format json).") from None
    shapes = _find_key(data, "blob_shapes")
    if not isinstance(shapes, dict):
        raise InputError(f"{path} has no \"blob_shapes\" object.",
                         "Give a trace report or .inspector/last-trace.json written by inspector trace.")
    try:
        blob_shapes = {str(k): [int(d) for d in v] for k, v in shapes.items()}
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"{path}: \"blob_shapes\" must map blob names to lists of dims.",
                         "Give a trace report written by inspector trace.") from None
    params = _find_key(data, "param_shapes")
    param_shapes = None
    if isinstance(params, dict):
        try:
            param_shapes = {str(k): [[int(d) for d in s] for s in v] for k, v in params.items()}
        except (TypeError, ValueError, OverflowError):
            param_shapes = None  # optional; a malformed one only costs the param count
    net, phase = _find_key(data, "net"), _find_key(data, "phase")
    return TraceShapes(source=path, net=str(net) if isinstance(net, str) else None,
                       phase=str(phase).upper() if isinstance(phase, str) else None,
                       blob_shapes=blob_shapes, param_shapes=param_shapes)


def load_last_trace(cwd: str | Path | None = None) -> TraceShapes:
    path = last_trace_path(cwd)
    if not path.is_file():
        raise InputError(f"no net given and no trace recorded here ({LAST_TRACE} not found).",
                         "Give a net: inspector graph NET.prototxt (or run inspector trace first).")
    return load_shapes(path)
