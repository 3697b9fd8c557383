"""The crash marker: which layer and method run now, kept in a small shared file the parent reads when
Caffe aborts the child. Free of numpy, so the parent (which only reads it) imports nothing heavy."""
from __future__ import annotations

import mmap
import os
import struct
from pathlib import Path

# "update": the solver applying the gradients (Solver::ApplyUpdate), marked with no layer
METHOD_CODES = {name: i for i, name in enumerate(("setup", "reshape", "forward", "backward", "import", "update"), 1)}
_SLOTS = struct.Struct("=3i")  # the method's code (0: nothing marked yet), the layer's index in the net, the iteration
_NAME_BYTES = 96


class Marker:
    """The layer and method running now, in a small shared file the parent reads if Caffe aborts.

    Three int32 slots, then a name: the method's code (METHOD_CODES, 0 while nothing is marked), the
    layer's index in the net, or -1 when the name field names it (at import and setup, before the net
    exists), and the iteration. The layer callbacks mark every layer of every pass, so marking a layer of
    the net is two stores into the mapped file (`slots`), and the iteration a third, once a pass.
    """

    SIZE = _SLOTS.size + _NAME_BYTES  # bytes of the file

    def __init__(self, path: str | int | None):  # a path, or an open descriptor of the file
        self._map = None
        self.slots = None  # the three slots as a memoryview of int32, None when there is no file
        if path:
            with open(path, "r+b") as handle:
                self._map = mmap.mmap(handle.fileno(), Marker.SIZE)
            self.slots = memoryview(self._map)[:_SLOTS.size].cast("i")

    def mark(self, layer: str, method: str, iteration: int) -> None:
        """Mark a layer by its name."""
        if self.slots is not None:
            name = layer.encode()[:_NAME_BYTES].ljust(_NAME_BYTES, b"\0")
            self._map[_SLOTS.size:] = name  # type: ignore[index]  # the map is there whenever the slots are
            self.slots[1], self.slots[2], self.slots[0] = -1, iteration, METHOD_CODES[method]

    @staticmethod
    def create(path: Path) -> None:
        path.write_bytes(b"\0" * Marker.SIZE)

    @staticmethod
    def read(path: Path | int) -> dict | None:
        """The last mark: layer (None when the mark gives its index in the net instead), index, method, iteration.
        `path` may be an open descriptor of the file."""
        raw = os.pread(path, Marker.SIZE, 0) if isinstance(path, int) else Path(path).read_bytes()
        if len(raw) < Marker.SIZE:
            return None
        code, index, iteration = _SLOTS.unpack_from(raw)
        if not code:
            return None
        layer = raw[_SLOTS.size:].rstrip(b"\0").decode(errors="replace") if index < 0 else None
        methods = {v: k for k, v in METHOD_CODES.items()}
        return {"layer": layer, "index": index if index >= 0 else None, "method": methods.get(code, "?"),
                "iteration": iteration}
