"""The Python API: `from inspector import trace` around an existing caffe.Net or solver, as in a notebook."""
from __future__ import annotations

from pathlib import Path

import pytest

from inspector import trace
from inspector.trace.netload import build_net

pytestmark = pytest.mark.caffe  # every test here runs a net in pycaffe

NETS = Path(__file__).resolve().parent / "nets_trace"


@pytest.fixture(autouse=True)
def _needs_caffe(caffe):
    """Every test here runs the real Caffe."""


def test_trace_records_calls_on_an_existing_net():
    net = build_net(NETS / "siamese.prototxt")
    with trace(net) as t:
        net.forward()
        net.backward()
    assert [c.method for c in t.report.calls("scale")] == ["reshape", "forward", "backward"]
    assert t.report.calls("loss", "backward")[0].propagate_down == [True, True]
    assert t.report.iterations == 1 and len(t.report.losses) == 1
    assert t.report.findings == [] and t.report.completed


def test_layer_times_are_recorded_for_every_layer():
    net = build_net(NETS / "siamese.prototxt")
    with trace(net) as t:
        net.forward()
        net.backward()
    layers = {layer.name: layer for layer in t.report.layers}
    assert layers["ip_a"].forward_ms > 0 and layers["scale"].backward_ms > 0


def test_the_layers_methods_are_restored_after_the_trace():
    net = build_net(NETS / "siamese.prototxt")
    with trace(net):
        net.forward()
    scale = net.layer_dict["scale"]
    assert "forward" not in vars(scale) and "param_str" not in vars(type(scale))
    net.forward()  # runs untraced, as before


def test_checks_run_on_an_existing_net():
    net = build_net(NETS / "accumulates_diff.prototxt")
    with trace(net) as t:
        net.forward()
        net.backward()
        t.check()
    [finding] = t.report.findings_of("diff_accumulates")
    assert finding.layer == "broken"


def test_trace_on_a_solver_follows_its_training_net(tmp_path):
    import caffe

    solver_file = tmp_path / "solver.prototxt"
    solver_file.write_text(f'net: "{NETS / "siamese.prototxt"}"\nbase_lr: 0.01\nlr_policy: "fixed"\n'
                           'display: 0\nsnapshot: 0\nsolver_mode: CPU\n')
    solver = caffe.SGDSolver(str(solver_file))
    with trace(solver) as t:
        solver.step(3)
    # numbered as Caffe's log numbers solver steps
    assert [c.iteration for c in t.report.calls("scale", "backward")] == [0, 1, 2]
    assert list(t.report.training.iteration) == [0, 1, 2] and t.report.phase == "train"


def test_exception_in_a_layer_is_recorded_with_its_traceback():
    net = build_net(NETS / "raises_in_forward.prototxt")
    with pytest.raises(ValueError, match="bad batch"):
        with trace(net) as t:
            net.forward()
            net.forward()
    [event] = [e for e in t.events if e["event"] == "exception"]
    assert (event["layer"], event["method"], event["iteration"]) == ("broken", "forward", 2)
    assert event["frames"][-1]["file"] == str(NETS / "tracetestlayers.py")


def test_a_long_run_keeps_its_events_bounded_and_its_report_as_the_commands(monkeypatch):
    from inspector.trace import api
    from inspector.trace.runner import CALL_ITERATIONS_KEPT

    monkeypatch.setattr(api, "KEEP_EVENTS", 50)
    passes = 2 * CALL_ITERATIONS_KEPT + 30
    net = build_net(NETS / "siamese.prototxt")
    seen, longest = [], [0]

    def on_event(event):
        seen.append(event["event"])
        longest[0] = max(longest[0], len(t.events))

    t = trace(net, on_event=on_event)
    with t:
        for _ in range(passes):
            net.forward()
            net.backward()
    report = t.report
    assert longest[0] <= 50 and len(t.events) < 50  # folded as the run went
    assert seen.count("call") > 50 * 10 and seen.count("iteration") == passes  # on_event saw every one
    iterations = sorted({c.iteration for c in report.calls("scale")})
    expected = [*range(1, CALL_ITERATIONS_KEPT + 1), *range(passes - CALL_ITERATIONS_KEPT + 1, passes + 1)]
    assert iterations == expected  # the first and last iterations whole, as `inspector trace` keeps them
    assert report.calls_left_out == 30 * 3 * 2  # reshape, forward, backward of both Python layers
    assert len(report.losses) == passes and report.iterations == passes and report.completed


def test_a_short_run_keeps_every_event_and_call():
    net = build_net(NETS / "siamese.prototxt")
    with trace(net) as t:
        for _ in range(5):
            net.forward()
            net.backward()
    assert [e["event"] for e in t.events].count("iteration") == 5
    assert sorted({c.iteration for c in t.report.calls("scale")}) == [1, 2, 3, 4, 5]
    assert t.report.calls_left_out == 0
