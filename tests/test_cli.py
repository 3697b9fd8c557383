"""The command line itself: version, help on every command, usage errors without tracebacks."""
from __future__ import annotations

import pytest

from conftest import run_cli
from inspector import __version__
from inspector.cli import main


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
