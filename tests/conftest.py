"""Shared fixtures: the real Caffe tree, the CLI run as a user runs it."""
from __future__ import annotations

import os
import subprocess
import sys
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
