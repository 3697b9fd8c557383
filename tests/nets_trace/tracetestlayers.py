"""Python layers for the trace tests: correct ones, and ones that break the layer contract on purpose.

Each broken layer breaks exactly one rule, named in its docstring; the nets in this folder use
them next to the correct layers.
"""
import random

import numpy as np

import caffe


class Scale(caffe.Layer):
    """Correct: top = factor * bottom, factor from param_str "'factor': 2"."""

    def setup(self, bottom, top):
        self.factor = float(eval("{" + self.param_str + "}").get("factor", 1.0)) if self.param_str else 1.0

    def reshape(self, bottom, top):
        top[0].reshape(*bottom[0].data.shape)

    def forward(self, bottom, top):
        top[0].data[...] = self.factor * bottom[0].data

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            bottom[0].diff[...] = self.factor * top[0].diff


class PairLoss(caffe.Layer):
    """Correct loss: 0.5 * sum((a - b)^2) / N, its gradient scaled by top[0].diff."""

    def setup(self, bottom, top):
        pass

    def reshape(self, bottom, top):
        top[0].reshape(1)

    def forward(self, bottom, top):
        self.delta = bottom[0].data - bottom[1].data
        top[0].data[0] = 0.5 * np.sum(self.delta ** 2) / bottom[0].data.shape[0]

    def backward(self, top, propagate_down, bottom):
        grad = top[0].diff[0] * self.delta / bottom[0].data.shape[0]
        if propagate_down[0]:
            bottom[0].diff[...] = grad
        if propagate_down[1]:
            bottom[1].diff[...] = -grad


class SquareLoss(caffe.Layer):
    """Correct loss: 0.5 * sum(x^2) / N."""

    def setup(self, bottom, top):
        pass

    def reshape(self, bottom, top):
        top[0].reshape(1)

    def forward(self, bottom, top):
        top[0].data[0] = 0.5 * np.sum(bottom[0].data ** 2) / bottom[0].data.shape[0]

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            bottom[0].diff[...] = top[0].diff[0] * bottom[0].data / bottom[0].data.shape[0]


class LossIgnoringTopDiff(SquareLoss):
    """Broken: backward never multiplies by top[0].diff, so loss_weight has no effect."""

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            bottom[0].diff[...] = bottom[0].data / bottom[0].data.shape[0]


class ReshapeInForward(Scale):
    """Broken: forward reshapes its top (one column wider) instead of reshape()."""

    def forward(self, bottom, top):
        rows, cols = bottom[0].data.shape
        top[0].reshape(rows, cols + 1)
        top[0].data[...] = 0.0
        top[0].data[:, :cols] = bottom[0].data


class ModifiesBottom(Scale):
    """Broken: forward scales its bottom in place, which the other readers of that blob see."""

    def forward(self, bottom, top):
        bottom[0].data[...] *= 2.0
        top[0].data[...] = bottom[0].data


class LossyWrite(Scale):
    """Broken: forward writes float64 values too large for float32 (Caffe casts them to Inf silently)."""

    def forward(self, bottom, top):
        top[0].data[...] = bottom[0].data.astype(np.float64) * 1e40


class NanDiff(Scale):
    """Broken: backward divides by zero, writing NaN into the bottom diff."""

    def backward(self, top, propagate_down, bottom):
        with np.errstate(divide="ignore", invalid="ignore"):
            bottom[0].diff[...] = top[0].diff * 0.0 / 0.0


class ZeroDiff(Scale):
    """Broken: backward leaves the bottom diff at zero."""

    def backward(self, top, propagate_down, bottom):
        bottom[0].diff[...] = 0.0


class AccumulatesDiff(Scale):
    """Broken: backward adds to the bottom diff (+=); Caffe does not clear it between iterations."""

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            bottom[0].diff[...] += self.factor * top[0].diff


class ForkParamStr(caffe.Layer):
    """Broken: reads self.param_str_ (a fork's name), falling back to a default when it is missing."""

    def setup(self, bottom, top):
        self.factor = float(getattr(self, "param_str_", "") or 1.0)

    def reshape(self, bottom, top):
        top[0].reshape(*bottom[0].data.shape)

    def forward(self, bottom, top):
        top[0].data[...] = self.factor * bottom[0].data

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            bottom[0].diff[...] = self.factor * top[0].diff


class IgnoresParamStr(ForkParamStr):
    """Broken: is given a param_str and never reads it."""

    def setup(self, bottom, top):
        self.factor = 1.0


class RaisesInForward(Scale):
    """Broken: raises on the second forward pass."""

    def forward(self, bottom, top):
        self.passes = getattr(self, "passes", 0) + 1
        if self.passes == 2:
            raise ValueError("bad batch: negative widths")
        top[0].data[...] = bottom[0].data


class ReshapesItsBottom(SquareLoss):
    """Broken: reshape() flattens its bottom, the top of the layer below, behind that layer's back."""

    def reshape(self, bottom, top):
        bottom[0].reshape(bottom[0].count)
        top[0].reshape(1)


class SegfaultInBackward(Scale):
    """Broken: backward reads memory at address 0 (as a bad C extension would), killing the process."""

    def backward(self, top, propagate_down, bottom):
        import ctypes

        ctypes.string_at(0)


class RaisesInNumpy(Scale):
    """Broken: forward asks numpy for an impossible reshape, so the error is raised inside numpy's own code."""

    def forward(self, bottom, top):
        top[0].data[...] = np.reshape(bottom[0].data, (7, 7))


class ProposalStyle(caffe.Layer):
    """Correct, in the style of py-faster-rcnn's ProposalLayer (lib/rpn/proposal_layer.py): top[0] holds R
    boxes (batch index, x1, y1, x2, y2) with R known only in forward, which reshapes it; reshape() does nothing;
    backward propagates nothing. The setup, reshape, backward and the end of forward are the original's."""

    def setup(self, bottom, top):
        top[0].reshape(1, 5)

    def forward(self, bottom, top):
        scores = bottom[0].data.reshape(-1)
        keep = np.where(scores > 0)[0]  # as many boxes as positive scores: known only now
        proposals = np.stack([keep, keep, keep + 1, keep + 1], axis=1)
        batch_inds = np.zeros((proposals.shape[0], 1), dtype=np.float32)
        blob = np.hstack((batch_inds, proposals.astype(np.float32, copy=False)))
        top[0].reshape(*(blob.shape))
        top[0].data[...] = blob

    def backward(self, top, propagate_down, bottom):
        """This layer does not propagate gradients."""

    def reshape(self, bottom, top):
        """Reshaping happens during the call to forward."""


class Identity(caffe.Layer):
    """Correct: top = bottom, and its gradient passed straight down."""

    def setup(self, bottom, top):
        pass

    def reshape(self, bottom, top):
        top[0].reshape(*bottom[0].data.shape)

    def forward(self, bottom, top):
        top[0].data[...] = bottom[0].data

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            bottom[0].diff[...] = top[0].diff


class LabelledData(caffe.Layer):
    """Correct data layer: a fixed 4x6 batch and whole-number labels 0, 1, 0, 1."""

    def setup(self, bottom, top):
        self.data = np.random.RandomState(1).standard_normal((4, 6)).astype(np.float32)
        self.labels = np.array([0, 1, 0, 1], dtype=np.float32)

    def reshape(self, bottom, top):
        top[0].reshape(*self.data.shape)
        top[1].reshape(*self.labels.shape)

    def forward(self, bottom, top):
        top[0].data[...] = self.data
        top[1].data[...] = self.labels

    def backward(self, top, propagate_down, bottom):
        pass


class LabelLoss(caffe.Layer):
    """Correct loss: 0.5 * sum((x - label)^2) / N over each row; the labels get a zero gradient, as labels do."""

    def setup(self, bottom, top):
        pass

    def reshape(self, bottom, top):
        top[0].reshape(1)

    def forward(self, bottom, top):
        self.delta = bottom[0].data - bottom[1].data[:, None]
        top[0].data[0] = 0.5 * np.sum(self.delta ** 2) / bottom[0].data.shape[0]

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            bottom[0].diff[...] = top[0].diff[0] * self.delta / bottom[0].data.shape[0]
        if propagate_down[1]:
            bottom[1].diff[...] = 0


class Widen(Scale):
    """Broken: reshape() gives its top one column more than its bottom (so a layer adding the two aborts)."""

    def reshape(self, bottom, top):
        rows, cols = bottom[0].data.shape
        top[0].reshape(rows, cols + 1)

    def forward(self, bottom, top):
        top[0].data[...] = 0.0
        top[0].data[:, :-1] = bottom[0].data


class RandomRows(caffe.Layer):
    """Correct, randomised with Python's `random` (reseeded by the probe): its top is a random number of the
    bottom's first rows, chosen at each reshape, so the top's shape changes from pass to pass."""

    def setup(self, bottom, top):
        self.rows = 1

    def reshape(self, bottom, top):
        self.rows = random.randint(1, bottom[0].data.shape[0])
        top[0].reshape(self.rows, *bottom[0].data.shape[1:])

    def forward(self, bottom, top):
        top[0].data[...] = bottom[0].data[:self.rows]

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            bottom[0].diff[...] = 0
            bottom[0].diff[:self.rows] = top[0].diff


class CyclingRows(RandomRows):
    """Correct, but not repeatable: its top's row count cycles with every reshape, a state of its own that no
    reseeding resets (as a generator seeded from the OS would be)."""

    def setup(self, bottom, top):
        self.reshapes = 0
        self.rows = 1

    def reshape(self, bottom, top):
        self.reshapes += 1
        self.rows = 1 + self.reshapes % bottom[0].data.shape[0]
        top[0].reshape(self.rows, *bottom[0].data.shape[1:])


class Chatty(Scale):
    """Correct, and talkative: prints in setup and twice in every forward, as layers being debugged do."""

    def setup(self, bottom, top):
        super().setup(bottom, top)
        print(f"chatty: factor {self.factor}")

    def forward(self, bottom, top):
        super().forward(bottom, top)
        print("chatty: forward", top[0].data.shape)
        print(f"chatty: mean {float(top[0].data.mean()):.3f}")


# BVLC/caffe python/caffe/test/test_python_layer.py: SimpleLayer, as Caffe's own test has it
class SimpleLayer(caffe.Layer):
    """A layer that just multiplies by ten"""

    def setup(self, bottom, top):
        pass

    def reshape(self, bottom, top):
        top[0].reshape(*bottom[0].data.shape)

    def forward(self, bottom, top):
        top[0].data[...] = 10 * bottom[0].data

    def backward(self, top, propagate_down, bottom):
        bottom[0].diff[...] = 10 * top[0].diff


class MarginData(caffe.Layer):
    """A data layer whose batches alternate: every value past the margin (a hinge loss above is 0 and its gradient
    rightly zero), then every value short of it (a real gradient)."""

    def setup(self, bottom, top):
        self.batches = 0

    def reshape(self, bottom, top):
        top[0].reshape(4, 3)

    def forward(self, bottom, top):
        self.batches += 1
        rows = np.arange(12, dtype=np.float32).reshape(4, 3) / 12
        top[0].data[...] = rows + (2.0 if self.batches % 2 else -1.0)

    def backward(self, top, propagate_down, bottom):
        pass


class HingeLoss(caffe.Layer):
    """mean(max(0, 1 - x)): a correct loss whose gradient is all zero when every margin holds (as the triplet
    loss's is when every triplet is far enough apart)."""

    def reshape(self, bottom, top):
        top[0].reshape(1)

    def forward(self, bottom, top):
        top[0].data[0] = np.maximum(0, 1 - bottom[0].data).mean()

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            x = bottom[0].data
            bottom[0].diff[...] = -(x < 1).astype(np.float32) * top[0].diff[0] / x.size

    def setup(self, bottom, top):
        pass
