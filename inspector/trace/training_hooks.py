"""Where the training view plugs in: `inspector trace SOLVER.prototxt` (runner.run_trace) and `trace(solver)`.

- start_training, the command's: checks the solver and its net before any child (bad input is exit 2
  at once), caps the iterations by max_iter, points runner.run_trace at training_child, and installs the
  TrainingFolder on the report builder; the progress bar shows the iteration and the current loss.
- attach_to_solver, the Python API's: the same recorder on the user's solver, in their process, its
  events folded into the same report. The lr is Caffe's GetLearningRate mirrored from the solver file when
  one is given, else pycaffe's own solver.lr; the lr_mults (frozen blobs) come from the net that file names.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from ..errors import InputError
from .training_report import TrainingFolder

DEFAULT_ITERATIONS = 50  # a solver run without --iterations: long enough for trends, short enough to wait for
TRAINING_CALL_ITERATIONS = 1  # the Python layers' call log keeps the first and last iterations whole (CallWindow)


def start_training(options, config: dict, builder, progress: bool):
    """runner.run_trace's hook for a solver file: the child module to run and the progress bar to show."""
    from .solverfile import static_solver_net  # noqa: PLC0415

    if options.inputs:
        raise InputError("--input is for nets; a solver's net reads its data through its own data layers.",
                         "Drop --input, or trace the net prototxt instead of the solver.")
    solver = Path(options.net)
    net, workdir = static_solver_net(solver)
    max_iter = _max_iter(solver)
    iterations = options.iterations
    if max_iter > 0:
        iterations = min(iterations, max_iter)
    config.update(solver=str(solver), net=str(net), workdir=str(workdir), iterations=iterations, phase="train")
    builder.report.phase = "train"
    builder.report.iterations = iterations
    builder.report.seed = config["seed"] = _solver_seed(solver, options.seed)
    bar = TrainingProgress(progress, iterations)
    folder = TrainingFolder(builder.report, str(solver), on_iteration=bar.update)
    folder.install(builder)
    return "inspector.trace.training_child", bar.context()  # by name: importing it here would load numpy


def _solver_field(solver: Path, name: str, default: int) -> int:
    from ..prototxt import read_net  # noqa: PLC0415

    try:
        return int(read_net(solver).message.get(name, default))
    except (TypeError, ValueError):
        return default


def _max_iter(solver: Path) -> int:
    return _solver_field(solver, "max_iter", 0)


def _solver_seed(solver: Path, seed: int) -> int:
    """The seed the run uses: the solver's random_seed when it sets one (Caffe seeds itself with it), else --seed."""
    random_seed = _solver_field(solver, "random_seed", -1)
    return random_seed if random_seed >= 0 else seed


class TrainingProgress:
    """A progress bar on stderr with the iteration and the current loss (nothing when not on a terminal)."""

    def __init__(self, enabled: bool, total: int):
        self.enabled, self.total = enabled, total
        self.progress = self._task = None

    def update(self, event: dict) -> None:
        if self.progress is None:
            return
        losses = ", ".join(f"{name} {value:.4g}" for name, value in event["losses"].items())
        self.progress.update(self._task, advance=1, description=f"iteration {event['iteration']}  {losses}")

    @contextmanager
    def context(self):
        if not self.enabled:
            yield lambda: None
            return
        from rich.progress import Progress  # noqa: PLC0415

        from ..render import stderr_console  # noqa: PLC0415

        with Progress(console=stderr_console(), transient=True) as progress:
            self.progress, self._task = progress, progress.add_task("training", total=self.total)
            try:
                yield lambda: None
            finally:
                self.progress = None




def attach_to_solver(solver, emit, builder, tracer, search: bool, debug: bool, solver_file: Path | None = None):
    """The TrainingRecorder on an already built solver (the API); returns it (call .end() when done)."""
    from .learning_rate import LearningRate  # noqa: PLC0415
    from .solverfile import net_lr_mults, read_solver_parameter, static_solver_net  # noqa: PLC0415
    from .training import TrainingRecorder  # noqa: PLC0415

    learning_rate = lr_mults = None
    name = str(solver_file) if solver_file else "<in-process solver>"
    facts = {"solver": name, "net": "<in-process net>",
             "type": type(solver).__name__.removesuffix("Solver"), "lr_policy": "?",
             "base_lr": float(solver.param.base_lr), "max_iter": int(solver.param.max_iter), "iterations": 0}
    if solver_file is not None:
        param = read_solver_parameter(Path(solver_file))
        net_file, _ = static_solver_net(Path(solver_file))
        learning_rate, lr_mults = LearningRate(param), net_lr_mults(net_file)
        facts.update(net=str(net_file), lr_policy=param.lr_policy)
    folder = TrainingFolder(builder.report, name)
    folder.install(builder)

    def set_iteration(iteration: int) -> None:
        tracer.iteration = iteration

    recorder = TrainingRecorder(solver, emit, learning_rate, lr_mults, search=search, debug=debug,
                                on_iteration=set_iteration)
    recorder.attach()
    recorder.describe(**facts)
    return recorder
