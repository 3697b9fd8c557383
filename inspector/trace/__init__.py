"""inspector.trace: run a real caffe.Net and record what every Python layer was called with and did.

- netload: build the net as the user would (layers' folder on sys.path, seeded, inputs filled).
- netinfo: the net's parts (Caffe's phase filter, Python layers in build order, layer table,
  shared parameters, inserted Splits, why a backward never runs).
- tracer: the Tracer: each Python layer call recorded as an event; stats (blob statistics), watch (lossy
  writes into float32 blobs); instrument puts it in front of a net (method wrappers, layer callbacks,
  print capture) and takes it away.
- contract: the contract checks as one table (id, severity, condition, message, fix) every finding comes
  from; call_checks judges each recorded call, checks the run (the probes after the passes: diffs
  accumulated with +=, a loss ignoring top[0].diff, backward never called).
- report: TraceReport, built from the event stream, with its text and JSON views.
- childrun: the one child-process runner (trace, training and gradcheck): spawn, session, parent death,
  the event log followed, Caffe's log, the stack dump of a stopped child, the crash report; its child side.
- runner / child: `inspector trace` runs the net in a child (through childrun) that writes events to an
  event log the parent follows, so a Caffe abort loses nothing; runner folds them into the report.
- api: `from inspector import trace; with trace(net) as t: ...` around a built net or solver.
- finetune: the fine-tuning view, built on netload. (The gradient check is a package of its own,
  inspector.gradcheck, whose child runs through childrun too.)
- solverfile, training, training_report, training_child, training_hooks, training_plot: the training
  view of a solver file (or `trace(solver)`): the solver read and prepared, the recorder on its callbacks
  (per-iteration values, the first non-finite value), the report folded from its events, the child that
  trains, where it plugs into run_trace and the API, and --plot.

The package itself is callable (`trace(net)`), so `from inspector import trace` gives the
debugging-session API whether or not the package was imported before.
"""
from __future__ import annotations

import sys
import types


class _CallableModule(types.ModuleType):
    """`from inspector import trace` gives this package; calling it starts a trace (see api.trace)."""

    def __call__(self, target, **options):
        from .api import trace as start_trace  # noqa: PLC0415

        return start_trace(target, **options)


sys.modules[__name__].__class__ = _CallableModule
