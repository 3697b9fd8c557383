"""inspector doctor: is everything inspector stands on here, and if not, the command that fixes it.

Checks, each independent of the others so one failure does not hide the rest:
pycaffe importable (probed in a child process, since a broken Caffe build can abort the
interpreter), the Python layer compiled in, Caffe's source tree, libclang with the system's C++
headers, and Graphviz's dot.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass, field

from rich.table import Table
from rich.text import Text

from . import caffe_env
from .errors import InspectorError

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
            table.add_row(c.name, mark, c.found, c.fix or "")
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
        return [
            Check("pycaffe importable", False, probe["error"],
                  f"{SETUP}  (or put your Caffe's python/ folder on PYTHONPATH)"),
            Check("Python layer compiled in", False, "unknown: pycaffe did not import", SETUP),
        ]
    has_python = "Python" in probe["layer_types"]
    return [
        Check("pycaffe importable", True, f"{probe['path']} (version {probe['version']})"),
        Check(
            "Python layer compiled in", has_python,
            f"'Python' among {len(probe['layer_types'])} layer types" if has_python
            else "no 'Python' layer type: nets with Python layers fail with 'Unknown layer type: Python'",
            None if has_python else f"rebuild Caffe with WITH_PYTHON_LAYER=1, or run {SETUP}",
        ),
    ]


def check_caffe_source(caffe_root: str | None) -> Check:
    try:
        root = caffe_env.find_caffe_root(caffe_root)
    except InspectorError as exc:
        return Check("Caffe source tree", False, exc.message, f"{SETUP}  (or --caffe-root DIR / CAFFE_ROOT)")
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
        return Check("Graphviz dot", False, "dot not on PATH (needed for SVG/PNG/PDF)", "apt-get install graphviz")
    proc = subprocess.run([dot, "-V"], capture_output=True, text=True)
    return Check("Graphviz dot", proc.returncode == 0, f"{dot}: {proc.stderr.strip() or proc.stdout.strip()}",
                 None if proc.returncode == 0 else "apt-get install --reinstall graphviz")


def run_doctor(caffe_root: str | None = None) -> DoctorReport:
    report = DoctorReport()
    report.checks += check_pycaffe(probe_pycaffe())
    report.checks.append(check_caffe_source(caffe_root))
    report.checks.append(check_libclang())
    report.checks.append(check_dot())
    return report
