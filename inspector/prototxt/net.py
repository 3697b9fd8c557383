"""NetSpec: the Caffe net a prototxt describes, read from the generic text-format message.

Reads both forms of a net: V2 (`layer { type: "Convolution" }`) and V1 (`layers { type:
CONVOLUTION }`, its enum mapped to the V2 type name as Caffe's UpgradeV1LayerType does, and its
blobs_lr / weight_decay / param fields mapped to ParamSpecs). Net inputs come from `input:`
with `input_shape` or `input_dim`, and from Input layers. Fields a fork adds (unknown layer
types, unknown *_param blocks) are kept in each layer's raw message.

Phase filtering follows Caffe's Net::FilterNet and StateMeetsRule: a layer without include
rules is kept unless an exclude rule is met; a layer with include rules is kept only if one is
met; a rule is met when its phase, min_level/max_level, every stage and no not_stage match.
"""
from __future__ import annotations

import functools
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError, InspectorError
from ..phases import PROTOTXT_PHASES, prototxt_phase_name
from .textformat import Ident, Message, PrototxtValueError, parse_text

PHASES = PROTOTXT_PHASES  # caffe.proto's spelling, the one NetStateRule and FilterNet compare
PYTHON_LAYER_TYPE = "Python"  # the type Caffe registers its PythonLayer under
PYTHON_PARAM_STR_SPELLINGS = ("param_str", "param_string")  # the latter in some forks

# Caffe's UpgradeV1LayerType (src/caffe/util/upgrade_proto.cpp), used when no Caffe source tree
# is at hand; v1_layer_types() reads the table from the user's Caffe when it is.
_V1_TYPES_FALLBACK = {
    "NONE": "", "ABSVAL": "AbsVal", "ACCURACY": "Accuracy", "ARGMAX": "ArgMax", "BNLL": "BNLL",
    "CONCAT": "Concat", "CONTRASTIVE_LOSS": "ContrastiveLoss", "CONVOLUTION": "Convolution",
    "DECONVOLUTION": "Deconvolution", "DATA": "Data", "DROPOUT": "Dropout",
    "DUMMY_DATA": "DummyData", "EUCLIDEAN_LOSS": "EuclideanLoss", "ELTWISE": "Eltwise",
    "EXP": "Exp", "FLATTEN": "Flatten", "HDF5_DATA": "HDF5Data", "HDF5_OUTPUT": "HDF5Output",
    "HINGE_LOSS": "HingeLoss", "IM2COL": "Im2col", "IMAGE_DATA": "ImageData",
    "INFOGAIN_LOSS": "InfogainLoss", "INNER_PRODUCT": "InnerProduct", "LRN": "LRN",
    "MEMORY_DATA": "MemoryData", "MULTINOMIAL_LOGISTIC_LOSS": "MultinomialLogisticLoss",
    "MVN": "MVN", "POOLING": "Pooling", "POWER": "Power", "RELU": "ReLU", "SIGMOID": "Sigmoid",
    "SIGMOID_CROSS_ENTROPY_LOSS": "SigmoidCrossEntropyLoss", "SILENCE": "Silence",
    "SOFTMAX": "Softmax", "SOFTMAX_LOSS": "SoftmaxWithLoss", "SPLIT": "Split", "SLICE": "Slice",
    "TANH": "TanH", "WINDOW_DATA": "WindowData", "THRESHOLD": "Threshold",
}
_V1_CASE = re.compile(r'case\s+V1LayerParameter_LayerType_(\w+)\s*:\s*return\s+"(\w*)"\s*;')


def read_v1_layer_types(upgrade_proto_cpp: Path) -> dict[str, str]:
    """The V1 enum -> V2 type name table, read from Caffe's upgrade_proto.cpp."""
    return dict(_V1_CASE.findall(upgrade_proto_cpp.read_text(errors="replace")))


@functools.lru_cache(maxsize=1)
def v1_layer_types() -> dict[str, str]:
    """The user's Caffe's V1 type table when its source tree is found, else Caffe 1.0's."""
    from ..caffe_env import find_caffe_root  # noqa: PLC0415 - only V1 nets need it

    try:
        source = find_caffe_root() / "src" / "caffe" / "util" / "upgrade_proto.cpp"
        table = read_v1_layer_types(source) if source.is_file() else {}
    except (InspectorError, OSError):
        table = {}
    return table or dict(_V1_TYPES_FALLBACK)


def _as_bool(value) -> bool:
    return str(value).lower() in ("true", "1", "t")


@dataclass
class NetStateRule:
    """One include/exclude rule (NetStateRule in caffe.proto)."""

    phase: str | None = None
    min_level: int | None = None
    max_level: int | None = None
    stage: list[str] = field(default_factory=list)
    not_stage: list[str] = field(default_factory=list)

    @classmethod
    def from_message(cls, message: Message) -> NetStateRule:
        phase = message.get("phase")
        return cls(
            phase=prototxt_phase_name(phase) if phase is not None else None,
            min_level=message.integer("min_level"),
            max_level=message.integer("max_level"),
            stage=[str(s) for s in message.get_all("stage")],
            not_stage=[str(s) for s in message.get_all("not_stage")],
        )

    def met_by(self, phase: str, level: int = 0, stages=()) -> bool:
        """Caffe's Net::StateMeetsRule."""
        if self.phase is not None and self.phase != phase:
            return False
        if self.min_level is not None and level < self.min_level:
            return False
        if self.max_level is not None and level > self.max_level:
            return False
        if any(s not in stages for s in self.stage):
            return False
        return not any(s in stages for s in self.not_stage)

    def to_dict(self) -> dict:
        out = {"phase": self.phase, "min_level": self.min_level, "max_level": self.max_level,
               "stage": self.stage, "not_stage": self.not_stage}
        return {k: v for k, v in out.items() if v not in (None, [])}


@dataclass
class ParamSpec:
    """A layer's `param { ... }`: the learnable blob's sharing name and multipliers."""

    name: str = ""
    lr_mult: float = 1.0
    decay_mult: float = 1.0
    share_mode: str | None = None

    def to_dict(self) -> dict:
        return {"name": self.name, "lr_mult": self.lr_mult, "decay_mult": self.decay_mult,
                "share_mode": self.share_mode}


@dataclass
class PythonSpec:
    """python_param: which module and class Caffe's PythonLayer loads, and the param_str it passes."""

    module: str = ""
    layer: str = ""
    param_str: str = ""

    @property
    def label(self) -> str:
        return f"{self.module}.{self.layer}"

    def to_dict(self) -> dict:
        return {"module": self.module, "layer": self.layer, "param_str": self.param_str}


@dataclass
class LayerSpec:
    """One layer as written in the prototxt."""

    name: str
    type: str
    bottoms: list[str] = field(default_factory=list)
    tops: list[str] = field(default_factory=list)
    include: list[NetStateRule] = field(default_factory=list)
    exclude: list[NetStateRule] = field(default_factory=list)
    phase: str | None = None  # the layer's own `phase:` field, rarely set
    loss_weights: list[float] = field(default_factory=list)
    params: list[ParamSpec] = field(default_factory=list)
    python: PythonSpec | None = None
    propagate_down: list[bool] = field(default_factory=list)
    line: int = 0
    index: int = 0
    v1: bool = False
    message: Message = field(default_factory=Message, repr=False)

    @property
    def is_python(self) -> bool:
        return self.python is not None

    @property
    def effective_loss_weights(self) -> list[float]:
        """Per top, as Caffe sets them: the given loss_weight, else 1 on the first top of a *Loss layer."""
        weights = list(self.loss_weights)
        if not weights and self.type.endswith("Loss") and self.tops:
            weights = [1.0]  # LossLayer::LayerSetUp adds loss_weight 1 when none is given
        return weights + [0.0] * (len(self.tops) - len(weights))

    @property
    def is_loss(self) -> bool:
        return any(w != 0 for w in self.effective_loss_weights)

    @property
    def frozen(self) -> bool:
        """Every param spec given has lr_mult 0, so the solver never updates this layer."""
        return bool(self.params) and all(p.lr_mult == 0 for p in self.params)

    @property
    def shared_param_names(self) -> list[str]:
        return [p.name for p in self.params if p.name]

    @property
    def in_place_tops(self) -> list[str]:
        return [t for t in self.tops if t in self.bottoms]

    def included_in(self, phase: str, level: int = 0, stages=()) -> bool:
        """Caffe's Net::FilterNet decision for this layer in the given net state."""
        if self.include:
            return any(rule.met_by(phase, level, stages) for rule in self.include)
        return not any(rule.met_by(phase, level, stages) for rule in self.exclude)

    def param_block(self, suffix: str = "_param") -> dict[str, Message]:
        """The layer's *_param blocks by field name, known to Caffe or added by a fork."""
        return {k: v for k, v in self.message.fields if k.endswith(suffix) and isinstance(v, Message)}

    def to_dict(self) -> dict:
        return {
            "name": self.name, "type": self.type, "bottoms": self.bottoms, "tops": self.tops,
            "include": [r.to_dict() for r in self.include], "exclude": [r.to_dict() for r in self.exclude],
            "loss_weights": self.effective_loss_weights if self.is_loss else [],
            "params": [p.to_dict() for p in self.params],
            "python": self.python.to_dict() if self.python else None,
            "frozen": self.frozen, "line": self.line,
        }


@dataclass
class InputSpec:
    """A net input: `input:` (with input_shape or input_dim) or an Input layer's top."""

    name: str
    shape: list[int] | None = None
    layer: str | None = None  # the Input layer that declares it, or None for `input:`


@dataclass
class NetSpec:
    name: str = ""
    layers: list[LayerSpec] = field(default_factory=list)
    inputs: list[InputSpec] = field(default_factory=list)
    state_phase: str | None = None  # the net's own `state { phase }`, when written
    state_level: int = 0
    state_stages: list[str] = field(default_factory=list)
    source: str = "<text>"
    path: Path | None = None
    v1: bool = False
    message: Message = field(default_factory=Message, repr=False)

    @property
    def is_solver(self) -> bool:
        """A solver prototxt (it names a net and learning settings, and has no layers)."""
        return not self.layers and any(
            self.message.has(k) for k in ("net", "train_net", "base_lr", "net_param", "solver_type", "type"))

    def layers_for(self, phase: str, stages=(), level: int = 0) -> list[LayerSpec]:
        """The layers Caffe builds for this phase, stages and level (Net::FilterNet)."""
        phase = prototxt_phase_name(phase)
        return [layer for layer in self.layers if layer.included_in(phase, level, stages)]

    def dropped_for(self, phase: str, stages=(), level: int = 0) -> list[LayerSpec]:
        """The layers FilterNet drops in this phase."""
        phase = prototxt_phase_name(phase)
        return [layer for layer in self.layers if not layer.included_in(phase, level, stages)]

    def layer(self, name: str) -> LayerSpec:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    @property
    def python_layers(self) -> list[LayerSpec]:
        return [layer for layer in self.layers if layer.is_python]


def _layer_from_message(message: Message, index: int, v1: bool) -> LayerSpec:
    raw_type = message.get("type", "")
    if v1 and isinstance(raw_type, Ident):
        layer_type = v1_layer_types().get(str(raw_type), str(raw_type))
    elif v1 and isinstance(raw_type, int):
        layer_type = str(raw_type)
    else:
        layer_type = str(raw_type)
    name = message.get("name", "")
    if v1 and not isinstance(name, str):
        name = str(name)
    layer = LayerSpec(
        name=str(name), type=layer_type,
        bottoms=[str(b) for b in message.get_all("bottom")],
        tops=[str(t) for t in message.get_all("top")],
        include=[NetStateRule.from_message(m) for m in message.get_all("include") if isinstance(m, Message)],
        exclude=[NetStateRule.from_message(m) for m in message.get_all("exclude") if isinstance(m, Message)],
        phase=prototxt_phase_name(message.get("phase")) if message.has("phase") else None,
        loss_weights=message.numbers("loss_weight"),
        propagate_down=[_as_bool(p) for p in message.get_all("propagate_down")],
        line=message.line, index=index, v1=v1, message=message,
    )
    layer.params = _params(message, v1)
    python = message.get("python_param")
    if isinstance(python, Message) or layer_type == PYTHON_LAYER_TYPE:
        python = python if isinstance(python, Message) else Message()
        param_str = next((python.get(k) for k in PYTHON_PARAM_STR_SPELLINGS if python.has(k)), "")
        layer.python = PythonSpec(module=str(python.get("module", "")), layer=str(python.get("layer", "")),
                                  param_str=str(param_str))
    return layer


def _params(message: Message, v1: bool) -> list[ParamSpec]:
    specs = []
    for value in message.get_all("param"):
        if isinstance(value, Message):
            share = value.get("share_mode")
            specs.append(ParamSpec(name=str(value.get("name", "")),
                                   lr_mult=value.number("lr_mult", 1.0),
                                   decay_mult=value.number("decay_mult", 1.0),
                                   share_mode=str(share) if share is not None else None))
        else:  # V1: `param: "name"` strings, with blobs_lr / weight_decay beside them
            specs.append(ParamSpec(name=str(value)))
    if v1 or message.has("blobs_lr") or message.has("weight_decay"):
        lrs = message.numbers("blobs_lr")
        decays = message.numbers("weight_decay")
        while len(specs) < max(len(lrs), len(decays)):
            specs.append(ParamSpec())
        for spec, lr in zip(specs, lrs):
            spec.lr_mult = lr
        for spec, decay in zip(specs, decays):
            spec.decay_mult = decay
    return specs


def _shape_dims(message) -> list[int]:
    return message.integers("dim") if isinstance(message, Message) else []


def _inputs(message: Message, layers: list[LayerSpec]) -> list[InputSpec]:
    names = [str(n) for n in message.get_all("input")]
    shapes = [_shape_dims(s) for s in message.get_all("input_shape")]
    dims = message.integers("input_dim")
    inputs = []
    for i, name in enumerate(names):
        shape = None
        if i < len(shapes):
            shape = shapes[i]
        elif len(shapes) == 1 and len(names) > 1:
            shape = None
        elif dims and len(dims) >= 4 * (i + 1):
            shape = dims[4 * i: 4 * i + 4]
        inputs.append(InputSpec(name, shape))
    for layer in layers:
        if layer.type == "Input":
            param = layer.message.get("input_param")
            shapes = [_shape_dims(s) for s in param.get_all("shape")] if isinstance(param, Message) else []
            for i, top in enumerate(layer.tops):
                # Caffe's InputLayer: one shape for all tops, or one per top
                shape = shapes[i] if i < len(shapes) else (shapes[0] if len(shapes) == 1 else None)
                inputs.append(InputSpec(top, shape, layer.name))
    return inputs


def net_from_message(message: Message, source: str = "<text>", path: Path | None = None) -> NetSpec:
    layer_messages = [(m, False) for m in message.get_all("layer") if isinstance(m, Message)]
    v1_messages = [(m, True) for m in message.get_all("layers") if isinstance(m, Message)]
    layers = []
    for index, (layer_message, v1) in enumerate(layer_messages + v1_messages):
        # V0 nets wrap each layer once more: layers { layer { name type } bottom top }
        inner = layer_message.get("layer")
        if v1 and isinstance(inner, Message) and not layer_message.has("type"):
            outer = [(entry, position) for entry, position in
                     zip(layer_message.fields, layer_message.positions) if entry[0] != "layer"]
            merged = Message(fields=[*inner.fields, *[entry for entry, _ in outer]], line=layer_message.line,
                             positions=[*inner.positions, *[position for _, position in outer]],
                             source=layer_message.source, line_starts=layer_message.line_starts)
            layer_message = merged
        layers.append(_layer_from_message(layer_message, index, v1))
    state = message.get("state")
    net = NetSpec(name=str(message.get("name", "")), layers=layers, source=source, path=path,
                  v1=bool(v1_messages), message=message)
    if isinstance(state, Message):
        net.state_phase = prototxt_phase_name(state.get("phase")) if state.has("phase") else None
        net.state_level = state.integer("level", 0)
        net.state_stages = [str(s) for s in state.get_all("stage")]
    net.inputs = _inputs(message, layers)
    return net


def read_regular_file(path: str | Path, what: str = "a net prototxt") -> bytes:
    """A user's input file's bytes; InputError when it is missing, unreadable, a folder, or not a regular
    file (a FIFO or /dev/zero would be read forever)."""
    path = Path(path)
    remedy = f"Give the path of {what}."
    try:
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            raise InputError(f"{path} is a folder, not {what}.", remedy)
        if not stat.S_ISREG(mode):
            raise InputError(f"{path} is not a regular file (a device, FIFO or socket); inspector reads "
                             f"{what} from a file only.", remedy)
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file.", remedy) from None
    except OSError as exc:
        raise InputError(f"{path} cannot be read: {exc.strerror or type(exc).__name__}.",
                         "Check the file's permissions.") from None


def read_prototxt_text(path: str | Path) -> str:
    """A prototxt file's text: UTF-8, newlines as written (a lone CR stays, as protobuf reads it).

    Refused with InputError: what read_regular_file refuses, binary content and bytes that are
    not UTF-8 (FILE:LINE:COL of the first bad byte).
    """
    data = read_regular_file(path)
    if b"\0" in data:
        line, col = _line_col(data, data.index(b"\0"))
        raise PrototxtValueError(str(path), line, col, "a NUL byte: this is a binary file, not a prototxt",
                                 "Give the text prototxt (a .caffemodel or binaryproto is not a net description).")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = _line_col(data, exc.start)
        raise PrototxtValueError(str(path), line, col, f"byte 0x{data[exc.start]:02x} is not UTF-8 text",
                                 "Save the prototxt as UTF-8 (protobuf reads text format as UTF-8).") from None


def _line_col(data: bytes, offset: int) -> tuple[int, int]:
    line_start = data.rfind(b"\n", 0, offset) + 1
    return data.count(b"\n", 0, offset) + 1, len(data[line_start:offset].decode("utf-8", "replace")) + 1


def read_net(path: str | Path) -> NetSpec:
    """Read a prototxt file into a NetSpec; InputError when it is missing, not text, or malformed."""
    path = Path(path)
    return net_from_message(parse_text(read_prototxt_text(path), str(path)), str(path), path.resolve())


def parse_net(path_or_text: str | Path) -> NetSpec:
    """A NetSpec from a prototxt path, or from prototxt text (anything with a newline or brace)."""
    if isinstance(path_or_text, Path):
        return read_net(path_or_text)
    text = str(path_or_text)
    if "\n" in text or "{" in text or (":" in text and not Path(text).exists()):
        return net_from_message(parse_text(text, "<text>"))
    return read_net(text)
