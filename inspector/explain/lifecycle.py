"""The life of a Python layer, told from the source tree around the header.

Read from tokens of more files of the same tree (each lexed on its own, in milliseconds), from
where each fork really does it:
- src/caffe/layer_factory.cpp: the creator function whose body reads python_param: the checks
  on the names, how it starts Python (and under which condition), how it imports the module
  (bp::import, or bp::exec of "import ..." and bp::eval in __main__'s namespace), which class it
  calls and with what, how it gets the C++ layer back; the REGISTER_LAYER_CREATOR naming it
  (with or without type lists).
- include/caffe/layer.hpp: SetUp, Forward and Backward of Layer or of its base (LayerBase in
  NVIDIA's Caffe) (what they call, in order: Reshape before Forward_cpu, a lock, the device
  switch, the loss from top data and loss weights) and the default Forward_gpu/Backward_gpu,
  which fall back to the CPU ones.
- src/caffe/net.cpp: Net::ForwardFromTo, where older forks call each layer's Reshape before its
  Forward (Layer::Forward does not there).
- python/caffe/_caffe.cpp: the boost.python class_ registered as "Layer": its held type (how a
  Python subclass gets a PythonLayer underneath), its constructor and what it exposes.
Each step pairs the C++ side with the Python side the header's facts give, with file:line.
The creator's own error handling (GetPythonLayer's try/catch around the import and the
construction of the user's class) is read like a method body (facts.read_body) and joins the
report's error_handling, marked with its file, line and function.
"""
from __future__ import annotations

import re

from .facts import read_body
from .report import ExplainReport, Handling, LifecycleStep, Reference
from .tokens import SourceFile, calls_in, function_at, function_bodies


def _ref(src: SourceFile, text: str, line: int) -> Reference:
    return Reference(text, str(src.path), line)


def _python_refs(report: ExplainReport, method_name: str) -> list[Reference]:
    method = report.method(method_name)
    if method is None:
        return [Reference(f"{report.cls.name} does not define {method_name}")]
    if not method.python_calls:
        return [Reference(f"{report.cls.name}::{method_name} calls no Python method")]
    return [Reference(f"{c.name}({', '.join(c.args)})", c.file, c.line) for c in method.python_calls]


def _cpp_ref(report: ExplainReport, method_name: str) -> Reference:
    method = report.method(method_name)
    if method is None:
        return Reference(f"{report.cls.name}::{method_name} (not overridden)")
    loc = method.defined_at.rsplit(":", 1) if method.defined_at else (report.file, method.line)
    return Reference(f"{report.cls.name}::{method_name}", loc[0], int(loc[1]))


def _layer_owners(src: SourceFile) -> list[str]:
    """Layer and the classes it derives from in layer.hpp (NVIDIA's Caffe: LayerBase)."""
    from .tokens import class_body  # noqa: PLC0415

    owners = ["Layer"]
    found = class_body(src, "Layer")
    if found is not None:
        owners += [t.text for t in src.tokens[found[0] + 2:found[1]]
                   if t.kind == "ident" and t.text not in ("public", "protected", "private", "virtual")
                   and t.text not in owners]
    return owners


def _layer_function(src: SourceFile | None, name: str):
    """(owner, body) of Layer's (or its base's) definition of name with a body, else (None, None)."""
    if src is None:
        return None, None
    for owner in _layer_owners(src):
        found = function_bodies(src, name, owner=owner)
        if found:
            # The definition with a body (not a forward declaration).
            return owner, found[-1]
    return None, None


def _body_calls(src: SourceFile, body) -> list[tuple[str, int]]:
    return [(name, src.tokens[i].line) for name, i, _ in calls_in(src, body.body_open, body.body_close)]


def python_lifecycle(report: ExplainReport, sources: dict[str, SourceFile]) -> None:
    layer, factory, pycaffe = sources.get("layer"), sources.get("factory"), sources.get("pycaffe")
    steps = report.lifecycle
    steps.append(_construction(report, factory, pycaffe))
    steps += _setup(report, layer)
    steps += _iteration(report, layer, sources.get("net"))


def _assignments(src: SourceFile, body) -> dict[str, str]:
    """`type name = value;` in a body: name -> value, `.c_str()` dropped
    (module_name -> param.python_param().module())."""
    out = {}
    toks = src.tokens
    for i in range(body.body_open + 1, body.body_close - 1):
        if toks[i].kind == "ident" and src.at(i + 1, "=") and toks[i - 1].kind in ("ident", "keyword", "punct") \
                and toks[i - 1].text not in (";", "{", "}", "(", ",", "."):
            end = src.statement_end(i + 2, body.body_close)
            out[toks[i].text] = src.text(i + 2, end).replace(".c_str()", "")
    return out


def _where(text: str, names: dict[str, str]) -> str:
    """` (where name = value)` for each local name text uses, standing alone (not `.module()` nor a call)."""
    used = [f"{name} = {value}" for name, value in names.items()
            if re.search(rf"(?<![\w.>]){re.escape(name)}\b(?!\s*\()", text)]
    return f" (where {'; '.join(used)})" if used else ""


def _construction(report: ExplainReport, factory: SourceFile | None, pycaffe: SourceFile | None) -> LifecycleStep:
    step = LifecycleStep("construction", "create the layer", [], [])
    if factory is not None:
        creator = _creator(factory)
        if creator is None:
            step.notes.append(Reference(f"no function reading python_param found in {factory.path}"))
        else:
            _creator_steps(report, factory, creator, step)
    if pycaffe is not None:
        registration = _pycaffe_layer_class(pycaffe)
        if registration is not None:
            held, init, line, exposed = registration
            step.notes.append(_ref(pycaffe, f"caffe.Layer is bp::class_<{held}> with constructor {init}: "
                                   f"constructing your subclass builds the C++ {report.cls.name} around it", line))
            report.pycaffe_layer = exposed
    h = report.holder
    if h is not None and h.constructor:
        step.cpp.append(Reference(h.constructor, report.file, h.init_line))
        step.notes.append(Reference(f"the Python object is held in {h.description}", report.file, h.line))
    return step


def _creator_steps(report: ExplainReport, factory: SourceFile, body, step: LifecycleStep) -> None:
    """What the creator (GetPythonLayer) does, in order: C++ on one side, Python on the other."""
    creator_name = factory.tokens[body.name_index].text
    step.cpp.append(_ref(factory, f"{creator_name}(const LayerParameter& param)", body.line))
    facts = read_body(factory, body)
    names = _assignments(factory, body)
    evaluated = {name for name, value in names.items() if re.match(r"(bp::|boost::python::)?eval\s*\(", value)}
    for name, i, paren in calls_in(factory, body.body_open, body.body_close):
        args = [factory.text(a, b).replace(".c_str()", "") for a, b in factory.split_args(paren)]
        line = factory.tokens[i].line
        if name in ("Py_Initialize", "PyEval_InitThreads"):
            condition = facts.call_conditions.get(line)
            step.cpp.append(_ref(factory, f"{name}()" + (f" only if {condition}" if condition else ""), line))
        elif name == "import" and args:
            if factory.string_value(factory.split_args(paren)[0][0]) == "__main__":
                continue  # __main__'s namespace, where exec/eval below run
            step.python.append(_ref(factory, f"import the module named by {args[0]}{_where(args[0], names)}", line))
        elif name == "exec" and args:
            step.python.append(_ref(factory, f"bp::exec {args[0]} in __main__'s namespace: imports your module"
                                             + _where(args[0], names), line))
        elif name == "eval" and args:
            step.python.append(_ref(factory, f"bp::eval {args[0]} in __main__'s namespace: finds your class"
                                             + _where(args[0], names), line))
        elif name in evaluated:
            step.python.append(_ref(factory, f"call {name}({', '.join(args)}): your class, constructed with the "
                                             "LayerParameter", line))
        elif name == "attr" and args and factory.at(factory.match(paren) + 1, "("):
            ctor_args = [factory.text(a, b) for a, b in factory.split_args(factory.match(paren) + 1)]
            step.python.append(_ref(factory, f"call module.<{args[0]}>({', '.join(ctor_args)}): your class, "
                                             "constructed with the LayerParameter" + _where(args[0], names), line))
        elif name == "extract":
            step.cpp.append(_ref(factory, factory.text(i, factory.statement_end(i, body.body_close)), line))
    step.notes += [_ref(factory, f"{g.action} aborts if {g.condition}" + (f": {g.message}" if g.message else ""),
                        g.line)
                   for g in facts.guards]
    for j in range(body.body_open, body.body_close):
        if factory.tokens[j].text == "catch":
            end = factory.match(factory.match(j + 1) + 1)
            step.notes.append(_ref(factory, "on a Python exception: " + factory.text(j, end + 1),
                                   factory.tokens[j].line))
            break
    report.error_handling += [Handling(h.kind, h.detail, h.line, str(factory.path), creator_name)
                              for h in facts.handling]
    for j, tok in enumerate(factory.tokens):
        if tok.text.startswith("REGISTER_LAYER_CREATOR") and factory.at(j + 1, "("):
            args = [factory.text(a, b) for a, b in factory.split_args(j + 1)]
            # the creator's name is the second argument; forks may add type lists after it (BVLC opencl)
            if len(args) >= 2 and args[1] == creator_name:
                step.notes.append(_ref(factory, f'registered as layer type "{args[0]}"', tok.line))


def _creator(factory: SourceFile):
    """The function in layer_factory.cpp whose body reads python_param (GetPythonLayer)."""
    toks = factory.tokens
    for i, tok in enumerate(toks):
        if tok.kind != "ident" or not factory.at(i + 1, "("):
            continue
        body = function_at(factory, i)
        if body is None:
            continue
        words = {t.text for t in toks[body.body_open:body.body_close]}
        if "python_param" in words:
            return body
    return None


def _pycaffe_layer_class(src: SourceFile):
    """(held types, constructor, line, exposed members) of `bp::class_<...>("Layer", ...)`."""
    toks = src.tokens
    for i, tok in enumerate(toks):
        if tok.text != "class_" or not src.at(i + 1, "<"):
            continue
        after = src.skip_angle(i + 1)
        if not src.at(after, "(") or src.string_value(after + 1) != "Layer":
            continue
        held = src.text(i + 2, after - 1)
        args = src.split_args(after)
        init = src.text(*args[1]) if len(args) > 1 else "(none)"
        end = src.statement_end(after, len(toks))
        exposed = []
        for j in range(after, end):
            if toks[j].text in ("def", "add_property") and src.at(j - 1, ".") and src.at(j + 1, "("):
                name = src.string_value(j + 2)
                if name is not None:
                    what = "method" if toks[j].text == "def" else "property"
                    member_args = src.split_args(j + 1)
                    target = src.text(*member_args[1]) if len(member_args) > 1 else ""
                    exposed.append(_ref(src, f"{name} ({what}: {target})", toks[j].line))
        return held, init, tok.line, exposed
    return None


def _setup(report: ExplainReport, layer: SourceFile | None) -> list[LifecycleStep]:
    setup = LifecycleStep("setup", "set up (once, when the net is built)", [], [])
    reshape = None
    owner, body = _layer_function(layer, "SetUp")
    if layer is not None and body is not None:
        calls = _body_calls(layer, body)
        setup.cpp.append(_ref(layer, f"{owner}::SetUp calls " + ", ".join(n for n, _ in calls), body.line))
        names = [n for n, _ in calls]
        if "Reshape" in names and "LayerSetUp" in names and names.index("Reshape") > names.index("LayerSetUp"):
            reshape = LifecycleStep("setup", "reshape (right after setup)",
                                    [_ref(layer, f"{owner}::SetUp -> Reshape", calls[names.index("Reshape")][1]),
                                     _cpp_ref(report, "Reshape")], _python_refs(report, "Reshape"))
    setup.cpp.append(_cpp_ref(report, "LayerSetUp"))
    setup.python += [Reference(f"set {a.name} = {a.value}", a.file, a.line)
                     for a in report.attributes if a.method == "LayerSetUp"]
    setup.python += _python_refs(report, "LayerSetUp")
    setup.python += [Reference(f"read back {a.name} into {a.target}", a.file, a.line)
                     for a in report.attributes_read if a.method == "LayerSetUp"]
    setup.notes += [Reference(f"{g.action} if {g.condition or 'always'}: {g.message}", g.file, g.line)
                    for g in report.guards if g.method == "LayerSetUp"]
    setup.notes += _member_calls(report, "LayerSetUp")
    return [setup] + ([reshape] if reshape else [])


def _member_calls(report: ExplainReport, method_name: str) -> list[Reference]:
    """Other methods of the class a hook calls (a prefetch thread started or waited for), and what they do."""
    method = report.method(method_name)
    if method is None:
        return []
    out = []
    for name, line in method.member_calls:
        callee = report.method(name)
        if callee is None or name == method_name:
            continue
        what = [f"calls Python {c.name}()" for c in callee.python_calls]
        for h in report.error_handling:
            if h.method == name and h.kind == "thread":
                started = re.search(r"&\w+::(\w+)", h.detail)
                runs = report.method(started.group(1)) if started else None
                what.append(f"starts a thread running {runs.cpp}" + (
                    f", which calls Python {', '.join(c.name + '()' for c in runs.python_calls)}"
                    if runs.python_calls else "") if runs else f"starts a thread: {h.detail}")
        described = f"{report.cls.name}::{method_name} calls {name}" + (f" ({'; '.join(what)})" if what else "")
        out.append(Reference(described,
                             method.python_calls[0].file if method.python_calls else report.file, line))
    return out


def _device_fallback(layer: SourceFile | None, gpu: str, cpu: str) -> Reference | None:
    owner, body = _layer_function(layer, gpu)
    if layer is None or body is None:
        return None
    for name, line in _body_calls(layer, body):
        if name == cpu:
            return _ref(layer, f"{owner}::{gpu} falls back to {cpu} when the layer does not override it", line)
    return None


def _net_reshape(net: SourceFile | None):
    """(statement, line) where Net::ForwardFromTo calls a layer's Reshape before its Forward (old forks)."""
    if net is None:
        return None
    for body in function_bodies(net, "ForwardFromTo", owner="Net"):
        seen_reshape = None
        for name, i, _ in calls_in(net, body.body_open, body.body_close):
            if name == "Reshape" and net.at(i - 1, "->"):
                start = i
                while start > body.body_open and net.tokens[start - 1].text not in (";", "{", "}"):
                    start -= 1
                seen_reshape = (net.text(start, net.statement_end(i, body.body_close)), net.tokens[i].line)
            elif name == "Forward" and seen_reshape:
                return seen_reshape
    return None


def _iteration(report: ExplainReport, layer: SourceFile | None, net: SourceFile | None) -> list[LifecycleStep]:
    steps = []
    owner, forward = _layer_function(layer, "Forward")
    calls = _body_calls(layer, forward) if layer is not None and forward is not None else []
    names = [n for n, _ in calls]
    net_reshape = _net_reshape(net)
    if layer is not None and forward is not None and "Reshape" in names:
        line = calls[names.index("Reshape")][1]
        reshape_first = "Forward_cpu" in names and names.index("Reshape") < names.index("Forward_cpu")
        note = "Reshape runs before every Forward" if reshape_first else ""
        steps.append(LifecycleStep("iteration", "reshape (every forward pass)",
                                   [_ref(layer, f"{owner}::Forward -> Reshape", line), _cpp_ref(report, "Reshape")],
                                   _python_refs(report, "Reshape"), [Reference(note)] if note else []))
    elif net is not None and net_reshape is not None:
        statement, line = net_reshape
        steps.append(LifecycleStep("iteration", "reshape (every forward pass)",
                                   [_ref(net, f"Net::ForwardFromTo -> {statement}", line), _cpp_ref(report, "Reshape")],
                                   _python_refs(report, "Reshape"),
                                   [_ref(net, "Net::ForwardFromTo reshapes each layer right before its Forward "
                                              "(Layer::Forward does not, in this Caffe)", line)]))
    fwd = LifecycleStep("iteration", "forward", [], _python_refs(report, "Forward_cpu"))
    if layer is not None and forward is not None:
        if "Reshape" not in names and net_reshape is None and net is not None:
            fwd.notes.append(Reference("no reshape before each forward: neither Layer::Forward nor Net::ForwardFromTo "
                                       "calls Reshape, so reshape() runs at setup only"))
        if "Lock" in names:
            fwd.notes.append(_ref(layer, f"{owner}::Forward holds the layer's lock (Lock() ... Unlock()): forward "
                                         "passes of one layer never overlap", calls[names.index("Lock")][1]))
        for name in ("Forward_cpu", "Forward_gpu"):
            if name in names:
                fwd.cpp.append(_ref(layer, f"{owner}::Forward -> {name}", calls[names.index(name)][1]))
        fwd.notes += _loss_notes(layer, forward)
    fwd.cpp.append(_cpp_ref(report, "Forward_cpu"))
    fwd.notes += _member_calls(report, "Forward_cpu")
    if report.method("Forward_gpu") is None:
        fallback = _device_fallback(layer, "Forward_gpu", "Forward_cpu")
        if fallback:
            fwd.notes.append(fallback)
    steps.append(fwd)

    bwd = LifecycleStep("iteration", "backward", [], _python_refs(report, "Backward_cpu"))
    owner, backward = _layer_function(layer, "Backward")
    if layer is not None and backward is not None:
        bcalls = _body_calls(layer, backward)
        bnames = [n for n, _ in bcalls]
        for name in ("Backward_cpu", "Backward_gpu"):
            if name in bnames:
                bwd.cpp.append(_ref(layer, f"{owner}::Backward -> {name}", bcalls[bnames.index(name)][1]))
    bwd.cpp.append(_cpp_ref(report, "Backward_cpu"))
    bwd.notes += _member_calls(report, "Backward_cpu")
    if report.method("Backward_gpu") is None:
        fallback = _device_fallback(layer, "Backward_gpu", "Backward_cpu")
        if fallback:
            bwd.notes.append(fallback)
    steps.append(bwd)
    return steps


def _loss_notes(layer: SourceFile, body) -> list[Reference]:
    """`loss += ...` in Layer::Forward, with the definitions of the names it uses (first device only)."""
    toks = layer.tokens
    for i in range(body.body_open, body.body_close):
        if toks[i].text == "loss" and layer.at(i + 1, "+="):
            end = layer.statement_end(i, body.body_close)
            notes = [_ref(layer, "loss " + layer.text(i, end).split("loss", 1)[1].strip()
                          + ": the loss is computed from the top blobs' data and loss weights", toks[i].line)]
            used = {t.text for t in toks[i + 2:end] if t.kind == "ident"}
            for j in range(body.body_open, i):
                if toks[j].kind == "ident" and toks[j].text in used and layer.at(j + 1, "="):
                    stmt_end = layer.statement_end(j, i)
                    notes.append(_ref(layer, layer.text(j, stmt_end), toks[j].line))
            return notes
    return []
