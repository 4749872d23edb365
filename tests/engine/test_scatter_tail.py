"""PyTorch's indexing/scatter long tail: scatter_reduce, index_put, index_copy, masked_scatter,
take_along_dim, put, unique_consecutive, nanmedian, msort, renorm and their in-place forms.
Against numpy references (loops written independently of the ops), gradcheck in float64
(hypothesis), and torch (values and gradients) where installed; bad input must fail naming
the op."""
import numpy as np
import pytest

import engine

F64 = np.float64


def t64(a, grad=False):
    return engine.tensor(np.asarray(a, F64), dtype=F64, requires_grad=grad)


# --------------------------------------------------------------- the in-place machinery
def test_inplace_method_records_when_only_an_argument_requires_grad():
    # x does not require grad, y does: the write must be recorded (PyTorch's x.lerp_(y, w)
    # makes x require grad), not done under no_grad with y's gradient silently lost.
    y, w = t64([3.0, 5.0], True), t64([0.25, 0.5], True)
    x = t64([1.0, 2.0])
    assert x.lerp_(y, 0.5) is x and x.requires_grad
    (x * t64([1.0, 10.0])).sum().backward()
    np.testing.assert_array_equal(y.grad.data, [0.5, 5.0])  # d lerp / d end = weight
    x = t64([1.0, 2.0])
    x.lerp_(y, weight=w)  # a tensor passed by keyword is seen too
    x.sum().backward()
    np.testing.assert_array_equal(w.grad.data, [2.0, 3.0])  # end − start
