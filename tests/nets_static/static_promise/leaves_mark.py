"""Writes a file next to itself when imported: proof that a static command imported it."""
import os

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), os.environ.get("INSPECTOR_MARK_NAME", "IMPORTED")), "w") as mark:
    mark.write("imported\n")


class MarkLayer:
    pass
