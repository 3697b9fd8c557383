"""The command line: parse options, call the library, pick a renderer, map errors to exit codes.

Nothing here computes anything. Each command calls one library function and hands its result
object to inspector.render. Every InspectorError becomes its message and remedy on stderr with
the error's exit code (2 bad input, 1 failed check); an unexpected exception is a bug in
inspector: one line, a "please report" with a pointer to --debug (which re-raises it with its
traceback), exit 70. Output files (trace --out, graph -o) are checked before the run and
written through inspector.outputs, so a failing run never truncates them.
"""
from __future__ import annotations

import contextlib
import sys
from typing import IO, cast

import click
from rich.text import Text

from .errors import (
    EXIT_CHECK_FAILED,
    EXIT_INTERNAL_ERROR,
    InspectorError,
)
from .phases import GRAPH_PHASE_OPTIONS, PHASE_OPTIONS, Phase
from .render import emit, stderr_console

FORMAT_CHOICE = click.Choice(["text", "json"])


def report_error(exc: InspectorError) -> None:
    console = stderr_console()
    console.print(Text.assemble(("error:", "bold red"), " ", exc.message))
    if exc.details:
        console.print(Text(exc.details))
    if exc.remedy:
        console.print(Text.assemble(("hint:", "dim"), " ", exc.remedy))


def warn(message: str) -> None:
    """A one-line warning on stderr that changes neither the report nor the exit code."""
    stderr_console().print(Text.assemble(("warning:", "yellow"), " ", message))


def _describe(exc: BaseException) -> str:
    """`Type: message` of an exception, even one whose __str__ itself fails."""
    try:
        text = str(exc)
    except Exception:
        text = "(its message cannot be shown)"
    first_line = text.strip().splitlines()[0] if text.strip() else ""
    return f"{type(exc).__name__}: {first_line}" if first_line else type(exc).__name__


def report_internal_error(exc: BaseException) -> None:
    stderr_console().print(
        Text.assemble(("internal error:", "bold red"), f" {_describe(exc)}\n", ("hint:", "dim"),
                      " this is a bug in inspector; please report it, with the traceback that "
                      "`inspector --debug <the same arguments>` prints."))


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
            report_internal_error(exc)
            ctx.exit(EXIT_INTERNAL_ERROR)


def print_versions(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """--version: inspector's version and those of what it stands on, as a bug report needs them."""
    if not value or ctx.resilient_parsing:
        return
    from .doctor import installed_versions

    for line in installed_versions():
        click.echo(line)
    ctx.exit(0)


@click.group(cls=InspectorGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=print_versions,
              help="Show the versions of inspector, Python, pycaffe and libclang, and exit.")
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
@click.option("--caffe-root", type=click.Path(file_okay=False),
              help="Caffe source tree (default: $CAFFE_ROOT, pycaffe's tree, the provisioned build).")
@click.option("--format", "fmt", type=FORMAT_CHOICE, default="text", show_default=True)
def doctor(caffe_root: str | None, fmt: str) -> None:
    """Check pycaffe, the Python layer, Caffe's source, libclang and Graphviz; print the fix for each failure."""
    from .doctor import run_doctor

    report = run_doctor(caffe_root)
    emit(report, fmt)
    sys.exit(0 if report.ok else EXIT_CHECK_FAILED)


# ---- explain ----
@main.command()
@click.argument("target")
@click.option("--caffe-root", type=click.Path(file_okay=False),
              help="Caffe source tree (default: $CAFFE_ROOT, pycaffe's tree, the provisioned build).")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text", show_default=True)
@click.option("--no-cache", is_flag=True, help="Parse again even when nothing changed since the last run.")
@click.option("--compare", "other", type=click.Path(exists=True), metavar="OTHER",
              help="Another Caffe tree (or header) to put side by side with this one, differences first.")
def explain(target: str, caffe_root: str | None, fmt: str, no_cache: bool, other: str | None) -> None:
    """How Caffe drives a layer class, read from Caffe's C++ source with libclang.

    TARGET: a header base name (python_layer, conv_layer), a header path, or a class name (PythonLayer).
    """
    from pathlib import Path

    from .explain import explain as explain_target

    report = explain_target(target, caffe_root, use_cache=not no_cache)
    partial = report.partial
    if other is not None:
        from .explain.compare import compare
        from .explain.locate import looks_like_path

        if Path(other).is_dir():  # the same target in the other tree (a header path by its base name)
            other_report = explain_target(Path(target).stem if looks_like_path(target) else target, other,
                                          use_cache=not no_cache)
        else:
            other_report = explain_target(other, use_cache=not no_cache)
        partial = partial or other_report.partial
        emit(compare(report, other_report), fmt)
    else:
        emit(report, fmt)
    sys.exit(EXIT_CHECK_FAILED if partial else 0)  # a partial reading is not a clean one


# ---- trace ----
@main.command()
@click.argument("net", type=click.Path(dir_okay=False))
@click.option("--phase", type=click.Choice(PHASE_OPTIONS), default=Phase.TRAIN.value, show_default=True)
@click.option("--iterations", type=click.IntRange(min=1),
              help="Forward (+ backward) passes to run (default 2); for a solver, iterations to train (default 50, "
                   "capped by its max_iter).")
@click.option("--weights", type=click.Path(dir_okay=False), help="A .caffemodel to load (with the fine-tuning view).")
@click.option("--input", "inputs", multiple=True, metavar="BLOB=FILE.npy",
              help="Data for an input blob (default: seeded random).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json", "jsonl"]), default="text", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), help="Write the output here (jsonl: events as they happen).")
@click.option("--pdb", "post_mortem", is_flag=True, help="Open a post-mortem debugger where a Python layer raises.")
@click.option("--no-stats", is_flag=True, help="Record shapes and timings only (no data/diff statistics, no probes).")
@click.option("--timeout", type=float, metavar="SECONDS",
              help="End the run after this long and report the layer and method still running.")
@click.option("--plot", type=click.Path(dir_okay=False),
              help="A solver's run: draw the losses, the lr and the update ratios to FILE.png or FILE.svg.")
def trace(net, phase, iterations, weights, inputs, seed, fmt, out, post_mortem, no_stats, timeout, plot) -> None:
    """Run NET in real Caffe; record every Python layer call, time every layer, check the layer contract.

    NET may be a solver prototxt: the solver trains its net for real, with the training view (losses, lr,
    param norms and update ratios per iteration, the first non-finite value, warnings; --plot draws them).

    Ctrl-C (or SIGTERM, SIGHUP) ends the run and prints what was recorded, naming the layer and method that
    were running; the exit code is then 128 + the signal's number (130 for Ctrl-C).
    """
    from pathlib import Path

    from .outputs import OutputError, OutputStream, check_output
    from .trace.netload import input_options
    from .trace.report import write_last_trace
    from .trace.runner import TraceOptions, exit_status, run_trace, summary_line

    parsed = input_options(inputs)
    options = TraceOptions(Path(net), phase, iterations, Path(weights) if weights else None, parsed, seed,
                           stats=not no_stats, pdb=post_mortem, timeout=timeout)
    if out:
        check_output(out, [net, weights, *parsed.values()])
    if plot:
        from .trace.training_plot import check_training_plot

        check_output(plot, [net, weights, *parsed.values()])
        check_training_plot(Path(plot), Path(net))
    # --out is renamed into place only once the report is complete; a failing run leaves the old file
    with OutputStream(out) if out else contextlib.nullcontext() as output:
        stream = cast("IO[str] | None", output)  # an OutputStream is written like a text file
        jsonl = (stream or sys.stdout) if fmt == "jsonl" else None
        report = run_trace(options, jsonl=jsonl, progress=fmt != "jsonl" and sys.stderr.isatty())
        try:
            write_last_trace(report)
        except OutputError as exc:
            warn(f"{exc.message} The report is complete; only `inspector graph` without a net will not find it.")
        if plot and report.training is not None:
            from .trace.training_plot import write_plot

            write_plot(report.training, Path(plot))
        if fmt != "jsonl":  # jsonl went out event by event
            emit(report, fmt, stream)
    if out:  # the terminal still learns how the run ended
        stderr_console().print(Text(f"{summary_line(report)}; report in {out}"))
    sys.exit(exit_status(report))


# ---- gradcheck ----
@main.command()
@click.argument("net", type=click.Path(dir_okay=False))
@click.option("--layer", "layer_name", required=True, help="The layer to check (a Python layer; C++ layers work too).")
@click.option("--step", type=float, default=1e-2, show_default=True, help="Finite-difference step.")
@click.option("--threshold", type=float, default=1e-2, show_default=True,
              help="Caffe's rule: |analytic - numeric| <= threshold * max(|analytic|, |numeric|, 1).")
@click.option("--samples", type=int, default=64, show_default=True,
              help="Elements checked per blob (all of a smaller blob).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--phase", type=click.Choice(PHASE_OPTIONS), default=Phase.TRAIN.value, show_default=True)
@click.option("--input", "inputs", multiple=True, metavar="BLOB=FILE.npy",
              help="Data for an input blob (default: seeded random).")
@click.option("--format", "fmt", type=FORMAT_CHOICE, default="text", show_default=True)
@click.option("--timeout", type=float, metavar="SECONDS",
              help="End the check after this long and report what was running.")
def gradcheck(net: str, layer_name: str, step: float, threshold: float, samples: int, seed: int, phase: str,
              inputs: tuple[str, ...], fmt: str, timeout: float | None) -> None:
    """Check a layer's backward against central differences, on the bottoms the net feeds it."""
    from pathlib import Path

    from .gradcheck import gradcheck as run_gradcheck
    from .trace.netload import input_options

    report = run_gradcheck(Path(net), layer_name, step=step, threshold=threshold, samples=samples, seed=seed,
                           phase=phase, inputs=input_options(inputs), timeout=timeout)
    emit(report, fmt)
    sys.exit(0 if report.passed else EXIT_CHECK_FAILED)



# ---- graph ----
@main.command()
@click.argument("net", required=False, type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write the graph: .svg .png .pdf (Graphviz), .dot, .graphml, .json (node-link), .mmd (Mermaid).")
@click.option("--phase", type=click.Choice(GRAPH_PHASE_OPTIONS, case_sensitive=False),
              help="Layers Caffe keeps in this phase, or all with their phases (default: the trace's, else train).")
@click.option("--stage", "stages", multiple=True, help="A NetState stage (repeatable), for include/exclude rules.")
@click.option("--shapes", type=click.Path(dir_okay=False), help="A trace JSON whose blob_shapes label the edges.")
@click.option("--rankdir", type=click.Choice(["LR", "TB", "RL", "BT"], case_sensitive=False), default="LR",
              show_default=True)
@click.option("--fold", is_flag=True, help="Draw in-place layers (BatchNorm, Scale, ReLU on a conv's top) inside "
              "the node of the layer they follow.")
@click.option("--all", "every_layer", is_flag=True, help="List every layer, however big the net (text report; "
              "over 60 layers it is a summary by default).")
@click.option("--format", "fmt", type=FORMAT_CHOICE, default="text", show_default=True)
def graph(net: str | None, output: str | None, phase: str | None, stages: tuple[str, ...], shapes: str | None,
          rankdir: str, fold: bool, every_layer: bool, fmt: str) -> None:
    """Draw and lint a prototxt statically; without NET, the net of the last `inspector trace` here."""
    import gc

    from .graph import graph_net
    from .graph.textview import GraphText

    gc.disable()  # none of the objects a net makes is in a cycle, and the process ends here: 20% of a big net's time
    report = graph_net(net, phase=phase, stages=stages, shapes=shapes, output=output, rankdir=rankdir.upper(),
                       fold=fold)
    emit(GraphText(report, every_layer=every_layer), fmt)
    sys.exit(0 if report.ok else EXIT_CHECK_FAILED)


if __name__ == "__main__":  # pragma: no cover
    main()
