"""F.affine_grid and F.grid_sample (PyTorch's spatial-transformer tutorial): against a slow
point-by-point reference, identities (the identity map reproduces the image), gradcheck in
float64, the tutorial's network, refusals, and PyTorch where installed."""
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import engine
import nn
import nn.functional as F

F64 = np.float64


def t64(a, grad=False):
    return engine.tensor(np.asarray(a, F64), dtype=F64, requires_grad=grad)


def reference(x, grid, mode, padding_mode, align_corners):
    """grid_sample one output point at a time."""
    N, C, H, W = x.shape
    _, Ho, Wo, _ = grid.shape
    out = np.zeros((N, C, Ho, Wo))

    def pixel(n, xi, yi):
        if padding_mode == "border":
            xi, yi = min(max(xi, 0), W - 1), min(max(yi, 0), H - 1)
        return x[n, :, yi, xi] if 0 <= xi < W and 0 <= yi < H else np.zeros(C)
    for n in range(N):
        for i in range(Ho):
            for j in range(Wo):
                gx, gy = grid[n, i, j]
                if align_corners:
                    px, py = (gx + 1) / 2 * (W - 1), (gy + 1) / 2 * (H - 1)
                else:
                    px, py = ((gx + 1) * W - 1) / 2, ((gy + 1) * H - 1) / 2
                if padding_mode == "border":
                    px, py = min(max(px, 0), W - 1), min(max(py, 0), H - 1)
                if mode == "nearest":
                    out[n, :, i, j] = pixel(n, int(np.rint(px)), int(np.rint(py)))
                    continue
                x0, y0 = int(np.floor(px)), int(np.floor(py))
                ex, ey = px - x0, py - y0
                out[n, :, i, j] = ((1 - ex) * (1 - ey) * pixel(n, x0, y0)
                                   + ex * (1 - ey) * pixel(n, x0 + 1, y0)
                                   + (1 - ex) * ey * pixel(n, x0, y0 + 1)
                                   + ex * ey * pixel(n, x0 + 1, y0 + 1))
    return out


@given(st.integers(1, 2), st.integers(1, 5), st.integers(1, 5), st.integers(1, 3),
       st.sampled_from(["bilinear", "nearest"]), st.sampled_from(["zeros", "border"]),
       st.booleans(), st.integers(0, 2**16))
def test_grid_sample_is_its_point_by_point_definition(n, h, w, out, mode, padding_mode, align,
                                                      seed):
    rng = np.random.default_rng(seed)
    x, grid = rng.standard_normal((n, 2, h, w)), rng.uniform(-1.4, 1.4, (n, out, out + 1, 2))
    got = F.grid_sample(t64(x), t64(grid), mode, padding_mode, align)
    np.testing.assert_allclose(got.data, reference(x, grid, mode, padding_mode, align),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("padding_mode", ["zeros", "border"])
@pytest.mark.parametrize("align", [False, True])
def test_grid_sample_gradcheck(padding_mode, align):
    rng = np.random.default_rng(1)
    x, grid = t64(rng.standard_normal((2, 2, 4, 5)), True), t64(rng.uniform(-1.2, 1.2,
                                                                           (2, 3, 2, 2)), True)
    assert engine.gradcheck(lambda x, g: F.grid_sample(x, g, "bilinear", padding_mode, align),
                            x, grid)
    assert engine.gradcheck(lambda x: F.grid_sample(x, grid.detach(), "nearest", padding_mode,
                                                    align), x)


def test_affine_grid_identity_reproduces_the_image_and_a_shift_moves_it():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 4, 6))
    identity = t64(np.tile([[1.0, 0, 0], [0, 1.0, 0]], (2, 1, 1)), True)
    grid = F.affine_grid(identity, (2, 3, 4, 6), align_corners=False)
    assert grid.shape == (2, 4, 6, 2)
    np.testing.assert_allclose(grid.data[0, 0, :, 0], (np.arange(6) * 2 + 1) / 6 - 1)
    np.testing.assert_allclose(F.grid_sample(t64(x), grid, align_corners=False).data, x,
                               atol=1e-14)
    shift = t64(np.tile([[1.0, 0, 2 / 6], [0, 1.0, 0]], (2, 1, 1)))  # one pixel to the right
    moved = F.grid_sample(t64(x), F.affine_grid(shift, x.shape, False), align_corners=False)
    np.testing.assert_allclose(moved.data[..., :-1], x[..., 1:], atol=1e-14)
    np.testing.assert_array_equal(moved.data[..., -1], 0.0)  # read from outside: zeros
    assert engine.gradcheck(lambda th: F.affine_grid(th, (2, 3, 4, 6), True), identity)


def test_the_spatial_transformer_tutorial_network_trains():
    class STN(nn.Module):  # PyTorch's tutorial, smaller
        def __init__(self):
            super().__init__()
            self.localization = nn.Sequential(nn.Conv2d(1, 4, 3), nn.MaxPool2d(2), nn.ReLU())
            self.fc_loc = nn.Sequential(nn.Linear(4 * 3 * 3, 8), nn.ReLU(), nn.Linear(8, 6))
            self.fc_loc[2].weight.data[:] = 0  # the tutorial's identity start
            self.fc_loc[2].bias.data[:] = np.array([1, 0, 0, 0, 1, 0], np.float32)

        def forward(self, x):
            xs = self.localization(x).view(-1, 4 * 3 * 3)
            theta = self.fc_loc(xs).view(-1, 2, 3)
            grid = F.affine_grid(theta, x.size(), align_corners=False)
            return F.grid_sample(x, grid, align_corners=False)

    engine.manual_seed(0)
    model = STN()
    x = engine.randn(3, 1, 8, 8)
    np.testing.assert_allclose(model(x).data, x.data, atol=1e-6)  # the identity transform
    target = engine.tensor(np.roll(x.data, 1, axis=3))
    opt = nn.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(15):
        opt.zero_grad()
        loss = F.mse_loss(model(x), target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert model.fc_loc[2].bias.grad is not None and losses[-1] < losses[0]


def test_refusals_and_the_align_corners_warning():
    x, grid = engine.zeros(1, 1, 2, 2), engine.zeros(1, 1, 1, 2)
    with pytest.warns(UserWarning, match="align_corners=False since 1.3.0"):
        F.grid_sample(x, grid)
    with pytest.warns(UserWarning, match="align_corners=False since 1.3.0"):
        F.affine_grid(engine.zeros(1, 2, 3), (1, 1, 2, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.grid_sample(x, grid, align_corners=False)
        for mode, pad in (("bicubic", "zeros"), ("bilinear", "reflection")):
            with pytest.raises(NotImplementedError, match="not supported in stepgrad"):
                F.grid_sample(x, grid, mode, pad, False)
        with pytest.raises(ValueError, match="mode must be 'bilinear' or 'nearest'"):
            F.grid_sample(x, grid, "linear", align_corners=False)
        with pytest.raises(ValueError, match="padding_mode must be"):
            F.grid_sample(x, grid, padding_mode="edge", align_corners=False)
        with pytest.raises(ValueError, match=r"grid_sample: expected input \(N, C, H, W\) and "
                                             r"grid \(N, Ho, Wo, 2\) with the same N"):
            F.grid_sample(x, engine.zeros(2, 1, 1, 2), align_corners=False)
        with pytest.raises(TypeError, match="must have the same dtype"):
            F.grid_sample(x, engine.zeros(1, 1, 1, 2, dtype=F64), align_corners=False)
        with pytest.raises(ValueError, match=r"affine_grid: expected theta of shape \(1, 2, 3\)"):
            F.affine_grid(engine.zeros(1, 3, 3), (1, 1, 2, 2), False)
        with pytest.raises(ValueError, match="affine_grid: size must be"):
            F.affine_grid(engine.zeros(1, 3, 4), (1, 1, 2, 2, 2), False)


def test_grid_sample_and_affine_grid_match_torch():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    rng = np.random.default_rng(3)
    for shape, out in (((2, 3, 5, 4), (3, 6)), ((1, 1, 1, 1), (2, 2)), ((2, 2, 4, 7), (5, 5))):
        for align in (False, True):
            for mode in ("bilinear", "nearest"):
                for pad in ("zeros", "border"):
                    x, g = rng.standard_normal(shape), rng.uniform(-1.3, 1.3,
                                                                   (shape[0],) + out + (2,))
                    xs, gs = t64(x, True), t64(g, True)
                    xt, gt = torch.tensor(x, requires_grad=True), torch.tensor(g,
                                                                               requires_grad=True)
                    y, yt = F.grid_sample(xs, gs, mode, pad, align), tf.grid_sample(xt, gt, mode,
                                                                                   pad, align)
                    G = rng.standard_normal(yt.shape)
                    (y * t64(G)).sum().backward()
                    (yt * torch.tensor(G)).sum().backward()
                    np.testing.assert_allclose(y.data, yt.detach().numpy(), atol=1e-13)
                    np.testing.assert_allclose(xs.grad.data, xt.grad.numpy(), atol=1e-13)
                    if mode == "bilinear":
                        np.testing.assert_allclose(gs.grad.data, gt.grad.numpy(), atol=1e-12)
                    else:  # torch's is zeros; here the grid takes no part in the graph
                        assert gs.grad is None and not gt.grad.numpy().any()
        theta = rng.standard_normal((shape[0], 2, 3))
        for align in (False, True):
            th, tt = t64(theta, True), torch.tensor(theta, requires_grad=True)
            with warnings.catch_warnings(record=True) as said:
                warnings.simplefilter("always")
                a, at = F.affine_grid(th, shape, align), tf.affine_grid(tt, shape, align)
            ours = [w for w in said if "unit-size" in str(w.message)]
            assert len(ours) == (2 if align and min(shape[2:]) == 1 else 0)  # both warn
            G = rng.standard_normal(at.shape)
            (a * t64(G)).sum().backward()
            (at * torch.tensor(G)).sum().backward()
            np.testing.assert_allclose(a.data, at.detach().numpy(), atol=1e-14)
            np.testing.assert_allclose(th.grad.data, tt.grad.numpy(), atol=1e-13)
