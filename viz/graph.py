"""Computation-graph pictures: ``draw_graph`` (a Value or Tensor graph) and ``draw_step`` (the
same graph at one step of ``engine.backward_steps``).

A picture is made in three stages, each reusable by the player and ``draw_unrolled``:

1. :class:`viz.model.GraphModel` reads the graph once (nodes, consumers, names, kinds,
   module scopes).
2. :class:`View` decides what is drawn: one node per value and one ellipse per op, except
   where a simpler picture says the same: a number that entered an op is written in the op
   (``· × 2``); values that need no gradient (``1 − y``) become one input node; a
   parameter's transpose (Linear's ``W.T``) is an edge labelled ``.T``; the ops after the
   last module (the loss) are one node; with ``level='module'`` each layer is one node
   (Keras's plot_model); ``expand`` opens any of these again. Long chains lose their middle
   to a visible "… n nodes …" node when the picture would not fit.
3. :func:`emit` writes the DOT text; with ``fit=True`` (the default) the layout is measured
   and the picture made to fit a 1,600 × 1,000 px box at 96 dpi without text below 10 pt:
   top-to-bottom or left-to-right, whichever fits; then eliding chains; then keeping the
   nodes nearest to the root. What was left out is said in the picture's caption.

Node names come from the position of each value in the graph walk (never ``id()``), so the
same graph gives the same DOT text run after run. Nothing here changes the graph.
"""
from __future__ import annotations

import html
from collections import deque

import numpy as np

from engine import Value

from . import style
from .model import GraphModel, is_backward_pass, is_time_step
from .render import Graph, svg_size
from .style import FONT, KINDS, GradScale
from .text import fmt_num, grad_summary, op_label, rule, step_text, summary, text_width

_INFIX = {"add": "+", "sub": "−", "mul": "×", "div": "/", "pow": "^"}
_LEVELS = ("op", "module")


def dot_lines(text) -> str:
    """Line breaks as DOT writes them in a quoted label (centred lines)."""
    return str(text).replace("\\", "\\\\").replace("\n", "\\n")


def _esc(text) -> str:
    """Text for an HTML-like label (DOT's own escapes are not needed there)."""
    return html.escape(str(text), quote=False)


# ---------------------------------------------------------------------------------- the view
class Item:
    """One drawn node: a value (with its op ellipse when it has one), a group of nodes shown
    as one (a module, the loss), or a marker ("… n nodes …")."""

    __slots__ = ("id", "nodes", "out", "kind", "title", "lines", "op", "group", "tooltip",
                 "scope", "sub")

    def __init__(self, id, nodes, out, kind, title="", lines=(), op=None, group=None,
                 tooltip="", scope=(), sub=None):
        self.id, self.nodes, self.out, self.kind = id, list(nodes), out, kind
        self.title, self.lines, self.op, self.group = title, list(lines), op, group
        self.tooltip, self.scope = tooltip, scope
        self.sub = sub  # the text after the title (None: the shape, and the dtype if needed)


def _expr(gm, n, depth=0) -> str:
    """A short formula for a value computed without gradient (``1 − y``)."""
    if not n.parents or depth > 2:
        name = gm.names[n]
        if name:
            return name
        return fmt_num(np.asarray(n.data).reshape(-1)[0]) if np.size(n.data) == 1 else \
            f"<{n.op or 'tensor'} {tuple(np.shape(n.data))}>"
    args = [_expr(gm, p, depth + 1) for p in n.parents]
    if n.op in _INFIX and len(args) == 2:
        text = f"{args[0]} {_INFIX[n.op]} {args[1]}"
    elif n.op == "neg" and len(args) == 1:
        text = "−" + args[0]
    else:
        text = f"{n.op}({', '.join(args)})"
    return text if len(text) <= 32 else f"{n.op}(…)"


class View:
    """What is drawn for a :class:`GraphModel`, and which drawn item stands for each node.

    ``items`` (DOT name → :class:`Item`, roots first), ``edges`` (tail, head, attrs, pairs:
    the (parent, node) links of the graph an edge stands for), ``rep`` (node → DOT name of
    what shows it: its item, the op that uses it for a folded number, or the ``.T`` edge of
    a folded transpose) and ``edge_ids`` (a folded transpose → the id of its edge).
    """

    KINDS_OF_EXPAND = ("loss", "transpose", "constants")

    def __init__(self, gm: GraphModel, level="op", expand=(), group_modules=False):
        if level not in _LEVELS:
            raise ValueError(f"draw_graph: level must be 'op' or 'module', got {level!r}")
        if expand is True:
            expand = self.KINDS_OF_EXPAND + ("*",)
        elif isinstance(expand, str):
            expand = (expand,)
        self.gm, self.level, self.expand = gm, level, set(expand or ())
        modules = {gm.module_name(s) for n in gm.order for s in gm.scopes[n]} - {""}
        unknown = self.expand - set(self.KINDS_OF_EXPAND) - {"*"} - modules
        if unknown:
            known = ", ".join(sorted(modules)) or "none"
            raise ValueError(f"draw_graph: cannot expand {sorted(unknown)}: expand takes "
                             f"{', '.join(map(repr, self.KINDS_OF_EXPAND))}, True, or the "
                             f"names of modules in this graph ({known})")
        self.group_modules = group_modules
        self.name_map = {id(n): gm.names[n] for n in gm.order if gm.names[n]}
        self.items, self.edges, self.rep = {}, [], {}
        self.edge_ids = {}
        self._build()

    # -- deciding -------------------------------------------------------------------------
    def _open(self, module, depth) -> bool:
        """Whether a module is drawn as its parts (True) or as one node, at level='module'."""
        if "*" in self.expand or is_time_step(module):
            return "*" in self.expand
        name = self.gm.module_name(module)
        if depth == 0 and not name:  # the outermost model: its layers are the nodes
            return bool(getattr(module, "_modules", None))
        return name in self.expand

    def _module_key(self, n):
        s = self.gm.scopes[n]
        if not s:
            return None
        k = 0
        while True:
            if not self._open(s[k], k):
                return s[:k + 1]
            if k + 1 == len(s):
                return None  # made by an open module's own code: drawn as is
            k += 1

    def _loss_tail(self) -> list:
        """The ops after the model (the loss): unscoped nodes that need a gradient and feed
        only each other up to the root. Empty unless some node was made inside a module."""
        gm = self.gm
        if not any(gm.scopes[n] for n in gm.order) or len(gm.roots) != 1:
            return []
        tail = []
        members = set()
        for n in gm.order:
            if not n.parents or not n.requires_grad or gm.scopes[n]:
                continue
            uses = gm.consumers[n]
            if any(n is r for r in gm.roots) or (uses and all(c in members for c in uses)):
                members.add(n)
                tail.append(n)
        return tail if len(tail) >= 3 else []

    def _build(self):
        gm, order = self.gm, self.gm.order
        grads_drawn = any(r.requires_grad for r in gm.roots)
        constants = {n for n in order if gm.is_constant(n)} \
            if "constants" not in self.expand else set()
        # Values computed without gradient: one input node each, their inputs hidden.
        nograd_hidden, nograd_folded = set(), set()
        if grads_drawn and "constants" not in self.expand:
            for n in order:
                if n.requires_grad or n in constants:
                    continue
                uses = gm.consumers[n]
                if uses and all(not c.requires_grad for c in uses) and \
                        all(c in nograd_folded or c in nograd_hidden for c in uses):
                    nograd_hidden.add(n)
                elif n.parents:
                    nograd_folded.add(n)
        self.transposes = set()
        if "transpose" not in self.expand:
            for n in order:
                if n.op == "permute" and len(n.parents) == 1 and n.ndim == 2 and \
                        not n.parents[0].parents and n.parents[0].requires_grad and \
                        gm.consumers[n] and all(c.op == "matmul" for c in gm.consumers[n]):
                    self.transposes.add(n)
        groups = {}  # key → member nodes, in walk order
        if self.level == "module":
            for n in order:
                key = self._module_key(n)
                if key is not None:
                    groups.setdefault(tuple(id(s) for s in key), []).append(n)
        grouped = {n for members in groups.values() for n in members}
        tail = [] if "loss" in self.expand else \
            [n for n in self._loss_tail() if n not in grouped]
        if tail:
            groups[("loss",)] = tail
        group_of = {}
        for key, members in groups.items():
            for n in members:
                group_of[n] = key
        # Hidden pieces a group swallows: its parameters' transposes, constants, no-grad bits.
        self.constants, self.nograd_hidden = constants, nograd_hidden

        # Items, roots first.
        made = {}
        for n in order:
            if n in group_of:
                key = group_of[n]
                if key not in made:
                    made[key] = self._group_item(key, groups[key])
                self.rep[n] = made[key].id
                continue
            if n in constants or n in nograd_hidden or n in self.transposes:
                continue
            kind = gm.kinds[n]
            title = gm.names[n]
            op = None
            if n in nograd_folded:
                title = title or _expr(gm, n)
            elif n.parents:
                op = self._op_text(n)
            item = Item(gm.ids[n], [n], n, kind, title, op=op,
                        tooltip=rule(n, self.name_map) if op else "",
                        scope=gm.scopes[n] if self.group_modules else
                        tuple(s for s in gm.scopes[n] if is_backward_pass(s)))
            self.items[item.id] = item
            self.rep[n] = item.id
        # Hidden nodes map to what shows them.
        for n in order:
            if n in self.rep:
                continue
            if n in self.transposes:
                self.rep[n] = self.rep.get(n.parents[0], "")  # replaced by the edge below
            elif n in constants or n in nograd_hidden:
                user = next((c for c in gm.consumers[n] if c in self.rep), None)
                if user is not None:
                    uid = self.rep[user]
                    self.rep[n] = uid + "_op" if self.items[uid].op else uid
        self._edges()

    def _op_text(self, n) -> str:
        """The op's label; a number operand is written in it (``· × 2``, ``1 − ·``)."""
        consts = [p in self.constants for p in n.parents]
        if not any(consts):
            return op_label(n)
        args = [f"{float(np.asarray(p.data).reshape(-1)[0]) + 0.0:.6g}" if c else "·"
                for p, c in zip(n.parents, consts, strict=True)]
        if n.op in _INFIX and len(args) == 2:
            return f"{args[0]} {_INFIX[n.op]} {args[1]}"
        return f"{n.op}({', '.join(args)})"

    def _group_item(self, key, members) -> Item:
        gm = self.gm
        inside = set(members)
        out = next((n for n in members if any(n is r for r in gm.roots) or
                    any(c not in inside for c in gm.consumers[n])), members[0])
        ops = [n.op for n in reversed(members) if n.parents]
        uniq = list(dict.fromkeys(ops))
        listing = ", ".join(uniq[:5]) + (", …" if len(uniq) > 5 else "")
        if key == ("loss",):
            title = gm.names[out] or "loss"
            lines = [f"{len(ops)} ops: {listing}"]
        else:
            scope = gm.scopes[members[0]][:len(key)]
            title = gm.scope_labels.get(id(scope[-1]), type(scope[-1]).__name__)
            n_params = sum(int(np.size(n.data)) for n in members
                           if not n.parents and n.requires_grad)
            lines = [f"{n_params:,} parameters" if n_params else
                     listing if len(ops) == 1 else f"{len(ops)} ops: {listing}"]
        kind = "loss" if any(out is r for r in gm.roots) else "group"
        tip = f"{len(ops)} ops inside: " + " → ".join(ops)
        item = Item(gm.ids[out], members, out, kind, title, lines, group=key, tooltip=tip)
        self.items[item.id] = item
        return item

    def _edges(self):
        for item in self.items.values():
            if item.group is not None:
                seen = set()
                inside = set(item.nodes)
                for n in item.nodes:
                    for p in n.parents:
                        if p in inside or p in self.constants or p in self.nograd_hidden:
                            continue
                        src, attrs = self._source(p, n)
                        if src is None or src == item.id or src in seen:
                            continue
                        seen.add(src)
                        self.edges.append((src, item.id, attrs, [(p, n)]))
                continue
            n = item.out
            if item.op is None:
                continue
            oid = item.id + "_op"
            self.edges.append((oid, item.id, {}, []))
            for p in n.parents:
                if p in self.constants:
                    continue
                src, attrs = self._source(p, n)
                if src is not None:
                    self.edges.append((src, oid, attrs, [(p, n)]))

    def _source(self, p, n):
        """(DOT name, edge attrs) an edge carrying value ``p`` into ``n`` starts at."""
        if p in self.transposes:
            w = p.parents[0]
            src = self.rep.get(w)
            eid = f"{self.gm.ids[p]}_T"
            self.edge_ids[p] = eid
            self.rep[p] = eid
            inside = self.items.get(src)
            if inside is not None and inside.group is not None and \
                    any(x is w for x in inside.nodes) and \
                    self.rep.get(n) == src:
                return None, {}
            return src, {"xlabel": ".T", "id": eid,
                         "tooltip": f"{self.gm.names[w] or 'W'}.T: the transposed matrix "
                                    f"(permute), drawn as an edge"}
        return self.rep.get(p), {}


# ---------------------------------------------------------------------------------- reducing
def _item_graph(items, edges):
    """preds/succs between items (an op ellipse belongs to its item)."""
    owner = lambda name: name[:-3] if name.endswith("_op") else name  # noqa: E731
    preds = {k: [] for k in items}
    succs = {k: [] for k in items}
    for t, h, _, _ in edges:
        t, h = owner(t), owner(h)
        if t == h or t not in items or h not in items:
            continue
        if t not in preds[h]:
            preds[h].append(t)
        if h not in succs[t]:
            succs[t].append(h)
    return preds, succs


class Reduced:
    """A view with some items replaced: chains' middles by "… n nodes …", or everything far
    from the root by one note. ``hidden`` (item → the item that now shows it)."""

    def __init__(self, view: View):
        self.view = view
        self.items = dict(view.items)
        self.hidden = {}
        self.made = 0  # replacement nodes made so far: each gets a name of its own
        self.counts = {}

    def count(self) -> int:
        return len(self.items)

    def elide_chains(self, keep: int) -> int:
        """Keep ``keep`` items at each end of every chain longer than 2·keep + 1; returns
        how many items were elided."""
        preds, succs = _item_graph(self.items, self.edges())
        roots = {self.view.rep.get(r) for r in self.view.gm.roots}

        def leaf(k):
            return not preds[k]

        def up(k):
            inner = [p for p in preds[k] if not leaf(p)]
            return inner[0] if len(inner) == 1 else None

        def down(k):
            return succs[k][0] if len(succs[k]) == 1 and k not in roots else None

        def marker(k):
            return k.startswith(("ellipsis_", "more_"))

        linked = {k for k in self.items if up(k) is not None and down(up(k)) == k
                  and not marker(k) and not marker(up(k))}
        starts = [k for k in self.items if not leaf(k) and k not in linked and not marker(k)]
        elided = 0
        for start in starts:
            chain = [start]
            while True:
                nxt = down(chain[-1])
                if nxt is None or nxt not in linked:
                    break
                chain.append(nxt)
            if len(chain) < 2 * keep + 3:
                continue
            chain.reverse()  # items are roots first: make it forward order, input to output
            middle = chain[keep:-keep]
            elided += self._replace(middle, "ellipsis_", chain=True)
        return elided

    def _replace(self, middle, name, chain):
        preds, succs = _item_graph(self.items, self.edges())
        gone = set(middle)
        # Leaves that only feed the elided items go too.
        for k in middle:
            for p in preds[k]:
                if not preds[p] and all(s in gone for s in succs[p]):
                    gone.add(p)
        n_values = sum(self._count(k) for k in gone)
        self.made += 1
        name += str(self.made)
        for k in gone:
            self.hidden[k] = name
            self.items.pop(k, None)
        text = f"… {n_values:,} nodes …" if chain else \
            f"… {n_values:,} more values not drawn"
        self.items[name] = Item(name, [], None, "more", text)
        self.counts[name] = n_values
        return len(gone)

    def _count(self, k) -> int:
        """Graph values an item shows (a replacement counts what it replaced)."""
        return self.counts[k] if k in self.counts else len(self.items[k].nodes)

    def keep_nearest(self, target: int) -> int:
        """Keep the ``target`` items nearest to the roots (breadth first), one note for the
        rest."""
        preds, _ = _item_graph(self.items, self.edges())
        queue = deque(self.view.rep.get(r) for r in self.view.gm.roots)
        kept = []
        seen = set()
        while queue and len(kept) < target:
            k = queue.popleft()
            if k in seen or k not in self.items:
                continue
            seen.add(k)
            kept.append(k)
            queue.extend(preds[k])
        rest = [k for k in self.items if k not in seen]
        if not rest:
            return 0
        return self._replace(rest, "more_", chain=False)

    def edges(self):
        """The view's edges redirected to what now shows their ends, deduplicated where an
        end is a replacement."""
        out, seen = [], set()
        for t, h, attrs, pairs in self.view.edges:
            tt = self._where(t)
            hh = self._where(h)
            if tt is None or hh is None:
                continue
            if tt == hh:
                continue
            replaced = tt != t or hh != h
            if replaced:
                key = (tt, hh)
                if key in seen:
                    continue
                seen.add(key)
                attrs = dict(style="dashed", color="#999999") if tt.startswith(
                    ("ellipsis_", "more_")) else {}
            out.append((tt, hh, attrs, pairs))
        return out

    def _where(self, name):
        base = name[:-3] if name.endswith("_op") else name
        if base in self.items:
            return name
        while base in self.hidden:  # an ellipsis may itself have been elided later
            base = self.hidden[base]
        return base if base in self.items else None

    def where(self, name):
        return self._where(name) if name else name


# ---------------------------------------------------------------------------------- emitting
def _new_graph(rankdir, label=None, name="stepgrad", compact=False):
    g = Graph(name)
    # Flat boxes (compact) need less room between ranks than boxes and ellipses.
    g.attr(rankdir=rankdir, fontname=FONT, fontsize=str(style.MIN_PT), newrank="true",
           nodesep="0.15", ranksep="0.17" if compact else "0.25")
    if label:
        g.attr(label=label, labelloc="t", labeljust="l")
    g.attr("node", fontname=FONT, fontsize=str(style.MIN_PT), margin="0.04,0.02")
    g.attr("edge", fontname=FONT, fontsize=str(style.MIN_PT), arrowsize="0.7")
    return g


def _grad_template(n) -> str:
    """The longest grad text a node usually gets: its cell is at least this wide, so that
    "grad ?" and the final number take the same room and layouts never move."""
    if isinstance(n, Value):
        return "grad -0.0000"
    size = int(np.size(n.data))
    return "grad " + ("[" + ", ".join(["-0.00"] * size) + "]" if size <= 4 else "‖·‖ 0.000")


def grad_text_of(n, grad, show):
    if not show or not n.requires_grad:
        return None
    if isinstance(n, Value):
        return f"grad {fmt_num(grad)}"
    return "grad " + ("None" if grad is None else grad_summary(grad))


HALO_PT = 2  # the frame that turns red around the current step's node


def value_table(item, rankdir, show_data, grad_text, pending, fill, border, width,
                font_colour=None, compact=False, root_dtype=None, incoming="",
                halo="transparent") -> str:
    """An item's HTML-like label: title (bold) and shape, data and grad cells; with
    ``compact`` the op that made the value heads the box (no ellipse of its own). The grad
    cell is as wide as its final text will be, so "grad ?" and the number take the same
    room."""
    n = item.out
    font = f' COLOR="{font_colour}"' if font_colour else ""
    if item.kind == "more":
        return (f'<<TABLE BORDER="1" STYLE="rounded" CELLBORDER="0" CELLPADDING="4" '
                f'BGCOLOR="#fff8dc" COLOR="#999999"><TR><TD>{_esc(item.title)}</TD></TR>'
                f'</TABLE>>')

    def td(text, extra=""):
        return f"<TD{extra}><FONT{font}>{text}</FONT></TD>"

    head = f"<B>{_esc(item.title)}</B>" if item.title else ""
    if compact and item.op:  # 1: the op heads a box, 2: a one-line box (top to bottom)
        op = "<I>" + _esc(item.op.replace("\n", " ")) + "</I>"
        head = op + (" → " + head if head else "")
    if grad_text is not None:
        w = max(width, text_width(grad_text)) + 8
        gfont = f' COLOR="{style.PENDING_TEXT}"' if pending else font
        shown = "grad ?" if pending else grad_text
        if incoming:  # what this step sends here, in red where "grad ?" would be
            gfont, shown = f' COLOR="{style.CURRENT}"', "grad ← " + incoming
        grad_cell = f'<TD WIDTH="{int(w)}"><FONT{gfont}>{_esc(shown)}</FONT></TD>'
    else:
        grad_cell = None
    if isinstance(n, Value):  # micrograd's one-line record: label | data | grad
        tds = [td(head)] if head else []
        if show_data:
            tds.append(td(f"data {fmt_num(n.data)}"))
        if grad_cell:
            tds.append(grad_cell)
        rows = ["<TR>" + "".join(tds) + "</TR>"] if tds else ["<TR><TD> </TD></TR>"]
    else:
        sub = item.sub
        if sub is None:
            sub = str(tuple(n.shape))
            if item.kind == "loss" or n.dtype != getattr(root_dtype, "dtype", root_dtype):
                sub += f" {n.dtype}"  # said once, at the root, and wherever it differs
        # A rounded box's corners would touch its lines' ends: a space on either side.
        pad = "&#160;&#160;" if item.group is not None else ""
        top = [" ".join(x for x in (head, _esc(sub)) if x)] + \
            [pad + _esc(x) + pad for x in item.lines]
        bottom = [td(_esc("data " + summary(n.data)))] if show_data else []
        if grad_cell:
            bottom.append(grad_cell)
        if rankdir in ("LR", "RL"):  # a tall, narrow box: one line per row
            rows = [f"<TR>{td(t)}</TR>" for t in top] + [f"<TR>{c}</TR>" for c in bottom]
        elif compact == 2:  # the flattest box: everything on one line
            rows = ["<TR>" + "".join(td(t) for t in top) + "".join(bottom) + "</TR>"]
        else:  # a wide, short box: data | grad side by side under the title
            span = f' COLSPAN="{len(bottom)}"' if len(bottom) > 1 else ""
            rows = [f"<TR>{td(t, span)}</TR>" for t in top]
            if bottom:
                rows.append("<TR>" + "".join(bottom) + "</TR>")
    rounded = ' STYLE="rounded"' if item.group is not None else ""
    bw = 2 if item.kind in ("parameter", "loss") or item.group is not None else 1
    inner = (f'<TABLE BORDER="{bw}"{rounded} CELLBORDER="0" CELLSPACING="0" CELLPADDING="2" '
             f'ROWS="*" COLUMNS="*" BGCOLOR="{fill}" COLOR="{border}">' + "".join(rows)
             + "</TABLE>")
    # A frame around every box, transparent unless the box is this step's node: red then,
    # and no box changes size from one step to the next.
    if halo is None:  # a picture without steps (draw_unrolled): no frame
        return f"<{inner}>"
    return (f'<<TABLE BORDER="{HALO_PT}" CELLBORDER="0" CELLSPACING="0" CELLPADDING="0" '
            f'COLOR="{halo}"><TR><TD>{inner}</TD></TR></TABLE>>')


class State:
    """What a drawing shows of the gradients: final ones (draw_graph) or the state at one
    step of backprop (draw_step, each frame of the player)."""

    def __init__(self, grads=None, done=None, current=None, sent=None):
        self.grads = grads      # node → gradient known (None: read node.grad)
        self.done = done        # set of nodes whose gradient is known (None: all)
        self.current = current  # the node being explained
        self.sent = sent or {}  # (parent, node) → gradient sent along that link

    def grad(self, n):
        if self.grads is not None and n in self.grads:
            return self.grads[n]
        return n.grad

    def pending(self, n):
        return self.done is not None and n.requires_grad and n not in self.done


def sent_text(p, pg) -> str:
    return fmt_num(pg) if isinstance(p, Value) else grad_summary(pg)


def sent_texts(red, state):
    """What the current step sends to each parent, as text: (item DOT name → text for the
    parents drawn as boxes, edge id → text for a transpose drawn as an edge)."""
    incoming, on_edges = {}, {}
    view = red.view
    for (p, n), pg in state.sent.items():
        text = sent_text(p, pg)
        if p in view.edge_ids:
            on_edges[view.edge_ids[p]] = text
            continue
        where = red.where(view.rep.get(p, ""))
        if where and not where.endswith("_op") and where != red.where(view.rep.get(n, "")):
            incoming[where] = (incoming[where] + " + " + text) if where in incoming else text
    return incoming, on_edges


def emit(red: Reduced, rankdir="TB", show_data=True, show_grad=True, color_by=None,
         state=None, caption=(), step=False, final_grads=None, scale_px=None,
         compact=False) -> Graph:
    """The DOT text of a (reduced) view at one state. ``final_grads`` (node → gradient)
    sizes the grad cells for their final text; ``compact`` writes each op in its value's
    box instead of an ellipse of its own; ``scale_px`` is the caption line saying the
    picture was shrunk."""
    view, gm = red.view, red.view.gm
    state = state or State()
    final_grads = final_grads or {}
    scale = None
    if color_by == "grad":
        scale = GradScale([gm.grad_magnitude(n, state.grad(n)) for n in gm.order
                           if not state.pending(n)])
    kinds_used, groups_used = set(), False
    clusters = _Clusters()
    current = view.rep.get(state.current) if state.current is not None else None
    current_edge = current if current in view.edge_ids.values() else None
    current = red.where(current) if current and not current_edge else None
    incoming, edge_sent = sent_texts(red, state)
    for item in red.items.values():
        n = item.out
        if item.kind == "more":
            clusters.add((), item.id, dict(shape="plaintext", id=item.id, margin="0",
                                           height="0", width="0", label=value_table(
                item, rankdir, False, None, False, "#fff8dc", "#999999", 0)))
            continue
        if item.kind == "group":
            fill, border = style.GROUP_FILL, style.GROUP_BORDER
        else:
            fill, border, _ = KINDS[item.kind]
            kinds_used.add(item.kind)
        groups_used |= item.group is not None
        pending = state.pending(n)
        g = None if pending else state.grad(n)
        font_colour = None
        if scale is not None and not pending:  # fill = |grad| (white: none), border = kind
            fill = scale.colour(gm.grad_magnitude(n, g))
            font_colour = "#ffffff" if style.is_dark(fill) else None
        halo = style.CURRENT if item.id == current else "transparent"
        final = grad_text_of(n, final_grads.get(n, state.grad(n)), show_grad)
        shown = final if pending else grad_text_of(n, g, show_grad)
        # Room for the longest the cell will say: "grad ← g" at the step sending to it.
        width = max(text_width(final), text_width(_grad_template(n))) + \
            text_width("← ") if final else 0
        label = value_table(item, rankdir, show_data, shown, pending, fill, border, width,
                            font_colour, compact, getattr(gm.roots[0], "dtype", None),
                            incoming.get(item.id, ""), halo)
        # plaintext nodes are at least 0.5 in tall unless told: the table is the node.
        attrs = dict(shape="plaintext", label=label, id=item.id, margin="0", width="0",
                     height="0")
        if item.tooltip:
            attrs["tooltip"] = item.tooltip
        elif not item.op:
            attrs["tooltip"] = item.title or "value"
        if compact and item.op and len(n.parents) > 1:
            attrs["ordering"] = "in"
        path = tuple(id(s) for s in item.scope)
        clusters.add(path, item.id, attrs)
        if item.op and not compact:
            oattrs = dict(label=dot_lines(item.op), shape="ellipse", height="0.3",
                          id=item.id + "_op",
                          tooltip=item.tooltip or n.op)
            if len(n.parents) > 1:
                oattrs["ordering"] = "in"  # operands in argument order (a − b: a first)
            if item.id == current:
                oattrs.update(color=style.CURRENT, fontcolor=style.CURRENT, penwidth="2.5")
            clusters.add(path, item.id + "_op", oattrs)
    g = _new_graph(rankdir, compact=bool(compact))
    clusters.emit(g, gm)
    strip = (lambda name: name[:-3] if name.endswith("_op") else name) if compact else \
        (lambda name: name)
    for i, (t, h, attrs, pairs) in enumerate(red.edges()):
        t, h = strip(t), strip(h)
        if t == h:
            continue
        attrs = dict(attrs)
        attrs.setdefault("id", f"e{i}")
        if current_edge is not None and attrs["id"] == current_edge:
            attrs.update(color=style.CURRENT, fontcolor=style.CURRENT, penwidth="3")
        if state.current is not None and pairs:
            p, n = pairs[0]
            if n is state.current and (p, n) in state.sent:
                attrs.update(color=style.CURRENT, penwidth="2")
                if attrs["id"] in edge_sent:  # a transpose drawn as an edge: label it
                    attrs.update(fontcolor=style.CURRENT,
                                 xlabel=attrs.get("xlabel", "") + " ← " + edge_sent[attrs["id"]])
        if pairs and pairs[0][0].parents:  # keep the main line straight, leaves beside
            attrs.setdefault("weight", "3")
        g.edge(t, h, **attrs)
    rows = style.legend(kinds_used, scale=scale, step=step, group=groups_used)
    lines = list(caption) + ([scale_px] if scale_px else [])
    g.attr(label=style.graph_label(style.text_rows(lines), rows), labelloc="t",
           labeljust="l")
    return g


class _Clusters:
    """Nodes filed under nested cluster paths, emitted as nested ``subgraph cluster_*``."""

    def __init__(self):
        self.nodes = {(): []}
        self.order = [()]

    def add(self, path, name, attrs):
        path = tuple(path)
        for k in range(1, len(path) + 1):
            if path[:k] not in self.nodes:
                self.nodes[path[:k]] = []
                self.order.append(path[:k])
        self.nodes[path].append((name, attrs))

    def emit(self, g, gm):
        index = {p: i for i, p in enumerate(self.order)}

        def fill(graph, path):
            for name, attrs in self.nodes[path]:
                graph.node(name, **attrs)
            for child in self.order:
                if len(child) == len(path) + 1 and child[:len(path)] == path:
                    with graph.subgraph(name=f"cluster_{index[child]}") as c:
                        label = gm.scope_labels.get(child[-1], "")
                        if label.startswith("backward of "):  # made by a create_graph walk
                            c.attr(label=gm.scope_labels.get(child[-1], ""),
                                   style="rounded,dashed", color="#8e44ad",
                                   fontcolor="#8e44ad")
                        else:
                            c.attr(label=gm.scope_labels.get(child[-1], ""), style="rounded",
                                   color="#7f7f7f", fontcolor="#555555")
                        fill(c, child)

        fill(g, ())


# ---------------------------------------------------------------------------------- fitting
def _fits(size, box):
    return size[0] <= box[0] and size[1] <= box[1]


def _overflow(size, box):
    return max(size[0] / box[0], size[1] / box[1])


class Picture:
    """A view fitted to a box: the chosen rankdir, the reductions, and how to draw it at any
    state. Built once per graph; ``draw(state)`` gives the Graph for one state."""

    def __init__(self, gm, rankdir=None, level="op", expand=(), group_modules=False,
                 max_nodes=300, fit=True, box=None, reserve=(0, 0), show_data=True,
                 show_grad=True, color_by=None, final_grads=None, step=False, adjust=None):
        if color_by not in (None, "grad"):
            raise ValueError(f"draw_graph: color_by must be None or 'grad', got {color_by!r}")
        if rankdir not in (None, "LR", "RL", "TB", "BT"):
            raise ValueError(f"draw_graph: rankdir must be 'LR', 'RL', 'TB', 'BT' or None "
                             f"(pick the one that fits), got {rankdir!r}")
        self.gm = gm
        self.view = View(gm, level, expand, group_modules)
        if adjust is not None:  # plot_model: Keras's labels, inputs no gradient reaches
            adjust(self.view)
        self.opts = dict(show_data=show_data, show_grad=show_grad, color_by=color_by,
                         final_grads=final_grads, step=step)
        box = box or style.BOX_PX
        self.full_box = box
        self.box = (box[0] - reserve[0], box[1] - reserve[1])
        self.notes = []
        self.scaled = None
        red = Reduced(self.view)
        if max_nodes is not None and red.count() > max_nodes:
            self._reduce(red, max_nodes)
        self.red = red
        dirs = [rankdir] if rankdir else ["LR", "TB"]
        self.rankdir, self.compact = dirs[0], False
        if not fit or not _has_dot():  # nothing to measure without Graphviz: draw it all
            self._note_reductions()
            return
        # Separate op ellipses (micrograd's look) first, then ops written in their value's
        # box; left to right first, then top to bottom (deep nets), then the reverse for
        # compact boxes (tall nets fit better top to bottom).
        tries = [(0, d) for d in dirs] + [(1, d) for d in reversed(dirs)] + \
            [(2, d) for d in dirs if d in ("TB", "BT")]
        sizes = {}
        for t in tries:
            sizes[t] = self._measure(*t)
            if _fits(sizes[t], self.box):
                self.compact, self.rankdir = t
                self._note_reductions()
                return
        best = min(tries, key=lambda t: _overflow(sizes[t], self.box))
        self.compact, self.rankdir = best
        size = sizes[best]
        for _ in range(6):
            over = _overflow(size, self.box)
            target = min(red.count() - 1, max(3, int(red.count() / (over * over) * 0.9)))
            before = red.count()
            self._reduce(red, target)
            if red.count() >= before:
                break
            size, self.compact, self.rankdir = min(
                ((self._measure(c, d), c, d) for c, d in tries if c),
                key=lambda t: _overflow(t[0], self.box))
            if _fits(size, self.box):
                break
        self._note_reductions()
        if not _fits(size, self.box):
            self.scaled = (1 / _overflow(size, self.box), size)

    def _reduce(self, red, target):
        for keep in (4, 3, 2, 1):
            if red.count() <= target:
                return
            red.elide_chains(keep)
        if red.count() > target:
            red.keep_nearest(target)

    def _note_reductions(self):
        red = self.red
        chains = [it for k, it in red.items.items() if k.startswith("ellipsis_")]
        more = next((it for k, it in red.items.items() if k.startswith("more_")), None)
        if chains:
            self.notes.append(f"The middle of {len(chains)} long chain"
                              f"{'s' if len(chains) > 1 else ''} is not drawn (… n nodes …)"
                              f" so that the picture fits {self.full_box[0]}×"
                              f"{self.full_box[1]} px; "
                              f"fit=False, max_nodes=None draws all.")
        if more is not None:
            self.notes.append(f"Only the values nearest to the output are drawn ({more.title}"
                              f"); try level='module', draw a sub-graph (an intermediate "
                              f"tensor), or fit=False, max_nodes=None for everything.")

    def _measure(self, compact, rankdir):
        g = emit(self.red, rankdir, caption=self.notes_preview(), compact=compact,
                 **self.opts)
        return svg_size(g)

    def notes_preview(self):
        return ["(reduced)"] if any(k.startswith(("ellipsis_", "more_")) for k in
                                    self.red.items) else []

    def draw(self, state=None, caption=()) -> Graph:
        lines = list(caption) + self.notes
        scale_note = None
        if self.scaled is not None:
            f, (w, h) = self.scaled
            scale_note = (f"Drawn at {f:.0%} of its size ({w}×{h} px) to fit "
                          f"{style.BOX_PX[0]}×{style.BOX_PX[1]} px: text is below "
                          f"{style.MIN_PT} pt; use level='module' or fit=False.")
        g = emit(self.red, self.rankdir, state=state, caption=lines, scale_px=scale_note,
                 compact=self.compact, **self.opts)
        if self.scaled is not None:
            g.attr(size=f"{style.BOX_PX[0] / style.DPI:.2f},{style.BOX_PX[1] / style.DPI:.2f}")
        return g


def _has_dot() -> bool:
    import shutil
    return shutil.which("dot") is not None


# ---------------------------------------------------------------------------------- public
def draw_graph(root, show_data=True, show_grad=True, color_by=None, rankdir=None,
               level="op", expand=(), group_modules=False, max_nodes=300, fit=True,
               model=None, params=None) -> Graph:
    """Draw the computation graph that ends at ``root`` (a Value or a Tensor).

    Drawn: a box per value (its name -- parameters are named by their module, ``0.weight``
    -- shape, data and grad: scalars to 4 significant digits, tensors as their numbers when
    at most 4, else data as mean μ and spread σ and the gradient as its norm ‖·‖), an
    ellipse per op (in SVG, hover for its derivative rule in the operands' names), edges in
    ``parents`` order, and a legend in the picture: parameters blue, inputs and constants
    yellow, intermediate values white, the loss green (``viz.style``).

    - ``color_by='grad'`` fills each value by log10 of its gradient's size on a blue
      (vanishing) → red (exploding) scale; exactly 0 is grey, NaN/Inf magenta.
    - ``level='module'`` draws one node per layer (Keras's plot_model); ``expand=['0',
      'features']`` opens those modules; ``expand=True`` draws every op (also the loss's
      internals, ``permute`` for Linear's ``W.T`` and numbers as nodes), and ``expand=
      ['loss']`` / ``['transpose']`` / ``['constants']`` open one kind only.
    - ``group_modules=True`` draws a cluster around each module's ops.
    - ``rankdir``: 'TB' (top to bottom), 'LR', … or None: whichever fits.
    - ``fit=True`` makes the picture fit 1,600 × 1,000 px (96 dpi) with text ≥ 10 pt:
      a long chain loses its middle ("… n nodes …"), then only the values nearest to the
      root are kept; the caption says what was left out. ``max_nodes`` caps the nodes
      drawn before any layout (None: no cap).
    - ``model`` / ``params`` (a dict or ``named_parameters()`` pairs) name values that have
      no name of their own (a Module names its parameters already).

    Returns a :class:`viz.render.Graph` (a ``graphviz.Digraph``): Jupyter shows it inline as
    SVG (tooltips work), ``.source`` is the DOT text, ``viz.save(g, "graph.svg")`` writes it.

    >>> from engine import Value
    >>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    >>> c = a * b; c.label = "c"; c.backward()
    >>> g = draw_graph(c, fit=False)
    >>> 'digraph' in g.source and 'data -6' in g.source and 'grad -3' in g.source
    True
    """
    gm = GraphModel(root, model=model, params=params)
    pic = Picture(gm, rankdir, level, expand, group_modules, max_nodes, fit,
                  show_data=show_data, show_grad=show_grad, color_by=color_by)
    return pic.draw()


PLOT_BATCH = 2  # the batch plot_model runs the model on (shown as None)


def plot_model(model, to_file="model.png", show_shapes=True, show_dtype=False,
               show_layer_names=True, rankdir=None, expand_nested=False, dpi=None,
               show_layer_activations=False, show_trainable=False, splines=None, *,
               input_shape=None, expand=()) -> Graph:
    """Keras's ``plot_model``: one box per layer of ``model`` (name: type, output shape,
    parameter count), arrows where the tensors flow; written to ``to_file`` (.png, .svg,
    .pdf, .dot; None: not written) and returned. ``from viz import plot_model`` or
    ``nn.keras.utils.plot_model`` (the same function) replaces Keras's.

    A Functional model (``nn.keras.Model(inputs=[a, m], outputs=...)``) gets one input box
    per ``Input``, named as in its summary (``name=`` given, else Keras's ``input_layer``,
    ``input_layer_1``, …), and one output box (green) per output; an arrow goes wherever a
    layer's result feeds another layer, also when no gradient flows along it (an integer
    Input into an Embedding). A layer called twice is one box with both inputs' arrows.

    The model runs once on a batch of two zero samples (``PLOT_BATCH``; shapes show the
    batch as None, as Keras's) per input, in eval mode: of each ``Input``'s shape, or of
    ``input_shape`` (one sample's shape; a list of them, one per Input, for several) — by
    default the shape the model knows (``model.summary()``'s). The inputs require a
    gradient only so that the layers working on them alone are recorded as operations.
    ``expand`` opens layers by name, as in ``draw_graph(level='module')``.

    Keras's options: ``show_shapes`` (the output shape after the name), ``show_dtype`` (the
    output's dtype on every box; else none), ``show_layer_names`` (False: the type only),
    ``rankdir`` ('TB' top to bottom, 'LR' left to right; None, stepgrad's default:
    whichever fits 1,600 × 1,000 px), ``expand_nested`` (nested Sequential / Functional
    models drawn as their layers, ``features.0: Dense``; no cluster is drawn around them),
    ``dpi`` (the resolution of a .png/.jpg written; vector files and the returned picture
    stay at 96 dpi), ``show_layer_activations`` (an "activation: relu" line on layers that
    have one; "linear" when None, as Keras), ``show_trainable`` ("trainable" or
    "non-trainable" after the parameter count of layers with weights) and ``splines``
    (Graphviz's edge style, e.g. Keras's 'ortho'; default: Graphviz's). Defaults differ
    from Keras's where stepgrad's picture is more useful: shapes and names shown, rankdir
    whichever fits, dpi 96. Parameter counts are Keras's (buffers such as
    BatchNormalization's moving statistics included).
    """
    import engine
    from nn.keras.functional import KerasTensor, keras_class_name
    from nn.module import Sequential
    from nn.summary import weight_count
    if dpi is not None and (isinstance(dpi, bool) or not isinstance(dpi, (int, float))
                            or dpi <= 0):
        raise ValueError(f"plot_model: dpi must be a positive number, got {dpi!r}")
    xs, names = _plot_inputs(model, input_shape)
    modes = [(m, m.training) for _, m in model.named_modules()]
    try:
        model.eval()
        with engine.enable_grad():
            out = model(*xs)
    finally:
        for m, training in modes:
            m.training = training
    outs = [o for o in (out if isinstance(out, (list, tuple)) else [out])
            if isinstance(o, engine.Tensor)]
    gm = GraphModel(outs if len(outs) > 1 else outs[0], model=model, what="plot_model")
    drawn = set(map(id, gm.order))
    for x in xs:  # they need a gradient only to record the ops; they are the inputs
        if id(x) in drawn:
            gm.kinds[x] = "input"
    functional = getattr(model, "_input_list", None) is not None
    if expand_nested:
        from nn.keras.functional import Model as Functional
        expand = tuple([expand] if isinstance(expand, str) else expand or ()) + tuple(
            name for name, m in model.named_modules()
            if name and isinstance(m, (Sequential, Functional)))

    open_dims = _open_dims(model, input_shape)

    def sub(n, key=None):
        """The text after a box's title: shape (the batch and sizes an Input leaves open:
        None, as Keras), dtype."""
        shape = tuple(n.shape)
        if key in open_dims:
            shape = tuple(None if o else d for d, o in zip(shape, open_dims[key],
                                                           strict=True))
        if shape and shape[0] == PLOT_BATCH:  # the run's batch: any batch size, Keras's None
            shape = (None,) + shape[1:]
        parts = [str(shape)] if show_shapes else []
        return " ".join(parts + ([str(n.dtype)] if show_dtype else []))

    def adjust(view):
        """Keras's boxes: titles, lines and shapes as asked; arrows no gradient drew."""
        item_of = {}
        for item in view.items.values():
            if item.group is None or item.group == ("loss",):
                if item.group is None and item.out is not None:
                    item.sub = sub(item.out)
                continue
            m = gm.scopes[item.nodes[0]][len(item.group) - 1]
            item_of[id(m)] = item.id
            name = gm.module_name(m)
            item.title = f"{name}: {keras_class_name(m)}" if show_layer_names and name \
                else keras_class_name(m)
            item.sub = sub(item.out, id(m))
            lines = []
            if show_layer_activations and hasattr(m, "activation"):
                lines.append(f"activation: {_activation_name(m.activation)}")
            params = list(m.parameters())
            count = weight_count(m)
            if count:
                text = f"{count:,} parameters"
                if show_trainable and params:
                    on = sum(bool(p.requires_grad) for p in params)
                    text += ", trainable" if on == len(params) else \
                        ", non-trainable" if not on else ", partly trainable"
                lines.append(text)
            else:
                lines += item.lines  # the ops it does ("4 ops: permute, pad, max_pool2d")
            item.lines = lines
        for i, (x, name) in enumerate(zip(xs, names, strict=True)):
            title = (f"{name}: InputLayer" if show_layer_names else "InputLayer") \
                if functional else name
            rid = view.rep.get(x) if id(x) in drawn else None
            if rid is None:  # no gradient reaches it (integer ids): drawn all the same
                rid = f"input_{i}"
                view.items[rid] = Item(rid, [x], x, "input", title,
                                       tooltip=f"{name} (no gradient flows into it)")
                view.rep[x] = rid
            view.items[rid].title = title
            view.items[rid].sub = sub(x, id(model._input_list[i]) if functional else None)
            if functional:
                item_of[id(model._input_list[i])] = rid
        # Values outside every layer that are not inputs (BatchNormalization's statistics
        # reshaped under no_grad) feed layers drawn as one box: not drawn, as in Keras.
        inputs = {view.rep.get(x) for x in xs}
        for k in [k for k, it in view.items.items() if it.group is None and k not in inputs
                  and it.kind == "input" and not it.op]:
            heads = [h[:-3] if h.endswith("_op") else h for t, h, _, _ in view.edges if t == k]
            if heads and all(view.items.get(h) is not None and view.items[h].group is not None
                             for h in heads):
                del view.items[k]
        # Boxes in the DOT text in forward order, the inputs first in the model's order:
        # Graphviz then puts the first input first (top, or left), and so on.
        # The outputs last, in the model's order (first output first).
        firsts = [view.rep.get(x) for x in xs if view.rep.get(x) in view.items]
        lasts = [k for k in dict.fromkeys(view.rep.get(o) for o in outs)
                 if k in view.items and k not in firsts]
        rest = [k for k in reversed(view.items) if k not in firsts and k not in lasts]
        view.items = {k: view.items[k] for k in firsts + rest + lasts}
        if not functional:
            return
        have = {(t, h): a for t, h, a, _ in view.edges}
        flows = {}  # (tail, head) → how many tensors go that way
        for call in model._calls:
            head = item_of.get(id(call.layer))
            for p in call.parents():
                tail = item_of.get(id(p.layer) if isinstance(p, KerasTensor) else id(p))
                if head and tail and head != tail:
                    flows[(tail, head)] = flows.get((tail, head), 0) + 1
                    if (tail, head) not in have:
                        have[(tail, head)] = {}
                        view.edges.append((tail, head, have[(tail, head)], []))
        for (tail, head), n in flows.items():  # a layer called twice feeds one box twice
            if n > 1:
                have[(tail, head)].update(label=f"{n} tensors",
                                          tooltip=f"{n} tensors: one per call of the layer")

    pic = Picture(gm, rankdir, "module", expand, False, 300, True, show_data=False,
                  show_grad=False, adjust=adjust)
    graph = pic.draw()
    starts = [k for k in (pic.red.where(pic.view.rep.get(x)) for x in xs) if k]
    if len(starts) > 1:  # every input at the start (top, or left), where a reader looks
        with graph.subgraph() as first:
            first.attr(rank="min")
            for k in starts:
                first.node(k)
    if splines is not None:
        graph.attr(splines=str(splines))
    if to_file is not None:
        from pathlib import Path

        from .render import save
        out_graph = graph
        if dpi is not None and Path(to_file).suffix.lower() in (".png", ".jpg", ".jpeg"):
            out_graph = graph.copy()
            out_graph.attr(dpi=f"{dpi:g}")
        save(out_graph, to_file)
    return graph


def _open_dims(model, input_shape) -> dict:
    """id(layer or Input) → per dimension of its output, whether it follows a size an Input
    leaves open (None): found by running a Functional model with two sizes for them."""
    inputs = getattr(model, "_input_list", None)
    if inputs is None or input_shape is not None or not any(None in t.shape for t in inputs):
        return {}
    from nn.summary import OPEN_SIZES, _call_outputs
    a, b = (_call_outputs(model, size) for size in OPEN_SIZES)
    out = {id(t): (False,) + tuple(d is None for d in t.shape) for t in inputs}
    for call in model._calls:
        x, y = a[id(call)], b[id(call)]
        if hasattr(x, "shape") and hasattr(y, "shape") and len(x.shape) == len(y.shape):
            out[id(call.layer)] = tuple(d != e for d, e in zip(x.shape, y.shape, strict=True))
    return out


def _activation_name(activation) -> str:
    """Keras's name of a layer's activation (None: 'linear')."""
    if activation is None:
        return "linear"
    if isinstance(activation, str):
        return activation
    return getattr(activation, "__name__", type(activation).__name__)


def _plot_inputs(model, input_shape):
    """(zero batches of two samples, their names): one per Input of a Functional model, one
    for another model (the shape it knows, or ``input_shape``)."""
    import engine
    from nn.keras.model import input_shape_of, keras_input_names
    inputs = getattr(model, "_input_list", None)
    if inputs is None:
        shape = input_shape if input_shape is not None else input_shape_of(model)
        if shape is None:
            raise ValueError("plot_model: the model declares no input shape (Input(shape="
                             "...) or input_shape= on its first layer): pass "
                             "input_shape=(...)")
        shapes, names = [(shape,) if isinstance(shape, int) else tuple(shape)], ["input"]
    else:
        names = keras_input_names(model)
        if input_shape is None:  # an open size (None): OPEN_SIZES[0], shown as None
            from nn.summary import OPEN_SIZES
            shapes = [tuple(OPEN_SIZES[0] if d is None else d for d in t.shape)
                      for t in inputs]
        elif len(inputs) == 1:
            shapes = [(input_shape,) if isinstance(input_shape, int) else tuple(input_shape)]
        else:
            shapes = [(s,) if isinstance(s, int) else tuple(s) for s in input_shape]
            if len(shapes) != len(inputs):
                raise ValueError(f"plot_model: the model has {len(inputs)} inputs "
                                 f"({', '.join(names)}); input_shape gives {len(shapes)} "
                                 f"shapes: give one per Input, in order")
    for name, shape in zip(names, shapes, strict=True):
        if not shape or not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool)
                                and d >= 1 for d in shape):
            several = len(shapes) > 1
            raise ValueError(f"plot_model: input {name!r} has the shape {shape}: the model "
                             f"runs on zeros to find the shapes, so every size must be known;"
                             f" pass input_shape=" + ("[(...), (...)] (one sample's shape "
                                                      "per Input, in order)" if several
                                                      else "(...) (one sample's shape)"))
    xs = [engine.zeros(*((PLOT_BATCH,) + tuple(int(d) for d in s)), requires_grad=True, name=n)
          for s, n in zip(shapes, names, strict=True)]
    return xs, names


def step_state(step, grads=None) -> State:
    sent = {}
    for p, pg in zip(step.node.parents, step.parent_grads, strict=True):
        if pg is not None:
            sent[(p, step.node)] = pg
    return State(grads=grads, done=set(step.done), current=step.node, sent=sent)


def draw_step(step, show_data=True, color_by=None, rankdir=None, level="op", expand=(),
              group_modules=False, max_nodes=300, fit=True, model=None, params=None) -> Graph:
    """Draw the graph at one step of ``engine.backward_steps``.

    The step's node and its op have a thick red border, and the gradients it sends to its
    parents label their edges in red; values whose gradient is known (``step.done``) show
    it, the others ``grad ?`` in grey. The step's text (rule in the operands' names, numbers,
    what goes to each parent) is the caption. The picture has the same layout at every step
    and as ``draw_graph`` with the same options; for the whole sequence in one page see
    :func:`viz.player`.

    >>> from engine import Value, backward_steps
    >>> x = Value(0.5, label="x"); y = (x * 2).tanh(); y.label = "y"
    >>> steps = list(backward_steps(y))
    >>> g = draw_step(steps[1], fit=False)   # y and 2x have their gradients; x not yet
    >>> 'digraph' in g.source and 'grad ?' in g.source and 'd(x·2)/dx = 2' in g.source
    True
    """
    root = step.done[0]
    gm = GraphModel(root, model=model, params=params, what="draw_step")
    names = {id(n): gm.names[n] for n in gm.order if gm.names[n]}
    text = step_text(step, names)
    n_lines = 2 + max((len(n.parents) for n in gm.order), default=1)
    pic = Picture(gm, rankdir, level, expand, group_modules, max_nodes, fit,
                  reserve=(0, 16 * n_lines + 8), show_data=show_data, show_grad=True,
                  color_by=color_by, step=True)
    state = step_state(step)
    return pic.draw(state, caption=text.splitlines())

