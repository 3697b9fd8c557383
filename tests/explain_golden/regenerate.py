"""Golden files for `inspector explain python_layer` on each fork variant, the hawkmoth way.

Each folder here is a small excerpt of one real Caffe tree (SOURCE names the repository, branch
and commit) and the expected JSON of explain on it (expected.json). The excerpt keeps only the
lines explain reads, each at its own line number, every other line blank, so every file:line in
expected.json is the line in the real fork:
- include/caffe/(layers/)python_layer.hpp and src/caffe/layers/python_layer.cpp: whole;
- include/caffe/layer.hpp: its #includes, the heads and closing braces of Layer and its bases,
  and the bodies of SetUp, Forward, Backward, Forward_gpu, Backward_gpu and the blob-count methods;
- src/caffe/layer_factory.cpp: the creator reading python_param and its REGISTER_LAYER_CREATOR;
- src/caffe/net.cpp: Net::ForwardFromTo; python/caffe/_caffe.cpp: the class_ registered as "Layer".

Usage (from the repository root, in its .venv):
  python tests/explain_golden/regenerate.py                  rewrite every expected.json after an intended change
  python tests/explain_golden/regenerate.py --extract NAME TREE [REPO BRANCH COMMIT]
                                                             (re)make NAME's excerpt from a full tree TREE,
                                                             and check explain reads the same facts from both
"""
from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
LAYER_METHODS = ("SetUp", "Forward", "Backward", "Forward_gpu", "Backward_gpu")
# facts that depend on the machine (system headers found) or on where the tree sits
MACHINE_KEYS = ("diagnostics", "file", "root")


def golden_view(report) -> dict:
    data = report.to_dict()
    for key in MACHINE_KEYS:
        data.pop(key)
    return data


def explain_tree(tree: Path) -> dict:
    from inspector.explain import explain

    return golden_view(explain("python_layer", str(tree), use_cache=False))


def variants() -> list[Path]:
    return sorted(p for p in HERE.iterdir() if (p / "SOURCE").is_file())


def write_expected(folder: Path) -> None:
    data = explain_tree(folder)
    (folder / "expected.json").write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


# ---- excerpts ----
def _statement_start(src, i: int) -> int:
    while i > 0 and src.tokens[i - 1].text not in (";", "{", "}") and src.tokens[i - 1].kind != "literal":
        i -= 1
    return i


def _function_lines(src, body) -> range:
    return range(src.tokens[_statement_start(src, body.name_index)].line, src.tokens[body.body_close].line + 1)


def _include_lines(data: bytes) -> set[int]:
    return {n for n, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1)
            if line.lstrip().startswith("#include")}


def _layer_lines(index, path: Path) -> set[int]:
    from inspector.explain.analyze import _BLOB_COUNT
    from inspector.explain.lifecycle import _layer_owners
    from inspector.explain.tokens import class_body, function_at, function_bodies, lex_file

    src = lex_file(index, path)
    keep = _include_lines(src.data)
    for owner in _layer_owners(src):
        scope = class_body(src, owner)
        if scope is None:
            continue
        head = _statement_start(src, scope[0])
        keep.update(range(src.tokens[head].line, src.tokens[scope[1]].line + 1))
        keep.add(src.tokens[scope[2]].line)
        for name in LAYER_METHODS:
            for body in function_bodies(src, name, owner=owner):
                keep.update(_function_lines(src, body))
        for i in range(scope[1], scope[2]):
            if src.tokens[i].kind == "ident" and _BLOB_COUNT.match(src.tokens[i].text):
                body = function_at(src, i, scope[2])
                if body is not None:
                    keep.update(_function_lines(src, body))
    return keep


def _factory_lines(index, path: Path) -> set[int]:
    from inspector.explain.lifecycle import _creator
    from inspector.explain.tokens import lex_file

    src = lex_file(index, path)
    keep = _include_lines(src.data)
    creator = _creator(src)
    if creator is not None:
        keep.update(_function_lines(src, creator))
        name = src.tokens[creator.name_index].text
        for j, tok in enumerate(src.tokens):
            if tok.text.startswith("REGISTER_LAYER_CREATOR") and src.at(j + 2, "Python"):
                keep.update(range(tok.line, src.tokens[src.match(j + 1)].line + 1))
        assert name
    return keep


def _net_lines(index, path: Path) -> set[int]:
    from inspector.explain.tokens import function_bodies, lex_file

    src = lex_file(index, path)
    keep: set[int] = set()
    for body in function_bodies(src, "ForwardFromTo", owner="Net"):
        keep.update(_function_lines(src, body))
    return keep


def _pycaffe_lines(index, path: Path) -> set[int]:
    from inspector.explain.tokens import lex_file

    src = lex_file(index, path)
    for i, tok in enumerate(src.tokens):
        if tok.text == "class_" and src.at(i + 1, "<"):
            after = src.skip_angle(i + 1)
            if src.at(after, "(") and src.string_value(after + 1) == "Layer":
                start = _statement_start(src, i)
                return set(range(src.tokens[start].line, src.tokens[src.statement_end(after, len(src.tokens))].line + 1))
    return set()


def _write_excerpt(source: Path, target: Path, keep: set[int] | None) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if keep is None:
        shutil.copy(source, target)
        return
    lines = source.read_text(encoding="utf-8", errors="replace").splitlines()
    target.write_text("\n".join(line if n in keep else "" for n, line in enumerate(lines, 1)).rstrip("\n") + "\n")


def extract(name: str, tree: Path, provenance: list[str]) -> None:
    from inspector import caffe_env
    from inspector.explain.locate import resolve_target

    cindex = caffe_env.load_cindex()
    index = cindex.Index.create()
    header = resolve_target("python_layer", str(tree)).header
    folder = HERE / name
    if folder.exists():
        shutil.rmtree(folder)
    wanted: dict[str, set[int] | None] = {str(header.relative_to(tree)): None}
    if (tree / "src/caffe/layers/python_layer.cpp").is_file():
        wanted["src/caffe/layers/python_layer.cpp"] = None
    wanted["include/caffe/layer.hpp"] = _layer_lines(index, tree / "include/caffe/layer.hpp")
    for rel, lines in (("src/caffe/layer_factory.cpp", _factory_lines), ("src/caffe/net.cpp", _net_lines),
                       ("python/caffe/_caffe.cpp", _pycaffe_lines)):
        if (tree / rel).is_file():
            wanted[rel] = lines(index, tree / rel)
    for rel, keep in wanted.items():
        _write_excerpt(tree / rel, folder / rel, keep)
    (folder / "SOURCE").write_text("\n".join(provenance + [f"files: {', '.join(sorted(wanted))}"]) + "\n")
    full, excerpt = explain_tree(tree), explain_tree(folder)
    full.pop("files_read", None)
    if full != excerpt:
        for key in full:
            if full[key] != excerpt.get(key):
                print(f"{name}: {key} differs between the full tree and the excerpt:\n  {full[key]}\n  {excerpt.get(key)}")
        raise SystemExit(1)
    write_expected(folder)
    print(f"{name}: excerpt of {tree} reads the same facts as the full tree")


def main(argv: list[str]) -> int:
    if argv[:1] == ["--extract"]:
        name, tree, *provenance = argv[1:]
        with tempfile.TemporaryDirectory() as cache:
            import os
            os.environ["INSPECTOR_CACHE"] = cache
            extract(name, Path(tree).resolve(), [" ".join(provenance)] if provenance else [])
        return 0
    for folder in variants():
        write_expected(folder)
        print(f"{folder.name}: expected.json rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
