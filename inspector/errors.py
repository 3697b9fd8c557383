"""Errors the user can act on.

Every expected failure is an InspectorError: one line saying what is wrong and one saying
what to do. The CLI prints both and exits with the error's code (2 for bad usage or input,
1 for a check that ran and failed); anything else is a bug in inspector, reported in one line
with exit 70 (EX_SOFTWARE), never as a traceback.
"""
from __future__ import annotations

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL_ERROR = 70  # EX_SOFTWARE (sysexits.h): a bug in inspector, not in the user's net


class InspectorError(Exception):
    """An expected failure, with the one-line message and the remedy the CLI prints."""

    exit_code = EXIT_BAD_INPUT
    details: str | None = None  # lines the CLI prints under the message (Caffe's CHECK line, a traceback)

    def __init__(self, message: str, remedy: str | None = None):
        super().__init__(message)
        self.message = message
        self.remedy = remedy

    def __str__(self) -> str:
        return self.message if not self.remedy else f"{self.message}\n{self.remedy}"


class InputError(InspectorError):
    """A file the user named is missing, unreadable or malformed."""


class MissingDependency(InspectorError):
    """Something the command needs is not installed or not found (pycaffe, libclang, dot, Caffe source)."""


class CheckFailed(InspectorError):
    """A check ran and found a problem (doctor, gradcheck, trace findings, a crashed net)."""

    exit_code = EXIT_CHECK_FAILED
