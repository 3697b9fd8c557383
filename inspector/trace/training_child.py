"""`inspector trace SOLVER.prototxt`: the solver trained for real in the traced child.

`python -m inspector.trace.training_child` (through childrun: run_child and serve; training_hooks starts
it): import the net's Python layers and wrap their classes (the Tracer, as for a net), build pycaffe's
solver class for the solver's `type` from a prepared copy of the solver (solverfile), load --weights into
its net, then step it one iteration at a time with the TrainingRecorder on its callbacks, until the
iterations asked for, the solver's max_iter, or the first non-finite value. The layer times and contract checks follow
as for a net (child.finish_passes; the probes only when training ended without an anomaly).
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from .child import finish_passes, load_traced_layers, load_weights
from .childrun.serve import serve
from .instrument import tracing
from .marker import Marker

CHILD_MODULE = "inspector.trace.training_child"


def run(config: dict, emit, marker: Marker) -> None:
    import numpy as np  # noqa: PLC0415

    from ..caffe_env import import_pycaffe, require_python_layer  # noqa: PLC0415
    from .learning_rate import LearningRate  # noqa: PLC0415
    from .netinfo import blob_shapes, describe_layers  # noqa: PLC0415
    from .solverfile import (  # noqa: PLC0415
        net_lr_mults,
        prepared_solver_file,
        read_solver_parameter,
        solver_class,
    )
    from .training import TrainingRecorder, TrainingStopped  # noqa: PLC0415

    caffe = import_pycaffe()
    require_python_layer(caffe)
    solver_file, net_file = Path(config["solver"]), Path(config["net"])
    os.chdir(config["workdir"])  # the folder the net's path is relative to: where the user runs the solver
    param = read_solver_parameter(solver_file)
    learning_rate = LearningRate(param)
    solver_cls = solver_class(caffe, param.type)
    net_param, tracer = load_traced_layers(caffe, net_file, "train", config, emit, marker)
    with tracing(tracer):  # what the layers print is told apart by layer, as for a net
        caffe.set_mode_cpu()
        np.random.seed(config["seed"])  # the solver's random_seed when it has one (training_hooks), as Caffe's
        caffe.set_random_seed(config["seed"])
        with tempfile.TemporaryDirectory(prefix="inspector-solver-") as folder:
            solver = solver_cls(str(prepared_solver_file(param, net_file, Path(folder))))
        net = solver.net
        if config.get("weights") and not load_weights(net, net_file, Path(config["weights"]), "train", emit):
            return
        tracer.adopt(net)
        tracer.attach_timers(net)
        tracer.watch_solver(solver)  # an abort in ApplyUpdate is the solver update's, not the last layer's
        declared = {layer.name for layer in net_param.layer}
        emit({"event": "net", "layers": [info.to_dict() for info in describe_layers(net, declared)],
              "blob_shapes": blob_shapes(net), "force_backward": bool(net_param.force_backward)})
        lr_mults = net_lr_mults(net_file)

        def set_iteration(iteration: int) -> None:
            tracer.iteration = iteration

        recorder = TrainingRecorder(solver, emit, learning_rate, lr_mults, search=config["stats"],
                                    debug=config["pdb"], on_iteration=set_iteration)
        recorder.attach()
        iterations = config["iterations"]
        recorder.describe(solver=str(solver_file), net=str(net_file), type=param.type, lr_policy=param.lr_policy,
                          base_lr=float(param.base_lr), max_iter=int(param.max_iter), iterations=iterations)
        for _ in range(iterations):
            try:
                solver.step(1)
            except TrainingStopped:
                break
            recorder.finish_iteration()
            if recorder.anomaly is not None:
                break
        recorder.end()
        probes = config["stats"] and recorder.anomaly is None  # after an anomaly the probes would only repeat it
        finish_passes(net, tracer, emit, max(recorder.iterations, 1), net_param, True, {**config, "stats": probes})


def main(argv: list[str] | None = None) -> int:
    return serve(run, argv, prog=CHILD_MODULE)


if __name__ == "__main__":
    sys.exit(main())
