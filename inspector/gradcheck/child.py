"""The process that runs a gradient check: `python -m inspector.gradcheck.child --events-fd N --config JSON`.

Caffe aborts the process a failed CHECK happens in, so `inspector gradcheck` runs the check here, as a job
of the one child-process runner (trace.childrun.serve): a "stage" event before each step (importing the
layers, building the net, the forward up to the layer, each blob checked), then the report, every element
included, as one "result" event: the final record api.gradcheck reads back.
"""
from __future__ import annotations

import sys
from pathlib import Path

from ..trace.childrun.serve import serve
from ..trace.marker import Marker
from .api import CHILD_MODULE, check_in_net


def run(config: dict, emit, marker: Marker) -> None:
    report = check_in_net(Path(config["net"]), config["layer"], step=config["step"], threshold=config["threshold"],
                          samples=config["samples"], seed=config["seed"], phase=config["phase"],
                          on_stage=lambda stage: emit({"event": "stage", "stage": stage}),
                          inputs={blob: Path(path) for blob, path in config.get("inputs", {}).items()})
    emit({"event": "result", "report": report.to_message()})


def main(argv: list[str] | None = None) -> int:
    return serve(run, argv, prog=CHILD_MODULE)


if __name__ == "__main__":
    sys.exit(main())
