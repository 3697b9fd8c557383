"""The explain cache holds data, not code: JSON entries from the report's own view, private to
their owner, keyed by inspector's explain code, and rebuilt when an entry does not parse."""
from __future__ import annotations

import json
import os
import pickle
import shutil
import stat
from pathlib import Path

import pytest

from inspector import explain as explain_module
from inspector.explain import _entry_path, cache_dir, explain
from inspector.explain.locate import resolve_target
from inspector.explain.report import ExplainReport

VARIANTS = Path(__file__).parent / "explain_variants"


@pytest.fixture
def header(tmp_path, monkeypatch):
    monkeypatch.setenv("INSPECTOR_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "python_layer.hpp"
    shutil.copy(VARIANTS / "dtype_mitype_motype.hpp", path)
    return path


def entry_of(header: Path) -> Path:
    from inspector import caffe_env

    target = resolve_target(str(header))
    return _entry_path(target, caffe_env.caffe_compile_flags(target.root))


def test_cache_entry_is_the_reports_json_view(header):
    report = explain(str(header))
    stored = json.loads(entry_of(header).read_text())
    assert stored["report"] == report.to_dict()
    assert str(header) in stored["files"]


def test_report_round_trips_through_its_json_view(header):
    report = explain(str(header), use_cache=False)
    again = ExplainReport.from_dict(json.loads(json.dumps(report.to_dict())))
    assert again.to_dict() == report.to_dict()
    assert again.to_markdown() == report.to_markdown()


def test_cache_folder_and_entries_are_private(header, tmp_path):
    (tmp_path / "cache").mkdir(mode=0o755)
    explain(str(header))
    assert stat.S_IMODE(cache_dir().stat().st_mode) == 0o700
    assert stat.S_IMODE(entry_of(header).stat().st_mode) == 0o600


def test_a_pickle_in_the_cache_is_never_run(header, tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    entry = entry_of(header)
    entry.parent.mkdir(parents=True)
    entry.write_bytes(pickle.dumps({"format": explain_module.CACHE_FORMAT, "files": {}, "report": Payload()}))
    report = explain(str(header))
    assert not marker.exists()
    assert report.guards[0].message == "PythonLayer does not support CLI Multi-GPU, use train.py"


def test_an_entry_that_does_not_parse_is_rebuilt(header):
    explain(str(header))
    entry = entry_of(header)
    entry.write_text('{"format": 3, "files": {}, "report": {"file": 1}}')
    assert explain(str(header)).cls.name == "PythonLayer"
    assert json.loads(entry.read_text())["report"]["class"]["name"] == "PythonLayer"


def test_a_change_to_the_explain_code_is_a_new_entry(header, monkeypatch):
    before = entry_of(header)
    monkeypatch.setattr(explain_module, "code_digest", lambda: "another version of the parser")
    assert entry_of(header) != before


def test_unchanged_files_are_a_hit_with_the_same_report(header):
    first = explain(str(header))
    second = explain(str(header))
    assert second.to_dict() == first.to_dict() and second.files_read == first.files_read
