"""Fuzzing: mutated real prototxts never make graph or the prototxt reader crash.

Seeds are the sample nets, the static test nets and a few of Caffe's own examples (tests/fuzz_seeds).
Each example applies a few mutations: line-level ones that keep the text parsing (a field's value
replaced, a line repeated or dropped), so the mutant reaches wiring and lints, and byte-level ones
(cut, repeat, swap lines, change a byte, insert a hostile token: unbalanced braces, bad escapes,
huge numbers, NUL, CR, invalid UTF-8, markup, terminal escapes),
and runs `inspector graph` on the result in-process, through the real command group. Whatever the
input, the exit code is 0, 1 or 2 and no "internal error" is printed. The number of examples is
bounded so the suite stays fast.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from click.testing import CliRunner
from conftest import SAMPLE_NETS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inspector.cli import main
from inspector.errors import InputError
from inspector.prototxt import read_net

TESTS = Path(__file__).resolve().parent
SEEDS = sorted([*SAMPLE_NETS.glob("*/*.prototxt"), *(TESTS / "nets_static").glob("*.prototxt"),
                *(TESTS / "fuzz_seeds").glob("*.prototxt")])
HOSTILE_TOKENS = [
    b"{", b"}", b":", b'"', b"'", b"<", b">", b"[", b"]", b",", b";", b"#", b"\\", b"\\x", b"\\xZZ", b"\\u12",
    b"\\777", b"1e400", b"-1e400", b"nan", b"-inf", b"0x", b"0xFFFFFFFFFFFFFFFFFFFF", b"9" * 5000, b"00",
    b"\r", b"\r\n", b"\x00", b"\xff\xfe", b"\xc3", b"\t", b"dim { }", b'dim: "3"', b"dim: 2.5", b"layer {",
    b"layers {", b'bottom: "data"', b'top: "data"', b'bottom: "label" top: "label"', b"include { phase: TEST }",
    b"exclude { stage: \"x\" }", b"min_level: LOW", b"loss_weight: nan", b"[red]x[/]", b":smile:",
    b"\x1b]0;t\x07", b"\x1b[2J", b"\xe2\x80\xae", b'type: "Python" python_param { module: "m" layer: "L" }',
    b"input: \"data\"", b"input_dim: 1", b"input_shape { dim: 1 }", b"state { phase: TEST level: 9 }",
]

# Values put in place of a field's value, so the mutant still parses and reaches wiring and lints.
VALUE_TOKENS = [b'"data"', b'"label"', b'"loss"', b'"x"', b'""', b"0", b"-1", b"1e400", b"nan", b"99999999999999999999",
                b"TEST", b"TRAIN", b"true", b'"[red]x[/]"', b'"\\x1b[2J"', b"{ }", b"{ phase: TEST }", b"2.5"]

mutation = st.one_of(
    st.tuples(st.just("value"), st.floats(0, 1), st.sampled_from(VALUE_TOKENS)),
    st.tuples(st.just("dup_line"), st.floats(0, 1), st.none()),
    st.tuples(st.just("drop_line"), st.floats(0, 1), st.none()),
    st.tuples(st.just("cut"), st.floats(0, 1), st.integers(1, 200)),
    st.tuples(st.just("repeat"), st.floats(0, 1), st.integers(1, 200)),
    st.tuples(st.just("insert"), st.floats(0, 1), st.sampled_from(HOSTILE_TOKENS)),
    st.tuples(st.just("swap_lines"), st.floats(0, 1), st.floats(0, 1)),
    st.tuples(st.just("truncate"), st.floats(0, 1), st.none()),
    st.tuples(st.just("byte"), st.floats(0, 1), st.integers(0, 255)),
)


def mutate(data: bytes, steps) -> bytes:
    for kind, where, arg in steps:
        at = int(where * len(data))
        if kind == "cut":
            data = data[:at] + data[at + arg:]
        elif kind == "repeat":
            data = data[:at] + data[at:at + arg] * 2 + data[at + arg:]
        elif kind == "insert":
            data = data[:at] + arg + data[at:]
        elif kind == "swap_lines":
            lines = data.split(b"\n")
            i, j = int(where * (len(lines) - 1)), int(arg * (len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
            data = b"\n".join(lines)
        elif kind in ("value", "dup_line", "drop_line"):
            lines = data.split(b"\n")
            i = int(where * (len(lines) - 1))
            if kind == "value" and b":" in lines[i]:
                lines[i] = lines[i][: lines[i].index(b":") + 1] + b" " + arg
            elif kind == "dup_line":
                lines.insert(i, lines[i])
            elif kind == "drop_line":
                del lines[i]
            data = b"\n".join(lines)
        elif kind == "byte":
            data = data[:at] + bytes([arg]) + data[at + 1:]
        else:
            data = data[:at]
    return data


def run_graph(net: Path, *options: str):
    result = CliRunner().invoke(main, ["graph", str(net), *options])
    return result.exit_code, result.output


def test_the_seeds_are_there():
    assert len(SEEDS) >= 10 and all(seed.stat().st_size > 0 for seed in SEEDS)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
@given(seed=st.sampled_from(SEEDS), steps=st.lists(mutation, min_size=1, max_size=4),
       phase=st.sampled_from(["train", "test", "all"]), output=st.sampled_from([None, ".dot", ".graphml", ".json", ".mmd"]))
def test_graph_on_mutated_prototxts_exits_0_1_or_2_and_never_internal_error(seed, steps, phase, output):
    with tempfile.TemporaryDirectory() as folder:
        net = Path(folder) / "mutant.prototxt"
        net.write_bytes(mutate(seed.read_bytes(), steps))
        options = ["--phase", phase] + (["-o", str(Path(folder) / f"net{output}")] if output else [])
        code, output_text = run_graph(net, *options)
    assert code in (0, 1, 2), output_text
    assert "internal error" not in output_text


@settings(max_examples=120, deadline=None, database=None)
@given(seed=st.sampled_from(SEEDS), steps=st.lists(mutation, min_size=1, max_size=4))
def test_reading_a_mutated_prototxt_for_trace_raises_only_input_errors(seed, steps):
    with tempfile.TemporaryDirectory() as folder:
        net = Path(folder) / "mutant.prototxt"
        net.write_bytes(mutate(seed.read_bytes(), steps))
        try:
            spec = read_net(net)
            for phase in ("TRAIN", "TEST"):  # what trace asks of the NetSpec before Caffe runs the net
                [layer.python.label for layer in spec.layers_for(phase) if layer.python]
                [layer.effective_loss_weights for layer in spec.layers_for(phase)]
        except InputError as error:
            assert error.message and error.exit_code == 2
