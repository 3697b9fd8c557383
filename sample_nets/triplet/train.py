"""Train the triplet-loss digits embedding with pycaffe, then measure it against raw pixels.

How: caffe.SGDSolver runs solver.prototxt (train.prototxt: the digits data layer, three
InnerProducts up to the 32-d "fc9_1" embedding, then the Python triplet_select and tripletloss
layers) one step at a time, recording the triplet loss; the weights go to --out. The deploy
net (deploy.prototxt + those weights) then embeds the held-out test digits and the training
digits, and each test digit is classified by its nearest training digit (1-NN), in the
embedding (L2-normalised, as the loss sees it) and, for reference, on raw pixels. Two galleries:
the whole training split, and one random training digit per class (averaged over 20 draws),
where a good embedding matters most.

The last line printed is JSON with every number, for scripts and tests to read.

    python sample_nets/triplet/train.py --iterations 1000 --out build/triplet_digits.caffemodel
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ONE_SHOT_DRAWS = 20


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=1000, help="SGD iterations (default 1000)")
    parser.add_argument("--out", default=str(HERE / "build" / "triplet_digits.caffemodel"),
                        help="where to write the trained weights (default sample_nets/triplet/build/)")
    return parser.parse_args(argv)


def embed(net, images: np.ndarray) -> np.ndarray:
    """The deploy net's fc9_1 rows for a stack of N x 1 x 8 x 8 images, L2-normalised."""
    net.blobs["data"].reshape(*images.shape)
    net.blobs["data"].data[...] = images
    net.forward()
    rows = net.blobs["fc9_1"].data.astype(np.float64)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True).clip(1e-12)


def nearest_neighbour_accuracy(gallery, gallery_labels, queries, query_labels) -> float:
    """The share of queries whose nearest gallery row (Euclidean) carries their label."""
    distances = (np.sum(queries ** 2, axis=1)[:, None] - 2.0 * queries @ gallery.T
                 + np.sum(gallery ** 2, axis=1)[None, :])
    return float(np.mean(gallery_labels[np.argmin(distances, axis=1)] == query_labels))


def one_shot_accuracy(gallery, gallery_labels, queries, query_labels) -> float:
    """1-NN accuracy with one random gallery row per class, averaged over seeded draws."""
    rng = np.random.RandomState(0)
    classes = np.unique(gallery_labels)
    scores = []
    for _ in range(ONE_SHOT_DRAWS):
        picks = np.array([rng.choice(np.flatnonzero(gallery_labels == c)) for c in classes])
        scores.append(nearest_neighbour_accuracy(gallery[picks], gallery_labels[picks], queries, query_labels))
    return float(np.mean(scores))


def main(argv=None) -> int:
    args = parse_args(argv)
    out = Path(args.out).resolve()
    os.environ.setdefault("GLOG_minloglevel", "2")
    sys.path.insert(0, str(HERE))  # Caffe imports python_param modules with a plain import
    os.chdir(HERE)  # solver.prototxt names train.prototxt relative to this folder
    import caffe  # noqa: PLC0415 - after GLOG_minloglevel, which Caffe reads on import
    from digitsdata import digits_split  # noqa: PLC0415 - needs HERE on sys.path

    caffe.set_mode_cpu()
    solver = caffe.SGDSolver("solver.prototxt")
    losses = []
    for iteration in range(args.iterations):
        solver.step(1)
        losses.append(float(solver.net.blobs["loss"].data[0]))
        if iteration % 100 == 0 or iteration == args.iterations - 1:
            print(f"iteration {iteration:5d}  triplet loss {losses[-1]:.4f}", flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    solver.net.save(str(out))

    deploy = caffe.Net("deploy.prototxt", str(out), caffe.TEST)
    train_images, train_labels = digits_split("train")
    test_images, test_labels = digits_split("test")
    train_embedded, test_embedded = embed(deploy, train_images), embed(deploy, test_images)
    train_pixels, test_pixels = (x.reshape(len(x), -1).astype(np.float64) for x in (train_images, test_images))
    window = max(1, min(50, len(losses) // 4))  # the loss is noisy batch to batch: compare averages
    metrics = {
        "sample": "triplet",
        "iterations": args.iterations,
        "loss_first": float(np.mean(losses[:window])),
        "loss_last": float(np.mean(losses[-window:])),
        "loss_window": window,
        "knn_embedding": nearest_neighbour_accuracy(train_embedded, train_labels, test_embedded, test_labels),
        "knn_pixels": nearest_neighbour_accuracy(train_pixels, train_labels, test_pixels, test_labels),
        "one_shot_embedding": one_shot_accuracy(train_embedded, train_labels, test_embedded, test_labels),
        "one_shot_pixels": one_shot_accuracy(train_pixels, train_labels, test_pixels, test_labels),
        "train_digits": len(train_labels),
        "test_digits": len(test_labels),
        "weights": str(out),
    }
    print(f"triplet loss, mean of first {window} iterations: {metrics['loss_first']:.4f}; "
          f"of last {window}: {metrics['loss_last']:.4f}")
    print(f"1-NN on {len(test_labels)} held-out digits, gallery = {len(train_labels)} training digits: "
          f"embedding {metrics['knn_embedding']:.4f}, raw pixels {metrics['knn_pixels']:.4f}")
    print(f"1-NN, gallery = one training digit per class ({ONE_SHOT_DRAWS} draws): "
          f"embedding {metrics['one_shot_embedding']:.4f}, raw pixels {metrics['one_shot_pixels']:.4f}")
    print(json.dumps(metrics))
    return 0


if __name__ == "__main__":
    sys.exit(main())
