"""Read Caffe prototxt files without Caffe: a tolerant text-format parser and the NetSpec view.

    from inspector.prototxt import parse_net
    net = parse_net("train.prototxt")          # or prototxt text
    for layer in net.layers_for("TRAIN"):      # Caffe's FilterNet for this phase
        layer.name, layer.type, layer.bottoms, layer.tops, layer.params[0].lr_mult, layer.python

textformat.py turns text into generic Messages (works on any prototxt: nets, solvers, forks'
files); net.py reads a Message as a net (V1 and V2 forms). Syntax errors raise
TextFormatError, an InputError whose message reads FILE:LINE:COL.
"""
from .net import (
    PHASES,
    PYTHON_LAYER_TYPE,
    InputSpec,
    LayerSpec,
    NetSpec,
    NetStateRule,
    ParamSpec,
    PythonSpec,
    net_from_message,
    parse_net,
    read_net,
    read_prototxt_text,
    read_regular_file,
    read_v1_layer_types,
    v1_layer_types,
)
from .textformat import Ident, Message, PrototxtValueError, TextFormatError, parse_text

__all__ = [
    "PHASES", "PYTHON_LAYER_TYPE", "Ident", "InputSpec", "LayerSpec", "Message", "NetSpec", "NetStateRule", "ParamSpec",
    "PrototxtValueError", "PythonSpec", "TextFormatError", "net_from_message", "parse_net", "parse_text", "read_net",
    "read_prototxt_text", "read_regular_file",
    "read_v1_layer_types", "v1_layer_types",
]
