"""viz.draw_graph / draw_step and the rendering helpers: DOT structure, labels, colours,
clusters, determinism, SVG output with Graphviz, and the fallbacks without it."""
import doctest
import os
import re
import shutil

import numpy as np
import pytest

import engine
import nn
import viz
from engine import Value, backward_steps
from viz import graph as vgraph
from viz import plots as vplots
from viz import recurrent as vrecurrent
from viz import render as vrender
from viz.render import Graph, GraphvizNotFound, save

has_dot = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not has_dot, reason="Graphviz's dot is not installed")

_NODE = re.compile(r'^\s*"?([\w.]+)"? \[(.*)\]$')
_EDGE = re.compile(r'^\s*"?([\w.]+)"? -> "?([\w.]+)"?(?: \[(.*)\])?$')


def nodes(g):
    """DOT name → attribute text, for every node statement (legend excluded)."""
    out = {}
    for line in g.source.splitlines():
        m = _NODE.match(line)
        if m and "->" not in line and m.group(1) not in ("node", "edge", "graph", "legend"):
            out[m.group(1)] = m.group(2)
    return out


def edges(g):
    return [(m.group(1), m.group(2), m.group(3) or "") for line in g.source.splitlines()
            if (m := _EDGE.match(line))]


def clusters(g):
    """cluster label → set of node names declared inside it (nested ones included)."""
    stack, out = [], {}
    for line in g.source.splitlines():
        s = line.strip()
        if s.startswith("subgraph cluster"):
            stack.append([None, set()])
        elif s == "}" and stack:
            label, members = stack.pop()
            out[label] = members
            if stack:
                stack[-1][1] |= members
        elif stack and (m := re.search(r'\blabel=("([^"]*)"|[\w.]+)', s)) and \
                stack[-1][0] is None and "[" not in s.split("label=")[0]:
            stack[-1][0] = m.group(2) if m.group(2) is not None else m.group(1)
        elif stack and (m := _NODE.match(line)) and "->" not in line:
            stack[-1][1].add(m.group(1))
    return out


def label(attrs):
    m = re.search(r'label=(?:"((?:[^"\\]|\\.)*)"|([\w.]+))', attrs)
    return m.group(1) if m.group(1) is not None else m.group(2)


def fill(attrs):
    return re.search(r'fillcolor="(#[0-9a-f]{6})"', attrs).group(1)


def neuron():
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    n = x1 * w1 + x2 * w2 + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    return o, dict(x1=x1, x2=x2, w1=w1, w2=w2, b=b)


def mlp_loss(seed=0, backward=True):
    engine.manual_seed(seed)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    x = engine.Tensor(np.arange(12, dtype=np.float32).reshape(4, 3) / 10, name="x")
    loss = model(x).sum()
    if backward:
        loss.backward()
    return model, loss


# ------------------------------------------------------------------------------ structure
def test_value_graph_nodes_edges_and_numbers():
    a, b, c = Value(2.0, label="a"), Value(-3.0, label="b"), Value(10.0, label="c")
    e = a * b
    e.label = "e"
    d = e + c
    d.label = "d"
    d.backward()
    g = viz.draw_graph(d)
    ns = nodes(g)
    values = [n for n in ns if not n.endswith("_op")]
    ops = [n for n in ns if n.endswith("_op")]
    assert len(values) == 5 and len(ops) == 2
    assert len(edges(g)) == 6  # a, b → mul → e; e, c → add → d
    assert "d | data 4 | grad 1" in g.source
    assert "a | data 2 | grad -3" in g.source
    assert "b | data -3 | grad 2" in g.source
    assert {label(ns[o]) for o in ops} == {"mul", "add"}
    assert 'shape=record' in ns["v0"] and 'shape=ellipse' in ns["v0_op"]


def test_scalars_shown_to_four_significant_digits():
    o, leaves = neuron()
    o.backward()
    src = viz.draw_graph(o).source
    assert "b | data 6.881 | grad 0.5" in src
    assert "o | data 0.7071 | grad 1" in src
    assert "w1 | data -3 | grad 1" in src


def test_edges_follow_parents_order_and_keep_repeats():
    a, b = Value(5.0, label="a"), Value(3.0, label="b")
    for expr, first, second in ((lambda: a - b, "a", "b"), (lambda: b - a, "b", "a")):
        g = viz.draw_graph(expr())
        name = {label(attrs).split(" |")[0].strip("{ "): n for n, attrs in nodes(g).items()}
        into_op = [t for t, h, _ in edges(g) if h == "v0_op"]
        assert into_op == [name[first], name[second]]
        assert "ordering=in" in nodes(g)["v0_op"]
    sq = a * a  # micrograd's set would collapse this to one edge
    assert [t for t, h, _ in edges(viz.draw_graph(sq)) if h == "v0_op"] == ["v1", "v1"]


def test_legend_and_node_kinds():
    a = Value(1.5, label="a")
    y = a * 2
    y.backward()
    g = viz.draw_graph(y, params={"a": a})
    ns = nodes(g)
    assert "subgraph cluster_legend" in g.source
    for kind in ("input", "parameter", "output", "constant"):
        assert f">{kind}<" in g.source
    const = next(n for n, attrs in ns.items() if label(attrs) in ("{ 2 }", "2"))
    assert fill(ns[const]) == vgraph.KINDS["constant"][0]
    assert fill(ns["v0"]) == vgraph.KINDS["output"][0]
    param = next(n for n, attrs in ns.items() if label(attrs).startswith("{ a |"))
    assert fill(ns[param]) == vgraph.KINDS["parameter"][0]


def test_tensor_records_show_name_shape_dtype_and_summaries():
    model, loss = mlp_loss()
    g = viz.draw_graph(loss, model=model)
    src = g.source
    assert "0.weight | (4, 3) float32 | data μ" in src  # parameter named from the model
    assert "2.bias | (2,) float32 | data [0, 0] | grad [4, 4]" in src
    assert "x | (4, 3) float32 | data μ 0.55" in src  # an input: no grad line
    assert "() float32 | data" in src and "grad 1" in src
    assert "permute\\n.T" in src  # W.T drawn as a transpose
    # Without a model, a parameter is still blue (a leaf that requires grad).
    plain = nodes(viz.draw_graph(loss))
    blue = [n for n, attrs in plain.items()
            if "fillcolor" in attrs and fill(attrs) == vgraph.KINDS["parameter"][0]]
    assert len(blue) == 4


def test_same_graph_gives_the_same_dot_text():
    _, loss1 = mlp_loss(seed=3)
    _, loss2 = mlp_loss(seed=3)
    assert viz.draw_graph(loss1).source == viz.draw_graph(loss2).source
    assert viz.draw_graph(loss1).source == viz.draw_graph(loss1).source
    o1, _ = neuron()
    o2, _ = neuron()
    kw = dict(color_by="grad", group_modules=True)
    assert viz.draw_graph(o1, **kw).source == viz.draw_graph(o2, **kw).source
    assert "0x" not in viz.draw_graph(o1).source  # never id()-based names


# ------------------------------------------------------------------------------ colours
def test_color_by_grad_spans_magnitudes_and_flags_nan():
    small, big, bad = Value(1.0, label="small"), Value(1.0, label="big"), Value(1.0, label="bad")
    y = small * 1e-6 + big * 1e3 + bad
    y.backward()
    bad.grad = float("nan")
    g = viz.draw_graph(y, color_by="grad")
    ns = nodes(g)
    colour = {label(attrs).split(" |")[0].strip("{ "): fill(attrs)
              for attrs in ns.values() if "record" in attrs}
    assert colour["small"] != colour["big"]
    assert colour["bad"] == vgraph._NONFINITE
    assert vgraph._NONFINITE not in (colour["small"], colour["big"])
    # The scale spans ±6 decades: 1e-6 at the blue end, 1e3 three quarters up (orange-red).
    assert colour["small"] == vgraph.scale_colour(0.0) == "#4575b4"
    assert colour["big"] == vgraph.scale_colour(0.75)
    assert "log10 |grad|" in g.source and "NaN / Inf" in g.source
    ticks = re.findall(r'>([+-]\d+)</TD>', g.source)
    assert ticks[0] == "+6" and ticks[-1] == "-6" and len(ticks) >= 3


def test_color_by_grad_on_tensors_and_no_grad_nodes():
    _, loss = mlp_loss()
    g = viz.draw_graph(loss, color_by="grad")
    ns = nodes(g)
    x = next(attrs for attrs in ns.values() if "x | (4, 3)" in attrs)
    assert fill(x) == "#ffffff"  # an input has no gradient: left white
    loss_node = ns["v0"]
    assert fill(loss_node) == vgraph.GradScale([1.0]).colour(1.0)
    t = engine.tensor([1.0, 2.0], requires_grad=True)
    y = (t * 2).sum()
    y.backward()
    t.grad = engine.tensor([np.inf, 1.0])
    assert vgraph._NONFINITE in viz.draw_graph(y, color_by="grad").source
    with pytest.raises(ValueError, match="color_by"):
        viz.draw_graph(y, color_by="data")


def test_grad_scale_is_centred_on_one():
    s = vgraph.GradScale([1e-9, 1.0, 10.0])
    assert (s.lo, s.hi) == (-9, 9)
    assert s.colour(1.0) == vgraph.scale_colour(0.5)
    assert s.colour(0.0) == vgraph.scale_colour(0.0)
    assert s.colour(float("inf")) == s.colour(float("nan")) == vgraph._NONFINITE
    assert s.colour(None) == "#ffffff"
    assert vgraph.GradScale([]).ticks() == [-2, -1, 0, 1, 2]


# ------------------------------------------------------------------------------ modules
def test_group_modules_clusters_ops_and_parameters_by_module():
    model, loss = mlp_loss()
    g = viz.draw_graph(loss, group_modules=True, model=model)
    cl = clusters(g)
    assert {"Sequential", "0: Linear", "1: ReLU", "2: Linear"} <= set(cl)
    ns = nodes(g)
    named = {label(attrs).split(" |")[0].strip("{ "): n for n, attrs in ns.items()
             if "record" in attrs}
    assert named["0.weight"] in cl["0: Linear"] and named["0.bias"] in cl["0: Linear"]
    assert named["2.weight"] in cl["2: Linear"]
    assert named["x"] not in cl["Sequential"]  # the input came from outside the model
    assert "v0" not in cl["Sequential"]  # .sum() ran outside the model
    relu_ops = [n for n in cl["1: ReLU"] if n.endswith("_op")]
    assert [label(ns[n]) for n in relu_ops] == ["relu"]
    # Without a model: type names with an index, first layer first.
    cl2 = clusters(viz.draw_graph(loss, group_modules=True))
    assert {"Sequential #0", "Linear #0", "Linear #1", "ReLU #0"} <= set(cl2)


def test_max_nodes_collapses_the_rest_into_a_note():
    a = Value(1.0, label="a")
    v = a
    for _ in range(49):
        v = v * 1.0 + 0.5
    g = viz.draw_graph(v, max_nodes=10)
    ns = nodes(g)
    records = [n for n, attrs in ns.items() if "shape=record" in attrs]
    assert len(records) == 10
    assert "more" in ns and "shape=note" in ns["more"]
    assert re.search(r"\d+ more values not drawn \(max_nodes=10\)", g.source)
    assert any(t == "more" for t, _, _ in edges(g))
    assert "more" not in nodes(viz.draw_graph(v, max_nodes=None))


def test_huge_chain_draws_without_recursion():
    v = Value(1.0)
    for _ in range(20_000):
        v = v + 1.0
    g = viz.draw_graph(v)  # the default max_nodes keeps it readable
    assert len([n for n in nodes(g) if not n.endswith("_op")]) == 300 + 1  # + the note


# ------------------------------------------------------------------------------ steps
def test_draw_step_highlights_the_node_and_shows_known_grads_only():
    o, leaves = neuron()
    steps = list(backward_steps(o))
    k = next(i for i, s in enumerate(steps) if s.node.label == "n")
    g = viz.draw_step(steps[k])  # n = (x1·w1 + x2·w2) + b
    ns = nodes(g)
    current = [n for n, attrs in ns.items() if vgraph._HIGHLIGHT in attrs and "record" in attrs]
    assert len(current) == 1 and "penwidth=3.5" in ns[current[0]]
    assert ns[current[0] + "_op"].count(vgraph._HIGHLIGHT) >= 1
    assert "grad ?" in g.source  # the leaves' gradients are not known yet
    assert "o | data 0.7071 | grad 1" in g.source  # done: its gradient is shown
    assert "x1 | data 2 | grad ?" in g.source
    red_edges = [e for e in edges(g) if vgraph._HIGHLIGHT in e[2]]
    assert len(red_edges) == 2 and all("grad 0.5" in e[2] for e in red_edges)
    assert f"step {k}: n = add" in g.source  # the printed step is the picture's title
    # Grads filled in later (the iterator is exhausted) do not leak into earlier steps.
    assert "x1 | data 2 | grad ?" in viz.draw_step(steps[0]).source
    last = viz.draw_step(steps[-1]).source
    assert "grad ?" not in last


def test_draw_step_on_tensor_graph_same_layout_every_step():
    _, loss = mlp_loss(backward=False)
    steps = list(backward_steps(loss))
    shapes = set()
    for s in steps:
        g = viz.draw_step(s)
        shapes.add(tuple(sorted(nodes(g))))
        assert g.source.count("penwidth=3.5") == 1
    assert len(shapes) == 1  # same nodes at every step: pictures line up as an animation


# ------------------------------------------------------------------------------ rendering
@needs_dot
def test_svg_and_png_render_with_dot(tmp_path):
    o, _ = neuron()
    o.backward()
    g = viz.draw_graph(o, color_by="grad")
    out = save(g, tmp_path / "neuron.svg")
    text = out.read_text()
    assert "<svg" in text and "x1" in text and "6.881" in text
    assert save(g, tmp_path / "neuron.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "image/svg+xml" in g._repr_mimebundle_()
    assert g._repr_svg_().lstrip().startswith("<?xml")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["neuron.png", "neuron.svg"]


def test_without_dot_jupyter_falls_back_and_files_raise_one_clear_error(tmp_path,
                                                                       monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no `dot` anywhere
    o, _ = neuron()
    g = viz.draw_graph(o)
    assert g._repr_mimebundle_() == {"text/plain": g.source}
    assert g._repr_svg_() is None
    with pytest.raises(GraphvizNotFound, match="apt-get install graphviz") as info:
        save(g, tmp_path / "g.svg")
    msg = str(info.value)
    assert "brew install graphviz" in msg and "conda" in msg
    assert info.value.__cause__ is None and info.value.__suppress_context__
    with pytest.raises(GraphvizNotFound):
        g.render(tmp_path / "h", format="png")
    with pytest.raises(GraphvizNotFound):
        g.pipe(format="svg")
    assert not (tmp_path / "g.svg").exists()
    assert "digraph" in save(g, tmp_path / "g.dot").read_text()  # DOT needs no Graphviz
    import graphviz
    assert issubclass(GraphvizNotFound, graphviz.ExecutableNotFound)


def test_save_is_atomic_and_checks_the_suffix(tmp_path):
    g = Graph()
    g.edge("a", "b")
    target = tmp_path / "g.dot"
    target.write_text("old")
    save(g, target)
    assert "a -> b" in target.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["g.dot"]
    mask = os.umask(0o022)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask  # not mkstemp's private 0600
    with pytest.raises(ValueError, match="format"):
        save(g, tmp_path / "g.xyz")

    def boom(tmp):
        with open(tmp, "w") as f:
            f.write("half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        vrender.atomic_write(target, boom)
    assert "a -> b" in target.read_text()  # the old file is untouched
    assert [p.name for p in tmp_path.iterdir()] == ["g.dot"]  # no temp file left


def test_bad_inputs_are_refused():
    with pytest.raises(TypeError, match="Value or engine.Tensor"):
        viz.draw_graph(3.0)
    with pytest.raises(ValueError, match="rankdir"):
        viz.draw_graph(Value(1.0), rankdir="XY")


def test_docstring_examples_run():
    # viz/ is not in the doctest paths of setup.cfg; run its examples here.
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    tried = 0
    for mod in (viz, vgraph, vrender, vrecurrent, vplots):
        result = doctest.testmod(mod, optionflags=flags)
        assert result.failed == 0, f"doctest failures in {mod.__name__}"
        tried += result.attempted
    assert tried >= 20
