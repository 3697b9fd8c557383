"""`--plot FILE.png|FILE.svg`: the training view drawn with matplotlib, one panel a series.

Panels, all against the solver's iteration: each net output (a log scale when all its values are positive),
the learning rate, and each trainable param blob's update ratio ||dw||/||w|| on a log scale with the healthy
band 1e-5..1e-1 shaded (frozen blobs are left out: their ratio is 0). A first non-finite value is a red line
at its iteration on every panel. The figure goes to a temporary file beside the target, then replaces it
(outputs.replacing), so a failed run or a failed drawing leaves what the user had.
"""
from __future__ import annotations

import math
from pathlib import Path

from ..errors import InputError
from ..outputs import replacing
from .training_report import RATIO_BAND, UNDEFINED, TrainingReport

PLOT_SUFFIXES = (".png", ".svg")


def check_plot_path(path: Path) -> Path:
    """The plot's path, or an InputError before anything runs (a suffix matplotlib would not be asked for)."""
    path = Path(path)
    if path.suffix.lower() not in PLOT_SUFFIXES:
        raise InputError(f"--plot {path} is neither .png nor .svg.", "Name the picture FILE.png or FILE.svg.")
    if not path.parent.resolve().is_dir():
        raise InputError(f"--plot {path}: the folder {path.parent} does not exist.", "Create it, or plot elsewhere.")
    return path


def check_training_plot(path: Path, traced: Path) -> Path:
    """check_plot_path, and that the traced file is a solver (a net's trace has no training to draw)."""
    from .solverfile import is_solver_file  # noqa: PLC0415

    path = check_plot_path(path)
    if Path(traced).is_file() and not is_solver_file(Path(traced)):
        raise InputError(f"--plot draws a training run, and {traced} is a net, not a solver.",
                         "Trace the solver prototxt that trains this net, or drop --plot.")
    return path


def write_plot(training: TrainingReport, path: Path) -> Path:
    import matplotlib  # noqa: PLC0415 - only when a plot is asked for

    matplotlib.use("Agg")
    from matplotlib import pyplot  # noqa: PLC0415

    path = check_plot_path(path)
    iterations = list(training.iteration)
    trainable = [blob for blob in training.blobs if not blob.frozen]
    panels = len(training.losses) + 1 + (1 if trainable else 0)
    figure, grid = pyplot.subplots(panels, 1, figsize=(8, 2.2 * panels + 0.6), sharex=True, squeeze=False)
    axes = [row[0] for row in grid]
    figure.suptitle(f"{Path(training.solver).name}: {training.solver_type}, lr_policy {training.lr_policy}",
                    fontsize=10)
    for axis, (name, values) in zip(axes, training.losses.items()):
        series = list(values)
        axis.plot(iterations, series, linewidth=1)
        if series and all(v > 0 for v in series if math.isfinite(v)) and any(math.isfinite(v) for v in series):
            axis.set_yscale("log")
        axis.set_ylabel(f"output {name}", fontsize=8)
    lr_axis = axes[len(training.losses)]
    lr_axis.plot(iterations, list(training.lr), color="tab:green", linewidth=1)
    lr_axis.set_ylabel("lr", fontsize=8)
    if trainable:
        ratio_axis = axes[-1]
        ratio_axis.axhspan(*RATIO_BAND, color="tab:green", alpha=0.08, label="1e-5..1e-1")
        for blob in trainable:
            ratios = [r if r != UNDEFINED and r > 0 else math.nan for r in blob.update_ratio]
            ratio_axis.plot(iterations, ratios, linewidth=0.8, label=blob.key)
        ratio_axis.set_yscale("log")
        ratio_axis.set_ylabel("update ratio\n||dw|| / ||w||", fontsize=8)
        ratio_axis.legend(fontsize=6, ncol=4, loc="upper right")
    if training.anomaly:
        for axis in axes:
            axis.axvline(training.anomaly["iteration"], color="red", linewidth=1)
        axes[0].set_title(f"first non-finite value at iteration {training.anomaly['iteration']}: "
                          f"{training.anomaly['layer']} {training.anomaly['method']}", fontsize=8, color="red")
    axes[-1].set_xlabel("iteration")
    for axis in axes:
        axis.tick_params(labelsize=7)
        axis.grid(alpha=0.3)
    figure.tight_layout()
    try:
        with replacing(path) as temporary:  # the user's file is replaced only by a complete picture
            figure.savefig(temporary, format=path.suffix.lower()[1:], dpi=110,
                           metadata={"Date": None} if path.suffix.lower() == ".svg" else None)
    finally:
        pyplot.close(figure)
    return path
