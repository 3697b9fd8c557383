"""Which file `inspector explain TARGET` reads, and which Caffe tree surrounds it.

TARGET is a header's base name (python_layer, conv_layer), looked up under
include/caffe/layers/ and include/caffe/ of the Caffe tree; a path to a header; or a class name
(PythonLayer), found by a plain text search of the tree's headers for `class Name`. A missing
target names every path searched and how to point at another Caffe tree.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from .. import caffe_env
from ..errors import InputError

HEADER_DIRS = ("include/caffe/layers", "include/caffe")
SOURCE_DIRS = ("src/caffe/layers", "src/caffe")


@dataclass(frozen=True)
class Target:
    header: Path
    root: Path | None  # the Caffe tree the header belongs to (None for a lone file)
    class_name: str | None  # asked for by class name, else None (take the file's main class)


def enclosing_caffe_root(path: Path) -> Path | None:
    for parent in path.resolve().parents:
        if caffe_env.is_caffe_root(parent):
            return parent
    return None


def looks_like_path(target: str) -> bool:
    return os.sep in target or target.endswith((".hpp", ".h", ".hh", ".cuh")) or Path(target).is_file()


def resolve_target(target: str, caffe_root: str | None = None) -> Target:
    if looks_like_path(target):
        return _path_target(Path(target).expanduser(), caffe_root)

    root = caffe_env.find_caffe_root(caffe_root)
    searched = []
    base = target.removesuffix(".hpp")
    for rel in HEADER_DIRS:
        candidate = root / rel / f"{base}.hpp"
        searched.append(candidate)
        if candidate.is_file():
            return Target(require_text(candidate), root, None)
    if re.fullmatch(r"[A-Za-z_]\w*", target) and target[0].isupper():
        header = find_class_header(root, target)
        if header is not None:
            return Target(require_text(header), root, target)
        searched.append(root / "include" / "caffe" / "**" / f"*.hpp (class {target})")
    raise InputError(
        f"No header for '{target}'; searched: " + ", ".join(str(p) for p in searched) + ".",
        "Give a header base name (python_layer), a header path or a class name (PythonLayer); "
        "point at another Caffe tree with --caffe-root DIR or CAFFE_ROOT.",
    )


def _path_target(path: Path, caffe_root: str | None) -> Target:
    """A header given by path: read with the tree it sits in; with --caffe-root, a relative path is
    looked up inside that tree first, and a header of another tree (or of none) is refused, so the
    facts of one tree are never told with the lifecycle of another."""
    given_root = caffe_env.find_caffe_root(caffe_root) if caffe_root else None
    if given_root is not None and not path.is_absolute() and (given_root / path).is_file():
        path = given_root / path
    if not path.exists():
        raise InputError(f"{path} does not exist.",
                         "Give a header path, a header base name (python_layer) or a class name (PythonLayer).")
    if not path.is_file():
        raise InputError(f"{path} is not a file.",
                         "Give the path of a C++ header such as include/caffe/layers/python_layer.hpp.")
    if not os.access(path, os.R_OK):
        raise InputError(f"{path} is not readable.", "Check the file's permissions.")
    root = enclosing_caffe_root(path)
    if given_root is not None and root != given_root:
        where = f"belongs to the Caffe tree {root}" if root else "is in no Caffe tree"
        raise InputError(
            f"{path} is not in the tree given by --caffe-root ({given_root}); it {where}, "
            "and its facts would be mixed with another tree's lifecycle.",
            "Drop --caffe-root to read the header with its own tree, or give a path inside that tree "
            "(include/caffe/layers/python_layer.hpp) or a base name (python_layer).",
        )
    return Target(require_text(path.resolve()), root, None)


def require_text(path: Path) -> Path:
    """path, if it is a UTF-8 text file; a binary or otherwise encoded file is an input error."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path} cannot be read: {exc.strerror}.", "Check the path and its permissions.") from exc
    problem = None
    nul = data.find(b"\0")
    if nul >= 0:
        problem = f"a NUL byte at offset {nul}: it is a binary file"
    else:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            problem = f"byte 0x{data[exc.start]:02x} at offset {exc.start} is not UTF-8"
    if problem:
        raise InputError(f"{path} is not C++ source text ({problem}).",
                         "Give a C++ header (.hpp) saved as UTF-8 text.")
    return path


def find_class_header(root: Path, class_name: str) -> Path | None:
    """The header defining `class class_name`, by a text search (the parse comes after)."""
    pattern = re.compile(rb"\b(?:class|struct)\s+(?:\w+\s+)?" + re.escape(class_name.encode()) + rb"\s*[:{]")
    for path in sorted((root / "include").rglob("*.hpp")):
        try:
            if pattern.search(path.read_bytes()):
                return path
        except OSError:
            continue
    return None


def matching_sources(header: Path, root: Path | None) -> list[Path]:
    """The .cpp/.cu files that hold the bodies of a header's declared-only methods."""
    stem = header.stem
    dirs = [header.parent]
    if root is not None:
        dirs += [root / d for d in SOURCE_DIRS]
    out = []
    for folder in dirs:
        for ext in (".cpp", ".cu"):
            candidate = folder / f"{stem}{ext}"
            if candidate.is_file() and candidate not in out:
                out.append(candidate)
    return out


def lifecycle_sources(root: Path | None) -> dict[str, Path]:
    """layer.hpp, layer_factory.cpp, net.cpp and python/caffe/_caffe.cpp of the tree, when present."""
    if root is None:
        return {}
    wanted = {
        "layer": root / "include" / "caffe" / "layer.hpp",
        "factory": root / "src" / "caffe" / "layer_factory.cpp",
        "pycaffe": root / "python" / "caffe" / "_caffe.cpp",
        "net": root / "src" / "caffe" / "net.cpp",
    }
    return {k: v for k, v in wanted.items() if v.is_file()}


