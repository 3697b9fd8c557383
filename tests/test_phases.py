"""One phase type: the names a user gives, caffe.proto's spelling, pycaffe's constants, one "unknown phase" error."""
from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_cli
from inspector.errors import EXIT_BAD_INPUT, InputError
from inspector.phases import Phase, parse_phase, prototxt_phase_name
from inspector.prototxt import parse_net

NETS = Path(__file__).resolve().parent / "nets_trace"


@pytest.mark.parametrize(("text", "phase"), [("train", Phase.TRAIN), ("TEST", Phase.TEST), ("Train", Phase.TRAIN),
                                             (Phase.TEST, Phase.TEST)])
def test_a_phase_is_named_in_any_case(text, phase):
    assert parse_phase(text) is phase


def test_a_phase_is_the_string_configs_and_reports_hold():
    assert parse_phase("TEST") == "test"
    assert f"{Phase.TRAIN} phase" == "train phase"
    assert str(Phase.TEST) == "test"


@pytest.mark.parametrize("text", ["val", "", "all", "TRAINING"])
def test_an_unknown_phase_is_one_input_error_naming_the_choices(text):
    with pytest.raises(InputError) as caught:
        parse_phase(text)
    assert (caught.value.message, caught.value.remedy) == (f"unknown phase '{text}'.", "Use --phase train or test.")
    assert caught.value.exit_code == EXIT_BAD_INPUT


def test_all_is_a_phase_only_where_allowed():
    assert parse_phase("ALL", allow_all=True) is Phase.ALL
    with pytest.raises(InputError) as caught:
        parse_phase(Phase.ALL)
    assert caught.value.message == "unknown phase 'all'."
    with pytest.raises(InputError) as caught:
        parse_phase("val", allow_all=True)
    assert caught.value.remedy == "Use --phase train, test or all."


def test_caffe_proto_spells_phases_in_capitals():
    assert (Phase.TRAIN.prototxt, Phase.TEST.prototxt, Phase.ALL.prototxt) == ("TRAIN", "TEST", "ALL")
    assert [prototxt_phase_name(v) for v in ("TEST", "train", 0, 1)] == ["TEST", "TRAIN", "TRAIN", "TEST"]


def test_the_other_phase_is_the_one_caffe_builds_instead():
    assert (Phase.TRAIN.other, Phase.TEST.other) == (Phase.TEST, Phase.TRAIN)


def test_layers_for_takes_a_phase_in_any_spelling():
    net = parse_net('layer { name: "a" type: "ReLU" include { phase: TEST } }\n'
                    'layer { name: "b" type: "ReLU" include { phase: 0 } }\n')
    assert [layer.name for layer in net.layers_for(Phase.TEST)] == ["a"]
    assert [layer.name for layer in net.layers_for("train")] == ["b"]


def test_graph_refuses_an_unknown_phase_with_the_same_message():
    from inspector.graph import graph_net

    with pytest.raises(InputError) as caught:
        graph_net(NETS / "siamese.prototxt", phase="val")
    assert (caught.value.message, caught.value.remedy) == ("unknown phase 'val'.", "Use --phase train, test or all.")


@pytest.mark.parametrize("command", [["trace"], ["gradcheck", "--layer", "scale"], ["graph"]])
def test_cli_phase_choices_stay_as_they_were(command):
    result = run_cli(*command, NETS / "siamese.prototxt", "--phase", "val")
    assert result.returncode == EXIT_BAD_INPUT
    assert "'val' is not one of 'train', 'test'" in result.stderr


@pytest.mark.caffe
def test_a_phase_is_pycaffes_constant_for_caffe_net(caffe):
    assert (Phase.TRAIN.caffe_constant(caffe), Phase.TEST.caffe_constant(caffe)) == (caffe.TRAIN, caffe.TEST)


@pytest.mark.caffe
def test_build_net_refuses_an_unknown_phase_before_building(caffe):
    from inspector.trace.netload import build_net

    with pytest.raises(InputError) as caught:
        build_net(NETS / "siamese.prototxt", phase="val")
    assert (caught.value.message, caught.value.remedy) == ("unknown phase 'val'.", "Use --phase train or test.")


@pytest.mark.caffe
def test_build_net_builds_in_the_phase_named_in_any_case(caffe, tmp_path):
    from inspector.trace.netload import build_net

    net_file = tmp_path / "phased.prototxt"
    net_file.write_text('layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 2 } } }\n'
                        'layer { name: "test_only" type: "ReLU" bottom: "data" top: "out" include { phase: TEST } }\n')
    assert list(build_net(net_file, phase="TEST")._layer_names) == ["data", "test_only"]
    assert list(build_net(net_file, phase=Phase.TRAIN)._layer_names) == ["data"]
