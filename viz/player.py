"""The backprop player: every step of ``engine.backward_steps`` on one fixed picture, in one
self-contained HTML page (no server, no internet, no notebook widgets).

``viz.player(root)`` runs backprop step by step and returns a :class:`Player`: Jupyter shows
it inline, ``.save("backprop.html")`` writes the page. In the page: the graph (laid out once,
so nothing moves), buttons to go back and forth, a slider, the arrow keys (Home/End for the
first/last step); at each step the current node has a red border, the gradients known so far
are on the nodes ("grad ?" for the others), what the step sends to each parent is in red on
that parent, and the step's text (rule in the operands' names, numbers, what goes where)
is beside the graph.

How it works: the picture is drawn once by :mod:`viz.graph` at the final state (so each box
is as wide as its final text), and a small script sets, for the chosen step, each node's
grad text, the border of the current node and the colour of the edges it sends along. The
step data is a JSON block in the page.
"""
from __future__ import annotations

import html
import json
from pathlib import Path

from engine import Value, backward_steps

from . import style
from .graph import Picture, State, grad_text_of, sent_text, step_state
from .model import GraphModel
from .render import atomic_write
from .style import GradScale
from .text import step_text

# The box for the picture inside the page: the text panel takes the rest of a 1,600 px wide
# window, the title and the buttons the rest of its 1,000 px.
PLAYER_BOX = (1150, 880)


class Player:
    """Backprop on one picture, step by step. Shows itself in Jupyter; ``save(path)`` writes
    the self-contained HTML page; ``html()`` returns it; ``steps`` are the
    ``engine.backward_steps`` it plays; ``texts`` the text shown at each step."""

    def __init__(self, root, steps, picture: Picture, title=""):
        self.root, self.steps, self.picture = root, steps, picture
        self.title = title or "Backprop, step by step"
        gm = picture.gm
        self.names = {id(n): gm.names[n] for n in gm.order if gm.names[n]}
        self.texts = [step_text(s, self.names) for s in steps]

    # -- where each step's node is drawn --------------------------------------------------
    def dot_id(self, node) -> str:
        """The DOT name (and SVG id) of what shows ``node``: its box, the collapsed node that
        contains it, or the ``.T`` edge of a transposed parameter."""
        view, red = self.picture.view, self.picture.red
        rep = view.rep.get(node)
        if rep is None:
            return ""
        if rep in view.edge_ids.values():
            if rep in self._edges_drawn():
                return rep
            # The edge is not drawn (its ends were elided): what shows the matrix instead.
            return red.where(view.rep.get(node.parents[0], "")) or ""
        return red.where(rep) or ""

    def _edges_drawn(self):
        return {a.get("id") for a, _ in _edge_ids(self.picture)}

    def _data(self) -> dict:
        pic = self.picture
        gm, red = pic.gm, pic.red
        grads = {s.node: s.grad for s in self.steps}
        known_at = {s.node: s.index for s in self.steps}
        items = {}
        scale = None
        if pic.opts["color_by"] == "grad":
            scale = GradScale([gm.grad_magnitude(n, g) for n, g in grads.items()])
        for item in red.items.values():
            n = item.out
            if n is None:
                continue
            text = grad_text_of(n, grads.get(n, n.grad), True)
            if text is None:
                continue
            entry = dict(grad=text, known=known_at.get(n, -1))
            if scale is not None:  # fill: the kind's until the gradient is known
                entry["fill"] = style.GROUP_FILL if item.kind == "group" else \
                    style.KINDS[item.kind][0]
                entry["gfill"] = scale.colour(gm.grad_magnitude(n, grads.get(n, n.grad)))
            items[item.id] = entry
        steps = []
        for s in self.steps:
            state = step_state(s, grads)
            target = self.dot_id(s.node)
            sent = {}
            for (p, _), pg in state.sent.items():
                where = self.dot_id(p)
                if where and where != target:
                    text = sent_text(p, pg)
                    sent[where] = sent[where] + " + " + text if where in sent else text
            links = [e for e, pairs in self._edge_pairs.items()
                     if any(n is s.node and (p, n) in state.sent for p, n in pairs)]
            steps.append(dict(text=self.texts[s.index], node=target,
                              op=target + "_op" if target in red.items and
                              red.items[target].op and not pic.compact else "",
                              sent=sent, edges=links))
        return dict(items=items, steps=steps, colour=dict(
            current=style.CURRENT, pending=style.PENDING_TEXT))

    def html(self) -> str:
        """The whole page: one file, no outside resources."""
        pic = self.picture
        grads = {s.node: s.grad for s in self.steps}
        g = pic.draw(State(grads=grads))  # the final state: the page hides what is not known
        svg = g.svg()
        self._edge_pairs = {attrs.get("id", ""): pairs
                            for attrs, pairs in _edge_ids(pic)}
        data = json.dumps(self._data(), ensure_ascii=False).replace("</", "<\\/")
        return _PAGE.format(title=html.escape(self.title), svg=svg, data=data,
                            n=len(self.steps), last=len(self.steps) - 1,
                            first_text=html.escape(self.texts[0]) if self.texts else "",
                            width=PLAYER_BOX[0])

    def save(self, path) -> Path:
        """Write the page to ``path`` (atomically; .html)."""
        page = self.html()

        def write(tmp):
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(page)

        return atomic_write(path, write)

    def gif(self, path, seconds_per_step=1.5) -> Path:
        """An animated GIF of the same steps for slides: each frame is the fixed picture at
        one step (``draw_step``'s look) under that step's text. Needs Graphviz and Pillow
        (installed with matplotlib)."""
        import io

        from matplotlib import font_manager
        from PIL import Image, ImageDraw, ImageFont

        pic = self.picture
        grads = {s.node: s.grad for s in self.steps}
        frames = []
        for s in self.steps:
            png = pic.draw(step_state(s, grads)).pipe(format="png")
            frames.append(Image.open(io.BytesIO(png)).convert("RGB"))
        font = ImageFont.truetype(font_manager.findfont("DejaVu Sans Mono"), 13)
        line_h = 17
        text_h = line_h * max(len(t.splitlines()) for t in self.texts) + 16
        width = max(max(f.width for f in frames),
                    max(int(font.getlength(line)) for t in self.texts
                        for line in t.splitlines()) + 24)
        height = text_h + max(f.height for f in frames)
        out = []
        for frame, text in zip(frames, self.texts, strict=True):
            canvas = Image.new("RGB", (width, height), "white")
            draw = ImageDraw.Draw(canvas)
            for i, line in enumerate(text.splitlines()):
                draw.text((12, 8 + i * line_h), line, fill="black", font=font)
            canvas.paste(frame, (0, text_h))
            out.append(canvas.convert("P", palette=Image.Palette.ADAPTIVE))

        def write(tmp):
            out[0].save(tmp, format="GIF", save_all=True, append_images=out[1:],
                        duration=int(seconds_per_step * 1000), loop=0)

        return atomic_write(path, write)

    def _repr_html_(self):
        # An iframe keeps the page's ids, style and script apart from the notebook's (two
        # players in one notebook do not collide); srcdoc needs no file or server.
        page = self.html()
        from .render import svg_size
        w, h = svg_size(page[page.index("<svg"):])
        height = max(h, 300) + 140
        return (f'<iframe srcdoc="{html.escape(page, quote=True)}" style="width: 100%; '
                f'height: {height}px; border: 1px solid #ddd" '
                f'sandbox="allow-scripts"></iframe>')

    def __repr__(self):
        return f"<viz.Player: {len(self.steps)} steps of backprop; .save('backprop.html')>"


def _edge_ids(pic):
    """(attrs, pairs) of every edge as drawn (ids as in the SVG)."""
    out = []
    for i, (_, _, attrs, pairs) in enumerate(pic.red.edges()):
        a = dict(attrs)
        a.setdefault("id", f"e{i}")
        out.append((a, pairs))
    return out


def player(root, color_by=None, rankdir=None, level="op", expand=(), max_nodes=300,
           model=None, params=None, title="", box=PLAYER_BOX) -> Player:
    """The backprop player for the graph ending at ``root`` (a Value or a scalar Tensor).

    Runs ``engine.backward_steps(root, retain_graph=True)`` -- like ``root.backward()``, the
    leaves' gradients accumulate, and a tensor graph must still have its saved arrays (call
    it before ``backward()``, or after ``backward(retain_graph=True)``) -- and returns a
    :class:`Player` that Jupyter shows inline;
    ``.save("backprop.html")`` writes one self-contained page to open in any browser. The
    picture options are ``draw_graph``'s; it is fitted to ``box`` (px), the room the page
    leaves beside the text panel in a 1,600 × 1,000 window.

    >>> from engine import Value
    >>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    >>> p = player(a * b + a)
    >>> len(p.steps), p.texts[0].splitlines()[0]
    (4, 'step 0: <add -4> = add(<mul -6>, a) received grad 1')
    """
    steps = list(backward_steps(root, retain_graph=True))
    gm = GraphModel(root, model=model, params=params, what="player")
    grads = {s.node: s.grad for s in steps}
    pic = Picture(gm, rankdir, level, expand, False, max_nodes, True, box=box,
                  show_data=True, show_grad=True, color_by=color_by, final_grads=grads,
                  step=True)
    return Player(root, steps, pic, title)


_ = Value  # the docstring example builds Values

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{title}</title>
<style>
  body {{ font: 14px Helvetica, Arial, sans-serif; margin: 12px; color: #222; }}
  h1 {{ font-size: 16px; margin: 0 12px 0 0; }}
  #controls {{ display: flex; align-items: center; gap: 8px; flex-wrap: wrap;
              margin-bottom: 8px; }}
  #controls button {{ font-size: 14px; padding: 3px 10px; }}
  #slider {{ width: 280px; }}
  #main {{ display: flex; gap: 16px; align-items: flex-start; flex-wrap: wrap; }}
  #graph {{ flex: 0 1 auto; max-width: {width}px; overflow: auto; }}
  #panel {{ flex: 1 1 360px; min-width: 320px; }}
  #text {{ white-space: pre-wrap; font: 13px Menlo, Consolas, monospace;
          background: #f7f7f7; border-left: 4px solid #d62728; padding: 8px 10px;
          margin: 0; }}
  .help {{ color: #666; font-size: 12px; margin-top: 8px; }}
</style></head>
<body>
<div id="controls">
  <h1>{title}</h1>
  <button id="first" title="first step (Home)">&#xAB; first</button>
  <button id="prev" title="previous step (&#x2190;)">&#x2039; back</button>
  <button id="next" title="next step (&#x2192;)">next &#x203A;</button>
  <button id="last" title="last step (End)">last &#xBB;</button>
  <input id="slider" type="range" min="0" max="{last}" value="0" aria-label="step">
  <span id="counter">step 0 of {n}</span>
</div>
<div id="main">
  <div id="graph">{svg}</div>
  <div id="panel">
    <pre id="text">{first_text}</pre>
    <div class="help">Keys: &#x2190; &#x2192; step, Home / End. Hover over an op (or a box
    holding several ops) to see its rule. Red border: this step's node; red
    &#x201C;grad &#x2190; g&#x201D;: what it sends to that input; grey
    &#x201C;grad ?&#x201D;: not known yet.</div>
  </div>
</div>
<script type="application/json" id="data">{data}</script>
<script>
(function () {{
  "use strict";
  var D = JSON.parse(document.getElementById("data").textContent);
  var svg = document.querySelector("#graph svg");
  var slider = document.getElementById("slider");
  var counter = document.getElementById("counter");
  var text = document.getElementById("text");
  var k = 0;

  function node(id) {{ return id ? svg.querySelector('[id="' + id + '"]') : null; }}
  function gradText(g) {{
    var ts = g.querySelectorAll("text");
    for (var i = 0; i < ts.length; i++) {{
      if (ts[i].textContent.indexOf("grad") === 0) return ts[i];
    }}
    return null;
  }}
  function border(g) {{  // the last unfilled polygon of a box is its border
    var ps = g.querySelectorAll("polygon[fill='none'], ellipse");
    return ps.length ? ps[ps.length - 1] : null;
  }}
  // Remember each box's own look, to restore it when another step is shown.
  Object.keys(D.items).forEach(function (id) {{
    var g = node(id); if (!g) return;
    var t = gradText(g); if (t) t.setAttribute("data-fill", t.getAttribute("fill") || "#000000");
  }});
  svg.querySelectorAll("g.node, g.edge").forEach(function (g) {{
    g.querySelectorAll("polygon, ellipse, path").forEach(function (p) {{
      p.setAttribute("data-stroke", p.getAttribute("stroke") || "");
      p.setAttribute("data-width", p.getAttribute("stroke-width") || "");
      p.setAttribute("data-fillc", p.getAttribute("fill") || "");
    }});
    g.querySelectorAll("text").forEach(function (t) {{
      t.setAttribute("data-text", t.textContent);
      t.setAttribute("data-fill", t.getAttribute("fill") || "#000000");
    }});
  }});
  function restore(g) {{
    g.classList.remove("current", "sent");
    g.querySelectorAll("polygon, ellipse, path").forEach(function (p) {{
      p.setAttribute("stroke", p.getAttribute("data-stroke"));
      var w = p.getAttribute("data-width");
      if (w) p.setAttribute("stroke-width", w); else p.removeAttribute("stroke-width");
      p.setAttribute("fill", p.getAttribute("data-fillc"));
    }});
    g.querySelectorAll("text").forEach(function (t) {{
      t.textContent = t.getAttribute("data-text");
      t.setAttribute("fill", t.getAttribute("data-fill"));
    }});
  }}
  function mark(g, width, isOp) {{
    g.classList.add("current");
    var b = border(g);
    if (b) {{ b.setAttribute("stroke", D.colour.current); b.setAttribute("stroke-width", width); }}
    if (isOp) g.querySelectorAll("text").forEach(function (t) {{
      t.setAttribute("fill", D.colour.current); }});
  }}
  function show(i) {{
    k = Math.max(0, Math.min(D.steps.length - 1, i));
    var s = D.steps[k];
    svg.querySelectorAll("g.node, g.edge").forEach(restore);
    Object.keys(D.items).forEach(function (id) {{
      var g = node(id); if (!g) return;
      var t = gradText(g); if (!t) return;
      var it = D.items[id];
      if (s.sent[id] !== undefined) {{
        t.textContent = "grad \u2190 " + s.sent[id]; t.setAttribute("fill", D.colour.current);
      }} else if (it.known >= 0 && it.known <= k) {{
        t.textContent = it.grad; t.setAttribute("fill", t.getAttribute("data-fill"));
      }} else {{
        t.textContent = "grad ?"; t.setAttribute("fill", D.colour.pending);
      }}
      var known = it.known >= 0 && it.known <= k;
      g.classList.toggle("pending", !known);
      if (it.fill) {{  // coloured by gradient: the kind's fill until the gradient is known
        var bg = g.querySelector("polygon");
        if (bg) bg.setAttribute("fill", known ? it.gfill : it.fill);
      }}
    }});
    var cur = node(s.node);
    if (cur) {{
      if (cur.getAttribute("class") === "edge") {{
        cur.classList.add("current");
        cur.querySelectorAll("path, polygon").forEach(function (p) {{
          p.setAttribute("stroke", D.colour.current); p.setAttribute("stroke-width", "3");
        }});
      }} else mark(cur, "3", false);
    }}
    var op = node(s.op); if (op) mark(op, "2.5", true);
    s.edges.forEach(function (id) {{
      var e = node(id); if (!e) return;
      e.classList.add("sent");
      e.querySelectorAll("path").forEach(function (p) {{
        p.setAttribute("stroke", D.colour.current); p.setAttribute("stroke-width", "2"); }});
      e.querySelectorAll("polygon").forEach(function (p) {{
        p.setAttribute("stroke", D.colour.current); p.setAttribute("fill", D.colour.current); }});
      if (s.sent[id] !== undefined) {{
        e.querySelectorAll("text").forEach(function (t) {{
          t.textContent = t.getAttribute("data-text") + " \u2190 " + s.sent[id];
          t.setAttribute("fill", D.colour.current);
        }});
      }}
    }});
    text.textContent = s.text;
    slider.value = k;
    counter.textContent = "step " + k + " of " + D.steps.length;
    document.getElementById("prev").disabled = k === 0;
    document.getElementById("first").disabled = k === 0;
    document.getElementById("next").disabled = k === D.steps.length - 1;
    document.getElementById("last").disabled = k === D.steps.length - 1;
  }}
  document.getElementById("first").onclick = function () {{ show(0); }};
  document.getElementById("prev").onclick = function () {{ show(k - 1); }};
  document.getElementById("next").onclick = function () {{ show(k + 1); }};
  document.getElementById("last").onclick = function () {{ show(D.steps.length - 1); }};
  slider.oninput = function () {{ show(parseInt(slider.value, 10)); }};
  document.addEventListener("keydown", function (e) {{
    if (e.key === "ArrowRight") {{ show(k + 1); e.preventDefault(); }}
    else if (e.key === "ArrowLeft") {{ show(k - 1); e.preventDefault(); }}
    else if (e.key === "Home") {{ show(0); e.preventDefault(); }}
    else if (e.key === "End") {{ show(D.steps.length - 1); e.preventDefault(); }}
  }});
  show(0);
}})();
</script>
</body></html>
"""
