"""The one child-process runner: trace, training and gradcheck run their job in a child through it.

A failed CHECK in Caffe aborts the process it happens in, so every command that runs a user's net runs it
in a child and reads what it streams. The parts, parent side first:
- spawn: run_child starts `python -m MODULE` with an event log and a marker (open files with no name), a
  session of its own and its parent's pid, passes each event on as it comes, and ends the child past the
  timeout or on SIGINT, SIGTERM or SIGHUP (Ending); validate_timeout checks --timeout.
- caffelog: CaffeLog reads the child's stderr (Caffe's glog) on a thread: "needs backward" lines, the
  "Check failed" line, what Net::Init builds, a readable tail.
- stackdump: the Python stack a child dumps when ended (faulthandler on SIGTERM), and the user's line in it.
- crash: ChildRun (how the child ended), child_error (the child's "error" event as an InspectorError) and
  child_crash, the crash report of a child that died: culprit, blame, Caffe's log.
- serve: the child's side: options, parent death, faulthandler, the event log, the job, its "error",
  "exception" and "done" events.
The event log itself is trace.events (EventLog, follow_event_log), the marker trace.marker, and the
traceback filter trace.tracebacks. A command module only says which module to run with which config, and
how to read its events and final record (trace.runner.run_trace, gradcheck.command.gradcheck).

Nothing is imported here: the child imports serve alone, without the parent's report classes (rich).
"""
