"""One serialisation path for the result objects: a dataclass is its fields, as data and back.

`to_data(record)` gives JSON-ready data (dicts, lists, str, int, float, bool, None) and `from_data(cls, data)`
builds the record again from it, reading the field types, so no record writes its own to_dict or a positional
from_dict. A field's metadata may rename its key (`key("class")`, for a name Python reserves), leave it out when it
is None (`OMIT_NONE`) or keep it out of the data (`NOT_DATA`, for what a view derives). Records may still add a
`to_dict` that calls `to_data(self)`, for the callers that know them by that name.
"""
from __future__ import annotations

import dataclasses
import functools
import types
import typing
from pathlib import PurePath
from typing import Any, TypeVar

T = TypeVar("T")

OMIT_NONE = {"omit_none": True}
NOT_DATA = {"not_data": True}


def key(name: str, **more: Any) -> dict:
    """Field metadata: the field is `name` in the data."""
    return {"key": name, **more}


@functools.cache
def _data_fields(cls: type) -> tuple[tuple[dataclasses.Field, str], ...]:
    return tuple((f, f.metadata.get("key", f.name)) for f in dataclasses.fields(cls)
                 if not f.metadata.get("not_data"))


_PLAIN_TYPES = frozenset({str, int, float, bool, type(None)})


@functools.cache
def _record_keys(cls: type) -> tuple[tuple[str, str, bool], ...] | None:
    """(attribute, key, left out when None) of each data field of a dataclass; None for any other type."""
    if not dataclasses.is_dataclass(cls):
        return None
    return tuple((f.name, name, bool(f.metadata.get("omit_none"))) for f, name in _data_fields(cls))


def to_data(value: Any) -> Any:
    """The value as JSON-ready data: dataclasses by their fields, tuples as lists, paths as text."""
    kind: type = type(value)
    if kind in _PLAIN_TYPES:  # most values, returned at once: a 16,000-layer graph report holds a million
        return value
    record_keys = _record_keys(kind)
    if record_keys is not None:
        out = {}
        for attribute, name, omit_none in record_keys:
            item = getattr(value, attribute)
            if item is None and omit_none:
                continue
            out[name] = item if type(item) in _PLAIN_TYPES else to_data(item)
        return out
    if isinstance(value, (list, tuple)):
        return [item if type(item) in _PLAIN_TYPES else to_data(item) for item in value]
    if isinstance(value, dict):
        return {k: v if type(v) in _PLAIN_TYPES else to_data(v) for k, v in value.items()}
    if isinstance(value, PurePath):
        return str(value)
    return value


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def from_data(cls: type[T], data: dict) -> T:
    """The record `cls` built from `to_data`'s output; a field missing from the data takes its default."""
    record_type: type = cls
    hints = _hints(record_type)
    values = {}
    for f, name in _data_fields(record_type):
        if name in data:
            values[f.name] = _convert(hints[f.name], data[name])
    return cls(**values)


def _convert(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return _convert(options[0], value) if len(options) == 1 else value
    if origin is list:
        (item,) = typing.get_args(hint) or (Any,)
        return [_convert(item, v) for v in value]
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v) for v in value)
        return tuple(_convert(a, v) for a, v in zip(args, value)) if args else tuple(value)
    if origin is dict:
        _, item = typing.get_args(hint) or (Any, Any)
        return {k: _convert(item, v) for k, v in value.items()}
    if isinstance(hint, type):
        if dataclasses.is_dataclass(hint):
            return from_data(hint, value)
        if issubclass(hint, PurePath):
            return hint(value)
    return value
