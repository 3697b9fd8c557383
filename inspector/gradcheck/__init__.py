"""inspector gradcheck: a layer's backward against central differences, on the net's own data.

How, in passes (Caffe's GradientChecker, include/caffe/test/test_gradient_check_util.hpp,
applied to one layer of a real net):

1. Build the net (trace.netload.build_net) and run it forward up to and including the layer, so
   its bottoms hold exactly what the net feeds it (a later in-place layer could overwrite them).
2. Work on the layer alone, on the net's own bottom/top blobs. A Python layer is driven through
   the user's object (`net.layers[i]`): reshape + forward, backward with a propagate_down of our
   choosing. A C++ layer goes through `net._forward(i, i)` / `net._backward(i, i)`, where Caffe
   decides propagate_down. Before every forward the bottoms are rewritten from a saved copy and
   numpy, `random` and Caffe are reseeded, as Caffe's checker reseeds, so layers that draw
   random numbers repeat themselves.
3. The objective is sum(top_data * top_diff) with a seeded random top diff, or, on a loss top,
   1.5 times its loss weight (Caffe puts the loss weight in a loss top's diff; a diff other than 1
   makes a backward that ignores top[0].diff fail). Backward gives the analytic gradient.
4. Which bottoms take a gradient, by this rule (the others are reported as skipped, with why):
   - `propagate_down: false` in the prototxt;
   - the backward raises when asked for it (it is retried without that bottom, last first);
     an error raised in inspector's own code is never put down to the backward;
   - it holds only whole numbers and its gradient is all zero, or its diff is left untouched
     (a sentinel survives): a label; for a C++ layer, an untouched diff means the net does not
     backpropagate into it.
   A Python layer's bottom of other values whose diff the backward leaves untouched is checked
   with a zero analytic gradient: to Caffe that is the gradient it gave, so `def backward(...):
   pass` fails against the numeric gradient.
   The layer's own blobs (self.blobs, a C++ layer's weights) are checked unless the backward
   leaves their diff untouched (for a C++ layer: lr_mult 0, or no loss above it).
5. Central differences on K sampled elements per blob (all of a small blob; seeded), divided by
   the step actually taken in float32. Caffe's rule: |analytic - numeric| <=
   threshold * max(|analytic|, |numeric|, 1).
6. Kinks. A perturbation can flip a discrete choice (which triplet is selected, which hinge is
   active) or cross a non-smooth point (|x| at 0). Instead of Caffe's fixed kink window:
   - a Python layer's discrete choices are its integer and boolean arrays after forward (index
     lists, masks, in its attributes); where a perturbation changes them, or changes a top's
     shape, the step is shrunk (x0.1, x0.01) until the choices hold; an element whose choices
     flip even then is a kink;
   - an element that fails the rule is a kink when the analytic gradient matches one of the two
     one-sided differences (the side that kept the structure); a wrong gradient matches neither.
   Kinks are counted and listed, not counted as failures.
7. Every blob's data and diff, and the layer's state, are restored (a last forward on the
   original inputs, then the saved arrays written back).

`gradcheck()` runs passes 1-7 in a child process (child.py, a job of the one child-process runner,
trace.childrun), since a failed CHECK in Caffe ends the process it runs in. The child sends what it is
doing as "stage" events and the report as JSON; the parent rebuilds the report, or, when the child dies,
raises GradcheckCrash naming the stage, Caffe's "Check failed" line or the layer's traceback.
`check_layer()` is the same check in-process, on a net the caller built.

The modules: report (ElementCheck, BlobCheck, GradcheckReport and its text view), checker (the layer
drivers, the Checker and one function a pass: blob_checks, find_written_diffs, analytic_gradients,
numeric_pass, verdict), api (gradcheck, check_in_net, check_layer), crash (GradcheckCrash, from the
runner's crash report) and child (the child's job).
"""
from __future__ import annotations

from .api import check_in_net, check_layer, gradcheck
from .crash import GradcheckCrash
from .report import BlobCheck, ElementCheck, GradcheckReport

__all__ = ["BlobCheck", "ElementCheck", "GradcheckCrash", "GradcheckReport", "check_in_net", "check_layer",
           "gradcheck"]
