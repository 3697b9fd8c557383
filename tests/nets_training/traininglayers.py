"""Python layers for the training-view tests: a seeded regression data layer and a pass-through layer that
writes a NaN (or Inf) at a chosen iteration, in forward or in backward."""
import ast

import numpy as np

import caffe


class RegressionData(caffe.Layer):
    """Tops x (batch x features) and y (batch x 1), y = x . w + noise; param_str: batch, features, seed,
    and `fixed` (the same batch every time)."""

    def setup(self, bottom, top):
        params = ast.literal_eval(self.param_str)
        self.batch, self.features = params.get("batch", 16), params.get("features", 8)
        self.fixed = params.get("fixed", False)
        self.rng = np.random.RandomState(params.get("seed", 0))
        self.weights = self.rng.randn(self.features, 1)
        self.first = None  # the batch: (x, y)

    def reshape(self, bottom, top):
        top[0].reshape(self.batch, self.features)
        top[1].reshape(self.batch, 1)

    def forward(self, bottom, top):
        if not (self.fixed and self.first is not None):
            x = self.rng.randn(self.batch, self.features)
            self.first = x, x @ self.weights + 0.01 * self.rng.randn(self.batch, 1)
        top[0].data[...], top[1].data[...] = self.first

    def backward(self, top, propagate_down, bottom):
        pass


class BreaksLate(caffe.Layer):
    """top = bottom; at its `at`-th call of `method` (counting from 0, as the solver counts iterations) it
    writes `value` (nan or inf) into the first element it writes."""

    def setup(self, bottom, top):
        params = ast.literal_eval(self.param_str)
        self.at, self.method = params["at"], params.get("method", "forward")
        self.value = float(params.get("value", "nan"))
        self.calls = {"forward": 0, "backward": 0}

    def reshape(self, bottom, top):
        top[0].reshape(*bottom[0].data.shape)

    def forward(self, bottom, top):
        top[0].data[...] = bottom[0].data
        if self.method == "forward" and self.calls["forward"] == self.at:
            top[0].data[0, 0] = self.value
        self.calls["forward"] += 1

    def backward(self, top, propagate_down, bottom):
        bottom[0].diff[...] = top[0].diff
        if self.method == "backward" and self.calls["backward"] == self.at:
            bottom[0].diff[0, 0] = self.value
        self.calls["backward"] += 1


class Scale(caffe.Layer):
    """top = bottom * w, w its one param blob (set to 1); param_str `drift`: added to w in every forward,
    which a frozen blob (lr_mult 0) must never see."""

    def setup(self, bottom, top):
        self.drift = ast.literal_eval(self.param_str or "{}").get("drift", 0.0)
        self.blobs.add_blob(1)
        self.blobs[0].data[...] = 1.0

    def reshape(self, bottom, top):
        top[0].reshape(*bottom[0].data.shape)

    def forward(self, bottom, top):
        top[0].data[...] = bottom[0].data * self.blobs[0].data[0]
        self.blobs[0].data[...] += self.drift

    def backward(self, top, propagate_down, bottom):
        bottom[0].diff[...] = top[0].diff * self.blobs[0].data[0]
        self.blobs[0].diff[...] = (top[0].diff * bottom[0].data).sum()
