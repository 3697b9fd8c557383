"""Parse a layer header with libclang and gather the facts of its class into an ExplainReport.

Passes:
1. Parse the header as the Caffe build compiles it (caffe_env flags, the system compiler's
   include list) with function bodies skipped: the declarations are all the AST is needed for,
   and skipping bodies keeps the parse of boost/python.hpp under `g++ -fsyntax-only`'s time.
   Unresolved includes and other errors become diagnostics; the parse goes on regardless.
2. From the AST: the class (by name, or the file's main class), its template parameters, its
   members with access and virtual-ness, and its base chain (each base's definition).
3. From the tokens (see tokens.py): every body, in the header or, for methods the header only
   declares, in the matching .cpp/.cu; facts.py reads each body.
4. For a class that calls into Python: the member holding the Python object and the lifecycle
   around it, read from layer.hpp, layer_factory.cpp and python/caffe/_caffe.cpp (lifecycle.py).
"""
from __future__ import annotations

import bisect
import re
import threading
from pathlib import Path
from typing import Any

from .. import caffe_env
from ..errors import InputError
from . import facts as body_facts
from .locate import Target, lifecycle_sources, matching_sources
from .report import (
    Attribute,
    AttributeRead,
    BaseClass,
    Call,
    ClassInfo,
    Constraint,
    Diagnostic,
    ExplainReport,
    Guard,
    Handling,
    Holder,
    Method,
)
from .tokens import SourceFile, function_at, function_bodies, lex_file, tokenize

_BLOB_COUNT = re.compile(r"^(Exact|Min|Max)(Num)?(Bottom|Top)Blobs$|^EqualNumBottomTopBlobs$|^AutoTopBlobs$")
_DEVICE_METHODS = ("Forward_cpu", "Forward_gpu", "Backward_cpu", "Backward_gpu")
MAX_DIAGNOSTICS = 25


def parse_flags(target: Target) -> list[str]:
    return caffe_env.caffe_compile_flags(target.root)


def analyze(target: Target, flags: list[str]) -> ExplainReport:
    cindex = caffe_env.load_cindex()
    index = cindex.Index.create()
    # The header's tokens, lexed alone: the same tokens the full parse would give, at a fraction of its cost.
    src = lex_file(index, target.header)
    flags = flags + [f"-D{macro}=" for macro in _export_macros(src)]
    body_check = _BodyParse(cindex, target.header, flags)
    try:
        tu = index.parse(str(target.header), args=flags,
                         options=cindex.TranslationUnit.PARSE_SKIP_FUNCTION_BODIES)
    except cindex.TranslationUnitLoadError as exc:
        raise InputError(f"libclang could not read {target.header}: {exc}.",
                         "Check that the file is C++ source.") from exc
    diagnostics = _diagnostics(tu, cindex)
    diagnostics += _bracket_errors(src, diagnostics)
    header_errors = [d for d in diagnostics if d.level == "error" and d.file == str(target.header)]
    cursor = _find_class(tu, target, src, cindex)
    if cursor is None:
        wanted = target.class_name or "a class"
        if header_errors:
            found = f"class {target.class_name}" if target.class_name else "class"
            error = InputError(f"{target.header} could not be read: {len(header_errors)} parse errors, and no {found} "
                               "was found in it.", "Fix the errors listed (the first one is usually the cause).")
            error.details = "\n".join(f"{d.file}:{d.line}: error: {d.message}" for d in header_errors[:10])
            raise error
        raise InputError(f"{target.header} defines no {wanted}.",
                         "Give a header that defines a layer class, or its class name.")

    files_read = {str(target.header)} | {str(Path(inc.include.name)) for inc in tu.get_includes()}
    extra_sources: dict[Path, SourceFile] = {}

    def source(path: Path) -> SourceFile:
        if path not in extra_sources:
            extra_sources[path] = lex_file(index, path)
            files_read.add(str(path))
        return extra_sources[path]

    cls = _class_info(cursor, src, cindex)
    report = ExplainReport(file=str(target.header), cls=cls, diagnostics=diagnostics, partial=bool(header_errors))
    bases = _bases(cursor, cindex)
    resolved = {base.name for base, _ in bases}
    # a base clang could not resolve (its header missing) is dropped from the AST: keep its name from the tokens
    unresolved = [name.split("<")[0].split("::")[-1].strip() for name in cls.bases]
    bases = [(BaseClass(name), None) for name in unresolved if name not in resolved] + bases
    report.cls.base_chain = [base for base, _ in bases]

    cpp_sources = matching_sources(target.header, target.root, cls.name)
    holders: dict[str, int] = {}
    bodies: dict[str, tuple[SourceFile, object]] = {}
    pure: set[str] = set()
    calls_made: dict[str, list[tuple[str, int]]] = {}
    for member in cursor.get_children():
        kind = {cindex.CursorKind.CXX_METHOD: "method", cindex.CursorKind.CONSTRUCTOR: "constructor",
                cindex.CursorKind.DESTRUCTOR: "destructor",
                cindex.CursorKind.FUNCTION_TEMPLATE: "method"}.get(member.kind)
        if kind is None:
            continue
        if member.kind == cindex.CursorKind.CXX_METHOD and member.is_pure_virtual_method():
            pure.add(member.spelling)
        name = member.spelling if kind == "method" else member.spelling.split("<")[0]
        name_index = _token_at(src, member.location.offset)
        decl_start, decl_end = _token_at(src, member.extent.start.offset), _token_at(src, member.extent.end.offset)
        decl_words = {t.text for t in src.tokens[decl_start:decl_end + 1]}
        method = Method(cpp=name if kind == "method" else member.spelling, access=member.access_specifier.name.lower(),
                        virtual=(bool(member.kind == cindex.CursorKind.CXX_METHOD and member.is_virtual_method())
                                 or "virtual" in decl_words),
                        override="override" in decl_words or "final" in decl_words, line=member.location.line,
                        kind=kind)
        # override implies virtual, even with the base unresolved; so does a base's virtual of the same name
        method.virtual = (method.virtual or method.override
                          or (kind == "method" and _overrides_virtual(name, bases, cindex)))
        body_src, body = src, function_at(src, name_index)
        if body is None and kind == "method":
            for path in cpp_sources:
                definitions = function_bodies(source(path), name, owner=cls.name)
                if definitions:
                    body_src, body = extra_sources[path], definitions[0]
                    break
        report.methods.append(method)
        if body is None:
            continue
        method.defined_at = f"{body_src.path}:{body.line}"
        bodies[method.cpp] = (body_src, body)
        got = body_facts.read_body(body_src, body)
        calls_made[method.cpp] = got.calls
        bfile = str(body_src.path)
        for call in got.python_calls:
            method.python_calls.append(Call(call.name, call.args, call.line, bfile, call.in_try))
            holders[call.receiver] = holders.get(call.receiver, 0) + 1
        report.attributes_read += [AttributeRead(a.name, a.target, a.line, bfile, method.cpp)
                                   for a in got.attribute_reads]
        for attr in got.attributes:
            report.attributes.append(Attribute(attr.name, attr.value, attr.expression, attr.line, bfile, method.cpp))
            holders[attr.receiver] = holders.get(attr.receiver, 0) + 1
        report.guards += [Guard(g.condition, g.message, g.action, g.aborts, g.line, bfile, method.cpp)
                          for g in got.guards]
        report.error_handling += [Handling(h.kind, h.detail, h.line, bfile, method.cpp) for h in got.handling]

    own = {m.cpp for m in report.methods if m.kind == "method"}
    for method in report.methods:
        method.member_calls = [(name, line) for name, line in calls_made.get(method.cpp, []) if name in own]
    for method in report.methods:
        if method.kind == "method" and method.defined_at is None and method.cpp not in pure:
            report.diagnostics.append(Diagnostic(
                "note", f"{cls.name}::{method.cpp} is only declared here and no body was found"
                + (" in " + ", ".join(str(p) for p in cpp_sources) if cpp_sources
                   else " (no matching .cpp in the tree)"),
                str(target.header), method.line))

    report.guards += _inherited_guards(report, bodies, [b for b, _ in bases], target.root, source)
    for method in report.methods:
        method.not_implemented = any(g.action == "NOT_IMPLEMENTED" and g.method == method.cpp for g in report.guards)
    _raii_helpers(report, src)
    report.type_string = _type_string(bodies)
    device_methods = {name: report.method(name) for name in _DEVICE_METHODS}
    report.device_methods = {
        name: (found.defined_at or f"{target.header}:{found.line} (declared)") if found else None
        for name, found in device_methods.items()}
    report.blob_constraints = _blob_constraints(report, bodies, tu, {str(target.header): src})
    if holders:
        report.holder = _holder(cursor, src, cindex, max(holders, key=lambda receiver: holders[receiver]))
        from .lifecycle import python_lifecycle  # noqa: PLC0415

        sources = {key: source(path) for key, path in lifecycle_sources(target.root).items()}
        if not sources:
            report.diagnostics.append(Diagnostic(
                "note", "no Caffe source tree around this header: the lifecycle is told from the header alone",
                str(target.header)))
        python_lifecycle(report, sources)
    if report.is_python_layer:
        _handler_effects(report, [src] + [source(path) for path in cpp_sources] + list(extra_sources.values()))
        report.absent = _absences(report)
    report.files_read = sorted(files_read)
    known = {(d.file, d.line) for d in report.diagnostics if d.level == "error"}
    body_errors = [d for d in body_check.errors() if (d.file, d.line) not in known]
    if body_errors:
        report.diagnostics += body_errors
        report.partial = True
    if target.root is not None:
        relative_paths(report, str(target.root))
    return report


class _BodyParse:
    """clang's errors inside the header's own method bodies, from a parse that does not skip them, run on a thread
    of its own beside the main parse (which skips every body, the includes' too, for speed; ctypes runs libclang
    without the GIL): a syntax error in an inline method is then an error and a partial result, never text shown
    as a fact, at the cost of the slower parse's wall time alone."""

    def __init__(self, cindex, header: Path, flags: list[str]):
        self._errors: list[Diagnostic] = []
        self._thread = threading.Thread(target=self._run, args=(cindex, header, flags), daemon=True)
        self._thread.start()

    def _run(self, cindex, header: Path, flags: list[str]) -> None:
        try:
            tu = cindex.Index.create().parse(str(header), args=flags)
        except Exception:  # what cannot be read at all, the main parse reports
            return
        self._errors = [d for d in _diagnostics(tu, cindex) if d.level == "error" and d.file == str(header)]

    def errors(self) -> list[Diagnostic]:
        self._thread.join()
        return self._errors


def relative_paths(report: ExplainReport, root: str) -> None:
    """Facts name files relative to the Caffe tree (include/caffe/layer.hpp:416), as users read them."""
    prefix = root.rstrip("/") + "/"

    def fix(value):
        return value[len(prefix):] if isinstance(value, str) and value.startswith(prefix) else value

    def visit(obj):
        if isinstance(obj, list):
            for item in obj:
                visit(item)
        elif hasattr(obj, "__dataclass_fields__"):
            for name in obj.__dataclass_fields__:
                value = getattr(obj, name)
                if name in ("file", "defined_at"):
                    setattr(obj, name, fix(value))
                else:
                    visit(value)
        elif isinstance(obj, dict):
            for key, value in obj.items():
                obj[key] = fix(value)

    for name in ("cls", "holder", "methods", "attributes", "attributes_read", "guards", "error_handling", "lifecycle",
                 "diagnostics", "blob_constraints", "pycaffe_layer", "device_methods"):
        visit(getattr(report, name))
    report.root = root


def _effect(text: str) -> list[str]:
    """What a piece of error handling does with a Python error, from the calls in its text."""
    out = []
    if re.search(r"\bPyErr_Print\s*\(|print_exception|format_tb", text):
        out.append("prints the Python traceback")
    if re.search(r"\babort\s*\(|LOG\s*\(\s*FATAL", text):
        out.append("aborts the process")
    elif re.search(r"\bthrow\b|throw_error_already_set", text):
        out.append("re-raises: the Python error leaves the layer as a C++ exception")
    return out


def _helper_text(name: str, sources: list[SourceFile]) -> str | None:
    """The body of a function or macro called by a handler (PyErrFatal, PYTHON_LAYER_ERROR), in any file read."""
    for src in sources:
        macro = re.search(rb"#\s*define\s+" + re.escape(name.encode()) + rb"\b((?:[^\n]*\\\n)*[^\n]*)", src.data)
        if macro:
            return macro.group(1).decode("utf-8", "replace")
        for body in function_bodies(src, name):
            return src.text(body.body_open, body.body_close + 1)
    return None


def _handler_effects(report: ExplainReport, sources: list[SourceFile]) -> None:
    """Say what each catch block does (print, abort, re-raise), following the helpers it calls."""
    for entry in report.error_handling:
        if entry.kind != "try/catch":
            continue
        block = entry.detail[entry.detail.find("{"):]
        parts = _effect(block)
        for helper in dict.fromkeys(re.findall(r"\b([A-Za-z_]\w*)\s*\(", block)):
            text = None if helper in ("PyErr_Print", "abort") else _helper_text(helper, sources)
            if text is not None and _effect(text):
                parts.append(f"{helper} {', '.join(_effect(text))}")
        if parts:
            entry.effect = "; ".join(parts)


def _absences(report: ExplainReport) -> list[str]:
    """What this Caffe does not do for a Python layer, said outright rather than left out."""
    out = []
    names = {a.name for a in report.attributes}
    if not any(n.startswith("param_str") for n in names):
        out.append("param_str: not set by this Caffe (self.param_str does not exist)")
    if "phase" not in names:
        out.append("phase: not set by this Caffe (self.phase does not exist)")
    if not report.guards:
        out.append(f"no guard: {report.cls.name} checks nothing before calling your layer")
    uncaught = [f"{m.cpp}" for m in report.methods for c in m.python_calls if not c.in_try]
    if uncaught:
        out.append(f"no try/catch: the Python calls in {', '.join(dict.fromkeys(uncaught))} are not caught; a Python "
                   "exception leaves as a C++ exception (bp::error_already_set), and where nothing catches it, it "
                   "aborts the process")
    if not any(h.kind == "gil" for h in report.error_handling if h.method in {m.cpp for m in report.methods}):
        out.append("no GIL handling: the calls into Python assume the calling thread holds the GIL")
    return out


def _export_macros(src: SourceFile) -> list[str]:
    """Macros between `class` and a class name (CAFFE_EXPORT): defined empty so an unresolved
    one does not hide the class from the parser (a #define in the includes still wins)."""
    out = []
    for i, tok in enumerate(src.tokens[:-2]):
        nxt, name = src.tokens[i + 1], src.tokens[i + 2]
        if (tok.text in ("class", "struct") and nxt.kind == "ident" and re.fullmatch(r"[A-Z][A-Z0-9_]+", nxt.text)
                and name.kind == "ident" and nxt.text not in out):
            out.append(nxt.text)
    return out


def _raii_helpers(report: ExplainReport, src: SourceFile) -> None:
    """For `Helper guard;` entries, what the helper class (defined in the same header) calls."""
    from .tokens import class_body  # noqa: PLC0415

    for entry in report.error_handling:
        words = entry.detail.split()
        if entry.kind != "gil" or len(words) != 2 or not words[1].endswith(";"):
            continue
        scope = class_body(src, words[0])
        if scope is None:
            continue
        py_calls = list(dict.fromkeys(
            src.tokens[i].text for i in range(scope[1], scope[2])
            if re.fullmatch(r"Py[A-Za-z]*_\w+", src.tokens[i].text) and src.at(i + 1, "(")))
        if py_calls:
            entry.detail += f" (RAII: {words[0]} calls {', '.join(py_calls)})"


def _diagnostics(tu, cindex) -> list[Diagnostic]:
    out = []
    for diag in tu.diagnostics:
        if diag.severity < cindex.Diagnostic.Error:
            continue
        loc = diag.location
        message = diag.spelling
        match = re.fullmatch(r"'(.+)' file not found", message)
        if match:
            message = (f"unresolved include <{match.group(1)}>: facts from other files are missing, "
                       "the class body is read anyway")
        out.append(Diagnostic("warning" if match else "error", message, loc.file.name if loc.file else None,
                              loc.line or None))
    if len(out) > MAX_DIAGNOSTICS:
        extra = len(out) - MAX_DIAGNOSTICS
        out = [*out[:MAX_DIAGNOSTICS], Diagnostic("note", f"{extra} more parse errors not shown")]
    return out


def _bracket_errors(src: SourceFile, diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Brackets of the header that never close (or close nothing), from its tokens: clang stops at
    the first unresolved include and skips function bodies, so it does not see these itself."""
    known = {(d.file, d.line) for d in diagnostics if d.level == "error"}
    out = []
    for i in src.unbalanced():
        tok = src.tokens[i]
        if (str(src.path), tok.line) in known:
            continue
        what = f"'{tok.text}' is never closed" if tok.text in "([{" else f"'{tok.text}' closes no open bracket"
        out.append(Diagnostic("error", f"unbalanced bracket: {what}", str(src.path), tok.line))
    return out


def _token_at(src: SourceFile, offset: int) -> int:
    """The token at a cursor's offset, else the one before it (the cursors asked about lie in src's tokens)."""
    starts = src.starts()
    i = bisect.bisect_left(starts, offset)
    if i < len(starts) and starts[i] == offset:
        return i
    return max(0, i - 1)


_CLASS_KINDS = ("CLASS_TEMPLATE", "CLASS_DECL", "STRUCT_DECL")


def _find_class(tu, target: Target, src: SourceFile, cindex):
    """The class asked for, else the class the file is named after, else its first derived class."""
    header = str(target.header)
    classes = []

    def visit(cursor):
        # Only the header's own declarations: walking all of boost's AST would cost seconds.
        for child in cursor.get_children():
            if not (child.location.file and child.location.file.name == header):
                continue
            if child.kind.name in _CLASS_KINDS and child.is_definition():
                classes.append(child)
            elif child.kind == cindex.CursorKind.NAMESPACE:
                visit(child)

    visit(tu.cursor)
    if target.class_name:
        return next((c for c in classes if c.spelling == target.class_name), None)
    stem = target.header.stem.replace("_", "").lower()
    for c in classes:
        if c.spelling.lower() == stem:
            return c
    for c in classes:
        has_base = any(ch.kind == cindex.CursorKind.CXX_BASE_SPECIFIER for ch in c.get_children())
        if has_base or _token_bases(src, c.spelling):
            return c
    return classes[0] if classes else None


def _token_bases(src: SourceFile, name: str) -> list[str]:
    """Base classes from the class head's tokens (works when the bases are unresolved)."""
    from .tokens import class_body  # noqa: PLC0415

    found = class_body(src, name)
    if found is None:
        return []
    kw, brace, _ = found
    colon = src.find(":", kw, brace)
    if colon < 0:
        return []
    bases, start = [], colon + 1
    depth = 0
    for i in range(colon + 1, brace + 1):
        text = src.tokens[i].text
        depth += {"<": 1, ">": -1, ">>": -2}.get(text, 0)
        if (text == "," and depth == 0) or i == brace:
            words = [j for j in range(start, i)
                     if src.tokens[j].text not in ("public", "protected", "private", "virtual")]
            if words:
                bases.append(src.text(words[0], words[-1] + 1))
            start = i + 1
    return bases


def _class_info(cursor, src: SourceFile, cindex) -> ClassInfo:
    from .tokens import class_body  # noqa: PLC0415

    params = [c.spelling for c in cursor.get_children()
              if c.kind in (cindex.CursorKind.TEMPLATE_TYPE_PARAMETER, cindex.CursorKind.TEMPLATE_NON_TYPE_PARAMETER,
                            cindex.CursorKind.TEMPLATE_TEMPLATE_PARAMETER)]
    export = None
    found = class_body(src, cursor.spelling)
    if found is not None:
        kw = found[0]
        words = [t.text for t in src.tokens[kw + 1:found[1]]]
        name_at = words.index(cursor.spelling)
        macros = [w for w in words[:name_at] if re.fullmatch(r"[A-Z_][A-Z0-9_]*", w)]
        export = macros[0] if macros else None
    return ClassInfo(cursor.spelling, params, _token_bases(src, cursor.spelling), export, cursor.location.line)


def _bases(cursor, cindex) -> list[tuple[BaseClass, object]]:
    """Every base of the class, depth first in declaration order (all bases of a class with multiple
    inheritance, such as Intel's MKLDNN layers), each at its definition, with that definition's cursor."""
    out: list[tuple[BaseClass, object]] = []
    seen: set[str] = set()

    def visit(current, parent: str | None) -> None:
        for base in (c for c in current.get_children() if c.kind == cindex.CursorKind.CXX_BASE_SPECIFIER):
            ref = base.referenced
            if ref is None:
                out.append((BaseClass(base.spelling, parent=parent), None))
                continue
            if ref.spelling in seen:
                continue
            seen.add(ref.spelling)
            definition = ref.get_definition() or ref
            loc = definition.location
            out.append((BaseClass(ref.spelling, loc.file.name if loc.file else None, loc.line or None, parent),
                        definition if definition.is_definition() else None))
            if definition.is_definition():
                visit(definition, ref.spelling)

    visit(cursor, None)
    return out


INHERITED_HOOKS = ("LayerSetUp", "Reshape")


def _inherited_guards(report: ExplainReport, bodies, bases: list[BaseClass], root: Path | None, source) -> list[Guard]:
    """Guards of a base's LayerSetUp/Reshape that run for this class: the base's hook when the class
    does not override it, or when its override calls `Base<Dtype>::Reshape(...)` (LossLayer's checks)."""
    out = []
    for hook in INHERITED_HOOKS:
        own = bodies.get(hook)
        own_text = own[0].text(own[1].body_open, own[1].body_close + 1) if own else ""
        for base in bases:
            explicit = re.search(rf"\b{re.escape(base.name)}\s*<[^;]*?>\s*::\s*{hook}\s*\(", own_text)
            if own is not None and not explicit:
                continue
            found = _base_body(base, hook, root, source)
            if found is None:
                continue
            bsrc, body = found
            got = body_facts.read_body(bsrc, body)
            out += [Guard(g.condition, g.message, g.action, g.aborts, g.line, str(bsrc.path),
                          f"{base.name}::{hook} (inherited)") for g in got.guards]
            break  # the nearest base's definition is the one that runs
    return out


def _base_body(base: BaseClass, hook: str, root: Path | None, source):
    """(source, body) of base::hook: inline in the base's header, else in the base's .cpp."""
    if not base.file:
        return None
    header = Path(base.file)
    for path in [header, *matching_sources(header, root, base.name)]:
        found = function_bodies(source(path), hook, owner=base.name)
        if found:
            return source(path), found[-1]
    return None


def _overrides_virtual(name: str, bases: list[tuple[BaseClass, Any]], cindex) -> bool:
    """Whether a base declares name virtual: then an override without the keyword is virtual too."""
    for _, definition in bases:
        if definition is None:
            continue
        for child in definition.get_children():
            if child.kind == cindex.CursorKind.CXX_METHOD and child.spelling == name and child.is_virtual_method():
                return True
    return False


def _type_string(bodies) -> str | None:
    if "type" not in bodies:
        return None
    body_src, body = bodies["type"]
    ret = body_src.find("return", body.body_open, body.body_close)
    if ret >= 0:
        if body_src.tokens[ret + 1].kind == "literal":
            return body_src.string_value(ret + 1)
        return body_src.text(ret + 1, body.body_close - 1)
    return None


def _blob_constraints(report: ExplainReport, bodies, tu, sources: dict[str, SourceFile]) -> list[Constraint]:
    """Blob-count methods (ExactNumBottomBlobs, MinTopBlobs, ...) of the class and its bases, nearest first."""
    out: dict[str, Constraint] = {}
    for name, (body_src, body) in bodies.items():
        if _BLOB_COUNT.match(name):
            out[name] = _constraint(report.cls.name, name, body_src, body)
    for base in report.cls.base_chain:
        if not base.file:
            continue
        if base.file not in sources:
            sources[base.file] = tokenize(tu, Path(base.file))
        from .tokens import class_body  # noqa: PLC0415

        bsrc = sources[base.file]
        scope = class_body(bsrc, base.name)
        if scope is None:
            continue
        for i in range(scope[1], scope[2]):
            tok = bsrc.tokens[i]
            if tok.kind == "ident" and _BLOB_COUNT.match(tok.text) and tok.text not in out:
                body = function_at(bsrc, i, scope[2])
                if body is not None:
                    out[tok.text] = _constraint(base.name, tok.text, bsrc, body)
    return sorted(out.values(), key=lambda c: c.name)


def _constraint(owner: str, name: str, src: SourceFile, body) -> Constraint:
    ret = src.find("return", body.body_open, body.body_close)
    end = src.statement_end(ret + 1, body.body_close) if ret >= 0 else body.body_close
    value = src.text(ret + 1, end) if ret >= 0 else "?"
    return Constraint(name, value, owner, body.line, str(src.path))


def _holder(cursor, src: SourceFile, cindex, member: str) -> Holder:
    """How the Python object is held: the member's type and how the constructor fills it."""
    member = member.replace("this->", "")
    field_cursor = next((c for c in cursor.get_children()
                         if c.kind == cindex.CursorKind.FIELD_DECL and c.spelling == member), None)
    if field_cursor is None:
        return Holder(member, "?", 0)
    lo = _token_at(src, field_cursor.extent.start.offset)
    name_at = _token_at(src, field_cursor.location.offset)
    holder = Holder(member, src.text(lo, name_at), field_cursor.location.line)
    for ctor in cursor.get_children():
        if ctor.kind != cindex.CursorKind.CONSTRUCTOR:
            continue
        name_index = _token_at(src, ctor.location.offset)
        body = function_at(src, name_index)
        params = src.split_args(name_index + 1)
        holder.constructor = f"{src.tokens[name_index].text}({', '.join(src.text(a, b) for a, b in params)})"
        holder.init_line = ctor.location.line
        if body is None:
            continue
        for i in range((params and params[-1][1]) or name_index, body.body_open):
            if src.tokens[i].text == member and src.at(i + 1, "("):
                close = src.match(i + 1)
                holder.init = src.text(i + 2, close)
                words = {t.text for t in src.tokens[i + 2:close]}
                pyobj = [src.text(a, b) for a, b in params if "PyObject" in src.text(a, b)]
                holder.constructor_param = pyobj[0] if pyobj else None
                if "borrowed" in words:
                    holder.reference = "borrowed"
                elif "handle" in words:
                    holder.reference = "stolen"
                elif "*" in holder.type:
                    holder.reference = "raw pointer"
                holder.init_line = src.tokens[i].line
                break
    return holder
