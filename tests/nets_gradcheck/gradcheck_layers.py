"""Small Python layers for testing `inspector gradcheck`: correct ones, and one with a wrong gradient.

- SquareLayer: y = x^2, backward 2x (correct).
- WrongSquareLayer: y = x^2, backward x (deliberately wrong: the factor 2 is missing).
- ScaleLayer: y = x * w per column, w a learnable blob (self.blobs[0]); param_str "'wrong_param': True"
  makes its weight gradient twice the true one.
- ConstantDataLayer: tops "data" and "labels" from param_str (fixed values, so tests can put a value
  next to a kink); labels are whole numbers.
- CentreLossLayer: loss = sum((x - label)^2) / (2 N); writes a zero diff for labels, as layers do.
- AbsLayer: y = |x| (a kink at 0).
- EuclideanLossLayer: Caffe's pyloss example; gradients for both bottoms, when asked.
"""
import ast

import caffe
import numpy as np


def _params(layer) -> dict:
    return ast.literal_eval("{" + layer.param_str + "}") if layer.param_str.strip() else {}


class SquareLayer(caffe.Layer):
    def setup(self, bottom, top):
        pass

    def reshape(self, bottom, top):
        top[0].reshape(*bottom[0].data.shape)

    def forward(self, bottom, top):
        top[0].data[...] = bottom[0].data ** 2

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            bottom[0].diff[...] = 2 * bottom[0].data * top[0].diff


class WrongSquareLayer(SquareLayer):
    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            bottom[0].diff[...] = bottom[0].data * top[0].diff


class ScaleLayer(caffe.Layer):
    def setup(self, bottom, top):
        self.wrong_param = bool(_params(self).get("wrong_param", False))
        if len(self.blobs) == 0:
            self.blobs.add_blob(bottom[0].data.shape[1])
            self.blobs[0].data[...] = np.linspace(0.5, 1.5, bottom[0].data.shape[1])

    def reshape(self, bottom, top):
        top[0].reshape(*bottom[0].data.shape)

    def forward(self, bottom, top):
        top[0].data[...] = bottom[0].data * self.blobs[0].data[None, :]

    def backward(self, top, propagate_down, bottom):
        weight_grad = np.sum(bottom[0].data * top[0].diff, axis=0)
        self.blobs[0].diff[...] += 2 * weight_grad if self.wrong_param else weight_grad
        if propagate_down[0]:
            bottom[0].diff[...] = top[0].diff * self.blobs[0].data[None, :]


class ConstantDataLayer(caffe.Layer):
    def setup(self, bottom, top):
        params = _params(self)
        self.values = np.array(params["values"], dtype=np.float32)
        self.labels = np.array(params["labels"], dtype=np.float32)

    def reshape(self, bottom, top):
        top[0].reshape(*self.values.shape)
        top[1].reshape(*self.labels.shape)

    def forward(self, bottom, top):
        top[0].data[...] = self.values
        top[1].data[...] = self.labels

    def backward(self, top, propagate_down, bottom):
        pass


class CentreLossLayer(caffe.Layer):
    def setup(self, bottom, top):
        pass

    def reshape(self, bottom, top):
        top[0].reshape(1)

    def forward(self, bottom, top):
        self.diff = bottom[0].data - bottom[1].data[:, None]
        top[0].data[0] = np.sum(self.diff ** 2) / (2 * bottom[0].data.shape[0])

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            bottom[0].diff[...] = top[0].diff[0] * self.diff / bottom[0].data.shape[0]
        if propagate_down[1]:
            bottom[1].diff[...] = 0


class AbsLayer(SquareLayer):
    def forward(self, bottom, top):
        top[0].data[...] = np.abs(bottom[0].data)

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            bottom[0].diff[...] = np.sign(bottom[0].data) * top[0].diff


class EuclideanLossLayer(caffe.Layer):
    def setup(self, bottom, top):
        pass

    def reshape(self, bottom, top):
        self.diff = np.zeros_like(bottom[0].data, dtype=np.float32)
        top[0].reshape(1)

    def forward(self, bottom, top):
        self.diff[...] = bottom[0].data - bottom[1].data
        top[0].data[...] = np.sum(self.diff ** 2) / bottom[0].num / 2.

    def backward(self, top, propagate_down, bottom):
        for i in range(2):
            if not propagate_down[i]:
                continue
            sign = 1 if i == 0 else -1
            bottom[i].diff[...] = sign * top[0].diff[0] * self.diff / bottom[i].num


# ---- layers that end the check early (crashes.prototxt, raises_in_setup.prototxt) ----
class FirstInputOnlyLayer(SquareLayer):
    """Broken: keeps its first input and raises when a later forward sees a different one."""

    def forward(self, bottom, top):
        if not hasattr(self, "first_input"):
            self.first_input = bottom[0].data.copy()
        if not np.array_equal(bottom[0].data, self.first_input):
            raise ValueError("the input changed since the first forward")
        super().forward(bottom, top)


class SegfaultInBackwardLayer(SquareLayer):
    """Broken: backward reads memory at address 0 (as a bad C extension would), killing the process."""

    def backward(self, top, propagate_down, bottom):
        import ctypes

        ctypes.string_at(0)


class RaisesInSetupLayer(SquareLayer):
    def setup(self, bottom, top):
        raise ValueError("setup rejects param_str " + repr(self.param_str))


# ---- backwards a gradcheck must fail (broken_backward.prototxt) ----
class NoOpBackwardLayer(SquareLayer):
    """Broken: forward computes x^2, backward writes nothing (`def backward(...): pass`)."""

    def backward(self, top, propagate_down, bottom):
        pass


class SquareLossLayer(caffe.Layer):
    """Correct loss: 0.5 * sum(x^2) / N, its gradient scaled by top[0].diff (where Caffe puts loss_weight)."""

    def setup(self, bottom, top):
        pass

    def reshape(self, bottom, top):
        top[0].reshape(1)

    def forward(self, bottom, top):
        top[0].data[0] = 0.5 * np.sum(bottom[0].data ** 2) / bottom[0].data.shape[0]

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            bottom[0].diff[...] = top[0].diff[0] * bottom[0].data / bottom[0].data.shape[0]


class LossIgnoringTopDiffLayer(SquareLossLayer):
    """Broken: backward never multiplies by top[0].diff, so loss_weight has no effect."""

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            bottom[0].diff[...] = bottom[0].data / bottom[0].data.shape[0]


class LabelUntouchedLossLayer(CentreLossLayer):
    """Correct: like CentreLossLayer, but it leaves the labels' diff alone instead of zeroing it (as many losses do)."""

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            bottom[0].diff[...] = top[0].diff[0] * self.diff / bottom[0].data.shape[0]


# lemonaha/tripletloss tripletloss/tripletlosslayer.py: TripletLayer, ported to Python 3 (yaml.load of param_str
# replaced by literal_eval, numpy's max that `from numpy import *` put in place of the builtin replaced); its
# backward ignores top[0].diff (self.a = 1)
class LemonahaTripletLayer(caffe.Layer):
    def setup(self, bottom, top):
        layer_params = _params(self)
        self.margin = layer_params['margin']
        self.a = 1
        top[0].reshape(1)

    def forward(self, bottom, top):
        loss = float(0)
        self.no_residual_list = []
        for i in range((bottom[0]).num):
            a_p = bottom[0].data[i] - bottom[1].data[i]
            a_n = bottom[0].data[i] - bottom[2].data[i]
            dist = (self.margin + np.dot(a_p, a_p) - np.dot(a_n, a_n))
            _loss = dist if dist > 0 else 0.0
            if _loss == 0:
                self.no_residual_list.append(i)
            loss += _loss
        top[0].data[...] = (loss / (2 * (bottom[0]).num))

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            for i in range((bottom[0]).num):
                if i not in self.no_residual_list:
                    x_a, x_p, x_n = bottom[0].data[i], bottom[1].data[i], bottom[2].data[i]
                    bottom[0].diff[i] = self.a * ((x_n - x_p) / ((bottom[0]).num))
                    bottom[1].diff[i] = self.a * ((x_p - x_a) / ((bottom[0]).num))
                    bottom[2].diff[i] = self.a * ((x_a - x_n) / ((bottom[0]).num))
                else:
                    bottom[0].diff[i] = np.zeros(np.shape(bottom[0].data)[1])
                    bottom[1].diff[i] = np.zeros(np.shape(bottom[0].data)[1])
                    bottom[2].diff[i] = np.zeros(np.shape(bottom[0].data)[1])

    def reshape(self, bottom, top):
        pass


class LabelRefusingLossLayer(CentreLossLayer):
    """Correct for its data, but raises when asked for a gradient of its labels (they take none)."""

    def backward(self, top, propagate_down, bottom):
        if propagate_down[1]:
            raise NotImplementedError("the labels take no gradient")
        super().backward(top, propagate_down, bottom)
