"""The process that runs the traced net: `python -m inspector.trace.child --events-fd N --marker-fd M --config JSON`.

A job of the one child-process runner (childrun.serve: the options, parent death, the event log): it
builds the net with the real pycaffe, runs the passes and the contract checks, and writes
every event as one JSON line to the event log file the parent reads, as it happens. Caffe may abort
this process (a failed CHECK); the parent keeps what arrived and reads the marker file for the
layer and method that were running. stdout is the user's (their layers may print, --pdb needs it).
"""
from __future__ import annotations

import sys
from pathlib import Path

from . import checks
from .childrun.serve import serve
from .instrument import class_source, tracing
from .marker import Marker
from .tracebacks import format_traceback
from .tracer import Tracer


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
    from .netload import build_net, input_sources  # noqa: PLC0415

    caffe = import_pycaffe()
    require_python_layer(caffe)
    prototxt = Path(config["net"])
    phase = config["phase"]
    param, tracer = load_traced_layers(caffe, prototxt, phase, config, emit, marker)
    with tracing(tracer):
        inputs = {k: Path(v) for k, v in config["inputs"].items()}
        weights = Path(config["weights"]) if config.get("weights") else None
        net = build_net(prototxt, phase, None, inputs, config["seed"])  # the weights: weights_into, once checked
        if weights is not None and not load_weights(net, prototxt, weights, phase, emit):
            return
        tracer.adopt(net)
        tracer.attach_timers(net)
        declared = {layer.name for layer in param.layer}
        emit({"event": "net", "layers": [info.to_dict() for info in describe_layers(net, declared)],
              "blob_shapes": blob_shapes(net), "inputs": input_sources(net, inputs, config["seed"]),
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
    imported, and the Tracer wrapping their classes: (NetParameter, Tracer)."""
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


def load_weights(net, prototxt: Path, weights: Path, phase: str, emit) -> bool:
    """The fine-tuning view of the net built without weights, as a "finetune" event, and the weights copied in;
    False, with a "not_run" event, when Caffe would abort loading them (the view names every mismatch)."""
    from .finetune import not_run_reason, weights_into  # noqa: PLC0415

    view = weights_into(net, prototxt, weights, phase)
    emit({"event": "finetune", "view": view.to_dict()})
    if not view.weights_loadable:
        emit({"event": "not_run", "reason": not_run_reason(view)})
    return view.weights_loadable


def start_tracer(config: dict, emit, marker: Marker, prototxt: Path, phase: str, specs, classes) -> Tracer:
    """The Tracer with the layer classes wrapped (before the net is built, so setup is seen)."""
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


if __name__ == "__main__":
    sys.exit(main())
