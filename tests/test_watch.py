"""The lossy-write watch (trace.watch): which float64 and integer writes into a float32 blob it reports, and that
it leaves the caller's numpy error settings and warnings as an unwatched assignment would. A blob here is a
stand-in holding two arrays; the real blobs are traced in test_trace.py (the lossy_write net)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from inspector.trace.watch import WatchedArray, WatchedBlob, cast_to_float32


@pytest.mark.parametrize("values", [
    np.linspace(-3.0, 3.0, 1000),
    np.array([0.0, 1e-30, -1e30, 3.0e38]),  # small and large, all inside float32's range
    np.array([1e-40, -1e-42]),  # float32 keeps these (subnormal): not zero
    np.array([np.inf, -np.inf, np.nan, 1.0]),  # not finite already: nothing the cast loses
    np.array(2.5),  # a 0-d array, as np.mean gives
    np.float64(7.0),
    np.zeros(0),
])
def test_a_cast_that_keeps_every_value_is_not_reported(values):
    problem, cast = cast_to_float32(values)
    assert problem is None
    assert cast.dtype == np.float32
    np.testing.assert_array_equal(cast, np.asarray(values).astype(np.float32))


@pytest.mark.parametrize("values, said", [
    (np.array([1.0, 1e39, 2.0]), "float64 values up to 1e+39 overflow float32 to Inf"),
    (np.array([0.5, -1e-300]), "float64 values as small as 1e-300 underflow float32 to zero"),
    (np.array([1e-50, 1e-40]), "float64 values as small as 1e-50 underflow float32 to zero"),
    (np.array([1, 2 ** 24 + 1], dtype=np.int64), "int64 values up to 16777217 lose digits in float32"),
    (np.float64(-4e40), "float64 values up to 4e+40 overflow float32 to Inf"),
])
def test_a_cast_that_changes_a_value_is_reported(values, said):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numpy's own overflow warning: the next test's subject
        problem, cast = cast_to_float32(values)
        expected = np.asarray(values).astype(np.float32)
    assert problem is not None and problem.startswith(said)
    np.testing.assert_array_equal(cast, expected)


def test_the_callers_numpy_error_settings_hold_as_for_an_unwatched_assignment():
    before = np.geterr()
    with pytest.warns(RuntimeWarning, match="overflow"):  # numpy's default: a warning, as the plain cast gives
        cast_to_float32(np.array([1e39]))
    with np.errstate(over="raise"), pytest.raises(FloatingPointError):
        cast_to_float32(np.array([1e39]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="ignore"):  # silenced by the caller: still reported, nothing printed
            assert cast_to_float32(np.array([1e39]))[0] is not None
        assert cast_to_float32(np.array([1e-300]))[0] is not None  # underflow: ignored by default, reported
        assert cast_to_float32(np.linspace(0, 1, 50))[0] is None
    assert np.geterr() == before


class _Blob:
    def __init__(self, shape):
        self.data = np.zeros(shape, dtype=np.float32)
        self.diff = np.zeros(shape, dtype=np.float32)
        self.count = int(np.prod(shape))


def test_a_watched_blob_reports_lossy_writes_to_its_views_and_passes_the_rest_through():
    reports = []
    blob = _Blob((2, 3))
    watched = WatchedBlob(blob, "top[0]", lambda where, part, problem: reports.append((where, part, problem)))
    watched.data[...] = np.full((2, 3), 0.25)  # float64, kept exactly
    watched.diff[0] = np.array([1e-300, 1.0, 2.0])  # a row: underflows
    watched.data[1, 1] = np.float32(7)  # float32: no cast at all
    assert reports == [("top[0]", "diff", "float64 values as small as 1e-300 underflow float32 to zero")]
    assert blob.data.tolist() == [[0.25] * 3, [0.25, 7.0, 0.25]]
    assert blob.diff[0].tolist() == [0.0, 1.0, 2.0]
    assert watched.count == 6  # anything else is the blob's own


def test_arrays_numpy_derives_from_a_watched_view_are_not_watched():
    reports = []
    watched = WatchedBlob(_Blob((4,)), "bottom[1]", lambda *found: reports.append(found))
    view = watched.data
    assert isinstance(view, WatchedArray) and view.watch == (watched, "data")
    derived = view * 2  # a new array, not the blob's memory
    assert getattr(derived, "watch", None) is None
    derived[0] = np.float64(1e-300)
    assert reports == []
