"""The command line itself: version, help on every command, usage errors without tracebacks."""
from __future__ import annotations

import json
import os

import click
import pytest
from click.testing import CliRunner
from conftest import run_cli

from inspector import __version__
from inspector.cli import main
from inspector.errors import EXIT_INTERNAL_ERROR


def test_version_is_printed():
    result = run_cli("--version")
    assert result.returncode == 0
    assert __version__ in result.stdout


@pytest.mark.parametrize("command", sorted(main.commands))
def test_every_command_has_help(command):
    result = run_cli(command, "--help")
    assert result.returncode == 0
    assert "Usage: " in result.stdout and command in result.stdout


def test_the_four_commands_are_there():
    assert {"explain", "trace", "gradcheck", "graph", "doctor"} <= set(main.commands)


def test_unknown_option_is_a_usage_error_with_exit_2():
    result = run_cli("doctor", "--no-such-option")
    assert result.returncode == 2
    assert "No such option" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_format_is_a_usage_error_with_exit_2():
    result = run_cli("doctor", "--format", "yaml")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


# ---- user text is text; a bug in inspector says so ----
HOSTILE_NAME = "[red]x[/]:smile: :100:\x1b]0;owned\x07\x1b[2J\u202e"


def _hostile_net(tmp_path):
    net = tmp_path / "hostile.prototxt"
    escaped = HOSTILE_NAME.encode("unicode_escape").decode().replace('"', '\\"')  # \x1b etc. as prototxt escapes
    net.write_text('name: "n"\ninput: "data"\ninput_shape { dim: 1 dim: 3 }\n'
                   f'layer {{ name: "{escaped}" type: "ReLU" bottom: "data" top: "r" }}\n'
                   f'layer {{ name: "loss" type: "Python" bottom: "r" top: "loss" '
                   f'python_param {{ module: "no_such_module" layer: "L" param_str: "[bold]{{:smile:}}" }} }}\n')
    return net


def test_layer_names_with_markup_and_emoji_codes_print_verbatim(tmp_path):
    result = run_cli("graph", _hostile_net(tmp_path))
    assert "[red]x[/]:smile: :100:" in result.stdout
    assert "param_str [bold]{:smile:}" in result.stdout
    assert "\N{SMILING FACE WITH SMILING EYES}" not in result.stdout and "\N{HUNDRED POINTS SYMBOL}" not in result.stdout


def test_control_characters_from_a_prototxt_never_reach_the_terminal_raw(tmp_path):
    result = run_cli("graph", _hostile_net(tmp_path))
    assert "\x1b" not in result.stdout and "\u202e" not in result.stdout
    assert "\\x1b]0;owned" in result.stdout and "\\x1b[2J" in result.stdout and "\\u202e" in result.stdout


def test_a_path_with_markup_and_escapes_is_printed_verbatim_in_an_error(tmp_path):
    result = run_cli("graph", tmp_path / "[red]net[/]\x1b[2J.prototxt")
    assert result.returncode == 2
    assert "[red]net[/]\\x1b[2J.prototxt: no such file." in result.stderr
    assert "\x1b" not in result.stderr


def test_a_json_report_is_strict_json(tmp_path):
    net = tmp_path / "nan.prototxt"
    net.write_text('input: "data"\ninput_shape { dim: 1 dim: 3 }\n'
                   'layer { name: "loss" type: "EuclideanLoss" bottom: "data" bottom: "data" top: "l" loss_weight: nan }\n'
                   'layer { name: "big" type: "EuclideanLoss" bottom: "data" bottom: "data" top: "m" loss_weight: 1e400 }\n')
    result = run_cli("graph", net, "--format", "json")

    def refuse(constant):
        raise AssertionError(f"non-standard JSON constant {constant}")

    data = json.loads(result.stdout, parse_constant=refuse)
    loss = next(i for i, layer in enumerate(data["layers"]) if layer["name"] == "loss")
    assert data["layers"][loss]["loss_weights"] == [None]
    assert data["nonfinite"][f"/layers/{loss}/loss_weights/0"] == "NaN"
    assert "Infinity" in data["nonfinite"].values()


def _group_raising(exc: BaseException) -> click.Group:
    from inspector.cli import InspectorGroup

    @click.group(cls=InspectorGroup)
    def group():
        pass

    @group.command()
    def boom():
        raise exc

    return group


def test_a_bug_in_inspector_exits_70_with_a_please_report_line():
    result = CliRunner().invoke(_group_raising(KeyError("blob:data")), ["boom"])
    assert result.exit_code == EXIT_INTERNAL_ERROR == 70
    assert "internal error: KeyError: 'blob:data'" in result.output
    assert "please report" in result.output and "--debug" in result.output


def test_the_internal_error_report_survives_hostile_text():
    class Unprintable(Exception):
        def __str__(self):
            raise RuntimeError("no")

    result = CliRunner().invoke(_group_raising(ValueError("[/] [red]:smile:\x1b]0;x\x07")), ["boom"])
    assert result.exit_code == 70
    assert "ValueError: [/] [red]:smile:\\x1b]0;x" in result.output and "\x1b" not in result.output
    result = CliRunner().invoke(_group_raising(Unprintable()), ["boom"])
    assert result.exit_code == 70 and "Unprintable" in result.output


def test_an_expected_failure_still_exits_with_its_own_code(tmp_path):
    result = run_cli("graph", tmp_path / "missing.prototxt")
    assert result.returncode == 2 and "internal error" not in result.stderr


@pytest.mark.parametrize("command", [("trace",), ("gradcheck", "--layer", "x")])
def test_a_fifo_given_to_trace_or_gradcheck_is_refused_not_read_forever(tmp_path, command):
    fifo = tmp_path / "net.prototxt"
    os.mkfifo(fifo)
    result = run_cli(command[0], fifo, *command[1:], timeout=60)
    assert result.returncode == 2
    assert f"Net definition {fifo} is not a regular file." in result.stderr
