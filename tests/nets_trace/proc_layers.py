"""Python layers for the child-process tests: a layer that hangs, one that ends the process, one whose loss is NaN.

PROC_LAYERS_PID_FILE, when set, names a file the hanging layer writes its process id to as it starts
hanging, so that a test knows the child is inside that layer's forward before it sends a signal.
The nets put no loss above these layers, so Caffe never calls their backward.
"""
import math
import os
import time

import caffe
from tracetestlayers import SquareLoss

HANG_SECONDS = 600  # long past any test's patience, short enough that a stray process ends on its own


class HangsInForward(caffe.Layer):
    """Hangs in forward (sleeps), as a layer waiting on a lock or a queue does."""

    def setup(self, bottom, top):
        pass

    def reshape(self, bottom, top):
        top[0].reshape(*bottom[0].data.shape)

    def forward(self, bottom, top):
        pid_file = os.environ.get("PROC_LAYERS_PID_FILE")
        if pid_file:
            with open(pid_file + ".part", "w") as handle:
                handle.write(str(os.getpid()))
            os.replace(pid_file + ".part", pid_file)
        time.sleep(HANG_SECONDS)


class ExitsInForward(HangsInForward):
    """Ends the whole process with exit code 0 from forward, as a stray os._exit(0) does."""

    def forward(self, bottom, top):
        os._exit(0)


class NanLoss(SquareLoss):
    """A loss whose value is NaN, for the strict JSON of the event stream."""

    def forward(self, bottom, top):
        top[0].data[0] = math.nan
