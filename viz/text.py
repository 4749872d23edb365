"""The words and numbers pictures show: number formats, array summaries, op labels, and the
derivative rules written in the names of the operands of the node being explained.

``rule(node, names)`` turns an op's generic formula (``d(a·b)/da = b``) into the node's own
(``d(d·f)/dd = f`` for ``L = d * f``); ``step_text(step)`` is ``str(step)`` from
``engine.backward_steps`` with that rule. (Proposed for ``engine.Step.__repr__``: then both
texts are the same; see the report of issue 13.)
"""
from __future__ import annotations

import re

import numpy as np

import engine

# -------------------------------------------------------------------------- numbers


def numbers(x, dtype=None) -> np.ndarray:
    """``x``'s numbers as an array, through ``np.asarray`` under ``engine.no_grad()``: a
    picture reads values and never carries a graph, so tensors that require grad are fine
    here, at any depth of lists (outside no_grad ``np.asarray`` refuses them, as PyTorch).

    >>> import engine
    >>> numbers([[engine.tensor(1.0, requires_grad=True), 2.0]], float).tolist()
    [[1.0, 2.0]]
    """
    with engine.no_grad():
        return np.asarray(x, dtype)


def fmt_num(x) -> str:
    """A scalar to 4 significant digits (``nan``/``inf`` spelled out, no ``-0``).

    >>> fmt_num(6.8813735870195432), fmt_num(-0.0), fmt_num(float("nan"))
    ('6.881', '0', 'nan')
    """
    return f"{float(x) + 0.0:.4g}"


def summary(a) -> str:
    """A short description of a data array: its numbers when there are at most 4, else
    mean and standard deviation (with a count of NaN/Inf entries when there are any).

    >>> summary(np.array([1.0, -2.5])), summary(np.arange(6.0))
    ('[1, -2.5]', 'μ 2.5 σ 1.71')
    """
    a = numbers(a)
    if a.size == 0:
        return "(empty)"
    if a.size == 1:
        return fmt_num(a.reshape(-1)[0])
    if a.size <= 4:
        return "[" + ", ".join(f"{float(v) + 0.0:.3g}" for v in a.reshape(-1)) + "]"
    a = a.astype(np.float64)
    finite = a[np.isfinite(a)]
    bad = a.size - finite.size
    text = (f"μ {finite.mean() + 0.0:.3g} σ {finite.std():.3g}" if finite.size else "")
    return (text + (f" ({bad} NaN/Inf)" if bad else "")).strip()


def grad_summary(g) -> str:
    """A gradient in a few characters: its numbers when there are at most 4, else its norm
    ‖·‖ (the size that matters: a mean near 0 would read as "vanishing" for a gradient whose
    entries cancel), with a count of NaN/Inf entries.

    >>> grad_summary(np.array([3.0, -4.0])), grad_summary(np.full((2, 3), 2.0))
    ('[3, -4]', '‖·‖ 4.9')
    """
    a = numbers(g)
    if a.size <= 4:
        return summary(a)
    a = a.astype(np.float64)
    finite = a[np.isfinite(a)]
    bad = a.size - finite.size
    text = f"‖·‖ {np.linalg.norm(finite):.3g}"
    return text + (f" ({bad} NaN/Inf)" if bad else "")


# Helvetica's advance widths (thousandths of an em) for the characters numbers are made of.
_WIDTHS = {**dict.fromkeys("0123456789$?eagdnopbqhu", 556), **dict.fromkeys(" .,:;[]!/tfIjl", 278),
           **dict.fromkeys("-()r", 333), "·": 278, "‖": 600, "←": 1000, "μ": 576, "σ": 600,
           "N": 722,
           "F": 611, "i": 222, "s": 500, "c": 500, "k": 500, "v": 500, "x": 500, "z": 500,
           "y": 500, "m": 833, "w": 722}


def text_width(text: str, pt: float = 10.0) -> float:
    """An estimate of ``text``'s width in points in Helvetica at ``pt`` points, 5% generous
    (used to give "grad ?" the room its final value will need, so layouts do not move)."""
    return 1.05 * pt * sum(_WIDTHS.get(ch, 600) for ch in text) / 1000


def fmt_index(index) -> str:
    """getitem's index as a reader would have typed it.

    >>> fmt_index((slice(None), slice(3, 6))), fmt_index((np.arange(4), [0, 1, 1, 0]))
    ('[:, 3:6]', '[[0, 1, 2, 3], [0, 1, 1, 0]]')
    """
    parts = []
    for i in index if isinstance(index, tuple) else (index,):
        if isinstance(i, slice):
            s = ("" if i.start is None else str(i.start)) + ":" + \
                ("" if i.stop is None else str(i.stop))
            parts.append(s + (f":{i.step}" if i.step not in (None, 1) else ""))
        elif i is Ellipsis:
            parts.append("…")
        elif isinstance(i, (list, np.ndarray)):
            arr = np.asarray(i)
            parts.append(str(arr.tolist()) if arr.size <= 4 else f"<{arr.dtype} {arr.shape}>")
        else:
            parts.append(repr(i))
    return "[" + ", ".join(parts) + "]"


def op_label(node) -> str:
    """The op's picture text: its name, plus a short detail when the op gives one (an axis,
    a dtype, an index), on a second line."""
    fn = node.grad_fn
    if fn is None:
        return node.op
    if node.op == "getitem" and hasattr(fn, "index"):
        return "getitem\n" + fmt_index(fn.index)
    return fn.label().replace(" ", "\n", 1)


# -------------------------------------------------------------------------- rules
# Generic operand symbols of the formulas, by number of inputs (engine/ops: unary ops use u,
# binary a and b, matmul A and B, where c, a and b).
_SYMBOLS = {1: (("u",),), 2: (("a", "b"), ("A", "B")), 3: (("c", "a", "b"),)}
_SUPER = str.maketrans("ᵃᵇᵘ⁻¹²³", "abu-123")
_SUPER_RUN = re.compile(r"[ᵃᵇᵘ⁻¹²³⁰⁴⁵⁶⁷⁸⁹]+")
_PLACEHOLDERS = ("u", "v", "p", "q", "r", "s")
_LETTER = "A-Za-zα-ωΑ-Ω"  # what may not touch a symbol (superscripts like ᵀ may)


def _symbols(formula: str, n: int):
    """The generic symbols ``formula`` uses for ``n`` operands, or None."""
    plain = _SUPER_RUN.sub(" ", formula)
    for symbols in _SYMBOLS.get(n, ()):
        if all(re.search(rf"/d{s}(?![{_LETTER}])", formula) or
               re.search(rf"(?<![{_LETTER}]){s}(?![{_LETTER}])", plain) for s in symbols):
            return symbols
    return None


def _substitute(formula: str, mapping: dict) -> str:
    """Replace each standalone symbol (and its derivative ``/dX``) by its name; superscript
    runs (``aᵇ⁻¹``) become ``^(…)`` when they hold a symbol."""
    def sub_plain(text):
        def repl(m):
            prefix, sym = m.group(1) or "", m.group(2)
            name = mapping[sym]
            if prefix == "/d" and not re.fullmatch(r"[^\W\d]\w*", name):
                return f"/d({name})"  # d/d(0.weight), not d/d0.weight
            return prefix + name
        keys = "|".join(re.escape(k) for k in mapping)
        return re.sub(rf"(/d|(?<![{_LETTER}]))({keys})(?![{_LETTER}])", repl, text)

    def sub_super(m):
        run = m.group(0).translate(_SUPER).replace("-", "−")
        if not any(ch in mapping for ch in run):
            return m.group(0)
        inner = sub_plain(run)
        return "^" + (inner if re.fullmatch(r"[\w.]+", inner) else f"({inner})")

    return sub_plain(_SUPER_RUN.sub(sub_super, formula))


def display_name(node, names=None) -> str:
    """The name a reader knows a node by: ``names`` (id → name) first, then the node's own
    name or label; a transposed named matrix is ``W.T``; "" when it has none."""
    if names and id(node) in names:
        return names[id(node)]
    own = getattr(node, "name", None) if not hasattr(node, "label") else node.label
    if own:
        return own
    fn = getattr(node, "grad_fn", None)
    if node.op == "permute" and fn is not None and len(node.parents) == 1 and node.ndim == 2:
        base = display_name(node.parents[0], names)
        if base and re.fullmatch(r"[\w.]+", base):
            return base + ".T"
    return ""


def rule(node, names=None) -> str:
    """The node's derivative rule in its operands' names: ``L = d * f`` gives
    ``d(d·f)/dd = f, d(d·f)/df = d``. An operand without a name keeps a symbol, defined at
    the end (``with u = <mul -6>``); a number operand is written as the number, and
    the part of the rule for an operand that gets no gradient is left out.

    >>> from engine import Value
    >>> d, f = Value(4.0, label="d"), Value(-2.0, label="f")
    >>> rule(d * f)
    'd(d·f)/dd = f, d(d·f)/df = d'
    >>> rule((d * f).tanh())
    'd(tanh u)/du = 1 − tanh²u  with u = <mul -8>'
    """
    if not hasattr(node, "parents") or not hasattr(node, "grad_fn"):
        raise TypeError(f"rule: expected an engine.Value or engine.Tensor, got "
                        f"{type(node).__name__}")
    fn = node.grad_fn
    if fn is None or not fn.formula:
        return ""
    symbols = _symbols(fn.formula, len(node.parents))
    if symbols is None:
        return fn.formula
    taken = set()
    named = []
    for p in node.parents:
        name = display_name(p, names)
        if not name and not p.requires_grad and np.size(p.data) == 1:
            name = fmt_num(np.asarray(p.data).reshape(-1)[0])  # a number: write it
        named.append(name)
        taken.add(name)
    formula = fn.formula
    for sym, p in zip(symbols, node.parents, strict=True):
        if not p.requires_grad:  # no gradient goes there: drop its part of the rule
            parts = re.split(r", (?=d)", formula)
            kept = [part for part in parts if f"/d{sym}" not in part.translate(_SUPER)]
            formula = ", ".join(kept) if kept else formula
    mapping, where = {}, []
    spare = [s for s in _PLACEHOLDERS if s not in taken]
    for sym, name, p in zip(symbols, named, node.parents, strict=True):
        if name and len(name) <= 24:
            mapping[sym] = name
            continue
        letter = sym if sym not in taken else spare.pop(0)
        taken.add(letter)
        mapping[sym] = letter
        where.append(f"{letter} = {p.short_label()}")
    text = _substitute(formula, mapping)
    text = re.sub(r"([\w.]+)\.Tᵀ", r"\1", text)  # (W.T)ᵀ is W
    return text + (f"  with {', '.join(where)}" if where else "")


def step_text(step, names=None) -> str:
    """``str(step)`` with its rule written in the operands' names (:func:`rule`)."""
    text = str(step)
    if not step.formula:
        return text
    mine = rule(step.node, names)
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("  rule: " + step.formula):
            lines[i] = "  rule: " + mine + line[len("  rule: " + step.formula):]
            break
    return "\n".join(lines)
