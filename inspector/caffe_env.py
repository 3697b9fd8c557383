"""Where Caffe is: pycaffe, the Caffe source tree, and the compiler flags to parse it.

This is the one module that knows how to find Caffe. Everything else asks it.

- pycaffe: whatever `import caffe` gives in this Python. `locate_pycaffe()` finds it without
  importing it (importlib.util.find_spec), so static commands stay static; `import_pycaffe()`
  imports it for the commands whose job is to run a net.
- The source tree (include/caffe/..., src/caffe/..., python/caffe/_caffe.cpp): in order, an
  explicit --caffe-root, $CAFFE_ROOT, the tree pycaffe was imported from, then the trees that
  scripts/install-caffe provisioned under the cache ($INSPECTOR_CACHE, ~/.cache/inspector).
- Include flags: Caffe's own include/ and build/include (the generated caffe.pb.h), Python's
  and numpy's headers, and the system compiler's search list, which the PyPI libclang wheel
  lacks (it ships no stddef.h or C++ standard library).
"""
from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from . import DISTRIBUTION_NAME
from .errors import InputError, MissingDependency
from .prototxt import PYTHON_LAYER_TYPE

INSTALL_COMMAND = "make setup"
# A checkout has the scripts that build Caffe (make setup); an installed wheel does not, so its hints name
# only what the user can do with their own Caffe.
IN_CHECKOUT = (Path(__file__).resolve().parent.parent / "scripts" / "install-caffe").is_file()
# pip's names for the modules pycaffe imports when `import caffe` runs (python/caffe/{pycaffe,io,net_spec}.py)
PIP_NAME_OF_PYCAFFE_IMPORT = {"skimage": "scikit-image", "google": "protobuf", "six": "six", "scipy": "scipy",
                              "numpy": "numpy"}


def pycaffe_remedy(missing_module: str | None = None) -> str:
    """What to do when `import caffe` fails: install a module pycaffe imports, or point this Python at a pycaffe."""
    if missing_module:
        package = PIP_NAME_OF_PYCAFFE_IMPORT.get(missing_module, missing_module)
        return (f"pip install {package}  (pycaffe imports {missing_module}; "
                f"pip install '{DISTRIBUTION_NAME}[pycaffe-deps]' brings all that pycaffe imports)")
    if IN_CHECKOUT:
        return f"{INSTALL_COMMAND}  (or put your Caffe's python/ folder on PYTHONPATH)"
    return ("put your Caffe's python/ folder on PYTHONPATH: export PYTHONPATH=/path/to/caffe/python  "
            "(pip cannot install it)")


def caffe_root_remedy() -> str:
    """What to do when no Caffe source tree is found."""
    if IN_CHECKOUT:
        return f"{INSTALL_COMMAND}  (or --caffe-root DIR / CAFFE_ROOT)"
    return "export CAFFE_ROOT=/path/to/caffe (your Caffe's source tree), or pass --caffe-root DIR"


def cache_root() -> Path:
    """The folder holding provisioned Caffe builds and inspector's caches."""
    return Path(os.environ.get("INSPECTOR_CACHE") or Path.home() / ".cache" / "inspector")


def provisioned_roots() -> list[Path]:
    """Caffe source trees built by scripts/install-caffe, newest first, this Python's first."""
    root = cache_root()
    if not root.is_dir():
        return []
    pyver = "py{}.{}".format(*sys.version_info[:2])
    built = [p.parent for p in root.glob("caffe-*/.built")]
    built.sort(key=lambda p: (p.name.endswith(pyver), p.stat().st_mtime), reverse=True)
    return [p / "src" for p in built if (p / "src").is_dir()]


def is_caffe_root(path: Path) -> bool:
    return (path / "include" / "caffe" / "layer.hpp").is_file()


@dataclass(frozen=True)
class PycaffeLocation:
    """Where `import caffe` would load from, found without importing it."""

    package_dir: Path | None  # .../python/caffe, or None when not importable

    @property
    def found(self) -> bool:
        return self.package_dir is not None

    @property
    def source_root(self) -> Path | None:
        """The Caffe tree around pycaffe (python/caffe -> the root), when it is a source tree."""
        if self.package_dir is None:
            return None
        root = self.package_dir.parent.parent
        return root if is_caffe_root(root) else None


def locate_pycaffe() -> PycaffeLocation:
    try:
        spec = importlib.util.find_spec("caffe")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        return PycaffeLocation(None)
    return PycaffeLocation(Path(next(iter(spec.submodule_search_locations))).resolve())


def find_caffe_root(explicit: str | os.PathLike | None = None) -> Path:
    """The Caffe source tree to read, or an InputError/MissingDependency that says how to give one."""
    if explicit:
        path = Path(explicit).expanduser()
        if not is_caffe_root(path):
            raise InputError(
                f"{path} is not a Caffe source tree (no include/caffe/layer.hpp there).",
                "Pass the folder that holds Caffe's include/ and src/ with --caffe-root.",
            )
        return path.resolve()
    candidates = []
    if os.environ.get("CAFFE_ROOT"):
        env_root = Path(os.environ["CAFFE_ROOT"]).expanduser()
        if not is_caffe_root(env_root):
            raise InputError(
                f"CAFFE_ROOT={env_root} is not a Caffe source tree (no include/caffe/layer.hpp there).",
                "Point CAFFE_ROOT at the folder that holds Caffe's include/ and src/, or unset it.",
            )
        return env_root.resolve()
    pycaffe_root = locate_pycaffe().source_root
    if pycaffe_root is not None:
        candidates.append(pycaffe_root)
    candidates.extend(provisioned_roots())
    for path in candidates:
        if is_caffe_root(path):
            return path.resolve()
    raise MissingDependency(
        "Caffe's source tree was not found (looked at --caffe-root, $CAFFE_ROOT, the tree pycaffe "
        f"comes from, and {cache_root()}).",
        caffe_root_remedy(),
    )


def python_layer_header(root: Path) -> Path | None:
    """python_layer.hpp: include/caffe/layers/ in current Caffe, include/caffe/ in older trees."""
    for rel in ("include/caffe/layers/python_layer.hpp", "include/caffe/python_layer.hpp"):
        if (root / rel).is_file():
            return root / rel
    return None


def import_pycaffe():
    """Import pycaffe for a command that runs a net; a clear error when it cannot be."""
    try:
        import caffe  # noqa: PLC0415 - imported only by the commands that run nets
    except ImportError as exc:
        top_module = (exc.name or "caffe").split(".")[0]
        raise MissingDependency(f"pycaffe cannot be imported in {sys.executable}: {exc}.",
                                pycaffe_remedy(None if top_module == "caffe" else top_module)) from exc
    return caffe


def has_python_layer(caffe_module) -> bool:
    """Whether this Caffe was built WITH_PYTHON_LAYER; without it nets fail with 'Unknown layer type: Python'."""
    return PYTHON_LAYER_TYPE in caffe_module.layer_type_list()


def require_python_layer(caffe_module) -> None:
    if not has_python_layer(caffe_module):
        raise MissingDependency(
            "This Caffe was built without the Python layer (Unknown layer type: Python).",
            "Rebuild with WITH_PYTHON_LAYER=1 (cmake -DBUILD_python_layer=ON)"
            + (f", or run `{INSTALL_COMMAND}`." if IN_CHECKOUT else "."),
        )


@dataclass(frozen=True)
class LayerRegistry:
    """The layer types the importable Caffe registers, and where that Caffe is."""

    types: frozenset[str]
    package_dir: Path


def _pycaffe_binary(package_dir: Path) -> Path | None:
    found = sorted(package_dir.glob("_caffe*.so")) + sorted(package_dir.glob("_caffe*.pyd"))
    return found[0] if found else None


REGISTRY_TIMEOUT_SECONDS = 120


def registered_layer_types() -> LayerRegistry | None:
    """The layer types of the Caffe `import caffe` would load, or None when there is none (or it fails to load).

    Asked of a child Python, not this process: a static command must not load Caffe (or crash with it),
    and the answer is cached in the cache folder, keyed by the pycaffe extension's path, size and
    modification time, so only the first run after a rebuild pays for importing Caffe.
    """
    location = locate_pycaffe()
    if location.package_dir is None:
        return None
    binary = _pycaffe_binary(location.package_dir)
    if binary is None:
        return None
    stat = binary.stat()
    key = hashlib.sha256(f"{binary.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{sys.executable}".encode()).hexdigest()
    cache_file = cache_root() / "layer-types" / f"{key[:32]}.json"
    try:
        types = json.loads(cache_file.read_text())
        if isinstance(types, list) and all(isinstance(t, str) for t in types):
            return LayerRegistry(frozenset(types), location.package_dir)
    except (OSError, ValueError):
        pass
    script = "import json, sys, caffe; json.dump(sorted(caffe.layer_type_list()), sys.stdout)"
    try:
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              timeout=REGISTRY_TIMEOUT_SECONDS, stdin=subprocess.DEVNULL,
                              env=dict(os.environ, GLOG_minloglevel="2"))
        types = json.loads(proc.stdout) if proc.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, ValueError):
        types = None
    if not isinstance(types, list):
        return None
    try:  # a cache that cannot be written only costs the next run the same import
        cache_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = cache_file.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(types))
        os.replace(tmp, cache_file)
    except OSError:
        pass
    return LayerRegistry(frozenset(types), location.package_dir)


@functools.cache
def system_include_dirs(compiler: str = "c++") -> tuple[str, ...]:
    """The system C++ compiler's #include <...> search list (libclang's wheel ships none of it)."""
    try:
        proc = subprocess.run(
            [compiler, "-E", "-x", "c++", "-", "-v"],
            input="", capture_output=True, text=True, timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ()
    dirs, inside = [], False
    for line in proc.stderr.splitlines():
        if line.startswith("#include <...> search starts here"):
            inside = True
        elif line.startswith("End of search list"):
            break
        elif inside:
            dirs.append(re.sub(r"\s+\(framework directory\)$", "", line.strip()))
    return tuple(dirs)


def numpy_include_dir() -> str | None:
    """numpy's C headers, found without importing numpy (which costs a warm `explain` a tenth of its time)."""
    try:
        spec = importlib.util.find_spec("numpy")
    except (ImportError, ValueError):
        spec = None
    for location in (spec.submodule_search_locations or []) if spec else []:
        for rel in ("_core/include", "core/include"):  # numpy 2 / numpy 1
            if (Path(location) / rel / "numpy").is_dir():
                return str(Path(location) / rel)
    try:
        import numpy  # noqa: PLC0415

        return numpy.get_include()
    except ImportError:
        return None


def python_include_dirs() -> list[str]:
    dirs = [sysconfig.get_paths()["include"]]
    numpy_dir = numpy_include_dir()
    if numpy_dir:
        dirs.append(numpy_dir)
    return dirs


def caffe_compile_flags(root: Path | None) -> list[str]:
    """Flags to parse Caffe's headers as the CPU-only build compiles them."""
    flags = ["-x", "c++", "-std=c++11", "-DCPU_ONLY", "-DWITH_PYTHON_LAYER"]
    if root is not None:
        for rel in ("include", "build/include", "build/src", ".build_release/src", "src"):
            if (root / rel).is_dir():
                flags.append(f"-I{root / rel}")
    flags += [f"-I{d}" for d in python_include_dirs()]
    flags += [f"-isystem{d}" for d in system_include_dirs()]
    return flags


def load_cindex():
    """clang.cindex with its libclang loaded (the PyPI wheel ships both), or MissingDependency."""
    try:
        from clang import cindex  # noqa: PLC0415 - only the commands that parse C++ need it

        cindex.Index.create()
    except ImportError as exc:
        raise MissingDependency(f"libclang's Python binding is not installed: {exc}.",
                                "pip install libclang (the PyPI wheel ships libclang itself).") from exc
    except Exception as exc:  # LibclangError when the shared library does not load
        raise MissingDependency(f"libclang did not load: {exc}.",
                                "pip install --force-reinstall libclang") from exc
    return cindex
