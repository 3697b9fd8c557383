"""The net's phase: one type, one validator, and its spellings for the user, Caffe and the prototxt.

    phase = parse_phase("TEST")           # Phase.TEST, equal to "test"; InputError for "val"
    caffe.Net(path, phase.caffe_constant(caffe))
    net_spec.layers_for(phase.prototxt)   # "TEST", as caffe.proto's enum spells it

A Phase is a str (its value is the option's spelling, "train" or "test"), so it goes into JSON
and compares with the strings already in configs and reports unchanged. ALL is the graph's
"every layer, with the phases it is in"; Caffe builds a net in TRAIN or TEST only, so only
`parse_phase(text, allow_all=True)` accepts it. Phases a prototxt writes (`include { phase: TEST }`,
or caffe.proto's numbers 0 and 1) are read by `prototxt_phase_name`.
"""
from __future__ import annotations

from enum import Enum

from .errors import InputError


class Phase(str, Enum):
    TRAIN = "train"
    TEST = "test"
    ALL = "all"  # the graph only: every layer, drawn with its phases

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:  # f"{phase}" is "train" on every Python, not "Phase.TRAIN"
        return format(self.value, spec)

    @property
    def prototxt(self) -> str:
        """caffe.proto's spelling: TRAIN, TEST (and the graph's ALL)."""
        return self.value.upper()

    @property
    def other(self) -> Phase:
        """The phase Caffe builds when this one is not asked for (TRAIN for TEST and the reverse)."""
        return Phase.TEST if self is Phase.TRAIN else Phase.TRAIN

    def caffe_constant(self, caffe) -> int:
        """pycaffe's caffe.TRAIN or caffe.TEST, for caffe.Net."""
        if self is Phase.ALL:
            raise ValueError("Caffe builds a net in one phase, train or test, not all")
        return caffe.TRAIN if self is Phase.TRAIN else caffe.TEST


CAFFE_PHASES = (Phase.TRAIN, Phase.TEST)  # the phases Caffe builds a net in, in caffe.proto's order
PHASE_OPTIONS = tuple(p.value for p in CAFFE_PHASES)  # --phase of trace and gradcheck
GRAPH_PHASE_OPTIONS = (*PHASE_OPTIONS, Phase.ALL.value)  # --phase of graph
PROTOTXT_PHASES = tuple(p.prototxt for p in CAFFE_PHASES)  # ("TRAIN", "TEST")


def parse_phase(text: str | Phase, allow_all: bool = False) -> Phase:
    """The phase `text` names, in any case ("train", "TEST", a Phase); InputError for any other."""
    if isinstance(text, Phase) and (allow_all or text is not Phase.ALL):
        return text
    choices = GRAPH_PHASE_OPTIONS if allow_all else PHASE_OPTIONS
    value = str(text).lower()
    if value in choices:
        return Phase(value)
    remedy = "Use --phase train, test or all." if allow_all else "Use --phase train or test."
    raise InputError(f"unknown phase '{text}'.", remedy)


def prototxt_phase_name(value) -> str:
    """A phase as a prototxt writes it (TRAIN, TEST, or caffe.proto's numbers 0 and 1), in caffe.proto's spelling;
    any other value is kept upper-cased (a rule naming it is met in no phase, as Caffe would refuse the file)."""
    text = str(value).upper()
    return {"0": "TRAIN", "1": "TEST"}.get(text, text)
