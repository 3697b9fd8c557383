"""How a blob shape is written everywhere inspector prints one: `100x32`, a scalar `()`, lists counted."""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence


def shape_text(shape: Sequence[int] | None) -> str:
    """`100x1x8x8`; a shape with no axes (a scalar) is `()`, an unknown one (None) is empty."""
    if shape is None:
        return ""
    return "x".join(map(str, shape)) if len(shape) else "()"


def shapes_text(shapes: Iterable[Sequence[int]]) -> str:
    """Shapes in order, runs of one shape counted: `100x32, 100` or `3x 100x32`."""
    runs: list[list] = []
    for shape in shapes:
        text = shape_text(shape)
        if runs and runs[-1][0] == text:
            runs[-1][1] += 1
        else:
            runs.append([text, 1])
    return ", ".join(text if count == 1 else f"{count}x {text}" for text, count in runs)


def named_shapes_text(shapes: Mapping[str, Sequence[int]]) -> str:
    """`data 100x1x8x8, labels 100`; blobs of one shape in a row share it: `archor, positive, negative 100x32`."""
    runs: list[list] = []
    for name, shape in shapes.items():
        if runs and runs[-1][1] == shape:
            runs[-1][0].append(name)
        else:
            runs.append([[name], shape])
    return ", ".join(f"{', '.join(names)} {shape_text(shape)}" for names, shape in runs)
