"""The distribution: its name, one version, --version for bug reports, doctor's word on each missing part."""
from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, SAMPLE_NETS, run_cli
from inspector.caffe_env import IN_CHECKOUT
from inspector import DISTRIBUTION_NAME, __version__

INSPECTOR_COMMAND = Path(sys.executable).parent / "inspector"  # the console script pip installed beside Python


def test_distribution_is_caffe_inspector_and_installs_the_inspector_command():
    assert DISTRIBUTION_NAME == "caffe-inspector"
    distribution = importlib.metadata.distribution("caffe-inspector")
    assert distribution.version == __version__
    scripts = {ep.name: ep.value for ep in distribution.entry_points if ep.group == "console_scripts"}
    assert scripts == {"inspector": "inspector.cli:main"}


def test_distribution_never_requires_pycaffe_and_keeps_its_imports_in_an_extra():
    requires = importlib.metadata.requires("caffe-inspector")
    always = [r for r in requires if "extra ==" not in r]
    assert not any(r.lower().startswith(("caffe", "pycaffe", "scikit-image", "six")) for r in always)
    pycaffe_deps = {r.split(";")[0].split(">")[0].strip() for r in requires if 'extra == "pycaffe-deps"' in r}
    assert pycaffe_deps == {"protobuf", "six", "scikit-image"}


def test_version_names_the_distribution_python_and_libclang():
    result = run_cli("--version")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 4
    assert lines[0].startswith(f"caffe-inspector {__version__} (the inspector command, ")
    assert lines[1].startswith(f"Python {platform.python_version()} (")
    assert lines[2].startswith("pycaffe")
    assert lines[3].startswith(f"libclang {importlib.metadata.version('libclang')} (")
    assert lines[3].endswith("libclang.so)")


@pytest.mark.caffe
def test_version_shows_pycaffes_version_and_that_it_has_the_python_layer(caffe):
    pycaffe_line = run_cli("--version").stdout.splitlines()[2]
    assert pycaffe_line.startswith(f"pycaffe {caffe.__version__} (")
    assert pycaffe_line.endswith(", with the Python layer)")


def test_version_without_pycaffe_says_it_is_not_importable(python_without_pycaffe):
    result = run_cli("--version", python=str(python_without_pycaffe), env={"PYTHONPATH": ""})
    assert result.returncode == 0
    assert result.stdout.splitlines()[2] == (
        "pycaffe: not importable (ModuleNotFoundError: No module named 'caffe'); `inspector doctor` says what to do")


def doctor_checks(tmp_path, **env) -> dict:
    result = run_cli("doctor", "--format", "json", env={"PYTHONPATH": str(tmp_path), **env})
    return {c["name"]: c for c in json.loads(result.stdout)["checks"]}


def test_doctor_names_the_pip_package_of_a_module_pycaffe_cannot_import(tmp_path):
    # what `import caffe` raises when pycaffe is on PYTHONPATH but scikit-image is not installed
    (tmp_path / "caffe").mkdir()
    (tmp_path / "caffe" / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'skimage'\", name='skimage')\n")
    check = doctor_checks(tmp_path)["pycaffe importable"]
    assert check["ok"] is False
    assert check["found"] == "ModuleNotFoundError: No module named 'skimage'"
    assert check["fix"].startswith("pip install scikit-image  (pycaffe imports skimage; ")
    assert "pip install 'caffe-inspector[pycaffe-deps]'" in check["fix"]


def test_doctor_text_prints_the_extras_brackets_verbatim(tmp_path):
    (tmp_path / "caffe").mkdir()
    (tmp_path / "caffe" / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'six'\", name='six')\n")
    result = run_cli("doctor", env={"PYTHONPATH": str(tmp_path), "COLUMNS": "400"})
    assert "caffe-inspector[pycaffe-deps]" in result.stdout


def test_doctor_without_graphviz_says_which_formats_still_work(tmp_path):
    check = doctor_checks(tmp_path, PATH=str(tmp_path))["Graphviz dot"]
    assert check["ok"] is False
    assert "cannot write .svg, .png or .pdf (.dot, .json, .graphml, .mmd need no dot)" in check["found"]
    assert check["fix"].startswith("apt-get install graphviz")


def test_doctor_with_a_broken_matplotlib_names_the_plot_it_stops(tmp_path):
    (tmp_path / "matplotlib").mkdir()
    (tmp_path / "matplotlib" / "__init__.py").write_text(
        "raise ImportError('libpng16.so.16: cannot open shared object file')\n")
    check = doctor_checks(tmp_path)["matplotlib"]
    assert check["ok"] is False
    assert check["found"] == ("not importable (libpng16.so.16: cannot open shared object file): "
                              "trace --plot cannot draw the training curves")
    assert check["fix"].startswith("pip install matplotlib")


def test_doctor_without_libclangs_binding_says_to_install_the_wheel(tmp_path):
    (tmp_path / "clang").mkdir()
    (tmp_path / "clang" / "__init__.py").write_text("")  # a clang package without cindex
    check = doctor_checks(tmp_path)["libclang"]
    assert check["ok"] is False
    assert check["found"].startswith("libclang's Python binding is not installed")
    assert check["fix"].startswith("pip install libclang")


def test_doctor_without_pycaffe_passes_libclang_graphviz_and_matplotlib(python_without_pycaffe):
    result = run_cli("doctor", "--format", "json", python=str(python_without_pycaffe), env={"PYTHONPATH": ""})
    assert result.returncode == 1
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["pycaffe importable"]["ok"] is False
    assert [checks[name]["ok"] for name in ("libclang", "Graphviz dot", "matplotlib")] == [True, True, True]
    assert checks["matplotlib"]["found"].startswith(importlib.metadata.version("matplotlib"))


@pytest.mark.parametrize(("shell", "first_line"), [("bash", "_inspector_completion() {"),
                                                    ("zsh", "#compdef inspector"),
                                                    ("fish", "function _inspector_completion;")])
def test_shell_completion_script_is_printed_for_each_shell(shell, first_line):
    result = subprocess.run([str(INSPECTOR_COMMAND)], env=dict(os.environ, _INSPECTOR_COMPLETE=f"{shell}_source"),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == first_line


def test_bash_completion_completes_command_names():
    env = dict(os.environ, _INSPECTOR_COMPLETE="bash_complete", COMP_WORDS="inspector gr", COMP_CWORD="1")
    result = subprocess.run([str(INSPECTOR_COMMAND)], env=env, capture_output=True, text=True, timeout=60)
    assert result.stdout.split() == ["plain,gradcheck", "plain,graph"]


def collect_with_the_project_conftest(folder: Path, test_source: str) -> subprocess.CompletedProcess:
    (folder / "test_example.py").write_text(test_source)
    return subprocess.run(
        [sys.executable, "-m", "pytest", str(folder), "--collect-only", "-q", "-p", "conftest",
         "-p", "no:cacheprovider", "--rootdir", str(folder), "-c", str(REPO / "pyproject.toml")],
        env=dict(os.environ, PYTHONPATH=str(REPO / "tests")), capture_output=True, text=True, timeout=120)


def test_a_test_asking_for_pycaffe_without_the_caffe_marker_stops_the_run(tmp_path):
    result = collect_with_the_project_conftest(tmp_path, "def test_runs_a_net(caffe):\n    pass\n")
    assert result.returncode == 4  # pytest's usage error
    assert "these tests use the caffe fixture without the caffe marker" in result.stderr
    assert "test_example.py::test_runs_a_net" in result.stderr


def test_a_test_asking_for_pycaffe_with_the_caffe_marker_is_collected(tmp_path):
    result = collect_with_the_project_conftest(
        tmp_path, "import pytest\n\n@pytest.mark.caffe\ndef test_runs_a_net(caffe):\n    pass\n")
    assert result.returncode == 0, result.stderr
    assert "test_example.py::test_runs_a_net" in result.stdout


def test_trace_without_pycaffe_says_how_to_point_at_one(python_without_pycaffe):
    result = run_cli("trace", SAMPLE_NETS / "triplet" / "train.prototxt", python=str(python_without_pycaffe),
                     env={"PYTHONPATH": ""})
    assert result.returncode == 2
    assert "error: pycaffe cannot be imported in " in result.stderr
    assert "No module named 'caffe'" in result.stderr
    assert "PYTHONPATH" in result.stderr
    # `make setup` exists only in a checkout; the installed wheel's hint names PYTHONPATH alone
    assert ("make setup" in result.stderr) == IN_CHECKOUT
    assert "Traceback" not in result.stderr
