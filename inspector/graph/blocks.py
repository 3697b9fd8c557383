"""The blocks of a net (a ResNet's bottlenecks, a chain's layers), read from its wiring alone.

How: walk the layers in topological order, each in-place layer (BatchNorm, Scale, ReLU on a
conv's top) joined to the layer before it when it reads that layer's top. Between two such units,
count the blobs in flight (made before, read after), not counting net inputs and the tops of
layers without bottoms (data layers: a label or im_info rides along to the loss). Where that
count is at its lowest over the whole net (one blob between a ResNet's bottlenecks; nothing, after
the data layers), the net narrows, and the layers between two narrow points are a block.
Consecutive blocks with the same layer types in the same order form a run (a ResNet-101's
res4b1 .. res4b22: 22 alike), so a net of thousands of layers reads in a dozen lines. A block is
named by its last layer's first top. No layer names are interpreted: a net that never narrows is
one block.
"""
from __future__ import annotations

from collections import Counter

from .records import BlockRun, GraphLayer


def _units(layers: list[GraphLayer]) -> list[list[int]]:
    """Layer indices grouped: a layer, then the in-place layers that read its tops right after it."""
    units: list[list[int]] = []
    made_by_last: set[str] = set()  # blob nodes the current unit's last layer wrote
    for index, layer in enumerate(layers):
        bottoms = {slot.node for slot in layer.bottom_edges}
        if units and layer.in_place and bottoms and bottoms <= made_by_last:
            units[-1].append(index)
        else:
            units.append([index])
        made_by_last = {slot.node for slot in layer.top_edges}
    return units


def find_blocks(layers: list[GraphLayer]) -> tuple[list[BlockRun], int]:
    """The runs of alike blocks of `layers` (the report's, in topological order), and the number
    of blobs in flight where the net is narrowest (0 for a net of one unit)."""
    if not layers:
        return [], 0
    units = _units(layers)
    unit_of = {}
    for position, unit in enumerate(units):
        for index in unit:
            unit_of[index] = position
    made_in: dict[str, int] = {}  # blob node -> unit that writes it
    last_read_in: dict[str, int] = {}  # blob node -> last unit that reads it
    for index, layer in enumerate(layers):
        for slot in layer.top_edges:
            if layer.bottom_edges:  # a data layer's tops (labels, im_info) ride along, like net inputs
                made_in.setdefault(slot.node, unit_of[index])
        for slot in layer.bottom_edges:
            last_read_in[slot.node] = max(last_read_in.get(slot.node, -1), unit_of[index])
    # in_flight[u]: blobs made at or before unit u and read after it (a difference array over the gaps)
    change = [0] * (len(units) + 1)
    for node, last in last_read_in.items():
        first = made_in.get(node)
        if first is not None and first < last:  # in flight over gaps first .. last-1 (gap g: after unit g)
            change[max(first, 0)] += 1
            change[last] -= 1
    in_flight, running = [], 0
    for gap in range(len(units) - 1):
        running += change[gap]
        in_flight.append(running)
    narrowest = min((count for count in in_flight if count), default=0)  # 0: after the data layers only
    blocks: list[list[int]] = [[]]
    for position, unit in enumerate(units):
        blocks[-1].extend(unit)
        if position < len(in_flight) and in_flight[position] <= narrowest:
            blocks.append([])
    if not blocks[-1]:
        blocks.pop()
    return _runs(layers, blocks), narrowest


def _runs(layers: list[GraphLayer], blocks: list[list[int]]) -> list[BlockRun]:
    runs: list[BlockRun] = []
    previous_types: tuple[str, ...] | None = None
    for block in blocks:
        types = tuple(layers[i].type for i in block)
        last_tops = layers[block[-1]].tops
        name = last_tops[0] if last_tops else layers[block[-1]].name
        counts = [count for count in (layers[i].params for i in block) if count is not None]
        params = sum(counts) if len(counts) == len(block) else None  # None: some layer's count is unknown
        if types == previous_types:
            run = runs[-1]
            run.last, run.blocks = name, run.blocks + 1
            run.params = None if run.params is None or params is None else run.params + params
        else:
            runs.append(BlockRun(first=name, last=name, blocks=1, layers_each=len(block),
                                 types=dict(Counter(types)), params=params))
        previous_types = types
    return runs
