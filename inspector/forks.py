"""Layer types and prototxt fields that well-known Caffe forks add, for advice when the Caffe at hand lacks them.

A net written for a fork (py-faster-rcnn's ROIPooling, SSD's PriorBox) is a valid prototxt for that fork's
Caffe. When the Caffe the user has rejects one of its layer types or fields, the advice names the forks
that have it and how to point inspector at such a build. The table below was read from each fork's
REGISTER_LAYER_CLASS lines and src/caffe/proto/caffe.proto, against BVLC master: it is advice, not a fact
about the user's Caffe (that one always comes from the Caffe itself: its layer registry, its caffe_pb2).
"""
from __future__ import annotations

import re

FAST_RCNN = "rbgirshick/caffe-fast-rcnn (py-faster-rcnn)"
SSD = "weiliu89/caffe, branch ssd (SSD)"
TSN = "yjxiong/caffe (temporal segment networks)"
NVIDIA = "NVIDIA/caffe 0.17"
INTEL = "intel/caffe"

# layer type -> forks that register it (BVLC master does not)
FORK_LAYER_TYPES: dict[str, tuple[str, ...]] = {
    "ROIPooling": (FAST_RCNN, TSN, INTEL),
    "SmoothL1Loss": (FAST_RCNN, SSD, TSN, NVIDIA, INTEL),
    "PriorBox": (SSD, NVIDIA, INTEL),
    "DetectionOutput": (SSD, NVIDIA, INTEL),
    "DetectionEvaluate": (SSD, NVIDIA, INTEL),
    "MultiBoxLoss": (SSD, NVIDIA, INTEL),
    "Normalize": (SSD, TSN, NVIDIA, INTEL),
    "Permute": (SSD, NVIDIA, INTEL),
    "AnnotatedData": (SSD, INTEL),
    "VideoData": (SSD, TSN, INTEL),
    "BN": (TSN,),
    "SyncBN": (TSN,),
    "BatchReduction": (TSN,),
    "Gather": (TSN,),
    "Scatter": (TSN,),
    "SegData": (TSN,),
    "Axpy": (NVIDIA, INTEL),
    "L1Loss": (NVIDIA,),
    "DetectNetTransformation": (NVIDIA,),
    "TRT": (NVIDIA,),
    "PSROIPooling": (INTEL,),
    "Reorg": (INTEL,),
    "RegionLoss": (INTEL,),
    "BoxAnnotatorOHEM": (INTEL,),
    "SmoothL1LossOHEM": (INTEL,),
    "SoftmaxWithLossOHEM": (INTEL,),
    "SpatialDropout": (INTEL,),
    "MKLBatchNorm": (INTEL,),
}

# (protobuf message, field) -> forks whose caffe.proto has it (BVLC master's does not)
FORK_FIELDS: dict[tuple[str, str], tuple[str, ...]] = {
    ("LayerParameter", "roi_pooling_param"): (FAST_RCNN, TSN, INTEL),
    ("LayerParameter", "smooth_l1_loss_param"): (FAST_RCNN, INTEL),
    ("DropoutParameter", "scale_train"): (FAST_RCNN,),
    ("LayerParameter", "prior_box_param"): (SSD, NVIDIA, INTEL),
    ("LayerParameter", "detection_output_param"): (SSD, NVIDIA, INTEL),
    ("LayerParameter", "detection_evaluate_param"): (SSD, NVIDIA, INTEL),
    ("LayerParameter", "multibox_loss_param"): (SSD, NVIDIA, INTEL),
    ("LayerParameter", "norm_param"): (SSD, NVIDIA, INTEL),
    ("LayerParameter", "permute_param"): (SSD, NVIDIA, INTEL),
    ("LayerParameter", "annotated_data_param"): (SSD, NVIDIA, INTEL),
    ("LayerParameter", "video_data_param"): (SSD, TSN, NVIDIA, INTEL),
    ("LayerParameter", "bn_param"): (TSN,),
    ("LayerParameter", "batch_reduction_param"): (TSN,),
    ("LayerParameter", "seg_data_param"): (TSN,),
    ("LayerParameter", "forward_type"): (NVIDIA,),
    ("LayerParameter", "backward_type"): (NVIDIA,),
    ("LayerParameter", "forward_math"): (NVIDIA,),
    ("LayerParameter", "backward_math"): (NVIDIA,),
    ("NetParameter", "default_forward_type"): (NVIDIA,),
    ("NetParameter", "default_backward_type"): (NVIDIA,),
    ("LayerParameter", "engine"): (INTEL,),
    ("LayerParameter", "psroi_pooling_param"): (INTEL,),
    ("LayerParameter", "region_loss_param"): (INTEL,),
    ("LayerParameter", "reorg_param"): (INTEL,),
    ("TransformationParameter", "resize_param"): (SSD, NVIDIA, INTEL),
    ("TransformationParameter", "distort_param"): (SSD, NVIDIA, INTEL),
    ("TransformationParameter", "expand_param"): (SSD, NVIDIA, INTEL),
}

POINT_AT_FORK = ("build that fork with WITH_PYTHON_LAYER=1 and put its python/ folder first on PYTHONPATH "
                 "(PYTHONPATH=/path/to/fork/python inspector ...); `inspector graph` reads the net without Caffe")

# text_format's words for a field its schema lacks: 'Message type "caffe.LayerParameter" has no field named "x".'
_NO_FIELD = re.compile(r'Message type "(?:caffe\.)?(\w+)" has no field named "(\w+)"')


def forks_with_type(layer_type: str) -> tuple[str, ...]:
    return FORK_LAYER_TYPES.get(layer_type, ())


def unknown_field(parse_message: str) -> tuple[str, str] | None:
    """(message, field) named by a protobuf text-format "has no field named" error, or None."""
    match = _NO_FIELD.search(parse_message)
    return (match.group(1), match.group(2)) if match else None


def forks_with_field(message: str, field: str) -> tuple[str, ...]:
    return FORK_FIELDS.get((message, field), ())


def from_which_fork(forks: tuple[str, ...]) -> str:
    """'; it comes from A (also B, C)' or '' when no well-known fork has it."""
    if not forks:
        return ""
    also = f" (also {', '.join(forks[1:])})" if len(forks) > 1 else ""
    return f"; it comes from {forks[0]}{also}"
