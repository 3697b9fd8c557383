"""The contract checks of trace, as one table: each row an id, a severity, the condition in words, the message
template and the fix, for the net view (`inspector trace NET`) and the training view (`inspector trace SOLVER`).

How: the code that sees a condition calls `finding(id, layer, method, iteration, blob, case=..., **values)`,
which looks the row up, fills its message and fix templates (str.format: `{index}`, `{before:.4g}`) with
the values and the finding's own layer, method, iteration and blob, and returns the "finding" event. An id
or case not in the table is refused (UnknownCheck), so no check can be emitted that the table, and so the
README list (scripts/readme-checks writes it from ROWS), does not have.

A check whose severity or fix depends on why it fired has one row per reason, told apart by `case`
(backward_never_called: warning when no loss is above the layer, info when Caffe skips the backward as
the net says). A row's `condition` is the README's words; rows of one id and severity that share a
condition are listed once.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning", "info"]
View = Literal["net", "training"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")


class UnknownCheck(KeyError):
    """A finding was asked for an id (or id and case) the table does not have."""


@dataclass(frozen=True)
class Check:
    """One row of the table: a contract check (or one case of it) and what it says when it fires."""

    id: str
    severity: Severity
    view: View
    condition: str  # when it fires, in the README's words
    message: str  # templates over the finding's layer, method, iteration, blob and the emitter's values
    fix: str
    case: str = ""  # the reason, for a check with a row per reason

    @property
    def key(self) -> str:
        return f"{self.id}/{self.case}" if self.case else self.id

    def text(self, **values) -> str:
        """The message with its fields filled."""
        return self.message.format(**values)

    def finding(self, layer: str, method: str, iteration: int, blob: str | None = None, **values) -> dict:
        """The "finding" event of this row."""
        fields = {"layer": layer, "method": method, "iteration": iteration, "blob": blob, **values}
        return {"event": "finding", "check": self.id, "severity": self.severity, "layer": layer, "method": method,
                "iteration": iteration, "blob": blob, "message": self.message.format(**fields),
                "fix": self.fix.format(**fields)}


# conditions shared by the rows of one check (rows of one id and severity with one condition are listed once)
NONFINITE_LOSS = "a NaN or Inf loss (with the first layer whose top is not finite)"
SKIPPED_BY_NET = "backward never called for another reason (`propagate_down: false`, nothing below needs a gradient)"
RATIO_OUTSIDE = "an update ratio that stays outside 1e-5..1e-1 to the end of the run"
GUARD = "Guard divisions and logs (add an epsilon, clip) in {method}."
NOT_COMPARED = "a probe that could not compare its passes (shapes or randomness that reseeding does not reach)"
SHAPE_AFTER_RESHAPE = "a top whose shape changed after `reshape` (a layer above reshaping its bottoms)"
NONFINITE_LOSS_FIX = ("Find where the NaN or Inf starts (the call log shows NaN/Inf counts per call); guard divisions "
                      "and logs, lower the learning rate or the inputs' scale.")
NOT_CALLED = "Caffe never called backward: {reason}."
UPDATE_RATIO = ("{blob}: the update ratio ||dw||/||w|| stayed {side} {bound:g} from iteration {iteration} to the end "
                "(last {last:.3g}; healthy is about 1e-3).")

ROWS: tuple[Check, ...] = (
    # -- the net view: errors (exit code 1) --
    Check("shape_changed_after_reshape", "error", "net", SHAPE_AFTER_RESHAPE,
          "the tops were {found} at forward, not the {left} reshape left.",
          "Set top shapes only in reshape() and do not reshape them elsewhere.", case="forward"),
    Check("shape_changed_after_reshape", "error", "net", SHAPE_AFTER_RESHAPE,
          "the tops were {found} at backward, not the {left} its reshape() left: a layer above reshaped them as its "
          "bottoms, or this layer did after reshape().",
          "Reshape a blob only in the reshape() of the layer whose top it is; a layer above should reshape its own "
          "tops, never its bottoms.", case="backward"),
    Check("bottom_modified", "error", "net", "bottom data modified by `forward`",
          "forward changed {blob}.data, which other layers read too.",
          "Work on a copy (bottom[i].data.copy()) instead of writing to a bottom."),
    Check("lossy_write", "error", "net", "writes that lose values in Caffe's float32 (overflow to Inf, underflow to "
          "zero, integers past 2^24)",
          "{method} wrote to {blob}.{part}: {problem}.",
          "Compute in a range float32 holds and assign float32 values, e.g. {blob}.{part}[...] = "
          "values.astype(np.float32)."),
    Check("nonfinite_output", "error", "net", "NaN/Inf in a top written by `forward`",
          "forward wrote {nan} NaN and {inf} Inf values to {blob}.", GUARD),
    Check("nonfinite_diff", "error", "net", "NaN/Inf in a bottom diff written by `backward`",
          "backward wrote {nan} NaN and {inf} Inf values to {blob}.diff.", GUARD),
    Check("nonfinite_loss", "error", "net", NONFINITE_LOSS,
          "the loss is {loss} at iteration {iteration}; the first non-finite top is {top!r} of layer {layer!r}.",
          NONFINITE_LOSS_FIX),
    Check("nonfinite_loss", "error", "net", NONFINITE_LOSS,
          "the loss is {loss} at iteration {iteration}.", NONFINITE_LOSS_FIX, case="no_top"),
    Check("diff_accumulates", "error", "net", "diffs accumulated with `+=` (the same batch twice, numpy, `random` "
          "and Caffe reseeded)",
          "{blob}.diff grew from norm {before:.4g} to {after:.4g} between two identical passes: backward adds to "
          "the diff instead of assigning it.",
          "Assign the gradient ({blob}.diff[...] = g), do not accumulate (+=); Caffe does not clear bottom diffs "
          "between iterations."),
    Check("loss_ignores_top_diff", "error", "net", "a loss ignoring `top[0].diff`",
          "doubling top[0].diff left the bottom diffs unchanged: backward ignores top[0].diff, so loss_weight has "
          "no effect on this loss.",
          "Multiply the gradient by top[0].diff[0] (Caffe puts the loss_weight there)."),
    Check("param_str_fork_name", "error", "net", "`param_str_` (a fork's name) read",
          "the layer reads self.param_str_, which this Caffe never sets (a fork's name); BVLC Caffe sets "
          "self.param_str.",
          "Read self.param_str instead of self.param_str_."),
    # -- the net view: warnings --
    Check("zero_diff", "warning", "net", "a bottom diff left all zero under a non-zero top diff in every backward "
          "of the run (a hinge loss that writes zero only while its margins hold, as the triplet loss does, is no "
          "finding)",
          "backward left {blob}.diff all zero in every one of its {calls} call(s) although propagate_down[{index}] "
          "is true and its top diff was not zero.",
          "Assign the gradient to {blob}.diff[...]; `inspector gradcheck NET --layer {layer}` shows whether it "
          "should be zero."),
    Check("param_str_unread", "warning", "net", "`param_str` given but never read",
          "the layer was given param_str {param_str!r} but never read self.param_str.",
          "Parse self.param_str in setup(), or drop the param_str from the prototxt."),
    Check("backward_never_called", "warning", "net", "backward never called because no loss is above the layer",
          NOT_CALLED, "Add a loss above it (a layer with loss_weight) if it should learn.", case="no_loss"),
    # -- the net view: info notes (never a failure) --
    Check("backward_never_called", "info", "net", SKIPPED_BY_NET,
          NOT_CALLED, "Set propagate_down: true (or remove it) on the layer above.", case="propagate_down"),
    Check("backward_never_called", "info", "net", SKIPPED_BY_NET,
          NOT_CALLED, "Add `force_backward: true` to the net to run its backward anyway.", case="not_needed"),
    Check("no_gradient_reaches", "info", "net", "a zero bottom diff because the top diff was zero (no loss above, "
          "the layers above passed none down; with why)",
          "its top diffs were all zero, so the zero bottom diffs it wrote are right: {reason}.",
          "Nothing to fix in this layer's backward."),
    Check("reshape_in_forward", "info", "net", "a top reshaped in `forward` that is a net output",
          "forward reshaped {blob} from {before} to {after}; it is a net output, so code reading it after "
          "net.reshape() and before forward sees the old shape.",
          "Nothing to fix for Caffe; read the output after forward."),
    Check("probe_skipped", "info", "net", NOT_COMPARED,
          "the accumulation probe could not compare {blob}.diff: its shape changed between two identical passes "
          "({first} then {second}).",
          "Nothing to fix; the check needs the same shapes on the same batch.", case="shape"),
    Check("probe_skipped", "info", "net", NOT_COMPARED,
          "the accumulation probe could not compare {blob}.diff: identical passes, with numpy, random and Caffe "
          "reseeded, gave different diffs (randomness of the layer's own, or of a layer below).",
          "Nothing to fix; the check needs repeatable passes.", case="randomness"),
    # -- the training view --
    Check("nonfinite_training", "error", "training", "the first NaN or Inf of the run, in a top, a bottom diff or "
          "the weights after an update (training stops there)",
          "first non-finite value: {what} {blob}.{part} in layer {layer} at iteration {iteration}{grain}.",
          "Look at the layer's last finite statistics below; guard divisions and logs, lower base_lr, or clip "
          "gradients (clip_gradients in the solver)."),
    Check("frozen_changed", "error", "training", "a frozen blob (`lr_mult: 0`) that changed, whatever wrote it",
          "{blob} has lr_mult 0 (frozen) but changed by norm {change:.4g} since training began.",
          "Find what writes the blob (a Python layer assigning self.blobs, a shared param with lr_mult > 0)."),
    Check("flat_loss", "warning", "training", "a loss that has not moved",
          "the output {layer} stayed at {value:.6g} from iteration {iteration} to the end ({held} iterations): "
          "nothing below it learns.",
          "Check that backward assigns bottom diffs, that lr_mult is not 0 everywhere, and that base_lr is not 0."),
    Check("update_ratio", "warning", "training", RATIO_OUTSIDE,
          UPDATE_RATIO, "Lower base_lr (or this blob's lr_mult) when above; raise them when below.", case="above"),
    Check("update_ratio", "warning", "training", RATIO_OUTSIDE,
          UPDATE_RATIO, "Raise base_lr (or this blob's lr_mult); or it is meant to learn slowly.", case="below"),
    Check("exploding_gradient", "warning", "training", "a gradient norm 100 times its early median",
          "{blob}: the gradient norm passed {factor:g} times its median over the first {baseline} iterations at "
          "iteration {iteration} (max {largest:.4g}).",
          "Lower base_lr, or set clip_gradients in the solver."),
    Check("dead_relu", "warning", "training", "a ReLU whose top stays all zero",
          "every value of {layer}'s top was zero from iteration {iteration} to the end: the ReLU passes no gradient.",
          "Lower base_lr, check the layer below's initialisation and bias, or use a leaky ReLU (negative_slope)."),
)

CHECKS: dict[str, Check] = {row.key: row for row in ROWS}


def check(check_id: str, case: str = "") -> Check:
    """The row of a check (and case); UnknownCheck when the table has none."""
    row = CHECKS.get(f"{check_id}/{case}" if case else check_id)
    if row is None:
        cases = sorted(row.case or "(none)" for row in ROWS if row.id == check_id)
        known = f"; its cases: {', '.join(cases)}" if cases else ""
        raise UnknownCheck(f"no contract check {check_id!r}{f' case {case!r}' if case else ''} in the table{known}")
    return row


def finding(check_id: str, layer: str, method: str, iteration: int, blob: str | None = None, case: str = "",
            **values) -> dict:
    """The "finding" event of a check, from its row in the table (refuses an id or case the table lacks)."""
    return check(check_id, case).finding(layer, method, iteration, blob, **values)


KIND_TEXT = {"nan": "NaN", "inf": "Inf"}  # a non-finite value's kind, as messages write it
SEVERITY_HEADINGS = {"error": "Errors (exit code 1):", "warning": "Warnings:", "info": "Info notes (never a failure):"}


def readme_list(view: View) -> str:
    """The README's list of a view's checks, by severity: one line an id and severity, its rows' conditions."""
    blocks = []
    for severity in SEVERITIES:
        conditions: dict[str, list[str]] = {}
        for row in ROWS:
            if row.view == view and row.severity == severity and row.condition not in conditions.get(row.id, []):
                conditions.setdefault(row.id, []).append(row.condition)
        if conditions:
            lines = [f"- `{check_id}`: {'; or '.join(texts)}." for check_id, texts in conditions.items()]
            blocks.append(SEVERITY_HEADINGS[severity] + "\n\n" + "\n".join(lines))
    return "\n\n".join(blocks)


README_START = "<!-- checks: {view} (scripts/readme-checks writes this list from inspector/trace/contract.py) -->"
README_END = "<!-- end of checks: {view} -->"


def with_readme_lists(readme: str) -> str:
    """README's text with each view's list between its markers written again from the table (a view whose
    markers are missing raises ValueError: the list would silently go stale)."""
    for view in ("net", "training"):
        start, end = README_START.format(view=view), README_END.format(view=view)
        before, found, rest = readme.partition(start)
        _, found_end, after = rest.partition(end)
        if not (found and found_end):
            raise ValueError(f"README has no {start} ... {end} markers")
        readme = f"{before}{start}\n{readme_list(view)}\n{end}{after}"
    return readme
