"""python_param module "digitsdata" for the finetune sample: the shared DigitsDataLayer.

Caffe imports the module a prototxt names with a plain import, from sys.path, where this folder
is (train.py and `inspector trace` put the prototxt's folder there); the layer itself lives in
sample_nets/common/digits_layer.py, shared by both samples.
"""
import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent.parent / "common"))
from digits_layer import DigitsDataLayer, digits_split  # noqa: E402,F401 - re-exported for Caffe and train.py
