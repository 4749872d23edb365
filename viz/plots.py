"""Training pictures with matplotlib: loss curves, a metric against a setting, image grids.

Each function returns a ``matplotlib.figure.Figure`` and follows pyplot's rules, as a
matplotlib user expects: in Jupyter (the inline backend) and with a window backend the
figure is a pyplot figure, so it shows wherever in a cell it was made -- also when it is
not the cell's last expression -- and Jupyter closes it after showing it; returned as the
last expression it is not shown twice. Headless (Agg: scripts, CI, tests) the figure is
kept out of pyplot's list, so nothing piles up. ``path=`` also writes it (format from the
suffix: .png .svg .pdf ...), atomically.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .render import atomic_write
from .text import numbers

_LR_KEYS = ("lr", "learning_rate")
# Backends that draw to files only: figures there are never shown, so pyplot need not
# keep them.
_FILE_BACKENDS = {"agg", "cairo", "pdf", "pgf", "ps", "svg", "template"}


class NotebookFigure(Figure):
    """A matplotlib Figure that shows itself once in Jupyter.

    Made through pyplot (inline or window backend), Jupyter's inline backend shows it at
    the end of the cell; shown as the cell's result first, it leaves pyplot's list then, so
    it is not drawn twice. Made detached (a file backend such as Agg, e.g. a kernel started
    with ``MPLBACKEND=Agg``), it shows itself as a PNG wherever it is displayed.
    """

    def _ipython_display_(self):
        # Called for the cell's result and by the inline backend's end-of-cell showing of
        # pyplot's figures: show it, then close it in pyplot so it is not shown again.
        import matplotlib.pyplot as plt
        from IPython.display import Image, display
        display(Image(self._repr_png_()))
        if getattr(self, "number", None) is not None and plt.fignum_exists(self.number):
            plt.close(self)

    def _repr_png_(self):
        import io

        from matplotlib.backends.backend_agg import FigureCanvasAgg
        if not isinstance(self.canvas, FigureCanvasAgg):
            FigureCanvasAgg(self)
        buf = io.BytesIO()
        self.savefig(buf, format="png", dpi=80, bbox_inches="tight")
        return buf.getvalue()


def _backend() -> str:
    """The name of matplotlib's backend, without choosing one ("" if none is chosen yet)."""
    import matplotlib
    name = matplotlib.get_backend(auto_select=False) or os.environ.get("MPLBACKEND", "")
    return name.lower()


def new_figure(**kwargs) -> NotebookFigure:
    """A figure for the plot functions: a pyplot figure where figures are shown (Jupyter's
    inline backend, a window), a detached one where they are not (Agg: nothing kept)."""
    name = _backend()
    if name in _FILE_BACKENDS:
        return NotebookFigure(**kwargs)
    import matplotlib.pyplot as plt
    return plt.figure(FigureClass=NotebookFigure, **kwargs)


def _save(fig, path):
    if path is not None:
        fmt = Path(path).suffix.lstrip(".").lower() or "png"
        atomic_write(path, lambda tmp: fig.savefig(tmp, format=fmt, dpi=120,
                                                   bbox_inches="tight"))
    return fig


def _history_dict(history) -> dict:
    h = getattr(history, "history", history)
    if not hasattr(h, "items"):
        raise TypeError(f"plot_history: expected a History (with .history) or a dict of "
                        f"lists, got {type(history).__name__}")
    return {k: [float(v) for v in vs] for k, vs in h.items() if len(vs)}


def _groups(keys):
    """[('loss', ['loss', 'val_loss']), ('accuracy', [...]), ...]: a metric with its val_."""
    groups, used = [], set()
    for k in keys:
        if k in used or k in _LR_KEYS:
            continue
        base = k[4:] if k.startswith("val_") and k[4:] in keys else k
        members = [m for m in (base, "val_" + base) if m in keys and m not in used]
        used.update(members)
        groups.append((base, members))
    groups.sort(key=lambda g: g[0] != "loss")  # loss first
    return groups


def plot_history(history, log_scale=False, path=None) -> Figure:
    """Training curves per epoch: one subplot for loss (train and validation), one per
    metric (train and ``val_``), and one for the learning rate (log scale) when recorded.

    ``history``: an ``nn.fit`` History (``.history`` dict of lists) or a plain dict.
    ``log_scale=True`` puts the loss on a log axis (vanishing progress is easier to see).

    >>> fig = plot_history({"loss": [1.0, 0.5, 0.3], "val_loss": [1.1, 0.7, 0.6],
    ...                     "accuracy": [0.5, 0.8, 0.9], "lr": [0.1, 0.05, 0.025]})
    >>> [ax.get_title() for ax in fig.axes]
    ['loss', 'accuracy', 'learning rate']
    >>> len(fig.axes[0].get_lines())
    2
    """
    h = _history_dict(history)
    if not h:
        raise ValueError("plot_history: the history is empty (nothing was trained?)")
    groups = _groups(list(h))
    lr_key = next((k for k in _LR_KEYS if k in h), None)
    n = len(groups) + (lr_key is not None)
    fig = new_figure(figsize=(4.6 * n, 3.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, n, squeeze=False)[0])
    for ax, (name, members) in zip(axes, groups, strict=False):  # lr: last axis
        for key in members:
            ys = h[key]
            ax.plot(range(1, len(ys) + 1), ys, marker="o" if len(ys) <= 30 else None,
                    markersize=3, label="validation" if key.startswith("val_") else "train")
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if name == "loss" and log_scale:
            positive = all(v > 0 for m in members for v in h[m])
            ax.set_yscale("log" if positive else "symlog")
        ax.grid(alpha=0.3)
        ax.legend(frameon=False)
    if lr_key is not None:
        ax = axes[-1]
        ys = h[lr_key]
        ax.plot(range(1, len(ys) + 1), ys, color="tab:purple", drawstyle="steps-post")
        ax.set_title("learning rate")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if all(v > 0 for v in ys):
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_curve(xs, ys, xlabel="x", ylabel="y", title=None, path=None, logx=False,
               logy=False, labels=None) -> Figure:
    """One quantity against a setting, e.g. the final loss against the hidden size.

    ``ys`` is a sequence (one line), a 2-D array with one column per line (as
    ``plt.plot(x, Y)``), or a dict label → sequence; ``labels`` names the lines of the first
    two forms (a legend is drawn when lines have names). ``logx``/``logy`` use log axes
    (hidden sizes, learning rates).

    >>> fig = plot_curve([4, 8, 16, 32], {"train": [0.9, 0.5, 0.3, 0.2],
    ...                                   "test": [0.95, 0.6, 0.45, 0.5]},
    ...                  xlabel="hidden size", ylabel="final loss", logx=True)
    >>> len(fig.axes[0].get_lines()), fig.axes[0].get_xlabel()
    (2, 'hidden size')
    >>> fig = plot_curve([0, 1, 2], np.c_[[1, 2, 3], [1, 2, 4]], labels=("truth", "model"))
    >>> [line.get_label() for line in fig.axes[0].get_lines()]
    ['truth', 'model']
    """
    xs = numbers(xs, float)
    if hasattr(ys, "items"):
        series = list(ys.items())
    else:
        arr = numbers(ys, float)
        columns = [arr] if arr.ndim == 1 else list(arr.T)
        names = list(labels) if labels is not None else [None] * len(columns)
        if len(names) != len(columns):
            raise ValueError(f"plot_curve: {len(columns)} lines but {len(names)} labels")
        series = list(zip(names, columns, strict=True))
    fig = new_figure(figsize=(5.2, 3.6), layout="constrained")
    ax = fig.subplots()
    for label, values in series:
        values = numbers(values, float)
        if values.shape != xs.shape:
            raise ValueError(f"plot_curve: {len(xs)} x values but {values.size} y values"
                             + (f" for {label!r}" if label is not None else ""))
        ax.plot(xs, values, marker="o" if len(xs) <= 30 else None, label=label)
    if logx:
        ax.set_xscale("log", base=2 if np.all(np.log2(xs) % 1 == 0) else 10)
        if len(xs) <= 12:  # label the settings themselves (16, not 2⁴)
            ax.set_xticks(xs, [f"{x:g}" for x in xs])
            ax.minorticks_off()
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if any(label is not None for label, _ in series):
        ax.legend(frameon=False)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def _as_images(images) -> np.ndarray:
    """(N, H, W) or (N, H, W, 3) from (N, H, W), (N, 1|3, H, W), (N, H, W, 1|3),
    (H, W), or flattened square images (N, H·W)."""
    a = numbers(images, float)
    if a.ndim == 2:
        side = math.isqrt(a.shape[1])
        if side * side == a.shape[1] and a.shape[0] != a.shape[1]:
            a = a.reshape(-1, side, side)  # flattened images (MNIST as vectors)
        else:
            a = a[None]  # one image
    if a.ndim == 4:
        if a.shape[1] in (1, 3) and a.shape[-1] not in (1, 3):
            a = np.moveaxis(a, 1, -1)  # channels first → last
        if a.shape[-1] == 1:
            a = a[..., 0]
    if a.ndim not in (3, 4) or (a.ndim == 4 and a.shape[-1] != 3):
        raise ValueError(f"show_images: expected (N, H, W) or (N, 1, H, W) images, got "
                         f"shape {np.shape(images)}")
    return a


def show_images(images, labels=None, predictions=None, ncols=8, path=None,
                class_names=None, cmap="gray") -> Figure:
    """A grid of images titled with the true label and the prediction; wrong predictions
    get a red title and a red frame, and the figure's title counts them.

    ``images``: (N, H, W), (N, 1, H, W) (or channels-last / RGB) array or Tensor.
    ``predictions``: class indices (N,) or scores (N, C) (the argmax is taken).
    ``class_names`` maps indices to names.

    >>> imgs = np.zeros((3, 28, 28))
    >>> fig = show_images(imgs, labels=[1, 2, 3], predictions=[1, 2, 0])
    >>> len(fig.axes), [ax.title.get_color() for ax in fig.axes]
    (3, ['black', 'black', 'red'])
    """
    a = _as_images(images)
    n = a.shape[0]
    labels = None if labels is None else numbers(labels).reshape(-1)
    if predictions is not None:
        predictions = numbers(predictions)
        if predictions.ndim == 2:
            predictions = predictions.argmax(axis=1)
        predictions = predictions.reshape(-1)
    for name, v in (("labels", labels), ("predictions", predictions)):
        if v is not None and len(v) != n:
            raise ValueError(f"show_images: {n} images but {len(v)} {name}")

    def name_of(k):
        k = int(k)
        return str(class_names[k]) if class_names is not None else str(k)

    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    fig = new_figure(figsize=(1.35 * ncols, 1.55 * nrows + 0.3), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    wrong = 0
    for i, ax in enumerate(axes):
        if i >= n:
            fig.delaxes(ax)  # no empty frames after the last image
            continue
        ax.imshow(a[i], cmap=cmap if a.ndim == 3 else None, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        parts, colour = [], "black"
        if labels is not None:
            parts.append(name_of(labels[i]) if predictions is None else
                         f"true {name_of(labels[i])}")
        if predictions is not None:
            parts.append(f"pred {name_of(predictions[i])}")
            if labels is not None and int(predictions[i]) != int(labels[i]):
                colour, wrong = "red", wrong + 1
                for spine in ax.spines.values():
                    spine.set_color("red")
                    spine.set_linewidth(2)
        ax.set_title("\n".join(parts), fontsize=8, color=colour)
    if labels is not None and predictions is not None:
        fig.suptitle(f"{wrong} of {n} wrong", color="red" if wrong else "black", fontsize=10)
    return _save(fig, path)
