"""Reading the DOT text and the SVG of stepgrad's pictures back, for the tests."""
import html
import re
import shutil

import pytest

from engine import Value

has_dot = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not has_dot, reason="Graphviz's dot is not installed")

_NODE = re.compile(r'^\s*"?([\w.]+)"? \[(.*)\]$')
_EDGE = re.compile(r'^\s*"?([\w.]+)"? -> "?([\w.]+)"?(?: \[(.*)\])?$')


def nodes(g):
    """DOT name → attribute text, for every node statement."""
    out = {}
    for line in g.source.splitlines():
        m = _NODE.match(line)
        if m and "->" not in line and m.group(1) not in ("node", "edge", "graph"):
            out[m.group(1)] = m.group(2)
    return out


def edges(g):
    """(tail, head, attribute text) of every edge, in the DOT text's order."""
    return [(m.group(1), m.group(2), m.group(3) or "") for line in g.source.splitlines()
            if (m := _EDGE.match(line))]


def visible_edges(g):
    return [e for e in edges(g) if "style=invis" not in e[2]]


def cells(attrs):
    """The texts of an HTML-like label's cells, tags stripped, in order."""
    label = re.search(r"label=<(.*)>", attrs)
    if label is None:
        m = re.search(r'label="((?:[^"\\]|\\.)*)"', attrs) or re.search(r"label=([\w.]+)",
                                                                           attrs)
        return [m.group(1)] if m else []
    out = []
    for td in re.findall(r"<TD[^>]*>(.*?)</TD>", label.group(1)):
        text = html.unescape(re.sub(r"<[^>]+>", "", td)).strip()
        if text:
            out.append(text)
    return out


def text(attrs):
    """A node's label as one line: cells joined with " | "."""
    return " | ".join(cells(attrs))


def attr(attrs, name):
    m = re.search(rf'\b{name}="?([^" ]*)"?', attrs)
    return m.group(1) if m else None


def table_colours(attrs):
    """(BGCOLOR, COLOR, BORDER) of a value box's table (inside its frame)."""
    m = re.search(r'<TABLE[^>]*?BORDER="(\d+)"[^>]*?BGCOLOR="(#[0-9a-f]{6})" '
                  r'COLOR="(#[0-9a-f]{6})"', attrs)
    return (m.group(2), m.group(3), int(m.group(1))) if m else None


def halo(attrs):
    """The colour of the frame around a value box (red: this step's node)."""
    m = re.search(r'label=<<TABLE BORDER="\d+" CELLBORDER="0" CELLSPACING="\d" '
                  r'CELLPADDING="0" COLOR="(#[0-9a-f]{6}|transparent)"', attrs)
    return m.group(1) if m else None


def by_title(g):
    """First cell text (a value's name, or its shape) → DOT name, for value boxes."""
    out = {}
    for name, attrs in nodes(g).items():
        cs = cells(attrs)
        if cs and "TABLE" in attrs:
            out.setdefault(cs[0], name)
    return out


def svg_font_sizes(svg):
    return [float(x) for x in re.findall(r'font-size="([\d.]+)"', svg)]


def svg_scale(svg):
    m = re.search(r'transform="scale\(([\d.]+) ([\d.]+)\)', svg)
    return (float(m.group(1)), float(m.group(2))) if m else (1.0, 1.0)


def neuron():
    """micrograd's neuron o = tanh(x1·w1 + x2·w2 + b), o = 0.7071: (o, its five leaves)."""
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    n = x1 * w1 + x2 * w2 + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    return o, dict(x1=x1, x2=x2, w1=w1, w2=w2, b=b)
