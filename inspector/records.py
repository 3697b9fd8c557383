"""One serialisation path for the result objects: a dataclass is its fields, as data and back.

`to_data(record)` gives JSON-ready data (dicts, lists, str, int, float, bool, None) and `from_data(cls, data)`
builds the record again from it, reading the field types, so no record writes its own to_dict or a positional
from_dict. A field's metadata may rename its key (`key("class")`, for a name Python reserves), leave it out when it
is None (`OMIT_NONE`) or keep it out of the data (`NOT_DATA`, for what a view derives). What a record derives
and its data shows (a property) is named in its class's DATA_DERIVED, {property: the key it follows}; from_data
passes over it. Records may still add a `to_dict` that calls `to_data(self)`, for the callers that know them by
that name.

to_data runs on every value of a report (each number of each recorded call), so a field whose type holds only JSON
scalars (str, int, float, bool, None), or a list or a dict of them, is copied whole without a look at each value:
its declared type is trusted.
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


@functools.cache
def _fields_to_write(cls: type) -> tuple[tuple[str, str, bool, str], ...] | None:
    """(attribute, key, omitted when None, how to copy: _plain_copy) of each data field of a dataclass; None for
    any other type."""
    if not dataclasses.is_dataclass(cls):
        return None
    try:
        hints = _hints(cls)
    except NameError:  # a type named only for type checkers: every field the long way
        hints = {}
    derived: dict[str, str] = getattr(cls, "DATA_DERIVED", {})
    written = []
    for f, name in _data_fields(cls):
        written.append((f.name, name, bool(f.metadata.get("omit_none")), _plain_copy(hints.get(f.name))))
        written += [(prop, prop, False, "") for prop, after in derived.items() if after == name]
    return tuple(written)


_SCALARS = frozenset({str, int, float, bool, type(None)})  # JSON scalars, as their exact types


def _plain_copy(hint: Any) -> str:
    """"as_is" for a type of JSON scalars, "list" or "dict" for a list or a dict of them (copied with list() or
    dict()), "" for anything else (to_data, value by value). None, in a union, is allowed anywhere."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        kinds = {_plain_copy(a) for a in args if a is not type(None)}
        return kinds.pop() if len(kinds) == 1 else ("as_is" if not kinds else "")
    if hint in _SCALARS:
        return "as_is"
    if origin is list and args and _plain_copy(args[0]) == "as_is":
        return "list"
    if origin is dict and len(args) == 2 and args[0] is str and _plain_copy(args[1]) == "as_is":
        return "dict"
    return ""



def to_data(value: Any) -> Any:
    """The value as JSON-ready data: dataclasses by their fields, tuples as lists, paths as text."""
    kind: type = type(value)  # the exact types first: this runs on every value of a report (a call's every number)
    if kind in _SCALARS:
        return value
    if kind is list or kind is tuple:
        return [to_data(item) for item in value]
    if kind is dict:
        return {k: to_data(v) for k, v in value.items()}
    fields = _fields_to_write(kind)
    if fields is not None:
        out: dict[str, Any] = {}
        for attribute, name, omit_none, copy in fields:
            item = getattr(value, attribute)
            if item is None:
                if not omit_none:
                    out[name] = None
            elif copy == "as_is":
                out[name] = item
            elif copy == "list":
                out[name] = list(item)
            elif copy == "dict":
                out[name] = dict(item)
            else:
                out[name] = to_data(item)
        return out
    if isinstance(value, (list, tuple)):
        return [to_data(item) for item in value]
    if isinstance(value, dict):
        return {k: to_data(v) for k, v in value.items()}
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
