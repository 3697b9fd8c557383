"""Views of result objects: text (rich), markdown and JSON.

Result objects hold facts and know how to turn themselves into plain data (`to_dict()`), a rich
renderable (`__rich_console__`) and, where a document makes sense, markdown (`to_markdown()`).
The JSON view is `to_dict()` serialized, so text and JSON never disagree.

JSON is strict RFC 8259 (`strict_json`): a NaN or infinite number becomes null and its place is
listed, as a JSON pointer, in a top-level "nonfinite" object ({"/losses/0": "NaN"}).
User text (layer and blob names, paths, param_str, parser messages) is data: every console made
here has markup and emoji codes off, so `[red]` and `:smile:` print as written, and escapes the
control characters a prototxt may carry (ESC, OSC, bidi overrides) as `\\xNN` before they reach
the terminal. Styled words are Text objects, never markup strings.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import sys
from enum import Enum
from pathlib import Path
from typing import IO, Any

import orjson
from rich.console import Console
from rich.segment import Segment
from rich.text import Text

FORMATS = ("text", "json", "markdown")


def to_plain(value: Any) -> Any:
    """Dataclasses, paths, enums, tuples and numpy scalars -> JSON-ready values."""
    if hasattr(value, "to_dict") and not isinstance(value, type):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        return value.item()
    return value


NONFINITE_KEY = "nonfinite"
_NONFINITE_NAMES = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def _pointer_part(key: Any) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")  # RFC 6901


def without_nonfinite(value: Any, pointer: str = "", found: dict[str, str] | None = None) -> Any:
    """Plain data with every NaN/Infinity replaced by None; `found` gets {JSON pointer: "NaN"|"Infinity"|...}."""
    if isinstance(value, float) and not math.isfinite(value):
        if found is not None:
            found[pointer] = _NONFINITE_NAMES[repr(value)]
        return None
    if isinstance(value, dict):
        return {k: without_nonfinite(v, f"{pointer}/{_pointer_part(k)}", found) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [without_nonfinite(v, f"{pointer}/{i}", found) for i, v in enumerate(value)]
    return value


def strict_json(data: Any, indent: int | None = 2) -> str:
    """Plain data as strict JSON: non-finite numbers null, their places listed under "nonfinite"."""
    if indent == 2:
        try:  # json's C encoder finds a non-finite number fastest; orjson indents 15x faster than json
            json.dumps(data, allow_nan=False)
            return orjson.dumps(data, option=orjson.OPT_INDENT_2).decode()
        except (ValueError, TypeError):  # a non-finite number (listed below), or a value orjson refuses
            pass
    found: dict[str, str] = {}
    data = without_nonfinite(data, "", found)
    if found and isinstance(data, dict) and NONFINITE_KEY not in data:
        data[NONFINITE_KEY] = found
    return json.dumps(data, indent=indent, allow_nan=False)


def to_json(result: Any, indent: int | None = 2) -> str:
    return strict_json(to_plain(result), indent)


# C0 and C1 controls (but newline and tab, which lay text out), DEL, and the bidi overrides
# that reorder what a terminal shows.
_TERMINAL_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escaped(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_control(text: str) -> str:
    """Text with its control characters (ESC, BEL, CR, bidi overrides ...) written as \\xNN / \\uNNNN."""
    return _TERMINAL_UNSAFE.sub(_escaped, text)


class SafeConsole(Console):
    """A rich Console for reports holding user text: no markup, no emoji codes, control characters escaped."""

    def __init__(self, **kwargs: Any):
        kwargs.update(markup=False, emoji=False, highlight=False)
        super().__init__(**kwargs)

    def render_str(self, text: str, **kwargs: Any):
        return super().render_str(escape_control(text), **kwargs)

    def render(self, renderable, options=None):
        if isinstance(renderable, Text) and _TERMINAL_UNSAFE.search(renderable.plain):
            renderable = self._escaped(renderable)  # before layout, so widths are the escaped text's
        for segment in super().render(renderable, options):
            # what is not a Text (a string a renderable made) is escaped here; rich's own control codes pass
            if segment.control or not _TERMINAL_UNSAFE.search(segment.text):
                yield segment
            else:
                yield Segment(escape_control(segment.text), segment.style)

    def _escaped(self, text: Text) -> Text:
        """A copy of a Text with its control characters escaped, each run keeping its style."""
        copy = text.blank_copy()
        for run in text.render(self, end=""):
            copy.append(escape_control(run.text), run.style)
        return copy


# Piped output (a log, a file, a pasted report) is read later on a wide screen: rich's 80 columns
# would fold every file:line and shape, so a pipe gets this width unless COLUMNS says otherwise.
PIPE_WIDTH = 120
# A text report written to a file (--out) is for reading later, never for a terminal's width.
FILE_WIDTH = 200


def stdout_console() -> Console:
    width = None
    if not sys.stdout.isatty() and not os.environ.get("COLUMNS"):
        width = PIPE_WIDTH
    return SafeConsole(soft_wrap=False, width=width)


def stderr_console() -> Console:
    return SafeConsole(stderr=True, soft_wrap=True)  # a message is never folded mid-path


def emit(result: Any, fmt: str, stream: IO[str] | None = None) -> None:
    """Print a result object in the chosen format on stdout, or into `stream` (a file: full width)."""
    out = stream or sys.stdout
    if fmt == "json":
        out.write(to_json(result) + "\n")
    elif fmt == "markdown":
        if not hasattr(result, "to_markdown"):
            raise ValueError(f"{type(result).__name__} has no markdown view")
        out.write(escape_control(result.to_markdown()).rstrip() + "\n")
    elif stream is not None:
        SafeConsole(file=stream, width=FILE_WIDTH, soft_wrap=False).print(result)
    else:
        stdout_console().print(result)
