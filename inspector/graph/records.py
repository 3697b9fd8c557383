"""The typed records of a graph report: its layers, blobs and edges, the blocks of a big net, and the lints.

Each is a dataclass whose fields are its JSON keys, in their order: `inspector.records.to_data` writes them
and `from_data` reads them back, so no record writes its own dict. Lint is what the graph lints report
(code, severity, layer, line); it is not the trace's Finding, which is about a call of a running net.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..records import OMIT_NONE

SEVERITIES = ("error", "warning", "info")  # a lint's severity, most serious first


@dataclass(slots=True)
class Lint:
    """One problem (or fact) a graph lint reports, with the layer and prototxt line it concerns."""

    code: str  # stable identifier, e.g. "undefined-bottom"
    severity: str  # error | warning | info
    layer: str | None
    message: str
    line: int | None = None
    blob: str | None = field(default=None, metadata=OMIT_NONE)  # the blob a wiring lint is about (an undefined bottom)


@dataclass(slots=True)
class BlobSlot:
    """One bottom or top of a layer: the blob version it reads or writes there, and its shape when known."""

    blob: str  # the blob's label: its name, with @K for the K-th in-place version
    node: str  # the blob's node id
    index: int  # the bottom's or top's position in the layer
    shape: list[int] | None


@dataclass(slots=True)
class GraphLayer:
    """A layer as the graph saw it (after phase and stage rules), in topological order in the report."""

    node: str  # "layer:NAME" ("#2" ... for a repeated name)
    name: str
    type: str
    line: int | None
    bottoms: list[str]
    tops: list[str]
    bottom_edges: list[BlobSlot]
    top_edges: list[BlobSlot]
    phases: list[str]  # the phases that keep the layer
    python: str | None  # "module.Class" of a Python layer
    param_str: str | None
    loss_weights: list[float]  # per top, as Caffe sets them; [] for a layer that adds nothing to the loss
    frozen: bool  # every param spec has lr_mult 0
    lr_mults: list[float]
    shared_params: list[str]  # param names another layer shares too
    in_place: bool
    style: str  # python | loss | frozen | data | layer (see style.py)
    params: int | None  # learnable values, None when they cannot be counted


@dataclass(slots=True)
class GraphBlob:
    """A blob version: a top written (or a net input, or an undefined bottom's placeholder)."""

    node: str  # "blob:NAME" or "blob:NAME@K"
    name: str
    version: int
    label: str  # NAME or NAME@K
    shape: list[int] | None
    producer: str | None  # the layer that writes this version
    input: bool  # a net input
    undefined: bool  # read but produced by no layer
    consumers: list[str]  # the layers reading this version


@dataclass(slots=True)
class GraphEdge:
    """An edge of the graph: a layer reading a blob version (bottom) or writing one (top)."""

    source: str  # node id
    target: str  # node id
    blob: str  # the blob's name as the prototxt writes it
    role: str  # bottom | top
    shape: list[int] | None


@dataclass(slots=True)
class BlockRun:
    """Consecutive blocks with the same layer types in the same order (see blocks.py)."""

    first: str  # the first block's name (its last layer's first top)
    last: str  # the last block's name (== first for a run of one)
    blocks: int
    layers_each: int
    types: dict[str, int]  # layer type -> count, in one block, in order of first appearance
    params: int | None  # learnable values in the whole run, None when any is unknown
