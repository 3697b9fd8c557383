"""How fast `inspector graph` is on big nets, as whole processes (the way a user feels it), next to Caffe's draw_net.py.

Generates into a temp folder, then measures in the same run:
1. A ResNet-152 deploy net (bottleneck blocks with in-place BatchNorm/Scale/ReLU, 670 layers):
   `inspector graph NET -o net.dot` (text report + DOT) against Caffe's own python/draw_net.py
   writing DOT for the same file (pycaffe + pydot), each a child process from start to exit, runs
   interleaved, median wall time; goals: inspector < 0.5 s and <= 0.5x draw_net. Beside it, the
   in-process time (read + graph + lint + DOT, best of the runs) and draw_net's import time.
2. A 16,000-layer chain (InnerProduct, then ReLU in place, 8,000 times): text report + DOT, and
   --format json, whole processes, with the child's CPU time and peak RSS (os.wait4's rusage);
   goals < 2 s and < 150 MB. Linear: a 1,000-layer chain and a 2-layer one (the fixed cost) are
   timed alike, and the 16k time is compared with fixed + 16 x (1k - fixed).
Wall times move with the load of the machine (printed); CPU times much less.

    .venv/bin/python benchmarks/bench_graph.py [--repeat 5]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from whole_process import ChildRun, median_runs

RESNET_152 = (3, 8, 36, 3)  # bottleneck blocks per stage
INSPECTOR = Path(sys.executable).parent / "inspector"


def conv_bn(lines: list[str], name: str, bottom: str, out: int, kernel: int, stride: int, relu: bool) -> str:
    lines.append(f'layer {{ name: "{name}" type: "Convolution" bottom: "{bottom}" top: "{name}" '
                 f'param {{ lr_mult: 1 decay_mult: 1 }} convolution_param {{ num_output: {out} kernel_size: {kernel} '
                 f'pad: {kernel // 2} stride: {stride} bias_term: false }} }}')
    lines.append(f'layer {{ name: "bn_{name}" type: "BatchNorm" bottom: "{name}" top: "{name}" '
                 'param { lr_mult: 0 } param { lr_mult: 0 } param { lr_mult: 0 } '
                 'batch_norm_param { use_global_stats: true } }')
    lines.append(f'layer {{ name: "scale_{name}" type: "Scale" bottom: "{name}" top: "{name}" '
                 'scale_param { bias_term: true } }')
    if relu:
        lines.append(f'layer {{ name: "{name}_relu" type: "ReLU" bottom: "{name}" top: "{name}" }}')
    return name


def resnet_prototxt(stages: tuple[int, ...] = RESNET_152) -> tuple[str, int]:
    lines = ['name: "ResNetBench"', 'input: "data"', 'input_shape { dim: 1 dim: 3 dim: 224 dim: 224 }']
    top = conv_bn(lines, "conv1", "data", 64, 7, 2, True)
    lines.append(f'layer {{ name: "pool1" type: "Pooling" bottom: "{top}" top: "pool1" '
                 'pooling_param { pool: MAX kernel_size: 3 stride: 2 } }')
    top, width = "pool1", 64
    for stage, blocks in enumerate(stages, 2):
        for block in range(blocks):
            name = f"res{stage}_{block}"
            stride = 2 if block == 0 and stage > 2 else 1
            shortcut = conv_bn(lines, f"{name}_branch1", top, width * 4, 1, stride, False) if block == 0 else top
            a = conv_bn(lines, f"{name}_branch2a", top, width, 1, stride, True)
            b = conv_bn(lines, f"{name}_branch2b", a, width, 3, 1, True)
            c = conv_bn(lines, f"{name}_branch2c", b, width * 4, 1, 1, False)
            lines.append(f'layer {{ name: "{name}" type: "Eltwise" bottom: "{shortcut}" bottom: "{c}" top: "{name}" }}')
            lines.append(f'layer {{ name: "{name}_relu" type: "ReLU" bottom: "{name}" top: "{name}" }}')
            top = name
        width *= 2
    lines.append(f'layer {{ name: "pool5" type: "Pooling" bottom: "{top}" top: "pool5" '
                 'pooling_param { pool: AVE global_pooling: true } }')
    lines.append('layer { name: "fc1000" type: "InnerProduct" bottom: "pool5" top: "fc1000" '
                 'inner_product_param { num_output: 1000 } }')
    lines.append('layer { name: "prob" type: "Softmax" bottom: "fc1000" top: "prob" }')
    text = "\n".join(lines) + "\n"
    return text, text.count("layer {")


def chain_prototxt(layers: int) -> str:
    """InnerProduct, then ReLU in place, layers / 2 times."""
    lines = ['name: "Chain"', 'input: "data"', 'input_shape { dim: 1 dim: 16 }']
    for i in range(0, layers, 2):
        bottom = "data" if i == 0 else f"ip{i - 2}"
        lines.append(f'layer {{ name: "ip{i}" type: "InnerProduct" bottom: "{bottom}" top: "ip{i}" '
                     'inner_product_param { num_output: 16 } }')
        lines.append(f'layer {{ name: "relu{i + 1}" type: "ReLU" bottom: "ip{i}" top: "ip{i}" }}')
    return "\n".join(lines) + "\n"


def in_process(net: Path, out: Path, repeat: int) -> float:
    """read + graph + lint + DOT for `net` in this process, best of `repeat`."""
    from inspector.graph import build_graph, run_lints, to_dot
    from inspector.prototxt import read_net

    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        netgraph = build_graph(read_net(net), "TEST")
        run_lints(netgraph)
        out.write_text(to_dot(netgraph))
        best = min(best, time.perf_counter() - start)
    return best


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def time_verdict(run: ChildRun, goal: float) -> str:
    """Against a goal in seconds, by wall time (what a user waits, load included) and by CPU time."""
    return f"wall {verdict(run.wall < goal)}, CPU {verdict(run.cpu < goal)}"


def describe(run: ChildRun) -> str:
    return f"{run.wall:6.3f} s wall  {run.cpu:6.3f} s CPU  {run.peak_mb:6.1f} MB peak"


def bench_resnet(tmp: Path, repeat: int) -> None:
    from inspector.caffe_env import find_caffe_root

    net = tmp / "resnet152.prototxt"
    text, layers = resnet_prototxt()
    net.write_text(text)
    draw_net = find_caffe_root() / "python" / "draw_net.py"
    caffe_env = dict(os.environ, GLOG_minloglevel="2")
    results = median_runs({
        "inspector": [str(INSPECTOR), "graph", str(net), "--phase", "test", "-o", str(tmp / "ours.dot")],
        "draw_net": [sys.executable, str(draw_net), str(net), str(tmp / "draw_net.dot"), "--phase", "TEST"],
        "draw_net imports": [sys.executable, "-c", "import caffe, caffe.draw, pydot"],
    }, repeat, caffe_env)
    ours, theirs = results["inspector"], results["draw_net"]
    ratio = ours.wall / theirs.wall
    print(f"ResNet-152 deploy ({layers} layers, {len(text.splitlines())} lines); whole processes, median of "
          f"{repeat} interleaved runs (load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores)")
    print(f"  inspector graph -o net.dot (text report + DOT)  {describe(ours)}")
    print(f"  caffe draw_net.py net.dot                       {describe(theirs)}")
    print(f"    of which its imports (caffe, caffe.draw, pydot) {results['draw_net imports'].wall:.3f} s wall")
    print(f"  ratio inspector / draw_net: {ratio:.2f} wall, {ours.cpu / theirs.cpu:.2f} CPU "
          f"(goal <= 0.5: {verdict(ratio <= 0.5)}); inspector < 0.5 s: {time_verdict(ours, 0.5)}")
    print(f"  in process, read + graph + lint + DOT: {in_process(net, tmp / 'in_process.dot', repeat):.3f} s (best)")


def bench_chain(tmp: Path, repeat: int) -> None:
    nets = {}
    for layers in (2, 1000, 16000):
        nets[layers] = tmp / f"chain{layers}.prototxt"
        nets[layers].write_text(chain_prototxt(layers))
    commands = {f"{layers} text+DOT": [str(INSPECTOR), "graph", str(net), "-o", str(tmp / f"chain{layers}.dot")]
                for layers, net in nets.items()}
    commands["16000 json"] = [str(INSPECTOR), "graph", str(nets[16000]), "--format", "json"]
    results = median_runs(commands, repeat)
    big, json_run = results["16000 text+DOT"], results["16000 json"]
    fixed, small = results["2 text+DOT"], results["1000 text+DOT"]
    print(f"\n16,000-layer chain (InnerProduct + ReLU in place); whole processes, median of {repeat} interleaved "
          f"runs (load average {os.getloadavg()[0]:.2f})")
    print(f"  text report + DOT  {describe(big)}  (goals < 2 s: {time_verdict(big, 2)}; "
          f"< 150 MB: {verdict(big.peak_mb < 150)})")
    print(f"  --format json      {describe(json_run)}  (goal < 2 s: {time_verdict(json_run, 2)})")
    print(f"  2-layer chain      {describe(fixed)}  (the fixed cost: interpreter, imports)")
    print(f"  1,000-layer chain  {describe(small)}")
    for label, measured, start, thousand in (("wall", big.wall, fixed.wall, small.wall),
                                              ("CPU", big.cpu, fixed.cpu, small.cpu)):
        linear = start + 16 * (thousand - start)
        print(f"  linear extrapolation of the 1k chain to 16k ({label}): {linear:.3f} s; "
              f"measured / extrapolated: {measured / linear:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench_resnet(Path(tmp), args.repeat)
        bench_chain(Path(tmp), args.repeat)


if __name__ == "__main__":
    main()
