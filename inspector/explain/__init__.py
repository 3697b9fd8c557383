"""inspector explain: what Caffe does with a layer class, read from the Caffe source the user has.

`explain(target)` resolves the target (locate.py), then either loads the report from the cache or
parses with libclang (analyze.py, facts.py, lifecycle.py) and stores it. The cache holds data, not
code: each entry is the report's own JSON view (ExplainReport.to_dict, read back with from_dict).
An entry is keyed by the target file, the parse flags and a digest of inspector's explain code
(so a change to the parser or the report classes makes every old entry a miss), and is valid only
while the content of every file the parse read (the header, all its includes, the .cpp and
lifecycle files) is unchanged: the same modification time and size, or else the same digest.
Entries live under caffe_env.cache_root()/explain/, a folder only its owner can read (0700,
files 0600); an entry that does not parse is a miss and is rebuilt.
A cache hit imports neither libclang nor the parser.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import stat
import tempfile
from pathlib import Path

from .. import __version__, caffe_env
from .locate import Target, resolve_target
from .report import ExplainReport

CACHE_FORMAT = 3  # 3: JSON entries (the report's own view) instead of pickles, files by stamp and digest


def cache_dir() -> Path:
    return caffe_env.cache_root() / "explain"


@functools.lru_cache(maxsize=1)
def code_digest() -> str:
    """A digest of explain's own source: the parser and the report classes the entries are made by."""
    digest = hashlib.blake2b(digest_size=16)
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _entry_path(target: Target, flags: list[str]) -> Path:
    key = json.dumps([CACHE_FORMAT, __version__, code_digest(), str(target.header), target.class_name,
                      str(target.root), flags])
    return cache_dir() / (hashlib.sha256(key.encode()).hexdigest()[:32] + ".json")


def _digest(path: str) -> str | None:
    try:
        with open(path, "rb") as fh:
            return hashlib.blake2b(fh.read(), digest_size=16).hexdigest()
    except OSError:
        return None


def _stamp(path: str) -> list[int] | None:
    """(mtime in ns, size): when both are unchanged the content is taken as unchanged, unread."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return [info.st_mtime_ns, info.st_size]


def _unchanged(path: str, recorded: list) -> bool:
    stamp, digest = recorded
    return _stamp(path) == stamp or _digest(path) == digest  # a touched file with the same content still hits


def _load(entry: Path) -> ExplainReport | None:
    try:
        with open(entry, "rb") as fh:
            stored = json.loads(fh.read())
        if stored.get("format") != CACHE_FORMAT:
            return None
        for path, recorded in stored["files"].items():
            if not _unchanged(path, recorded):
                return None
        report = ExplainReport.from_dict(stored["report"])
    except Exception:  # a missing, partial, foreign or outdated entry is a miss, rebuilt by the caller
        return None
    report.files_read = sorted(stored["files"])
    return report


def _private_dir(folder: Path) -> None:
    """Create folder (and its parents) and make it readable by its owner alone."""
    folder.mkdir(parents=True, exist_ok=True)
    if stat.S_IMODE(folder.stat().st_mode) != 0o700:
        folder.chmod(0o700)


def _store(entry: Path, report: ExplainReport) -> None:
    files = {path: [_stamp(path), _digest(path)] for path in report.files_read}
    text = json.dumps({"format": CACHE_FORMAT, "files": files, "report": report.to_dict()})
    try:
        _private_dir(entry.parent)
        fd, tmp = tempfile.mkstemp(dir=entry.parent, suffix=".tmp")  # mkstemp: mode 0600
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
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
