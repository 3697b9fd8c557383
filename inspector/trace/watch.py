"""Watching what a Python layer writes into Caffe's float32 blobs, and when carried statistics expire.

How: the blobs a method writes (forward: its tops, backward: its bottoms) are handed to it as WatchedBlob
stand-ins whose .data and .diff are WatchedArray views; an assignment of values that are not float32
goes through cast_to_float32 once (the cast numpy would make anyway), and a cast that overflows to Inf,
underflows to zero or drops an integer's digits is reported to the blob's `report` (the tracer's
lossy_write finding). Reads stay plain numpy. sweep wraps one C++ sweep of the net (net._forward or
net._backward) so statistics carried from layer to layer are forgotten before and after it.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

FLOAT32_EXACT_INTEGER = 2 ** 24  # larger integers do not survive Caffe's cast to float32


def cast_to_float32(value) -> tuple[str | None, np.ndarray]:
    """`value` cast to float32 as Caffe's float32 blob stores it, and how the cast changed it (or None).

    Floats are cast first with numpy's overflow and underflow errors raised: a cast that raises neither
    changed no value's range, which proves it without a pass over the values. Otherwise (a value past
    float32's range, or small enough to lose digits or become zero) the cast is made again as the
    assignment would make it, under the caller's own np.seterr, and the values are looked at."""
    array = np.asarray(value)
    if array.dtype.kind == "f":
        try:
            with np.errstate(over="raise", under="raise"):
                return None, array.astype(np.float32)
        except FloatingPointError:
            pass
    cast = array.astype(np.float32)  # warns (or raises, under np.seterr) just as the assignment's own cast would
    if array.dtype.kind == "f" and array.size:
        # cheap proofs first: a finite sum means no Inf in the cast, no zero in it means nothing underflowed
        if not -math.inf < float(np.add.reduce(cast, None)) < math.inf:
            overflow = np.isinf(cast) & np.isfinite(array)
            if overflow.any():
                return (f"{array.dtype} values up to {np.abs(array[np.isfinite(array)]).max():.3g} overflow "
                        "float32 to Inf"), cast
        nonzero = np.count_nonzero(cast)
        if nonzero != cast.size and nonzero != np.count_nonzero(array):
            flushed = (cast == 0) & (array != 0)
            smallest = np.abs(array[flushed]).min()
            return f"{array.dtype} values as small as {smallest:.3g} underflow float32 to zero", cast
    elif array.size and int(np.abs(array).max()) > FLOAT32_EXACT_INTEGER:
        return (f"{array.dtype} values up to {int(np.abs(array).max())} lose digits in float32 "
                "(exact only to 2^24)"), cast
    return None, cast


FLOAT32 = np.dtype(np.float32)


class WatchedArray(np.ndarray):
    """A view of a blob's data or diff that reports writes whose values the float32 cast changes. `watch` is
    (WatchedBlob, part) on the view a WatchedBlob hands out; arrays numpy derives from it have none."""

    __slots__ = ("watch",)

    def __setitem__(self, key, value):
        watch = getattr(self, "watch", None)
        dtype = getattr(value, "dtype", None)
        if watch is not None and dtype is not None and dtype != FLOAT32 and dtype.kind in "fiu":
            problem, value = cast_to_float32(value)  # the cast numpy would make anyway, done once
            if problem:
                blob, part = watch
                blob.report(blob.where, part, problem)
        super().__setitem__(key, value)


class WatchedBlob:
    """Stands in for a Blob forward writes (a top) or backward writes (a bottom); .data and .diff come back
    as WatchedArray views. `report(where, part, problem)` hears of lossy writes."""

    __slots__ = ("_blob", "_data", "_diff", "report", "where")

    def __init__(self, blob, where: str, report: Callable[[str, str, str], None]):
        self._blob = blob
        self.where = where
        self.report = report
        self._data, self._diff = (self, "data"), (self, "diff")  # the views' `watch`, made once

    @property
    def data(self):
        view = self._blob.data.view(WatchedArray)
        view.watch = self._data
        return view

    @property
    def diff(self):
        view = self._blob.diff.view(WatchedArray)
        view.watch = self._diff
        return view

    def __getattr__(self, name):
        return getattr(self._blob, name)


def sweep(run, fresh: dict):
    """net._forward or net._backward (one C++ sweep over layers), forgetting carried statistics before and after."""
    def sweep(*args):
        fresh.clear()
        try:
            return run(*args)
        finally:
            fresh.clear()
    return sweep
