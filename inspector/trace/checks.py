"""Contract checks that need more than one recorded call: they probe the net after the traced passes.

- diff_accumulates: the same batch is run twice through every layer that has bottoms (the data
  layers keep their batch), with numpy, Python's random and Caffe reseeded; a Python layer whose
  bottom diffs grow between the two identical passes, by the same step again in a third pass, adds
  to bottom[i].diff (+=) instead of assigning it. Diffs whose shape changes between the passes, or
  that differ without repeating a step (randomness reseeding does not reach), are not compared:
  probe_skipped (info) says so.
- nonfinite_loss: a NaN or Inf loss after a pass, with the first layer whose top is not finite.
- loss_ignores_top_diff: a Python layer whose top carries a loss weight is run backward alone
  twice, the second time with its top diff doubled; unchanged bottom diffs mean it ignores
  top[0].diff, so loss_weight has no effect.
- backward_never_called: a Python layer with bottoms whose backward never ran in a training
  pass, with the reason read from the net's wiring (no loss above it, propagate_down false,
  force_backward missing).
- no_gradient_reaches (info): a Python layer whose backward got all-zero top diffs and so wrote zero
  bottom diffs, with why no gradient reached it; not the layer's fault, so not a zero_diff warning.
"""
from __future__ import annotations

import math
import random

import numpy as np

from .netinfo import backward_reason, python_layers_of, zero_gradient_reason
from .tracer import Tracer


def _bottom_diffs(net, index: int) -> list[np.ndarray]:
    names = list(net._blob_names)
    return [net.blobs[names[i]].diff.copy() for i in net._bottom_ids(index)]


def check_diff_accumulation(net, tracer: Tracer, seed: int) -> None:
    python_layers = [p.index for p in python_layers_of(net) if len(net._bottom_ids(p.index))]
    if not python_layers:
        return
    passes = [_probe_pass(net, tracer, seed, python_layers) for _ in range(2)]
    names = list(net._layer_names)
    for i in python_layers:
        for j, (first, second) in enumerate(zip(passes[0][i], passes[1][i])):
            if first.shape != second.shape:
                tracer.finding("probe_skipped", names[i], "backward", blob=f"bottom[{j}]", case="shape",
                               first=list(first.shape), second=list(second.shape))
                continue
            if np.allclose(first, second, rtol=1e-5, atol=1e-8, equal_nan=True):
                continue
            if len(passes) == 2:  # a third pass tells adding (+=, the same step again) from randomness
                passes.append(_probe_pass(net, tracer, seed, python_layers))
            third = passes[2][i][j]
            before, after = float(np.linalg.norm(first)), float(np.linalg.norm(second))
            repeats_its_step = third.shape == second.shape and np.allclose(
                second - first, third - second, rtol=1e-3, atol=1e-6 * max(after, 1e-12), equal_nan=True)
            if repeats_its_step and after > before * 1.01:
                tracer.finding("diff_accumulates", names[i], "backward", blob=f"bottom[{j}]", before=before,
                               after=after)
            elif not repeats_its_step:
                tracer.finding("probe_skipped", names[i], "backward", blob=f"bottom[{j}]", case="randomness")


def _probe_pass(net, tracer: Tracer, seed: int, python_layers: list[int]) -> dict[int, list[np.ndarray]]:
    """One forward and backward of the same batch (every layer with bottoms, the random generators reseeded):
    the Python layers' bottom diffs."""
    import caffe  # noqa: PLC0415 - the probe runs only where pycaffe is

    count = len(net.layers)
    computing = [i for i in range(count) if len(net._bottom_ids(i))]
    tracer.probing = True
    try:
        tracer.iteration += 1
        np.random.seed(seed)
        random.seed(seed)
        caffe.set_random_seed(seed)
        for i in computing:
            net._forward(i, i)
        net._backward(count - 1, 0)
        return {i: _bottom_diffs(net, i) for i in python_layers}
    finally:
        tracer.probing = False


def check_loss(net, tracer: Tracer, loss: float) -> None:
    """A NaN or Inf loss after a pass is a finding, on the first layer whose top holds a non-finite value."""
    if math.isfinite(loss):
        return
    names, blob_names = list(net._layer_names), list(net._blob_names)
    blobs = list(net._blobs)
    first = next(((names[i], blob_names[t]) for i in range(len(names)) for t in net._top_ids(i)
                  if blobs[t].count and not np.all(np.isfinite(blobs[t].data))), None)
    layer, top = first if first else (names[-1], "")
    tracer.finding("nonfinite_loss", layer, "forward", case="" if first else "no_top", loss=loss, top=top)


def check_loss_uses_top_diff(net, tracer: Tracer) -> None:
    names = list(net._layer_names)
    blob_names = list(net._blob_names)
    weights = list(net._blob_loss_weights)
    tracer.probing = True
    try:
        for i, _, _ in python_layers_of(net):
            tops = list(net._top_ids(i))
            if not any(weights[t] != 0 for t in tops) or not len(net._bottom_ids(i)):
                continue
            top_blobs = [net.blobs[blob_names[t]] for t in tops]
            bottom_blobs = [net.blobs[blob_names[b]] for b in net._bottom_ids(i)]
            saved = [blob.diff.copy() for blob in top_blobs]
            results = []
            for scale in (1.0, 2.0):
                for blob, diff in zip(top_blobs, saved):
                    blob.diff[...] = diff * scale
                for blob in bottom_blobs:
                    blob.diff[...] = 0
                tracer.iteration += 1
                net._backward(i, i)
                results.append([blob.diff.copy() for blob in bottom_blobs])
            for blob, diff in zip(top_blobs, saved):
                blob.diff[...] = diff
            single, doubled = results
            if not any(np.any(d != 0) for d in single):
                continue
            if all(np.allclose(a, b, rtol=1e-5, atol=1e-12) for a, b in zip(single, doubled)):
                tracer.finding("loss_ignores_top_diff", names[i], "backward")
    finally:
        tracer.probing = False


def check_backward_calls(net, tracer: Tracer, propagate_down: dict[str, list[bool]] | None,
                         force_backward: bool | None) -> None:
    names = list(net._layer_names)
    calls = {state.name: state.backward_calls for state in tracer.states.values()}
    for i, _, _ in python_layers_of(net):
        if not len(net._bottom_ids(i)) or calls.get(names[i], 0):
            continue
        reason = backward_reason(net, names[i], propagate_down, force_backward)
        # no loss above a layer of a training net is often a forgotten loss_weight (a warning); the other reasons
        # are Caffe doing as the net says (propagate_down: false, nothing below needs a gradient): info rows
        case = ("no_loss" if reason.startswith("no loss") else
                "propagate_down" if reason.startswith("propagate_down") else "not_needed")
        tracer.finding("backward_never_called", names[i], "backward", case=case, reason=reason)
    for state in tracer.states.values():
        for i, first in state.zero_diff_at.items():
            if i in state.nonzero_diff:
                continue  # zero at some iterations only: a hinge whose margins all held, not a missing gradient
            tracer.finding("zero_diff", state.name, "backward", blob=f"bottom[{i}]", iteration=first, index=i,
                           calls=state.zero_diff_calls[i])
        if state.zero_top_diff_at and state.index is not None:
            tracer.finding("no_gradient_reaches", state.name, "backward", iteration=state.zero_top_diff_at,
                           reason=zero_gradient_reason(net, state.index))
