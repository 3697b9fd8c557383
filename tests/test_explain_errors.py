"""explain on input it cannot fully read: parse errors are diagnostics with file:line and a partial
result (exit 1), nothing readable is exit 2, binary or non-UTF-8 files are exit 2 with a clean
message, and a header path is never mixed with another tree given by --caffe-root."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import run_cli

VARIANTS = Path(__file__).parent / "explain_variants"


@pytest.fixture
def no_cache(tmp_path):
    return {"INSPECTOR_CACHE": str(tmp_path / "cache")}


def broken_copy(tmp_path: Path, old: str, new: str) -> Path:
    source = (VARIANTS / "dtype_mitype_motype.hpp").read_text()
    assert old in source
    path = tmp_path / "python_layer.hpp"
    path.write_text(source.replace(old, new))
    return path


@pytest.fixture
def tree_with_syntax_error(tmp_path, caffe_root):
    """A copy of the real tree's headers (and generated caffe.pb.h) with `;` missing after self_."""
    tree = tmp_path / "tree"
    for rel in ("include", "build/include", ".build_release/src/caffe/proto"):
        if (caffe_root / rel).is_dir():
            shutil.copytree(caffe_root / rel, tree / rel)
    header = tree / "include/caffe/layers/python_layer.hpp"
    header.write_text(header.read_text().replace("  bp::object self_;", "  bp::object self_"))
    return tree


def test_unclosed_call_is_a_parse_error_and_a_partial_result(tmp_path, no_cache):
    header = broken_copy(tmp_path, 'self_.attr("forward")(bottom, top);', 'self_.attr("forward")(bottom, top;')
    res = run_cli("explain", header, "--format", "json", env=no_cache)
    assert res.returncode == 1, res.stderr
    data = json.loads(res.stdout)
    line = next(n for n, text in enumerate(header.read_text().splitlines(), 1) if "(bottom, top;" in text)
    assert data["partial"] is True
    assert {"level": "error", "message": "unbalanced bracket: '(' is never closed", "file": str(header),
            "line": line} in data["diagnostics"]
    forward = next(m for m in data["methods"] if m["cpp"] == "Forward_cpu")
    assert forward["python"] is None  # the broken text is not shown as a call into Python


def test_partial_result_is_said_first_in_text(tmp_path, no_cache):
    header = broken_copy(tmp_path, 'self_.attr("forward")(bottom, top);', 'self_.attr("forward")(bottom, top;')
    res = run_cli("explain", header, env=no_cache)
    assert res.returncode == 1
    assert res.stdout.splitlines()[2].startswith("PARTIAL: python_layer.hpp has 1 parse error")


def test_clangs_own_errors_in_the_header_are_listed_with_their_line(tree_with_syntax_error, no_cache):
    res = run_cli("explain", "python_layer", "--caffe-root", tree_with_syntax_error, "--format", "json", env=no_cache)
    assert res.returncode == 1, res.stderr
    data = json.loads(res.stdout)
    header = (tree_with_syntax_error / "include/caffe/layers/python_layer.hpp").read_text().splitlines()
    line = next(n for n, text in enumerate(header, 1) if text == "  bp::object self_")
    errors = [d for d in data["diagnostics"] if d["level"] == "error"]
    assert errors[0]["file"] == "include/caffe/layers/python_layer.hpp" and errors[0]["line"] == line
    assert "expected ';'" in errors[0]["message"] and data["partial"] is True


def test_a_syntax_error_inside_a_method_body_is_a_parse_error_not_a_call(tmp_path, caffe_root, no_cache):
    tree = tmp_path / "tree"
    for rel in ("include", "build/include", ".build_release/src/caffe/proto"):
        if (caffe_root / rel).is_dir():
            shutil.copytree(caffe_root / rel, tree / rel)
    header = tree / "include/caffe/layers/python_layer.hpp"
    source = header.read_text()
    assert 'self_.attr("forward")(bottom, top);' in source
    header.write_text(source.replace('self_.attr("forward")(bottom, top);', 'self_.attr("forward")(bottom top);'))
    res = run_cli("explain", "python_layer", "--caffe-root", tree, "--format", "json", env=no_cache)
    assert res.returncode == 1, res.stderr
    data = json.loads(res.stdout)
    line = next(n for n, text in enumerate(header.read_text().splitlines(), 1) if "(bottom top)" in text)
    errors = [d for d in data["diagnostics"] if d["level"] == "error"]
    assert data["partial"] is True
    assert [(e["file"], e["line"]) for e in errors] == [("include/caffe/layers/python_layer.hpp", line)]


def test_correct_header_is_not_partial(caffe_root, no_cache):
    res = run_cli("explain", "python_layer", "--caffe-root", caffe_root, "--format", "json", env=no_cache)
    data = json.loads(res.stdout)
    assert res.returncode == 0 and data["partial"] is False
    assert [d for d in data["diagnostics"] if d["level"] == "error"] == []


def test_nothing_readable_is_exit_2_with_the_errors(tmp_path, no_cache):
    header = tmp_path / "python_layer.hpp"
    header.write_text("template <typename Dtype>\nclas PythonLayer : public Layer<Dtype> {\n};\n")
    res = run_cli("explain", header, env=no_cache)
    assert res.returncode == 2
    assert "could not be read" in res.stderr and f"{header}:2: error: unknown type name 'clas'" in res.stderr
    assert "Traceback" not in res.stderr and "internal error" not in res.stderr


def test_binary_file_is_exit_2(tmp_path, no_cache):
    header = tmp_path / "python_layer.hpp"
    header.write_bytes(b"\x7fELF\x02\x01\x01\x00\x00\x00")
    res = run_cli("explain", header, env=no_cache)
    assert res.returncode == 2
    assert "is not C++ source text (a NUL byte at offset 7: it is a binary file)" in res.stderr
    assert "internal error" not in res.stderr


def test_non_utf8_file_is_exit_2(tmp_path, no_cache):
    header = tmp_path / "python_layer.hpp"
    header.write_bytes(b"// caf\xe9\nclass A {};\n")
    res = run_cli("explain", header, env=no_cache)
    assert res.returncode == 2 and "byte 0xe9 at offset 6 is not UTF-8" in res.stderr


def test_header_of_another_tree_is_refused(tmp_path, caffe_root, no_cache):
    other = tmp_path / "other"
    shutil.copytree(caffe_root / "include", other / "include")
    header = other / "include/caffe/layers/python_layer.hpp"
    res = run_cli("explain", header, "--caffe-root", caffe_root, env=no_cache)
    assert res.returncode == 2
    assert f"is not in the tree given by --caffe-root ({caffe_root}); it belongs to the Caffe tree {other}" in " ".join(res.stderr.split())


def test_lone_header_with_a_caffe_root_is_refused(no_cache, caffe_root):
    res = run_cli("explain", VARIANTS / "ftype_btype_gil.hpp", "--caffe-root", caffe_root, env=no_cache)
    assert res.returncode == 2 and "it is in no Caffe tree" in " ".join(res.stderr.split())


def test_relative_header_path_resolves_inside_the_caffe_root(tmp_path, caffe_root, no_cache):
    res = run_cli("explain", "include/caffe/layers/python_layer.hpp", "--caffe-root", caffe_root, "--format", "json",
                  cwd=tmp_path, env=no_cache)
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["root"] == str(caffe_root) and data["file"] == str(caffe_root / "include/caffe/layers/python_layer.hpp")
