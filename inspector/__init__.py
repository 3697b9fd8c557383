"""inspector (distributed as caffe-inspector): see inside Caffe nets with Python layers.

Library entry points (the same functions the command line calls) are imported lazily so that
`import inspector` stays cheap and never imports Caffe by itself.
"""
from __future__ import annotations

# The one place the version is written: setuptools reads it from here (pyproject's dynamic version).
__version__ = "0.1.0"
# The name pip and pipx know it by; `inspector` on the package index is an unrelated project.
DISTRIBUTION_NAME = "caffe-inspector"


def __getattr__(name: str):
    # `inspector.trace` is a callable package (trace(net) starts a trace); imported on first use
    if name == "trace":
        import importlib  # noqa: PLC0415

        return importlib.import_module(".trace", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
