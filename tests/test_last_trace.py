"""./.inspector/last-trace.json, the trace -> graph hand-off: one schema (inspector.last_trace) for writer and reader."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli

from inspector.errors import InputError
from inspector.graph import load_last_trace, load_shapes
from inspector.last_trace import VERSION, LastTrace, encode

NETS = Path(__file__).parent / "nets_static"
LENET = NETS / "v1_lenet.prototxt"


def write(folder: Path, text: str) -> Path:
    (folder / ".inspector").mkdir(exist_ok=True)
    path = folder / ".inspector" / "last-trace.json"
    path.write_text(text)
    return path


def test_what_the_writer_encodes_the_reader_reads_back(tmp_path):
    write(tmp_path, encode(LastTrace(str(LENET), "train", {"data": [64, 1, 28, 28]}, {"conv1": [[20, 1, 5, 5], [20]]},
                                     {"net": str(LENET), "losses": [1.5]})))
    shapes = load_last_trace(tmp_path)
    assert (shapes.net, shapes.phase) == (str(LENET), "TRAIN")
    assert shapes.blob_shapes == {"data": [64, 1, 28, 28]} and shapes.param_shapes == {"conv1": [[20, 1, 5, 5], [20]]}


def test_the_file_says_its_version_first_and_keeps_the_report():
    data = json.loads(encode(LastTrace(str(LENET), "test", {}, {}, {"losses": [float("nan")]})))
    assert list(data)[:5] == ["version", "net", "phase", "blob_shapes", "param_shapes"] and data["version"] == VERSION
    assert data["report"]["losses"] == [None] and data["nonfinite"] == {"/report/losses/0": "NaN"}  # strict JSON


def test_a_file_written_before_the_version_field_is_read_as_version_1(tmp_path):
    write(tmp_path, json.dumps({"net": str(LENET), "phase": "test", "blob_shapes": {"data": [1, 1, 28, 28]}}))
    assert load_last_trace(tmp_path).blob_shapes == {"data": [1, 1, 28, 28]}


def test_a_file_of_another_version_is_bad_input_saying_to_trace_again(tmp_path):
    write(tmp_path, json.dumps({"version": VERSION + 1, "net": str(LENET), "phase": "test", "blob_shapes": {}}))
    result = run_cli("graph", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"is of last-trace format {VERSION + 1}; this inspector reads format {VERSION}." in result.stderr
    assert "Run inspector trace NET again here, or give the net: inspector graph NET.prototxt." in result.stderr


def test_shapes_file_of_another_last_trace_version_is_refused_too(tmp_path):
    path = write(tmp_path, json.dumps({"version": "0.9", "net": str(LENET), "phase": "test", "blob_shapes": {}}))
    with pytest.raises(InputError, match=r"is of last-trace format '0\.9'"):
        load_shapes(path)


@pytest.mark.parametrize(("content", "says"), [
    ("[1, 2]", "holds a JSON list, not an object"),
    ('{"phase": "test", "blob_shapes": {}}', 'needs "net" and "phase" as text'),
    (f'{{"net": "{LENET}", "phase": "test"}}', 'has no "blob_shapes" object'),
    (f'{{"net": "{LENET}", "phase": "test", "blob_shapes": {{"data": "wide"}}}}', "must map blob names to lists"),
    ("{not json", "is not a readable JSON file"),
])
def test_a_file_not_of_the_schema_is_bad_input_naming_what_is_wrong(tmp_path, content, says):
    write(tmp_path, content)
    result = run_cli("graph", cwd=tmp_path)
    assert result.returncode == 2 and says in result.stderr and "Traceback" not in result.stderr
