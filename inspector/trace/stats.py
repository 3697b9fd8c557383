"""Statistics of blobs, as the tracer records them on every Python layer call.

How: array_stats reduces a blob's data or diff to min, max, mean, std and its NaN and Inf counts with
as few numpy calls as the all-finite case allows (the sum by BLAS dot products, not numpy's float64
sum); blob_summary and shape_summaries give a call record's per-blob entry (shape, dtype, and the
statistics of one part); entry_summary takes the statistics a blob's writer left earlier in the same
sweep of the net instead of measuring them again. The rest are facts the contract checks ask of a
blob: all zero, whole numbers, sharing memory with a top.
"""
from __future__ import annotations

import math

import numpy as np

from .watch import FLOAT32

NO_VALUES = {"min": None, "max": None, "mean": None, "std": None}
_minimum, _maximum, _add, _vdot, _dot = np.minimum.reduce, np.maximum.reduce, np.add.reduce, np.vdot, np.dot
# a float32 sum as BLAS dot products against ones, SUM_CHUNK values each, added up in float64: about five
# times faster than numpy's float64 sum (which casts every value), and the mean within 1e-6 of the values'
# root mean square (float32 accumulates inside a chunk: far below the digits the report prints)
SUM_CHUNK = 1 << 14
_ONES = np.ones(SUM_CHUNK, dtype=np.float32)
# mean square minus squared mean loses about float32's precision times mean_square / variance: kept
# when that ratio is under 100 (std within a few 1e-6), else the variance comes from centred values
VARIANCE_KEPT = 0.01


def array_stats(array: np.ndarray) -> dict:
    """min, max, mean, std and the NaN and Inf counts of a blob's data or diff.

    Four numpy calls on the common all-finite path, since this runs on every blob of every call:
    min and max (which propagate NaN and show Inf, so two finite ones prove every value finite),
    a sum for the mean (_sum: BLAS, a chunk at a time) and a dot product for the mean square.
    Where the variance is small beside the mean square, mean square minus squared mean cancels
    badly in float32, so it is computed again from the centred values.
    """
    count = array.size
    if not count:
        return {**NO_VALUES, "nan": 0, "inf": 0}
    # the ufuncs' own reduce, not ndarray.min and friends: those go through numpy's Python wrappers
    low, high = float(_minimum(array, None)), float(_maximum(array, None))
    if -math.inf < low and high < math.inf:
        if low == high:  # constant (an all-zero diff, often): nothing more to compute
            return {"min": low, "max": high, "mean": low, "std": 0.0, "nan": 0, "inf": 0}
        mean = _sum(array, count) / count
        mean_square = float(_vdot(array, array)) / count  # BLAS: overflows to Inf without a numpy warning
        variance = mean_square - mean * mean
        if not VARIANCE_KEPT * mean_square < variance < math.inf:
            with np.errstate(over="ignore"):  # values past float32's range once centred: redone in float64 below
                centred = array - mean
            square_sum = float(_vdot(centred, centred))
            if square_sum == math.inf:  # squares past float32's range: redo in float64 (the stats stay finite)
                centred = array.astype(np.float64) - mean
                square_sum = float(_vdot(centred, centred))
            variance = square_sum / count
        return {"min": low, "max": high, "mean": mean, "std": math.sqrt(variance), "nan": 0, "inf": 0}
    values = array.reshape(-1)
    finite_mask = np.isfinite(values)
    nan = int(np.isnan(values).sum())
    inf = int(count - finite_mask.sum() - nan)
    values = values[finite_mask]
    if not values.size:
        return {**NO_VALUES, "nan": nan, "inf": inf}
    stats = array_stats(values)
    stats.update(nan=nan, inf=inf)
    return stats


def _sum(array: np.ndarray, count: int) -> float:
    """The sum of an array's `count` finite values, by BLAS for float32 (see SUM_CHUNK), else numpy's float64 sum."""
    if array.dtype == FLOAT32:
        flat = array.reshape(-1)
        if count <= SUM_CHUNK:
            total = float(_dot(flat, _ONES[:count]))
        else:
            whole = count - count % SUM_CHUNK
            total = float(_add(_dot(flat[:whole].reshape(-1, SUM_CHUNK), _ONES), None, np.float64))
            if whole < count:
                total += float(_dot(flat[whole:], _ONES[:count - whole]))
        if -math.inf < total < math.inf:
            return total
    return float(_add(array, None, np.float64))  # past float32's range in a chunk (or not float32)


def blob_shape(blob, allocated: bool = False) -> tuple[int, ...]:
    # blob.data.shape is ten times faster than pycaffe's blob.shape (an IntVec), but touching the
    # data of a blob without memory fails Caffe's CHECK(data_), so those take the slow way (`allocated`:
    # see blob_summary). Shapes stay tuples while tracing (a list would be one more call per blob); the
    # report gives lists.
    return blob.data.shape if allocated or blob.count else tuple(blob.shape)


def blob_summary(blob, part: str | None = None, allocated: bool = False) -> dict:
    """The blob's shape and dtype, with the statistics of its "data" or "diff" when `part` names one;
    `allocated` when the blob is known to have memory (see LayerState.allocated), so count need not be asked."""
    if not (allocated or blob.count):
        return {"shape": tuple(blob.shape), "dtype": "float32"}  # pycaffe's Blob is Blob<float>, always
    if part is None:
        return {"shape": blob.data.shape, "dtype": "float32"}
    array = blob.data if part == "data" else blob.diff
    return {"shape": array.shape, "dtype": "float32", part: array_stats(array)}


def shape_summaries(blobs, allocated: bool = False) -> list[dict]:
    """blob_summary(b) of each blob, inlined: this runs on every call. `allocated` when every blob is known
    to have memory (see LayerState.allocated), so count need not be asked."""
    if allocated:
        return [{"shape": b.data.shape, "dtype": "float32"} for b in blobs]
    return [{"shape": b.data.shape, "dtype": "float32"} if b.count else blob_summary(b) for b in blobs]


def entry_summary(blob, part: str, fresh: dict | None, blob_ids: list[int], position: int, allocated: bool) -> dict:
    """blob_summary of a blob a method reads, taking the statistics its writer left in this sweep when there are."""
    stats = fresh.get((blob_ids[position], part)) if fresh is not None and position < len(blob_ids) else None
    if stats is None:
        return blob_summary(blob, part, allocated)
    return {"shape": blob_shape(blob, allocated), "dtype": "float32", part: stats}


def bottom_entries(bottoms: list, bottom_ids: list[int], fresh: dict | None, in_place: list[bool],
                   allocated: bool) -> tuple[list[dict], list[bytes | None]]:
    """The summaries of forward's bottoms as it gets them (taking statistics carried in the sweep), and a copy of
    the bytes of each that is not also a top (bytes compare NaN-safe and fast), to show a bottom forward changed."""
    summaries: list[dict] = []
    copies: list[bytes | None] = []
    for j, b in enumerate(bottoms):
        if not (allocated or b.count):
            summaries.append(blob_summary(b))
            copies.append(None)
            continue
        data = b.data
        carried = fresh.get((bottom_ids[j], "data")) if fresh is not None else None
        summaries.append({"shape": data.shape, "dtype": "float32", "data": carried or array_stats(data)})
        copies.append(None if in_place[j] else data.tobytes())
    return summaries, copies


def all_zero(stats: dict | None) -> bool:
    """Whether a blob's statistics say every value is zero (a blob with no values counts as zero)."""
    return stats is None or stats["min"] is None or (stats["min"] == 0 and stats["max"] == 0)


def whole_numbers(blob) -> bool:
    """Whether a blob's data holds only whole numbers (labels, indices)."""
    data = blob.data
    return bool(data.size) and bool(np.all(data == np.round(data)))


def shares_a_top(bottom, tops: list) -> bool:
    """Whether a bottom is also one of the tops (in place), from their memory."""
    if not bottom.count:
        return False
    data = bottom.data
    top_arrays = (t.data for t in tops if t.count)
    return any(a.shape == data.shape and np.may_share_memory(a, data) for a in top_arrays)
