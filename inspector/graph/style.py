"""How the graph looks: a layer's kind for colouring, its colours in drawings and in the terminal, node labels.

`layer_style` sorts a layer (by its node attributes) into python, loss, frozen, data or plain layer; the
exporters colour nodes by it (COLOURS), the text view colours table rows by it (ROW_STYLES), and the report
keeps it as each layer's "style". The label lines are what a drawn node says: a layer's name, its type or
module.Class, what --fold folded into it, its param_str (cut at PARAM_STR_SHOWN), loss weight, frozen, and
under --phase all the phases that keep it; a blob's label and its shape.
"""
from __future__ import annotations

from ..shapes import shape_text

COLOURS = {"python": "#ffd54f", "loss": "#ef9a9a", "frozen": "#cfd8dc", "layer": "#bbdefb", "data": "#c8e6c9"}
ROW_STYLES = {"python": "bold yellow", "loss": "red", "frozen": "dim", "data": "green", "layer": ""}
SEVERITY_STYLES = {"error": "bold red", "warning": "yellow", "info": "cyan"}
PARAM_STR_SHOWN = 60


def layer_style(attrs: dict) -> str:
    """What a layer is, for colouring: python, loss, frozen, data or plain layer."""
    if attrs.get("python"):
        return "python"
    if attrs.get("loss"):
        return "loss"
    if attrs.get("frozen"):
        return "frozen"
    if attrs.get("type", "").endswith("Data") or attrs.get("type") == "Input":
        return "data"
    return "layer"


def layer_label_lines(attrs: dict, phase_mode: str) -> list[str]:
    lines = [attrs["name"], attrs["python"] if attrs.get("python") else attrs["type"]]
    if attrs.get("folded"):
        lines.append("+ " + " + ".join(attrs["folded"]))
    if attrs.get("param_str"):
        text = attrs["param_str"]
        lines.append(text if len(text) <= PARAM_STR_SHOWN else text[: PARAM_STR_SHOWN - 3] + "...")
    if attrs.get("loss"):
        lines.append("loss_weight " + ", ".join(f"{w:g}" for w in attrs["loss_weights"] if w))
    if attrs.get("frozen"):
        lines.append("frozen (lr_mult 0)")
    if phase_mode == "ALL" and len(attrs["phases"]) != 2:
        lines.append("[" + ("/".join(attrs["phases"]) or "no phase") + " only]")
    return lines


def blob_label_lines(attrs: dict) -> list[str]:
    shape = shape_text(attrs.get("shape"))
    return [attrs["label"]] + ([shape] if shape else [])
