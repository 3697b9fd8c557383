"""The provisioning: Caffe built once into the cache, found again without rebuilding."""
from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from conftest import REPO


@pytest.mark.caffe
def test_install_caffe_reuses_the_cached_build_and_links_pycaffe():
    proc = subprocess.run([str(REPO / "scripts" / "install-caffe"), sys.executable],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "cached build found" in proc.stderr
    pth = Path(sysconfig.get_paths()["purelib"]) / "inspector-caffe.pth"
    python_dir = Path(pth.read_text().strip())
    assert (python_dir / "caffe" / "_caffe.so").exists()
    assert (python_dir.parent / "build" / "tools" / "caffe").exists()


def test_provisioned_tree_keeps_the_whole_caffe_source(caffe_root):
    for rel in ("include/caffe/layers/python_layer.hpp", "src/caffe/layer_factory.cpp",
                "python/caffe/_caffe.cpp", "python/draw_net.py", "examples", "models"):
        assert (caffe_root / rel).exists(), rel


@pytest.mark.caffe
def test_pycaffe_runs_a_net_with_a_python_layer(caffe, tmp_path):
    (tmp_path / "doubler.py").write_text(
        "import caffe\n"
        "class Doubler(caffe.Layer):\n"
        "    def setup(self, bottom, top): pass\n"
        "    def reshape(self, bottom, top): top[0].reshape(*bottom[0].data.shape)\n"
        "    def forward(self, bottom, top): top[0].data[...] = 2 * bottom[0].data\n"
        "    def backward(self, top, propagate_down, bottom): bottom[0].diff[...] = 2 * top[0].diff\n")
    net_file = tmp_path / "net.prototxt"
    net_file.write_text(
        'force_backward: true\n'
        'layer { name: "data" type: "Input" top: "x" input_param { shape { dim: 2 dim: 3 } } }\n'
        'layer { name: "double" type: "Python" bottom: "x" top: "y"'
        ' python_param { module: "doubler" layer: "Doubler" } }\n')
    sys.path.insert(0, str(tmp_path))
    try:
        net = caffe.Net(str(net_file), caffe.TRAIN)
    finally:
        sys.path.remove(str(tmp_path))
    net.blobs["x"].data[...] = 1.5
    net.forward()
    assert (net.blobs["y"].data == 3.0).all()
    net.blobs["y"].diff[...] = 1.0
    net.backward()
    assert (net.blobs["x"].diff == 2.0).all()
    assert type(net.layers[1]).__name__ == "Doubler"
