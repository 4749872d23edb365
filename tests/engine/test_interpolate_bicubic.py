"""interpolate(mode='bicubic'): Keys' cubic kernel (A = -0.75) with clamped taps.

Torch-free checks first (a scalar loop transcribing the formula, hand-computed weights,
what the kernel reproduces and what it does not, the gradient as the transpose, finite
differences), then PyTorch: values and gradients for chosen edge cases and random ones.
"""
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import engine
from engine.fast.interpolate import interpolate


def T(a, dtype=np.float64):
    return engine.from_numpy(np.asarray(a).astype(dtype, copy=False)).requires_grad_(True)


def grad(t):
    return np.asarray(t.grad)


def W(d, a=-0.75):
    """Keys' cubic convolution kernel, written as in the paper (not PyTorch's Horner form)."""
    d = abs(d)
    if d <= 1:
        return (a + 2) * d**3 - (a + 3) * d**2 + 1
    if d < 2:
        return a * d**3 - 5 * a * d**2 + 8 * a * d - 4 * a
    return 0.0


def loop_bicubic(x, out_hw, align_corners, scales=(None, None)):
    """One output pixel at a time: 16 taps, each index clamped into the image."""
    n, c, h, w = x.shape
    oh, ow = out_hw

    def source(o, n_in, n_out, s):
        if align_corners:
            return o * (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
        return (o + 0.5) * (1 / s if s else n_in / n_out) - 0.5  # not clamped at 0

    out = np.zeros((n, c, oh, ow))
    for p in range(oh):
        sy = source(p, h, oh, scales[0])
        iy = math.floor(sy)
        for q in range(ow):
            sx = source(q, w, ow, scales[1])
            ix = math.floor(sx)
            for dy in range(-1, 3):
                for dx in range(-1, 3):
                    yy, xx = min(max(iy + dy, 0), h - 1), min(max(ix + dx, 0), w - 1)
                    out[:, :, p, q] += W(sy - iy - dy) * W(sx - ix - dx) * x[:, :, yy, xx]
    return out


# ------------------------------------------------------------------------ torch-free
@st.composite
def bicubic_configs(draw):
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2)),
             draw(st.integers(1, 7)), draw(st.integers(1, 7)))
    p = {"mode": "bicubic", "align_corners": draw(st.booleans())}
    if draw(st.booleans()):
        p["size"] = (draw(st.integers(1, 12)), draw(st.integers(1, 12)))
    else:
        p["scale_factor"] = tuple(draw(st.sampled_from([0.4, 0.5, 0.75, 1.0, 1.3, 2.0, 2.5,
                                                        10 / 7])) for _ in range(2))
        assume(all(int(n * s) >= 1 for n, s in zip(shape[2:], p["scale_factor"], strict=True)))
        if draw(st.booleans()):
            p["recompute_scale_factor"] = True
    return shape, p


@settings(max_examples=40)
@given(cfg=bicubic_configs(), seed=st.integers(0, 2**32 - 1))
def test_bicubic_matches_a_scalar_loop_of_the_formula(cfg, seed):
    shape, p = cfg
    x = np.random.default_rng(seed).standard_normal(shape)
    out = interpolate(T(x), **p)
    if "size" in p:
        scales = (None, None)
    else:  # the output size is floor(in · s); the positions use s itself unless recomputed
        scales = (None, None) if p.get("recompute_scale_factor") else p["scale_factor"]
    assert out.shape == shape[:2] + tuple(
        p["size"] if "size" in p else
        (math.floor(n * s) for n, s in zip(shape[2:], p["scale_factor"], strict=True)))
    np.testing.assert_allclose(out.data, loop_bicubic(x, out.shape[2:], p["align_corners"],
                                                      scales), rtol=1e-9, atol=1e-12)


def test_bicubic_weights_by_hand():
    # 1 x 5 -> 1 x 9 with align_corners=True: outputs at 0, 0.5, 1, ..., 4. At t = 0.5 the
    # taps weigh W(1.5) = A/8 = -0.09375 and W(0.5) = 1 - (A + 3)/4 + (A + 2)/8 = 0.59375.
    x = np.zeros((1, 1, 1, 5))
    x[0, 0, 0, 2] = 1.0  # an impulse: the output is the kernel itself
    out = interpolate(T(x), size=(1, 9), mode="bicubic", align_corners=True).data[0, 0, 0]
    np.testing.assert_allclose(out, [0, -0.09375, 0, 0.59375, 1, 0.59375, 0, -0.09375, 0],
                               atol=1e-15)
    np.testing.assert_allclose(out, out[::-1], atol=1e-15)


def test_bicubic_keeps_constants_everywhere_and_linear_functions_inside():
    # Weights sum to 1 (constants kept, even where taps are clamped at the border) and
    # reproduce degree-1 polynomials; a bilinear function a + b·i + c·j + d·i·j is kept
    # wherever none of the 4 x 4 taps was clamped.
    i, j = np.meshgrid(np.arange(6.0), np.arange(7.0), indexing="ij")
    out = interpolate(T(np.full((1, 1, 6, 7), 2.5)), size=(11, 5), mode="bicubic")
    np.testing.assert_allclose(out.data, 2.5, rtol=1e-14)
    f = (1.0 + 2.0 * i - 0.5 * j + 0.25 * i * j)[None, None]
    out = interpolate(T(f), size=(11, 13), mode="bicubic", align_corners=True).data[0, 0]
    si, sj = np.arange(11) * 5 / 10, np.arange(13) * 6 / 12   # the source positions
    inside_i = (np.floor(si) >= 1) & (np.floor(si) + 2 <= 5)
    inside_j = (np.floor(sj) >= 1) & (np.floor(sj) + 2 <= 6)
    expected = 1.0 + 2.0 * si[:, None] - 0.5 * sj[None] + 0.25 * si[:, None] * sj[None]
    assert inside_i.sum() >= 4 and inside_j.sum() >= 4
    np.testing.assert_allclose(out[np.ix_(inside_i, inside_j)],
                               expected[np.ix_(inside_i, inside_j)], rtol=1e-13)


def test_bicubic_is_a_minus_0_75_so_quadratics_are_not_reproduced():
    # Keys' A = -0.5 would reproduce x² exactly; PyTorch's A = -0.75 does not: half way
    # between integers the interior value is i0² + i0 + 1/8 instead of (i0 + 1/2)² = … + 1/4
    # (Σ_k W(1/2 − k)·k² = 5·A/8 + W(1/2) = 1/8 for A = -0.75).
    x = (np.arange(6.0) ** 2)[None, None, None]
    out = interpolate(T(x), size=(1, 11), mode="bicubic", align_corners=True).data[0, 0, 0]
    for i0 in (1, 2, 3):  # taps i0 - 1 .. i0 + 2 inside 0 .. 5
        assert out[2 * i0 + 1] == pytest.approx(i0**2 + i0 + 0.125, abs=1e-13)
        assert out[2 * i0] == pytest.approx(i0**2, abs=1e-13)


def test_bicubic_output_is_not_clipped():
    # A step overshoots on both sides (ringing), as PyTorch's kernel does: no clamp to the
    # input range. Taps left of pixel 0 read pixel 0 (border repeated), so the ends stay 0, 1.
    x = np.array([[[[0.0, 0.0, 1.0, 1.0]]]])
    out = interpolate(T(x), size=(1, 8), mode="bicubic").data[0, 0, 0]
    assert out.min() < -0.1 and out.max() > 1.1
    assert out[0] == 0.0 and out[-1] == 1.0


@settings(max_examples=25)
@given(cfg=bicubic_configs(), seed=st.integers(0, 2**32 - 1))
def test_bicubic_gradient_is_the_transpose_and_matches_finite_differences(cfg, seed):
    shape, p = cfg
    rng = np.random.default_rng(seed)
    x = T(rng.standard_normal(shape))
    out = interpolate(x, **p)
    g = rng.standard_normal(out.shape)
    out.backward(g)
    # <A x, g> = <x, Aᵀ g>: the gradient is the transpose of the map that was applied.
    np.testing.assert_allclose((out.data * g).sum(), (x.data * grad(x)).sum(), rtol=1e-10,
                               atol=1e-10)
    # A linear op has no kinks: central differences are exact up to rounding anywhere.
    assert engine.gradcheck(lambda t: interpolate(t, **p), T(x.data))


def test_bicubic_second_order():
    x = T(np.random.default_rng(1).standard_normal((1, 2, 3, 4)))
    assert engine.gradgradcheck(lambda t: interpolate(t, size=(5, 3), mode="bicubic") ** 2, x)


def test_bicubic_refusals_name_the_fix():
    with pytest.raises(ValueError, match=r"interpolate: mode 'bicubic' needs a 4-D input, got "
                                         r"shape \(1, 2, 5\) \(use 'linear' for 3-D, or add a "
                                         r"dim with x.unsqueeze\(2\)\)"):
        interpolate(T(np.zeros((1, 2, 5))), size=3, mode="bicubic")
    with pytest.raises(NotImplementedError, match="antialias=True is not supported"):
        interpolate(T(np.zeros((1, 1, 5, 5))), size=3, mode="bicubic", antialias=True)
    with pytest.raises(ValueError, match=r"align_corners can only be set with the modes "
                                         r"'linear', 'bilinear' and 'bicubic', not 'area'"):
        interpolate(T(np.zeros((1, 1, 5, 5))), size=3, mode="area", align_corners=True)


# ------------------------------------------------------------------------ PyTorch
CASES = [  # (input shape, interpolate kwargs)
    ((2, 3, 4, 5), dict(scale_factor=2)),                        # up, non-square
    ((1, 2, 9, 6), dict(scale_factor=0.5)),                      # down
    ((1, 1, 5, 7), dict(size=(3, 11))),                          # down one way, up the other
    ((1, 1, 1, 1), dict(size=(4, 3))),                           # 1 pixel
    ((1, 2, 1, 6), dict(size=(5, 2))),                           # 1 row
    ((1, 1, 6, 6), dict(size=(1, 1))),                           # to 1 pixel
    ((1, 1, 2, 2), dict(scale_factor=1.3)),                      # size kept, still resampled
    ((1, 1, 5, 4), dict(size=(5, 4))),                           # same size
    ((1, 2, 7, 5), dict(scale_factor=(10 / 7, 0.7))),
    ((1, 2, 7, 5), dict(scale_factor=(10 / 7, 0.7), recompute_scale_factor=True)),
    ((2, 1, 3, 8), dict(scale_factor=(2.5, 0.3))),
]


def pytorch_backward_copies(shape, p, out_shape):
    """Whether PyTorch's bicubic *backward* takes its same-size shortcut (dx = dy) where its
    forward resampled: sizes unchanged, but by a scale factor other than 1 that is used
    for the positions (align_corners=False, not recomputed)."""
    return (tuple(out_shape[2:]) == tuple(shape[2:]) and not p.get("align_corners")
            and "scale_factor" in p and not p.get("recompute_scale_factor")
            and any(s != 1 for s in np.broadcast_to(p["scale_factor"], 2)))


def check_against_pytorch(x, p, rng, tol):
    torch = pytest.importorskip("torch")
    xt, tx = T(x, x.dtype), torch.tensor(x, requires_grad=True)
    out, tout = interpolate(xt, **p), torch.nn.functional.interpolate(tx, **p)
    assert out.shape == tuple(tout.shape) and out.dtype == x.dtype
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=tol, atol=tol)
    g = rng.standard_normal(out.shape).astype(x.dtype)
    out.backward(g)
    if pytorch_backward_copies(x.shape, p, out.shape):
        # PyTorch's gradient there is not its forward's; stepgrad's is the transpose of the
        # map it applied: <A x, g> = <x, Aᵀ g> (see test_same_size_gradient_is_the_transpose).
        np.testing.assert_allclose((out.data * g).sum(), (x * grad(xt)).sum(), rtol=1e-5)
        return
    tout.backward(torch.tensor(g))
    np.testing.assert_allclose(grad(xt), tx.grad.numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 2e-5)])
@pytest.mark.parametrize("shape,p", CASES)
def test_bicubic_matches_pytorch(shape, p, align_corners, dtype, tol):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    check_against_pytorch(x, dict(p, mode="bicubic", align_corners=align_corners), rng, tol)


@settings(max_examples=40)
@given(cfg=bicubic_configs(), seed=st.integers(0, 2**32 - 1))
def test_bicubic_matches_pytorch_random(cfg, seed):
    shape, p = cfg
    rng = np.random.default_rng(seed)
    check_against_pytorch(rng.standard_normal(shape), p, rng, 1e-12)


def test_same_size_gradient_is_the_transpose_where_pytorch_copies():
    """2 x 2 scaled by 1.3 stays 2 x 2 but is resampled (source positions (o + 0.5)/1.3 −
    0.5), in PyTorch's forward as in stepgrad's. PyTorch's backward then returns dy
    unchanged (a same-size shortcut), which is not the gradient of that forward; stepgrad
    returns the transpose of the map, which finite differences confirm."""
    x = np.random.default_rng(3).standard_normal((1, 1, 2, 2))
    g = np.array([[[[1.0, 0.0], [0.0, 0.0]]]])
    xt = T(x)
    out = interpolate(xt, scale_factor=1.3, mode="bicubic")
    assert not np.allclose(out.data, x)  # resampled, not copied
    out.backward(g)
    assert not np.allclose(grad(xt), g)  # so the gradient is not dy either
    assert engine.gradcheck(lambda t: interpolate(t, scale_factor=1.3, mode="bicubic"), T(x))
    torch = pytest.importorskip("torch")
    tx = torch.tensor(x, requires_grad=True)
    tout = torch.nn.functional.interpolate(tx, scale_factor=1.3, mode="bicubic")
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-12)
    tout.backward(torch.tensor(g))
    np.testing.assert_array_equal(tx.grad.numpy(), g)  # PyTorch 2.13's shortcut


def test_upsample_module_bicubic_matches_pytorch():
    torch = pytest.importorskip("torch")
    from nn import Upsample
    x = np.random.default_rng(2).standard_normal((2, 3, 5, 4))
    for kw in (dict(scale_factor=2, mode="bicubic"),
               dict(size=(3, 7), mode="bicubic", align_corners=True)):
        out = Upsample(**kw)(T(x))
        ref = torch.nn.Upsample(**kw)(torch.tensor(x))
        np.testing.assert_allclose(out.data, ref.numpy(), rtol=1e-12, atol=1e-12)
