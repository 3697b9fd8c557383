"""The Python stack a child dumps when it is ended (faulthandler, on SIGTERM) or aborts, as a report shows it.

The child registers faulthandler for SIGTERM with all threads, so a run ended past --timeout or on an
interrupt leaves its stack at the end of its log. split_stack_dump cuts that dump from the log,
stopped_stack keeps the frames of the thread that ran the job (not one the threading module started),
and running_line names the line the user reads first: the innermost frame in the user's files. Which
frames are the user's and which inspector's is tracebacks.py's call, as everywhere.
"""
from __future__ import annotations

import re
from pathlib import Path

from ..tracebacks import is_inspector_file, is_user_file

STACK_HEADER = "(most recent call first):"  # faulthandler's line above each thread's frames
STACK_FRAME = re.compile(r'^\s*File "(?P<file>.+)", line (?P<line>\d+) in (?P<function>.*)$')
FRAME_FILE = re.compile(r'^\s*File "(?P<file>[^"]+)"')  # a frame line of a dump or a traceback

Frame = tuple[str, str, str]  # file, line, function


def is_noise_frame(line: str) -> bool:
    """Whether a log line is a frame of inspector's own code or of the interpreter's frozen modules."""
    match = FRAME_FILE.match(line)
    return match is not None and (is_inspector_file(match["file"]) or match["file"].startswith("<frozen "))


def split_stack_dump(lines: list[str]) -> tuple[list[str], list[str]]:
    """The log's lines before the stack dump that ends it (faulthandler's, on SIGTERM), and the dump."""
    start = len(lines)
    for i in range(len(lines) - 1, -1, -1):
        line = lines[i]
        if line.endswith(STACK_HEADER):
            start = i
        elif line.strip() and not STACK_FRAME.match(line):
            break
    return lines[:start], lines[start:]


def stopped_stack(dump: list[str]) -> list[Frame]:
    """The frames (file, line, function; innermost first) of the thread running the job in a stack dump:
    the one not started by the threading module (the main thread), inspector's own frames left out."""
    threads: list[list[Frame]] = []
    for line in dump:
        if line.endswith(STACK_HEADER):
            threads.append([])
        elif (match := STACK_FRAME.match(line)) and threads:
            threads[-1].append((match["file"], match["line"], match["function"]))
    main = [frames for frames in threads if frames and not frames[-1][0].endswith("threading.py")]
    frames = (main or threads or [[]])[0]
    return [frame for frame in frames if not is_inspector_file(frame[0]) and not frame[0].startswith("<")]


def stack_text(frames: list[Frame]) -> str | None:
    if not frames:
        return None
    return "\n".join(["Stack when ended (most recent call first):",
                      *(f'  File "{file}", line {line} in {function}' for file, line, function in frames)])


def running_line(frames: list[Frame]) -> str | None:
    """file:line of the innermost frame in the user's files (else the innermost one outside inspector), None
    when Python was only in pycaffe's net.forward or net.backward (a C++ layer was running: the marker names it)."""
    frames = [frame for frame in frames if not _in_pycaffe(frame[0])]
    users = [frame for frame in frames if is_user_file(frame[0])]
    for file, line, _ in (users or frames)[:1]:
        return f"{file}:{line}"
    return None


def _in_pycaffe(file: str) -> bool:
    folder = Path(file).parent
    return folder.name == "caffe" and (folder / "pycaffe.py").is_file()
