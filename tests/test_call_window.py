"""The call window (runner.CallWindow) that keeps a long run's report bounded, as the command and the Python API
fold events into it: which calls it keeps, from events alone (no Caffe: the events are what a child writes)."""
from __future__ import annotations

from inspector.trace import contract
from inspector.trace.report import ReportBuilder
from inspector.trace.runner import CallWindow

KEPT = 3
PASSES = 20


def _call(iteration: int, nan: int = 0) -> dict:
    stats = {"min": 0.0, "max": 1.0, "mean": 0.5, "std": 0.1, "nan": nan, "inf": 0}
    return {"event": "call", "layer": "scale", "method": "forward", "iteration": iteration, "probe": False,
            "wall_ms": 0.1, "bottoms": [], "tops": [{"shape": [2], "dtype": "float32", "data": stats}]}


def _events() -> list[dict]:
    events = [{"event": "python_layers", "layers": [{"name": "scale", "module": "layers", "class": "Scale",
                                                     "source_file": None, "param_str": ""}]}]
    for i in range(1, PASSES + 1):
        events.append(_call(i, nan=1 if i == 12 else 0))
        if i == 8:
            events.append(contract.finding("bottom_modified", "scale", "forward", 8, "bottom[0]"))
        events.append({"event": "iteration", "iteration": i, "loss": 1.0})
    return events


def _kept_iterations(builder: ReportBuilder) -> list[int]:
    return [call.iteration for call in builder.report.calls("scale")]


def test_the_window_keeps_both_ends_and_the_notable_calls_and_counts_the_rest():
    builder = ReportBuilder("net", "train", PASSES, 0, True)
    window = CallWindow(builder.report, KEPT)
    ended = 0
    for event in _events():
        builder.add(event)
        ended += window.take(event)
    assert ended == PASSES
    assert _kept_iterations(builder) == [1, 2, 3, 8, 12, 18, 19, 20]  # 8: a finding, 12: a NaN
    assert builder.report.calls_left_out == PASSES - 8


def test_a_window_made_after_some_events_were_folded_still_keeps_their_findings_calls():
    builder = ReportBuilder("net", "train", PASSES, 0, True)
    events = _events()
    half = next(i for i, e in enumerate(events) if e["event"] == "iteration" and e["iteration"] == 10)
    for event in events[:half]:  # a report read early, before the run grew long: folded without a window
        builder.add(event)
    window = CallWindow(builder.report, KEPT)
    for event in events[half:]:
        builder.add(event)
        window.take(event)
    assert _kept_iterations(builder) == [1, 2, 3, 8, 12, 18, 19, 20]
