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


def test_setitem_with_repeated_indices_gives_the_gradient_to_the_value_kept():
    # out[[0, 0]] = [a, b] keeps b (numpy's last write): d out / d a = 0. PyTorch calls the
    # result undefined and hands both a and b the gradient of out[0].
    x = t64(np.zeros(3))
    v = t64([3.0, 5.0], True)
    x[[0, 0, 2]] = engine.cat([v, t64([7.0])])
    np.testing.assert_array_equal(x.data, [5.0, 0.0, 7.0])
    (x * t64([2.0, 1.0, 1.0])).sum().backward()
    np.testing.assert_array_equal(v.grad.data, [0.0, 2.0])
    # a broadcast value written twice: each of its entries reaches out once per kept row
    row = t64([1.0, 2.0], True)
    y = t64(np.zeros((3, 2)))
    y[[0, 2, 0]] = row
    y.sum().backward()
    np.testing.assert_array_equal(row.grad.data, [2.0, 2.0])

    def f(v):
        z = t64(np.zeros((3, 2)))
        z[[1, 0, 1, 1]] = v
        return z * t64(np.arange(6.0).reshape(3, 2))
    assert engine.gradcheck(f, t64(np.random.default_rng(0).standard_normal((4, 2)), True))
