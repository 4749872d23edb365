"""engine.multinomial, bernoulli, normal and poisson (torch's samplers; a char-RNN samples its
next character with torch.multinomial): their distributions by counting (seeded, bounds of
about five standard errors), what they never draw, shapes and dtypes, reproducibility under
manual_seed, the refusals; and the function forms of Tensor methods (engine.eq, clone, …)."""
import numpy as np
import pytest

import engine


def test_multinomial_draws_in_proportion_to_the_weights_and_never_a_zero_weight():
    engine.manual_seed(0)
    w = engine.tensor([2.0, 0.0, 6.0, 2.0])  # weights: no need to sum to 1
    draws = engine.multinomial(w, 20000, replacement=True)
    assert draws.dtype == np.int64 and draws.shape == (20000,)
    freq = np.bincount(draws.data, minlength=4) / 20000
    np.testing.assert_allclose(freq, [0.2, 0.0, 0.6, 0.2], atol=0.02)
    rows = engine.tensor([[1.0, 0.0, 1.0, 1.0], [0.0, 3.0, 1.0, 0.0]])
    for _ in range(50):
        picked = rows.multinomial(2).data
        assert picked.shape == (2, 2) and (picked[:, 0] != picked[:, 1]).all()  # no repeats
        assert 1 not in picked[0] and set(picked[1]) == {1, 2}
    engine.manual_seed(5)
    a = engine.multinomial(rows, 2, True).data
    engine.manual_seed(5)
    np.testing.assert_array_equal(engine.multinomial(rows, 2, True).data, a)
    gen = np.random.default_rng(1)
    assert engine.multinomial(w, 3, generator=gen).shape == (3,)


@pytest.mark.parametrize("weights,n,replacement,error,pattern", [
    ([0.2, -0.1], 1, False, RuntimeError, "contains either `inf`, `nan` or element < 0"),
    ([0.2, np.nan], 1, False, RuntimeError, "contains either `inf`, `nan` or element < 0"),
    ([0.0, 0.0], 1, True, RuntimeError, r"sum of probabilities <= 0\) in row 0"),
    ([0.5, 0.5, 0.0], 3, False, RuntimeError, r"num_samples \(3\) must not exceed the "
                                              r"categories of nonzero probability \(2"),
    ([1.0, 2.0], 0, True, RuntimeError, "cannot sample n_sample <= 0"),
    ([[[1.0, 2.0]]], 1, True, RuntimeError, "prob_dist must be 1 or 2 dim"),
])
def test_multinomial_refusals(weights, n, replacement, error, pattern):
    with pytest.raises(error, match=pattern):
        engine.multinomial(engine.tensor(weights), n, replacement)


def test_multinomial_refuses_integer_weights_and_a_bad_generator():
    with pytest.raises(RuntimeError, match="only supports floating-point dtypes"):
        engine.multinomial(engine.tensor([1, 2]), 1)
    with pytest.raises(TypeError, match="generator must be a numpy Generator"):
        engine.multinomial(engine.tensor([1.0, 2.0]), 1, generator=3)


def test_bernoulli_normal_poisson_by_their_moments():
    engine.manual_seed(2)
    p = engine.tensor(np.linspace(0.0, 1.0, 5), dtype=np.float64)
    draws = np.stack([engine.bernoulli(p).data for _ in range(4000)])
    assert draws.dtype == np.float64 and set(np.unique(draws)) <= {0.0, 1.0}
    np.testing.assert_allclose(draws.mean(0), p.data, atol=0.04)
    assert (draws[:, 0] == 0).all() and (draws[:, -1] == 1).all()
    assert engine.bernoulli(engine.zeros(1000), 0.3).data.mean() == pytest.approx(0.3, abs=0.08)
    assert engine.zeros(3).bernoulli(1.0).data.tolist() == [1.0, 1.0, 1.0]
    z = engine.normal(engine.tensor([[0.0], [10.0]]), engine.tensor([1.0, 0.1, 3.0]))
    assert z.shape == (2, 3) and z.dtype == np.float32
    big = engine.normal(5.0, 2.0, (20000,))
    assert big.dtype == np.float32 and big.data.mean() == pytest.approx(5.0, abs=0.1)
    assert big.data.std() == pytest.approx(2.0, abs=0.1)
    assert engine.normal(0.0, 1.0, (2,), dtype=np.float64).dtype == np.float64
    counts = engine.poisson(engine.full((20000,), 4.0))
    assert counts.dtype == np.float32 and counts.data.mean() == pytest.approx(4.0, abs=0.15)
    assert counts.data.var() == pytest.approx(4.0, abs=0.3)


def test_bernoulli_normal_poisson_refusals():
    with pytest.raises(RuntimeError, match="bernoulli: expects 0 <= p <= 1"):
        engine.bernoulli(engine.tensor([0.2, 1.5]))
    with pytest.raises(RuntimeError, match="normal: expects std >= 0.0, but found std -1"):
        engine.normal(engine.zeros(2), -1.0)
    with pytest.raises(RuntimeError, match=r"normal: mean \(2,\) and std \(3,\) do not "
                                            r"broadcast"):
        engine.normal(engine.zeros(2), engine.ones(3))
    with pytest.raises(TypeError, match="give size="):
        engine.normal(0.0, 1.0)
    with pytest.raises(RuntimeError, match="invalid Poisson rate"):
        engine.poisson(engine.tensor([1.0, -1.0]))


def test_function_forms_of_tensor_methods():
    x = engine.tensor([[1.0, 2.0], [3.0, 2.0]], requires_grad=True)
    for name in ("eq", "ne", "lt", "gt", "le", "ge"):
        np.testing.assert_array_equal(getattr(engine, name)(x, 2.0).data,
                                      getattr(x, name)(2.0).data)
    assert engine.numel(x) == 4 and engine.broadcast_to(x[0], (3, 2)).shape == (3, 2)
    c = engine.clone(x)
    assert c.grad_fn is not None and not np.shares_memory(c.data, x.data)
    assert engine.detach(x).requires_grad is False
    np.testing.assert_array_equal(engine.argwhere(x > 1.5).data, [[0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(engine.index_fill(x, 1, engine.tensor([0]), -1.0).data,
                                  [[-1.0, 2.0], [-1.0, 2.0]])


def test_shapes_and_dtypes_match_torch():
    torch = pytest.importorskip("torch")
    pairs = [(engine.multinomial(engine.ones(2, 5), 3), torch.multinomial(torch.ones(2, 5), 3)),
             (engine.bernoulli(engine.full((2, 3), 0.5, dtype=np.float64)),
              torch.bernoulli(torch.full((2, 3), 0.5, dtype=torch.float64))),
             (engine.normal(engine.zeros(4, 1), engine.ones(3)),
              torch.normal(torch.zeros(4, 1), torch.ones(3))),
             (engine.normal(0.0, 1.0, (2, 3)), torch.normal(0.0, 1.0, (2, 3))),
             (engine.poisson(engine.ones(3)), torch.poisson(torch.ones(3)))]
    for ours, theirs in pairs:
        assert ours.shape == tuple(theirs.shape)
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
