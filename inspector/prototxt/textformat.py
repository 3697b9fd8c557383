"""A tolerant reader of protobuf text format that needs no schema (no Caffe, no caffe_pb2).

Two passes:
1. tokenize: one compiled regular expression walks the text and yields (kind, text, offset)
   tokens: strings in either quote kind, numbers, identifiers (enums, true/false, field names),
   punctuation; `#` comments and whitespace are skipped.
2. parse: a recursive descent over the tokens builds generic `Message`s, ordered lists of
   (field, value) pairs. Nested blocks may be written `name { ... }`, `name: { ... }` or with
   angle brackets; `field: [a, b]` lists are expanded into repeated fields; adjacent strings
   are concatenated; `;` and `,` between fields are accepted.

Without the schema a field's kind comes from its spelling: quoted text is a `str`, a bare word
is an `Ident` (an enum value such as CONVOLUTION or TRAIN), digits are int or float. Positions
are kept (the line of each message, the line and column of each field), so errors read
FILE:LINE:COL; the typed readers (`Message.integer`, `Message.number`) give the same position
for a value of the wrong kind (`dim: 1e400`, `dim { }`, `dim: "3"`).

What protobuf's own text parser refuses is refused here too, as a syntax error: a bad escape
(`\\x` without hex digits, an unknown `\\q`), an integer too long to read, nesting deeper
than protobuf's recursion limit (100). Newlines are `\\n` only, as protobuf's tokenizer has
them: a lone CR inside a comment stays in the comment.
"""
from __future__ import annotations

import bisect
import re
import sys
from dataclasses import dataclass, field
from typing import NoReturn, Union, overload

from ..errors import InputError

SYNTAX_REMEDY = ("Fix the prototxt at that position: fields are written `name: value` or "
                 "`name { ... }`, strings are quoted, blocks are closed with `}`.")


class Ident(str):
    """A bare word in a value position: an enum value (CONVOLUTION, TRAIN) or true/false."""


Value = Union[str, Ident, int, float, "Message"]


@dataclass
class Message:
    """A generic text-format message: its fields in file order, repeated names allowed."""

    fields: list[tuple[str, Value]] = field(default_factory=list)
    line: int = 0
    # each field's offset in the text, made (line, col) only for an error: an int a field, not a tuple
    positions: list[int] = field(default_factory=list, repr=False)
    source: str = field(default="<text>", repr=False)
    line_starts: list[int] = field(default_factory=list, repr=False, compare=False)  # the text's, shared

    def position(self, name: str) -> tuple[int, int]:
        """(line, col) of the last field with this name (the message's own line when unknown)."""
        for index in range(len(self.fields) - 1, -1, -1):
            if self.fields[index][0] == name and index < len(self.positions) and self.line_starts:
                return line_and_column(self.line_starts, self.positions[index])
        return self.line, 1

    def _value_error(self, name: str, value, expected: str) -> TextFormatError:
        shown = "a block { ... }" if isinstance(value, Message) else repr(value) if isinstance(value, str) \
            and not isinstance(value, Ident) else str(value)
        line, col = self.position(name)
        return PrototxtValueError(self.source, line, col, f"field '{name}' expects {expected}, not {shown}")

    def _as_integer(self, name: str, value) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise self._value_error(name, value, "an integer")

    def _as_number(self, name: str, value) -> float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise self._value_error(name, value, "a number")

    @overload
    def integer(self, name: str) -> int | None: ...
    @overload
    def integer(self, name: str, default: int) -> int: ...

    def integer(self, name: str, default: int | None = None) -> int | None:
        """The last value of an integer field; PrototxtValueError (FILE:LINE:COL) for anything else."""
        return self._as_integer(name, self.get(name)) if self.has(name) else default

    def integers(self, name: str) -> list[int]:
        return [self._as_integer(name, value) for value in self.get_all(name)]

    @overload
    def number(self, name: str) -> float | None: ...
    @overload
    def number(self, name: str, default: float) -> float: ...

    def number(self, name: str, default: float | None = None) -> float | None:
        """The last value of a float field (an integer is a float too); PrototxtValueError for anything else."""
        return self._as_number(name, self.get(name)) if self.has(name) else default

    def numbers(self, name: str) -> list[float]:
        return [self._as_number(name, value) for value in self.get_all(name)]

    def get(self, name: str, default=None):
        """The last value of a field (protobuf text format keeps the last of a singular field)."""
        for key, value in reversed(self.fields):
            if key == name:
                return value
        return default

    def get_all(self, name: str) -> list:
        return [value for key, value in self.fields if key == name]

    def has(self, name: str) -> bool:
        return any(key == name for key, _ in self.fields)

    def names(self) -> list[str]:
        """The distinct field names, in order of first appearance."""
        return list(dict.fromkeys(key for key, _ in self.fields))

    def to_dict(self) -> dict:
        """Plain data: a field seen once is a value, a repeated one a list; messages nest."""
        out: dict = {}
        for key, value in self.fields:
            plain = value.to_dict() if isinstance(value, Message) else value
            if key in out:
                if not isinstance(out[key], list) or key not in self._repeated_keys():
                    out[key] = [out[key]]
                out[key].append(plain)
            else:
                out[key] = plain
        return out

    def _repeated_keys(self) -> set[str]:
        seen: set[str] = set()
        repeated: set[str] = set()
        for key, _ in self.fields:
            (repeated if key in seen else seen).add(key)
        return repeated


# Whitespace and comments are skipped in front of each token by the same match (one match a token,
# not three: half the reading time of a big net); anything else is a `bad` token; `end` ends the text.
_TOKEN = re.compile(r"""
    (?:[ \t\r\f\v\n]+|\#[^\n]*)*
    (?:
    (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<number>[-+]?(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?[fF]?)(?![A-Za-z_0-9]))
  | (?P<ident>-?[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<punct>[{}:;,<>\[\]])
  | (?P<unclosed>["'][^\n]*)
  | (?P<bad>.)
  | (?P<end>\Z)
    )""", re.VERBOSE)

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v",
            "\\": "\\", "'": "'", '"': '"', "?": "?"}
_ESCAPE_RE = re.compile(r"\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)", re.DOTALL)


class BadEscape(ValueError):
    """An escape protobuf's tokenizer refuses; offset is where it starts in the string's body."""

    def __init__(self, offset: int, escape: str):
        super().__init__(escape)
        self.offset, self.escape = offset, escape


def _escape_bytes(match: re.Match) -> bytes:
    code = match.group(1)
    if code[0] == "x" and len(code) > 1:
        return bytes([int(code[1:], 16)])
    if code[0] in "01234567":
        return bytes([int(code, 8) & 0xFF])  # protobuf keeps the low byte of \\777
    if code[0] in "uU" and len(code) > 1:
        try:
            return chr(int(code[1:], 16)).encode("utf-8")
        except (ValueError, UnicodeEncodeError):  # beyond U+10FFFF, or a lone surrogate
            raise BadEscape(match.start(), match.group()) from None
    if code in _ESCAPES:
        return _ESCAPES[code].encode()
    raise BadEscape(match.start(), match.group())


def _unescape(body: str) -> str:
    """A string literal's text: escapes spell bytes (UTF-8, as protobuf writes non-ASCII text)."""
    if "\\" not in body:
        return body
    data, last = bytearray(), 0
    for match in _ESCAPE_RE.finditer(body):
        data += body[last:match.start()].encode("utf-8")
        data += _escape_bytes(match)
        last = match.end()
    data += body[last:].encode("utf-8")
    return data.decode("utf-8", errors="backslashreplace")  # bytes that are not UTF-8 stay visible as \\xNN


class TextFormatError(InputError):
    """A syntax error, with the position it was found at."""

    def __init__(self, source: str, line: int, col: int, expected: str, near: str):
        where = f"{source}:{line}:{col}"
        near_text = "end of file" if near == "" else f"'{near}'"
        super().__init__(f"{where}: expected {expected} near {near_text}", SYNTAX_REMEDY)
        self.source, self.line, self.col, self.near = source, line, col, near


class PrototxtValueError(TextFormatError):
    """A value Caffe's parser refuses (out of range, the wrong kind for its field), with its position."""

    def __init__(self, source: str, line: int, col: int, problem: str,
                 remedy: str = "Fix the value at that position; Caffe's parser refuses it too."):
        InputError.__init__(self, f"{source}:{line}:{col}: {problem}", remedy)
        self.source, self.line, self.col, self.near = source, line, col, ""


# protobuf's TextFormat::Parser default recursion limit: deeper nesting is refused, as Caffe refuses it.
MAX_NESTING = 100


def line_and_column(line_starts: list[int], offset: int) -> tuple[int, int]:
    """1-based (line, col) of a character offset, from the offsets where the text's lines start."""
    index = bisect.bisect_right(line_starts, offset) - 1
    return index + 1, offset - line_starts[index] + 1


class _Parser:
    def __init__(self, text: str, source: str):
        self.text = text
        self.source = source
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.tokens = self._tokenize()
        self.pos = 0

    def _tokenize(self) -> list[tuple[str, str, int]]:
        tokens: list[tuple[str, str, int]] = []
        append = tokens.append
        for m in _TOKEN.finditer(self.text):
            kind = m.lastgroup
            assert kind is not None  # every alternative of _TOKEN is a named group
            if kind == "end":
                break
            offset = m.start(kind)
            if kind == "bad":
                self._fail_at(offset, "a field, value or punctuation", m.group(kind))
            if kind == "unclosed":
                self._fail_at(offset, "a closing quote on the same line", m.group(kind)[:20])
            append((kind, m.group(kind), offset))
        return tokens

    def position(self, offset: int) -> tuple[int, int]:
        return line_and_column(self.line_starts, offset)

    def _fail_at(self, offset: int, expected: str, near: str) -> NoReturn:
        line, col = self.position(offset)
        raise TextFormatError(self.source, line, col, expected, near)

    def fail(self, expected: str) -> NoReturn:
        if self.pos < len(self.tokens):
            _, text, offset = self.tokens[self.pos]
            self._fail_at(offset, expected, text)
        self._fail_at(len(self.text), expected, "")

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def parse(self) -> Message:
        message = self.message(closer=None, line=1)
        return message

    def message(self, closer: str | None, line: int, depth: int = 0) -> Message:
        message = Message(line=line, source=self.source, line_starts=self.line_starts)
        tokens = self.tokens
        while True:
            if self.pos >= len(tokens):
                if closer is not None:
                    self.fail(f"'{closer}' to close the block opened on line {line}")
                return message
            kind, text, offset = tokens[self.pos]
            if kind == "punct":
                if text == closer:
                    self.pos += 1
                    return message
                if text in ";,":
                    self.pos += 1
                    continue
                if text == "[":  # extension or Any field name: [pkg.ext] { ... }
                    name = self.bracketed_name()
                else:
                    self.fail("a field name" if closer is None else f"a field name or '{closer}'")
            elif kind == "ident" and not text.startswith("-"):
                self.pos += 1
                name = sys.intern(text)  # one str a field name, so the tokens' memory is freed whole after parsing
            else:
                self.fail("a field name")
            message.positions.append(offset)
            self.field_value(name, message, depth)

    def bracketed_name(self) -> str:
        start = self.pos
        self.pos += 1
        parts = []
        while self.pos < len(self.tokens) and self.tokens[self.pos][1] != "]":
            parts.append(self.tokens[self.pos][1])
            self.pos += 1
        if self.pos >= len(self.tokens):
            self.pos = start
            self.fail("']' to close the extension name")
        self.pos += 1
        return "[" + "".join(parts) + "]"

    def nested(self, opener: str, offset: int, depth: int) -> Message:
        """The block opened by `opener` at offset; refused past protobuf's nesting limit."""
        if depth > MAX_NESTING:
            line, col = self.position(offset)
            raise PrototxtValueError(self.source, line, col,
                                     f"blocks nested deeper than {MAX_NESTING} levels (protobuf's limit)",
                                     "Caffe's parser refuses such a file too; flatten the nesting.")
        return self.message("}" if opener == "{" else ">", self.position(offset)[0], depth)

    def field_value(self, name: str, message: Message, depth: int) -> None:
        fields = message.fields
        token = self.peek()
        if token is None:
            self.fail(f"':' or '{{' after field '{name}'")
        kind, text, offset = token
        has_colon = text == ":" and kind == "punct"
        if has_colon:
            self.pos += 1
            token = self.peek()
            if token is None:
                self.fail(f"a value for field '{name}'")
            kind, text, offset = token
        if kind == "punct" and text in "{<":
            self.pos += 1
            fields.append((name, self.nested(text, offset, depth + 1)))
            return
        if not has_colon:
            self.fail(f"':' or '{{' after field '{name}'")
        if kind == "punct" and text == "[":
            self.pos += 1
            self.value_list(name, message, depth)
            return
        fields.append((name, self.scalar()))

    def value_list(self, name: str, message: Message, depth: int) -> None:
        fields, field_position = message.fields, message.positions[-1]
        first = True
        while True:
            token = self.peek()
            if token is None:
                self.fail("']' to close the list")
            kind, text, offset = token
            if kind == "punct" and text == "]":
                self.pos += 1
                return
            if kind == "punct" and text == ",":
                self.pos += 1
                continue
            if not first:  # each element of `name: [a, b]` is a field of its own, at the list's position
                message.positions.append(field_position)
            first = False
            if kind == "punct" and text in "{<":
                self.pos += 1
                fields.append((name, self.nested(text, offset, depth + 1)))
            else:
                fields.append((name, self.scalar()))

    def scalar(self) -> Value:
        kind, text, offset = self.tokens[self.pos]
        if kind == "string":
            parts = []
            while self.pos < len(self.tokens) and self.tokens[self.pos][0] == "string":
                _, quoted, start = self.tokens[self.pos]
                try:
                    parts.append(_unescape(quoted[1:-1]))
                except BadEscape as exc:
                    line, col = self.position(start + 1 + exc.offset)
                    raise PrototxtValueError(self.source, line, col, f"invalid escape '{exc.escape}' in a string",
                                             "Write a backslash as \\\\ ; \\x needs hex digits (\\x41).") from None
                self.pos += 1
            return "".join(parts)
        if kind == "number":
            self.pos += 1
            try:
                return _number(text)
            except ValueError:  # more digits than Python reads (sys.get_int_max_str_digits)
                line, col = self.position(offset)
                raise PrototxtValueError(self.source, line, col, f"number too long ({len(text)} characters), "
                                         "out of range for any field") from None
        if kind == "ident":
            self.pos += 1
            lowered = text.lower().lstrip("-")
            if lowered in ("inf", "infinity", "nan"):
                return float(text.lower().replace("infinity", "inf"))
            return Ident(text)
        self.fail("a value (a number, a quoted string or an enum name)")


def _number(text: str) -> int | float:
    if re.fullmatch(r"[-+]?0[xX][0-9a-fA-F]+", text):
        return int(text, 16)
    if re.fullmatch(r"[-+]?0[0-7]+", text):  # a leading zero means octal, as protobuf reads it
        return int(text, 8)
    if re.fullmatch(r"[-+]?\d+", text):
        return int(text)
    return float(text.rstrip("fF"))


def parse_text(text: str, source: str = "<text>") -> Message:
    """Parse protobuf text format into a generic Message; TextFormatError (an InputError) on bad syntax."""
    return _Parser(text, source).parse()
