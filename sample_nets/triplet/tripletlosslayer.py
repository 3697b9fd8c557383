"""Triplet loss as a Caffe Python layer: python_param module "tripletlosslayer", layer "TripletLayer".

Bottoms "archor", "positive", "negative" (T x D each, row t of the three is one triplet), top
"loss" (a scalar). param_str is the classic dict body "'margin': 0.2".

Forward: each row is L2-normalised (x / sqrt(|x|^2 + eps)), so distances lie in [0, 4] and the
margin means the same thing whatever the embedding's scale; then

    loss = mean_t max(0, |a_t - p_t|^2 - |a_t - n_t|^2 + margin)

Backward: for a triplet inside the margin, d/da = 2(n - p), d/dp = 2(p - a), d/dn = 2(a - n)
on the normalised rows, divided by T, scaled by top[0].diff (so loss_weight works), then taken
through the normalisation's Jacobian (g / |x| - x (x.g) / |x|^3). Bottom diffs are assigned,
never accumulated, and only where propagate_down asks for them.
"""
from __future__ import annotations

import ast

import caffe
import numpy as np

NORM_EPS = 1e-12  # keeps a zero row finite; part of the function, so the gradient stays exact
DEFAULT_MARGIN = 0.2


def parse_param_str(layer, defaults: dict) -> dict:
    """param_str in its classic form, a dict body without braces, read without eval."""
    text = layer.param_str.strip()
    owner = type(layer).__name__
    try:
        given = ast.literal_eval("{" + text + "}") if text else {}
        if not isinstance(given, dict):  # "'margin'" reads as a set
            raise ValueError(text)
    except (ValueError, SyntaxError):
        raise ValueError(
            f"{owner}: param_str {layer.param_str!r} is not a dict body like \"'margin': 0.2\"") from None
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise ValueError(f"{owner}: param_str has unknown keys {unknown}; known keys are {sorted(defaults)}")
    params = {**defaults, **given}
    margin = params.get("margin")
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not margin > 0:
        raise ValueError(f"{owner}: 'margin' must be a positive number, got {margin!r}")
    return params


def l2_normalise(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows scaled to unit length, and the lengths they were divided by (T x 1)."""
    lengths = np.sqrt(np.sum(rows * rows, axis=1, keepdims=True) + NORM_EPS)
    return rows / lengths, lengths


def l2_normalise_backward(rows: np.ndarray, lengths: np.ndarray, grad_unit: np.ndarray) -> np.ndarray:
    """The gradient on rows, given the gradient on rows / lengths."""
    dots = np.sum(rows * grad_unit, axis=1, keepdims=True)
    return grad_unit / lengths - rows * dots / lengths ** 3


class TripletLayer(caffe.Layer):
    """Margin triplet loss on L2-normalised embeddings."""

    def setup(self, bottom, top):
        owner = type(self).__name__
        if len(bottom) != 3:
            raise ValueError(f"{owner}: needs 3 bottoms (archor, positive, negative), got {len(bottom)}")
        if len(top) != 1:
            raise ValueError(f"{owner}: needs 1 top (loss), got {len(top)}")
        self.margin = float(parse_param_str(self, {"margin": DEFAULT_MARGIN})["margin"])

    def reshape(self, bottom, top):
        shapes = [tuple(bottom[i].shape) for i in range(3)]  # blob vectors index but do not iterate
        if len(set(shapes)) != 1 or len(shapes[0]) != 2:
            raise ValueError(
                f"{type(self).__name__}: archor, positive and negative must be T x D blobs of one shape, "
                f"got {shapes}")
        top[0].reshape(1)

    def forward(self, bottom, top):
        self.rows = [bottom[i].data.astype(np.float64) for i in range(3)]
        self.units, self.lengths = zip(*(l2_normalise(rows) for rows in self.rows))
        anchor, positive, negative = self.units
        d_ap = np.sum((anchor - positive) ** 2, axis=1)
        d_an = np.sum((anchor - negative) ** 2, axis=1)
        violations = d_ap - d_an + self.margin
        self.active = violations > 0
        top[0].data[0] = np.mean(np.maximum(violations, 0.0)) if len(violations) else 0.0

    def backward(self, top, propagate_down, bottom):
        anchor, positive, negative = self.units
        count = max(len(anchor), 1)
        scale = top[0].diff[0] * self.active[:, None] / count
        grads_unit = (
            2.0 * (negative - positive) * scale,
            2.0 * (positive - anchor) * scale,
            2.0 * (anchor - negative) * scale,
        )
        for i in range(3):
            if propagate_down[i]:
                bottom[i].diff[...] = l2_normalise_backward(self.rows[i], self.lengths[i], grads_unit[i])
