"""Rendering helpers shared by every drawing: the Digraph subclass and ``save`` (atomic).

Every drawing is a :class:`Graph` (a ``graphviz.Digraph``): ``.source`` is the DOT text and
Jupyter shows it inline as SVG. Graphviz's ``dot`` program does the layout; when it is
missing, Jupyter shows the DOT text instead of a traceback, and writing a picture raises one
:class:`GraphvizNotFound` saying how to install it.
"""
from __future__ import annotations

from pathlib import Path

import graphviz

from nn.files import atomic_write  # shared with nn.save: unnamed temp file, atomic rename

INSTALL_HINT = ("Graphviz's 'dot' program is needed to render pictures and was not found on "
                "PATH. Install Graphviz: 'sudo apt-get install graphviz' (Debian/Ubuntu), "
                "'brew install graphviz' (macOS), 'conda install -c conda-forge graphviz' "
                "(conda), or see https://graphviz.org/download/ -- the DOT text is always "
                "available as graph.source, and save(graph, 'x.dot') needs no Graphviz.")


class GraphvizNotFound(graphviz.ExecutableNotFound):
    """Raised when a picture must be rendered and Graphviz's ``dot`` is not installed.

    A subclass of ``graphviz.ExecutableNotFound``, so code catching that still works.
    """

    def __init__(self, message: str = INSTALL_HINT):
        RuntimeError.__init__(self, message)  # skip the parent's formatting of `args`


class Graph(graphviz.Digraph):
    """A ``graphviz.Digraph`` that degrades gracefully without Graphviz's ``dot``.

    Jupyter display falls back to the DOT text; ``pipe``/``render`` raise
    :class:`GraphvizNotFound` with install instructions instead of a bare executable error.

    >>> g = Graph()
    >>> g.edge("a", "b")
    >>> "a -> b" in g.source
    True
    """

    def pipe(self, *args, **kwargs):
        try:
            return super().pipe(*args, **kwargs)
        except GraphvizNotFound:
            raise
        except graphviz.ExecutableNotFound:
            raise GraphvizNotFound() from None

    def render(self, *args, **kwargs):
        try:
            return super().render(*args, **kwargs)
        except GraphvizNotFound:
            raise
        except graphviz.ExecutableNotFound:
            raise GraphvizNotFound() from None

    def _repr_mimebundle_(self, include=None, exclude=None, **kwargs):
        # Jupyter calls this to show the graph; without `dot`, show the DOT text rather than
        # a traceback in the middle of a lesson.
        try:
            return super()._repr_mimebundle_(include=include, exclude=exclude, **kwargs)
        except graphviz.ExecutableNotFound:
            return {"text/plain": self.source}

    def _repr_svg_(self):
        """SVG text for front ends that use the older ``_repr_svg_`` hook (None without dot)."""
        try:
            return self.pipe(format="svg", encoding="utf-8")
        except graphviz.ExecutableNotFound:
            return None


_FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot",
            ".jpg": "jpg", ".jpeg": "jpg"}


def save(graph, path) -> Path:
    """Write a drawing to ``path``; the format comes from the suffix (.svg .png .pdf .dot).

    ``.dot`` writes the DOT text and needs no Graphviz; the others need ``dot`` and raise
    :class:`GraphvizNotFound` (with install instructions) without it. The write is atomic.

    >>> import os, tempfile
    >>> g = Graph(); g.edge("x", "y")
    >>> out = save(g, os.path.join(tempfile.mkdtemp(), "g.dot"))
    >>> "x -> y" in out.read_text()
    True
    """
    path = Path(path)
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"save: cannot tell the format of {str(path)!r}; use one of "
                         f"{', '.join(sorted(_FORMATS))}")
    if fmt == "dot":
        data = graph.source.encode("utf-8")
    else:
        try:
            data = graph.pipe(format=fmt)  # render first: no temp file is left on failure
        except graphviz.ExecutableNotFound:
            raise GraphvizNotFound() from None

    def write(tmp):
        with open(tmp, "wb") as f:
            f.write(data)

    return atomic_write(path, write)
