"""Rendering helpers shared by every drawing: the Digraph subclass and ``save`` (atomic).

Every drawing is a :class:`Graph` (a ``graphviz.Digraph``): ``.source`` is the DOT text and
Jupyter shows it inline as SVG. Graphviz's ``dot`` program does the layout; when it is
missing, Jupyter shows the DOT text instead of a traceback, and writing a picture raises one
:class:`GraphvizNotFound` saying how to install it.
"""
from __future__ import annotations

import re
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
    """A ``graphviz.Digraph`` that shows as inline SVG and degrades gracefully without ``dot``.

    Jupyter (and nbconvert's HTML) get the SVG inline through ``_repr_html_``, not as an
    ``<img>``, so the tooltips (each op's rule) work; a picture wider than the page scrolls
    instead of being shrunk. Without Graphviz, Jupyter shows the DOT text; ``pipe``/``render``
    raise :class:`GraphvizNotFound` with install instructions. The SVG is rendered once per
    DOT text and kept.

    >>> g = Graph()
    >>> g.edge("a", "b")
    >>> "a -> b" in g.source
    True
    """

    _svg_cache = None

    def pipe(self, format=None, *args, **kwargs):
        plain_svg = format == "svg" and not args and set(kwargs) <= {"encoding"}
        if plain_svg and self._svg_cache is not None and self._svg_cache[0] == self.source:
            data = self._svg_cache[1]
            return data.decode(kwargs["encoding"]) if kwargs.get("encoding") else data
        try:
            data = super().pipe(format, *args, **{k: v for k, v in kwargs.items()
                                                  if k != "encoding" or not plain_svg})
        except GraphvizNotFound:
            raise
        except graphviz.ExecutableNotFound:
            raise GraphvizNotFound() from None
        if plain_svg:
            self._svg_cache = (self.source, data)
            return data.decode(kwargs["encoding"]) if kwargs.get("encoding") else data
        return data

    def render(self, *args, **kwargs):
        try:
            return super().render(*args, **kwargs)
        except GraphvizNotFound:
            raise
        except graphviz.ExecutableNotFound:
            raise GraphvizNotFound() from None

    def svg(self) -> str:
        """The picture as SVG markup for an HTML page (no XML prolog)."""
        text = self.pipe(format="svg").decode("utf-8")
        return text[text.index("<svg"):]

    def _repr_html_(self):
        try:
            svg = self.svg()
        except graphviz.ExecutableNotFound:
            return None
        hover = ('<div style="font: 12px sans-serif; color: #555">hover over an op to see '
                 'its derivative rule</div>') if "<a xlink:title=" in svg else ""
        return f'<div style="max-width: 100%; overflow: auto">{svg}</div>{hover}'

    def _repr_mimebundle_(self, include=None, exclude=None, **kwargs):
        # Inline SVG in HTML (tooltips work); without `dot`, the DOT text rather than a
        # traceback in the middle of a lesson.
        html = self._repr_html_()
        if html is None:
            return {"text/plain": self.source}
        return {"text/html": html, "text/plain": f"<stepgrad graph: {len(self.source)} "
                                                 f"characters of DOT>"}

    def _repr_svg_(self):
        """SVG text for front ends that use the older ``_repr_svg_`` hook (None without dot)."""
        try:
            return self.pipe(format="svg", encoding="utf-8")
        except graphviz.ExecutableNotFound:
            return None


_SIZE = re.compile(r'<svg[^>]*?width="([\d.]+)(pt|px)?"[^>]*?height="([\d.]+)(pt|px)?"', re.S)


def svg_size(graph_or_svg) -> tuple:
    """(width, height) of a rendered picture in pixels at 96 dpi (Graphviz writes points)."""
    text = graph_or_svg if isinstance(graph_or_svg, str) else graph_or_svg.svg()
    m = _SIZE.search(text)
    if m is None:
        raise ValueError("svg_size: no width/height in the SVG")
    f = 96 / 72 if (m.group(2) or "pt") == "pt" else 1.0
    w, h = float(m.group(1)) * f, float(m.group(3)) * f
    return round(w), round(h)


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
