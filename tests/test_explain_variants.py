"""inspector explain on Python layer headers as Caffe versions and forks write them
(tests/explain_variants/). They sit outside any Caffe tree, so their includes do not resolve:
each test checks the facts its variant's class body really has."""
from __future__ import annotations

from pathlib import Path

import pytest

from inspector.explain import explain

VARIANTS = Path(__file__).parent / "explain_variants"
MAPPING = {"LayerSetUp": ("setup", ["bottom", "top"]), "Reshape": ("reshape", ["bottom", "top"]),
           "Forward_cpu": ("forward", ["bottom", "top"]), "Backward_cpu": ("backward", ["top", "propagate_down", "bottom"])}


@pytest.fixture(scope="module")
def variant():
    reports = {}

    def get(name: str):
        if name not in reports:
            reports[name] = explain(str(VARIANTS / name), use_cache=False)
        return reports[name]
    return get


def mapping(report):
    return {m.cpp: (m.python, m.args) for m in report.methods if m.python}


def attributes(report):
    return {a.name: a.value for a in report.attributes}


def test_ftype_btype_template_override_methods_are_virtual(variant):
    r = variant("ftype_btype_gil.hpp")
    assert r.cls.template_params == ["Ftype", "Btype"] and r.cls.bases == ["Layer<Ftype, Btype>"]
    assert mapping(r) == MAPPING
    assert all(r.method(m).override and r.method(m).virtual for m in MAPPING)


def test_ftype_btype_share_in_parallel_guard(variant):
    [guard] = variant("ftype_btype_gil.hpp").guards
    assert guard.message == "PythonLayer is not implemented in Multi-GPU training"
    assert guard.condition.endswith("!ShareInParallel()") and guard.action == "LOG(FATAL)"


def test_gil_raii_helper_in_every_hook(variant):
    r = variant("ftype_btype_gil.hpp")
    gil = [h for h in r.error_handling if h.kind == "gil"]
    assert [h.method for h in gil] == ["LayerSetUp", "Reshape", "Forward_cpu", "Backward_cpu"]
    assert "PyGILState_Ensure" in gil[0].detail and "PyGILState_Release" in gil[0].detail


def test_dtype_mitype_motype_template(variant):
    r = variant("dtype_mitype_motype.hpp")
    assert r.cls.template_params == ["Dtype", "MItype", "MOtype"]
    assert mapping(r) == MAPPING


def test_param_str_underscore_and_phase_as_string(variant):
    assert attributes(variant("dtype_mitype_motype.hpp")) == {
        "param_str_": "layer_param_.python_param().param_str()",
        "phase": 'phase_ == TRAIN ? "TRAIN" : "TEST"'}


def test_multiprocess_guard_message(variant):
    [guard] = variant("dtype_mitype_motype.hpp").guards
    assert guard.message == "PythonLayer does not support CLI Multi-GPU, use train.py"
    assert guard.condition.endswith("!Caffe::multiprocess()")


def test_old_pyobject_holder_with_call_method(variant):
    r = variant("old_pyobject_call_method.hpp")
    assert mapping(r) == MAPPING
    assert (r.holder.member, r.holder.type, r.holder.reference) == ("self_", "PyObject*", "raw pointer")
    assert all(c.in_try for m in r.methods for c in m.python_calls)


def test_old_form_has_no_phase_no_guard_and_catches_every_call(variant):
    r = variant("old_pyobject_call_method.hpp")
    assert r.attributes == [] and r.guards == []
    catches = [h for h in r.error_handling if h.kind == "try/catch"]
    assert [h.method for h in catches] == ["LayerSetUp", "Reshape", "Forward_cpu", "Backward_cpu"]
    assert catches[0].detail == "catch (bp::error_already_set) { PyErr_Print(); throw; }"


def test_commented_out_phase_is_not_an_attribute(variant):
    r = variant("phase_commented_warning.hpp")
    assert attributes(r) == {"param_str": "layer_param_.python_param().param_str()"}


def test_warning_guard_does_not_abort(variant):
    [guard] = variant("phase_commented_warning.hpp").guards
    assert (guard.action, guard.aborts) == ("LOG(WARNING)", False)
    assert guard.condition == "this->phase_ == TRAIN && Caffe::solver_count() > 1"


def test_export_macro_does_not_hide_the_class(variant):
    r = variant("phase_commented_warning.hpp")
    assert r.cls.export_macro == "CAFFE_EXPORT" and mapping(r) == MAPPING


def test_bodies_followed_into_the_cpp(variant):
    r = variant("split/python_layer.hpp")
    assert mapping(r) == MAPPING
    assert r.method("LayerSetUp").defined_at.endswith("split/python_layer.cpp:8")
    assert attributes(r) == {"param_str": "layer_param_.python_param().param_str()", "phase": "int(phase_)"}
    [guard] = r.guards
    assert (guard.action, guard.condition, guard.message) == ("CHECK_EQ", "!(bottom.size() == 2)", "PythonLayer takes two bottoms")
    assert [h.detail for h in r.error_handling] == ["PyGILState_STATE state = PyGILState_Ensure();", "PyGILState_Release(state);"]
    assert {c.name: c.value for c in r.blob_constraints} == {"ExactNumBottomBlobs": "2"}


def test_lone_header_lists_unresolved_includes_as_diagnostics(variant):
    r = variant("dtype_mitype_motype.hpp")
    messages = [d.message for d in r.diagnostics]
    assert any(m.startswith("unresolved include <caffe/layer.hpp>") for m in messages)
    assert r.holder.reference == "borrowed" and len(r.lifecycle) == 4


def test_class_definitions_found_in_one_pass(tmp_path):
    from inspector import caffe_env
    from inspector.explain.tokens import class_body, lex_file

    header = tmp_path / "classes.hpp"
    header.write_text("template <class T, class U> class Pair;\n"
                      "template <typename T> class CAFFE_EXPORT Holder : public Base<T> {\n  T value;\n};\n"
                      "struct Plain { int x; };\n"
                      "template <> class Holder<float> { };\n"
                      "class Forward;\n")
    src = lex_file(caffe_env.load_cindex().Index.create(), header)
    found = {name: src.tokens[kw].line for name, (kw, _, _) in src.class_definitions().items()}
    assert found == {"Holder": 2, "Plain": 5}  # declarations and template parameters are not definitions
    kw, brace, close = class_body(src, "Holder")
    assert src.tokens[brace].line == 2 and src.tokens[close].line == 4


def test_many_classes_explained(tmp_path):
    header = tmp_path / "many.hpp"
    header.write_text("".join(f"class C{i} {{\n public:\n  int f{i}(int a) {{ return a + {i}; }}\n}};\n" for i in range(3000))
                      + 'class Target : public C0 {\n public:\n  void Forward_cpu() { self_.attr("forward")(); }\n};\n')
    r = explain(str(header), use_cache=False)
    assert r.cls.name == "Target" and r.method("Forward_cpu").python == "forward"
