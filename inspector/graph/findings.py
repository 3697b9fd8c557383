"""Finding: one problem (or fact) the graph lints report, with the layer and line it concerns."""
from __future__ import annotations

from dataclasses import dataclass

SEVERITIES = ("error", "warning", "info")


@dataclass
class Finding:
    code: str  # stable identifier, e.g. "undefined-bottom"
    severity: str  # error | warning | info
    layer: str | None
    message: str
    line: int | None = None
    blob: str | None = None  # the blob a wiring finding is about (an undefined bottom)

    def to_dict(self) -> dict:
        out = {"code": self.code, "severity": self.severity, "layer": self.layer,
               "message": self.message, "line": self.line}
        if self.blob is not None:
            out["blob"] = self.blob
        return out
