"""Tracebacks as a report shows them: the user's own frames are where a bug is looked for, inspector's
frames are left out, and "raised at" is the deepest line in the user's files (not numpy's or importlib's)."""
from __future__ import annotations

import os
import site
import sys
import sysconfig
import traceback
from pathlib import Path
from typing import Any

# Frames in here are inspector's own; the user's layers are what a report points at.
INSPECTOR_PACKAGE = str(Path(__file__).resolve().parent.parent)


def _library_folders() -> tuple[str, ...]:
    """Folders of code the user did not write: the standard library, installed packages, pycaffe's own."""
    paths = sysconfig.get_paths()
    folders = {paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths}
    folders.update(site.getsitepackages() if hasattr(site, "getsitepackages") else ())
    caffe_file = getattr(sys.modules.get("caffe"), "__file__", None)
    if caffe_file:
        folders.add(str(Path(caffe_file).resolve().parent))
    return tuple(str(Path(folder).resolve()) + os.sep for folder in folders if folder)


def is_inspector_file(filename: str) -> bool:
    return filename.startswith(INSPECTOR_PACKAGE + os.sep)


def is_user_file(filename: str, library: tuple[str, ...] | None = None) -> bool:
    """Whether a frame's file is the user's own: not inspector's, not the interpreter's, not an installed package's."""
    if is_inspector_file(filename) or filename.startswith("<"):
        return False
    if any(part in filename for part in ("/site-packages/", "/dist-packages/")):
        return False
    resolved = str(Path(filename).resolve())
    return not resolved.startswith(library if library is not None else _library_folders())


def without_inspector_frames(exception: traceback.TracebackException) -> traceback.TracebackException:
    """The exception (and the ones chained to it) with inspector's frames left out of their stacks."""
    seen: set[int] = set()
    pending: list[traceback.TracebackException | None] = [exception]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        current.stack = traceback.StackSummary.from_list(
            [f for f in current.stack if not is_inspector_file(f.filename)])
        pending += [current.__cause__, current.__context__]
    return exception


def format_traceback(exc: BaseException) -> dict:
    """The exception with its frames (file, line, function, code), where it was raised in the user's
    code (the deepest frame in the user's own files: not numpy's, importlib's or inspector's), and its
    traceback as text without inspector's frames."""
    frames: list[dict[str, Any]] = [{"file": f.filename, "line": f.lineno, "function": f.name, "code": f.line or ""}
                                    for f in traceback.extract_tb(exc.__traceback__)]
    library = _library_folders()
    users = [f for f in frames if is_user_file(f["file"], library)]
    raised_at = users[-1] if users else None  # importlib's or numpy's line is no place to look for the bug
    text = "".join(without_inspector_frames(traceback.TracebackException.from_exception(exc)).format())
    return {"type": type(exc).__name__, "message": str(exc), "frames": frames,
            "location": f"{raised_at['file']}:{raised_at['line']}" if raised_at else None, "text": text}
