"""Build a real caffe.Net from a prototxt the way a user's training script would, with its inputs filled.

- The prototxt's folder goes first on sys.path: Caffe imports python_param.module with a plain
  import, and users run their nets from that folder.
- numpy and Caffe are seeded, Caffe runs on the CPU, and the net is built in the asked phase
  (with weights when given).
- The net's input blobs (Input layers and `input:` declarations, pycaffe's net.inputs) are
  filled with seeded random data of the declared shape, or from a .npy the user names.
"""
from __future__ import annotations

import importlib
import sys
from pathlib import Path

from ..caffe_env import import_pycaffe, require_python_layer
from ..errors import InputError
from ..phases import Phase, parse_phase
from .netinfo import check_net_for_caffe


def existing_file(path: Path, what: str, option: str) -> Path:
    """The resolved path, or an InputError naming the option that gave it."""
    path = Path(path).expanduser()
    if path.is_file():
        return path.resolve()
    if path.exists():  # a folder, a FIFO, a device: nothing to read a net or an array from (a FIFO would never end)
        kind = "a folder" if path.is_dir() else "not a regular file"
        raise InputError(f"{what} {path} is {kind}.", f"Give a regular file to {option}.")
    raise InputError(f"{what} {path} does not exist.", f"Check the path given to {option}.")


def input_options(items) -> dict[str, Path]:
    """--input BLOB=FILE.npy options as {blob: path}; InputError for one not of that form."""
    parsed = {}
    for item in items:
        blob, sep, path = item.partition("=")
        if not sep or not blob or not path:
            raise InputError(f"--input {item!r} is not BLOB=FILE.npy.", "Write it as --input data=batch.npy.")
        parsed[blob] = Path(path)
    return parsed


def put_layers_on_path(prototxt: Path) -> None:
    """Make `import <python_param.module>` find the layers next to the prototxt, as when run from there."""
    folder = str(Path(prototxt).resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)


def import_layer_class(spec):
    """The class a Python layer's python_param names (module and layer), imported as Caffe would import it."""
    return getattr(importlib.import_module(spec.python.module), spec.python.layer)


def build_net(prototxt: Path, phase: str | Phase = Phase.TRAIN, weights: Path | None = None,
              inputs: dict[str, Path] | None = None, seed: int = 0):
    """A caffe.Net built from `prototxt` in `phase`, CPU mode, seeded, its input blobs filled."""
    import numpy as np  # noqa: PLC0415 - with pycaffe: inspector's own process takes only existing_file from here

    phase = parse_phase(phase)  # before anything is built
    prototxt = existing_file(prototxt, "Net definition", "the NET argument")
    weights = existing_file(weights, "Weights file", "--weights") if weights else None
    inputs = {name: existing_file(p, f"Input file for blob {name!r}", "--input") for name, p in (inputs or {}).items()}
    caffe = import_pycaffe()
    require_python_layer(caffe)
    caffe.set_mode_cpu()
    put_layers_on_path(prototxt)
    np.random.seed(seed)
    caffe.set_random_seed(seed)
    check_net_for_caffe(caffe, prototxt, phase)  # Caffe would abort on a field or layer type it lacks
    kwargs = {"weights": str(weights)} if weights else {}
    net = caffe.Net(str(prototxt), phase.caffe_constant(caffe), **kwargs)
    fill_inputs(net, inputs, seed)
    return net


def fill_inputs(net, inputs: dict[str, Path] | None = None, seed: int = 0) -> None:
    """Fill net.inputs: from the given .npy files, else seeded standard-normal data (input_sources says which)."""
    import numpy as np  # noqa: PLC0415 - see build_net

    inputs = dict(inputs or {})
    unknown = sorted(set(inputs) - set(net.inputs))
    if unknown:
        raise InputError(
            f"--input names {', '.join(unknown)}, which the net does not declare as input "
            f"(its inputs: {', '.join(net.inputs) or 'none'}).",
            "Give --input BLOB=FILE.npy only for blobs of Input layers or `input:` lines.",
        )
    rng = np.random.default_rng(seed)
    for name in net.inputs:
        blob = net.blobs[name]
        shape = tuple(blob.data.shape)
        if name in inputs:
            try:
                array = np.load(inputs[name])
            except (OSError, ValueError, EOFError) as exc:
                raise InputError(f"{inputs[name]} is not a readable .npy file: {exc}.",
                                 "Save the array with numpy.save(path, array).") from exc
            if not isinstance(array, np.ndarray) or array.dtype.kind not in "biuf":
                kind = array.dtype if isinstance(array, np.ndarray) else type(array).__name__
                raise InputError(f"Input {inputs[name]} holds {kind} values; blob {name!r} takes numbers (float32).",
                                 "Save a numeric array, e.g. numpy.save(path, array.astype(numpy.float32)).")
            if tuple(array.shape) != shape:
                raise InputError(
                    f"Input {inputs[name]} has shape {list(array.shape)}, but blob {name!r} is declared {list(shape)}.",
                    f"Save an array of shape {list(shape)}, or change the blob's shape in the prototxt.",
                )
            blob.data[...] = array.astype(np.float32, copy=False)
        else:
            blob.data[...] = rng.standard_normal(shape, dtype=np.float32)


def input_sources(net, inputs: dict[str, Path] | None = None, seed: int = 0) -> dict[str, str]:
    """Where fill_inputs took each input blob's data from: {blob: the .npy file, or "random (seed N)"}."""
    inputs = inputs or {}
    return {name: str(inputs[name]) if name in inputs else f"random (seed {seed})" for name in net.inputs}
