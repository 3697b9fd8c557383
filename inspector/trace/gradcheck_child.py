"""The process that runs a gradient check: `python -m inspector.trace.gradcheck_child --events-fd N --config JSON`.

Caffe aborts the process a failed CHECK happens in, so `inspector gradcheck` runs the check here,
through trace.child's event log: a "stage" event before each step (building the net, the
forward up to the layer, each blob checked), then the report as one "result" event.
"""
from __future__ import annotations

import sys
from pathlib import Path

from .child import serve
from .gradcheck import check_in_net


def run(config: dict, emit, marker) -> None:
    report = check_in_net(Path(config["net"]), config["layer"], step=config["step"], threshold=config["threshold"],
                          samples=config["samples"], seed=config["seed"], phase=config["phase"],
                          on_stage=lambda stage: emit({"event": "stage", "stage": stage}),
                          inputs={blob: Path(path) for blob, path in config.get("inputs", {}).items()})
    emit({"event": "result", "report": report.to_message()})


def main(argv: list[str] | None = None) -> int:
    return serve(run, argv, prog="inspector.trace.gradcheck_child")


if __name__ == "__main__":
    sys.exit(main())
