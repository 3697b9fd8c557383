"""Whole-process measurements for the benchmarks: a command run to its end, its wall time, CPU time and peak RSS.

CPU time and peak RSS come from os.wait4's rusage of the child (which includes what that child's own
children used), so `inspector trace`'s figure holds its traced child too. On a loaded machine wall
times stretch; CPU times much less.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class ChildRun:
    wall: float  # seconds from spawn to exit
    cpu: float  # the child's user + system seconds
    peak_mb: float  # the child's peak resident set


def run_child(command: list[str], env: dict | None = None, cwd: Path | None = None) -> ChildRun:
    """Run a command to its end, its stdout to /dev/null; its wall time, CPU time and peak RSS."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=cwd)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):  # 1: lint findings, still a full run
        raise SystemExit(f"{' '.join(command)} failed ({proc.returncode}): {proc.stderr.read().decode()[-500:]}")
    proc.stderr.close()
    return ChildRun(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def median_runs(commands: dict[str, list[str]], repeat: int, env: dict | None = None,
                cwd: Path | None = None) -> dict[str, ChildRun]:
    """Each command `repeat` times, interleaved (the order rotating), so load hits all alike; the medians
    (the peak RSS: the largest)."""
    names = list(commands)
    runs: dict[str, list[ChildRun]] = {name: [] for name in names}
    for i in range(repeat):
        for name in names[i % len(names):] + names[:i % len(names)]:
            runs[name].append(run_child(commands[name], env, cwd))
    return {name: ChildRun(statistics.median(r.wall for r in rs), statistics.median(r.cpu for r in rs),
                           max(r.peak_mb for r in rs)) for name, rs in runs.items()}
