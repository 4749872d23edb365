"""Saving and loading as a student coming from PyTorch does it: state_dict() keys and order,
load_state_dict(strict=...) results and errors, optimizer state round trips, torch.save
files and torch.load's keywords. Expected values are written by hand; torch, when
installed, must agree."""
import os

import numpy as np
import pytest

import engine
import nn
from nn.serialization import LoadError


def _torch():
    return pytest.importorskip("torch")


def _mlp():
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 1))


MLP_KEYS = ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
            "1.num_batches_tracked", "3.weight", "3.bias"]


def test_state_dict_keys_and_order_by_hand_and_as_torch():
    assert list(_mlp().state_dict()) == MLP_KEYS
    assert list(nn.LSTM(3, 4, num_layers=2, batch_first=True).state_dict()) == [
        f"{w}_{g}_l{i}" for i in (0, 1) for w, g in
        (("weight", "ih"), ("weight", "hh"), ("bias", "ih"), ("bias", "hh"))]
    torch = _torch()
    tnn = torch.nn
    pairs = [(_mlp(), tnn.Sequential(tnn.Linear(3, 4), tnn.BatchNorm1d(4), tnn.ReLU(),
                                     tnn.Linear(4, 1))),
             (nn.LSTM(3, 4, num_layers=2, batch_first=True),
              tnn.LSTM(3, 4, num_layers=2, batch_first=True)),
             (nn.GRU(3, 4, batch_first=True), tnn.GRU(3, 4, batch_first=True)),
             (nn.Conv2d(1, 2, 3), tnn.Conv2d(1, 2, 3)),
             (nn.BatchNorm2d(2, affine=False), tnn.BatchNorm2d(2, affine=False)),
             (nn.MultiheadAttention(4, 2, batch_first=False), tnn.MultiheadAttention(4, 2))]
    for ours, theirs in pairs:
        sd, td = ours.state_dict(), theirs.state_dict()
        assert list(sd) == list(td)
        assert [v.shape for v in sd.values()] == [tuple(v.shape) for v in td.values()]
        assert ours.load_state_dict(td) == ([], [])  # torch tensors load as they are


class _WithBuffers(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 2)
        self.register_buffer("keep", engine.ones(2))
        self.register_buffer("scratch", engine.zeros(2), persistent=False)


def test_non_persistent_buffers_are_left_out_as_torch():
    m = _WithBuffers()
    assert list(m.state_dict()) == ["keep", "lin.weight", "lin.bias"]
    assert [n for n, _ in m.named_buffers()] == ["keep", "scratch"]
    sd = {**m.state_dict(), "scratch": np.ones(2, np.float32)}
    assert m.load_state_dict(sd, strict=False) == ([], ["scratch"])
    np.testing.assert_array_equal(m.scratch.data, [0, 0])  # an unexpected key is not loaded
    torch = _torch()

    class Theirs(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(2, 2)
            self.register_buffer("keep", torch.ones(2))
            self.register_buffer("scratch", torch.zeros(2), persistent=False)

    t = Theirs()
    assert list(t.state_dict()) == list(m.state_dict())
    r = t.load_state_dict({**t.state_dict(), "scratch": torch.ones(2)}, strict=False)
    assert (r.missing_keys, r.unexpected_keys) == ([], ["scratch"])


def test_strict_false_returns_the_named_pair_as_torch():
    m = nn.Linear(3, 2)
    sd = m.state_dict()
    r = m.load_state_dict({"weight": sd["weight"], "extra": np.zeros(1)}, strict=False)
    assert r.missing_keys == ["bias"] and r.unexpected_keys == ["extra"]
    missing, unexpected = r
    assert (missing, unexpected) == (["bias"], ["extra"])
    assert repr(m.load_state_dict(sd)) == "<All keys matched successfully>"
    torch = _torch()
    t = torch.nn.Linear(3, 2)
    tr = t.load_state_dict({"weight": t.weight.detach(), "extra": torch.zeros(1)},
                           strict=False)
    assert (tr.missing_keys, tr.unexpected_keys) == (r.missing_keys, r.unexpected_keys)
    assert repr(t.load_state_dict(t.state_dict())) == repr(m.load_state_dict(sd))


def test_refused_loads_raise_torchs_runtime_error_and_change_nothing():
    # PyTorch raises RuntimeError ("Error(s) in loading state_dict for Linear"); code copied
    # from it catches RuntimeError. These were a KeyError and a ValueError only.
    m = nn.Linear(3, 2)
    before = m.state_dict()
    good = {k: v + 1 for k, v in before.items()}
    with pytest.raises(RuntimeError, match=r"load_state_dict for Linear: missing keys "
                                           r"\['bias'\], unexpected keys \['b'\] "
                                           r"\(strict=False loads"):
        m.load_state_dict({"weight": good["weight"], "b": good["bias"]})
    with pytest.raises(KeyError):  # still the KeyError it was
        m.load_state_dict({"weight": good["weight"]})
    for strict in (True, False):  # a shape is refused whatever strict says, as in PyTorch
        with pytest.raises(RuntimeError, match=r"load_state_dict for Linear: size mismatch "
                                               r"for bias: the state dict has shape \(3,\), "
                                               r"the model has shape \(2,\)"):
            m.load_state_dict({**good, "bias": np.zeros(3, np.float32)}, strict=strict)
        with pytest.raises(ValueError):  # still the ValueError it was
            m.load_state_dict({**good, "bias": np.zeros(3, np.float32)}, strict=strict)
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    torch = _torch()
    t = torch.nn.Linear(3, 2)
    with pytest.raises(RuntimeError, match="Missing key.*bias"):
        t.load_state_dict({"weight": t.weight.detach()})
    with pytest.raises(RuntimeError, match="size mismatch for bias"):
        t.load_state_dict({"weight": t.weight.detach(), "bias": torch.zeros(3)}, strict=False)


def test_load_state_dict_takes_torchs_argument_name():
    m = nn.Linear(2, 2)
    sd = {k: np.full_like(v, 0.5) for k, v in m.state_dict().items()}
    assert m.load_state_dict(state_dict=sd, strict=True) == ([], [])
    np.testing.assert_array_equal(m.weight.data, np.full((2, 2), 0.5, np.float32))


def test_loading_keeps_the_mode_and_batchnorm_uses_the_loaded_statistics():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 3))
    mean, var = np.array([0.5, -1.0, 2.0]), np.array([4.0, 0.25, 1.0])
    w, b = np.array([1.0, 2.0, -1.0]), np.array([0.0, 0.5, 1.0])
    sd = {"weight": w, "bias": b, "running_mean": mean, "running_var": var,
          "num_batches_tracked": np.array(7)}
    bn = nn.BatchNorm1d(3).double().eval()
    bn.load_state_dict(sd)
    assert bn.training is False and int(bn.num_batches_tracked.item()) == 7
    want = (x - mean) / np.sqrt(var + 1e-5) * w + b  # eval: the running statistics
    np.testing.assert_allclose(bn(engine.tensor(x, dtype=np.float64)).data, want, rtol=1e-12)
    train = nn.BatchNorm1d(3).double()
    train.load_state_dict(sd)
    assert train.training is True  # the state dict holds no mode
    torch = _torch()
    tbn = torch.nn.BatchNorm1d(3).double().eval()
    tbn.load_state_dict({k: torch.tensor(v) for k, v in sd.items()})
    np.testing.assert_allclose(tbn(torch.tensor(x)).detach().numpy(), want, rtol=1e-12)


def _train(opt_name, kw, steps, path=None, resume_at=None):
    """Fit y = x·w on fixed data in float64; with ``path``, save the model and optimizer
    after ``resume_at`` steps and go on with fresh objects loaded from the file."""
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((8, 3)), rng.standard_normal((8, 1))
    w0 = {"weight": rng.standard_normal((1, 3)), "bias": np.zeros(1)}

    def fresh(state=None):
        m = nn.Linear(3, 1).double()
        m.load_state_dict(w0 if state is None else state["model"])
        opt = getattr(nn.optim, opt_name)(m.parameters(), **kw)
        if state is not None:
            opt.load_state_dict(state["optim"])
        return m, opt

    m, opt = fresh()
    for step in range(steps):
        if step == resume_at:
            nn.save({"model": m.state_dict(), "optim": opt.state_dict()}, path)
            m, opt = fresh(nn.load(path))
        opt.zero_grad()
        loss = ((m(engine.tensor(x, dtype=np.float64)) - engine.tensor(y, dtype=np.float64))
                ** 2).mean()
        loss.backward()
        opt.step()
    return m.weight.data.copy(), (x, y, w0)


@pytest.mark.parametrize("opt_name, kw", [("SGD", {"lr": 0.1, "momentum": 0.9}),
                                          ("Adam", {"lr": 0.05}),
                                          ("RMSprop", {"lr": 0.01, "centered": True})])
def test_resumed_training_takes_the_same_steps(tmp_path, opt_name, kw):
    straight, (x, y, w0) = _train(opt_name, kw, 8)
    resumed, _ = _train(opt_name, kw, 8, tmp_path / "ck.npz", resume_at=3)
    np.testing.assert_array_equal(resumed, straight)  # bit for bit
    torch = _torch()
    tm = torch.nn.Linear(3, 1).double()
    tm.load_state_dict({k: torch.tensor(v) for k, v in w0.items()})
    tkw = dict(kw, eps=1e-7) if opt_name == "Adam" else kw  # stepgrad's Adam: Keras's eps
    topt = getattr(torch.optim, opt_name)(tm.parameters(), **tkw)
    for step in range(8):
        if step == 3:  # PyTorch's own round trip, through its state dicts
            sd, osd = tm.state_dict(), topt.state_dict()
            tm = torch.nn.Linear(3, 1).double()
            tm.load_state_dict(sd)
            topt = getattr(torch.optim, opt_name)(tm.parameters(), **tkw)
            topt.load_state_dict(osd)
        topt.zero_grad()
        ((tm(torch.tensor(x)) - torch.tensor(y)) ** 2).mean().backward()
        topt.step()
    np.testing.assert_allclose(straight, tm.weight.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_a_cut_file_raises_and_the_model_is_untouched(tmp_path):
    m = _mlp()
    path = tmp_path / "m.pt"
    nn.save({"model": {k: v + 1 for k, v in m.state_dict().items()}, "epoch": 3}, path)
    data = path.read_bytes()
    before = m.state_dict()
    for cut in (len(data) // 2, len(data) - 1):
        bad = tmp_path / f"cut{cut}.pt"
        bad.write_bytes(data[:cut])
        with pytest.raises(LoadError, match="truncated or corrupted"):
            m.load_state_dict(nn.load(bad)["model"])
        with pytest.raises(LoadError, match="truncated or corrupted"):
            nn.load_checkpoint(bad, m)
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    assert nn.load_checkpoint(path, m) == 3
    np.testing.assert_array_equal(m[0].bias.data, before["0.bias"] + 1)


def test_torch_load_keywords_are_accepted_where_they_mean_nothing(tmp_path):
    path = tmp_path / "sd.pt"
    nn.save({"w": np.arange(3.0)}, path)
    for kw in ({"map_location": "cpu"}, {"weights_only": True}, {"map_location": None,
                                                                 "weights_only": False}):
        np.testing.assert_array_equal(nn.load(path, **kw)["w"], [0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match=r"nn.load: map_location='cuda:0' is not supported"):
        nn.load(path, map_location="cuda:0")
    with open(path, "rb") as f, pytest.raises(TypeError, match="nn.load: takes a file path"):
        nn.load(f)
    with open(tmp_path / "other.pt", "wb") as f, \
            pytest.raises(TypeError, match="nn.save: takes a file path"):
        nn.save({"w": np.zeros(1)}, f)


def test_saving_a_module_says_to_save_its_state_dict(tmp_path):
    with pytest.raises(TypeError, match=r"nn.save: obj is a Linear; save its state_dict\(\)"):
        nn.save(nn.Linear(2, 2), tmp_path / "m.pt")
    opt = nn.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1)
    with pytest.raises(TypeError, match=r"obj\['optim'\] is a SGD; save its state_dict"):
        nn.save({"optim": opt}, tmp_path / "o.pt")
    assert not os.listdir(tmp_path)


class _Bomb:
    """Unpickling it would delete ``victim``."""

    def __init__(self, victim):
        self.victim = victim

    def __reduce__(self):
        return (os.remove, (self.victim,))


def test_torch_save_files_are_refused_unread_with_what_to_do(tmp_path):
    torch = _torch()
    victim = tmp_path / "victim"
    victim.write_text("still here")
    for legacy in (False, True):
        path = tmp_path / f"torch{legacy}.pt"
        torch.save({"weight": torch.ones(2), "x": _Bomb(str(victim))}, path,
                   _use_new_zipfile_serialization=not legacy)
        what = "looks like a pickle" if legacy else "a torch.save file"
        with pytest.raises(LoadError, match=rf"{what}.*torch.load\(path, weights_only=True\) "
                                            r"and pass the state dict to "
                                            r"model.load_state_dict"):
            nn.load(path)
        assert victim.read_text() == "still here"
    # The way the message gives: PyTorch reads its file, stepgrad takes the tensors.
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4),
                                 torch.nn.ReLU(), torch.nn.Linear(4, 1)).double()
    theirs(torch.randn(5, 3, dtype=torch.float64))  # running statistics move
    torch.save(theirs.state_dict(), tmp_path / "model.pt")
    ours = _mlp().double()
    assert ours.load_state_dict(torch.load(tmp_path / "model.pt", weights_only=True)) == \
        ([], [])
    x = np.random.default_rng(2).standard_normal((4, 3))
    ours.eval()
    theirs.eval()
    np.testing.assert_allclose(ours(engine.tensor(x, dtype=np.float64)).data,
                               theirs(torch.tensor(x)).detach().numpy(), rtol=1e-12)


def test_saving_through_a_symbolic_link_replaces_its_target_as_open_does(tmp_path):
    # The atomic rename replaced the link itself with a new file: run/model.npz (what the
    # link points at) silently kept the old weights. open() and torch.save write through.
    (tmp_path / "run").mkdir()
    target, link = tmp_path / "run" / "model.npz", tmp_path / "latest.npz"
    nn.save({"w": np.zeros(2)}, target)
    os.symlink(os.path.join("run", "model.npz"), link)
    nn.save({"w": np.ones(2)}, link)
    assert link.is_symlink()
    np.testing.assert_array_equal(nn.load(target)["w"], [1.0, 1.0])
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["model.npz"]
    torch = _torch()
    ttarget, tlink = tmp_path / "run" / "t.pt", tmp_path / "t_latest.pt"
    torch.save({"w": torch.zeros(2)}, ttarget)
    os.symlink(os.path.join("run", "t.pt"), tlink)
    torch.save({"w": torch.ones(2)}, tlink)
    assert tlink.is_symlink() and torch.load(ttarget)["w"].tolist() == [1.0, 1.0]
