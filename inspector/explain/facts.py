"""Facts read from the tokens of one function body: calls into Python, attributes written on the
Python object, guards, and error and GIL handling.

One pass over the body keeps a stack of the enclosing `if`/`else`/`try`/`catch` blocks, so a
guard knows its condition and a call knows whether a try covers it. Calls into Python are
recognised in each form Caffe and its forks use: `obj.attr("name")(args)` (boost.python),
`bp::call_method<R>(obj, "name", args)` (old PyObject* holders) and `PyObject_CallMethod(obj,
"name", fmt, args)`; writes are `obj.attr("name") = value`, `bp::setattr(obj, "name", value)` and
`PyObject_SetAttrString(obj, "name", value)`. Guards are `LOG(FATAL|ERROR|WARNING) << msg`
(with the conditions around them) and glog's `CHECK*(...) << msg`; these are read as tokens,
since without glog on the include path the parser never expands them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .tokens import FunctionBody, SourceFile

_CHECK_OPS = {"EQ": "==", "NE": "!=", "LT": "<", "LE": "<=", "GT": ">", "GE": ">="}
_LOG_SEVERITIES = {"FATAL", "DFATAL", "ERROR", "WARNING"}
_PY_ERROR_CALLS = re.compile(
    r"^Py(Err_\w+|GILState_\w+|Eval_(SaveThread|RestoreThread|AcquireThread|ReleaseThread)|_(BEGIN|END)_ALLOW_THREADS)$")
_GIL_WORD = re.compile(r"GIL|Gil|gil_")


@dataclass
class PythonCall:
    name: str
    args: list[str]
    receiver: str
    form: str  # "attr" | "call_method" | "PyObject_CallMethod"
    line: int
    in_try: bool = False


@dataclass
class AttributeWrite:
    name: str
    expression: str
    receiver: str
    line: int

    @property
    def value(self) -> str:
        return simplify_value(self.expression)


@dataclass
class AttributeRead:
    """`target = obj.attr("name")`: C++ reads a value back from the Python object."""

    name: str
    target: str
    receiver: str
    line: int


@dataclass
class GuardFact:
    condition: str
    message: str
    action: str
    aborts: bool
    line: int


@dataclass
class HandlingFact:
    kind: str  # "try/catch" | "gil" | "python-error" | "lock" | "thread"
    detail: str
    line: int


@dataclass
class BodyFacts:
    python_calls: list[PythonCall] = field(default_factory=list)
    attributes: list[AttributeWrite] = field(default_factory=list)
    attribute_reads: list[AttributeRead] = field(default_factory=list)
    guards: list[GuardFact] = field(default_factory=list)
    handling: list[HandlingFact] = field(default_factory=list)
    calls: list[tuple[str, int]] = field(default_factory=list)  # every C++ call, in order
    call_conditions: dict[int, str] = field(default_factory=dict)  # line of a call -> the condition around it


def simplify_value(expression: str) -> str:
    """The source of an attribute value without the conversions around it.

    `bp::str(this->layer_param_.python_param().param_str())` -> `layer_param_.python_param().param_str()`,
    `static_cast<int>(this->phase_)` -> `int(phase_)`.
    """
    text = expression.replace("this->", "")
    text = re.sub(r"\b(?:static_cast|int_cast)\s*<\s*([\w:\s]+?)\s*>\s*\(", r"\1(", text)
    match = re.fullmatch(r"(?:boost::python::|bp::)(?:str|object)\s*\((.*)\)", text)
    if match and _balanced(match.group(1)):
        text = match.group(1)
    return text.strip()


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def stream_message(src: SourceFile, lo: int, hi: int) -> str:
    """The text a glog stream writes: `<< "a" << x << "b"` -> `a{x}b`."""
    parts: list[list[int]] = []
    segment: list[int] = []
    for i in range(lo, hi):
        if src.tokens[i].text == "<<":
            if segment:
                parts.append(segment)
            segment = []
        else:
            segment.append(i)
    if segment:
        parts.append(segment)
    out = []
    for seg in parts:
        values = [src.string_value(i) for i in seg]
        strings = [s for s in values if s is not None]
        if len(strings) == len(values):
            out.append("".join(strings))
        else:
            out.append("{" + src.text(seg[0], seg[-1] + 1) + "}")
    return "".join(out)


def read_body(src: SourceFile, body: FunctionBody) -> BodyFacts:
    facts = BodyFacts()
    toks = src.tokens
    # Each open block: (index of its last token, condition or None, kind).
    stack: list[tuple[int, str | None, str]] = []
    closed_if: dict[int, str] = {}  # end index of an if-branch -> its condition (for a following else)
    switches: dict[int, tuple[str, list[str]]] = {}  # end index of a switch body -> (its expression, its cases)
    i, hi = body.body_open + 1, body.body_close
    while i < hi:
        while stack and stack[-1][0] < i:
            stack.pop()
        tok = toks[i]
        text = tok.text

        if text == "if" and src.at(i + 1, "("):
            close = src.match(i + 1)
            cond = src.text(i + 2, close)
            end = _branch_end(src, close + 1, hi)
            stack.append((end, cond, "if"))
            closed_if[end] = cond
            i = close + 1
            continue
        if text == "else":
            prev = closed_if.get(i - 1)
            end = _branch_end(src, i + 1, hi)
            stack.append((end, f"!({prev})" if prev else None, "else"))
            i += 1
            continue
        if text == "switch" and src.at(i + 1, "("):
            close = src.match(i + 1)
            if src.at(close + 1, "{"):
                end = src.match(close + 1)
                stack.append((end, None, "switch"))
                switches[end] = (src.text(i + 2, close), _case_labels(src, close + 1, end))
                i = close + 2
                continue
        if text in ("case", "default") and stack and tok.kind == "keyword":
            label_end = src.find(":", i, hi)
            depth = next((n for n in range(len(stack) - 1, -1, -1) if stack[n][2] == "switch"), None)
            if depth is not None and label_end > 0:
                end = stack[depth][0]
                expr, cases = switches[end]
                default = f"switch ({expr}) default" + (f": none of {', '.join(cases)}" if cases else "")
                cond = f"{expr} == {src.text(i + 1, label_end)}" if text == "case" else default
                stack[depth] = (end, cond, "switch")
                i = label_end + 1
                continue
        if text == "NOT_IMPLEMENTED" and tok.kind == "ident":
            facts.guards.append(GuardFact(_conditions(stack), "not implemented: aborts if called", "NOT_IMPLEMENTED",
                                          True, tok.line))
            i += 1
            continue
        if text == "try" and src.at(i + 1, "{"):
            stack.append((src.match(i + 1), None, "try"))
            i += 1
            continue
        if text == "catch" and src.at(i + 1, "("):
            close = src.match(i + 1)
            end = src.match(close + 1) if src.at(close + 1, "{") else close
            facts.handling.append(HandlingFact("try/catch", src.text(i, end + 1), tok.line))
            stack.append((end, None, "catch"))
            i = close + 1
            continue

        if text == "LOG" and src.at(i + 1, "(") and tok.kind == "ident":
            close = src.match(i + 1)
            severity = src.text(i + 2, close)
            if severity in _LOG_SEVERITIES:
                end = src.statement_end(close + 1, hi)
                facts.guards.append(GuardFact(_conditions(stack), stream_message(src, close + 1, end),
                                              f"LOG({severity})", severity in ("FATAL", "DFATAL"), tok.line))
                i = end
                continue
        if tok.kind == "ident" and re.fullmatch(r"D?CHECK(_[A-Z]+)?", text) and src.at(i + 1, "("):
            close = src.match(i + 1)
            args = src.split_args(i + 1)
            op = _CHECK_OPS.get(text.rsplit("_", 1)[-1]) if "_" in text else None
            if op and len(args) == 2:
                cond = f"{_operand(src, *args[0])} {op} {_operand(src, *args[1])}"
            elif text.endswith("NOTNULL") and args:
                cond = f"{src.text(*args[0])} != NULL"
            else:
                cond = src.text(i + 2, close)
            outer = _conditions(stack)
            end = src.statement_end(close + 1, hi)
            facts.guards.append(GuardFact(f"{outer} && !({cond})" if outer else f"!({cond})",
                                          stream_message(src, close + 1, end), text, True, tok.line))
            i = end
            continue
        if text == "throw" and not src.at(i + 1, ";") and not _inside(stack, "catch"):
            end = src.statement_end(i + 1, hi)
            facts.guards.append(GuardFact(_conditions(stack), src.text(i + 1, end), "throw", True, tok.line))
            i = end
            continue

        if tok.kind == "ident" and text in _LOCKS and not _inside(stack, "catch"):
            start, end = _statement_start(src, i, body.body_open), src.statement_end(i, hi)
            facts.handling.append(HandlingFact("lock", src.text(start, end + 1), toks[start].line))
            i = end
            continue
        # `new thread(fn, this)` or `new boost::thread(fn, this)`: the function runs on its own thread
        new_thread = src.at(i - 1, "new") if not src.at(i - 1, "::") else src.at(i - 3, "new")
        if text == "thread" and new_thread and src.at(i + 1, "("):
            start, end = _statement_start(src, i, body.body_open), src.statement_end(i, hi)
            facts.handling.append(HandlingFact("thread", src.text(start, end + 1), toks[start].line))
        if tok.kind == "ident" and not _inside(stack, "catch"):
            if _PY_ERROR_CALLS.match(text) or (_GIL_WORD.search(text) and _starts_statement(src, i)):
                start, end = _statement_start(src, i, body.body_open), src.statement_end(i, hi)
                kind = "python-error" if text.startswith("PyErr_") else "gil"
                facts.handling.append(HandlingFact(kind, src.text(start, end + 1), tok.line))
                i = end  # one entry a statement (`PyGILState_STATE s = PyGILState_Ensure();`)
                continue

        found = _python_access(src, i, hi)
        if found is not None:
            item, resume = found
            if isinstance(item, PythonCall):
                item.in_try = _inside(stack, "try")
                facts.python_calls.append(item)
            elif isinstance(item, AttributeRead):
                facts.attribute_reads.append(item)
            else:
                facts.attributes.append(item)
            i = resume
            continue

        if tok.kind == "ident" and src.at(i + 1, "("):
            facts.calls.append((text, tok.line))
            if _conditions(stack):
                facts.call_conditions[tok.line] = _conditions(stack)
        i += 1
    return facts


_LOOSER_THAN_COMPARISON = {"==", "!=", "<", ">", "<=", ">=", "&&", "||", "?", "&", "|", "^", "="}


def _operand(src: SourceFile, lo: int, hi: int) -> str:
    """An argument of CHECK_EQ and kin as C++ would group it: `b != NONE` in CHECK_EQ(a, b != NONE)
    is parenthesised, so the guard reads `a == (b != NONE)`, not `a == b != NONE`."""
    from .tokens import _closes_angle  # noqa: PLC0415

    i = lo
    while i < hi:
        text = src.tokens[i].text
        if text in ("(", "[", "{"):
            i = src.match(i) + 1
            continue
        if text == "<" and i > lo and src.tokens[i - 1].kind == "ident" and _closes_angle(src, i, hi):
            i = src.skip_angle(i)
            continue
        if text in _LOOSER_THAN_COMPARISON and src.tokens[i].kind == "punct":
            return f"({src.text(lo, hi)})"
        i += 1
    return src.text(lo, hi)


def _case_labels(src: SourceFile, lo: int, hi: int) -> list[str]:
    """The `case X:` labels of a switch body, in order."""
    out = []
    for i in range(lo, hi):
        if src.tokens[i].text == "case" and src.tokens[i].kind == "keyword":
            colon = src.find(":", i, hi)
            if colon > 0:
                out.append(src.text(i + 1, colon))
    return out


_LOCKS = {"lock_guard", "unique_lock", "scoped_lock", "shared_lock"}


def _statement_start(src: SourceFile, i: int, lo: int) -> int:
    """The first token of the statement holding token i (after the previous `;`, `{` or `}`)."""
    depth = 0
    j = i - 1
    while j > lo:
        text = src.tokens[j].text
        depth += {")": 1, "(": -1}.get(text, 0)
        if depth < 0:  # inside a parenthesis: the statement started before it
            depth = 0
        elif text in (";", "{", "}") and depth == 0:
            break
        j -= 1
    return j + 1


def _branch_end(src: SourceFile, i: int, hi: int) -> int:
    """Last token of the statement or block starting at i (the body of an if or else)."""
    if src.at(i, "{"):
        return src.match(i)
    if src.at(i, "if") and src.at(i + 1, "("):
        close = src.match(i + 1)
        end = _branch_end(src, close + 1, hi)
        if src.at(end + 1, "else"):
            return _branch_end(src, end + 2, hi)
        return end
    return src.statement_end(i, hi)


def _conditions(stack) -> str:
    conds = [c for _, c, _ in stack if c]
    if len(conds) <= 1:
        return conds[0] if conds else ""
    return " && ".join(f"({c})" if ("&&" in c or "||" in c) else c for c in conds)


def _inside(stack, kind: str) -> bool:
    return any(k == kind for _, _, k in stack)


def _starts_statement(src: SourceFile, i: int) -> bool:
    """A declaration like `PyGILAcquire gil;` (an RAII guard) starts its statement."""
    return i > 0 and src.tokens[i - 1].text in (";", "{", "}") and src.tokens[i + 1].kind == "ident"


def _receiver(src: SourceFile, i: int) -> str:
    """The object before `.attr`: `self_`, `this->self_`, `self()`."""
    j = i - 1
    if src.at(j, ")"):
        depth = 0
        while j >= 0:
            depth += {")": 1, "(": -1}.get(src.tokens[j].text, 0)
            if depth == 0:
                break
            j -= 1
        j -= 1
    return src.tokens[j].text if j >= 0 else ""


def _python_access(src: SourceFile, i: int, hi: int):
    """A call into Python or an attribute write starting at token i: (fact, index to resume at)."""
    toks = src.tokens
    text = toks[i].text
    # obj.attr("name")(args)  |  obj.attr("name") = value
    if text == "attr" and i >= 2 and toks[i - 1].text in (".", "->") and src.at(i + 1, "("):
        close = src.match(i + 1)
        name = src.string_value(i + 2) if close == i + 3 else None
        if name is None:
            return None
        receiver = _receiver(src, i - 1)
        if close >= hi:  # an unclosed bracket: the text after it is not this call's
            return None
        if src.at(close + 1, "("):
            call_close = src.match(close + 1)
            if call_close >= hi:
                return None
            args = [src.text(a, b) for a, b in src.split_args(close + 1)]
            return PythonCall(name, args, receiver, "attr", toks[i].line), call_close + 1
        if src.at(close + 1, "="):
            end = src.statement_end(close + 2, hi)
            return AttributeWrite(name, src.text(close + 2, end), receiver, toks[i].line), end
        start = _statement_start(src, i, 0)
        assign = src.find("=", start, i)
        if assign > start and src.at(close + 1, ";"):
            return AttributeRead(name, src.text(start, assign), receiver, toks[i].line), close + 1
        return None
    # bp::call_method<R>(obj, "name", args)
    if text == "call_method" and src.at(i + 1, "<"):
        open_paren = src.skip_angle(i + 1)
        if not src.at(open_paren, "("):
            return None
        spans = src.split_args(open_paren)
        method_name = src.string_value(spans[1][0]) if len(spans) >= 2 else None
        if method_name is not None:
            return (PythonCall(method_name, [src.text(a, b) for a, b in spans[2:]],
                               src.text(*spans[0]), "call_method", toks[i].line), src.match(open_paren) + 1)
        return None
    if text in ("PyObject_CallMethod", "setattr", "PyObject_SetAttrString") and src.at(i + 1, "("):
        spans = src.split_args(i + 1)
        python_name = src.string_value(spans[1][0]) if len(spans) >= 2 else None
        if python_name is None:
            return None
        resume = src.match(i + 1) + 1
        if text == "PyObject_CallMethod":
            rest = [src.text(a, b) for a, b in spans[3:]]
            return PythonCall(python_name, rest, src.text(*spans[0]), text, toks[i].line), resume
        if len(spans) >= 3:
            return AttributeWrite(python_name, src.text(*spans[2]), src.text(*spans[0]), toks[i].line), resume
    return None
