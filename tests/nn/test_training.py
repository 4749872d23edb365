"""nn.training: fit / evaluate / predict with Keras semantics, History, callbacks, resuming."""
import math

import numpy as np
import pytest

import engine
import nn
from nn import functional as F
from nn.optim import SGD, Adam, ExponentialLR, LambdaLR
from nn.training import (
    Callback,
    EarlyStopping,
    History,
    LearningRateScheduler,
    ModelCheckpoint,
    TerminateOnNaN,
    evaluate,
    fit,
    load_checkpoint,
    predict,
)


def regression_data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    y = x @ np.array([[1.5], [-2.0], [0.5]]) + 0.3
    return x, y


def blobs(n_per=40, seed=0):
    rng = np.random.default_rng(seed)
    centers = np.array([[3.0, 0.0], [-3.0, 0.0], [0.0, 3.0]])
    x = np.concatenate([c + rng.normal(scale=0.5, size=(n_per, 2)) for c in centers])
    return x, np.repeat(np.arange(3), n_per)


def test_linear_regression_converges():
    engine.manual_seed(0)
    x, y = regression_data()
    model = nn.Linear(3, 1)
    h = fit(model, x, y, loss="mse", optimizer=Adam(model.parameters(), lr=0.05), epochs=60,
            batch_size=16, verbose=0)
    assert h.history["loss"][-1] < 1e-3 < h.history["loss"][0]
    np.testing.assert_allclose(model.weight.data, [[1.5, -2.0, 0.5]], atol=0.02)
    np.testing.assert_allclose(model.bias.data, [0.3], atol=0.02)
    assert model.weight.dtype == np.float32


def test_target_of_shape_n_meets_prediction_n_by_1():
    # Keras reshapes a (N,) target to the (N, 1) prediction (Boston housing's y is (404,)).
    engine.manual_seed(0)
    x, y = regression_data()
    model = nn.Linear(3, 1)
    opt = SGD(model.parameters(), lr=0.0)
    kw = dict(loss="mse", optimizer=opt, epochs=1, verbose=0, metrics=["mae"], shuffle=False)
    flat = fit(model, x, y.ravel(), **kw)
    col = fit(model, x, y, **kw)
    assert flat.history == col.history


class Recorder(nn.Module):
    """A linear model that remembers which rows it saw, and in which mode."""

    def __init__(self, d):
        super().__init__()
        self.fc = nn.Linear(d, 1)
        self.seen = []

    def forward(self, x):
        self.seen.append((self.training, x.data[:, 0].copy()))
        return self.fc(x)


def test_validation_split_takes_the_last_fraction_before_shuffling():
    n = 20
    x = np.zeros((n, 2))
    x[:, 0] = np.arange(n)  # row i is recognisable by its first feature
    y = np.zeros((n, 1))
    model = Recorder(2)
    fit(model, x, y, loss="mse", optimizer=SGD(model.parameters(), lr=0.0), epochs=3,
        batch_size=4, validation_split=0.25, verbose=0)
    train = [rows for training, rows in model.seen if training]
    val = [rows for training, rows in model.seen if not training]
    per_epoch = [np.concatenate(train[i:i + 4]) for i in range(0, 12, 4)]  # 15 rows, 4 batches
    for rows in per_epoch:
        assert sorted(rows) == list(range(15))  # the first 75 % train ...
    assert not all(np.array_equal(per_epoch[0], r) for r in per_epoch[1:])  # ... shuffled
    assert [sorted(np.concatenate(val[i:i + 2])) for i in range(0, 6, 2)] == [
        list(range(15, 20))] * 3  # the last 25 % validate, in eval mode
    assert model.training  # back in training mode after validation


def test_no_shuffle_keeps_order():
    x, y = np.arange(10.0).reshape(-1, 1), np.zeros((10, 1))
    model = Recorder(1)
    fit(model, x, y, loss="mse", optimizer=SGD(model.parameters(), lr=0.0), epochs=2,
        batch_size=4, shuffle=False, verbose=0)
    assert [r.tolist() for _, r in model.seen] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]] * 2


def test_epoch_loss_is_sample_weighted_mean_of_batch_losses():
    engine.manual_seed(1)
    x, y = regression_data(n=10)
    model = nn.Linear(3, 1)
    # lr = 0: every batch sees the same model, so the weighted mean of the batch means
    # (batches of 4, 4, 2) is exactly the full-data mean.
    h = fit(model, x, y, loss="mse", optimizer=SGD(model.parameters(), lr=0.0), epochs=1,
            batch_size=4, metrics=["mae", "mse"], verbose=0)
    pred = x.astype(np.float32) @ model.weight.data.T + model.bias.data
    err = pred - y.astype(np.float32)
    assert h.history["loss"][0] == pytest.approx(float(np.mean(err ** 2)), rel=1e-5)
    assert h.history["mse"][0] == pytest.approx(h.history["loss"][0], rel=1e-6)
    assert h.history["mae"][0] == pytest.approx(float(np.mean(np.abs(err))), rel=1e-5)


def test_history_keys_epochs_and_lr():
    engine.manual_seed(0)
    x, y = regression_data(n=40)
    model = nn.Linear(3, 1)
    opt = SGD(model.parameters(), lr=0.1)
    h = fit(model, x, y, loss="mse", optimizer=opt, epochs=3, metrics=["mae"],
            validation_data=(x[:10], y[:10]), scheduler=ExponentialLR(opt, gamma=0.5),
            verbose=0)
    assert isinstance(h, History)
    assert list(h.history) == ["loss", "mae", "val_loss", "val_mae", "lr", "learning_rate"]
    assert h.history["learning_rate"] == h.history["lr"]  # Keras 3's key and Keras 2's
    assert h.epoch == [0, 1, 2] and all(len(v) == 3 for v in h.history.values())
    assert h.history["lr"] == [0.1, 0.05, 0.025]
    assert all(isinstance(v, float) for vals in h.history.values() for v in vals)
    h2 = fit(model, x, y, loss=F.mse_loss, optimizer=opt, epochs=1, verbose=0)
    assert list(h2.history) == ["loss"]  # no scheduler: no 'lr'
    assert "History(epochs=3" in repr(h)


def test_learning_rate_scheduler_callback_exercise_7b():
    def schedule(epoch, lr):
        return lr if epoch < 10 else np.round(lr * np.exp(-0.05), 4)

    expected, lr = [], 0.02
    for epoch in range(14):
        lr = lr if epoch < 10 else round(lr * math.exp(-0.05), 4)
        expected.append(lr)
    engine.manual_seed(0)
    x, y = regression_data(n=16)
    model = nn.Linear(3, 1)
    opt = Adam(model.parameters(), lr=0.02)
    h = fit(model, x, y, loss="mse", optimizer=opt, epochs=14, batch_size=16,
            callbacks=[LearningRateScheduler(schedule)], verbose=0)
    assert h.history["lr"] == pytest.approx(expected, abs=1e-12)
    assert h.history["lr"][10:] == pytest.approx([0.019, 0.0181, 0.0172, 0.0164])
    # The same schedule through scheduler=LambdaLR gives the same run, bit for bit.
    engine.manual_seed(0)
    model2 = nn.Linear(3, 1)
    opt2 = Adam(model2.parameters(), lr=0.02)
    h2 = fit(model2, x, y, loss="mse", optimizer=opt2, epochs=14, batch_size=16,
             scheduler=LambdaLR(opt2, schedule), verbose=0)
    assert h2.history == h.history
    assert np.array_equal(model2.weight.data, model.weight.data)


def test_classification_with_integer_labels_and_names():
    engine.manual_seed(0)
    x, y = blobs()
    logits = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 3))
    h = fit(logits, x, y, loss="cross_entropy", metrics=["accuracy"],
            optimizer=Adam(logits.parameters(), lr=0.05), epochs=15, verbose=0)
    assert h.history["accuracy"][-1] > 0.95
    res = evaluate(logits, x, y, loss="cross_entropy", metrics=["accuracy"], return_dict=True)
    assert res["accuracy"] > 0.95 and res["loss"] < 0.3

    # Keras's names take probabilities (a Softmax output): integer labels or one-hot.
    engine.manual_seed(0)
    probs = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 3), nn.Softmax())
    fit(probs, x, y, loss="sparse_categorical_crossentropy", metrics=["acc"],
        optimizer=Adam(probs.parameters(), lr=0.05), epochs=15, verbose=0)
    one_hot = np.eye(3)[y]
    res = evaluate(probs, x, one_hot, loss="categorical_crossentropy", metrics=["accuracy"],
                   return_dict=True)
    assert res["accuracy"] > 0.95
    sparse = evaluate(probs, x, y, loss="sparse_categorical_crossentropy", return_dict=True)
    assert sparse["loss"] == pytest.approx(res["loss"], rel=1e-5)
    # Same loss as nn.F.cross_entropy on the logits underneath.
    with engine.no_grad():
        z = probs[:3](engine.Tensor(x))
    assert sparse["loss"] == pytest.approx(F.cross_entropy(z, y).item(), rel=1e-4)


def test_probability_and_logit_mixups_are_caught():
    x, y = blobs(n_per=5)
    logits = nn.Linear(2, 3)
    with pytest.raises(ValueError, match="probabilities.*cross_entropy"):
        evaluate(logits, x * 10, y, loss="categorical_crossentropy")
    with pytest.raises(ValueError, match="probabilities.*binary_crossentropy_with_logits"):
        evaluate(nn.Linear(2, 1), x * 10, y > 0, loss="binary_crossentropy")
    probs = nn.Sequential(nn.Linear(2, 3), nn.Softmax())
    with pytest.warns(UserWarning, match="look like probabilities"):
        evaluate(probs, x, y, loss="cross_entropy")


def test_binary_classification_with_bce():
    engine.manual_seed(0)
    x, y = blobs(n_per=30)
    keep = y < 2
    x, y = x[keep], (y[keep] == 1).astype(np.int64)  # integer 0/1 targets, y of shape (N,)
    model = nn.Sequential(nn.Linear(2, 1), nn.Sigmoid())
    h = fit(model, x, y, loss="binary_crossentropy", metrics=["accuracy"],
            optimizer=SGD(model.parameters(), lr=0.5), epochs=10, verbose=0)
    assert h.history["accuracy"][-1] == 1.0


def test_keras_binary_crossentropy_clips_as_keras():
    # loss='binary_crossentropy' is Keras's: p clipped to [1e-7, 1 − 1e-7], so a confident
    # mistake costs −ln(1e-7) = 16.118, where PyTorch's F.binary_cross_entropy gives 100.
    # In float32 (evaluate's batches, and Keras's), 1 − 1e-7 rounds to 1 − 1.19e-7.
    p = np.array([[0.0], [1.0], [0.5]], np.float32)
    y = np.array([[1.0], [0.0], [1.0]])
    keras_loss = evaluate(nn.Identity(), p, y, loss="binary_crossentropy")
    lo, hi = float(np.float32(1e-7)), float(np.float32(1 - 1e-7))
    by_hand = (-math.log(lo) - math.log(1 - hi) + math.log(2)) / 3
    assert keras_loss == pytest.approx(by_hand, rel=1e-6)
    torch_way = F.binary_cross_entropy(engine.tensor(p, dtype=np.float64),
                                       engine.tensor(y, dtype=np.float64)).item()
    assert torch_way == pytest.approx((200 + math.log(2)) / 3, rel=1e-12)


def test_evaluate_and_predict_shapes_modes_and_no_grad():
    engine.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.Dropout(0.5), nn.Linear(6, 2))
    x = np.random.default_rng(0).normal(size=(70, 4))
    out = predict(model, x, batch_size=32)
    assert isinstance(out, np.ndarray) and out.shape == (70, 2) and out.dtype == np.float32
    assert np.array_equal(out, predict(model, engine.Tensor(x), batch_size=7))  # eval: no dropout
    assert model.training  # mode restored
    assert all(p.grad is None for p in model.parameters())
    res = evaluate(model, x, np.zeros((70, 2)), loss="mse", metrics=["mae"], batch_size=16,
                   return_dict=True)
    assert set(res) == {"loss", "mae"} and all(isinstance(v, float) for v in res.values())
    assert res["loss"] == pytest.approx(float(np.mean(out.astype(np.float64) ** 2)), rel=1e-5)


def test_deterministic_with_manual_seed():
    x, y = regression_data(n=50)

    def train(seed):
        engine.manual_seed(seed)
        model = nn.Sequential(nn.Linear(3, 8), nn.Dropout(0.2), nn.Linear(8, 1))
        h = fit(model, x, y, loss="mse", optimizer=Adam(model.parameters(), lr=0.01),
                epochs=3, batch_size=8, verbose=0)
        return h.history["loss"], model.state_dict()

    (h1, s1), (h2, s2), (h3, _) = train(5), train(5), train(6)
    assert h1 == h2 and all(np.array_equal(s1[k], s2[k]) for k in s1)
    assert h1 != h3


def make_run(seed=3):
    engine.manual_seed(seed)
    model = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Dropout(0.25), nn.Linear(8, 1))
    opt = Adam(model.parameters(), lr=0.02)
    sched = LambdaLR(opt, lambda epoch, lr: lr if epoch < 2 else round(lr * 0.9, 4))
    return model, opt, sched


def test_resume_3_plus_3_equals_6_epochs_bit_for_bit(tmp_path):
    x, y = regression_data(n=50)
    kw = dict(loss="mse", batch_size=8, metrics=["mae"], verbose=0, shuffle=True)

    model, opt, sched = make_run()
    full = fit(model, x, y, optimizer=opt, scheduler=sched, epochs=6, **kw)

    model_a, opt_a, sched_a = make_run()
    first = fit(model_a, x, y, optimizer=opt_a, scheduler=sched_a, epochs=3, **kw)
    nn.save({"model": model_a.state_dict(), "optimizer": opt_a.state_dict(),
             "rng": engine.get_rng().bit_generator.state}, tmp_path / "ckpt.npz")
    engine.manual_seed(999)  # anything may happen to the generator in between

    model_b, opt_b, sched_b = make_run(seed=42)  # fresh objects, different init
    ckpt = nn.load(tmp_path / "ckpt.npz")
    model_b.load_state_dict(ckpt["model"])
    opt_b.load_state_dict(ckpt["optimizer"])
    engine.get_rng().bit_generator.state = ckpt["rng"]
    second = fit(model_b, x, y, optimizer=opt_b, scheduler=sched_b, epochs=6, initial_epoch=3,
                 **kw)

    assert second.epoch == [3, 4, 5]
    for key in full.history:
        assert first.history[key] + second.history[key] == full.history[key]
    final, resumed = model.state_dict(), model_b.state_dict()
    assert all(np.array_equal(final[k], resumed[k]) for k in final)


def test_resume_without_restoring_the_generator_differs(tmp_path):
    # Why the generator state is part of a checkpoint: without it the batches differ.
    x, y = regression_data(n=50)
    kw = dict(loss="mse", batch_size=8, verbose=0)
    model, opt, sched = make_run()
    full = fit(model, x, y, optimizer=opt, scheduler=sched, epochs=4, **kw)
    model_a, opt_a, sched_a = make_run()
    fit(model_a, x, y, optimizer=opt_a, scheduler=sched_a, epochs=2, **kw)
    engine.manual_seed(999)
    second = fit(model_a, x, y, optimizer=opt_a, scheduler=sched_a, epochs=4, initial_epoch=2,
                 **kw)
    assert second.history["loss"] != full.history["loss"][2:]


def test_model_checkpoint_and_load_checkpoint(tmp_path):
    x, y = regression_data(n=50)
    kw = dict(loss="mse", batch_size=8, verbose=0, validation_split=0.2)
    model, opt, sched = make_run()
    full = fit(model, x, y, optimizer=opt, scheduler=sched, epochs=4, **kw)

    model_a, opt_a, sched_a = make_run()
    ckpt = ModelCheckpoint(tmp_path / "last.npz", save_best_only=False)
    every = ModelCheckpoint(str(tmp_path / "ckpt-{epoch:02d}-{val_loss:.3f}.npz"))
    fit(model_a, x, y, optimizer=opt_a, scheduler=sched_a, epochs=2, callbacks=[ckpt, every],
        **kw)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 3 and names[0].startswith("ckpt-01-") and names[1].startswith("ckpt-02-")
    assert not any(n.endswith(".tmp") for n in names)  # atomic writes leave no temporaries
    saved = nn.load(tmp_path / "last.npz")
    assert set(saved) == {"model", "optimizer", "epoch", "rng", "scheduler", "architecture",
                          "frozen", "kinds", "training"}
    assert saved["architecture"]["module"] == "Sequential"  # nn.load_model can rebuild it
    assert saved["kinds"] == {"optimizer": type(opt_a).__name__,
                              "scheduler": type(sched_a).__name__}
    assert saved["epoch"] == 2 and saved["optimizer"]["state"][0]["step"] == 10

    model_b, opt_b, sched_b = make_run(seed=7)
    engine.manual_seed(123)
    start = load_checkpoint(tmp_path / "last.npz", model_b, opt_b, sched_b)
    assert start == 2
    second = fit(model_b, x, y, optimizer=opt_b, scheduler=sched_b, epochs=4,
                 initial_epoch=start, **kw)
    assert second.history["val_loss"] == full.history["val_loss"][2:]
    assert all(np.array_equal(model.state_dict()[k], model_b.state_dict()[k])
               for k in model.state_dict())
    nn.save({"w": np.zeros(1)}, tmp_path / "other.npz")
    with pytest.raises(ValueError, match="not a checkpoint"):
        load_checkpoint(tmp_path / "other.npz", model_b)


def test_model_checkpoint_save_best_only(tmp_path):
    fake = iter([3.0, 2.0, 2.5, 1.0])
    path = tmp_path / "best.npz"
    written = []

    class FakeVal(Callback):  # runs before the checkpoint and sets val_loss
        def on_epoch_end(self, epoch, logs=None):
            logs["val_loss"] = next(fake)

    class Reader(Callback):  # runs after it: which epoch does the file hold?
        def on_epoch_end(self, epoch, logs=None):
            written.append(nn.load(path)["epoch"])

    x, y = regression_data(n=16)
    model = nn.Linear(3, 1)
    ckpt = ModelCheckpoint(path, save_best_only=True, save_weights_only=True)
    fit(model, x, y, loss="mse", optimizer=SGD(model.parameters(), lr=0.01), epochs=4,
        callbacks=[FakeVal(), ckpt, Reader()], verbose=0)
    assert written == [1, 2, 2, 4]  # epoch 3 (val_loss 2.5) did not improve
    assert set(nn.load(path)) == {"model", "epoch"}
    assert np.array_equal(nn.load(path)["model"]["weight"], model.weight.data)


def early_stopping_setup():
    # Training pulls w towards +2, validation wants −2: val_loss rises after every epoch.
    x = np.linspace(-1, 1, 32).reshape(-1, 1)
    model = nn.Linear(1, 1, bias=False)
    with engine.no_grad():
        model.weight.zero_()
    snapshots = []

    class Snap(Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots.append(self.model.state_dict())

    return x, model, snapshots, Snap()


def test_early_stopping_stops_and_restores_best_weights():
    x, model, snapshots, snap = early_stopping_setup()
    stop = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    h = fit(model, x, 2 * x, loss="mse", optimizer=SGD(model.parameters(), lr=0.1),
            epochs=20, batch_size=8, validation_data=(x, -2 * x), callbacks=[snap, stop],
            verbose=0)
    assert h.epoch == [0, 1, 2]  # best at epoch 0, two epochs without improvement
    assert stop.stopped_epoch == 2 and stop.best_epoch == 0
    assert np.all(np.diff(h.history["val_loss"]) > 0)
    assert np.array_equal(model.weight.data, snapshots[0]["weight"])  # restored
    assert not np.array_equal(snapshots[2]["weight"], snapshots[0]["weight"])


def test_early_stopping_without_restore_and_max_mode():
    x, model, snapshots, snap = early_stopping_setup()
    stop = EarlyStopping(monitor="loss", patience=0, min_delta=10.0)  # never improves enough
    h = fit(model, x, 2 * x, loss="mse", optimizer=SGD(model.parameters(), lr=0.1),
            epochs=20, batch_size=8, callbacks=[snap, stop], verbose=0)
    assert h.epoch == [0, 1]
    assert np.array_equal(model.weight.data, snapshots[-1]["weight"])  # not restored
    assert EarlyStopping(monitor="val_accuracy").mode == "max"
    assert EarlyStopping(monitor="val_loss").mode == "min"
    with pytest.warns(UserWarning, match="'val_loss' is not in the logs"):
        fit(model, x, 2 * x, loss="mse", optimizer=SGD(model.parameters(), lr=0.1),
            epochs=1, callbacks=[EarlyStopping()], verbose=0)


def test_callback_hooks_order_and_attributes():
    calls = []

    class Log(Callback):
        def on_train_begin(self, logs=None): calls.append("train_begin")
        def on_train_end(self, logs=None): calls.append("train_end")
        def on_epoch_begin(self, epoch, logs=None): calls.append(f"epoch_begin {epoch}")
        def on_epoch_end(self, epoch, logs=None): calls.append(f"epoch_end {epoch}")
        def on_batch_begin(self, batch, logs=None): calls.append(f"batch_begin {batch}")
        def on_batch_end(self, batch, logs=None): calls.append(f"batch_end {batch}")

    x, y = regression_data(n=10)
    model = nn.Linear(3, 1)
    opt = SGD(model.parameters(), lr=0.01)
    cb = Log()
    fit(model, x, y, loss="mse", optimizer=opt, epochs=2, batch_size=6, callbacks=[cb],
        verbose=0)
    epoch = ["batch_begin 0", "batch_end 0", "batch_begin 1", "batch_end 1"]
    assert calls == (["train_begin", "epoch_begin 0"] + epoch + ["epoch_end 0", "epoch_begin 1"]
                     + epoch + ["epoch_end 1", "train_end"])
    assert cb.model is model and cb.optimizer is opt and cb.params["steps"] == 2


def test_terminate_on_nan():
    x, y = regression_data(n=32)
    model = nn.Linear(3, 1)
    h = fit(model, x, y, loss=lambda p, t: F.mse_loss(p, t) * float("nan"),
            optimizer=SGD(model.parameters(), lr=0.1), epochs=5, batch_size=8,
            callbacks=[TerminateOnNaN()], verbose=0)
    assert h.epoch == [0] and math.isnan(h.history["loss"][0])


def test_float64_model_gets_float64_batches():
    engine.manual_seed(0)
    x, y = regression_data(n=20)
    model = nn.Linear(3, 1)
    with engine.no_grad():
        for p in model.parameters():
            p.data = p.data.astype(np.float64)
    fit(model, x, y, loss="mse", optimizer=SGD(model.parameters(), lr=0.1), epochs=2,
        verbose=0)
    assert model.weight.dtype == np.float64
    assert predict(model, x).dtype == np.float64


def test_tensor_inputs_and_progress_bar(capsys):
    x, y = regression_data(n=20)
    model = nn.Linear(3, 1)
    opt = SGD(model.parameters(), lr=0.01)
    fit(model, engine.Tensor(x), engine.Tensor(y), loss="mse", optimizer=opt, epochs=2,
        verbose=1)
    out, err = capsys.readouterr()  # on stdout, as Keras (stderr shows pink in notebooks)
    assert "Epoch 1/2" in out and "Epoch 2/2" in out and "loss=" in out and err == ""
    fit(model, x, y, loss="mse", optimizer=opt, epochs=1, verbose=0)
    assert capsys.readouterr() == ("", "")
    fit(model, x, y, loss="mse", optimizer=opt, epochs=1, verbose=2)
    out, err = capsys.readouterr()
    assert "Epoch 1/1 - loss:" in out and err == ""


def test_fit_errors():
    model = nn.Linear(3, 1)
    opt = SGD(model.parameters(), lr=0.1)
    x, y = regression_data(n=10)
    with pytest.raises(ValueError, match=r"len\(x\)=10, len\(y\)=9"):
        fit(model, x, y[:9], loss="mse", optimizer=opt, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="unknown loss 'msqe'.*binary_crossentropy.*mse"):
        fit(model, x, y, loss="msqe", optimizer=opt, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="unknown metric 'f1'.*accuracy.*mae"):
        fit(model, x, y, loss="mse", metrics=["f1"], optimizer=opt, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="epochs must be an int >= 1, got 0"):
        fit(model, x, y, loss="mse", optimizer=opt, epochs=0, verbose=0)
    with pytest.raises(ValueError, match="validation_split"):
        fit(model, x, y, loss="mse", optimizer=opt, epochs=1, validation_split=1.5, verbose=0)
    with pytest.raises(ValueError, match="leaves 0 for training"):
        fit(model, x[:1], y[:1], loss="mse", optimizer=opt, epochs=1, validation_split=0.5,
            verbose=0)
    with pytest.raises(ValueError, match=r"len\(x_val\)=3, len\(y_val\)=2"):
        fit(model, x, y, loss="mse", optimizer=opt, epochs=1, verbose=0,
            validation_data=(x[:3], y[:2]))
    with pytest.raises(ValueError, match="scalar"):
        fit(model, x, y, loss=lambda p, t: F.mse_loss(p, t, reduction="none"), optimizer=opt,
            epochs=1, verbose=0)
    with pytest.raises(TypeError, match="scheduler must be"):
        fit(model, x, y, loss="mse", optimizer=opt, epochs=1, verbose=0, scheduler=0.5)
    with pytest.raises(ValueError, match="unknown optimizer 'adamm'.*adam.*sgd"):
        fit(model, x, y, loss="mse", optimizer="adamm", epochs=1, verbose=0)
    with pytest.raises(TypeError, match="optimizer must be"):
        fit(model, x, y, loss="mse", optimizer=0.1, epochs=1, verbose=0)
    with pytest.warns(UserWarning, match="nothing to train"):
        h = fit(model, x, y, loss="mse", optimizer=opt, epochs=3, initial_epoch=3, verbose=0)
    assert h.epoch == []


def test_fit_clipnorm_clips_the_global_gradient_norm_before_each_step():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 3)).astype(np.float32) * 10
    y = rng.standard_normal((8, 1)).astype(np.float32) * 10
    models = []
    for _ in range(2):
        engine.manual_seed(1)
        models.append(nn.Linear(3, 1))
    fitted, manual = models
    nn.fit(fitted, x, y, loss="mse", optimizer=nn.optim.SGD(fitted.parameters(), lr=0.1),
           epochs=1, batch_size=8, shuffle=False, verbose=0, clipnorm=0.5)
    opt = nn.optim.SGD(manual.parameters(), lr=0.1)
    opt.zero_grad()
    nn.F.mse_loss(manual(engine.tensor(x)), engine.tensor(y)).backward()
    norm = nn.optim.clip_grad_norm_(manual.parameters(), 0.5)
    assert norm > 5  # large: the clip really acted
    opt.step()
    for (_, a), (_, b) in zip(fitted.named_parameters(), manual.named_parameters(), strict=True):
        np.testing.assert_array_equal(a.data, b.data)
    with pytest.raises(ValueError, match="fit: clipnorm must be a positive number"):
        nn.fit(fitted, x, y, loss="mse", optimizer=opt, epochs=1, verbose=0, clipnorm=-1)


# ---------------------------------------------------------------- Keras's return forms
def test_evaluate_returns_keras_form():
    engine.manual_seed(0)
    x, y = regression_data(n=40)
    model = nn.Linear(3, 1)
    pred = predict(model, x).astype(np.float64)
    mse = float(np.mean((pred - y) ** 2))   # by hand, in float64
    mae = float(np.mean(np.abs(pred - y)))
    alone = evaluate(model, x, y, loss="mse")
    assert isinstance(alone, float) and alone == pytest.approx(mse, rel=1e-5)
    test_loss, test_mae = evaluate(model, x, y, loss="mse", metrics=["mae"])  # as in Keras
    assert (test_loss, test_mae) == pytest.approx((mse, mae), rel=1e-5)
    as_list = evaluate(model, x, y, loss="mse", metrics=["mae", "mse"])
    assert isinstance(as_list, list) and len(as_list) == 3
    assert evaluate(model, x, y, loss="mse", metrics=["mae"], return_dict=True) == \
        {"loss": test_loss, "mae": test_mae}


def test_epochs_defaults_to_one_and_verbose_auto():
    engine.manual_seed(0)
    x, y = regression_data(n=20)
    model = nn.Linear(3, 1)
    h = fit(model, x, y, loss="mse", optimizer=SGD(model.parameters(), lr=0.01), verbose=0)
    assert h.epoch == [0] and h.params["epochs"] == 1
    with pytest.raises(ValueError, match="verbose must be 0, 1, 2 or 'auto'"):
        fit(model, x, y, loss="mse", optimizer="sgd", verbose="loud")


def test_fit_refuses_an_optimizer_for_another_model():
    x, y = regression_data(n=20)
    model, other = nn.Linear(3, 1), nn.Linear(3, 1)
    before = model.weight.data.copy()
    with pytest.raises(ValueError, match=r"2 parameter\(s\) that are not the model's.*"
                                         r"another model"):
        fit(model, x, y, loss="mse", optimizer=SGD(other.parameters(), lr=0.1), verbose=0)
    assert np.array_equal(model.weight.data, before)
    with pytest.raises(ValueError, match="trainable parameters bias are not in the optimizer"):
        fit(model, x, y, loss="mse", optimizer=SGD([model.weight], lr=0.1), verbose=0)
    # A frozen parameter may be left out (or kept in: the optimizer skips it).
    model.bias.requires_grad = False
    fit(model, x, y, loss="mse", optimizer=SGD([model.weight], lr=0.1), verbose=0)
    fit(model, x, y, loss="mse", optimizer=SGD(model.parameters(), lr=0.1), verbose=0)
    # A layer replaced after the optimizer was built: caught.
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    opt = Adam(net.parameters())
    net[2].weight = nn.Parameter(np.zeros((1, 4)))
    with pytest.raises(ValueError, match="not the model's"):
        fit(net, x, y, loss="mse", optimizer=opt, verbose=0)


@pytest.mark.parametrize("name, cls, hyper", [
    # Keras's documented defaults for optimizer strings, with Keras 3's update rules
    ("sgd", nn.keras.optimizers.KerasSGD, dict(lr=0.01, momentum=0.0, nesterov=False)),
    ("adam", nn.keras.optimizers.KerasAdam, dict(lr=0.001, betas=(0.9, 0.999), eps=1e-7)),
    ("rmsprop", nn.keras.optimizers.KerasRMSprop, dict(lr=0.001, alpha=0.9, eps=1e-7,
                                                       momentum=0.0)),
    ("adamw", nn.keras.optimizers.KerasAdamW, dict(lr=0.001, weight_decay=0.004, eps=1e-7)),
])
def test_optimizer_names_use_keras_defaults(name, cls, hyper):
    x, y = regression_data(n=40)
    runs = []
    for opt in (name, name.upper(), cls):
        engine.manual_seed(4)
        model = nn.Linear(3, 1)
        optimizer = opt(model.parameters(), **hyper) if isinstance(opt, type) else opt
        h = fit(model, x, y, loss="mse", optimizer=optimizer, epochs=3, batch_size=8,
                verbose=0)
        runs.append((h.history, model.weight.data.copy()))
        group = h.optimizer.param_groups[0]
        assert type(h.optimizer) is cls
        assert all(group[k] == v for k, v in hyper.items())
    assert runs[0][0] == runs[1][0] == runs[2][0]
    assert np.array_equal(runs[0][1], runs[2][1])


def test_keras_recipe_global_clipnorm_clips():
    from nn.keras.optimizers import SGD as KerasSGD
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 3)) * 10, rng.normal(size=(8, 1)) * 10
    weights = []
    for kw in (dict(optimizer=KerasSGD(0.1, global_clipnorm=0.5)),
               dict(optimizer="sgd", clipnorm=0.5)):
        engine.manual_seed(1)
        model = nn.Linear(3, 1)
        fit(model, x, y, loss="mse", epochs=1, batch_size=8, shuffle=False, verbose=0, **kw)
        weights.append(model.weight.data.copy())
    engine.manual_seed(1)
    manual = nn.Linear(3, 1)
    opt = SGD(manual.parameters(), lr=0.1)
    F.mse_loss(manual(engine.tensor(x)), engine.tensor(y)).backward()
    assert nn.optim.clip_grad_norm_(manual.parameters(), 0.5) > 5
    opt.step()
    np.testing.assert_array_equal(weights[0], manual.weight.data)
    assert not np.array_equal(weights[0], weights[1])  # 'sgd' is lr 0.01, not 0.1


# ---------------------------------------------------------------- data sources
def _same_run(make_x, epochs=2, **kw):
    engine.manual_seed(2)
    model = nn.Linear(3, 1)
    h = fit(model, *make_x(), loss="mse", metrics=["mae"], epochs=epochs,
            optimizer=SGD(model.parameters(), lr=0.05), verbose=0, **kw)
    return h.history, model.weight.data.copy()


def test_fit_on_loaders_datasets_generators_equals_fit_on_arrays():
    from nn.data import DataLoader, TensorDataset
    x, y = regression_data(n=50)
    val = regression_data(n=10, seed=1)
    ref = _same_run(lambda: (x, y), batch_size=16, shuffle=False, validation_data=val)
    val_loader = DataLoader(*val, batch_size=4)
    sources = [
        lambda: (DataLoader(x, y, batch_size=16),),
        lambda: (DataLoader(TensorDataset(x, y), batch_size=16),),
        lambda: ([(x[i:i + 16], y[i:i + 16]) for i in range(0, 50, 16)],),  # a list of batches
    ]
    for make in sources:
        got = _same_run(make, validation_data=val_loader)
        for key in ref[0]:  # validation batches differ (4 vs 32): rounding only
            assert got[0][key] == (ref[0][key] if not key.startswith("val_")
                                   else pytest.approx(ref[0][key], rel=1e-6))
        np.testing.assert_array_equal(got[1], ref[1])
    # A Dataset is batched with batch_size, in order when shuffle=False.
    got = _same_run(lambda: (TensorDataset(x, y),), batch_size=16, shuffle=False,
                    validation_data=val)
    assert got[0] == ref[0]
    # A generator: one pass, then training stops with Keras's warning.
    one_epoch = _same_run(lambda: (x, y), epochs=1, batch_size=16, shuffle=False)
    gen = ((x[i:i + 16], y[i:i + 16]) for i in range(0, 50, 16))
    with pytest.warns(UserWarning, match="ran out of data"):
        got = _same_run(lambda: (gen,), epochs=3)
    assert got[0] == one_epoch[0] and len(got[0]["loss"]) == 1


def test_fit_generator_with_steps_per_epoch_and_predict_evaluate_on_loaders():
    from nn.data import DataLoader

    def forever(x, y):
        while True:
            for i in range(0, len(x), 10):
                yield x[i:i + 10], y[i:i + 10]

    x, y = regression_data(n=20)
    engine.manual_seed(0)
    model = nn.Linear(3, 1)
    h = fit(model, forever(x, y), loss="mse", optimizer="sgd", epochs=3, steps_per_epoch=2,
            verbose=0)
    assert len(h.history["loss"]) == 3 and h.params["steps"] == 2
    loader = DataLoader(x, y, batch_size=6)
    assert evaluate(model, loader, loss="mse") == pytest.approx(evaluate(model, x, y,
                                                                          loss="mse"))
    np.testing.assert_array_equal(predict(model, loader), predict(model, x, batch_size=6))
    np.testing.assert_array_equal(predict(model, DataLoader(x, batch_size=6)),
                                  predict(model, x, batch_size=6))
    with pytest.raises(ValueError, match="validation_split needs x and y as arrays"):
        fit(model, loader, loss="mse", optimizer="sgd", validation_split=0.2, verbose=0)
    with pytest.raises(ValueError, match="do not give batch_size"):
        fit(model, loader, loss="mse", optimizer="sgd", batch_size=4, verbose=0)
    with pytest.raises(ValueError, match="y must be None"):
        fit(model, loader, y, loss="mse", optimizer="sgd", verbose=0)
    with pytest.raises(ValueError, match="y is missing"):
        fit(model, x, loss="mse", optimizer="sgd", verbose=0)
    with pytest.raises(ValueError, match="one-shot generator"):
        fit(model, x, y, loss="mse", optimizer="sgd", verbose=0,
            validation_data=forever(x, y))
    with pytest.raises(ValueError, match="sample_weight"):
        fit(model, [(x, y, np.ones(20))], loss="mse", optimizer="sgd", verbose=0)
    with pytest.raises(ValueError, match="a batch must be a pair"):
        fit(model, DataLoader(x, batch_size=5), loss="mse", optimizer="sgd", verbose=0)


def test_fit_builds_lazy_layers_before_the_optimizer():
    x, y = regression_data(n=30)
    engine.manual_seed(0)
    model = nn.Sequential(nn.Dense(8, "relu"), nn.Dense(1))
    assert list(model.parameters()) == []
    h = fit(model, x, y, loss="mse", optimizer="adam", epochs=2, verbose=0)
    assert [p.shape for p in model.parameters()] == [(8, 3), (8,), (1, 8), (1,)]
    assert len(h.optimizer.param_groups[0]["params"]) == 4
    lazy = nn.Sequential(nn.Dense(4), nn.Dense(1, input_shape=(4,)))
    with pytest.raises(ValueError, match="not in the optimizer.*lazy layers"):
        fit(lazy, x, y, loss="mse", optimizer=SGD(lazy.parameters(), lr=0.1), verbose=0)


def test_fit_with_lbfgs_passes_a_closure():
    # Full-batch least squares: L-BFGS through fit reaches numpy's lstsq solution.
    x, y = regression_data(n=60)
    model = nn.Linear(3, 1).double() if hasattr(nn.Linear(3, 1), "double") else None
    if model is None:
        model = nn.Linear(3, 1)
        for name in ("weight", "bias"):
            setattr(model, name, nn.Parameter(getattr(model, name).data, dtype=np.float64))
    opt = nn.optim.LBFGS(model.parameters(), line_search_fn="strong_wolfe", max_iter=50,
                         tolerance_grad=1e-12, tolerance_change=1e-15)
    h = fit(model, x, y, loss="mse", optimizer=opt, epochs=2, batch_size=60, verbose=0)
    a = np.hstack([x, np.ones((60, 1))])
    coef = np.linalg.lstsq(a, y, rcond=None)[0].ravel()
    np.testing.assert_allclose(model.weight.data.ravel(), coef[:3], atol=1e-6)
    np.testing.assert_allclose(model.bias.data, coef[3:], atol=1e-6)
    assert h.history["loss"][0] > h.history["loss"][1]  # logged: before each step


def test_reduce_lr_on_plateau_through_fit():
    # x = 0 and y = 0: the gradients are 0, the validation loss stays 0: every epoch after
    # the first is a bad one. patience=1, factor 0.5 (PyTorch's rule: cut when bad epochs
    # exceed patience): lr per epoch 1, 1, 1, 0.5, 0.5, 0.25 by hand.
    x, y = np.zeros((8, 2)), np.zeros((8, 1))
    model = nn.Linear(2, 1)
    opt = SGD(model.parameters(), lr=1.0)
    sched = nn.optim.ReduceLROnPlateau(opt, patience=1, factor=0.5)
    h = fit(model, x, y, loss="mse", optimizer=opt, scheduler=sched, epochs=6,
            validation_data=(x, y), verbose=0)
    assert h.history["lr"] == [1.0, 1.0, 1.0, 0.5, 0.5, 0.25]
    with pytest.raises(KeyError, match="monitor 'val_loss' is not in the logs"):
        fit(model, x, y, loss="mse", optimizer=opt, scheduler=sched, epochs=1, verbose=0)


# ---------------------------------------------------------------- CSVLogger, checkpoints
def test_csv_logger(tmp_path):
    import csv
    path = tmp_path / "log.csv"
    x, y = regression_data(n=20)
    engine.manual_seed(0)
    model = nn.Linear(3, 1)
    opt = SGD(model.parameters(), lr=0.05)
    h = fit(model, x, y, loss="mse", metrics=["mae"], optimizer=opt, epochs=3, verbose=0,
            validation_split=0.25, callbacks=[nn.CSVLogger(path)])
    rows = list(csv.reader(path.read_text().splitlines()))
    assert rows[0] == ["epoch", "loss", "mae", "val_loss", "val_mae"]  # Keras: keys sorted
    assert [int(r[0]) for r in rows[1:]] == [0, 1, 2]
    assert [float(r[3]) for r in rows[1:]] == h.history["val_loss"]  # repr: exact
    more = nn.CSVLogger(path, append=True, separator=";")
    fit(model, x, y, loss="mse", metrics=["mae"], optimizer=opt, epochs=5, initial_epoch=3,
        verbose=0, validation_split=0.25, callbacks=[more])
    lines = path.read_text().splitlines()
    assert len(lines) == 6 and lines[4].startswith("3;") and lines[5].startswith("4;")
    assert [p.name for p in tmp_path.iterdir()] == ["log.csv"]  # atomic: no leftovers
    (tmp_path / "cut.csv").write_text("epoch,loss\n0,1.")
    with pytest.raises(ValueError, match="middle of a line"):
        fit(model, x, y, loss="mse", optimizer=opt, verbose=0,
            callbacks=[nn.CSVLogger(tmp_path / "cut.csv", append=True)])
    assert nn.callbacks.CSVLogger is nn.CSVLogger


def test_model_checkpoint_initial_threshold_and_load_model(tmp_path):
    x, y = regression_data(n=40)
    engine.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    opt = Adam(model.parameters(), lr=0.01)
    never = ModelCheckpoint(tmp_path / "never.npz", save_best_only=True, monitor="loss",
                            initial_value_threshold=-1.0)
    best = ModelCheckpoint(tmp_path / "best.npz", save_best_only=True, monitor="loss")
    fit(model, x, y, loss="mse", optimizer=opt, epochs=3, verbose=0, callbacks=[never, best])
    assert not (tmp_path / "never.npz").exists()  # nothing beat a loss of -1
    rebuilt = nn.load_model(tmp_path / "best.npz")
    np.testing.assert_array_equal(rebuilt[2].weight.data, model[2].weight.data)
    np.testing.assert_array_equal(predict(rebuilt, x), predict(model, x))


def test_shuffling_loader_equals_shuffled_arrays_with_lazy_layers():
    # DataLoader(shuffle=True) draws the same permutation per epoch as fit's own shuffling;
    # building the lazy layers must not draw from the generator (no peek into the loader).
    # (With num_workers > 0 each epoch draws the workers' base seed first: other orders.)
    from nn.data import DataLoader
    x, y = regression_data(n=48)
    runs = []
    for make in (lambda: dict(x=x, y=y, batch_size=16),
                 lambda: dict(x=DataLoader(x, y, batch_size=16, shuffle=True)),
                 lambda: dict(x=DataLoader(nn.data.TensorDataset(x, y), batch_size=16,
                                           shuffle=True))):
        engine.manual_seed(6)
        model = nn.Sequential(nn.Dense(4, "tanh"), nn.Dense(1))
        h = fit(model, loss="mse", optimizer="sgd", epochs=3, verbose=0, **make())
        runs.append((h.history, [p.data.copy() for p in model.parameters()]))
    for history, weights in runs[1:]:
        assert history == runs[0][0]
        assert all(np.array_equal(a, b) for a, b in zip(weights, runs[0][1], strict=True))


def test_fit_on_a_loader_with_workers_does_not_depend_on_how_many():
    # Each epoch's iter() draws one base seed, whatever num_workers > 0 is; batches come in
    # the loader's order, so fit sees the same batches with 1 worker or 3.
    from nn.data import DataLoader
    x, y = regression_data(n=48)
    runs = []
    for workers in (1, 3):
        engine.manual_seed(6)
        model = nn.Sequential(nn.Dense(4, "tanh"), nn.Dense(1))
        loader = DataLoader(nn.data.TensorDataset(x, y), batch_size=16, shuffle=True,
                            num_workers=workers)
        h = fit(model, loader, loss="mse", optimizer="sgd", epochs=3, verbose=0)
        runs.append((h.history, [p.data.copy() for p in model.parameters()]))
    assert runs[0][0] == runs[1][0]
    assert all(np.array_equal(a, b) for a, b in zip(runs[0][1], runs[1][1], strict=True))


def test_fit_takes_a_torch_dataloader():
    torch = pytest.importorskip("torch")
    x, y = regression_data(n=32)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.tensor(x), torch.tensor(y)), batch_size=8)
    histories = []
    for source in (dict(x=loader), dict(x=x, y=y, batch_size=8, shuffle=False)):
        engine.manual_seed(0)
        model = nn.Linear(3, 1)
        histories.append(fit(model, loss="mse", optimizer="sgd", epochs=2, verbose=0,
                             **source).history)
    assert histories[0] == histories[1]


def test_keras_compile_calls_your_functions_as_keras_does():
    # Keras calls a custom loss or metric as fn(y_true, y_pred); fit calls loss(pred, target)
    # (PyTorch's order). compile() swaps them back for functions of the user's, so an
    # asymmetric metric keeps its sign; nn.F's own functions keep their order.
    from nn.keras import Sequential
    from nn.keras.layers import Dense
    seen = []

    def signed_error(y_true, y_pred):
        seen.append((y_true.shape, y_pred.shape))
        return float(np.mean(y_pred.data - np.asarray(y_true.data)))

    model = Sequential([Dense(1, input_shape=(2,))])
    model.set_weights([np.zeros((2, 1), np.float32), np.array([0.5], np.float32)])
    model.compile(optimizer="sgd", loss=nn.F.mse_loss, metrics=[signed_error])
    x = np.zeros((4, 2), np.float32)
    y = np.array([[1.0], [1.0], [2.0], [2.0]], np.float32)
    loss, metric = model.evaluate(x, y, verbose=0)
    assert metric == pytest.approx(0.5 - 1.5) and loss == pytest.approx((0.25 + 2.25) / 2)
    assert seen[0] == ((4, 1), (4, 1))


def test_keras_accuracy_for_sparse_labels_of_shape_n_1_and_multi_label_outputs():
    # (N, 1) integer labels against (N, C) probabilities: the labels (the argmax of the
    # one-column labels, always 0, was compared before); 'accuracy' is chosen by shape as
    # Keras 3 chooses it, whatever the loss: (N, 3) outputs → the argmax (Keras 3.15's
    # evaluate gives 1.0 on these; its binary accuracy would be 4/6).
    probs = np.array([[0.1, 0.8, 0.1], [0.7, 0.2, 0.1], [0.2, 0.2, 0.6]], np.float32)
    labels = np.array([[1], [2], [2]])
    assert F.accuracy(engine.tensor(probs), labels) == pytest.approx(2 / 3)
    ident = nn.Identity()
    acc = evaluate(ident, probs, labels, loss="sparse_categorical_crossentropy",
                   metrics=["accuracy"])[1]
    assert acc == pytest.approx(2 / 3)
    multi = np.array([[0.9, 0.2, 0.7], [0.4, 0.6, 0.1]], np.float32)
    target = np.array([[1, 0, 0], [0, 1, 1]], np.float32)  # argmaxes 0, 1 and 0, 1
    acc = evaluate(ident, multi, target, loss="binary_crossentropy", metrics=["accuracy"])[1]
    assert acc == 1.0
    acc = evaluate(ident, multi, target, loss="binary_crossentropy",
                   metrics=["binary_accuracy"])[1]
    assert acc == pytest.approx(4 / 6)  # 4 of the 6 outputs right, asked for by name


def test_binary_accuracy_thresholds_every_output():
    """Keras's binary_accuracy (what 'accuracy' is with binary_crossentropy): each output
    thresholded at 0.5 against its 0/1 target, the mean over all outputs; not F.accuracy's
    argmax over columns. A length mismatch names both shapes."""
    from nn.training import _metric_table
    binary = _metric_table()["binary_accuracy"]
    multi = np.array([[0.9, 0.7], [0.4, 0.6]], np.float32)
    target = np.array([[1, 0], [0, 1]], np.float32)
    assert binary(engine.tensor(multi), target) == pytest.approx(3 / 4)
    assert F.accuracy(multi, target) == 1.0
    column = np.array([[0.9], [0.2], [0.6]], np.float32)
    assert binary(column, engine.tensor([[1.0], [0.0], [0.0]])) == pytest.approx(2 / 3)
    assert binary(column, np.array([1, 0, 1])) == 1.0  # (N,) against (N, 1): by size
    # targets as given, as Keras's y_true == (y_pred > 0.5): a soft 0.9 never counts
    # (Keras 3.15: binary_accuracy([[0.9], [0.0]], [[0.8], [0.3]]) = [0, 1], mean 0.5)
    assert binary(np.array([[0.8], [0.3]]), np.array([[0.9], [0.0]])) == 0.5
    with pytest.raises(ValueError, match=r"^binary_accuracy: \(3, 1\) predictions but \(2,\) "
                                         r"targets$"):
        binary(column, np.zeros(2))
    with pytest.raises(ValueError, match=r"^binary_accuracy: \(2, 2\) predictions but "
                                         r"\(2, 1\) targets$"):
        binary(multi, np.zeros((2, 1)))


def test_keras_categorical_losses_refuse_the_other_kind_of_target():
    probs = np.full((2, 3), 1 / 3, np.float32)
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy: targets must be "
                                         "integer labels"):
        evaluate(nn.Identity(), probs, np.eye(3, dtype=np.float32)[:2],
                 loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="categorical_crossentropy: targets must be one-hot"):
        evaluate(nn.Identity(), probs, np.array([0, 2]), loss="categorical_crossentropy")
    # the right kinds give −ln(1/3)
    assert evaluate(nn.Identity(), probs, np.array([[0], [2]]),
                    loss="sparse_categorical_crossentropy") == pytest.approx(math.log(3))
    assert evaluate(nn.Identity(), probs, np.eye(3, dtype=np.float32)[:2],
                    loss="categorical_crossentropy") == pytest.approx(math.log(3), rel=1e-6)


def test_learning_rate_scheduler_takes_keras_3s_one_argument_schedule():
    # Keras 3 accepts schedule(epoch) -> lr as well as schedule(epoch, lr) -> lr.
    engine.manual_seed(0)
    x, y = regression_data(n=16)
    model = nn.Linear(3, 1)
    h = fit(model, x, y, loss="mse", optimizer=SGD(model.parameters(), lr=0.5), epochs=3,
            batch_size=16, verbose=0,
            callbacks=[LearningRateScheduler(lambda epoch: 0.1 / (epoch + 1))])
    assert h.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.1 / 3], rel=1e-15)
    with pytest.raises(TypeError, match=r"schedule must take \(epoch, lr\) or \(epoch\)"):
        LearningRateScheduler(lambda a, b, c: 0.1)


def test_steps_per_epoch_on_arrays_carries_on_through_the_data_as_keras():
    # 50 samples in batches of 8 = 7 batches a pass. steps_per_epoch=3 (Keras's rule):
    # epoch 1 takes batches 0-2, epoch 2 batches 3-5, epoch 3 batch 6 and stops at the end
    # of the pass (warning), epoch 4 starts a new pass. Each epoch used to restart at batch 0.
    seen = []

    class Spy(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(np.zeros((1, 1), np.float32))

        def forward(self, x):
            seen.append(int(x.data[0, 0]))
            return x[:, :1] * self.w

    x = np.repeat(np.arange(50, dtype=np.float32)[:, None], 2, axis=1)
    model = Spy()
    with pytest.warns(UserWarning, match="steps_per_epoch=3 but a pass over the data has 7 "
                                         "batches"):
        fit(model, x, np.zeros((50, 1), np.float32), loss="mse", shuffle=False, epochs=4,
            batch_size=8, steps_per_epoch=3, optimizer=SGD(model.parameters(), lr=0.1),
            verbose=0)
    assert seen == [0, 8, 16, 24, 32, 40, 48, 0, 8, 16]  # first sample of each batch
