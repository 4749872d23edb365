"""stepgrad's one colour language, defined here once and used by every drawing, the player
and the ``stepgrad`` command.

- A value's *kind* is its fill (and border): parameters blue, inputs and constants yellow,
  intermediate values white, the loss (the root, where backprop starts) green.
- With ``color_by='grad'`` the fill shows the gradient's size instead (log10 |grad|, blue =
  vanishing, red = exploding, magenta = NaN/Inf, grey = exactly 0) and the border keeps the
  kind.
- The node a backprop step explains has a thick red border; values whose gradient is not
  known yet show ``grad ?`` in grey.

The legend (:func:`legend`) is an HTML-like Graphviz label placed inside the picture, under
the graph; it lists only the entries the picture uses. Text is never smaller than
``MIN_PT`` points, and a picture the notebooks, the README or the tour show fits ``BOX_PX``
at 96 dpi (see ``viz.graph``'s ``fit``).
"""
from __future__ import annotations

import html
import math

FONT = "Helvetica"
MIN_PT = 10             # no text below 10 pt (at 96 dpi: 13.3 px)
TITLE_PT = 11
BOX_PX = (1600, 1000)   # a slide / a browser window: every default picture fits
DPI = 96

# kind → (fill, border, words in the legend)
KINDS = {
    "parameter": ("#bcd7ff", "#1f5fbf", "parameter"),
    "input": ("#ffe9a8", "#b8860b", "input / constant"),
    "intermediate": ("#ffffff", "#000000", "intermediate"),
    "loss": ("#b9e8b9", "#2e8b2e", "loss / output"),
}
GROUP_BORDER = "#555555"    # a collapsed module or composite (one node for many)
GROUP_FILL = "#f2f2f2"
CURRENT = "#d62728"         # the node a step explains, and the gradients it sends
PENDING_TEXT = "#9a9a9a"    # "grad ?": not known yet at this step
STATE = "#6a3d9a"           # recurrent nets: the state handed from step t to t + 1
SHARED = KINDS["parameter"][1]  # edges from weights shared by every timestep
NONFINITE = "#ff00ff"       # NaN/Inf gradient: a colour the scale never produces
ZERO = "#bdbdbd"            # a gradient of exactly 0: no signal at all (grey, not "small")
NO_GRAD = "#ffffff"
# Reversed ColorBrewer RdYlBu: blue = vanishing, red = exploding; the pale middle (|grad| ≈ 1)
# keeps black text readable.
SCALE = ["#4575b4", "#74add1", "#abd9e9", "#e0f3f8", "#ffffbf", "#fee090", "#fdae61",
         "#f46d43", "#d73027"]


def _hex(rgb) -> str:
    return "#" + "".join(f"{int(round(c)):02x}" for c in rgb)


def scale_colour(t: float) -> str:
    """Position ``t`` in [0, 1] on the gradient scale → ``#rrggbb`` (linear in RGB)."""
    t = min(max(t, 0.0), 1.0) * (len(SCALE) - 1)
    i = min(int(t), len(SCALE) - 2)
    a = [int(SCALE[i][k:k + 2], 16) for k in (1, 3, 5)]
    b = [int(SCALE[i + 1][k:k + 2], 16) for k in (1, 3, 5)]
    f = t - i
    return _hex([x + (y - x) * f for x, y in zip(a, b, strict=True)])


def is_dark(colour: str) -> bool:
    """Whether black text would be hard to read on ``#rrggbb`` (relative luminance)."""
    r, g, b = (int(colour[k:k + 2], 16) / 255 for k in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.45


class GradScale:
    """Maps |grad| to a colour on a log10 scale centred on 1 (the gradient backprop starts
    with at the root): pale = about 1, blue = vanishing, red = exploding. The scale spans
    ±max(2, the largest |log10| in the graph) decades. Exactly 0 is grey and NaN/Inf magenta:
    neither is a point on the scale.

    >>> s = GradScale([1e-3, 5.0])
    >>> (s.lo, s.hi), s.colour(1.0) == scale_colour(0.5), s.colour(0.0) == ZERO
    ((-3, 3), True, True)
    """

    def __init__(self, magnitudes):
        logs = [abs(math.log10(m)) for m in magnitudes if m is not None and 0 < m < math.inf]
        span = max([2] + [math.ceil(v) for v in logs])
        self.lo, self.hi = -span, span

    def colour(self, m) -> str:
        if m is None:
            return NO_GRAD
        if not math.isfinite(m):
            return NONFINITE
        if m == 0:
            return ZERO
        return scale_colour((math.log10(m) - self.lo) / (self.hi - self.lo))

    def ticks(self):
        """A few integer log10 values (at most 7) spanning the scale, low to high."""
        step = max(1, math.ceil((self.hi - self.lo) / 6))
        ticks = list(range(self.lo, self.hi + 1, step))
        return ticks if ticks[-1] == self.hi else ticks + [self.hi]


def _swatch(fill, border, text, width=2, dashed=False) -> str:
    style = ' STYLE="dashed"' if dashed else ""
    return (f'<TD BGCOLOR="{fill}" COLOR="{border}" BORDER="{width}" WIDTH="18" HEIGHT="12"'
            f'{style}></TD><TD ALIGN="LEFT" BORDER="0">{html.escape(text)}</TD>')


def legend(kinds=(), scale=None, step=False, group=False, extra=()) -> list:
    """The legend as rows of an HTML-like label (see :func:`graph_label`): one row of node
    kinds (only ``kinds`` given, in the fixed order of ``KINDS``), the step markers when
    ``step``, ``extra`` (fill, border, text) swatches, and a row with the gradient scale
    when ``scale`` is given. With a scale, the kind swatches are white with the kind's
    border: the fill then means |grad|, the border the kind."""
    cells = []
    for name, (fill, border, text) in KINDS.items():
        if name in kinds:
            cells.append(_swatch(NO_GRAD if scale is not None else fill, border, text))
    if group:
        cells.append(_swatch(GROUP_FILL, GROUP_BORDER, "several ops in one box"))
    for fill, border, text in extra:
        cells.append(_swatch(fill, border, text))
    rows = [cells]
    if step:
        cells = []
        rows.append(cells)
        cells.append(_swatch(NO_GRAD, CURRENT, "this step's node", 3))
        cells.append(f'<TD BORDER="0"><FONT COLOR="{PENDING_TEXT}">grad ?</FONT></TD>'
                     f'<TD ALIGN="LEFT" BORDER="0">not known yet</TD>')
        cells.append(f'<TD BORDER="0"><FONT COLOR="{CURRENT}">grad ← g</FONT></TD>'
                     f'<TD ALIGN="LEFT" BORDER="0">sent by this step</TD>')
    if scale is not None:
        sc = ['<TD ALIGN="RIGHT" BORDER="0">fill = log10 |grad|:</TD>']
        for k in scale.ticks():
            colour = scale.colour(10.0 ** k)
            font = ' COLOR="#ffffff"' if is_dark(colour) else ""
            sc.append(f'<TD BGCOLOR="{colour}" BORDER="1" COLOR="#666666">'
                      f'<FONT{font}>{k:+d}</FONT></TD>')
        sc.append(f'<TD BGCOLOR="{ZERO}" BORDER="1" COLOR="#666666">0 exactly</TD>')
        sc.append(f'<TD BGCOLOR="{NONFINITE}" BORDER="1" COLOR="#666666">NaN / Inf</TD>')
        sc.append(f'<TD BGCOLOR="{NO_GRAD}" BORDER="1" COLOR="#666666">no grad</TD>')
        rows.append(sc)
    # Each row is a table of its own: the scale's cells need not line up with the kinds'.
    return ['<TR><TD ALIGN="LEFT" BORDER="0"><TABLE BORDER="0" CELLSPACING="2" '
            'CELLPADDING="1"><TR>' + "".join(r) + "</TR></TABLE></TD></TR>"
            for r in rows if r]


def text_rows(lines, colour="#000000") -> list:
    """Left-aligned lines of text as one row of an HTML-like label (escaped)."""
    if not lines:
        return []
    body = "".join(html.escape(line) + '<BR ALIGN="LEFT"/>' for line in lines)
    return [f'<TR><TD ALIGN="LEFT" BALIGN="LEFT" BORDER="0"><FONT COLOR="{colour}">{body}'
            f'</FONT></TD></TR>']


def graph_label(*row_groups) -> str:
    """One HTML-like label from rows (text rows, legend rows), stacked top to bottom."""
    rows = [r for group in row_groups for r in group]
    if not rows:
        return ""
    return '<<TABLE BORDER="0" CELLSPACING="0" CELLPADDING="1">' + "".join(rows) + "</TABLE>>"
