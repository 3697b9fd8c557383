"""A trace child reads the prototxt once and, with --weights, builds one net.

The child runs as `inspector trace` runs it, with its parsers counted (counting_child.py);
the nets Caffe builds are counted from Caffe's own log: Net::Init writes "Initializing net
from parameters" once for every net it builds.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SAMPLE_NETS
from counting_child import COUNTS_PREFIX
from inspector.trace.events import follow_event_log

pytestmark = pytest.mark.caffe  # every test here runs a net in pycaffe

TESTS = Path(__file__).resolve().parent
FINETUNE_NETS = TESTS / "nets_gradcheck"
NET_BUILT = "Initializing net from parameters"


def run_counted_child(tmp_path: Path, net: Path, weights: Path | None = None) -> tuple[dict, int, list[dict]]:
    """(parse counts, nets Caffe built, events) of one trace child run on `net`, 1 iteration."""
    config = {"net": str(net.resolve()), "phase": "train", "iterations": 1,
              "weights": str(weights) if weights else None, "inputs": {}, "seed": 0, "stats": True, "pdb": False}
    events_fd = os.open(tmp_path / "events.jsonl", os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        proc = subprocess.run(
            [sys.executable, str(TESTS / "counting_child.py"), "--events-fd", str(events_fd),
             "--config", json.dumps(config)],
            pass_fds=(events_fd,), capture_output=True, text=True, cwd=tmp_path, timeout=600,
            env=dict(os.environ, GLOG_minloglevel="0", GLOG_logtostderr="1"))
        events: list[dict] = []
        follow_event_log(events_fd, lambda: True, lambda line, event: events.append(event))
    finally:
        os.close(events_fd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts = json.loads(proc.stdout.splitlines()[-1].removeprefix(COUNTS_PREFIX))
    return counts, proc.stderr.count(NET_BUILT), events


@pytest.fixture(scope="module")
def base_weights(caffe, tmp_path_factory) -> Path:
    """finetune_base.prototxt's weights, saved untrained."""
    from inspector.trace.netload import build_net

    path = tmp_path_factory.mktemp("weights") / "base.caffemodel"
    build_net(FINETUNE_NETS / "finetune_base.prototxt").save(str(path))
    return path


def test_the_triplet_sample_is_parsed_once_in_the_trace_child(tmp_path):
    counts, nets_built, events = run_counted_child(tmp_path, SAMPLE_NETS / "triplet" / "train.prototxt")
    assert counts == {"netspec": 1, "caffe_schema": 1}
    assert nets_built == 1
    assert events[-1]["event"] == "done"


def test_a_weights_run_parses_the_prototxt_once(tmp_path, base_weights):
    counts, _, events = run_counted_child(tmp_path, FINETUNE_NETS / "finetune_compatible.prototxt", base_weights)
    assert counts == {"netspec": 1, "caffe_schema": 1}
    assert [e["event"] for e in events if e["event"] in ("finetune", "done")] == ["finetune", "done"]


def test_a_weights_run_builds_one_net(tmp_path, base_weights):
    _, nets_built, events = run_counted_child(tmp_path, FINETUNE_NETS / "finetune_compatible.prototxt", base_weights)
    assert nets_built == 1
    [view] = [e["view"] for e in events if e["event"] == "finetune"]
    assert (view["weights_loadable"], view["copied"]) == (True, ["ip1", "scale", "ip2", "ip3"])
    assert [e["iteration"] for e in events if e["event"] == "iteration"] == [1]


def test_weights_caffe_would_refuse_build_one_net_and_run_no_pass(tmp_path, base_weights):
    _, nets_built, events = run_counted_child(tmp_path, FINETUNE_NETS / "finetune_new.prototxt", base_weights)
    assert nets_built == 1
    [reason] = [e["reason"] for e in events if e["event"] == "not_run"]
    assert reason == "Caffe would abort loading base.caffemodel at layer 'ip2' (shape mismatch), so the net was not run."
    assert not [e for e in events if e["event"] == "iteration"]
