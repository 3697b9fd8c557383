"""Shared fixtures: the real Caffe tree, pycaffe, a Python without pycaffe, the CLI run as a user runs it.

A test that needs pycaffe carries the `caffe` marker (`pytestmark = pytest.mark.caffe` for a whole module),
so that `pytest -m "not caffe"` runs where Caffe cannot be imported; one that asks for the `caffe` fixture
without the marker stops the run at collection.
"""
from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLE_NETS = REPO / "sample_nets"


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str


def run_cli(*args: str, cwd: str | os.PathLike | None = None, env: dict | None = None,
            timeout: float = 600, python: str = sys.executable) -> CliResult:
    """Run `inspector ARGS` in a child process, as a user would, with a wide terminal."""
    full_env = dict(os.environ, COLUMNS="200", NO_COLOR="1", TERM="dumb")
    full_env.update(env or {})
    proc = subprocess.run([python, "-m", "inspector", *map(str, args)], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture(scope="session")
def caffe_root() -> Path:
    """The real Caffe source tree (provisioned by `make setup`, or CAFFE_ROOT)."""
    from inspector.caffe_env import find_caffe_root

    return find_caffe_root()


@pytest.fixture(scope="session")
def caffe():
    """The real pycaffe, built with the Python layer."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    from inspector.caffe_env import import_pycaffe, require_python_layer

    module = import_pycaffe()
    require_python_layer(module)
    module.set_mode_cpu()
    return module


@pytest.fixture(scope="session")
def python_without_pycaffe(tmp_path_factory) -> Path:
    """A Python with inspector and its dependencies but no pycaffe: a venv that sees this Python's
    site-packages as a plain path, so the .pth that links pycaffe there is not processed."""
    import inspector

    # the inspector under test: the checkout, or the installed wheel when the tests run against one
    inspector_parent = Path(inspector.__file__).resolve().parent.parent
    venv = tmp_path_factory.mktemp("nocaffe") / "venv"
    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = Path(subprocess.check_output(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        text=True).strip())
    site.joinpath("project.pth").write_text(f"{inspector_parent}\n{sysconfig.get_paths()['purelib']}\n")
    return venv / "bin" / "python"


def pytest_collection_modifyitems(config, items):
    unmarked = [item.nodeid for item in items
                if "caffe" in getattr(item, "fixturenames", ()) and item.get_closest_marker("caffe") is None]
    if unmarked:
        raise pytest.UsageError(
            "these tests use the caffe fixture without the caffe marker; add @pytest.mark.caffe "
            "(or pytestmark = pytest.mark.caffe for the module):\n  " + "\n  ".join(unmarked))
