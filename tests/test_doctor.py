"""inspector doctor: passes on the provisioned machine, fails with the right remedy when a part is missing."""
from __future__ import annotations

import json

import pytest

from conftest import run_cli
from inspector.caffe_env import IN_CHECKOUT


@pytest.mark.caffe
def test_doctor_passes_with_the_provisioned_caffe():
    result = run_cli("doctor")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All checks passed" in result.stdout
    assert "python_layer.hpp" in result.stdout


@pytest.mark.caffe
def test_doctor_json_names_every_check_with_what_it_found():
    result = run_cli("doctor", "--format", "json")
    report = json.loads(result.stdout)
    assert report["ok"] is True
    names = [c["name"] for c in report["checks"]]
    assert names == ["pycaffe importable", "Python layer compiled in", "Caffe source tree",
                     "libclang", "Graphviz dot", "matplotlib"]
    by_name = {c["name"]: c for c in report["checks"]}
    assert by_name["Caffe source tree"]["found"].endswith("include/caffe/layers/python_layer.hpp")
    assert "/caffe" in by_name["pycaffe importable"]["found"]


def test_doctor_fails_with_setup_remedy_when_pycaffe_is_hidden(python_without_pycaffe, tmp_path):
    result = run_cli("doctor", "--format", "json", python=str(python_without_pycaffe),
                     env={"PYTHONPATH": "", "CAFFE_ROOT": "", "INSPECTOR_CACHE": str(tmp_path)})
    assert result.returncode == 1
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["pycaffe importable"]["ok"] is False
    assert "No module named 'caffe'" in checks["pycaffe importable"]["found"]
    # from a checkout the fix names its `make setup`; installed from the wheel, only the user's own Caffe
    setup_first = "make setup" if IN_CHECKOUT else "put your Caffe's python/ folder on PYTHONPATH"
    assert checks["pycaffe importable"]["fix"].startswith(setup_first)
    assert "PYTHONPATH" in checks["pycaffe importable"]["fix"]
    assert checks["Caffe source tree"]["ok"] is False
    assert ("make setup" if IN_CHECKOUT else "CAFFE_ROOT") in checks["Caffe source tree"]["fix"]
    assert checks["libclang"]["ok"] is True


@pytest.mark.caffe
def test_doctor_explains_unknown_layer_type_python_for_a_caffe_without_the_python_layer(tmp_path):
    # A stand-in package exposing only what doctor reads, shadowing the real pycaffe on PYTHONPATH:
    # a Caffe built without WITH_PYTHON_LAYER lists every layer type but "Python".
    real = json.loads(run_cli("doctor", "--format", "json").stdout)
    assert real["checks"][1]["ok"] is True
    fake = tmp_path / "caffe"
    fake.mkdir()
    fake.joinpath("__init__.py").write_text(
        "__version__ = '1.0.0'\n"
        "def layer_type_list():\n    return ['Convolution', 'InnerProduct', 'ReLU']\n")
    result = run_cli("doctor", "--format", "json", env={"PYTHONPATH": str(tmp_path)})
    assert result.returncode == 1
    check = json.loads(result.stdout)["checks"][1]
    assert check["name"] == "Python layer compiled in" and check["ok"] is False
    assert "Unknown layer type: Python" in check["found"]
    assert "WITH_PYTHON_LAYER" in check["fix"]


def test_doctor_fails_on_a_caffe_root_that_is_not_a_caffe_tree(tmp_path):
    result = run_cli("doctor", "--caffe-root", str(tmp_path), "--format", "json")
    assert result.returncode == 1
    check = {c["name"]: c for c in json.loads(result.stdout)["checks"]}["Caffe source tree"]
    assert check["ok"] is False and "not a Caffe source tree" in check["found"]
