"""inspector explain: what Caffe does with a layer class, read from the Caffe source the user has.

`explain(target)` resolves the target (locate.py), then either loads the report from the cache or
parses with libclang (analyze.py, facts.py, lifecycle.py) and stores it. The cache entry is keyed
by the target file and the parse flags, and is valid only while the content of every file the
parse read (the header, all its includes, the .cpp and lifecycle files) is unchanged; entries live
under caffe_env.cache_root()/explain/. A cache hit imports neither libclang nor the parser.
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
from pathlib import Path

from .. import __version__, caffe_env
from .locate import Target, resolve_target
from .report import ExplainReport

CACHE_FORMAT = 2  # 2: error_handling includes the layer creator's (GetPythonLayer)


def cache_dir() -> Path:
    return caffe_env.cache_root() / "explain"


def _entry_path(target: Target, flags: list[str]) -> Path:
    key = json.dumps([CACHE_FORMAT, __version__, str(target.header), target.class_name,
                      str(target.root), flags])
    return cache_dir() / (hashlib.sha256(key.encode()).hexdigest()[:32] + ".pickle")


def _digest(path: str) -> str | None:
    try:
        with open(path, "rb") as fh:
            return hashlib.blake2b(fh.read(), digest_size=16).hexdigest()
    except OSError:
        return None


def _load(entry: Path) -> ExplainReport | None:
    try:
        with open(entry, "rb") as fh:
            stored = pickle.load(fh)
    except Exception:  # a missing, partial or outdated entry is a miss
        return None
    if not isinstance(stored, dict) or stored.get("format") != CACHE_FORMAT:
        return None
    for path, digest in stored["files"].items():
        if _digest(path) != digest:
            return None
    return stored["report"]


def _store(entry: Path, report: ExplainReport) -> None:
    files = {path: _digest(path) for path in report.files_read}
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=entry.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            pickle.dump({"format": CACHE_FORMAT, "files": files, "report": report}, fh)
        os.replace(tmp, entry)  # atomic: a concurrent reader sees the old entry or the new one
    except OSError:
        pass  # an unwritable cache only costs the next run a parse


def explain(target: str, caffe_root: str | None = None, use_cache: bool = True) -> ExplainReport:
    """The ExplainReport for TARGET (header base name, header path or class name)."""
    resolved = resolve_target(target, caffe_root)
    flags = caffe_env.caffe_compile_flags(resolved.root)
    entry = _entry_path(resolved, flags)
    if use_cache:
        cached = _load(entry)
        if cached is not None:
            return cached
    from .analyze import analyze  # noqa: PLC0415 - libclang is loaded only on a cache miss

    report = analyze(resolved, flags)
    if use_cache:
        _store(entry, report)
    return report


__all__ = ["ExplainReport", "explain"]
