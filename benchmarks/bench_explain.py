"""Speed of `inspector explain python_layer`, each figure against a reference measured in the same run.

- cold: the explain parse (libclang, cache bypassed) against `g++ -fsyntax-only` on the same header
  with the same include flags. Goal: ratio <= 1.0.
- warm: the whole `inspector explain python_layer` process with nothing changed (served from the
  cache), against the 0.5 s goal; the bare Python start-up is printed beside it for reference.
- scaling: explain on a header of N classes and of 4N: the time ratio against the size ratio 4
  (linear: about 4; quadratic: about 16).
Best of several runs each, so a busy machine disturbs the figures less.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

from inspector import caffe_env
from inspector.explain import explain
from inspector.explain.locate import resolve_target

RUNS = 3
WARM_GOAL = 0.5


def best_of(fn, runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def many_classes(path: str, count: int) -> None:
    with open(path, "w") as fh:
        for i in range(count):
            fh.write(f"class C{i} {{\n public:\n  int f{i}(int a) {{ return a + {i}; }}\n}};\n")
        fh.write('class Target : public C0 {\n public:\n  void Forward_cpu() { self_.attr("forward")(); }\n};\n')


def scaling(small: int = 5000) -> None:
    with tempfile.TemporaryDirectory() as folder:
        times = []
        for count in (small, 4 * small):
            path = os.path.join(folder, f"classes_{count}.hpp")
            many_classes(path, count)
            times.append(best_of(lambda p=path: explain(p, use_cache=False), runs=1))
    print(f"scaling: {small} classes {times[0]:.2f} s, {4 * small} classes {times[1]:.2f} s, "
          f"time ratio {times[1] / times[0]:.1f} for 4x the classes (linear ~4, quadratic ~16)")


def main() -> int:
    root = caffe_env.find_caffe_root(os.environ.get("CAFFE_ROOT"))
    target = resolve_target("python_layer", str(root))
    flags = caffe_env.caffe_compile_flags(root)
    gxx = ["g++", "-fsyntax-only", *flags, str(target.header)]

    gxx_time = best_of(lambda: subprocess.run(gxx, check=True, capture_output=True))
    cold_time = best_of(lambda: explain("python_layer", str(root), use_cache=False))
    print(f"cold: explain {cold_time:.2f} s, g++ -fsyntax-only {gxx_time:.2f} s, ratio {cold_time / gxx_time:.2f} (goal <= 1.00)")

    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, INSPECTOR_CACHE=cache, COLUMNS="120")
        command = [sys.executable, "-m", "inspector", "explain", "python_layer", "--caffe-root", str(root)]
        subprocess.run(command, env=env, check=True, capture_output=True)  # fill the cache
        warm_time = best_of(lambda: subprocess.run(command, env=env, check=True, capture_output=True))
        bare = best_of(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True))
    print(f"warm: inspector explain python_layer {warm_time:.2f} s, goal {WARM_GOAL:.2f} s, ratio {warm_time / WARM_GOAL:.2f} "
          f"(bare python start-up {bare:.2f} s)")
    scaling()
    return 0


if __name__ == "__main__":
    sys.exit(main())
