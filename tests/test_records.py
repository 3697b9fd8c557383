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
