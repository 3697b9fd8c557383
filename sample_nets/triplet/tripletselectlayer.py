"""Triplet selection as a Caffe Python layer: python_param module "tripletselectlayer", layer "TripletSelectLayer".

Bottoms "fc9_1" (N x D embeddings) and "labels" (N); tops "archor", "positive", "negative"
(N x D each: one triplet per anchor, so the shapes are fixed whatever the batch holds).
param_str is optional: "'margin': 0.2", the margin the loss layer uses.

Forward, on L2-normalised rows (the space the loss measures in), for each anchor i:
- positive: the farthest other row with i's label (the hardest positive);
- negative: among rows of another label, the closest one that is farther than the positive
  but inside the margin (semi-hard); when there is none, the closest one (the hardest).
An anchor alone in its class, or in a batch of one class, gets itself as positive or negative;
such a triplet has zero gradient. The chosen rows are copied (unnormalised) to the tops and
their indices kept in `self.triplets` (anchor, positive, negative index arrays).

Backward scatters the top diffs back onto the fc9_1 rows they came from, summing where a row
was chosen several times in this pass, into a diff assigned fresh each pass. Labels get no
gradient.
"""
from __future__ import annotations

import caffe
import numpy as np
from tripletlosslayer import DEFAULT_MARGIN, l2_normalise, parse_param_str


def select_triplets(embeddings: np.ndarray, labels: np.ndarray, margin: float):
    """Index arrays (anchor, positive, negative), one triplet per row of `embeddings`."""
    units, _ = l2_normalise(embeddings.astype(np.float64))
    distances = np.sum((units[:, None, :] - units[None, :, :]) ** 2, axis=2)
    same = labels[:, None] == labels[None, :]
    rows = np.arange(len(labels))
    positives, negatives = rows.copy(), rows.copy()
    for i in rows:
        candidates = np.flatnonzero(same[i] & (rows != i))
        if len(candidates):
            positives[i] = candidates[np.argmax(distances[i, candidates])]
        others = np.flatnonzero(~same[i])
        if not len(others):
            continue
        d_ap = distances[i, positives[i]]
        d_an = distances[i, others]
        semi_hard = others[(d_an > d_ap) & (d_an < d_ap + margin)]
        pool = semi_hard if len(semi_hard) else others
        negatives[i] = pool[np.argmin(distances[i, pool])]
    return rows, positives, negatives


class TripletSelectLayer(caffe.Layer):
    """Picks (anchor, positive, negative) rows from a labelled batch of embeddings."""

    def setup(self, bottom, top):
        owner = type(self).__name__
        if len(bottom) != 2:
            raise ValueError(f"{owner}: needs 2 bottoms (embeddings, labels), got {len(bottom)}")
        if len(top) != 3:
            raise ValueError(f"{owner}: needs 3 tops (archor, positive, negative), got {len(top)}")
        self.margin = float(parse_param_str(self, {"margin": DEFAULT_MARGIN})["margin"])

    def reshape(self, bottom, top):
        count = bottom[0].shape[0]
        if bottom[1].count != count:
            raise ValueError(
                f"{type(self).__name__}: labels must hold one label per embedding row, got {bottom[1].count} "
                f"labels for {count} rows")
        width = bottom[0].count // max(count, 1)
        for i in range(3):  # pycaffe's blob vectors index but do not iterate
            top[i].reshape(count, width)

    def forward(self, bottom, top):
        embeddings = bottom[0].data.reshape(bottom[0].data.shape[0], -1)
        labels = bottom[1].data.reshape(-1)
        self.triplets = select_triplets(embeddings, labels, self.margin)
        for i, rows in enumerate(self.triplets):
            top[i].data[...] = embeddings[rows]

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            diff = np.zeros((bottom[0].data.shape[0], top[0].data.shape[1]))
            for i, rows in enumerate(self.triplets):
                np.add.at(diff, rows, top[i].diff)
            bottom[0].diff[...] = diff.reshape(bottom[0].diff.shape)
        if propagate_down[1]:
            bottom[1].diff[...] = 0.0
