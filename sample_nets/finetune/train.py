"""Fine-tuning as Caffe users do it: train a base net on digits 0-4, then teach it digits 5-9.

How: caffe.SGDSolver trains base_solver.prototxt (the digits data layer serving 0-4, ip1 and
ip2, the classifier fc_digits) and saves OUT_DIR/base.caffemodel. Then finetune_solver.prototxt
builds the fine-tuning net (data serving 5-9; ip1 and ip2 frozen with lr_mult 0; the last layer
renamed fc_new so no weights load into it), copies the base weights in by layer name
(solver.net.copy_from), trains, and saves OUT_DIR/finetuned.caffemodel. Each net is scored on
the held-out test digits of its own classes by running its layers from ip1 to the classifier
on the whole split. Whether the frozen layers kept the base weights exactly is checked too.

The last line printed is JSON with every number, for scripts and tests to read.

    python sample_nets/finetune/train.py --base-iterations 300 --iterations 300 --out-dir build
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
BASE_DIGITS = (0, 1, 2, 3, 4)
NEW_DIGITS = (5, 6, 7, 8, 9)
FROZEN_LAYERS = ("ip1", "ip2")
LOSS_WINDOW = 10  # losses are noisy batch to batch: first and last are averages over this many


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-iterations", type=int, default=300, help="SGD iterations of the base net (default 300)")
    parser.add_argument("--iterations", type=int, default=300, help="SGD iterations of fine-tuning (default 300)")
    parser.add_argument("--out-dir", default=str(HERE / "build"),
                        help="folder for base.caffemodel and finetuned.caffemodel (default sample_nets/finetune/build)")
    return parser.parse_args(argv)


def train(solver, iterations: int, label: str) -> list[float]:
    """Step the solver, printing now and then; the training losses."""
    losses = []
    for iteration in range(iterations):
        solver.step(1)
        losses.append(float(solver.net.blobs["loss"].data))
        if iteration % 100 == 0 or iteration == iterations - 1:
            print(f"{label} iteration {iteration:5d}  loss {losses[-1]:.4f}", flush=True)
    return losses


def test_accuracy(net, classifier: str, images: np.ndarray, labels: np.ndarray) -> float:
    """Accuracy of `net` on a whole split: the data blob set by hand, layers ip1..classifier run."""
    net.blobs["data"].reshape(*images.shape)
    net.blobs["data"].data[...] = images
    net.forward(start="ip1", end=classifier)
    return float(np.mean(np.argmax(net.blobs[classifier].data, axis=1) == labels))


def main(argv=None) -> int:
    args = parse_args(argv)
    out_dir = Path(args.out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("GLOG_minloglevel", "2")
    sys.path.insert(0, str(HERE))  # Caffe imports python_param modules with a plain import
    os.chdir(HERE)  # the solvers name their nets relative to this folder
    import caffe  # noqa: PLC0415 - after GLOG_minloglevel, which Caffe reads on import
    from digitsdata import digits_split  # noqa: PLC0415 - needs HERE on sys.path

    caffe.set_mode_cpu()
    base_weights, finetuned_weights = out_dir / "base.caffemodel", out_dir / "finetuned.caffemodel"

    base = caffe.SGDSolver("base_solver.prototxt")
    base_losses = train(base, args.base_iterations, "base")
    base.net.save(str(base_weights))
    base_accuracy = test_accuracy(base.net, "fc_digits", *digits_split("test", BASE_DIGITS))

    finetune = caffe.SGDSolver("finetune_solver.prototxt")
    finetune.net.copy_from(str(base_weights))
    new_accuracy_before = test_accuracy(finetune.net, "fc_new", *digits_split("test", NEW_DIGITS))
    finetune_losses = train(finetune, args.iterations, "finetune")
    finetune.net.save(str(finetuned_weights))
    new_accuracy = test_accuracy(finetune.net, "fc_new", *digits_split("test", NEW_DIGITS))
    frozen_unchanged = all(
        np.array_equal(base.net.params[name][i].data, finetune.net.params[name][i].data)
        for name in FROZEN_LAYERS for i in range(2))

    metrics = {
        "sample": "finetune",
        "base_iterations": args.base_iterations,
        "iterations": args.iterations,
        "base_loss_first": float(np.mean(base_losses[:LOSS_WINDOW])),
        "base_loss_last": float(np.mean(base_losses[-LOSS_WINDOW:])),
        "finetune_loss_first": float(np.mean(finetune_losses[:LOSS_WINDOW])),
        "finetune_loss_last": float(np.mean(finetune_losses[-LOSS_WINDOW:])),
        "base_accuracy": base_accuracy,
        "new_accuracy_before_finetune": new_accuracy_before,
        "new_accuracy": new_accuracy,
        "chance": 1.0 / len(NEW_DIGITS),
        "frozen_layers_unchanged": frozen_unchanged,
        "base_weights": str(base_weights),
        "finetuned_weights": str(finetuned_weights),
    }
    print(f"loss, mean of first and last {LOSS_WINDOW} iterations: base {metrics['base_loss_first']:.4f} -> "
          f"{metrics['base_loss_last']:.4f}, fine-tuning {metrics['finetune_loss_first']:.4f} -> "
          f"{metrics['finetune_loss_last']:.4f}")
    print(f"base net, digits 0-4, held-out accuracy: {base_accuracy:.4f}")
    print(f"fine-tuned net, digits 5-9, held-out accuracy: {new_accuracy:.4f} "
          f"(before fine-tuning {new_accuracy_before:.4f}, chance {metrics['chance']:.2f})")
    print(f"frozen layers {', '.join(FROZEN_LAYERS)} unchanged by fine-tuning: {frozen_unchanged}")
    print(json.dumps(metrics))
    return 0


if __name__ == "__main__":
    sys.exit(main())
