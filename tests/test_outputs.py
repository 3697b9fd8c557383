"""Output files never cost the user a file: graph -o and trace --out are checked first, written last, atomically."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import run_cli

from inspector.errors import InputError
from inspector.outputs import OutputError, OutputStream, check_output, write_output

STATIC = Path(__file__).resolve().parent / "nets_static"
TRACE = Path(__file__).resolve().parent / "nets_trace"
AS_ROOT = os.geteuid() == 0  # root writes through any permission bits


def _copy(tmp_path: Path, name: str, folder: Path = STATIC) -> Path:
    return Path(shutil.copy(folder / name, tmp_path / name))


# ---- graph -o ----
def test_graph_output_naming_the_net_is_refused_and_the_net_kept(tmp_path):
    net = Path(shutil.copy(STATIC / "v1_lenet.prototxt", tmp_path / "lenet.json"))  # a net named like an export
    before = net.read_bytes()
    result = run_cli("graph", net, "-o", tmp_path / "." / "lenet.json")
    assert result.returncode == 2
    assert "is also an input of this run" in result.stderr
    assert net.read_bytes() == before


def test_graph_output_naming_the_shapes_file_is_refused(tmp_path):
    shapes = tmp_path / "shapes.json"
    shapes.write_text(json.dumps({"blob_shapes": {"data": [1, 3]}}))
    result = run_cli("graph", STATIC / "v1_lenet.prototxt", "--shapes", shapes, "-o", shapes)
    assert result.returncode == 2 and "is also an input" in result.stderr
    assert json.loads(shapes.read_text()) == {"blob_shapes": {"data": [1, 3]}}


def test_graph_failing_on_a_bad_net_leaves_the_existing_output_untouched(tmp_path):
    output = tmp_path / "net.svg"
    output.write_text("my drawing")
    result = run_cli("graph", STATIC / "syntax_error.prototxt", "-o", output)
    assert result.returncode == 2
    assert output.read_text() == "my drawing"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.svg"]  # no temporary file left behind


def test_graph_output_replaces_an_existing_file_keeping_its_mode(tmp_path):
    output = tmp_path / "net.dot"
    output.write_text("old")
    output.chmod(0o640)
    result = run_cli("graph", STATIC / "fork_roi.prototxt", "-o", output)
    assert result.returncode == 0, result.stderr
    assert output.read_text().startswith("digraph")
    assert output.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.dot"]


def test_graph_output_through_a_symlink_writes_the_file_it_names(tmp_path):
    real = tmp_path / "real.dot"
    real.write_text("old")
    link = tmp_path / "link.dot"
    link.symlink_to(real)
    assert run_cli("graph", STATIC / "fork_roi.prototxt", "-o", link).returncode == 0
    assert link.is_symlink() and real.read_text().startswith("digraph")


def test_graph_svg_through_dot_is_atomic_too(tmp_path):
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed")
    output = tmp_path / "net.svg"
    result = run_cli("graph", STATIC / "fork_roi.prototxt", "-o", output)
    assert result.returncode == 0, result.stderr
    assert "<svg" in output.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.svg"]


@pytest.mark.parametrize("where, reason", [
    ("missing/net.dot", "does not exist"),
    ("a_file/net.dot", "is not a folder"),
])
def test_graph_output_in_an_impossible_place_exits_2_naming_path_and_reason(tmp_path, where, reason):
    (tmp_path / "a_file").write_text("")
    result = run_cli("graph", STATIC / "v1_lenet.prototxt", "-o", tmp_path / where)
    assert result.returncode == 2
    assert f"cannot write {tmp_path / where}" in result.stderr and reason in result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr


def test_graph_output_under_proc_exits_2_with_the_os_reason():
    result = run_cli("graph", STATIC / "v1_lenet.prototxt", "-o", "/proc/inspector-net.dot")
    assert result.returncode == 2
    assert "cannot write /proc/inspector-net.dot" in result.stderr
    assert "internal error" not in result.stderr


@pytest.mark.skipif(AS_ROOT, reason="root writes into a read-only folder")
def test_graph_output_in_a_read_only_folder_exits_2(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        result = run_cli("graph", STATIC / "v1_lenet.prototxt", "-o", folder / "net.dot")
    finally:
        folder.chmod(0o700)
    assert result.returncode == 2 and "Permission denied" in result.stderr


@pytest.mark.skipif(AS_ROOT, reason="root may write any file")
def test_graph_output_onto_a_read_only_file_is_refused_and_the_file_kept(tmp_path):
    output = tmp_path / "net.dot"
    output.write_text("keep me")
    output.chmod(0o444)
    result = run_cli("graph", STATIC / "fork_roi.prototxt", "-o", output)
    assert result.returncode == 2 and "the file is read-only" in result.stderr
    assert output.read_text() == "keep me"


# ---- the helpers themselves ----
def test_a_device_output_is_written_in_place_and_a_full_one_is_an_output_error():
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    with pytest.raises(OutputError, match="No space left on device"):
        write_output("/dev/full", "x" * 100_000)


def test_output_stream_that_fails_leaves_the_old_file(tmp_path):
    output = tmp_path / "events.jsonl"
    output.write_text("the run before\n")
    with pytest.raises(RuntimeError), OutputStream(output) as stream:
        stream.write("half a run\n")
        assert output.read_text() == "the run before\n"  # the new events go to a temporary file
        raise RuntimeError("the run failed")
    assert output.read_text() == "the run before\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.jsonl"]


def test_output_stream_creates_nothing_before_its_first_write(tmp_path):
    with pytest.raises(ValueError), OutputStream(tmp_path / "out.json"):
        raise ValueError("the input was bad")
    assert list(tmp_path.iterdir()) == []


def test_check_output_refuses_an_input_reached_by_another_spelling(tmp_path):
    net = _copy(tmp_path, "v1_lenet.prototxt")
    (tmp_path / "sub").mkdir()
    with pytest.raises(InputError, match="also an input"):
        check_output(tmp_path / "sub" / ".." / "v1_lenet.prototxt", [net])


# ---- trace --out and last-trace.json (real Caffe) ----
@pytest.mark.caffe
def test_trace_out_naming_the_net_is_refused_before_anything_runs(tmp_path):
    net = _copy(tmp_path, "siamese.prototxt", TRACE)
    shutil.copy(TRACE / "tracetestlayers.py", tmp_path)
    before = net.read_bytes()
    result = run_cli("trace", net, "--out", net, cwd=tmp_path)
    assert result.returncode == 2 and "is also an input of this run" in result.stderr
    assert net.read_bytes() == before
    assert not (tmp_path / ".inspector").exists()  # refused before the run


@pytest.mark.caffe
def test_trace_failing_on_bad_input_leaves_the_existing_out_untouched(tmp_path):
    out = tmp_path / "report.json"
    out.write_text('{"the": "last good report"}')
    for fmt in ("json", "jsonl"):
        result = run_cli("trace", STATIC / "syntax_error.prototxt", "--format", fmt, "--out", out, cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert out.read_text() == '{"the": "last good report"}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


@pytest.mark.caffe
def test_trace_out_replaces_the_file_with_the_complete_report(tmp_path):
    out = tmp_path / "report.json"
    out.write_text("old")
    result = run_cli("trace", TRACE / "siamese.prototxt", "--iterations", "1", "--format", "json", "--out", out,
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(out.read_text())["completed"] is True


@pytest.mark.caffe
def test_last_trace_that_cannot_be_written_is_a_warning_and_the_report_is_kept(tmp_path):
    (tmp_path / ".inspector").write_text("a file where the folder would be")
    result = run_cli("trace", TRACE / "siamese.prototxt", "--iterations", "1", "--format", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["completed"] is True
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and f"cannot write {tmp_path / '.inspector'}" in warnings[0]


@pytest.mark.caffe
def test_trace_out_on_a_full_disk_exits_2_with_the_os_reason(tmp_path):
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    result = run_cli("trace", TRACE / "siamese.prototxt", "--iterations", "1", "--format", "json", "--out", "/dev/full",
                     cwd=tmp_path)
    assert result.returncode == 2
    assert "cannot write /dev/full: No space left on device" in result.stderr
    assert "internal error" not in result.stderr


@pytest.mark.caffe
def test_last_trace_json_is_strict_json(tmp_path):
    result = run_cli("trace", TRACE / "nan_diff.prototxt", "--iterations", "1", cwd=tmp_path)
    assert result.returncode in (0, 1), result.stderr
    text = (tmp_path / ".inspector" / "last-trace.json").read_text()

    def refuse(constant):
        raise AssertionError(f"non-standard JSON constant {constant}")

    data = json.loads(text, parse_constant=refuse)
    assert data["net"] == str(TRACE / "nan_diff.prototxt")


@pytest.mark.caffe
def test_a_nan_loss_is_null_in_trace_json_with_the_fact_kept_under_nonfinite(tmp_path):
    net = tmp_path / "nan_loss.prototxt"
    net.write_text('layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 4 dim: 6 } } }\n'
                   'layer { name: "log" type: "Log" bottom: "data" top: "log" }\n'  # log of negative data: NaN
                   'layer { name: "loss" type: "EuclideanLoss" bottom: "log" bottom: "data" top: "loss" }\n')
    result = run_cli("trace", net, "--iterations", "1", "--format", "json", cwd=tmp_path)

    def refuse(constant):
        raise AssertionError(f"non-standard JSON constant {constant}")

    for text in (result.stdout, (tmp_path / ".inspector" / "last-trace.json").read_text()):
        data = json.loads(text, parse_constant=refuse)
        report = data.get("report", data)
        assert report["losses"] == [None]
    assert json.loads(result.stdout)["nonfinite"] == {"/losses/0": "NaN"}
