"""C++ source as libclang tokens, and the small token-level readers the fact finders share.

libclang's AST drops what it cannot resolve: with glog missing, CHECK and LOG are unexpanded
and bodies that use them are incomplete, and with skipped function bodies (the fast parse) there
are no body nodes at all. Tokens are always complete, so every fact inside a body is read from
them: `SourceFile` holds one file's tokens (lexed by libclang from a translation unit that may
have failed to resolve every include) with their offsets, so facts can quote the source text.

Readers here work on index ranges [lo, hi) of a token list: bracket matching, splitting call
arguments, finding function bodies by name (in a class body or as `Class<...>::name`), and
class bodies by name.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

OPEN = {"(": ")", "[": "]", "{": "}"}
CLOSE = {v: k for k, v in OPEN.items()}
# Words that may sit between a function's parameter list and its body.
_QUALIFIERS = {"const", "override", "final", "noexcept", "volatile", "&", "&&", "throw"}


@dataclass(frozen=True)
class Token:
    text: str
    kind: str  # "punct" | "keyword" | "ident" | "literal"
    line: int
    start: int  # byte offsets into the file
    end: int


@dataclass
class SourceFile:
    path: Path
    data: bytes
    tokens: list[Token] = field(default_factory=list)
    _match: dict[int, int] | None = None
    _classes: dict[str, tuple[int, int, int]] | None = None
    _starts: list[int] | None = None

    def class_definitions(self) -> dict[str, tuple[int, int, int]]:
        if self._classes is None:
            self._classes = _class_definitions(self)
        return self._classes

    def starts(self) -> list[int]:
        """Each token's byte offset, in order (for bisecting an offset to its token)."""
        if self._starts is None:
            self._starts = [t.start for t in self.tokens]
        return self._starts

    def text(self, lo: int, hi: int) -> str:
        """The source between tokens lo and hi-1, comments dropped and whitespace collapsed."""
        if hi <= lo:
            return ""
        raw = self.data[self.tokens[lo].start:self.tokens[hi - 1].end].decode("utf-8", "replace")
        raw = re.sub(r"//[^\n]*", " ", raw)
        raw = re.sub(r"/\*.*?\*/", " ", raw, flags=re.S)
        return " ".join(raw.split())

    def match(self, i: int) -> int:
        """The index of the bracket closing the one at i (len(tokens) when unbalanced)."""
        if self._match is None:
            self._match = {}
            stack: list[int] = []
            for j, tok in enumerate(self.tokens):
                if tok.kind != "punct":
                    continue
                if tok.text in OPEN:
                    stack.append(j)
                elif tok.text in CLOSE:
                    # Pop to the nearest opener of the same kind so one stray bracket does not
                    # shift every later pair.
                    for depth in range(len(stack) - 1, -1, -1):
                        if self.tokens[stack[depth]].text == CLOSE[tok.text]:
                            self._match[stack[depth]] = j
                            del stack[depth:]
                            break
        return self._match.get(i, len(self.tokens))

    def unbalanced(self) -> list[int]:
        """Indexes of the brackets that close nothing or are never closed, in file order."""
        self.match(0)
        assert self._match is not None
        closed = set(self._match.values())
        return [j for j, tok in enumerate(self.tokens) if tok.kind == "punct"
                and ((tok.text in OPEN and j not in self._match) or (tok.text in CLOSE and j not in closed))]

    def at(self, i: int, text: str) -> bool:
        return 0 <= i < len(self.tokens) and self.tokens[i].text == text

    def find(self, text: str, lo: int, hi: int) -> int:
        for i in range(lo, min(hi, len(self.tokens))):
            if self.tokens[i].text == text:
                return i
        return -1

    def split_args(self, open_paren: int) -> list[tuple[int, int]]:
        """Index ranges of the comma-separated arguments inside the parentheses at open_paren."""
        close = self.match(open_paren)
        args, start, i = [], open_paren + 1, open_paren + 1
        angle = 0
        while i < close:
            tok = self.tokens[i]
            if tok.text in OPEN:
                i = self.match(i) + 1
                continue
            if tok.text == "<" and i > 0 and self.tokens[i - 1].kind == "ident" and _closes_angle(self, i, close):
                angle += 1
            elif tok.text == ">" and angle:
                angle -= 1
            elif tok.text == "," and not angle:
                args.append((start, i))
                start = i + 1
            i += 1
        if close > start:
            args.append((start, close))
        return args

    def statement_end(self, i: int, hi: int) -> int:
        """The index of the `;` ending the statement that starts at i (brackets skipped)."""
        while i < hi:
            tok = self.tokens[i]
            if tok.text in ("(", "[", "{"):
                i = self.match(i)
            elif tok.text == ";":
                return i
            i += 1
        return hi

    def string_value(self, i: int) -> str | None:
        tok = self.tokens[i]
        if tok.kind == "literal" and tok.text.endswith('"'):
            return unquote(tok.text)
        return None

    def skip_angle(self, i: int) -> int:
        """Index after the template argument list starting at the `<` at i."""
        depth = 0
        while i < len(self.tokens):
            text = self.tokens[i].text
            if text == "<":
                depth += 1
            elif text == ">":
                depth -= 1
            elif text == ">>":
                depth -= 2
            elif text in ("(", "["):
                i = self.match(i)
            elif text in (";", "{", "}"):
                return i
            i += 1
            if depth <= 0:
                return i
        return i


def _closes_angle(src: SourceFile, i: int, hi: int) -> bool:
    """Whether the `<` at i opens a template argument list (a `>` comes before any `;` or `)`)."""
    depth = 0
    for j in range(i, hi):
        text = src.tokens[j].text
        if text == "<":
            depth += 1
        elif text in (">", ">>"):
            depth -= 1 if text == ">" else 2
            if depth <= 0:
                return True
        elif text in (";", "{", "}", "&&", "||", "==", "?"):
            return False
    return False


def unquote(literal: str) -> str:
    body = literal[literal.index('"') + 1:-1]
    return body.encode("utf-8").decode("unicode_escape", "replace") if "\\" in body else body


def strip_directives(tokens: list[Token], data: bytes) -> list[Token]:
    """Drop preprocessor lines (#include, #ifdef, ...): their words are not code."""
    kept, last_directive_line = [], -1
    for i, tok in enumerate(tokens):
        if tok.text == "#" and tok.kind == "punct" and (i == 0 or tokens[i - 1].line != tok.line):
            last_directive_line = tok.line
            # A directive continued with a backslash spans further lines.
            end = data.find(b"\n", tok.start)
            while end > 0 and data[end - 1:end] == b"\\":
                last_directive_line += 1
                end = data.find(b"\n", end + 1)
        if tok.line <= last_directive_line:
            continue
        kept.append(tok)
    return kept


_KINDS = {"PUNCTUATION": "punct", "KEYWORD": "keyword", "IDENTIFIER": "ident", "LITERAL": "literal"}


def tokenize(tu, path: Path) -> SourceFile:
    """All tokens of one file of a translation unit (comments dropped)."""
    from clang import cindex  # noqa: PLC0415 - only needed on a cache miss

    data = path.read_bytes()
    cfile = tu.get_file(str(path))
    # libclang tokenizes only a range it builds itself; an extent made from the file's first and
    # last offsets covers the whole file, including parts the parser skipped.
    extent = cindex.SourceRange.from_locations(
        cindex.SourceLocation.from_offset(tu, cfile, 0),
        cindex.SourceLocation.from_offset(tu, cfile, len(data)),
    )
    tokens = []
    for tok in tu.get_tokens(extent=extent):
        kind = _KINDS.get(tok.kind.name)
        if kind is None:
            continue
        # One location lookup a token (each costs a libclang call); a token's end is its start plus its spelling.
        spelling, start = tok.spelling, tok.extent.start
        offset = start.offset
        tokens.append(Token(spelling, kind, start.line, offset, offset + len(spelling.encode())))
    return SourceFile(path, data, strip_directives(tokens, data))


def lex_file(index, path: Path) -> SourceFile:
    """Tokens of a file on its own: a parse with no include paths, which takes milliseconds."""
    from clang import cindex  # noqa: PLC0415

    tu = index.parse(str(path), args=["-x", "c++", "-std=c++11", "-nostdinc", "-nostdinc++"],
                     options=cindex.TranslationUnit.PARSE_SKIP_FUNCTION_BODIES)
    return tokenize(tu, path)


@dataclass(frozen=True)
class FunctionBody:
    """A function definition found in tokens: its name token and the braces of its body."""

    name: str
    name_index: int
    params_open: int
    body_open: int
    body_close: int
    line: int


def function_at(src: SourceFile, name_index: int, hi: int | None = None) -> FunctionBody | None:
    """If `name (params) [qualifiers] [: inits] {` starts at name_index, the function it defines."""
    toks = src.tokens
    hi = len(toks) if hi is None else hi
    i = name_index + 1
    if not src.at(i, "("):
        return None
    params_open = i
    i = src.match(i) + 1
    while i < hi:
        text = toks[i].text
        if text in _QUALIFIERS:
            if text == "throw" or (text == "noexcept" and src.at(i + 1, "(")):
                i = src.match(i + 1) + 1
            else:
                i += 1
        elif text == "->":  # trailing return type
            i += 1
            while i < hi and toks[i].text not in ("{", ";"):
                i += 1
        elif text == ":":  # constructor initializers: name(args) or name{args}, comma separated
            i += 1
            while i < hi:
                text = toks[i].text
                if text == "(":
                    i = src.match(i)
                elif text == "<":
                    i = src.skip_angle(i) - 1
                elif text == "{" and toks[i - 1].kind == "ident":
                    i = src.match(i)  # a brace initializer, not the body
                elif text in ("{", ";"):
                    break
                i += 1
            break
        else:
            break
    if i < hi and toks[i].text == "{":
        return FunctionBody(toks[name_index].text, name_index, params_open, i, src.match(i), toks[name_index].line)
    return None


def class_body(src: SourceFile, class_name: str) -> tuple[int, int, int] | None:
    """(index of the class keyword, its `{`, its `}`) for the first definition of class_name."""
    return src.class_definitions().get(class_name)


def _class_definitions(src: SourceFile) -> dict[str, tuple[int, int, int]]:
    """Every class/struct definition of a file by name, in one pass (a header may hold thousands)."""
    toks = src.tokens
    found: dict[str, tuple[int, int, int]] = {}
    for i, tok in enumerate(toks):
        if tok.text not in ("class", "struct") or tok.kind != "keyword":
            continue
        # The name is the last of the words after the keyword: export macros and attributes come first.
        j, name_at = i + 1, None
        while j < len(toks) and toks[j].kind == "ident" and j - i < 5:
            name_at = j
            if src.at(j + 1, "("):  # __attribute__((...)), alignas(...)
                j = src.match(j + 1)
            j += 1
        if src.at(j, "<") and name_at is not None:  # a specialization: class Name<float> {
            j = src.skip_angle(j)
        if name_at is None or not (src.at(j, "{") or src.at(j, ":") or src.at(j, "final")):
            continue  # a declaration, a template parameter (`class T>`), an elaborated type
        k = j
        while k < len(toks) and toks[k].text not in ("{", ";"):
            if toks[k].text == "(":
                k = src.match(k)
            k += 1
        if k < len(toks) and toks[k].text == "{":
            found.setdefault(toks[name_at].text, (i, k, src.match(k)))
    return found


def function_bodies(src: SourceFile, name: str, owner: str | None = None) -> list[FunctionBody]:
    """Definitions of `name`: inside owner's class body, or out of line as `owner<...>::name`."""
    found = []
    scope = class_body(src, owner) if owner else None
    for i, tok in enumerate(src.tokens):
        if tok.text != name or tok.kind != "ident":
            continue
        qualified = src.at(i - 1, "::")
        if owner:
            in_class = scope is not None and scope[1] < i < scope[2] and not qualified
            out_of_line = qualified and _qualifier_names(src, i - 1) == owner
            if not (in_class or out_of_line):
                continue
        body = function_at(src, i)
        if body is not None:
            found.append(body)
    return found


def _qualifier_names(src: SourceFile, colons: int) -> str | None:
    """The class named before the `::` at index colons (template arguments skipped)."""
    j = colons - 1
    if src.at(j, ">"):
        depth = 0
        while j >= 0:
            text = src.tokens[j].text
            depth += {">": 1, ">>": 2, "<": -1}.get(text, 0)
            if depth == 0:
                break
            j -= 1
        j -= 1
    return src.tokens[j].text if j >= 0 and src.tokens[j].kind == "ident" else None


def calls_in(src: SourceFile, lo: int, hi: int) -> list[tuple[str, int, int]]:
    """(name, name index, open paren index) of every call `name(...)` in [lo, hi), in order."""
    out = []
    for i in range(lo, min(hi, len(src.tokens)) - 1):
        tok = src.tokens[i]
        if tok.kind == "ident" and src.tokens[i + 1].text == "(":
            out.append((tok.text, i, i + 1))
    return out
