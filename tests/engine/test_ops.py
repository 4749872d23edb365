"""Every registered op: forward against numpy, gradients against finite differences, errors.

One parametrised file driven by ``engine.registry``; shapes come from hypothesis
(broadcastable for binary ops), values from each op's safe-domain maker, and inputs are
laid out contiguously, in Fortran order or as strided views.
"""
import re

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import engine
from engine.testing import REGISTRY

NAMES = sorted(REGISTRY)


@st.composite
def examples(draw, spec):
    """(arrays as float64, params) for one example of ``spec``, in a random memory layout."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    shapes = None
    if spec.shapes is None:
        if spec.broadcast:
            shapes = draw(hnp.mutually_broadcastable_shapes(
                num_shapes=spec.arity, min_dims=spec.min_dims, max_dims=3, max_side=4)).input_shapes
        else:
            shape = draw(hnp.array_shapes(min_dims=spec.min_dims, max_dims=3, min_side=1,
                                          max_side=4))
            shapes = (shape,) * spec.arity
    arrays, params = spec.sample(rng, shapes)
    layouts = draw(st.lists(st.sampled_from(["c", "f", "strided"]), min_size=len(arrays),
                            max_size=len(arrays)))
    return [relayout(a, how) for a, how in zip(arrays, layouts, strict=True)], params


def relayout(a, how):
    """The same values in another memory layout (what the ops must not care about)."""
    if how == "f" and a.ndim >= 2:
        return np.asfortranarray(a)
    if how == "strided" and a.ndim:
        return np.repeat(a, 2, axis=-1)[..., ::2]
    return a


def tensors(arrays, dtype=np.float64, requires_grad=True):
    """Tensors wrapping the arrays without a copy, so the drawn memory layout reaches the ops."""
    return [engine.from_numpy(np.asarray(a).astype(dtype, copy=False)).requires_grad_(requires_grad)
            for a in arrays]


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_forward_matches_numpy(name, data):
    spec = REGISTRY[name]
    arrays, params = data.draw(examples(spec))
    out = spec.fn(*tensors(arrays, requires_grad=False), **params)
    expected = spec.ref(*arrays, **params)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.data, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", [n for n in NAMES if n != "astype"])
@given(data=st.data())
def test_float32_stays_float32(name, data):
    spec = REGISTRY[name]
    arrays, params = data.draw(examples(spec))
    ts = tensors(arrays, dtype=np.float32)
    out = spec.fn(*ts, **params)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, spec.ref(*arrays, **params), rtol=2e-4, atol=2e-5)
    out.backward(np.ones(out.shape, np.float32))
    for t in ts:
        assert t.grad is None or (t.grad.dtype == np.float32 and t.grad.shape == t.shape)


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_gradients_match_finite_differences(name, data):
    spec = REGISTRY[name]
    arrays, params = data.draw(examples(spec))
    assert engine.gradcheck(lambda *ts: spec.fn(*ts, **params), *tensors(arrays), **spec.check)


TWICE = [n for n in NAMES if REGISTRY[n].twice]


@pytest.mark.parametrize("name", TWICE)
@given(data=st.data())
def test_second_derivatives_match_finite_differences(name, data):
    # Every backward is written with ops, so create_graph=True records it and it can be
    # differentiated again: gradgradcheck compares that with finite differences of the
    # first gradient.
    spec = REGISTRY[name]
    arrays, params = data.draw(examples(spec))
    assert engine.gradgradcheck(lambda *ts: spec.fn(*ts, **params), *tensors(arrays),
                                **spec.check)


@pytest.mark.parametrize("name", [n for n in NAMES if not REGISTRY[n].twice])
def test_fused_ops_refuse_create_graph_clearly(name):
    spec = REGISTRY[name]
    arrays, params = spec.sample(np.random.default_rng(0))
    out = spec.fn(*tensors(arrays), **params)
    with pytest.raises(RuntimeError, match=f"{name} is not twice differentiable"):
        engine.grad(out, [t for t in out.parents if t.requires_grad],
                    grad_outputs=np.ones(out.shape), create_graph=True)


ERRORS = [(name, i) for name in NAMES for i in range(len(REGISTRY[name].errors))]


@pytest.mark.parametrize("name,i", ERRORS)
def test_bad_input_error_names_op_and_shapes(name, i):
    case = REGISTRY[name].errors[i]
    with pytest.raises(case.exc, match=case.match):
        case.call()


def test_every_op_class_is_in_the_registry():
    # Derived, not listed: defining an Op subclass registers it in engine.OPS, and its @spec
    # (or a register() call beside it) puts it in the test registry.
    covered = {op for spec in REGISTRY.values() for op in spec.ops}
    missing = sorted(name for name, cls in engine.OPS.items()  # the engine's own ops
                     if cls.__module__.startswith("engine.") and cls.differentiable
                     and name not in covered)
    assert not missing, f"ops without a test description (@spec beside the class): {missing}"


def test_every_op_has_a_formula():
    blank = [name for name, cls in engine.OPS.items() if not cls.formula.strip()]
    assert not blank


def test_error_cases_exist_for_shape_sensitive_ops():
    # The issue names these two messages explicitly.
    with pytest.raises(ValueError, match=re.escape("matmul: shapes (2, 3) and (4, 5)")):
        engine.ones(2, 3) @ engine.ones(4, 5)
    with pytest.raises(ValueError, match=r"^add: .*\(2, 3\), \(4,\)"):
        engine.ones(2, 3) + engine.ones(4)
