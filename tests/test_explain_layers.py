"""explain on layer classes other than PythonLayer, from real fork excerpts (tests/explain_variants/):
a class in a header of many (old layout) found by its file-style name, bodies found across
src/caffe/layers/, NOT_IMPLEMENTED bodies, every base of a class with multiple inheritance,
overrides without `virtual`, guards with C++ precedence, a LOG(FATAL) under `switch default:`,
and guards inherited from a base's Reshape."""
from __future__ import annotations

from pathlib import Path

import pytest

from inspector.explain import explain

VARIANTS = Path(__file__).parent / "explain_variants"
OLD_LAYOUT = VARIANTS / "old_layout"  # rbgirshick/caffe-fast-rcnn, fast-rcnn
MULTIPLE_BASES = VARIANTS / "multiple_bases"  # intel/caffe, master


@pytest.fixture(scope="module")
def layer():
    reports = {}

    def get(target: str, root: Path = OLD_LAYOUT):
        if (target, root) not in reports:
            reports[target, root] = explain(target, str(root), use_cache=False)
        return reports[target, root]
    return get


def test_file_style_name_resolves_to_a_class_in_a_shared_header(layer):
    r = layer("roi_pooling_layer")
    assert r.cls.name == "ROIPoolingLayer" and r.file.endswith("include/caffe/fast_rcnn_layers.hpp")


def test_bodies_found_by_class_name_across_layer_sources(layer):
    r = layer("roi_pooling_layer")
    assert r.method("LayerSetUp").defined_at == "src/caffe/layers/roi_pooling_layer.cpp:20"
    assert r.method("Reshape").defined_at == "src/caffe/layers/roi_pooling_layer.cpp:34"
    assert [(g.action, g.message) for g in r.guards] == [("CHECK_GT", "pooled_h must be > 0"),
                                                         ("CHECK_GT", "pooled_w must be > 0")]


def test_not_implemented_body_aborts_if_called(layer):
    r = layer("ArgMaxLayer")
    backward = r.method("Backward_cpu")
    assert backward.not_implemented and not r.method("Forward_cpu").not_implemented
    [guard] = [g for g in r.guards if g.method == "Backward_cpu"]
    assert (guard.action, guard.message, guard.aborts) == ("NOT_IMPLEMENTED", "not implemented: aborts if called", True)
    assert "(not implemented: aborts if called)" in r.to_markdown()


def test_log_fatal_under_switch_default_says_so(layer):
    [guard] = layer("EltwiseLayer").guards
    assert guard.condition == ("switch (op_) default: none of EltwiseParameter_EltwiseOp_PROD, "
                               "EltwiseParameter_EltwiseOp_SUM, EltwiseParameter_EltwiseOp_MAX")
    assert (guard.action, guard.message) == ("LOG(FATAL)", "Unknown elementwise operation.")


def test_guards_inherited_from_the_base_reshape(layer):
    r = layer("EuclideanLossLayer")
    assert [(g.method, g.file, g.line, g.condition) for g in r.guards] == [
        ("Reshape", "src/caffe/layers/euclidean_loss_layer.cpp", 14, "!(bottom[0]->count(1) == bottom[1]->count(1))"),
        ("LossLayer::Reshape (inherited)", "src/caffe/layers/loss_layer.cpp", 25,
         "!(bottom[0]->num() == bottom[1]->num())")]


def test_a_class_without_base_calls_inherits_nothing(layer):
    assert not any("inherited" in g.method for g in layer("roi_pooling_layer").guards)


def test_every_base_of_multiple_inheritance_is_followed(layer):
    r = layer("MKLDNNConvolutionLayer", MULTIPLE_BASES)
    assert [(b.name, b.parent) for b in r.cls.base_chain] == [
        ("MKLDNNLayer", None), ("BaseQuantLayer", "MKLDNNLayer"), ("ConvolutionLayer", None),
        ("BaseConvolutionLayer", "ConvolutionLayer"), ("Layer", "BaseConvolutionLayer")]
    assert "bases (all, depth first): MKLDNNLayer" in r.to_markdown()


def test_override_without_virtual_keyword_is_virtual(layer):
    r = layer("MKLDNNConvolutionLayer", MULTIPLE_BASES)
    assert r.method("Reshape").virtual  # `void Reshape(...)` overriding ConvolutionLayer's virtual
    assert not r.method("GetKernelWidth").virtual


def test_single_inheritance_is_still_a_chain(layer):
    r = layer("EuclideanLossLayer")
    assert [b.name for b in r.cls.base_chain] == ["LossLayer", "Layer"]
    assert "base chain: LossLayer" in r.to_markdown()


def test_check_arguments_keep_cpp_precedence():
    [guard] = explain(str(VARIANTS / "check_precedence.hpp"), use_cache=False).guards
    assert guard.condition == "!((tmpSwizzledWeight != NULL) == true)"
    assert guard.message == "Failed to allocate temporary swizzled weight"
