"""nn.callbacks: CSVLogger and TensorBoard written during fit, read back independently
(the csv module; TensorBoard's event-file framing and protobuf), and the progress bar on
stdout, in a terminal and in a real Jupyter kernel."""
import builtins
import csv
import struct

import numpy as np
import pytest

import engine
import nn
from nn.callbacks import CSVLogger, TensorBoard
from nn.optim import SGD


def regression(n=40, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 3)).astype(np.float32)
    return x, (x @ np.array([1.0, -2.0, 0.5], np.float32))[:, None]


def train(callbacks, epochs=3, **kw):
    engine.manual_seed(0)
    x, y = regression()
    model = nn.Linear(3, 1)
    return fit_with(model, x, y, callbacks, epochs, **kw)


def fit_with(model, x, y, callbacks, epochs, **kw):
    opt = SGD(model.parameters(), lr=0.05)
    sched = nn.optim.ExponentialLR(opt, gamma=0.5)
    return nn.fit(model, x, y, loss="mse", metrics=["mae"], optimizer=opt, scheduler=sched,
                  epochs=epochs, batch_size=8, validation_split=0.25, callbacks=callbacks,
                  verbose=0, **kw)


def test_callbacks_module_has_the_keras_names():
    for name in ("Callback", "CSVLogger", "TensorBoard", "EarlyStopping", "ModelCheckpoint",
                 "LearningRateScheduler", "TerminateOnNaN", "History"):
        assert getattr(nn.callbacks, name) is getattr(nn, name)
    with pytest.raises(AttributeError):
        nn.callbacks.NoSuchCallback  # noqa: B018


def test_csv_logger_writes_every_epoch_as_fit_reports_it(tmp_path):
    path = tmp_path / "logs" / "run.csv"
    history = train([CSVLogger(path)])
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    # sorted; Keras 3's column is 'learning_rate' (the logs carry Keras 2's 'lr' too)
    assert list(rows[0]) == ["epoch", "learning_rate", "loss", "lr", "mae", "val_loss",
                             "val_mae"]
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    for key, values in history.history.items():
        assert [float(r[key]) for r in rows] == values  # repr round-trips floats exactly
    assert [float(r["lr"]) for r in rows] == [0.05, 0.025, 0.0125]  # by hand: 0.05·0.5^e


def test_csv_logger_append_continues_a_resumed_run(tmp_path):
    path = tmp_path / "run.csv"
    engine.manual_seed(0)
    x, y = regression()
    model = nn.Linear(3, 1)
    fit_with(model, x, y, [CSVLogger(path)], epochs=2)
    fit_with(model, x, y, [CSVLogger(path, append=True)], epochs=4, initial_epoch=2)
    lines = path.read_text().splitlines()
    assert lines[0].startswith("epoch,") and sum(line.startswith("epoch") for line in lines) == 1
    assert [line.split(",")[0] for line in lines[1:]] == ["0", "1", "2", "3"]


def test_csv_logger_missing_value_is_na_and_separator(tmp_path):
    log = CSVLogger(tmp_path / "x.tsv", separator="\t")
    log.on_train_begin()
    log.on_epoch_end(0, {"loss": 1.5, "acc": 0.25})
    log.on_epoch_end(1, {"loss": np.float32(0.5)})
    log.on_train_end()
    assert (tmp_path / "x.tsv").read_text().splitlines() == ["epoch\tacc\tloss",
                                                              "0\t0.25\t1.5", "1\tNA\t0.5"]


def read_events(path):
    """Scalars of a TensorBoard event file: TFRecord framing (length, masked CRC, data,
    masked CRC) around Event protobufs, decoded with the protobuf classes tensorboardX ships."""
    from tensorboardX.proto.event_pb2 import Event
    data, pos, out = path.read_bytes(), 0, []
    while pos < len(data):
        (length,) = struct.unpack("<Q", data[pos:pos + 8])
        event = Event.FromString(data[pos + 12:pos + 12 + length])
        pos += 12 + length + 4
        for value in event.summary.value:
            out.append((value.tag, event.step, value.simple_value))
    return out


def test_tensorboard_scalars_per_epoch(tmp_path):
    pytest.importorskip("tensorboardX", reason="tensorboardX is not installed")
    history = train([TensorBoard(tmp_path / "tb")])
    train_files = list((tmp_path / "tb" / "train").glob("events.out.tfevents.*"))
    val_files = list((tmp_path / "tb" / "validation").glob("events.out.tfevents.*"))
    assert len(train_files) == 1 and len(val_files) == 1
    by_file = {which: {} for which in ("train", "validation")}
    for which, files in (("train", train_files), ("validation", val_files)):
        for tag, step, value in read_events(files[0]):
            by_file[which].setdefault(tag, []).append((step, value))
    assert [s for s, _ in by_file["train"]["epoch_loss"]] == [0, 1, 2]
    assert sorted(by_file["train"]) == ["epoch_learning_rate", "epoch_loss", "epoch_mae"]
    assert sorted(by_file["validation"]) == ["epoch_loss", "epoch_mae"]  # Keras's layout
    np.testing.assert_allclose([v for _, v in by_file["train"]["epoch_loss"]],
                               history.history["loss"], rtol=1e-6)  # stored as float32
    np.testing.assert_allclose([v for _, v in by_file["validation"]["epoch_mae"]],
                               history.history["val_mae"], rtol=1e-6)
    np.testing.assert_allclose([v for _, v in by_file["train"]["epoch_learning_rate"]],
                               [0.05, 0.025, 0.0125], rtol=1e-6)


def test_tensorboard_without_tensorboardx_says_what_to_install(monkeypatch):
    real_import = builtins.__import__

    def no_tbx(name, *args, **kwargs):
        if name.startswith("tensorboardX"):
            raise ImportError("No module named 'tensorboardX'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tbx)
    with pytest.raises(ImportError, match=r"^nn.callbacks.TensorBoard .*pip install "
                                          r"tensorboardX \(or pip install "
                                          r"'stepgrad\[tensorboard\]'\)$"):
        TensorBoard("logs")


def test_progress_bar_goes_to_stdout_and_is_quiet_in_logs(capsys):
    engine.manual_seed(0)
    x, y = regression()
    model = nn.Linear(3, 1)
    nn.fit(model, x, y, loss="mse", optimizer=SGD(model.parameters(), lr=0.05), epochs=2,
           batch_size=4, verbose=1)
    out, err = capsys.readouterr()
    assert err == ""
    # captured stdout is no terminal: a draw at the start, with the epoch's logs, and at
    # close (mininterval 30 s), not one per batch (10 batches)
    assert out.count("Epoch 1/2") <= 3 and out.count("Epoch 2/2") <= 3
    assert "10/10" in out


def test_progress_bar_in_a_jupyter_kernel_writes_no_stderr():
    """The notebook case, run for real: a kernel executes fit(verbose=1); the saved cell
    must have no stderr stream (the pink lines) and show the finished bar."""
    nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed")
    nbclient = pytest.importorskip("nbclient", reason="nbclient is not installed")
    pytest.importorskip("ipykernel", reason="ipykernel is not installed")
    cell = ("import numpy as np, nn\n"
            "m = nn.Linear(2, 1)\n"
            "h = nn.fit(m, np.zeros((64, 2)), np.zeros(64), loss='mse', epochs=2, verbose=1,\n"
            "           optimizer=nn.optim.SGD(m.parameters(), lr=0.1))")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    # ipykernel's own "python3" kernel runs this interpreter (sys.executable)
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    outputs = nb.cells[0].outputs
    assert not [o for o in outputs if o.get("name") == "stderr"], outputs
    shown = "".join(o.get("text", "") for o in outputs) + "".join(
        str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert "Epoch 2/2" in shown or any(o.output_type == "display_data" for o in outputs)
