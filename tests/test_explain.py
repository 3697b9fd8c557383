"""inspector explain on the real Caffe tree: python_layer's mapping, attributes, guard and
lifecycle, a non-Python layer (conv_layer), the views, the cache and the error paths."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_cli

from inspector.explain import explain

VARIANTS = Path(__file__).parent / "explain_variants"


@pytest.fixture(scope="module")
def python_layer(caffe_root):
    return explain("python_layer", str(caffe_root), use_cache=False)


@pytest.fixture(scope="module")
def conv_layer(caffe_root):
    return explain("conv_layer", str(caffe_root), use_cache=False)


@pytest.fixture(scope="module")
def cli_cache(tmp_path_factory):
    return {"INSPECTOR_CACHE": str(tmp_path_factory.mktemp("explain-cache"))}


def header_line(caffe_root, needle: str) -> int:
    """The line of the real header holding needle, so tests follow the tree they read."""
    lines = (caffe_root / "include/caffe/layers/python_layer.hpp").read_text().splitlines()
    return next(n for n, text in enumerate(lines, 1) if needle in text)


def test_python_layer_class_template_and_base(python_layer):
    assert python_layer.cls.name == "PythonLayer"
    assert python_layer.cls.template_params == ["Dtype"]
    assert python_layer.cls.bases == ["Layer<Dtype>"]
    assert [b.name for b in python_layer.cls.base_chain] == ["Layer"]


def test_python_layer_maps_each_hook_to_its_python_method(python_layer, caffe_root):
    mapping = {m.cpp: (m.python, m.args) for m in python_layer.methods if m.python}
    assert mapping == {
        "LayerSetUp": ("setup", ["bottom", "top"]),
        "Reshape": ("reshape", ["bottom", "top"]),
        "Forward_cpu": ("forward", ["bottom", "top"]),
        "Backward_cpu": ("backward", ["top", "propagate_down", "bottom"]),
    }
    backward = python_layer.method("Backward_cpu")
    assert backward.virtual and backward.access == "protected"
    assert backward.python_calls[0].line == header_line(caffe_root, 'attr("backward")')


def test_python_layer_holds_a_bp_object_from_a_borrowed_pyobject(python_layer):
    holder = python_layer.holder
    assert (holder.member, holder.type, holder.reference) == ("self_", "bp::object", "borrowed")
    assert holder.constructor_param == "PyObject* self"
    assert holder.init == "bp::handle<>(bp::borrowed(self))"


def test_python_layer_sets_param_str_and_phase_before_setup(python_layer, caffe_root):
    attrs = {a.name: (a.value, a.line) for a in python_layer.attributes}
    assert attrs["param_str"] == ("layer_param_.python_param().param_str()", header_line(caffe_root, 'attr("param_str")'))
    assert attrs["phase"] == ("int(phase_)", header_line(caffe_root, 'attr("phase")'))
    setup_line = python_layer.method("LayerSetUp").python_calls[0].line
    assert all(line < setup_line for _, line in attrs.values())


def test_python_layer_multi_gpu_guard_aborts(python_layer, caffe_root):
    [guard] = python_layer.guards
    assert guard.action == "LOG(FATAL)" and guard.aborts
    assert guard.message == "PythonLayer does not support CLI Multi-GPU, use train.py"
    assert "Caffe::solver_count() > 1" in guard.condition and "!Caffe::multiprocess()" in guard.condition
    assert guard.line == header_line(caffe_root, "LOG(FATAL)")


def test_lifecycle_is_construction_setup_then_reshape_forward_backward(python_layer):
    names = [(s.stage, s.name) for s in python_layer.lifecycle]
    assert [stage for stage, _ in names] == ["construction", "setup", "setup", "iteration", "iteration", "iteration"]
    assert [s.python[-1].text.split("(")[0] for s in python_layer.lifecycle[1:]] == [
        "setup", "reshape", "reshape", "forward", "backward"]


def test_lifecycle_construction_imports_python_param_module_and_layer(python_layer):
    construction = python_layer.lifecycle[0]
    texts = " | ".join(r.text for r in construction.python)
    assert "param.python_param().module()" in texts and "param.python_param().layer()" in texts
    assert any(r.file == "src/caffe/layer_factory.cpp" for r in construction.python)
    assert any('registered as layer type "Python"' in r.text for r in construction.notes)


def test_lifecycle_reshape_runs_before_every_forward_and_gpu_falls_back(python_layer):
    reshape, forward, backward = python_layer.lifecycle[3:]
    assert reshape.cpp[0].text == "Layer::Forward -> Reshape" and reshape.cpp[0].file == "include/caffe/layer.hpp"
    assert forward.cpp[0].text == "Layer::Forward -> Forward_cpu" and reshape.cpp[0].line < forward.cpp[0].line
    notes = [r.text for r in forward.notes]
    assert any(n.startswith("loss += caffe_cpu_dot(count, data, loss_weights)") for n in notes)
    assert "loss_weights = top[top_id]->cpu_diff()" in notes
    assert any("Forward_gpu falls back to Forward_cpu" in n for n in notes)
    assert any("Backward_gpu falls back to Backward_cpu" in r.text for r in backward.notes)


def test_pycaffe_layer_exposes_blobs_setup_reshape_type(python_layer):
    exposed = [r.text.split(" ")[0] for r in python_layer.pycaffe_layer]
    assert exposed == ["blobs", "setup", "reshape", "type"]
    assert all(r.file == "python/caffe/_caffe.cpp" for r in python_layer.pycaffe_layer)


def test_conv_layer_chain_type_constraints_and_device_methods(conv_layer):
    assert conv_layer.cls.name == "ConvolutionLayer" and not conv_layer.is_python_layer
    assert [b.name for b in conv_layer.cls.base_chain] == ["BaseConvolutionLayer", "Layer"]
    assert conv_layer.type_string == "Convolution"
    active = {c.name: (c.value, c.owner) for c in conv_layer.blob_constraints if c.active}
    assert active == {"MinBottomBlobs": ("1", "BaseConvolutionLayer"), "MinTopBlobs": ("1", "BaseConvolutionLayer"),
                      "EqualNumBottomTopBlobs": ("true", "BaseConvolutionLayer")}
    assert conv_layer.device_methods["Forward_cpu"].startswith("src/caffe/layers/conv_layer.cpp:")
    assert conv_layer.device_methods["Backward_gpu"].startswith("src/caffe/layers/conv_layer.cu:")
    assert conv_layer.lifecycle == []


def test_class_name_target_finds_its_header(caffe_root):
    from inspector.explain.locate import resolve_target

    assert resolve_target("PythonLayer", str(caffe_root)).header.name == "python_layer.hpp"


def test_cli_json_has_stable_keys_and_agrees_with_text(caffe_root, cli_cache):
    res = run_cli("explain", "python_layer", "--caffe-root", caffe_root, "--format", "json", env=cli_cache)
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    for key in ("file", "class", "holder", "methods", "attributes", "guards", "error_handling", "lifecycle", "diagnostics"):
        assert key in data
    assert set(data["class"]) >= {"name", "template_params", "bases"}
    assert {"cpp", "python", "args", "virtual", "line"} <= set(data["methods"][1])
    assert {"condition", "message", "action", "line"} <= set(data["guards"][0])
    text = run_cli("explain", "python_layer", "--caffe-root", caffe_root, env=cli_cache)
    assert text.returncode == 0
    for method in data["methods"]:
        if method["python"]:
            assert f"{method['python']}({', '.join(method['args'])})" in text.stdout
    assert data["guards"][0]["message"] in text.stdout.replace("\n", " ") or "use train.py" in text.stdout


def test_cli_markdown_is_a_document(caffe_root, cli_cache):
    res = run_cli("explain", "python_layer", "--caffe-root", caffe_root, "--format", "markdown", env=cli_cache)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("# PythonLayer")
    assert "## Lifecycle" in res.stdout and "| `Backward_cpu` | virtual | protected | `backward(top, propagate_down, bottom)` |" in res.stdout


def test_cli_missing_target_lists_searched_paths(caffe_root):
    res = run_cli("explain", "no_such_layer", "--caffe-root", caffe_root)
    assert res.returncode == 2
    assert str(caffe_root / "include/caffe/layers/no_such_layer.hpp") in res.stderr.replace("\n", "")
    assert "--caffe-root" in res.stderr and "Traceback" not in res.stderr


def test_cli_missing_header_path_exits_2(tmp_path):
    res = run_cli("explain", str(tmp_path / "gone.hpp"))
    assert res.returncode == 2 and "does not exist" in res.stderr and "Traceback" not in res.stderr


def test_cli_bad_caffe_root_exits_2(tmp_path):
    res = run_cli("explain", "python_layer", "--caffe-root", tmp_path)
    assert res.returncode == 2 and "not a Caffe source tree" in res.stderr


def test_cache_follows_file_content_and_skips_libclang(tmp_path):
    header = tmp_path / "python_layer.hpp"
    shutil.copy(VARIANTS / "dtype_mitype_motype.hpp", header)
    env = {"INSPECTOR_CACHE": str(tmp_path / "cache")}
    probe = ("import sys; from inspector.explain import explain; r = explain(sys.argv[1]); "
             "print(r.guards[0].message); print('clang.cindex' in sys.modules)")

    def run():
        proc = subprocess.run([sys.executable, "-c", probe, str(header)], capture_output=True, text=True,
                              env={**__import__("os").environ, **env}, check=True)
        return proc.stdout.split("\n")[:2]

    assert run() == ["PythonLayer does not support CLI Multi-GPU, use train.py", "True"]   # cold: parsed
    assert run() == ["PythonLayer does not support CLI Multi-GPU, use train.py", "False"]  # warm: no libclang
    header.write_text(header.read_text().replace("use train.py", "use the Python solver"))
    assert run() == ["PythonLayer does not support CLI Multi-GPU, use the Python solver", "True"]


def factory_line(caffe_root, needle: str) -> int:
    lines = (caffe_root / "src/caffe/layer_factory.cpp").read_text().splitlines()
    return next(n for n, text in enumerate(lines, 1) if needle in text)


def test_python_layer_creation_error_handling_is_listed_with_its_place(python_layer, caffe_root):
    creator = [h for h in python_layer.error_handling if h.method == "GetPythonLayer"]
    assert [(h.kind, h.detail, h.file) for h in creator] == [
        ("try/catch", "catch (bp::error_already_set) { PyErr_Print(); throw; }", "src/caffe/layer_factory.cpp")]
    assert creator[0].line == factory_line(caffe_root, "catch (bp::error_already_set)")


def test_cli_text_names_the_header_once_and_shows_its_lines_compactly(caffe_root, cli_cache):
    res = run_cli("explain", "python_layer", "--caffe-root", caffe_root, env={**cli_cache, "COLUMNS": "80"})
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[0].split() == ["PythonLayer", "include/caffe/layers/python_layer.hpp"]
    assert f"Caffe tree: {caffe_root} " in " ".join(res.stdout.split())  # the tree's path may wrap at 80 columns
    assert res.stdout.count("include/caffe/layers/python_layer.hpp") == 1
    param_str_line = header_line(caffe_root, 'attr("param_str")')
    assert "│ param_str │" in res.stdout and f"│ :{param_str_line} │" in res.stdout  # the attribute's "at" cell
    assert "src/caffe/layer_factory.cpp" in res.stdout  # other files: relative to the tree


def test_cli_markdown_shows_header_lines_by_file_name(caffe_root, cli_cache):
    res = run_cli("explain", "python_layer", "--caffe-root", caffe_root, "--format", "markdown", env=cli_cache)
    assert res.stdout.count("include/caffe/layers/python_layer.hpp") == 1
    param_str_line = header_line(caffe_root, 'attr("param_str")')
    assert f"| LayerSetUp | `python_layer.hpp:{param_str_line}` |" in res.stdout


def test_cli_json_keeps_full_locations(caffe_root, cli_cache):
    data = json.loads(run_cli("explain", "python_layer", "--caffe-root", caffe_root, "--format", "json",
                              env=cli_cache).stdout)
    assert data["methods"][1]["defined_at"] == f"include/caffe/layers/python_layer.hpp:{data['methods'][1]['line']}"
    assert {a["file"] for a in data["attributes"]} == {"include/caffe/layers/python_layer.hpp"}
