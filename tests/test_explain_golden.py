"""explain on nine real Caffe forks (excerpts in tests/explain_golden/, each with its expected
JSON): no fact regresses silently, and each fork's own way of driving a Python layer is told."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from inspector.explain import explain

GOLDEN = Path(__file__).parent / "explain_golden"
sys.path.insert(0, str(GOLDEN))
from regenerate import golden_view, variants  # noqa: E402


@pytest.fixture(scope="module")
def fork():
    reports = {}

    def get(name: str):
        if name not in reports:
            reports[name] = explain("python_layer", str(GOLDEN / name), use_cache=False)
        return reports[name]
    return get


def step(report, name: str):
    return next(s for s in report.lifecycle if s.name == name)


def texts(refs) -> list[str]:
    return [r.text for r in refs]


@pytest.mark.parametrize("folder", variants(), ids=lambda p: p.name)
def test_golden_facts_unchanged(folder, fork):
    expected = json.loads((folder / "expected.json").read_text())
    got = json.loads(json.dumps(golden_view(fork(folder.name))))
    changed = [key for key in expected if expected[key] != got.get(key)]
    assert not changed, (f"{folder.name}: {changed} changed; if intended, run "
                         "python tests/explain_golden/regenerate.py and read the diff")


def test_old_fork_reshapes_every_pass_from_net_forward_from_to(fork):
    reshape = step(fork("fast-rcnn"), "reshape (every forward pass)")
    assert reshape.cpp[0].text == "Net::ForwardFromTo -> layers_[i]->Reshape(bottom_vecs_[i], top_vecs_[i])"
    assert (reshape.cpp[0].file, reshape.cpp[0].line) == ("src/caffe/net.cpp", 473)
    assert texts(reshape.python) == ["reshape(bottom, top)"]


def test_mainline_reshapes_every_pass_from_layer_forward(fork):
    reshape = step(fork("bvlc-master"), "reshape (every forward pass)")
    assert reshape.cpp[0].text == "Layer::Forward -> Reshape" and reshape.cpp[0].file == "include/caffe/layer.hpp"


def test_fast_rcnn_imports_with_exec_and_eval_in_main(fork):
    construction = fork("fast-rcnn").lifecycle[0]
    python = texts(construction.python)
    assert python[0].startswith('bp::exec ("import " + module_name) in __main__\'s namespace: imports your module')
    assert "module_name = param.python_param().module()" in python[0]
    assert python[1].startswith('bp::eval (module_name + "." + layer_name)')
    assert python[2] == "call layer_class(param): your class, constructed with the LayerParameter"
    assert not any("__main__\"" in text for text in python)  # __main__ is the namespace, not the user's module
    assert "CHECK aborts if !(boost::regex_match(module_name, expression)): Module name is invalid: {module_name}" in texts(construction.notes)


def test_opencl_registration_with_type_lists_is_recognised(fork):
    notes = texts(fork("bvlc-opencl").lifecycle[0].notes)
    assert 'registered as layer type "Python"' in notes


def test_nvidia_017_sets_up_through_layer_base_and_locks_forward(fork):
    report = fork("nvidia-0.17")
    setup = step(report, "set up (once, when the net is built)")
    assert setup.cpp[0].text == "LayerBase::SetUp calls CheckBlobCounts, LayerSetUp, Reshape, SetLossWeights"
    forward = step(report, "forward")
    assert any(n.text.startswith("Layer::Forward holds the layer's lock") for n in forward.notes)


def test_nvidia_017_says_what_each_error_handler_does(fork):
    effects = {(h.method, h.detail.split(")")[0]): h.effect for h in fork("nvidia-0.17").error_handling
               if h.kind == "try/catch"}
    assert effects[("Forward_cpu", "catch (const bp::error_already_set&")] == (
        "PyErrReportAndForward prints the Python traceback, re-raises: the Python error leaves the layer as a C++ exception")
    assert effects[("Forward_cpu", "catch (...")] == "PyErrFatal prints the Python traceback, aborts the process"
    assert effects[("GetPythonLayer", "catch (...")] == "PyErrFatal prints the Python traceback, aborts the process"


def test_tsn_mutex_prefetch_thread_and_conditional_initialize(fork):
    report = fork("tsn-action-recog")
    locks = [h.method for h in report.error_handling if h.kind == "lock"]
    assert locks == ["LayerSetUp", "Reshape", "Forward_cpu", "Backward_cpu", "PrefetchThread", "GetPythonLayer"]
    assert [(a.name, a.target) for a in report.attributes_read] == [("_prefetch", "prefetch_")]
    forward = texts(step(report, "forward").notes)
    assert "PythonLayer::Forward_cpu calls WaitForPrefetchThread" in forward
    assert ("PythonLayer::Forward_cpu calls MaybeStartPrefetchThread (starts a thread running PrefetchThread, "
            "which calls Python prefetch())") in forward
    cpp = texts(report.lifecycle[0].cpp)
    assert "Py_Initialize() only if Caffe::py_tstate() == NULL" in cpp


def test_absent_facts_are_said_outright(fork):
    assert "phase: not set by this Caffe (self.phase does not exist)" in fork("fast-rcnn").absent
    assert any(line.startswith("no guard:") for line in fork("fast-rcnn").absent)
    assert any(line.startswith("no try/catch: the Python calls in LayerSetUp") for line in fork("faster-rcnn").absent)
    assert any(line.startswith("no GIL handling") for line in fork("bvlc-master").absent)


def test_a_fork_that_does_everything_has_nothing_absent_but_what_it_lacks(fork):
    absent = fork("bvlc-opencl").absent
    assert not any(line.startswith(("phase:", "param_str:", "no guard", "no GIL")) for line in absent)
