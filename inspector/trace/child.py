"""The process that runs the traced net: `python -m inspector.trace.child --events-fd N --marker-fd M --config JSON`.

It builds the net with the real pycaffe, runs the passes and the contract checks, and writes
every event as one JSON line to the event log file the parent reads, as it happens. Caffe may abort
this process (a failed CHECK); the parent keeps what arrived and reads the marker file for the
layer and method that were running. stdout is the user's (their layers may print, --pdb needs it).
Both files come as open descriptors of files with no name (nothing to clean up after a kill -9), and
the process ends when the parent does (die_with_parent), so it never outlives inspector.
"""
from __future__ import annotations

import argparse
import contextlib
import ctypes
import faulthandler
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

from ..errors import InspectorError
from . import checks
from .events import EventLog
from .instrument import class_source, tracing
from .marker import Marker
from .tracebacks import format_traceback
from .tracer import Tracer

EVENT_LOG_BYTES = 16 << 20  # the event log starts again from the top past this, once the parent has read it
EXIT_PARENT_GONE = 129  # as if ended by SIGHUP: no one is left to read it


def run_pass(net, tracer: Tracer, emit, iteration: int, training: bool, loss) -> None:
    """One traced iteration as the command runs it: forward, backward when training, the loss (netinfo.loss_reader)
    as an event, and a finding when it is NaN or Inf."""
    tracer.iteration = iteration
    net.forward()
    if training:
        net.backward()
    value = loss()
    emit({"event": "iteration", "iteration": iteration, "loss": value})
    checks.check_loss(net, tracer, value)


def run(config: dict, emit, marker: Marker) -> None:
    from ..caffe_env import import_pycaffe, require_python_layer  # noqa: PLC0415
    from .netinfo import blob_shapes, describe_layers, loss_reader  # noqa: PLC0415
    from .netload import build_net, fill_inputs  # noqa: PLC0415

    caffe = import_pycaffe()
    require_python_layer(caffe)
    prototxt = Path(config["net"])
    phase = config["phase"]
    param, tracer = load_traced_layers(caffe, prototxt, phase, config, emit, marker)
    if tracer is None:
        return
    with tracing(tracer):
        inputs = {k: Path(v) for k, v in config["inputs"].items()}
        weights = Path(config["weights"]) if config.get("weights") else None
        net = build_net(prototxt, phase, weights, inputs, config["seed"])
        tracer.adopt(net)
        tracer.attach_timers(net)
        declared = {layer.name for layer in param.layer}
        emit({"event": "net", "layers": [info.to_dict() for info in describe_layers(net, declared)],
              "blob_shapes": blob_shapes(net), "inputs": fill_inputs(net, inputs, config["seed"]),
              "force_backward": bool(param.force_backward)})
        training = phase == "train"
        iterations = config["iterations"]
        loss = loss_reader(net)
        for iteration in range(1, iterations + 1):
            run_pass(net, tracer, emit, iteration, training, loss)
        finish_passes(net, tracer, emit, iterations, param, training, config)


def load_traced_layers(caffe, prototxt: Path, phase: str, config: dict, emit, marker: Marker):
    """What a traced child does before Caffe builds the net: the net read with this Caffe's schema and checked
    against it (a field or layer type it lacks, no layer in the phase: bad input, not an abort), its Python layers
    imported, and the Tracer wrapping their classes. (NetParameter, Tracer or None when the net is not to run)."""
    from .netinfo import check_net_for_caffe, python_layer_specs, require_layers  # noqa: PLC0415
    from .netload import put_layers_on_path  # noqa: PLC0415

    put_layers_on_path(prototxt)
    param = check_net_for_caffe(caffe, prototxt, phase)
    require_layers(prototxt, phase)
    specs = python_layer_specs(prototxt, phase)
    classes = import_layer_classes(specs, emit, marker)
    return param, start_tracer(config, emit, marker, prototxt, phase, specs, classes)


def import_layer_classes(specs, emit, marker: Marker) -> list:
    """Each Python layer's class, imported as Caffe would (marked, so a crash in the import names the layer),
    and the "python_layers" event describing them."""
    from .netload import import_layer_class  # noqa: PLC0415

    classes, described = [], []
    for spec in specs:
        python = spec.python
        assert python is not None  # python_layer_specs gives Python layers only
        marker.mark(spec.name, "import", 0)
        try:
            cls = import_layer_class(spec)
        except Exception as exc:
            emit({"event": "exception", "layer": spec.name, "method": "import", "iteration": 0,
                  **format_traceback(exc)})
            raise
        classes.append(cls)
        described.append({"name": spec.name, "module": python.module, "class": python.layer,
                          "source_file": class_source(cls), "param_str": python.param_str})
    emit({"event": "python_layers", "layers": described})
    return classes


def start_tracer(config: dict, emit, marker: Marker, prototxt: Path, phase: str, specs, classes) -> Tracer | None:
    """The fine-tuning view when weights are given, then the Tracer with the layer classes wrapped (before the
    net is built, so setup is seen); None, with a "not_run" event, when Caffe would refuse the weights."""
    if config.get("weights"):
        from .finetune import finetune_view  # noqa: PLC0415

        view = finetune_view(prototxt, Path(config["weights"]), phase)
        emit({"event": "finetune", "view": view.to_dict()})
        if not view.weights_loadable:  # Caffe would abort in CopyTrainedLayersFrom; the view names every mismatch
            emit({"event": "not_run", "reason": f"Caffe would abort loading {Path(config['weights']).name} at layer "
                                                f"{view.abort_at!r} (shape mismatch), so the net was not run."})
            return None
    tracer = Tracer(emit, stats=config["stats"], post_mortem=config["pdb"], marker=marker,
                    python_layer_names=[s.name for s in specs])
    tracer.wrap_classes(classes)
    return tracer


def finish_passes(net, tracer: Tracer, emit, iterations: int, param, training: bool, config: dict) -> None:
    """After the passes: the layer times, the probes (training with statistics), the backward and param_str checks."""
    from .netinfo import blob_shapes  # noqa: PLC0415

    emit({"event": "timings",
          "forward_ms": {str(i): t / iterations for i, t in tracer.forward_ms.items()},
          "backward_ms": {str(i): t / iterations for i, t in tracer.backward_ms.items()},
          "blob_shapes": blob_shapes(net)})
    if training:
        if config["stats"]:
            checks.check_diff_accumulation(net, tracer, config["seed"])
            checks.check_loss_uses_top_diff(net, tracer)
        propagate_down = {layer.name: list(layer.propagate_down) for layer in param.layer}
        checks.check_backward_calls(net, tracer, propagate_down, bool(param.force_backward))
    tracer.param_str_findings(saw_setup=True)


def main(argv: list[str] | None = None) -> int:
    return serve(run, argv, prog="inspector.trace.child")


def serve(job, argv: list[str] | None = None, prog: str = "inspector.trace.child") -> int:
    """The child's side of the event log, for any job (the trace here, inspector.trace.gradcheck_child):
    job(config, emit, marker) runs; its InspectorError or other exception is sent as an event."""
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--events-fd", type=int, required=True,
                        help="the event log, an open file, written from its end")
    parser.add_argument("--marker-fd", type=int)
    parser.add_argument("--parent-pid", type=int, help="exit when this process is gone")
    parser.add_argument("--config", required=True)
    args = parser.parse_args(argv)
    if args.parent_pid:
        die_with_parent(args.parent_pid)
    faulthandler.enable(sys.stderr)  # a Caffe abort still prints the Python stack that led to it
    # SIGTERM (how the parent ends a run past its --timeout, or interrupted) prints the stack too, then ends
    # the process as SIGTERM does: the report names the line that was running
    faulthandler.register(signal.SIGTERM, file=sys.stderr, all_threads=True, chain=True)
    # each line is in the file before the traced code goes on: an abort loses none
    emit = EventLog(args.events_fd, rotate_after=EVENT_LOG_BYTES).emit

    try:
        job(json.loads(args.config), emit, Marker(args.marker_fd))
    except InspectorError as exc:
        emit({"event": "error", "kind": type(exc).__name__, "message": exc.message, "remedy": exc.remedy,
              "exit_code": exc.exit_code})
        return exc.exit_code
    except BaseException as exc:  # the layer's own error: recorded by the tracer, or here if raised elsewhere
        emit({"event": "exception", "layer": None, "method": None, "iteration": None, "outside_layer": True,
              **format_traceback(exc)})
        return 1
    emit({"event": "done"})
    return 0


PR_SET_PDEATHSIG = 1  # linux/prctl.h
PARENT_WATCH_SECONDS = 0.5


def die_with_parent(parent_pid: int) -> None:
    """End this process when `parent_pid` (inspector) ends, even by SIGKILL: on Linux the kernel's parent-death
    signal, elsewhere a thread that watches the parent's pid (on Linux no thread: it would join every stack
    dump of a crash); and at once if the parent is gone already."""
    signal_asked = False
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):  # no prctl in this libc: the thread below does it
            signal_asked = ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL) == 0

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_WATCH_SECONDS)
        os._exit(EXIT_PARENT_GONE)

    if os.getppid() != parent_pid:  # gone before the signal was asked for
        os._exit(EXIT_PARENT_GONE)
    if not signal_asked:
        threading.Thread(target=watch, name="inspector-parent-watch", daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
