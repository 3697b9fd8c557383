"""The child process that runs the net: it never outlives inspector, leaves no file behind, and every way a
run can end (finished, a Caffe abort, an exit, a timeout, Ctrl-C, SIGTERM, SIGHUP, inspector killed) is
reported for what it is, in text, in the JSONL stream's last record and in the exit code.

The hanging layer (nets_trace/proc_layers.py HangsInForward) writes its process id to PROC_LAYERS_PID_FILE
as it starts to hang, so a test sends its signal while the child is inside that layer's forward.
"""
from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import run_cli
from inspector.trace.runner import TraceOptions, run_trace

pytestmark = pytest.mark.caffe

NETS = Path(__file__).resolve().parent / "nets_trace"
HANGS = NETS / "proc_hangs.prototxt"
WAIT_LIMIT_SECONDS = 120  # how long a test waits for a process before it fails (not a speed goal)


@pytest.fixture(autouse=True)
def _needs_caffe(caffe):
    """Every test here runs the real Caffe."""


def _wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_LIMIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


def _state(pid: int) -> str | None:
    """The process's state letter (R running, S sleeping, T stopped, Z a zombie), None if there is none."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return None


def _process_gone(pid: int) -> bool:
    """No such process, or only its exit status left (a zombie no one has reaped yet)."""
    return _state(pid) in (None, "Z")


class HungRun:
    """`inspector trace proc_hangs.prototxt ARGS` (or another `command` on it) started as a user would, waited
    for until its child hangs in the layer `slow`; its own TMPDIR, to see what it leaves there."""

    def __init__(self, tmp_path: Path, *args: str, own_group: bool = False, command: str = "trace"):
        self.tmpdir = tmp_path / "tmp"
        self.tmpdir.mkdir()
        pid_file = tmp_path / "child.pid"
        env = dict(os.environ, COLUMNS="200", NO_COLOR="1", TERM="dumb", TMPDIR=str(self.tmpdir),
                   PROC_LAYERS_PID_FILE=str(pid_file))
        self.process = subprocess.Popen([sys.executable, "-m", "inspector", command, str(HANGS), *args],
                                        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True, preexec_fn=os.setpgrp if own_group else None)
        _wait_for(lambda: pid_file.exists() or self.process.poll() is not None, "the layer to start hanging")
        assert self.process.poll() is None, self.process.communicate()
        self.child_pid = int(pid_file.read_text())

    def finish(self) -> tuple[int, str, str]:
        stdout, stderr = self.process.communicate(timeout=WAIT_LIMIT_SECONDS)
        return self.process.returncode, stdout, stderr

    def close(self) -> None:
        for pid in (self.process.pid, self.child_pid):
            if not _process_gone(pid):
                os.kill(pid, signal.SIGKILL)
        self.process.communicate()


@pytest.fixture
def hung(tmp_path):
    started: list[HungRun] = []

    def start(*args: str, own_group: bool = False, command: str = "trace") -> HungRun:
        started.append(HungRun(tmp_path, *args, own_group=own_group, command=command))
        return started[-1]
    yield start
    for trace in started:
        trace.close()


def _last_event(jsonl: str) -> dict:
    return json.loads(jsonl.strip().splitlines()[-1])


# ---- Ctrl-C, SIGTERM, SIGHUP ----

def test_ctrl_c_prints_what_was_recorded_and_names_the_running_layer(hung):
    trace = hung()
    trace.process.send_signal(signal.SIGINT)
    code, stdout, stderr = trace.finish()
    assert code == 130, stderr
    assert "INTERRUPTED (SIGINT) in layer slow (Python) during forward (iteration 1)" in stdout
    assert f"running at {NETS / 'proc_layers.py'}:" in stdout  # the line it hung on
    before = stdout[stdout.index("before  tracetestlayers.Scale"):stdout.index("slow  proc_layers.HangsInForward")]
    assert " 1 forward " in before  # the call recorded before the interrupt is kept
    assert "Traceback" not in stderr
    assert _process_gone(trace.child_pid)
    assert list(trace.tmpdir.iterdir()) == []


def test_ctrl_c_from_a_terminal_reaches_the_whole_process_group(hung):
    trace = hung(own_group=True)
    os.killpg(trace.process.pid, signal.SIGINT)  # what a terminal does: inspector and all in its group
    code, stdout, _ = trace.finish()
    assert code == 130
    assert "INTERRUPTED (SIGINT) in layer slow (Python) during forward (iteration 1)" in stdout
    assert _process_gone(trace.child_pid)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_end_the_child_and_exit_with_the_signal(hung, stop):
    trace = hung("--format", "jsonl")
    trace.process.send_signal(stop)
    code, stdout, _ = trace.finish()
    assert code == 128 + stop
    end = _last_event(stdout)
    assert (end["event"], end["outcome"], end["exit_code"]) == ("end", "interrupted", 128 + stop)
    assert end["crash"]["signal"] == stop.name
    assert (end["crash"]["layer"], end["crash"]["method"], end["crash"]["iteration"]) == ("slow", "forward", 1)
    assert _process_gone(trace.child_pid)
    assert list(trace.tmpdir.iterdir()) == []


def test_ctrl_c_ends_a_hung_gradcheck_naming_what_it_was_doing(hung):
    trace = hung("--layer", "slow", command="gradcheck")
    trace.process.send_signal(signal.SIGINT)
    code, _, stderr = trace.finish()
    assert code == 130
    assert ("The gradcheck of 'slow' was interrupted (SIGINT) while running the net forward up to layer 'slow'"
            in stderr)
    assert _process_gone(trace.child_pid)


def test_ctrl_z_pauses_the_child_with_inspector_and_fg_resumes_both(hung):
    trace = hung(own_group=True)  # a process group of its own in this session, as a shell's job is
    os.killpg(trace.process.pid, signal.SIGTSTP)  # what a terminal's Ctrl-Z does
    _wait_for(lambda: _state(trace.process.pid) == "T" and _state(trace.child_pid) == "T", "both to stop")
    os.killpg(trace.process.pid, signal.SIGCONT)  # what the shell's fg does
    _wait_for(lambda: _state(trace.child_pid) not in ("T", None), "the child to go on")
    trace.process.send_signal(signal.SIGINT)
    code, stdout, _ = trace.finish()
    assert code == 130 and "INTERRUPTED (SIGINT) in layer slow (Python) during forward (iteration 1)" in stdout


def test_a_killed_inspector_takes_its_child_along_and_leaves_no_file(hung):
    trace = hung()
    trace.process.kill()  # SIGKILL: inspector cannot clean up; the child must notice on its own
    trace.process.wait()
    _wait_for(lambda: _process_gone(trace.child_pid), "the orphaned child to end")
    assert list(trace.tmpdir.iterdir()) == []


@pytest.fixture
def small_tmpdir(tmp_path):
    """A temporary folder on a filesystem of 128 KiB (a tmpfs mounted for the test, so root only)."""
    folder = tmp_path / "small"
    folder.mkdir()
    mounted = os.geteuid() == 0 and subprocess.run(["mount", "-t", "tmpfs", "-o", "size=128k", "tmpfs", str(folder)],
                                                   capture_output=True).returncode == 0
    if not mounted:
        pytest.skip("mounting a small filesystem needs root")
    yield folder
    subprocess.run(["umount", str(folder)], check=True)


def test_a_nearly_full_temporary_folder_neither_stops_a_run_nor_is_blamed_on_a_layer(tmp_path, small_tmpdir):
    """300 passes write about 800 KB of events: an event log on that disk ended in SIGBUS at the first page it
    could not get, reported as the running Python layer aborting."""
    sample = Path(__file__).resolve().parent.parent / "sample_nets" / "triplet" / "train.prototxt"
    result = run_cli("trace", sample, "--iterations", "300", "--no-stats", "--format", "json", cwd=tmp_path,
                     env={"TMPDIR": str(small_tmpdir)})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["crash"] is None and report["completed"] and len(report["losses"]) == 300


SAMPLE_FOLDER = Path(__file__).resolve().parent.parent / "sample_nets" / "triplet"


@pytest.mark.parametrize("args", [("trace", "train.prototxt", "--iterations", "1"),
                                  ("trace", "solver.prototxt", "--iterations", "1"),
                                  ("gradcheck", "train.prototxt", "--layer", "tripletloss")])
def test_inspectors_own_process_never_loads_numpy_or_caffe(tmp_path, args):
    """Only the child needs them: numpy's import alone is about a sixth of a second before the child can start."""
    command, net, *rest = args
    script = ("import sys\nfrom inspector.cli import main\n"
              f"try:\n    main([{command!r}, {str(SAMPLE_FOLDER / net)!r}, *{rest!r}, '--format', 'json'])\n"
              "except SystemExit as exc:\n    code = exc.code\n"
              "print(code, sorted({'numpy', 'caffe'} & set(sys.modules)), file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path,
                          timeout=WAIT_LIMIT_SECONDS)
    assert json.loads(proc.stdout)  # the whole run, its report included
    assert proc.stderr.strip().splitlines()[-1] == "0 []"


# ---- --timeout ----
# The timeout counts from the start of the run: it must leave the child time to import Caffe and reach the
# hanging layer on a busy machine, so the runs below take that long.
TIMEOUT = "15"


def test_timeout_ends_a_hung_layer_with_a_report_naming_it(tmp_path):
    result = run_cli("trace", HANGS, "--timeout", TIMEOUT, cwd=tmp_path)
    assert result.returncode == 1
    assert f"TIMEOUT (still running after {TIMEOUT} s) in layer slow (Python) during forward (iteration 1)" in result.stdout
    assert f"running at {NETS / 'proc_layers.py'}:" in result.stdout
    assert f'File "{NETS / "proc_layers.py"}", line' in result.stdout  # the stack it was stopped in
    before = result.stdout[result.stdout.index("before  tracetestlayers.Scale"):]
    assert " 1 forward " in before  # the calls recorded until then are kept


def test_timeout_ends_the_jsonl_stream_with_its_record_and_the_terminal_gets_the_summary(tmp_path):
    out = tmp_path / "events.jsonl"
    result = run_cli("trace", HANGS, "--timeout", TIMEOUT, "--format", "jsonl", "--out", out, cwd=tmp_path)
    assert result.returncode == 1
    end = _last_event(out.read_text())
    crash = end["crash"]
    assert (end["outcome"], end["exit_code"], crash["kind"], crash["timeout"]) == ("timeout", 1, "timeout", 15.0)
    assert (crash["layer"], crash["method"], crash["iteration"]) == ("slow", "forward", 1)
    assert crash["location"].startswith(f"{NETS / 'proc_layers.py'}:")
    assert f"TIMEOUT (still running after {TIMEOUT} s) in layer slow (Python) during forward; report in {out}" in result.stderr


def test_gradcheck_timeout_names_the_layer_and_what_it_was_doing(tmp_path):
    result = run_cli("gradcheck", HANGS, "--layer", "slow", "--timeout", TIMEOUT, cwd=tmp_path)
    assert result.returncode == 1
    assert (f"The gradcheck of 'slow' was still running after {TIMEOUT} s while running the net forward up to "
            "layer 'slow'") in result.stderr
    assert f"(at {NETS / 'proc_layers.py'}:" in result.stderr


def test_a_timeout_on_a_correct_net_that_finishes_stays_silent(tmp_path):
    result = run_cli("trace", NETS / "siamese.prototxt", "--iterations", "1", "--timeout", "300", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "No findings." in result.stdout and "TIMEOUT" not in result.stdout


@pytest.mark.parametrize("value", ["0", "-3", "nan", "inf"])
def test_a_timeout_that_is_not_a_positive_number_is_bad_input(tmp_path, value):
    for command in (["trace", HANGS], ["gradcheck", HANGS, "--layer", "slow"]):
        result = run_cli(*command, "--timeout", value, cwd=tmp_path)
        assert result.returncode == 2
        assert "--timeout must be a positive number of seconds" in result.stderr and "Traceback" not in result.stderr


# ---- how a run ended, told truly ----

def test_os_exit_0_in_a_layer_is_reported_as_an_exit_not_a_kill(tmp_path):
    result = run_cli("trace", NETS / "proc_exits.prototxt", cwd=tmp_path)
    assert result.returncode == 1
    assert ("EXIT: the process exited with code 0 in layer quits (Python) during forward (iteration 1) before finishing"
            in result.stdout)
    assert "killed" not in result.stdout


def test_jsonl_ends_with_the_crash_record(tmp_path):
    out = tmp_path / "events.jsonl"
    result = run_cli("trace", NETS / "crash_check.prototxt", "--format", "jsonl", "--out", out, cwd=tmp_path)
    assert result.returncode == 1
    end = _last_event(out.read_text())
    assert (end["event"], end["outcome"], end["exit_code"], end["ok"]) == ("end", "crashed", 1, False)
    crash = end["crash"]
    assert (crash["kind"], crash["signal"], crash["layer"], crash["method"], crash["iteration"]) == (
        "caffe_abort", "SIGABRT", "ip2", "forward", 1)
    assert "Check failed: K_ == new_K" in crash["check_failed"]


def test_jsonl_ends_with_the_normal_end(tmp_path):
    result = run_cli("trace", NETS / "siamese.prototxt", "--format", "jsonl", "--iterations", "1", cwd=tmp_path)
    assert result.returncode == 0
    end = _last_event(result.stdout)
    assert end == {"event": "end", "outcome": "finished", "exit_code": 0, "ok": True, "completed": True,
                   "findings": 0, "errors": 0, "crash": None}


def test_jsonl_ends_with_the_error_when_the_child_refuses_the_input(tmp_path):
    import numpy as np

    np.save(tmp_path / "batch.npy", np.zeros((3, 6), dtype=np.float32))
    result = run_cli("trace", NETS / "siamese.prototxt", "--format", "jsonl",
                     "--input", f"data={tmp_path / 'batch.npy'}", cwd=tmp_path)
    assert result.returncode == 2
    end = _last_event(result.stdout)
    assert (end["outcome"], end["exit_code"]) == ("error", 2) and "[3, 6]" in end["message"]


def _reject_constant(name):
    raise ValueError(f"{name} is not JSON (RFC 8259)")


def test_jsonl_is_strict_json_and_keeps_a_nan_loss_as_a_fact(tmp_path):
    result = run_cli("trace", NETS / "proc_nan_loss.prototxt", "--format", "jsonl", "--iterations", "1",
                     cwd=tmp_path)
    events = [json.loads(line, parse_constant=_reject_constant) for line in result.stdout.splitlines()]
    [iteration] = [e for e in events if e["event"] == "iteration"]
    assert iteration["loss"] is None and iteration["nonfinite"] == {"/loss": "NaN"}
    assert events[-1]["event"] == "end"
    report = run_trace(TraceOptions(NETS / "proc_nan_loss.prototxt", iterations=1))
    assert math.isnan(report.losses[0])  # the report itself still holds the NaN


def test_out_leaves_a_one_line_summary_on_the_terminal(tmp_path):
    crashed = run_cli("trace", NETS / "crash_check.prototxt", "--out", tmp_path / "crash.txt", cwd=tmp_path)
    assert crashed.returncode == 1 and crashed.stdout == ""
    assert f"CRASH (caffe_abort) in layer ip2 (InnerProduct) during forward; report in {tmp_path / 'crash.txt'}" in crashed.stderr
    assert "CRASH (caffe_abort, exit code -6)" in (tmp_path / "crash.txt").read_text()
    clean = run_cli("trace", NETS / "siamese.prototxt", "--iterations", "1", "--format", "json",
                    "--out", tmp_path / "clean.json", cwd=tmp_path)
    assert clean.returncode == 0
    assert f"No findings; report in {tmp_path / 'clean.json'}" in clean.stderr
    assert json.loads((tmp_path / "clean.json").read_text())["ok"] is True


# ---- where the stopped run was, from the stack the child dumps on SIGTERM ----

def _stopped_crash(tmp_path: Path, hang: str):
    """A real stack dump: a process set up as the child is (faulthandler on SIGTERM, a second thread) hanging
    in `hang` ("layer": a user's file; "pycaffe": pycaffe's net.forward, as while a C++ layer runs), ended."""
    import io

    from inspector.trace.report import Crash
    from inspector.trace.childrun.caffelog import CaffeLog
    from inspector.trace.childrun.crash import ChildRun

    (tmp_path / "caffe").mkdir()
    (tmp_path / "caffe" / "__init__.py").write_text("")  # a package of its own, ahead of the real pycaffe
    hang_here = "print('ready', flush=True); time.sleep(600)"  # the line a stopped run is on
    (tmp_path / "caffe" / "pycaffe.py").write_text(f"import time\n\ndef forward(layer):\n    layer() if layer else {hang_here}\n")
    (tmp_path / "mylayer.py").write_text(f"import time\n\ndef forward():\n    {hang_here}\n")
    script = ("import faulthandler, signal, sys, threading, time\n"
              "faulthandler.register(signal.SIGTERM, file=sys.stderr, all_threads=True, chain=True)\n"
              "threading.Thread(target=time.sleep, args=(600,), daemon=True).start()\n"
              "from caffe import pycaffe\nimport mylayer\n"
              f"pycaffe.forward({'mylayer.forward' if hang == 'layer' else 'None'})\n")
    process = subprocess.Popen([sys.executable, "-c", script], cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "ready\n", process.communicate()
    process.terminate()
    _, stderr = process.communicate(timeout=WAIT_LIMIT_SECONDS)
    log = CaffeLog(io.StringIO("W1130 00:00:00.000000 1 net.cpp:1] a line Caffe logged\n" + stderr))
    log.join()
    child = ChildRun(process.returncode, log, None, None, stopped_by="SIGINT")
    return child.add_log(Crash(child.abort_kind, process.returncode, "slow", "forward", 1))


def test_a_stopped_run_points_at_the_users_line_it_hung_on(tmp_path):
    crash = _stopped_crash(tmp_path, "layer")
    assert (crash.kind, crash.signal) == ("interrupted", "SIGINT")
    assert crash.location == f"{tmp_path / 'mylayer.py'}:4"
    assert crash.traceback.splitlines()[:2] == ["Stack when ended (most recent call first):",
                                                f'  File "{tmp_path / "mylayer.py"}", line 4 in forward']
    assert crash.log_tail == ["W1130 00:00:00.000000 1 net.cpp:1] a line Caffe logged"]  # the dump is not log


def test_a_stopped_run_in_a_cpp_layer_points_at_no_line(tmp_path):
    """Python was only in pycaffe's forward: no line of the user's is running, the marker's layer is the news."""
    crash = _stopped_crash(tmp_path, "pycaffe")
    assert crash.location is None
    assert "pycaffe.py" in crash.traceback


# ---- a long run keeps a bounded report ----

LONG = 205  # iterations: the first and last 100 kept, the 5 between left out


def test_a_long_run_keeps_the_first_and_last_iterations_calls_and_counts_the_rest():
    report = run_trace(TraceOptions(NETS / "siamese.prototxt", iterations=LONG))
    iterations = {c.iteration for c in report.calls("scale") if not c.probe}
    assert iterations == set(range(0, 101)) | set(range(106, LONG + 1))
    assert report.calls_left_out == 5 * 3 * 2  # reshape, forward, backward of both Python layers
    assert len(report.losses) == LONG and report.ok


def test_a_long_run_keeps_every_call_with_a_nan(tmp_path):
    report = run_trace(TraceOptions(NETS / "nan_diff.prototxt", iterations=LONG))
    backward = [c.iteration for c in report.calls("broken", "backward") if not c.probe]
    assert backward == list(range(1, LONG + 1))  # each wrote NaN: all kept
    forward = [c.iteration for c in report.calls("broken", "forward") if not c.probe]
    assert 103 not in forward and 106 in forward


def test_a_long_run_streams_every_call_to_jsonl(tmp_path):
    out = tmp_path / "events.jsonl"
    result = run_cli("trace", NETS / "siamese.prototxt", "--iterations", LONG, "--format", "jsonl", "--out", out,
                     cwd=tmp_path)
    assert result.returncode == 0
    calls = [json.loads(line) for line in out.read_text().splitlines() if line.startswith('{"event":"call"')]
    assert {c["iteration"] for c in calls if c["layer"] == "scale" and not c["probe"]} == set(range(0, LONG + 1))


def test_jsonl_ends_with_not_run_when_caffe_would_abort_loading_the_weights(tmp_path):
    from inspector.trace.netload import build_net

    base = Path(__file__).resolve().parent / "nets_gradcheck"
    weights = tmp_path / "base.caffemodel"
    build_net(base / "finetune_base.prototxt").save(str(weights))
    out = tmp_path / "events.jsonl"
    result = run_cli("trace", base / "finetune_new.prototxt", "--weights", weights, "--format", "jsonl", "--out", out,
                     cwd=tmp_path)
    assert result.returncode == 1
    end = _last_event(out.read_text())
    assert (end["outcome"], end["exit_code"], end["ok"], end["crash"]) == ("not_run", 1, False, None)
    assert f"NOT RUN: Caffe would abort loading base.caffemodel at layer 'ip2' (shape mismatch)" in result.stderr


def test_crash_log_tail_leaves_out_inspectors_and_frozen_frames_and_keeps_the_users():
    from inspector.trace.childrun.caffelog import readable_log_tail
    from inspector.trace.tracebacks import INSPECTOR_PACKAGE

    check_failed = "F1130 00:00:00.000000 1 eltwise_layer.cpp:34] Check failed: shapes differ"
    lines = [check_failed, "Fatal Python error: Aborted",
             f'  File "{INSPECTOR_PACKAGE}/trace/child.py", line 3 in run',
             '  File "<frozen runpy>", line 88 in _run_code',
             '  File "/home/me/layers.py", line 12 in forward',
             "Extension modules: numpy.core._multiarray_umath (total: 1)"]
    assert readable_log_tail(lines, check_failed) == ["Fatal Python error: Aborted",
                                                      '  File "/home/me/layers.py", line 12 in forward']
