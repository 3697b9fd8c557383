"""inspector doctor: is everything inspector stands on here, and if not, the command that fixes it.

Checks, each independent of the others so one failure does not hide the rest:
pycaffe importable (probed in a child process, since a broken Caffe build can abort the
interpreter), the Python layer compiled in, Caffe's source tree, libclang with the system's C++
headers, Graphviz's dot and matplotlib. pycaffe cannot come from pip, so its fix says how to point
this Python at the user's own Caffe; run from a checkout, it names the checkout's `make setup` too.

`installed_versions()` gives the same facts in four lines for `inspector --version`.
"""
from __future__ import annotations

import importlib.metadata
import json
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from rich.table import Table
from rich.text import Text

from . import DISTRIBUTION_NAME, __version__, caffe_env
from .errors import InspectorError
from .prototxt import PYTHON_LAYER_TYPE

SETUP = caffe_env.INSTALL_COMMAND

_PYCAFFE_PROBE = r"""
import json, os
os.environ.setdefault("GLOG_minloglevel", "2")
out = {}
try:
    import caffe
    out["path"] = os.path.dirname(caffe.__file__)
    out["version"] = getattr(caffe, "__version__", "unknown")
    out["layer_types"] = list(caffe.layer_type_list())
except BaseException as exc:
    out["error"] = "%s: %s" % (type(exc).__name__, exc)
    if isinstance(exc, ImportError) and exc.name and exc.name.split(".")[0] != "caffe":
        out["missing_module"] = exc.name.split(".")[0]
print(json.dumps(out))
"""


@dataclass
class Check:
    name: str
    ok: bool
    found: str
    fix: str | None = None


@dataclass
class DoctorReport:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "checks": [{"name": c.name, "ok": c.ok, "found": c.found, "fix": c.fix} for c in self.checks],
        }

    def __rich_console__(self, console, options):
        table = Table(title="inspector doctor", title_justify="left", show_lines=False)
        table.add_column("check")
        table.add_column("", width=4)
        table.add_column("found", overflow="fold")
        table.add_column("fix", overflow="fold")
        for c in self.checks:
            mark = Text("ok", "green") if c.ok else Text("FAIL", "red")
            table.add_row(c.name, mark, Text(c.found), Text(c.fix or ""))  # Text: paths and fixes are not markup
        yield table
        failed = [c for c in self.checks if not c.ok]
        yield (Text("All checks passed.", "green") if not failed
               else Text(f"{len(failed)} of {len(self.checks)} checks failed.", "red"))


def probe_pycaffe(python: str = sys.executable) -> dict:
    try:
        proc = subprocess.run([python, "-c", _PYCAFFE_PROBE], capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return {"error": "importing caffe did not finish within 120 s"}
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"the interpreter died while importing caffe (exit {proc.returncode}): {tail}"}
    return json.loads(lines[-1])


def check_pycaffe(probe: dict) -> list[Check]:
    if "error" in probe:
        fix = caffe_env.pycaffe_remedy(probe.get("missing_module"))
        return [
            Check("pycaffe importable", False, probe["error"], fix),
            Check("Python layer compiled in", False, "unknown: pycaffe did not import", "fix pycaffe first (above)"),
        ]
    has_python = PYTHON_LAYER_TYPE in probe["layer_types"]
    return [
        Check("pycaffe importable", True, f"{probe['path']} (version {probe['version']})"),
        Check(
            "Python layer compiled in", has_python,
            f"'Python' among {len(probe['layer_types'])} layer types" if has_python
            else "no 'Python' layer type: nets with Python layers fail with 'Unknown layer type: Python'",
            None if has_python else "rebuild Caffe with WITH_PYTHON_LAYER=1"
            + (f", or run {SETUP}" if caffe_env.IN_CHECKOUT else " (cmake -DBUILD_python_layer=ON)"),
        ),
    ]


def check_caffe_source(caffe_root: str | None) -> Check:
    try:
        root = caffe_env.find_caffe_root(caffe_root)
    except InspectorError as exc:
        return Check("Caffe source tree", False, exc.message, caffe_env.caffe_root_remedy())
    header = caffe_env.python_layer_header(root)
    if header is None:
        return Check("Caffe source tree", False, f"{root} has no python_layer.hpp",
                     "point --caffe-root at a Caffe tree with the Python layer")
    return Check("Caffe source tree", True, str(header))


def check_libclang() -> Check:
    try:
        cindex = caffe_env.load_cindex()
    except InspectorError as exc:
        return Check("libclang", False, exc.message, exc.remedy)
    index = cindex.Index.create()
    include_dirs = caffe_env.system_include_dirs()
    if not include_dirs:
        return Check("libclang", False, "no system C++ compiler found for the standard headers",
                     "apt-get install g++")
    args = ["-x", "c++", "-std=c++11"] + [f"-isystem{d}" for d in include_dirs]
    tu = index.parse("probe.cpp", args=args,
                     unsaved_files=[("probe.cpp", "#include <cstddef>\n#include <vector>\n#include <string>\n")])
    errors = [d.spelling for d in tu.diagnostics if d.severity >= cindex.Diagnostic.Error]
    if errors:
        return Check("libclang", False, f"system headers do not parse: {errors[0]}", "apt-get install g++")
    return Check("libclang", True, f"{cindex.conf.get_filename()}; {len(include_dirs)} system include dirs")


def check_dot() -> Check:
    dot = shutil.which("dot")
    if dot is None:
        return Check("Graphviz dot", False,
                     "dot not on PATH: graph -o cannot write .svg, .png or .pdf "
                     "(.dot, .json, .graphml, .mmd need no dot)",
                     "apt-get install graphviz  (conda install graphviz; brew install graphviz)")
    proc = subprocess.run([dot, "-V"], capture_output=True, text=True)
    return Check("Graphviz dot", proc.returncode == 0, f"{dot}: {proc.stderr.strip() or proc.stdout.strip()}",
                 None if proc.returncode == 0 else "apt-get install --reinstall graphviz")


def check_matplotlib() -> Check:
    try:
        import matplotlib  # noqa: PLC0415 - only doctor and the training plot need it
    except ImportError as exc:
        return Check("matplotlib", False, f"not importable ({exc}): trace --plot cannot draw the training curves",
                     f"pip install matplotlib  (it is a dependency of {DISTRIBUTION_NAME}: reinstall it)")
    return Check("matplotlib", True, f"{matplotlib.__version__} ({Path(matplotlib.__file__).parent})")


def run_doctor(caffe_root: str | None = None) -> DoctorReport:
    report = DoctorReport()
    report.checks += check_pycaffe(probe_pycaffe())
    report.checks.append(check_caffe_source(caffe_root))
    report.checks.append(check_libclang())
    report.checks.append(check_dot())
    report.checks.append(check_matplotlib())
    return report


def libclang_version(cindex) -> str:
    """The loaded library's own version string, else the version of the installed libclang wheel."""
    try:
        get_version = cindex.conf.lib.clang_getClangVersion  # not among the binding's registered functions
        get_version.argtypes, get_version.restype = [], cindex._CXString
        return cindex._CXString.from_result(get_version()).removeprefix("clang version ")
    except Exception:  # an older binding without _CXString.from_result
        return importlib.metadata.version("libclang")


def installed_versions() -> list[str]:
    """inspector's, Python's, pycaffe's and libclang's versions with where each is: what a bug report needs."""
    lines = [f"{DISTRIBUTION_NAME} {__version__} (the inspector command, {Path(__file__).resolve().parent})",
             f"Python {platform.python_version()} ({sys.executable})"]
    probe = probe_pycaffe()
    if "error" in probe:
        lines.append(f"pycaffe: not importable ({probe['error']}); `inspector doctor` says what to do")
    else:
        layer = "with" if PYTHON_LAYER_TYPE in probe["layer_types"] else "WITHOUT"
        lines.append(f"pycaffe {probe['version']} ({probe['path']}, {layer} the Python layer)")
    try:
        cindex = caffe_env.load_cindex()
    except InspectorError as exc:
        lines.append(f"libclang: {exc.message}")
    else:
        lines.append(f"libclang {libclang_version(cindex)} ({cindex.conf.get_filename()})")
    return lines
