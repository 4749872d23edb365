"""viz.plot_history / plot_curve / show_images, built headless (Agg)."""
import os
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")  # before anything imports pyplot: no display in tests

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import engine  # noqa: E402
import viz  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def history(n=5, lr=True):
    h = {"loss": list(np.linspace(1.0, 0.2, n)), "val_loss": list(np.linspace(1.1, 0.4, n)),
         "accuracy": list(np.linspace(0.5, 0.9, n)), "val_accuracy": list(np.linspace(0.4, 0.8, n)),
         "mae": list(np.linspace(0.9, 0.3, n))}
    if lr:
        h["lr"] = [0.1 * 0.5 ** i for i in range(n)]
    return h


def test_plot_history_one_axis_per_quantity_with_train_and_validation_lines():
    fig = viz.plot_history(history())
    assert isinstance(fig, Figure)
    assert [ax.get_title() for ax in fig.axes] == ["loss", "accuracy", "mae", "learning rate"]
    assert [len(ax.get_lines()) for ax in fig.axes] == [2, 2, 1, 1]
    loss_ax = fig.axes[0]
    assert [t.get_text() for t in loss_ax.get_legend().get_texts()] == ["train", "validation"]
    assert list(loss_ax.get_lines()[0].get_xdata()) == [1, 2, 3, 4, 5]  # epochs from 1
    assert loss_ax.get_yscale() == "linear" and fig.axes[-1].get_yscale() == "log"
    assert viz.plot_history(history(), log_scale=True).axes[0].get_yscale() == "log"


def test_plot_history_takes_a_history_object_and_minimal_dicts():
    obj = SimpleNamespace(history={"loss": [0.5, 0.25, 0.1]}, epoch=[0, 1, 2])
    fig = viz.plot_history(obj)
    assert len(fig.axes) == 1 and len(fig.axes[0].get_lines()) == 1
    fig = viz.plot_history({"loss": [1.0, -0.5]}, log_scale=True)  # non-positive: symlog
    assert fig.axes[0].get_yscale() == "symlog"
    fig = viz.plot_history(history(lr=False))
    assert len(fig.axes) == 3
    with pytest.raises(ValueError, match="empty"):
        viz.plot_history({"loss": []})
    with pytest.raises(TypeError, match="History"):
        viz.plot_history([1, 2, 3])


def test_plot_curve_lines_labels_and_log_axis():
    fig = viz.plot_curve([4, 8, 16], [0.9, 0.5, 0.4], xlabel="hidden size",
                         ylabel="final loss", title="capacity")
    ax = fig.axes[0]
    assert len(ax.get_lines()) == 1 and ax.get_legend() is None
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == \
        ("hidden size", "final loss", "capacity")
    fig = viz.plot_curve([4, 8, 16], {"train": [0.9, 0.5, 0.4], "test": [1, 0.7, 0.8]},
                         logx=True, logy=True)
    ax = fig.axes[0]
    assert len(ax.get_lines()) == 2 and ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["4", "8", "16"]
    with pytest.raises(ValueError, match="3 x values but 2"):
        viz.plot_curve([1, 2, 3], [1, 2])


def test_show_images_grid_titles_and_wrong_ones_in_red():
    rng = np.random.default_rng(0)
    imgs = rng.random((10, 1, 8, 8))
    labels = np.arange(10) % 3
    preds = labels.copy()
    preds[[1, 7]] = (preds[[1, 7]] + 1) % 3
    fig = viz.show_images(imgs, labels, preds, ncols=4)
    assert len(fig.axes) == 10  # 3 rows of 4, the two empty frames removed
    colours = [ax.title.get_color() for ax in fig.axes]
    assert [i for i, c in enumerate(colours) if c == "red"] == [1, 7]
    assert fig.axes[0].get_title() == "true 0\npred 0"
    assert fig.axes[1].spines["left"].get_edgecolor()[:3] == (1.0, 0.0, 0.0)
    assert fig._suptitle.get_text() == "2 of 10 wrong"
    # Scores are turned into predictions; class names replace indices.
    scores = np.eye(3)[preds]
    fig = viz.show_images(imgs, labels, scores, class_names=["a", "b", "c"])
    assert fig.axes[1].get_title() == "true b\npred c"
    assert fig.axes[0].get_images()[0].get_array().shape == (8, 8)


def test_show_images_accepts_common_layouts():
    flat = np.zeros((3, 784))  # MNIST as vectors
    assert viz.show_images(flat).axes[0].get_images()[0].get_array().shape == (28, 28)
    t = engine.zeros(2, 5, 5)
    fig = viz.show_images(t, labels=[3, 4])
    assert [ax.get_title() for ax in fig.axes] == ["3", "4"]
    rgb = np.zeros((2, 3, 4, 4))
    assert viz.show_images(rgb).axes[0].get_images()[0].get_array().shape == (4, 4, 3)
    with pytest.raises(ValueError, match="2 images but 3 labels"):
        viz.show_images(np.zeros((2, 4, 4)), labels=[1, 2, 3])
    with pytest.raises(ValueError, match="expected"):
        viz.show_images(np.zeros((2, 2, 2, 2, 2)))


def test_path_writes_the_figure_atomically(tmp_path):
    out = tmp_path / "plots" / "loss.png"
    fig = viz.plot_history(history(), path=out)
    assert isinstance(fig, Figure)
    assert out.read_bytes()[:8] == PNG
    viz.plot_curve([1, 2], [3, 4], path=tmp_path / "curve.svg")
    assert "<svg" in (tmp_path / "curve.svg").read_text()
    viz.show_images(np.zeros((2, 4, 4)), path=tmp_path / "grid.pdf")
    assert (tmp_path / "grid.pdf").read_bytes()[:4] == b"%PDF"
    leftovers = [p for p in os.listdir(tmp_path / "plots")] + \
        [p for p in os.listdir(tmp_path) if p.startswith(".")]
    assert leftovers == ["loss.png"]


def test_plot_curve_columns_with_labels():
    ys = np.c_[[1.0, 2.0, 3.0], [1.5, 2.5, 2.0]]
    fig = viz.plot_curve([0, 1, 2], ys, labels=("truth", "prediction"))
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.get_lines()] == ["truth", "prediction"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["truth", "prediction"]
    assert len(viz.plot_curve([0, 1, 2], ys).axes[0].get_lines()) == 2
    with pytest.raises(ValueError, match="2 lines but 1 labels"):
        viz.plot_curve([0, 1, 2], ys, labels=("truth",))


def test_headless_figures_are_not_kept_by_pyplot():
    import matplotlib.pyplot as plt
    before = plt.get_fignums()
    for _ in range(25):  # more than pyplot's 20-figure warning
        viz.plot_curve([1, 2], [3, 4])
    assert plt.get_fignums() == before
    png = viz.plot_curve([1, 2], [3, 4])._repr_png_()
    assert png[:8] == PNG


def test_in_a_notebook_every_plot_shows_once_wherever_it_is_made(tmp_path):
    """Run cells in a real Jupyter kernel (inline backend): a figure that is not the cell's
    last expression shows (notebook 05's case), one that is shows once, and pyplot is left
    with no open figure."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import viz\nviz.plot_curve([1, 2, 3], [1, 4, 9])\n"
                                  "print('after the plot')"),
        nbformat.v4.new_code_cell("viz.plot_curve([1, 2, 3], [1, 4, 9])"),
        nbformat.v4.new_code_cell("fig = viz.plot_history({'loss': [1.0, 0.5]})\nfig"),
        nbformat.v4.new_code_cell("for k in range(2):\n    viz.show_images([[[0.0, 1.0]]])"),
        nbformat.v4.new_code_cell("import matplotlib.pyplot as plt\nlen(plt.get_fignums())"),
    ]
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # Jupyter's default
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": os.getcwd()}})
    old = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(old)

    def images(cell):
        return sum("image/png" in o.get("data", {}) for o in cell.outputs)

    assert [images(c) for c in nb.cells[:4]] == [1, 1, 1, 2]
    assert "after the plot" in nb.cells[0].outputs[0]["text"]
    assert nb.cells[4].outputs[0]["data"]["text/plain"] == "0"


def test_plots_take_tensors_that_require_grad():
    # numpy refuses them (as PyTorch and matplotlib do); the plots only read the numbers
    x = engine.tensor(np.arange(8.0).reshape(2, 4), requires_grad=True)
    scores = x * 2  # a model's output, with its graph
    fig = viz.show_images(x.reshape(2, 2, 2), labels=engine.tensor([3, 2]), predictions=scores)
    assert [ax.get_title() for ax in fig.axes] == ["true 3\npred 3", "true 2\npred 3"]
    losses = [(x * k).sum() for k in (3.0, 2.0, 1.0)]  # a list of loss tensors
    line = viz.plot_curve([1, 2, 3], losses).axes[0].get_lines()[0]
    assert line.get_ydata().tolist() == [84.0, 56.0, 28.0]
    line = viz.plot_curve([1, 2], {"w": scores[0, :2]}).axes[0].get_lines()[0]
    assert line.get_ydata().tolist() == [0.0, 2.0]
    columns = [[(x * k).sum(), x[0, 0]] for k in (1.0, 2.0)]  # one row per epoch, two lines
    lines = viz.plot_curve([1, 2], columns, labels=["loss", "w"]).axes[0].get_lines()
    assert [ln.get_ydata().tolist() for ln in lines] == [[28.0, 56.0], [0.0, 0.0]]
