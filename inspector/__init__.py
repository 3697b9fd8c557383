"""inspector: see inside Caffe nets with Python layers.

Library entry points (the same functions the command line calls) are imported lazily so that
`import inspector` stays cheap and never imports Caffe by itself.
"""
from __future__ import annotations

__version__ = "0.1.0"
