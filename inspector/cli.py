"""The command line: parse options, call the library, pick a renderer, map errors to exit codes.

Nothing here computes anything. Each command calls one library function and hands its result
object to inspector.render. Every InspectorError becomes its message and remedy on stderr with
the error's exit code (2 bad input, 1 failed check); an unexpected exception is reported in one
line with a pointer to --debug, which re-raises it with its traceback.
"""
from __future__ import annotations

import sys

import click

from . import __version__
from .errors import EXIT_BAD_INPUT, EXIT_CHECK_FAILED, InspectorError
from .render import emit, stderr_console

FORMAT_CHOICE = click.Choice(["text", "json"])


def report_error(exc: InspectorError) -> None:
    console = stderr_console()
    console.print(f"[bold red]error:[/] {exc.message}", markup=True, highlight=False)
    if exc.remedy:
        console.print(f"[dim]hint:[/] {exc.remedy}", markup=True, highlight=False)


class InspectorGroup(click.Group):
    """Runs a command and turns expected failures into a short message and an exit code."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except InspectorError as exc:
            report_error(exc)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            stderr_console().print("interrupted")
            ctx.exit(130)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:
            if ctx.meta.get("debug"):
                raise
            stderr_console().print(
                f"[bold red]internal error:[/] {type(exc).__name__}: {exc}\n"
                "[dim]hint:[/] run again with `inspector --debug ...` for the traceback, and report it.",
                highlight=False,
            )
            ctx.exit(EXIT_CHECK_FAILED)


@click.group(cls=InspectorGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="inspector")
@click.option("--debug", is_flag=True, help="Show the full traceback of an internal error.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """See inside Caffe nets with Python layers.

    \b
    explain    how Caffe's PythonLayer drives your layer, read from Caffe's C++ source
    trace      run a net in real Caffe and record every Python layer's calls, shapes and gradients
    gradcheck  check a Python layer's backward against central differences
    graph      draw and lint any prototxt, statically
    doctor     check that Caffe, its source, libclang and Graphviz are in place
    """
    ctx.meta["debug"] = debug


@main.command()
@click.option("--caffe-root", type=click.Path(file_okay=False), help="Caffe source tree (default: $CAFFE_ROOT, pycaffe's tree, the provisioned build).")
@click.option("--format", "fmt", type=FORMAT_CHOICE, default="text", show_default=True)
def doctor(caffe_root: str | None, fmt: str) -> None:
    """Check pycaffe, the Python layer, Caffe's source, libclang and Graphviz; print the fix for each failure."""
    from .doctor import run_doctor

    report = run_doctor(caffe_root)
    emit(report, fmt)
    sys.exit(0 if report.ok else EXIT_CHECK_FAILED)


# ---- explain ----


# ---- trace ----


# ---- gradcheck ----


# ---- graph ----


if __name__ == "__main__":  # pragma: no cover
    main()
