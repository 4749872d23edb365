"""The compositions of engine/ops/compose.py and the new nn modules without torch: values
against numpy, gradients by finite differences (engine.gradcheck, float64), and the errors.
(tests/engine/test_torch_ops.py and tests/nn/test_torch_modules.py compare them with torch
where it is installed.)"""
import numpy as np
import pytest

import engine
import nn

RNG = np.random.default_rng(3)


def T(a, grad=True):
    return engine.tensor(np.asarray(a, np.float64), dtype=np.float64, requires_grad=grad)


def test_nan_aware_reductions_against_numpy_and_finite_differences():
    x = RNG.standard_normal((3, 4))
    x[0, 1] = x[2, 3] = np.nan
    np.testing.assert_allclose(T(x).nansum().item(), np.nansum(x))
    np.testing.assert_allclose(T(x).nanmean(1).data, np.nanmean(x, 1))
    y = x.copy()
    y[1, 0], y[1, 2] = np.inf, -np.inf
    np.testing.assert_array_equal(T(y).nan_to_num(0.5, 9.0, -9.0).data,
                                  np.nan_to_num(y, nan=0.5, posinf=9.0, neginf=-9.0))
    clean = RNG.standard_normal((3, 4))
    mask = np.zeros((3, 4), bool)
    mask[0, 1] = True

    def with_nan(t):  # a NaN planted by the graph: its gradient must be 0, the rest 1/count
        return engine.where(mask, np.nan, t)

    assert engine.gradcheck(lambda t: with_nan(t).nanmean(1).sum(), T(clean))
    assert engine.gradcheck(lambda t: with_nan(t).nansum(0).sum(), T(clean))


def test_pairs_counting_and_searching_against_numpy():
    x = RNG.standard_normal((3, 4))
    v, m = engine.var_mean(T(x), 1)
    np.testing.assert_allclose(v.data, x.var(1, ddof=1))
    np.testing.assert_allclose(m.data, x.mean(1))
    s, _ = engine.std_mean(T(x), correction=0)
    np.testing.assert_allclose(s.item(), x.std())
    lo, hi = T(x).aminmax(dim=0)
    np.testing.assert_array_equal(lo.data, x.min(0))
    np.testing.assert_array_equal(hi.data, x.max(0))
    assert engine.count_nonzero(engine.tensor([[0, 1], [2, 0]]), dim=0).tolist() == [1, 1]
    assert engine.bincount(engine.tensor([0, 2, 2])).tolist() == [1, 0, 2]
    b = engine.tensor([1.0, 2.0, 3.0])
    assert engine.bucketize(engine.tensor([0.5, 2.0, 3.5]), b).tolist() == [0, 1, 3]
    assert engine.searchsorted(b, engine.tensor([2.0]), right=True).tolist() == [2]
    assert engine.isclose(engine.tensor([1.0, 2.0]), engine.tensor([1.0, 2.5])).tolist() == \
        [True, False]


def test_mode_and_histc_by_hand():
    x = T([[1.0, 2.0, 2.0, 3.0, 3.0], [5.0, 4.0, 4.0, 5.0, 1.0]])
    values, indices = x.mode(1)  # ties: the smallest value; its last occurrence
    assert values.tolist() == [2.0, 4.0] and indices.tolist() == [2, 2]
    values.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[0, 0, 1, 0, 0], [0, 0, 1, 0, 0]])
    h = engine.histc(engine.tensor([1.0, 2.0, 1.0, 4.0, 0.5, 9.0]), bins=4, min=0, max=4)
    assert h.tolist() == [1.0, 2.0, 1.0, 1.0]  # 9 is outside; 4 (the top edge) counts
    assert engine.tensor([1.0, 2.0, 1.0, 4.0]).histc(4).tolist() == [2.0, 1.0, 0.0, 1.0]
    with pytest.raises(TypeError, match="histc: expects a float tensor, got int64"):
        engine.tensor([1, 2]).histc()


def test_indexing_and_distances_against_numpy_and_finite_differences():
    x = RNG.standard_normal((3, 4))
    idx = np.array([[0, 11], [-1, 5]])
    np.testing.assert_array_equal(T(x).take(engine.tensor(idx)).data, np.take(x, idx))
    assert engine.gradcheck(lambda t: (t.take(engine.tensor(idx)) ** 2).sum(), T(x))
    src = RNG.standard_normal((3, 2))
    expected = x.copy()
    np.add.at(expected, (slice(None), [1, 1]), 2 * src)
    np.testing.assert_allclose(T(x).index_add(1, engine.tensor([1, 1]), T(src), alpha=2).data,
                               expected)
    assert engine.gradcheck(lambda a, b: (a.index_add(1, engine.tensor([1, 3]), b) ** 2).sum(),
                            T(x), T(src))
    a, b = RNG.standard_normal((4, 3)), RNG.standard_normal((5, 3))
    np.testing.assert_allclose(engine.cdist(T(a), T(b)).data,
                               np.linalg.norm(a[:, None] - b[None], axis=-1))
    assert engine.gradcheck(lambda p, q: engine.cdist(p, q, 1.5).sum(), T(a), T(b))
    np.testing.assert_allclose(nn.F.pairwise_distance(T(a), T(a[::-1].copy())).data,
                               np.linalg.norm(a - a[::-1] + 1e-6, axis=-1))
    img = RNG.standard_normal((2, 8, 3, 2))
    shuffled = nn.F.pixel_shuffle(T(img), 2)
    assert shuffled.shape == (2, 2, 6, 4)
    np.testing.assert_array_equal(nn.F.pixel_unshuffle(shuffled, 2).data, img)
    # the r×r block of output pixel (2h + i, 2w + j) comes from channel c·4 + 2i + j
    np.testing.assert_array_equal(shuffled.data[0, 1, 2 * 1 + 1, 2 * 0 + 0], img[0, 4 + 2, 1, 0])
    np.testing.assert_allclose(engine.linalg.norm(T(x)).item(), np.linalg.norm(x))
    np.testing.assert_allclose(engine.linalg.vector_norm(T(x), 1, dim=1).data,
                               np.abs(x).sum(1))
    np.testing.assert_allclose(T(x).addcmul(T(x), T(x), value=0.5).data, x + 0.5 * x * x)
    np.testing.assert_allclose(T(x).addcdiv(T(x), T(x + 3), value=2).data, x + 2 * x / (x + 3))
    assert T(x).t().shape == (4, 3) and engine.t(T(x[0])).shape == (4,)


def test_group_and_instance_norm_by_the_formula_and_finite_differences():
    x = RNG.standard_normal((2, 6, 5))
    g = x.reshape(2, 3, 10)
    want = ((g - g.mean(-1, keepdims=True)) / np.sqrt(g.var(-1, keepdims=True) + 1e-5))
    gn = nn.GroupNorm(3, 6).to(np.float64)
    np.testing.assert_allclose(gn(T(x)).data, want.reshape(x.shape), rtol=1e-10)
    assert engine.gradcheck(lambda t: (nn.F.group_norm(t, 3) * T(x, False)).sum(), T(x))
    per = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(nn.InstanceNorm1d(6)(T(x)).data, per, rtol=1e-10)
    bn = nn.BatchNorm1d(6, track_running_stats=False).to(np.float64).eval()
    xb = RNG.standard_normal((8, 6))
    np.testing.assert_allclose(bn(T(xb)).data,
                               (xb - xb.mean(0)) / np.sqrt(xb.var(0) + 1e-5), rtol=1e-10)


def test_padding_layers_and_padding_mode_against_numpy():
    x = RNG.standard_normal((1, 2, 4, 5))
    np.testing.assert_array_equal(nn.ReflectionPad2d((1, 2, 0, 1))(T(x)).data,
                                  np.pad(x, ((0, 0), (0, 0), (0, 1), (1, 2)), mode="reflect"))
    np.testing.assert_array_equal(nn.ReplicationPad1d(2)(T(x[0])).data,
                                  np.pad(x[0], ((0, 0), (0, 0), (2, 2)), mode="edge"))
    np.testing.assert_array_equal(nn.ConstantPad2d(1, 3.0)(T(x)).data,
                                  np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)),
                                         constant_values=3.0))
    conv = nn.Conv2d(2, 3, 3, padding=1, padding_mode="circular").to(np.float64)
    plain = nn.Conv2d(2, 3, 3, padding=0).to(np.float64)
    plain.load_state_dict(conv.state_dict())
    wrapped = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="wrap")
    np.testing.assert_allclose(conv(T(x)).data, plain(T(wrapped)).data, rtol=1e-12)
    for padding in (np.int64(1), (np.int64(1), 1)):  # numpy ints, as in engine.conv2d
        reflect = nn.Conv2d(2, 3, 3, padding=padding, padding_mode="reflect").to(np.float64)
        plain.load_state_dict(reflect.state_dict())
        np.testing.assert_allclose(reflect(T(x)).data,
                                   plain(T(np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)),
                                                  mode="reflect"))).data, rtol=1e-12)
    for bad in (1.5, (1, 2, 3), True):
        with pytest.raises(ValueError, match="Conv2d: padding must be an int or a pair"):
            nn.Conv2d(2, 3, 3, padding=bad, padding_mode="reflect")(T(x))
    assert nn.Softmax2d()(T(x)).data.sum(1) == pytest.approx(np.ones((1, 4, 5)))
    np.testing.assert_array_equal(nn.Threshold(0.1, 20.0)(T(x)).data,
                                  np.where(x > 0.1, x, 20.0))


def test_compositions_refuse_what_they_cannot_do_by_name():
    x = engine.zeros(2, 3, 4)
    with pytest.raises(ValueError, match=r"t\(\) expects a tensor with <= 2 dims, got shape "
                                         r"\(2, 3, 4\): use transpose"):
        x.t()
    with pytest.raises(IndexError, match="take: index 24 is out of range for a tensor of 24"):
        x.take(engine.tensor([24]))
    with pytest.raises(ValueError, match=r"index_add: source of shape \(2, 2, 4\) does not fit "
                                         r"x of shape \(2, 3, 4\) with 3 indices along dim 1"):
        x.index_add(1, engine.tensor([0, 1, 2]), engine.zeros(2, 2, 4))
    with pytest.raises(ValueError, match="bincount: needs a 1-D tensor of non-negative"):
        engine.bincount(engine.tensor([1, -1]))
    with pytest.raises(ValueError, match="searchsorted: stepgrad takes a 1-D sorted_sequence"):
        engine.searchsorted(engine.zeros(2, 3), engine.zeros(2))
    with pytest.raises(ValueError, match=r"pixel_shuffle: input of shape \(2, 3, 4\) needs"):
        nn.F.pixel_shuffle(x, 2)
    with pytest.raises(RuntimeError, match="linalg.norm: with ord=2, the input must be 1-D or "
                                           "2-D, or dim one or two dims; got shape"):
        engine.linalg.norm(engine.zeros(2, 3, 4), 2)  # (matrix ords: test_linalg_decomp.py)
    with pytest.raises(ValueError, match=r"cdist: x1 \(2, 3\) and x2 \(2, 4\)"):
        engine.cdist(engine.zeros(2, 3), engine.zeros(2, 4))


def test_new_modules_refuse_what_they_cannot_do_by_name():
    # momentum=None, PyTorch's cumulative average, is supported (tests/nn/test_torch_compat.py)
    assert nn.BatchNorm2d(3, momentum=None).momentum is None
    with pytest.raises(ValueError, match=r"BatchNorm2d: momentum must be in \[0, 1\] or None"):
        nn.BatchNorm2d(3, momentum=-0.1)
    with pytest.raises(ValueError, match="GroupNorm: num_groups=4 must divide num_channels=6"):
        nn.GroupNorm(4, 6)
    with pytest.raises(ValueError, match="InstanceNorm2d: track_running_stats=True is not"):
        nn.InstanceNorm2d(3, track_running_stats=True)
    with pytest.raises(ValueError, match=r"InstanceNorm2d: expected input of \(4,\) dims with 3 "
                                         r"channels in dim 1, got shape \(2, 4, 5, 5\)"):
        nn.InstanceNorm2d(3)(engine.zeros(2, 4, 5, 5))
    with pytest.raises(ValueError, match="Conv2d: padding_mode must be one of 'zeros', "
                                         "'reflect', 'replicate', 'circular', got 'mirror'"):
        nn.Conv2d(1, 1, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match=r"ZeroPad2d: padding must be an int or 4 ints"):
        nn.ZeroPad2d((1, 2))
    bn = nn.BatchNorm2d(3, track_running_stats=False)
    assert bn.running_mean is None and "running_mean" not in bn.state_dict()
