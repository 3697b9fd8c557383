"""Solver prototxt files: recognised by their fields, read with Caffe's schema, prepared for a traced run.

- `is_solver_file` reads a prototxt with the project's tolerant reader (no Caffe needed): a solver names
  a net and learning settings and has no layers (NetSpec.is_solver).
- `solver_net_path` finds the net a solver names: relative to the solver's folder first (a solver kept
  beside its net), then to the current folder (Caffe's own rule, which BVLC's examples rely on).
- In the child, `read_solver_parameter` parses the file with caffe_pb2 (a field this Caffe does not know
  is bad input) and `prepared_solver_file` writes the copy the traced run uses: the net's path made
  absolute, snapshots and test nets off, so a short traced run neither overwrites the user's snapshots
  nor needs the test data. `solver_class` is pycaffe's class for the solver's `type` (or the legacy
  `solver_type` enum, upgraded as Caffe's UpgradeSolverType does).
- The learning rate the solver uses at each iteration is learning_rate.LearningRate (the child's, with numpy).
"""
from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from ..phases import Phase
from ..prototxt import read_net
from .netinfo import net_spec

# the legacy `solver_type` enum and the `type` names Caffe upgrades it to (UpgradeSolverType)
LEGACY_SOLVER_TYPES = {"SGD": "SGD", "NESTEROV": "Nesterov", "ADAGRAD": "AdaGrad", "RMSPROP": "RMSProp",
                       "ADADELTA": "AdaDelta", "ADAM": "Adam"}


def is_solver_file(path: Path) -> bool:
    """Whether the prototxt at `path` is a solver (an unreadable file is left to the net's own checks)."""
    try:
        return read_net(path).is_solver
    except InputError:
        return False


def solver_net_path(solver: Path, named: str | None, inline: bool) -> tuple[Path, Path]:
    """The net file a solver trains, its `net:` (or `train_net:`) relative to the solver's folder, else to here;
    and that folder (the one the user runs the solver from)."""
    if named is None:
        if inline:
            raise InputError(f"{solver} holds its net inline (net_param); the training view needs it in a file.",
                             "Move the net to a .prototxt file and name it with net: \"FILE\".")
        raise InputError(f"{solver} names no net (no net: or train_net: field).",
                         "Add net: \"train.prototxt\" to the solver.")
    folders = list(dict.fromkeys((solver.parent.resolve(), Path.cwd().resolve())))
    for folder in folders:
        candidate = folder / named
        if candidate.is_file():
            return candidate.resolve(), folder
    places = " nor in ".join(str(folder) for folder in folders)
    raise InputError(f"{solver} names the net {named!r}, which is {'neither' if len(folders) > 1 else 'not'} in "
                     f"{places}.",
                     "Fix the solver's net: path (relative to the solver's folder), or run from the folder it is "
                     "relative to.")


def static_solver_net(solver: Path) -> tuple[Path, Path]:
    """solver_net_path from the tolerant reader's view of the file (the parent's check, before any child)."""
    message = read_net(solver).message
    named = message.get("net") or message.get("train_net")
    return solver_net_path(solver, None if named is None else str(named),
                           message.has("net_param") or message.has("train_net_param"))


def net_lr_mults(net: Path) -> dict[str, list[float]]:
    """Each train-phase layer's lr_mult per param blob, as its `param { lr_mult }` blocks give them."""
    return {layer.name: [p.lr_mult for p in layer.params] for layer in net_spec(net).layers_for(Phase.TRAIN)}


def read_solver_parameter(solver: Path):
    """The solver as caffe_pb2.SolverParameter, its legacy solver_type upgraded to type."""
    from caffe.proto import caffe_pb2  # noqa: PLC0415 - only once pycaffe is importable

    from .netinfo import read_caffe_text  # noqa: PLC0415

    param = read_caffe_text(solver, "SolverParameter", "solver")
    if param.HasField("solver_type"):
        if param.HasField("type"):
            raise InputError(f"{solver} sets both solver_type and type; Caffe refuses that.",
                             "Keep only type: \"SGD\" (or Nesterov, AdaGrad, RMSProp, AdaDelta, Adam).")
        param.type = LEGACY_SOLVER_TYPES[caffe_pb2.SolverParameter.SolverType.Name(param.solver_type)]
        param.ClearField("solver_type")
    return param


def prepared_solver_file(param, net: Path, folder: Path) -> Path:
    """Write the solver the traced run uses into `folder`: the net by its absolute path, no snapshots,
    no test nets (the training view runs the train net only)."""
    from google.protobuf import text_format  # noqa: PLC0415

    prepared = type(param)()
    prepared.CopyFrom(param)
    for name in ("net_param", "train_net", "train_net_param", "test_net", "test_net_param", "test_state",
                 "test_iter"):
        prepared.ClearField(name)
    prepared.net = str(net)
    prepared.test_interval = 0
    prepared.test_initialization = False
    prepared.snapshot = 0
    prepared.snapshot_after_train = False
    path = folder / "solver.prototxt"
    path.write_text(text_format.MessageToString(prepared))
    return path


def solver_class(caffe, solver_type: str):
    """pycaffe's solver class for a SolverParameter type ("SGD" -> caffe.SGDSolver)."""
    cls = getattr(caffe, f"{solver_type}Solver", None)
    if cls is None:
        known = sorted(name[:-len("Solver")] for name in dir(caffe) if name.endswith("Solver") and name != "Solver")
        raise InputError(f"Unknown solver type {solver_type!r}; this pycaffe has {', '.join(known)}.",
                         "Set type: to one of those in the solver.")
    return cls
