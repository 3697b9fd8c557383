"""The event log between the trace child and its parent (lines in order, growth, a writer that dies mid-line,
starting again from the top once read, strict JSON), and the statistics the events carry."""
import json
import math
import multiprocessing
import os
import warnings

import numpy as np
import pytest

from inspector.trace.childrun.spawn import shared_file
from inspector.trace.events import (
    EventLog,
    decode_event,
    encode_event,
    follow_event_log,
)
from inspector.trace.marker import Marker
from inspector.trace.stats import SUM_CHUNK, array_stats


def read_all(path):
    lines = []
    follow_event_log(path, lambda: True, lambda line, event: lines.append((line, event)))
    return lines


def test_lines_come_back_in_order_across_growth(tmp_path):
    path = tmp_path / "events"
    path.touch()
    log = EventLog(path)
    events = [{"event": "call", "i": i, "pad": "x" * 500} for i in range(5000)]  # about 2.6 MB: the map doubles twice
    for event in events:
        log.emit(event)
    got = read_all(path)
    assert [event for _, event in got] == events
    assert got[0][0] == encode_event(events[0]).rstrip(b"\n")


def test_non_finite_numbers_survive(tmp_path):
    path = tmp_path / "events"
    path.touch()
    EventLog(path).emit({"event": "iteration", "iteration": 1, "loss": math.nan})
    [(_, event)] = read_all(path)
    assert math.isnan(event["loss"])


def _reject_constant(name):
    raise ValueError(f"{name} is not JSON (RFC 8259)")


def test_lines_are_strict_json_with_non_finite_values_named_in_a_field():
    event = {"event": "result", "report": {"blobs": [{"analytic": math.inf, "numeric": 1.5}],
                                           "a/b": -math.inf}, "loss": math.nan}
    line = encode_event(event)
    strict = json.loads(line, parse_constant=_reject_constant)
    assert strict["loss"] is None and strict["report"]["blobs"][0]["analytic"] is None
    assert strict["nonfinite"] == {"/report/blobs/0/analytic": "Infinity", "/report/a~1b": "-Infinity",
                                   "/loss": "NaN"}
    back = decode_event(line)
    assert math.isnan(back["loss"]) and back["report"]["blobs"][0]["analytic"] == math.inf
    assert back["report"]["a/b"] == -math.inf and "nonfinite" not in back
    assert json.loads(encode_event({"event": "finding", "message": "ok"})) == {"event": "finding", "message": "ok"}


def _write_then_die(path):
    log = EventLog(path)
    log.emit({"event": "call", "n": 1})
    log._map[log._end:log._end + 5] = b'{"eve'  # a line being copied when the process dies, not yet counted
    os._exit(3)


def test_what_a_dead_writer_wrote_is_read_and_a_cut_line_is_not(tmp_path):
    path = tmp_path / "events"
    path.touch()
    process = multiprocessing.get_context("fork").Process(target=_write_then_die, args=(path,))
    process.start()
    seen = []
    follow_event_log(path, lambda: process.exitcode is not None, lambda line, event: seen.append(event), 0.01)
    assert process.exitcode == 3
    assert seen == [{"event": "call", "n": 1}]


def _write_many(path, count, rotate_after):
    log = EventLog(path, rotate_after=rotate_after)
    for i in range(count):
        log.emit({"event": "call", "i": i, "pad": "x" * 200})
    os._exit(0)


@pytest.fixture(params=["a file in a folder", "the runner's shared file"])
def log_file(request, tmp_path):
    """The event log's file, as a path or as the open descriptor the runner makes (shared_file), and its size."""
    if request.param == "a file in a folder":
        path = tmp_path / "events"
        path.touch()
        yield path, lambda: path.stat().st_size
    else:
        fd = shared_file("events", 0)
        yield fd, lambda: os.fstat(fd).st_size
        os.close(fd)


def test_a_rotating_log_keeps_its_size_and_loses_no_line(log_file):
    """50,000 lines (12 MB) from a forked writer through a log that starts again past 64 KiB once its reader
    has caught up."""
    file, size = log_file
    process = multiprocessing.get_context("fork").Process(target=_write_many, args=(file, 50_000, 1 << 16))
    process.start()
    seen = []
    follow_event_log(file, lambda: process.exitcode is not None, lambda line, event: seen.append(event["i"]), 0.001)
    assert process.exitcode == 0
    assert seen == list(range(50_000))
    assert size() == EventLog.INITIAL_SIZE  # never grew past its first megabyte


@pytest.mark.skipif(not hasattr(os, "memfd_create"), reason="memfd_create is Linux's")
def test_the_files_parent_and_child_share_are_in_memory():
    fd = shared_file("events", 0)
    try:
        assert os.readlink(f"/proc/self/fd/{fd}").startswith("/memfd:inspector-events")
        assert os.fstat(fd).st_size == 0
    finally:
        os.close(fd)


def _no_memfd(name):
    raise OSError(38, "Function not implemented")


@pytest.mark.parametrize("system", ["no memfd_create", "memfd_create refused"])
def test_without_memory_files_the_shared_file_is_made_with_no_name_left(monkeypatch, system):
    if system == "no memfd_create":
        monkeypatch.delattr(os, "memfd_create", raising=False)
    else:
        monkeypatch.setattr(os, "memfd_create", _no_memfd, raising=False)
    fd = shared_file("marker", Marker.SIZE)
    try:
        assert os.fstat(fd).st_nlink == 0  # its folder is gone: a killed inspector leaves nothing behind
        assert os.pread(fd, Marker.SIZE + 1, 0) == b"\0" * Marker.SIZE
    finally:
        os.close(fd)


def test_an_empty_log_ends_when_the_writer_has(tmp_path):
    path = tmp_path / "events"
    path.touch()
    assert read_all(path) == []


def test_a_counted_line_not_yet_visible_is_read_again(tmp_path):
    """On a weakly ordered CPU the reader may see the count before the bytes: it waits for them."""
    path = tmp_path / "events"
    path.touch()
    log = EventLog(path)
    line = encode_event({"event": "call", "n": 2})
    start = log._end
    log.write(b"\0" * (len(line) - 1) + b"\n")  # counted, its bytes still zeros
    polls = []

    def finished():
        polls.append(1)
        if len(polls) == 2:
            log._map[start:start + len(line)] = line  # the bytes arrive
        return len(polls) > 3
    seen = []
    follow_event_log(path, finished, lambda raw, event: seen.append(event), 0.001)
    assert seen == [{"event": "call", "n": 2}]


# ---- the statistics each call carries, against numpy in float64 ----

def reference(values):
    values = np.asarray(values, dtype=np.float64).ravel()
    finite = values[np.isfinite(values)]
    return {"min": finite.min(), "max": finite.max(), "mean": finite.mean(), "std": finite.std(),
            "nan": int(np.isnan(values).sum()), "inf": int(np.isinf(values).sum())}


def assert_stats(array, rtol=1e-5):
    got, want = array_stats(array), reference(array)
    assert (got["nan"], got["inf"]) == (want["nan"], want["inf"])
    for key in ("min", "max", "mean"):
        assert got[key] == pytest.approx(want[key], rel=rtol, abs=1e-12), key
    assert got["std"] == pytest.approx(want["std"], rel=1e-3, abs=1e-12)


def test_statistics_of_ordinary_blobs():
    rng = np.random.default_rng(0)
    assert_stats(rng.standard_normal((100, 32)).astype(np.float32))
    assert_stats(rng.random(7).astype(np.float32))


def test_statistics_keep_a_small_spread_on_a_large_offset():
    """mean square minus squared mean cancels here in float32: the spread comes from centred values."""
    rng = np.random.default_rng(1)
    assert_stats((1000 + 1e-3 * rng.standard_normal(4096)).astype(np.float32))


def test_statistics_of_huge_values_and_non_finite_ones():
    assert_stats(np.array([3e38, -3e38, 1e38], dtype=np.float32))  # squares past float32's range
    mixed = np.array([1.0, np.nan, 2.0, np.inf, -np.inf, 4.0], dtype=np.float32)
    assert_stats(mixed)
    assert array_stats(np.full(5, np.nan, dtype=np.float32)) == {"min": None, "max": None, "mean": None,
                                                                   "std": None, "nan": 5, "inf": 0}
    assert array_stats(np.zeros(0, dtype=np.float32))["mean"] is None
    assert array_stats(np.zeros(9, dtype=np.float32)) == {"min": 0.0, "max": 0.0, "mean": 0.0, "std": 0.0,
                                                         "nan": 0, "inf": 0}


@pytest.mark.parametrize("count", [1, SUM_CHUNK - 1, SUM_CHUNK, SUM_CHUNK + 1, 5 * SUM_CHUNK + 17, 2_000_003])
@pytest.mark.parametrize("offset", [0.0, 1.0, 1000.0])
def test_the_mean_of_a_blob_of_any_size_is_within_a_millionth_of_its_rms(count, offset):
    """The sum goes through BLAS a chunk at a time (float32 inside a chunk): every size around a chunk's edge,
    on values centred on zero (where float32 sums cancel most) and off it."""
    array = (offset + np.random.default_rng(count).standard_normal(count)).astype(np.float32)
    values = array.astype(np.float64)
    got = array_stats(array)
    assert abs(got["mean"] - values.mean()) <= 1e-6 * math.sqrt(np.mean(values ** 2))
    assert got["std"] == pytest.approx(values.std(), rel=1e-3, abs=1e-12)


def test_the_mean_of_sums_past_float32s_range_and_of_other_layouts():
    """A chunk's float32 sum that overflows is redone in float64, without a numpy warning; a strided view and
    a float64 array give the same figures as numpy."""
    huge = np.array([3e38, 3e38, -3e38], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = array_stats(huge)
    assert got["mean"] == pytest.approx(huge.astype(np.float64).mean(), rel=1e-6)
    assert got["std"] == pytest.approx(huge.astype(np.float64).std(), rel=1e-3)
    strided = np.random.default_rng(3).standard_normal((300, 200)).astype(np.float32)[:, ::3]
    assert_stats(strided)
    assert_stats(np.random.default_rng(4).standard_normal(SUM_CHUNK + 5))  # float64: numpy's own sum
