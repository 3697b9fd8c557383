"""The one serialisation path of the result objects: a record is its fields, as data and back."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from inspector.records import NOT_DATA, OMIT_NONE, from_data, key, to_data


@dataclass
class Call:
    method: str
    shapes: list[list[int]]
    ms: float | None = None


@dataclass
class Layer:
    name: str
    class_name: str = field(metadata=key("class"))
    source: Path | None = None
    calls: list[Call] = field(default_factory=list)
    by_method: dict[str, Call] = field(default_factory=dict)
    blob: str | None = field(default=None, metadata=OMIT_NONE)
    cached: int = field(default=0, metadata=NOT_DATA)


def test_a_record_round_trips_through_json():
    layer = Layer("loss", "TripletLayer", Path("/nets/loss.py"), [Call("forward", [[100, 32], []], 0.25)],
                  {"backward": Call("backward", [[1]])}, blob="diff", cached=7)
    data = json.loads(json.dumps(to_data(layer)))
    assert data == {"name": "loss", "class": "TripletLayer", "source": "/nets/loss.py",
                    "calls": [{"method": "forward", "shapes": [[100, 32], []], "ms": 0.25}],
                    "by_method": {"backward": {"method": "backward", "shapes": [[1]], "ms": None}}, "blob": "diff"}
    back = from_data(Layer, data)
    assert back == Layer("loss", "TripletLayer", Path("/nets/loss.py"), [Call("forward", [[100, 32], []], 0.25)],
                         {"backward": Call("backward", [[1]])}, blob="diff")
    assert isinstance(back.calls[0], Call) and isinstance(back.source, Path)


def test_omitted_and_missing_fields_take_their_defaults():
    data = to_data(Layer("data", "DigitsDataLayer"))
    assert "blob" not in data and "cached" not in data
    assert from_data(Layer, {"name": "data", "class": "DigitsDataLayer"}) == Layer("data", "DigitsDataLayer")


@dataclass
class Weights:
    DATA_DERIVED = {"frozen": "status"}  # a class attribute, not a field

    name: str
    status: str
    lr_mults: list[float] = field(default_factory=list)

    @property
    def frozen(self) -> bool:
        return bool(self.lr_mults) and all(m == 0 for m in self.lr_mults)


def test_a_derived_property_goes_in_after_the_key_it_names_and_is_not_read_back():
    data = to_data(Weights("ip1", "copied", [0.0, 0.0]))
    assert list(data) == ["name", "status", "frozen", "lr_mults"] and data["frozen"] is True
    assert from_data(Weights, data) == Weights("ip1", "copied", [0.0, 0.0])


def test_lists_and_dicts_of_scalars_are_copied_not_shared():
    call = Call("forward", [[4, 5]], 0.5)
    stats = {"min": 0.0, "max": 1.0}

    @dataclass
    class Blob:
        shape: list[int]
        data: dict[str, float | None]

    blob = Blob((4, 5), stats)  # a tuple, as the in-process tracer gives a shape
    data = to_data(blob)
    stats["min"] = -1.0
    assert data == {"shape": [4, 5], "data": {"min": 0.0, "max": 1.0}} and type(data["shape"]) is list
    assert to_data(call)["shapes"] is not call.shapes
