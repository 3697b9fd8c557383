"""The sample nets: their training scripts, their Python layers' gradients and their setup errors.

Everything runs in the real pycaffe. The gradient checks are written here in numpy (central
differences, step 1e-2, Caffe's GradientChecker rule), apart from inspector's own gradcheck.
Small nets for the checks are written to temporary prototxts, fed by Parameter layers (learnable
blobs, so Caffe back-propagates into them and honours propagate_down) and Input layers.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import SAMPLE_NETS

pytestmark = pytest.mark.caffe  # every test here runs a net in pycaffe

TRIPLET = SAMPLE_NETS / "triplet"
FINETUNE = SAMPLE_NETS / "finetune"
STEP = 1e-2
LOSS_WEIGHT = 2.5
MARGIN = 0.2


# --- helpers ---------------------------------------------------------------------------------

def run_sample_script(script, *args, cwd):
    """Run a training script as a user would; its exit code and the JSON of its last line."""
    env = dict(os.environ, GLOG_minloglevel="2", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, str(script), *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def parameter_layer(name, *dims):
    shape = " ".join(f"dim: {d}" for d in dims)
    return f'layer {{ name: "{name}" type: "Parameter" top: "{name}" parameter_param {{ shape {{ {shape} }} }} }}\n'


def input_layer(name, *dims):
    shape = " ".join(f"dim: {d}" for d in dims)
    return f'layer {{ name: "{name}" type: "Input" top: "{name}" input_param {{ shape {{ {shape} }} }} }}\n'


def python_layer(name, module, cls, bottoms, tops, param_str="", extra=""):
    links = "".join(f' bottom: "{b}"' for b in bottoms) + "".join(f' top: "{t}"' for t in tops)
    return (f'layer {{ name: "{name}" type: "Python"{links}\n'
            f'  python_param {{ module: "{module}" layer: "{cls}" param_str: {json.dumps(param_str)} }} {extra} }}\n')


LOSS_LAYER = python_layer("tripletloss", "tripletlosslayer", "TripletLayer", ["archor", "positive", "negative"],
                          ["loss"], "'margin': 0.2", f"loss_weight: {LOSS_WEIGHT}")
SELECT_LAYER = python_layer("triplet_select", "tripletselectlayer", "TripletSelectLayer",
                            ["fc9_1", "labels"], ["archor", "positive", "negative"])


@pytest.fixture
def build_net(caffe, tmp_path, monkeypatch):
    """Build a net from prototxt text, with the triplet sample's layer modules importable."""
    monkeypatch.syspath_prepend(str(TRIPLET))

    def build(text):
        path = tmp_path / "net.prototxt"
        path.write_text(text)
        return caffe.Net(str(path), caffe.TRAIN)

    return build


def numeric_gradient(objective, values):
    """Central differences of objective() with respect to each entry of the array `values`."""
    gradient = np.zeros(values.shape)
    for index in np.ndindex(values.shape):
        original = float(values[index])
        values[index] = original + STEP
        above = objective()
        values[index] = original - STEP
        below = objective()
        values[index] = original
        gradient[index] = (above - below) / (2 * STEP)
    return gradient


def assert_gradients_agree(analytic, numeric):
    """Caffe's GradientChecker rule: |analytic - numeric| <= 1e-2 * max(|analytic|, |numeric|, 1)."""
    bound = 1e-2 * np.maximum(np.maximum(np.abs(analytic), np.abs(numeric)), 1.0)
    worst = np.max(np.abs(analytic - numeric) - bound)
    assert worst <= 0, f"analytic {analytic}\nnumeric {numeric}"


def diffs_of_two_backwards(net, param_name):
    """The parameter's diff after one forward and backward, and after a second backward."""
    net.forward()
    net.backward()
    first = net.params[param_name][0].diff.copy()
    net.backward()
    return first, net.params[param_name][0].diff.copy()


def unit_rows(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def triplet_violations(anchor, positive, negative):
    """|a-p|^2 - |a-n|^2 + margin on L2-normalised rows, straight from the definition."""
    a, p, n = unit_rows(anchor), unit_rows(positive), unit_rows(negative)
    return np.sum((a - p) ** 2, axis=1) - np.sum((a - n) ** 2, axis=1) + MARGIN


# --- the triplet loss layer -----------------------------------------------------------------

def seeded_loss_net(build_net, loss_layer):
    """`loss_layer` fed by three learnable 6 x 4 blobs of seeded random rows."""
    net = build_net("".join(parameter_layer(n, 6, 4) for n in ("archor", "positive", "negative")) + loss_layer)
    rng = np.random.RandomState(3)
    for name in ("archor", "positive", "negative"):
        net.params[name][0].data[...] = rng.randn(6, 4)
    return net


@pytest.fixture
def loss_net(build_net):
    """tripletloss with loss_weight 2.5 on seeded random triplets."""
    return seeded_loss_net(build_net, LOSS_LAYER)


def test_triplet_loss_is_mean_hinge_on_normalised_rows(loss_net):
    rows = [loss_net.params[n][0].data.astype(np.float64) for n in ("archor", "positive", "negative")]
    violations = triplet_violations(*rows)
    assert (violations > 0).any() and (violations < 0).any()  # both sides of the hinge are exercised
    loss = loss_net.forward()["loss"]
    assert loss[0] == pytest.approx(np.mean(np.maximum(violations, 0)), rel=1e-5)


def test_triplet_loss_gradients_match_central_differences_with_loss_weight(loss_net):
    loss_net.forward()
    loss_net.backward()
    for name in ("archor", "positive", "negative"):
        analytic = loss_net.params[name][0].diff.astype(np.float64).copy()
        numeric = numeric_gradient(
            lambda: LOSS_WEIGHT * float(loss_net.forward()["loss"][0]), loss_net.params[name][0].data)
        assert np.abs(analytic).max() > 0.01
        assert_gradients_agree(analytic, numeric)


def test_triplet_loss_gradients_are_assigned_not_accumulated(loss_net):
    first, second = diffs_of_two_backwards(loss_net, "archor")
    np.testing.assert_array_equal(second, first)


def test_triplet_loss_honours_propagate_down(build_net):
    layer = LOSS_LAYER.replace("loss_weight", "propagate_down: true propagate_down: false propagate_down: true loss_weight")
    net = seeded_loss_net(build_net, layer)
    net.params["positive"][0].diff[...] = 7.0
    net.forward()
    net.backward()
    assert np.all(net.params["positive"][0].diff == 7.0)
    assert np.abs(net.params["archor"][0].diff).max() > 0


# --- triplet selection ----------------------------------------------------------------------

@pytest.fixture
def select_net(build_net):
    """triplet_select -> tripletloss (loss_weight 2.5) on 9 learnable embeddings, 3 classes x 3."""
    net = build_net(parameter_layer("fc9_1", 9, 3) + input_layer("labels", 9) + SELECT_LAYER + LOSS_LAYER)
    net.params["fc9_1"][0].data[...] = np.random.RandomState(2).randn(9, 3)
    net.blobs["labels"].data[...] = np.repeat([0, 1, 2], 3)
    return net


def test_triplet_select_gradients_match_central_differences_through_the_loss(select_net):
    select_net.forward()
    select_net.backward()
    triplets = [rows.copy() for rows in select_net.layer_dict["triplet_select"].triplets]
    analytic = select_net.params["fc9_1"][0].diff.astype(np.float64).copy()

    def objective():
        loss = float(select_net.forward()["loss"][0])
        # selection is discrete: the data are seeded so that no step changes the chosen triplets
        for held, now in zip(triplets, select_net.layer_dict["triplet_select"].triplets):
            np.testing.assert_array_equal(held, now)
        return LOSS_WEIGHT * loss

    numeric = numeric_gradient(objective, select_net.params["fc9_1"][0].data)
    assert_gradients_agree(analytic, numeric)


def test_triplet_select_backward_scatters_top_diffs_onto_source_rows(select_net):
    select_net.forward()
    select_net.backward()
    triplets = select_net.layer_dict["triplet_select"].triplets
    expected = np.zeros((9, 3))
    for top, rows in zip(("archor", "positive", "negative"), triplets):
        for t, row in enumerate(rows):
            expected[row] += select_net.blobs[top].diff[t]
    assert max(np.bincount(np.concatenate(triplets))) > 1  # some row feeds several triplets
    np.testing.assert_allclose(select_net.params["fc9_1"][0].diff, expected, rtol=1e-5, atol=1e-7)


def test_triplet_select_gradients_are_assigned_not_accumulated(select_net):
    first, second = diffs_of_two_backwards(select_net, "fc9_1")
    np.testing.assert_array_equal(second, first)


def test_triplet_select_gives_labels_no_gradient(build_net):
    net = build_net("force_backward: true\n" + input_layer("fc9_1", 9, 3) + input_layer("labels", 9)
                    + SELECT_LAYER + LOSS_LAYER)
    net.blobs["fc9_1"].data[...] = np.random.RandomState(2).randn(9, 3)
    net.blobs["labels"].data[...] = np.repeat([0, 1, 2], 3)
    net.blobs["labels"].diff[...] = 7.0
    net.forward()
    net.backward()
    assert np.all(net.blobs["labels"].diff == 0)
    assert np.abs(net.blobs["fc9_1"].diff).max() > 0


@pytest.fixture
def circle_batch(build_net):
    """Six embeddings at known angles and lengths; the select layer run once on them."""
    angles = np.radians([0, 30, 35, 20, 180, 170])
    lengths = np.array([1.0, 1.0, 3.0, 0.5, 2.0, 1.0])  # selection must look at directions only
    net = build_net(input_layer("fc9_1", 6, 2) + input_layer("labels", 6) + SELECT_LAYER + LOSS_LAYER)
    net.blobs["fc9_1"].data[...] = np.stack([np.cos(angles), np.sin(angles)], axis=1) * lengths[:, None]
    net.blobs["labels"].data[...] = [0, 0, 1, 1, 2, 2]
    net.forward()
    return net, net.layer_dict["triplet_select"].triplets


def test_triplet_select_prefers_a_semi_hard_negative(circle_batch):
    # anchor 0 at 0 deg, its positive at 30 deg; 35 deg is semi-hard, 20 deg is harder than the positive
    _, (anchors, positives, negatives) = circle_batch
    assert (anchors[0], positives[0], negatives[0]) == (0, 1, 2)


def test_triplet_select_falls_back_to_the_hardest_negative(circle_batch):
    # anchor 4 at 180 deg, positive at 170 deg: every negative is beyond the margin; 35 deg is closest
    _, (anchors, positives, negatives) = circle_batch
    assert (anchors[4], positives[4], negatives[4]) == (4, 5, 2)


def test_triplet_select_copies_unnormalised_rows_to_its_tops(circle_batch):
    net, (anchors, positives, negatives) = circle_batch
    embeddings = net.blobs["fc9_1"].data
    np.testing.assert_array_equal(net.blobs["archor"].data, embeddings[anchors])
    np.testing.assert_array_equal(net.blobs["positive"].data, embeddings[positives])
    np.testing.assert_array_equal(net.blobs["negative"].data, embeddings[negatives])


# --- the digits data layer ------------------------------------------------------------------

def test_digits_data_layer_serves_several_samples_of_each_class(caffe, monkeypatch):
    monkeypatch.syspath_prepend(str(TRIPLET))
    net = caffe.Net(str(TRIPLET / "train.prototxt"), caffe.TRAIN)
    net.forward()
    counts = np.bincount(net.blobs["labels"].data.astype(int), minlength=10)
    assert counts.tolist() == [10] * 10
    assert net.blobs["data"].data.shape == (100, 1, 8, 8)
    assert 0 <= net.blobs["data"].data.min() and net.blobs["data"].data.max() <= 1


# --- setup errors ---------------------------------------------------------------------------

@pytest.mark.parametrize("layer_text, expected", [
    (python_layer("tripletloss", "tripletlosslayer", "TripletLayer", ["archor", "positive"], ["loss"],
                  "'margin': 0.2"),
     ["TripletLayer", "needs 3 bottoms", "got 2"]),
    (python_layer("tripletloss", "tripletlosslayer", "TripletLayer", ["archor", "positive", "negative"], ["loss"],
                  "margin 0.2"),
     ["TripletLayer", "'margin 0.2'", "is not a dict body"]),
    (python_layer("tripletloss", "tripletlosslayer", "TripletLayer", ["archor", "positive", "negative"], ["loss"],
                  "'margin'"),
     ["TripletLayer", "is not a dict body"]),
    (python_layer("tripletloss", "tripletlosslayer", "TripletLayer", ["archor", "positive", "negative"], ["loss"],
                  "'margin': -1"),
     ["TripletLayer", "'margin' must be a positive number"]),
    (python_layer("triplet_select", "tripletselectlayer", "TripletSelectLayer", ["archor"],
                  ["a", "p", "n"]),
     ["TripletSelectLayer", "needs 2 bottoms", "got 1"]),
    (python_layer("data", "digitsdata", "DigitsDataLayer", [], ["data", "labels"], "'split': 'validation'"),
     ["DigitsDataLayer", "split must be 'train' or 'test'"]),
    (python_layer("data", "digitsdata", "DigitsDataLayer", [], ["data", "labels"], "'batch': 32"),
     ["DigitsDataLayer", "unknown keys ['batch']"]),
    (python_layer("data", "digitsdata", "DigitsDataLayer", [], ["data", "labels"], "'samples_per_class': 500"),
     ["DigitsDataLayer", "'samples_per_class' 500 is more than"]),
], ids=["loss-bottom-count", "loss-param-str", "loss-param-str-set", "loss-margin", "select-bottom-count", "data-split", "data-key",
        "data-samples-per-class"])
def test_sample_layer_setup_error_names_the_layer_and_the_problem(build_net, layer_text, expected):
    inputs = "".join(input_layer(n, 4, 3) for n in ("archor", "positive", "negative"))
    with pytest.raises(Exception) as caught:
        build_net(inputs + layer_text)
    for text in expected:
        assert text in str(caught.value)


def test_triplet_loss_rejects_triplet_blobs_of_different_shapes(build_net):
    inputs = input_layer("archor", 4, 3) + input_layer("positive", 5, 3) + input_layer("negative", 4, 3)
    with pytest.raises(Exception) as caught:
        build_net(inputs + LOSS_LAYER)
    assert "TripletLayer" in str(caught.value) and "one shape" in str(caught.value)


# --- training for real ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def triplet_training(caffe, tmp_path_factory):
    out = tmp_path_factory.mktemp("triplet") / "triplet_digits.caffemodel"
    return run_sample_script(TRIPLET / "train.py", "--iterations", 400, "--out", out, cwd=tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def finetune_training(caffe, tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("finetune")
    return run_sample_script(FINETUNE / "train.py", "--base-iterations", 200, "--iterations", 200,
                             "--out-dir", out_dir, cwd=tmp_path_factory.getbasetemp())


def test_triplet_training_lowers_the_loss(triplet_training):
    assert triplet_training["loss_last"] < 0.25 * triplet_training["loss_first"]


def test_triplet_training_writes_the_weights(triplet_training):
    assert os.path.getsize(triplet_training["weights"]) > 0


def test_triplet_embedding_beats_raw_pixels_at_one_shot_nearest_neighbour(triplet_training):
    assert triplet_training["one_shot_embedding"] > triplet_training["one_shot_pixels"] + 0.2
    assert triplet_training["one_shot_embedding"] > 0.9


def test_triplet_embedding_matches_raw_pixels_with_the_full_gallery(triplet_training):
    assert triplet_training["knn_embedding"] >= triplet_training["knn_pixels"] - 0.01


def test_finetune_base_net_learns_digits_0_to_4(finetune_training):
    assert finetune_training["base_accuracy"] > 0.95
    assert finetune_training["base_loss_last"] < 0.25 * finetune_training["base_loss_first"]


def test_finetune_learns_digits_5_to_9_from_the_base_weights(finetune_training):
    assert finetune_training["new_accuracy_before_finetune"] < 0.5  # fc_new starts fresh
    assert finetune_training["new_accuracy"] > 0.85  # chance is 0.2


def test_finetune_leaves_the_frozen_layers_as_the_base_net_made_them(finetune_training):
    assert finetune_training["frozen_layers_unchanged"] is True


def test_finetune_writes_base_and_finetuned_weights(finetune_training):
    assert os.path.getsize(finetune_training["base_weights"]) > 0
    assert os.path.getsize(finetune_training["finetuned_weights"]) > 0
