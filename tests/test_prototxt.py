"""The tolerant prototxt reader: text format, the NetSpec view, phase rules, V1 and fork nets."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from inspector.errors import InputError
from inspector.prototxt import (
    Ident,
    TextFormatError,
    parse_net,
    parse_text,
    read_net,
    read_v1_layer_types,
)
from inspector.prototxt.net import _V1_TYPES_FALLBACK

NETS = Path(__file__).parent / "nets_static"


def test_text_format_accepts_both_block_spellings_lists_separators_and_comments():
    message = parse_text("""
        # comment
        shape: { dim: 1 dim: 3 }   shape { dim: 2 };
        ratio: [2.0, 3.0], flag: true
        angle < x: 1 >
    """)
    assert [s.get_all("dim") for s in message.get_all("shape")] == [[1, 3], [2]]
    assert message.get_all("ratio") == [2.0, 3.0]
    assert message.get("flag") == "true" and isinstance(message.get("flag"), Ident)
    assert message.get("angle").get("x") == 1


def test_strings_take_both_quotes_escapes_and_adjacent_concatenation():
    message = parse_text(r"""a: 'it\'s' b: "x" 'y' "z" c: "tab\there" d: "caf\303\251" """)
    assert message.get("a") == "it's"
    assert message.get("b") == "xyz"
    assert message.get("c") == "tab\there"
    assert message.get("d") == "café"


def test_numbers_read_as_int_float_hex_and_infinity():
    message = parse_text("a: 3 b: -2.5e-3 c: 0x1F d: 1.5f e: -inf")
    assert message.get("a") == 3 and isinstance(message.get("a"), int)
    assert message.get("b") == -0.0025
    assert message.get("c") == 31
    assert message.get("d") == 1.5
    assert message.get("e") == float("-inf")


@pytest.mark.parametrize("text, line, col, near", [
    ('layer {\n  name: "a"\n  top "a"\n}', 3, 7, '"a"'),
    ('layer {\n  name: "a"\n', 3, 1, ""),
    ("name: 'unclosed\nlayer {}", 1, 7, "'unclosed"),
    ("layer { top: 'a' } }", 1, 20, "}"),
    ("a: @", 1, 4, "@"),
])
def test_syntax_errors_name_file_line_column_and_token(text, line, col, near):
    with pytest.raises(TextFormatError) as info:
        parse_text(text, "net.prototxt")
    error = info.value
    assert (error.line, error.col, error.near) == (line, col, near)
    assert error.message.startswith(f"net.prototxt:{line}:{col}: expected ")
    assert error.remedy and isinstance(error, InputError) and error.exit_code == 2


def test_syntax_error_in_file_reports_its_path():
    with pytest.raises(TextFormatError) as info:
        read_net(NETS / "syntax_error.prototxt")
    assert str(NETS / "syntax_error.prototxt") + ":6:7: expected ':' or '{' after field 'top' near '\"conv1\"'" \
        == info.value.message


def test_missing_file_is_an_input_error():
    with pytest.raises(InputError, match="no such file"):
        read_net(NETS / "absent.prototxt")


def test_layer_fields_bottoms_tops_params_and_lines():
    net = read_net(NETS / "shared_and_frozen.prototxt")
    fc_a = net.layer("fc_a")
    assert (fc_a.type, fc_a.bottoms, fc_a.tops, fc_a.line) == ("InnerProduct", ["a0"], ["fa"], 6)
    assert [(p.name, p.lr_mult, p.decay_mult) for p in fc_a.params] == [("w", 1.0, 1.0), ("bias", 2.0, 1.0)]
    assert net.layer("frozen_fc").frozen and not fc_a.frozen
    assert net.layer("loss").effective_loss_weights == [0.5]


def test_loss_layers_get_caffes_default_loss_weight_of_one():
    net = parse_net('layer { name: "l" type: "SoftmaxWithLoss" bottom: "a" bottom: "b" top: "loss" }')
    assert net.layers[0].is_loss and net.layers[0].effective_loss_weights == [1.0]


def test_inputs_from_input_shape_input_dim_and_input_layers():
    fork = read_net(NETS / "fork_roi.prototxt")
    assert [(i.name, i.shape) for i in fork.inputs] == [("data", [1, 3, 224, 224]), ("im_info", [1, 3])]
    v1 = read_net(NETS / "v1_lenet.prototxt")
    assert [(i.name, i.shape) for i in v1.inputs] == [("data", [64, 1, 28, 28])]
    layer_inputs = read_net(NETS / "shared_and_frozen.prototxt")
    assert [(i.name, i.shape, i.layer) for i in layer_inputs.inputs] == [("a", [8, 16], "data"), ("b", [8, 16], "data")]


def test_fork_layer_types_and_unknown_param_blocks_are_kept():
    net = read_net(NETS / "fork_roi.prototxt")
    roi = net.layer("roi_pool5")
    assert roi.type == "ROIPooling"
    assert roi.param_block()["roi_pooling_param"].get("spatial_scale") == 0.0625
    prior = net.layer("conv1_mbox_priorbox").message.get("prior_box_param")
    assert prior.get_all("aspect_ratio") == [2.0, 3.0] and prior.get_all("variance") == [0.1, 0.1, 0.2, 0.2]


def test_python_layer_module_class_and_param_str():
    python = read_net(NETS / "fork_roi.prototxt").layer("rpn-data").python
    assert (python.module, python.layer, python.param_str) == ("rpn.proposal_layer", "ProposalLayer", "'feat_stride': 16")
    assert python.label == "rpn.proposal_layer.ProposalLayer"


def test_python_param_string_spelling_of_forks_is_read():
    net = parse_net('layer { name: "p" type: "Python" top: "t" '
                    'python_param { module: "m" layer: "L" param_string: "x=1" } }')
    assert net.layers[0].python.param_str == "x=1"


def test_v1_enum_types_map_to_v2_names_with_blobs_lr_and_param_names():
    net = read_net(NETS / "v1_lenet.prototxt")
    assert net.v1
    assert [l.type for l in net.layers] == ["Convolution", "Pooling", "InnerProduct", "ReLU", "SoftmaxWithLoss"]
    conv = net.layer("conv1")
    assert [(p.name, p.lr_mult, p.decay_mult) for p in conv.params] == [("conv1_w", 1.0, 1.0), ("conv1_b", 2.0, 0.0)]
    assert net.layer("ip1").frozen


def test_v1_type_table_matches_caffes_upgrade_proto(caffe_root):
    table = read_v1_layer_types(caffe_root / "src" / "caffe" / "util" / "upgrade_proto.cpp")
    assert table == _V1_TYPES_FALLBACK


def test_phase_filter_follows_caffes_filternet(caffe_root):
    net = read_net(caffe_root / "examples" / "mnist" / "lenet_train_test.prototxt")
    test_layers = net.layers_for("test")
    assert [l.name for l in test_layers].count("mnist") == 1 and "accuracy" in [l.name for l in test_layers]
    assert [l.name for l in net.dropped_for("TRAIN")] == ["mnist", "accuracy"]
    assert test_layers[0].include[0].phase == "TEST"


def test_stage_and_not_stage_rules():
    net = read_net(NETS / "shared_and_frozen.prototxt")
    assert "debug_only" not in [l.name for l in net.layers_for("TRAIN")]
    assert "debug_only" in [l.name for l in net.layers_for("TRAIN", stages=["debug"])]
    assert "debug_only" not in [l.name for l in net.layers_for("TEST", stages=["debug"])]
    assert "not_in_deploy" not in [l.name for l in net.layers_for("TEST", stages=["deploy"])]


def test_level_rules():
    net = parse_net('layer { name: "deep" type: "ReLU" bottom: "a" top: "a" include { min_level: 2 } }')
    assert net.layers_for("TRAIN", level=1) == [] and len(net.layers_for("TRAIN", level=2)) == 1


def test_every_prototxt_in_caffes_examples_and_models_reads(caffe_root):
    files = sorted(p for folder in ("examples", "models") for p in (caffe_root / folder).glob("**/*.prototxt"))
    assert len(files) > 40
    for path in files:
        net = read_net(path)
        assert net.layers or net.is_solver, path


# ---- what Caffe's parser refuses is a syntax or value error at FILE:LINE:COL, never a crash ----
@pytest.mark.parametrize("text, where, says", [
    ('input: "x"\ninput_shape { dim: 1e400 }', "2:15", "field 'dim' expects an integer, not inf"),
    ('input: "x"\ninput_shape { dim { } }', "2:15", "field 'dim' expects an integer, not a block { ... }"),
    ('input: "x"\ninput_shape { dim: "3" }', "2:15", "field 'dim' expects an integer, not '3'"),
    ('input: "x"\ninput_shape { dim: 2.5 }', "2:15", "field 'dim' expects an integer, not 2.5"),
    ('input: "x"\ninput_dim: ' + "9" * 5000, "2:12", "number too long (5000 characters)"),
    ('layer { name: "a" type: "ReLU" loss_weight: "heavy" }', "1:32", "field 'loss_weight' expects a number"),
    ('layer { name: "a" include { phase: TRAIN min_level: LOW } }', "1:42", "field 'min_level' expects an integer"),
    ('layer { name: "a\\xZZ" }', "1:17", "invalid escape '\\x' in a string"),
    ('layer { name: "C:\\data" }', "1:18", "invalid escape '\\d' in a string"),
    ('layer { name: "\\U00110000" }', "1:16", "invalid escape '\\U00110000'"),
])
def test_values_caffe_refuses_are_errors_with_file_line_col(text, where, says):
    with pytest.raises(TextFormatError) as error:
        parse_net(text)
    assert error.value.message.startswith(f"<text>:{where}: ")
    assert says in error.value.message


def test_nesting_deeper_than_protobufs_limit_is_an_error_at_the_brace():
    with pytest.raises(TextFormatError, match=r"<text>:1:\d+: blocks nested deeper than 100 levels"):
        parse_text("a {" * 500 + "}" * 500)
    assert parse_text("a {" * 100 + "}" * 100).get("a") is not None  # protobuf's own limit is fine


def test_unicode_and_byte_escapes_spell_utf8_text():
    message = parse_text('a: "\\u00e9" b: "\\303\\251" c: "\\xc3\\xa9" d: "\\U0001F600" e: "\\xff"')
    assert [message.get(k) for k in "abcd"] == ["é", "é", "é", "\N{GRINNING FACE}"]
    assert message.get("e") == "\\xff"  # not UTF-8: kept visible, not dropped


def test_a_non_utf8_prototxt_is_an_error_at_the_bad_byte(tmp_path):
    net = tmp_path / "latin1.prototxt"
    net.write_bytes(b'name: "n"\nlayer { name: "caf\xe9" }\n')
    with pytest.raises(TextFormatError, match=r"latin1.prototxt:2:19: byte 0xe9 is not UTF-8 text"):
        read_net(net)


def test_a_binary_file_is_refused_as_not_a_prototxt(tmp_path):
    model = tmp_path / "weights.caffemodel"
    model.write_bytes(b"\n\x05LeNet\x12\x00\x1a\x03\x00\x01")
    with pytest.raises(TextFormatError, match=r"weights.caffemodel:2:\d+: a NUL byte: this is a binary file"):
        read_net(model)


def test_a_lone_cr_inside_a_comment_stays_in_the_comment_as_caffe_reads_it(tmp_path):
    net = tmp_path / "cr.prototxt"
    net.write_bytes(b'name: "n" # old Mac line end\rlayer {\nlayer { name: "r" type: "ReLU" bottom: "d" top: "d" }\n')
    spec = read_net(net)
    assert [layer.name for layer in spec.layers] == ["r"] and spec.layers[0].line == 2


def test_crlf_line_ends_read_as_newlines(tmp_path):
    net = tmp_path / "crlf.prototxt"
    net.write_bytes(b'name: "n"\r\nlayer { name: "r"\r\n type: "ReLU" }\r\n')
    assert read_net(net).layers[0].type == "ReLU"


@pytest.mark.parametrize("special", ["fifo", "/dev/zero"])
def test_a_fifo_or_device_as_the_net_is_refused_not_read_forever(tmp_path, special):
    path = Path(special)
    if special == "fifo":
        path = tmp_path / "net.prototxt"
        os.mkfifo(path)
    with pytest.raises(InputError, match="is not a regular file"):
        read_net(path)
