"""The Python layers of a net: as written for a phase (NetSpec), and as Caffe built them (caffe.Net)."""
from __future__ import annotations

from pathlib import Path

import pytest

from conftest import SAMPLE_NETS
from inspector.prototxt import parse_net
from inspector.trace.netinfo import is_python_layer, net_spec, python_layer_specs, python_layers_of

NETS = Path(__file__).resolve().parent / "nets_trace"
TRIPLET = SAMPLE_NETS / "triplet" / "train.prototxt"


def test_python_layer_specs_are_the_phases_python_layers_in_build_order():
    assert [s.name for s in python_layer_specs(TRIPLET, "train")] == ["data", "triplet_select", "tripletloss"]
    assert [s.python.layer for s in python_layer_specs(TRIPLET, "train")] == [
        "DigitsDataLayer", "TripletSelectLayer", "TripletLayer"]


def test_python_layer_specs_follow_include_rules():
    net = parse_net('layer { name: "train_data" type: "Python" top: "x" include { phase: TRAIN }\n'
                    '        python_param { module: "m" layer: "L" } }\n'
                    'layer { name: "test_data" type: "Python" top: "x" include { phase: TEST }\n'
                    '        python_param { module: "m" layer: "L" } }\n'
                    'layer { name: "relu" type: "ReLU" bottom: "x" top: "x" }\n')
    assert [s.name for s in python_layer_specs(net, "train")] == ["train_data"]
    assert [s.name for s in python_layer_specs(net, "TEST")] == ["test_data"]


def test_a_python_param_on_another_type_is_not_a_python_layer():
    net = parse_net('layer { name: "odd" type: "ReLU" bottom: "x" top: "x" python_param { module: "m" } }\n')
    assert not is_python_layer(net.layers[0])
    assert python_layer_specs(net, "train") == []


def test_the_prototxt_is_parsed_once_while_it_is_unchanged(tmp_path):
    path = tmp_path / "net.prototxt"
    path.write_text('layer { name: "a" type: "Python" top: "x" python_param { module: "m" layer: "L" } }\n')
    first = net_spec(path)
    assert net_spec(path) is first and net_spec(Path(str(path))) is first
    path.write_text('layer { name: "b" type: "Python" top: "x" python_param { module: "m" layer: "L" } }\n'
                    'layer { name: "c" type: "ReLU" bottom: "x" top: "x" }\n')
    assert [layer.name for layer in net_spec(path).layers] == ["b", "c"]  # changed: read again
    assert net_spec(first) is first


def test_a_missing_prototxt_is_the_readers_input_error(tmp_path):
    from inspector.errors import InputError

    with pytest.raises(InputError) as caught:
        net_spec(tmp_path / "absent.prototxt")
    assert caught.value.message == f"{tmp_path / 'absent.prototxt'}: no such file."


@pytest.mark.caffe
def test_python_layers_of_a_built_net_have_its_indices_names_and_objects(caffe):
    from inspector.trace.netload import build_net

    net = build_net(NETS / "siamese.prototxt")
    found = python_layers_of(net)
    assert [(p.index, p.name) for p in found] == [(4, "scale"), (5, "loss")]  # Caffe's Split for `data` is 1
    assert [list(net._layer_names)[p.index] for p in found] == ["scale", "loss"]
    assert [type(p.layer).__name__ for p in found] == ["Scale", "PairLoss"]
    assert all(is_python_layer(p.layer) for p in found)
    assert [(index, name) for index, name, _ in found] == [(4, "scale"), (5, "loss")]
