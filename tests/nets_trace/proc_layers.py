"""Python layers for the child-process tests: a layer that hangs, one that ends the process, one whose loss is NaN.

PROC_LAYERS_PID_FILE, when set, names a file the hanging layer writes its process id to as it starts
hanging, so that a test knows the child is inside that layer's forward before it sends a signal.
"""
import math
import os
import time

import numpy as np

import caffe

HANG_SECONDS = 600  # long past any test's patience, short enough that a stray process ends on its own


class Identity(caffe.Layer):
    """Correct: top = bottom."""

    def setup(self, bottom, top):
        pass

    def reshape(self, bottom, top):
        top[0].reshape(*bottom[0].data.shape)

    def forward(self, bottom, top):
        top[0].data[...] = bottom[0].data

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            bottom[0].diff[...] = top[0].diff


class HangsInForward(Identity):
    """Hangs in forward (sleeps), as a layer waiting on a lock or a queue does."""

    def forward(self, bottom, top):
        pid_file = os.environ.get("PROC_LAYERS_PID_FILE")
        if pid_file:
            with open(pid_file + ".part", "w") as handle:
                handle.write(str(os.getpid()))
            os.replace(pid_file + ".part", pid_file)
        time.sleep(HANG_SECONDS)
        top[0].data[...] = bottom[0].data


class ExitsInForward(Identity):
    """Ends the whole process with exit code 0 from forward, as a stray os._exit(0) does."""

    def forward(self, bottom, top):
        os._exit(0)


class NanLoss(caffe.Layer):
    """A loss whose value is NaN (the mean of an empty selection), for the strict JSON of the event stream."""

    def setup(self, bottom, top):
        pass

    def reshape(self, bottom, top):
        top[0].reshape(1)

    def forward(self, bottom, top):
        top[0].data[0] = math.nan

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            bottom[0].diff[...] = np.zeros_like(bottom[0].data)
