"""gradcheck's entry points: gradcheck() (in a child process, as the command runs it), check_in_net() (the
same in this process: the child's job) and check_layer() (one layer of a net the caller built).

gradcheck validates what the user gave (bad input is exit 2 before any child starts), runs
inspector.gradcheck.child through the one child-process runner (trace.childrun), follows its "stage"
events, and reads its final record, the "result" event, back into a GradcheckReport; a child that died
is a GradcheckCrash (crash.py). check_layer runs the checker's passes (checker.run_passes) and leaves
every blob as it was.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

from ..errors import InputError
from ..phases import parse_phase
from ..trace.netinfo import is_python_layer, python_layer_specs, python_layers_of, require_layers
from ..trace.netload import build_net, existing_file, import_layer_class, put_layers_on_path
from .report import GradcheckReport

DEFAULT_STEP = 1e-2
DEFAULT_THRESHOLD = 1e-2
DEFAULT_SAMPLES = 64
CHILD_MODULE = "inspector.gradcheck.child"


def gradcheck(prototxt: Path, layer: str, step: float = DEFAULT_STEP, threshold: float = DEFAULT_THRESHOLD,
              samples: int = DEFAULT_SAMPLES, seed: int = 0, phase: str = "train",
              inputs: dict[str, Path] | None = None, timeout: float | None = None) -> GradcheckReport:
    """Check `layer`'s backward in the net of `prototxt` against central differences, in a child process;
    see inspector.gradcheck. `inputs` fill the net's input blobs from .npy files (as trace's --input).
    A crash of Caffe or of the layer, `timeout` seconds passing or an interrupt raise GradcheckCrash."""
    from ..trace.childrun.crash import child_error, written_layer_types  # noqa: PLC0415
    from ..trace.childrun.spawn import run_child, validate_timeout  # noqa: PLC0415
    from .crash import crash_error  # noqa: PLC0415

    prototxt = existing_file(Path(prototxt), "Net definition", "the NET argument")
    find_layer_spec(prototxt, layer, phase, step, threshold, samples)  # bad input is exit 2 before any child starts
    validate_timeout(timeout)
    inputs = {blob: existing_file(Path(path), f"Input file for blob {blob!r}", "--input")
              for blob, path in (inputs or {}).items()}
    config = {"net": str(prototxt), "layer": layer, "step": step, "threshold": threshold, "samples": samples,
              "seed": seed, "phase": phase, "inputs": {blob: str(path) for blob, path in inputs.items()}}
    received: dict = {"stage": None, "report": None, "error": None, "exception": None}

    def on_event(line: bytes, event: dict) -> None:
        kind = event.get("event")
        if kind == "stage":
            received["stage"] = event["stage"]
        elif kind == "result":
            received["report"] = event["report"]
        elif kind in ("error", "exception"):
            received[kind] = event

    # INFO level: Caffe's log names the layer it was building if it aborts then
    child = run_child(CHILD_MODULE, config, on_event, glog_level=0, timeout=timeout)
    if received["error"]:
        raise child_error(received["error"])
    if received["report"] is None:
        raise crash_error(layer, received["stage"], child, received["exception"],
                          written_layer_types(prototxt, phase))
    return GradcheckReport.from_dict(received["report"])


def find_layer_spec(prototxt: Path, layer: str, phase: str, step: float, threshold: float, samples: int):
    """The layer's LayerSpec in the prototxt, or an InputError for the options, the file or the layer name."""
    if not (0 < step < math.inf and 0 < threshold < math.inf) or samples <= 0:
        raise InputError(f"--step and --threshold must be positive finite numbers and --samples a positive count "
                         f"(got {step:g}, {threshold:g}, {samples}).",
                         "Try the defaults: --step 1e-2 --threshold 1e-2 --samples 64.")
    phase = parse_phase(phase)
    in_phase = require_layers(prototxt, phase)
    spec = next((s for s in in_phase if s.name == layer), None)
    if spec is None:
        python_layers = [s.name for s in in_phase if is_python_layer(s)]
        raise InputError(
            f"No layer named {layer!r} in {prototxt} ({phase} phase).",
            f"Python layers there: {', '.join(python_layers) or 'none'}. Pass one with --layer.")
    return spec


def check_in_net(prototxt: Path, layer: str, step: float = DEFAULT_STEP, threshold: float = DEFAULT_THRESHOLD,
                 samples: int = DEFAULT_SAMPLES, seed: int = 0, phase: str = "train",
                 on_stage: Callable[[str], None] = lambda stage: None,
                 inputs: dict[str, Path] | None = None) -> GradcheckReport:
    """Build the net, run it forward up to the layer and check the layer, in this process (the child's job).
    on_stage hears what is about to run, for the report of a crash; `inputs` fill input blobs from .npy files."""
    prototxt = Path(prototxt)
    spec = find_layer_spec(prototxt, layer, phase, step, threshold, samples)
    put_layers_on_path(prototxt)
    for python_spec in python_layer_specs(prototxt, phase):
        python = python_spec.python
        assert python is not None  # python_layer_specs gives Python layers only
        # imported here first: inside Caffe's constructor a missing module is only "SystemError ... returned NULL"
        on_stage(f"importing Python layer {python_spec.name!r} ({python.module}.{python.layer})")
        import_layer_class(python_spec)
    on_stage("building the net")
    net = build_net(prototxt, phase=phase, seed=seed, inputs=inputs)
    index = list(net._layer_names).index(layer)
    on_stage(f"running the net forward up to layer {layer!r}")
    net._forward(0, index)  # up to the layer only: a later in-place layer could overwrite the layer's bottoms
    return check_layer(net, layer, step=step, threshold=threshold, samples=samples, seed=seed,
                       layer_spec=spec, prototxt=prototxt, phase=phase, on_stage=on_stage)


def check_layer(net, layer: str, step: float = DEFAULT_STEP, threshold: float = DEFAULT_THRESHOLD,
                samples: int = DEFAULT_SAMPLES, seed: int = 0, layer_spec=None, prototxt: Path | None = None,
                phase: str = "train", on_stage: Callable[[str], None] = lambda stage: None) -> GradcheckReport:
    """Check one layer of a built net whose bottoms already hold data; every blob is left as it was.

    `layer_spec` (the prototxt's LayerSpec) gives propagate_down and the bottom names as written;
    on_stage hears each step before it runs ("checking blob bottom[0] x").
    """
    import caffe  # noqa: PLC0415 - the net exists, so pycaffe is loaded

    from .checker import Checker, restore, run_passes, snapshot  # noqa: PLC0415 - numpy's: not in inspector's process

    names = list(net._layer_names)
    if layer not in names:
        python_layers = [p.name for p in python_layers_of(net)]
        raise InputError(f"No layer named {layer!r} in the net.",
                         f"Python layers there: {', '.join(python_layers) or 'none'}.")
    index = names.index(layer)
    checker = Checker(caffe, net, index, seed, step, threshold)
    watched = checker.bottoms + checker.tops + checker.params
    saved = snapshot(watched)
    report = GradcheckReport(prototxt=Path(prototxt or "<net>"), layer=layer, layer_type=net.layers[index].type,
                             phase=phase, step=step, threshold=threshold, samples=samples, seed=seed, top_diffs=[])
    try:
        loss_weights = [float(net._blob_loss_weights[j]) for j in checker.top_ids]
        on_stage(f"running {layer!r} forward to choose the top diffs")
        report.top_diffs = checker.choose_top_diffs(loss_weights)
        run_passes(report, checker, layer_spec, net, samples, seed, on_stage)
    finally:
        restore(watched, saved)
        checker.inputs = [data for _, data, _ in saved[:len(checker.bottoms)]]
        try:  # the layer's own state (cached selections, normalisers) back to the original inputs
            checker.forward()
        finally:
            restore(watched, saved)
    if not any(b.checked for b in report.blobs):
        reasons = "; ".join(f"{b.label}: {b.skipped}" for b in report.blobs) or "it has no bottoms and no blobs"
        raise InputError(f"Layer {layer!r} has nothing to check ({reasons}).",
                         "Give it a bottom that takes a gradient, or set `force_backward: true` in the prototxt.")
    return report
