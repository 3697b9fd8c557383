"""The contract checks as one table (inspector/trace/contract.py): README's lists are written from it, a finding
takes its severity, message and fix from its row, and an id or case the table lacks is refused, so no check can
fire that the table (and so README) does not list. Each check firing on a real net is in test_trace.py and
test_training.py; every emitter goes through the table, so each of those tests also proves its id is a row."""
import pytest

from conftest import REPO
from inspector.trace.contract import CHECKS, ROWS, SEVERITIES, UnknownCheck, finding, readme_list, with_readme_lists
from inspector.trace.tracer import Tracer


def test_readme_lists_are_the_tables_as_scripts_readme_checks_writes_them():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert with_readme_lists(readme) == readme, "README's check lists are stale: run scripts/readme-checks"


def test_readme_lists_every_id_of_a_view_under_its_severity_and_no_other():
    listed = {}
    for view in ("net", "training"):
        severity = None
        for line in readme_list(view).splitlines():
            if line.startswith(("Errors", "Warnings", "Info")):
                severity = {"E": "error", "W": "warning", "I": "info"}[line[0]]
            elif line.startswith("- `"):
                listed.setdefault(line[3:line.index("`", 3)], set()).add(severity)
    assert listed == {row.id: {r.severity for r in ROWS if r.id == row.id} for row in ROWS}


def test_a_finding_takes_severity_message_and_fix_from_its_row():
    event = finding("zero_diff", "loss", "backward", 3, "bottom[0]", index=0, calls=4)
    assert event == {
        "event": "finding", "check": "zero_diff", "severity": "warning", "layer": "loss", "method": "backward",
        "iteration": 3, "blob": "bottom[0]",
        "message": "backward left bottom[0].diff all zero in every one of its 4 call(s) although propagate_down[0] "
                   "is true and its top diff was not zero.",
        "fix": "Assign the gradient to bottom[0].diff[...]; `inspector gradcheck NET --layer loss` shows whether it "
               "should be zero."}


def test_backward_never_called_is_a_warning_without_a_loss_and_info_when_caffe_skips_it_as_the_net_says():
    reason = "a reason"
    assert finding("backward_never_called", "l", "backward", 1, case="no_loss", reason=reason)["severity"] == "warning"
    assert finding("backward_never_called", "l", "backward", 1, case="propagate_down", reason=reason)["severity"] \
        == "info"
    assert finding("backward_never_called", "l", "backward", 1, case="not_needed", reason=reason)["fix"] == \
        "Add `force_backward: true` to the net to run its backward anyway."


def test_an_id_the_table_lacks_is_refused():
    with pytest.raises(UnknownCheck, match="no contract check 'made_up_check'"):
        finding("made_up_check", "l", "forward", 1)


def test_a_case_the_table_lacks_is_refused_and_the_cases_it_has_are_named():
    with pytest.raises(UnknownCheck, match="its cases: no_loss, not_needed, propagate_down"):
        finding("backward_never_called", "l", "backward", 1, reason="r")


def test_the_tracer_refuses_an_id_the_table_lacks_and_sends_nothing():
    events = []
    tracer = Tracer(events.append)
    with pytest.raises(UnknownCheck):
        tracer.finding("made_up_check", "l", "forward")
    assert events == []


def test_the_tracer_sends_a_finding_once_per_check_layer_method_and_blob():
    events = []
    tracer = Tracer(events.append, iteration=2)
    for _ in range(2):
        tracer.finding("nonfinite_output", "l", "forward", blob="top[0]", nan=1, inf=0)
    tracer.finding("nonfinite_output", "l", "forward", blob="top[1]", nan=0, inf=2)
    assert [(e["blob"], e["iteration"], e["message"]) for e in events] == [
        ("top[0]", 2, "forward wrote 1 NaN and 0 Inf values to top[0]."),
        ("top[1]", 2, "forward wrote 0 NaN and 2 Inf values to top[1].")]


def test_every_row_has_a_known_severity_a_condition_a_message_and_a_fix_under_a_key_of_its_own():
    assert len(CHECKS) == len(ROWS)
    for row in ROWS:
        assert row.severity in SEVERITIES and row.view in ("net", "training")
        assert row.condition and row.message and row.fix, row.key


def test_rows_of_one_id_share_a_view_and_cases_tell_them_apart():
    for check_id in {row.id for row in ROWS}:
        rows = [row for row in ROWS if row.id == check_id]
        assert len({row.view for row in rows}) == 1
        if len(rows) > 1:
            assert all(row.case for row in rows) or sum(not row.case for row in rows) == 1, check_id
