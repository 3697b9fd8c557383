"""Python layers for the trace tests: correct ones, and ones that break the layer contract on purpose.

Each broken layer breaks exactly one rule, named in its docstring; the nets in this folder use
them next to the correct layers.
"""
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
