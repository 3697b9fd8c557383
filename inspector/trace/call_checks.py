"""The contract conditions judged on one recorded call of a Python layer, from what the Tracer measured.

How: Tracer.call records a forward or backward (shapes, statistics, bytes of the bottoms it reads), then
hands the record to these functions, which judge it and report through tracer.finding (rows of
contract.ROWS). Forward: a top whose shape differs from what reshape left (legal, an info when it is a
net output; an error when the tops came in changed), NaN/Inf in a top, a bottom it wrote to. Backward:
tops not of the shape reshape left (judged before the call, which often raises on them), NaN/Inf in a
bottom diff, and the all-zero diffs that zero_diff and no_gradient_reaches (checks.check_backward_calls)
weigh once the run is over.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..shapes import shape_text, shapes_text
from .stats import all_zero, whole_numbers

if TYPE_CHECKING:
    from .tracer import LayerState, Tracer


def forward_shapes(tracer: Tracer, state: LayerState, before: list, after: list) -> None:
    """The tops' shapes as forward got them (`before`) and left them (`after`), against what reshape left."""
    if after != before:
        # Legal: Layer::Forward runs each layer's Reshape before its Forward, so the layers above follow the
        # new shape (py-faster-rcnn's ProposalLayer relies on it). It matters only to code that reads a net
        # output between net.reshape() and forward: an info there, nothing elsewhere.
        for i, (was, now) in enumerate(zip(before, after)):
            if was != now and i < len(state.top_ids) and state.top_ids[i] in tracer.net_outputs:
                tracer.finding("reshape_in_forward", state.name, "forward", blob=f"top[{i}]",
                               before=shape_text(was), after=shape_text(now))
        state.shapes_after_reshape = after  # what the layers above and backward see
    elif state.shapes_after_reshape is not None and before != state.shapes_after_reshape:
        tracer.finding("shape_changed_after_reshape", state.name, "forward", case="forward",
                       found=shapes_text(before), left=shapes_text(state.shapes_after_reshape))


def forward_values(tracer: Tracer, state: LayerState, top_summaries: list[dict], bottoms: list,
                   bottom_copies: list[bytes | None]) -> None:
    """NaN or Inf in the tops forward wrote; a bottom whose bytes differ from the copy taken before the call."""
    for i, top in enumerate(top_summaries):
        data = top.get("data")
        if data and (data["nan"] or data["inf"]):
            tracer.finding("nonfinite_output", state.name, "forward", blob=f"top[{i}]", nan=data["nan"],
                           inf=data["inf"])
    for i, copy in enumerate(bottom_copies):
        if copy is not None and (not bottoms[i].count or bottoms[i].data.tobytes() != copy):
            if i < len(state.bottom_ids):
                tracer.fresh.pop((state.bottom_ids[i], "data"), None)  # its writer's statistics no longer hold
            tracer.finding("bottom_modified", state.name, "forward", blob=f"bottom[{i}]")


def backward_tops(tracer: Tracer, state: LayerState, top_shapes: list) -> None:
    """The tops backward is given, against what reshape left (before the call: wrong shapes often raise)."""
    if state.shapes_after_reshape is not None and top_shapes != state.shapes_after_reshape:
        tracer.finding("shape_changed_after_reshape", state.name, "backward", case="backward",
                       found=shapes_text(top_shapes), left=shapes_text(state.shapes_after_reshape))


def backward_diffs(tracer: Tracer, state: LayerState, bottom_summaries: list[dict], top_summaries: list[dict],
                   bottoms: list, propagate_down: list[bool]) -> None:
    """NaN or Inf in the bottom diffs backward wrote; all-zero diffs noted for the end of the run."""
    for i, bottom in enumerate(bottom_summaries):
        diff = bottom.get("diff")
        if not diff or not propagate_down[i]:
            continue
        if diff["nan"] or diff["inf"]:
            tracer.finding("nonfinite_diff", state.name, "backward", blob=f"bottom[{i}]", nan=diff["nan"],
                           inf=diff["inf"])
        elif tracer.probing:
            continue
        elif diff["min"] == 0 and diff["max"] == 0:
            if all(all_zero(top.get("diff")) for top in top_summaries):
                state.zero_top_diff_at = state.zero_top_diff_at or tracer.iteration  # not its fault: said after
            elif not whole_numbers(bottoms[i]):  # a label's gradient is zero by rights
                state.zero_diff_at.setdefault(i, tracer.iteration)
                state.zero_diff_calls[i] = state.zero_diff_calls.get(i, 0) + 1
        else:
            state.nonzero_diff.add(i)
