"""A Caffe Python data layer serving scikit-learn's bundled 8x8 digits in P x K batches.

The data ships inside scikit-learn (sklearn.datasets.load_digits), so nothing is downloaded.
`digits_split` cuts the 1797 images into a fixed, stratified train/test split (its own seed,
so the training scripts evaluate on exactly the digits the layer never served), scales the
pixels from 0..16 to 0..1, and labels each image by its position in the `digits` list
(digits [5, 6, 7, 8, 9] get labels 0..4, as a SoftmaxWithLoss over five outputs needs).

`DigitsDataLayer` (python_param module "digitsdata", layer "DigitsDataLayer": each sample
folder's digitsdata.py re-exports it) has no bottoms and two tops, "data" (N x 1 x 8 x 8) and
"labels" (N). Each forward draws `classes_per_batch` classes and `samples_per_class` images
of each, so every batch holds several samples per class, which triplet selection needs.
param_str is a dict body:

    'classes_per_batch': 8, 'samples_per_class': 4, 'split': 'train', 'seed': 1,
    'digits': [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]

Every key is optional; the values above are the defaults.
"""
from __future__ import annotations

import ast

import caffe
import numpy as np

ALL_DIGITS = tuple(range(10))
SPLIT_SEED = 0  # fixed apart from the batch seed, so every run holds out the same digits
TEST_FRACTION = 1 / 3
DEFAULTS = {
    "classes_per_batch": 8,
    "samples_per_class": 4,
    "split": "train",
    "seed": 1,
    "digits": list(ALL_DIGITS),
}


def digits_split(split: str, digits=ALL_DIGITS) -> tuple[np.ndarray, np.ndarray]:
    """Images (N x 1 x 8 x 8, float32 in 0..1) and labels (N, index into `digits`) of one split."""
    from sklearn.datasets import load_digits  # noqa: PLC0415 - only the data needs scikit-learn

    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    bunch = load_digits()
    rng = np.random.RandomState(SPLIT_SEED)
    images, labels = [], []
    for label, digit in enumerate(digits):
        members = rng.permutation(np.flatnonzero(bunch.target == digit))
        n_test = int(round(len(members) * TEST_FRACTION))
        chosen = members[:n_test] if split == "test" else members[n_test:]
        images.append(bunch.images[chosen])
        labels.append(np.full(len(chosen), label))
    images = np.concatenate(images).astype(np.float32)[:, None, :, :] / 16.0
    return images, np.concatenate(labels).astype(np.float32)


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
            f"{owner}: param_str {layer.param_str!r} is not a dict body like "
            f"\"'samples_per_class': 4\"") from None
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise ValueError(f"{owner}: param_str has unknown keys {unknown}; known keys are {sorted(defaults)}")
    return {**defaults, **given}


class DigitsDataLayer(caffe.Layer):
    """Labelled batches of P classes x K samples from the scikit-learn digits."""

    def setup(self, bottom, top):
        owner = type(self).__name__
        if len(bottom) != 0:
            raise ValueError(f"{owner}: takes no bottoms, got {len(bottom)}")
        if len(top) != 2:
            raise ValueError(f"{owner}: needs 2 tops (data, labels), got {len(top)}")
        params = parse_param_str(self, DEFAULTS)
        digits = list(params["digits"])
        if not digits or len(set(digits)) != len(digits) or not set(digits) <= set(ALL_DIGITS):
            raise ValueError(f"{owner}: 'digits' must be distinct digits 0..9, got {digits}")
        if not 1 <= params["classes_per_batch"] <= len(digits):
            raise ValueError(
                f"{owner}: 'classes_per_batch' must be 1..{len(digits)} (the number of digits), "
                f"got {params['classes_per_batch']}")
        if params["samples_per_class"] < 1:
            raise ValueError(f"{owner}: 'samples_per_class' must be at least 1, got {params['samples_per_class']}")
        try:
            self.images, self.labels = digits_split(params["split"], digits)
        except ValueError as exc:
            raise ValueError(f"{owner}: {exc}") from None
        self.classes_per_batch = params["classes_per_batch"]
        self.samples_per_class = params["samples_per_class"]
        self.members = [np.flatnonzero(self.labels == label) for label in range(len(digits))]
        smallest = min(len(m) for m in self.members)
        if self.samples_per_class > smallest:
            raise ValueError(
                f"{owner}: 'samples_per_class' {self.samples_per_class} is more than the {params['split']} "
                f"split holds of some digit ({smallest})")
        self.rng = np.random.RandomState(params["seed"])
        self.batch_size = self.classes_per_batch * self.samples_per_class

    def reshape(self, bottom, top):
        top[0].reshape(self.batch_size, 1, 8, 8)
        top[1].reshape(self.batch_size)

    def forward(self, bottom, top):
        classes = self.rng.choice(len(self.members), self.classes_per_batch, replace=False)
        rows = np.concatenate([
            self.rng.choice(self.members[c], self.samples_per_class, replace=False) for c in classes])
        top[0].data[...] = self.images[rows]
        top[1].data[...] = self.labels[rows]

    def backward(self, top, propagate_down, bottom):
        pass  # data has no inputs to pass gradients to
