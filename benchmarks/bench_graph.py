"""How fast `inspector graph` reads, graphs, lints and writes DOT for a ResNet-sized net, next to Caffe's draw_net.py.

Generates a ResNet-152-style prototxt (bottleneck blocks with in-place BatchNorm/Scale/ReLU,
about 1000 layers) into a temp folder, then times in the same run:
- inspector: read_net + build_graph + run_lints + to_dot written to a file (in this process, best of N);
- reference: Caffe's own python/draw_net.py writing DOT for the same file (pycaffe + pydot), as a
  child process; its interpreter start and `import caffe` are timed separately and subtracted.
Prints both times and the ratio. Goal: inspector under 1 s and faster than draw_net.

    .venv/bin/python benchmarks/bench_graph.py [--repeat 3]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STAGES = (3, 8, 60, 3)  # ResNet-152 is (3, 8, 36, 3); more blocks in stage 3 bring it to ~1000 layers


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


def resnet_prototxt() -> tuple[str, int]:
    lines = ['name: "ResNetBench"', 'input: "data"', 'input_shape { dim: 1 dim: 3 dim: 224 dim: 224 }']
    top = conv_bn(lines, "conv1", "data", 64, 7, 2, True)
    lines.append(f'layer {{ name: "pool1" type: "Pooling" bottom: "{top}" top: "pool1" '
                 'pooling_param { pool: MAX kernel_size: 3 stride: 2 } }')
    top, width = "pool1", 64
    for stage, blocks in enumerate(STAGES, 2):
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


def time_inspector(net: Path, out: Path, repeat: int) -> float:
    from inspector.graph import build_graph, run_lints, to_dot
    from inspector.prototxt import read_net

    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        netgraph = build_graph(read_net(net), "TEST")
        findings = run_lints(netgraph)
        out.write_text(to_dot(netgraph))
        best = min(best, time.perf_counter() - start)
    assert not [f for f in findings if f.severity == "error"], findings
    return best


def time_draw_net(net: Path, out: Path, repeat: int) -> tuple[float, float]:
    """(draw_net time with its imports subtracted, the imports alone), best of repeat each."""
    from inspector.caffe_env import find_caffe_root

    draw_net = find_caffe_root() / "python" / "draw_net.py"
    run_total = run_imports = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import caffe, caffe.draw, pydot"], check=True, capture_output=True)
        run_imports = min(run_imports, time.perf_counter() - start)
        start = time.perf_counter()
        subprocess.run([sys.executable, str(draw_net), str(net), str(out), "--phase", "TEST"], check=True,
                       capture_output=True, env={"GLOG_minloglevel": "2", "PATH": "/usr/bin:/bin"})
        run_total = min(run_total, time.perf_counter() - start)
    return max(run_total - run_imports, 0.0), run_imports


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        net = Path(tmp) / "resnet.prototxt"
        text, layers = resnet_prototxt()
        net.write_text(text)
        ours = time_inspector(net, Path(tmp) / "ours.dot", args.repeat)
        theirs, imports = time_draw_net(net, Path(tmp) / "draw_net.dot", args.repeat)
    print(f"net: {layers} layers, {len(text.splitlines())} lines")
    print(f"inspector read+graph+lint+DOT: {ours:.3f} s")
    print(f"caffe draw_net.py DOT:         {theirs:.3f} s (after {imports:.3f} s of interpreter start and imports)")
    print(f"ratio draw_net / inspector:    {theirs / ours:.1f}x")


if __name__ == "__main__":
    main()
