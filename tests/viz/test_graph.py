"""viz.draw_graph / draw_step and the rendering helpers: what is drawn (values, ops, names,
kinds), what is folded (numbers, transposes, the loss, modules), colours and legend, steps,
determinism, SVG output with Graphviz, and the fallbacks without it."""
import doctest
import os
import re

import numpy as np
import pytest

import engine
import nn
import viz
from engine import Value, backward_steps
from viz import graph as vgraph
from viz import model as vmodel
from viz import plots as vplots
from viz import recurrent as vrecurrent
from viz import render as vrender
from viz import style as vstyle
from viz import text as vtext
from viz.render import Graph, GraphvizNotFound, save

from .helpers import (
    attr,
    by_title,
    cells,
    edges,
    halo,
    needs_dot,
    neuron,
    nodes,
    table_colours,
    text,
    visible_edges,
)


def mlp_loss(seed=0, backward=True):
    engine.manual_seed(seed)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    x = engine.Tensor(np.arange(12, dtype=np.float32).reshape(4, 3) / 10, name="x")
    loss = model(x).sum()
    if backward:
        loss.backward()
    return model, loss


def value_boxes(g):
    return {n: a for n, a in nodes(g).items()
            if "TABLE" in a and not n.startswith(("more_", "ellipsis_"))}


# ------------------------------------------------------------------------------ structure
def test_value_graph_nodes_edges_and_numbers():
    a, b, c = Value(2.0, label="a"), Value(-3.0, label="b"), Value(10.0, label="c")
    e = a * b
    e.label = "e"
    d = e + c
    d.label = "d"
    d.backward()
    g = viz.draw_graph(d, fit=False)  # fit=False: one ellipse per op, as micrograd
    ns = nodes(g)
    values = [n for n in value_boxes(g)]
    ops = [n for n in ns if n.endswith("_op")]
    assert len(values) == 5 and len(ops) == 2
    assert len(visible_edges(g)) == 6  # a, b → mul → e; e, c → add → d
    texts = {text(ns[n]) for n in values}
    # d = 4, dd/da = b = -3, dd/db = a = 2, dd/de = dd/dc = 1 (by hand)
    assert {"d | data 4 | grad 1", "a | data 2 | grad -3", "b | data -3 | grad 2",
            "e | data -6 | grad 1", "c | data 10 | grad 1"} == texts
    assert {text(ns[o]) for o in ops} == {"mul", "add"}
    assert "shape=ellipse" in ns["v0_op"]
    assert attr(ns["v0"], "id") == "v0"  # SVG ids are the DOT names (the player uses them)


def test_scalars_shown_to_four_significant_digits():
    o, _ = neuron()
    o.backward()
    texts = {text(a) for a in value_boxes(viz.draw_graph(o)).values()}
    # o = tanh(0.8814) = 0.7071, do/dn = 1 − o² = 0.5, do/dw1 = x1 · 0.5 = 1 (micrograd)
    assert {"b | data 6.881 | grad 0.5", "o | data 0.7071 | grad 1",
            "w1 | data -3 | grad 1", "x1 | data 2 | grad -1.5"} <= texts


def test_edges_follow_parents_order_and_keep_repeats():
    a, b = Value(5.0, label="a"), Value(3.0, label="b")
    for expr, first, second in ((lambda: a - b, "a", "b"), (lambda: b - a, "b", "a")):
        g = viz.draw_graph(expr(), fit=False)
        name = {cells(attrs)[0]: n for n, attrs in value_boxes(g).items()}
        into_op = [t for t, h, _ in edges(g) if h == "v0_op"]
        assert into_op == [name[first], name[second]]
        assert "ordering=in" in nodes(g)["v0_op"]
    sq = a * a  # micrograd's set would collapse this to one edge
    assert [t for t, h, _ in edges(viz.draw_graph(sq, fit=False)) if h == "v0_op"] == \
        ["v1", "v1"]


def test_numbers_are_written_in_their_op_and_no_grad_values_fold():
    a = Value(1.5, label="a")
    y = a * 2 + 1.0001
    y.backward()
    g = viz.draw_graph(y, fit=False)
    assert len(value_boxes(g)) == 3  # a, a·2, y: the numbers are in the ops
    ops = sorted(text(v) for k, v in nodes(g).items() if k.endswith("_op"))
    assert ops == ["· + 1.0001", "· × 2"]
    # expand=True draws the numbers as nodes again
    assert len(value_boxes(viz.draw_graph(y, fit=False, expand=True))) == 5
    # Tensors that need no gradient (1 − y of a loss) are computed without a graph: one
    # input box. A number that met a tensor is written in the op, as for Values.
    t = engine.tensor([1.0, 2.0], requires_grad=True, name="t")
    y = (1 - engine.tensor([0.0, 1.0], name="y")) * t * 3
    g = viz.draw_graph(y.sum(), fit=False)
    assert len(value_boxes(g)) == 5  # t, 1 − y, (1 − y)·t, ·3, the sum
    assert "· × 3" in [text(v) for k, v in nodes(g).items() if k.endswith("_op")]


def test_tensor_boxes_show_name_shape_and_summaries():
    model, loss = mlp_loss()
    g = viz.draw_graph(loss, fit=False)
    boxes = {cells(a)[0]: cells(a) for a in value_boxes(g).values()}
    # Parameters are named by the Module, without model=.
    assert boxes["0.weight (4, 3)"][1].startswith("data μ")
    w = model[0].weight.data.astype(np.float64)
    assert boxes["0.weight (4, 3)"][1] == f"data μ {w.mean():.3g} σ {w.std():.3g}"
    # The gradient of a big tensor is its norm (not a mean that may cancel to ~0).
    gw = np.asarray(model[0].weight.grad, dtype=np.float64)
    assert boxes["0.weight (4, 3)"][2] == f"grad ‖·‖ {np.linalg.norm(gw):.3g}"
    assert boxes["2.bias (2,)"][1:] == ["data [0, 0]", "grad [4, 4]"]  # d sum/d bias = batch
    assert boxes["x (4, 3)"] == ["x (4, 3)", "data μ 0.55 σ 0.345"]  # an input: no grad
    assert any(k.startswith("() float32") for k in boxes)  # the root says its dtype
    # Each nn.Linear is one op node, x·Wᵀ + b.
    assert sum(text(a).startswith("linear") for a in nodes(g).values()) == 2
    # Written by hand (x @ W.T + b), W.T is an edge labelled .T, not a permute node.
    x = engine.Tensor(np.arange(12, dtype=np.float32).reshape(4, 3) / 10, name="x")
    hand = ((x @ model[0].weight.T + model[0].bias).relu() @ model[2].weight.T).sum()
    g = viz.draw_graph(hand, fit=False)
    assert not any(text(a).startswith("permute") for a in nodes(g).values())
    t_edges = [e for e in edges(g) if 'xlabel=".T"' in e[2]]
    assert len(t_edges) == 2 and {t for t, _, _ in t_edges} == \
        {by_title(g)["0.weight (4, 3)"], by_title(g)["2.weight (2, 4)"]}
    full = viz.draw_graph(hand, fit=False, expand=["transpose"])
    assert sum(text(a).startswith("permute") for a in nodes(full).values()) == 2


def test_kinds_and_their_colours():
    model, loss = mlp_loss()
    g = viz.draw_graph(loss, fit=False)
    colours = {cells(a)[0].split(" ")[0]: table_colours(a) for a in value_boxes(g).values()}
    for name in ("0.weight", "0.bias", "2.weight", "2.bias"):
        assert colours[name][:2] == vstyle.KINDS["parameter"][:2]
    assert colours["x"][:2] == vstyle.KINDS["input"][:2]
    assert colours["()"][:2] == vstyle.KINDS["loss"][:2]
    assert colours["(4,"][:2] == vstyle.KINDS["intermediate"][:2]
    # A Value leaf is an input unless declared a parameter.
    o, leaves = neuron()
    o.backward()
    plain = {cells(a)[0]: table_colours(a) for a in value_boxes(viz.draw_graph(o)).values()}
    assert plain["w1"][0] == vstyle.KINDS["input"][0]
    declared = viz.draw_graph(o, params={"w1": leaves["w1"]})
    named = {cells(a)[0]: table_colours(a) for a in value_boxes(declared).values()}
    assert named["w1"][0] == vstyle.KINDS["parameter"][0]


def test_legend_lists_the_kinds_used_and_never_mentions_hover():
    a = Value(1.5, label="a")
    y = a * 2
    y.backward()
    src = viz.draw_graph(y).source
    assert ">input / constant<" in src and ">loss / output<" in src
    assert ">parameter<" not in src  # no parameter in this picture
    assert "hover" not in src.lower()  # PNGs and <img> have no hover
    _, loss = mlp_loss()
    src = viz.draw_graph(loss).source
    for words in ("parameter", "input / constant", "intermediate", "loss / output"):
        assert f">{words}<" in src


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
def test_color_by_grad_spans_magnitudes_and_flags_nan_and_zero():
    small, big, bad = Value(1.0, label="small"), Value(1.0, label="big"), Value(1.0, label="bad")
    dead = Value(1.0, label="dead")
    y = small * 1e-6 + big * 1e3 + bad + dead * 0.0
    y.backward()
    bad.grad = float("nan")
    g = viz.draw_graph(y, color_by="grad", fit=False)
    fill = {cells(a)[0]: table_colours(a)[0] for a in value_boxes(g).values()}
    assert fill["bad"] == vstyle.NONFINITE
    assert fill["dead"] == vstyle.ZERO  # exactly 0: grey, not the "vanishing" end
    assert vstyle.ZERO not in (vstyle.scale_colour(0.0), vstyle.scale_colour(1.0))
    # The scale spans ±6 decades: 1e-6 at the blue end, 1e3 three quarters up.
    assert fill["small"] == vstyle.scale_colour(0.0) == "#4575b4"
    assert fill["big"] == vstyle.scale_colour(0.75)
    assert "fill = log10 |grad|:" in g.source and "NaN / Inf" in g.source
    assert "0 exactly" in g.source
    ticks = re.findall(r'>([+-]\d+)</FONT></TD>', g.source)
    assert ticks[0] == "-6" and ticks[-1] == "+6" and len(ticks) >= 3


def test_color_by_grad_on_tensors_and_no_grad_nodes():
    _, loss = mlp_loss()
    g = viz.draw_graph(loss, color_by="grad", fit=False)
    boxes = {cells(a)[0]: table_colours(a) for a in value_boxes(g).values()}
    assert boxes["x (4, 3)"][0] == vstyle.NO_GRAD  # an input: no gradient, white
    assert boxes["x (4, 3)"][1] == vstyle.KINDS["input"][1]  # its kind is the border
    root = next(v for k, v in boxes.items() if k.startswith("()"))
    assert root[0] == vstyle.GradScale([1.0]).colour(1.0)
    t = engine.tensor([1.0, 2.0], requires_grad=True)
    y = (t * 2).sum()
    y.backward()
    t.grad = engine.tensor([np.inf, 1.0])
    assert vstyle.NONFINITE in viz.draw_graph(y, color_by="grad").source
    with pytest.raises(ValueError, match="color_by"):
        viz.draw_graph(y, color_by="data")


def test_grad_scale_is_centred_on_one():
    s = vstyle.GradScale([1e-9, 1.0, 10.0])
    assert (s.lo, s.hi) == (-9, 9)
    assert s.colour(1.0) == vstyle.scale_colour(0.5)
    assert s.colour(0.0) == vstyle.ZERO
    assert s.colour(float("inf")) == s.colour(float("nan")) == vstyle.NONFINITE
    assert s.colour(None) == vstyle.NO_GRAD
    assert vstyle.GradScale([]).ticks() == [-2, -1, 0, 1, 2]


# ------------------------------------------------------------------------------ modules
def test_group_modules_clusters_ops_and_parameters_by_module():
    model, loss = mlp_loss()
    g = viz.draw_graph(loss, group_modules=True, fit=False)
    labels = [a or b for a, b in re.findall(r'label=(?:"([^"]*)"|(\w+)) style=rounded',
                                            g.source)]
    assert {"Sequential", "0: Linear", "1: ReLU", "2: Linear"} <= set(labels)
    # every parameter is inside its module's cluster
    src = g.source
    for mod, pname in (("0: Linear", "0.weight"), ("2: Linear", "2.bias")):
        block = src[src.index(f'label="{mod}"'):]
        block = block[:block.index("\n\t\t}") if "\n\t\t}" in block else len(block)]
        assert pname in block


def test_level_module_draws_one_node_per_layer():
    model, loss = mlp_loss()
    g = viz.draw_graph(loss, level="module")
    titles = [cells(a)[0] for a in value_boxes(g).values()]
    assert {"0: Linear (4, 4)", "1: ReLU (4, 4)", "2: Linear (4, 2)"} <= set(titles)
    lin = next(cells(a) for a in value_boxes(g).values() if cells(a)[0].startswith("0:"))
    assert lin[1] == "16 parameters"  # 4·3 weights + 4 biases
    # The input feeds the first layer; each layer feeds the next; the only op ellipse is
    # the .sum() after the model.
    ellipses = [text(a) for n, a in nodes(g).items() if "shape=ellipse" in a]
    assert ellipses == ["sum"]
    ids = by_title(g)
    chain = [(t, h) for t, h, _ in visible_edges(g)]
    assert (ids["x (4, 3)"], ids["0: Linear (4, 4)"]) in chain
    assert (ids["0: Linear (4, 4)"], ids["1: ReLU (4, 4)"]) in chain
    # expand opens one module: its ops come back, the others stay closed
    opened = viz.draw_graph(loss, level="module", expand=["0"])
    texts = [text(a) for a in nodes(opened).values()]
    assert not any(t.startswith("0: Linear") for t in texts)
    assert any(t.startswith("2: Linear") for t in texts)
    with pytest.raises(ValueError, match="level"):
        viz.draw_graph(loss, level="layer")
    with pytest.raises(ValueError, match=r"cannot expand \['9'\].*names of modules in this "
                                         r"graph \(0, 1, 2\)"):
        viz.draw_graph(loss, level="module", expand=["9"])


def test_the_loss_after_the_model_is_one_node_unless_expanded():
    engine.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 3), nn.Sigmoid(), nn.Linear(3, 1), nn.Sigmoid())
    x = engine.tensor([[1.0, 2.0], [0.5, -1.0]], name="x")
    y = engine.tensor([[0.0], [1.0]], name="y")
    p = model(x)  # the course's cross-entropy written out: several ops after the model
    loss = -(y * p.log() + (1 - y) * (1 - p).log()).mean()
    loss.backward()
    g = viz.draw_graph(loss, fit=False)
    root = next(a for a in value_boxes(g).values() if cells(a)[0].startswith("loss"))
    assert re.match(r"\d+ ops: log, ", cells(root)[1])
    assert 'STYLE="rounded"' in root
    assert "log" not in [text(a) for k, a in nodes(g).items() if k.endswith("_op")]
    opened = viz.draw_graph(loss, fit=False, expand=["loss"])
    assert "log" in [text(a) for k, a in nodes(opened).items() if k.endswith("_op")]


def test_long_chains_lose_their_middle_and_say_so():
    a = Value(1.0, label="a")
    v = a
    for _ in range(400):
        v = v * 1.0 + 0.5
    v.backward()
    g = viz.draw_graph(v)  # 801 values: more than max_nodes=300
    marker = [text(x) for k, x in nodes(g).items() if k.startswith("ellipsis_")]
    assert len(marker) == 1 and re.fullmatch(r"… [\d,]+ nodes …", marker[0])
    hidden = int(marker[0].split()[1].replace(",", ""))
    assert hidden + len(value_boxes(g)) == 801
    assert "not drawn" in g.source and "fit=False" in g.source  # the caption says why
    assert any(h.startswith("ellipsis_") or t.startswith("ellipsis_")
               for t, h, _ in edges(g))
    assert not any(k.startswith("ellipsis_") for k in nodes(viz.draw_graph(
        v, fit=False, max_nodes=None)))


def test_a_wide_graph_keeps_the_values_nearest_to_the_root():
    xs = [Value(float(i), label=f"x{i}") for i in range(60)]
    total = xs[0]
    for x in xs[1:]:
        total = total + x * x
    g = viz.draw_graph(total, max_nodes=20, fit=False)
    more = [text(x) for k, x in nodes(g).items() if k.startswith(("more_", "ellipsis_"))]
    assert more and len(value_boxes(g)) <= 22


def test_huge_chain_draws_without_recursion():
    v = Value(1.0)
    for _ in range(20_000):
        v = v + 1.0
    g = viz.draw_graph(v, fit=False)  # the default max_nodes keeps it readable
    assert len(value_boxes(g)) <= 300


# ------------------------------------------------------------------------------ steps
def test_draw_step_highlights_the_node_and_shows_known_grads_only():
    o, _ = neuron()
    steps = list(backward_steps(o))
    k = next(i for i, s in enumerate(steps) if s.node.label == "n")
    g = viz.draw_step(steps[k])  # n = (x1·w1 + x2·w2) + b
    ns = nodes(g)
    current = [n for n, a in value_boxes(g).items() if halo(a) == vstyle.CURRENT]
    assert len(current) == 1 and text(ns[current[0]]).startswith("n |")
    assert table_colours(ns[current[0]])[:2] == vstyle.KINDS["intermediate"][:2]  # kind kept
    assert vstyle.CURRENT in ns[current[0] + "_op"]
    texts = {text(a) for a in value_boxes(g).values()}
    assert "o | data 0.7071 | grad 1" in texts  # done: its gradient is shown
    assert "x1 | data 2 | grad ?" in texts  # not yet
    # What the step sends to its parents, in red on them: 0.5 to each (d(u + b) = 1 each).
    sent = [text(a) for a in value_boxes(g).values() if "grad ← " in text(a)]
    assert sorted(sent) == ["b | data 6.881 | grad ← 0.5", "data -6 | grad ← 0.5"]
    red = [e for e in visible_edges(g) if vstyle.CURRENT in e[2]]
    assert len(red) == 2
    assert f"step {k}: n = add" in g.source  # the step's text is the caption
    # the rule in the operands' names; the unnamed one is given a letter, defined after
    assert "rule: d(a + b)/da = 1, d(a + b)/db = 1  with a = &lt;add -6&gt;" in g.source
    # Grads filled in later (the iterator is exhausted) do not leak into earlier steps.
    assert "x1 | data 2 | grad ?" in {text(a) for a in value_boxes(viz.draw_step(
        steps[0])).values()}
    last = {text(a) for a in value_boxes(viz.draw_step(steps[-1])).values()}
    assert not any("grad ?" in t for t in last)


@needs_dot
def test_draw_step_has_the_layout_of_draw_graph_at_every_step():
    _, loss = mlp_loss(backward=False)
    steps = list(backward_steps(loss, retain_graph=True))

    def positions(g):
        svg = g.svg()
        out = {}
        for gid, body in re.findall(r'<g id="(v\d+)" class="node">(.*?)</g>', svg, re.S):
            pts = re.search(r'points="([-\d.]+),([-\d.]+)', body)
            out[gid] = (float(pts.group(1)), float(pts.group(2)))
        root = out["v0"]
        return {k: (round(x - root[0], 1), round(y - root[1], 1)) for k, (x, y) in out.items()}

    plain = positions(viz.draw_graph(loss))
    for s in steps:
        assert positions(viz.draw_step(s)) == plain, f"step {s.index} moved nodes"


# ------------------------------------------------------------------------------ rendering
@needs_dot
def test_svg_and_png_render_with_dot_and_jupyter_gets_inline_svg(tmp_path):
    o, _ = neuron()
    o.backward()
    g = viz.draw_graph(o, color_by="grad")
    out = save(g, tmp_path / "neuron.svg")
    svg = out.read_text()
    assert "<svg" in svg and "x1" in svg and "6.881" in svg
    assert save(g, tmp_path / "neuron.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bundle = g._repr_mimebundle_()
    assert "image/svg+xml" not in bundle  # no <img>: inline SVG keeps the tooltips
    html = bundle["text/html"]
    assert html.count("<svg") == 1 and "<img" not in html and "<?xml" not in html
    assert "<title>" in html and "xlink:title=" in html  # the rules, as tooltips
    assert "hover over an op" in html  # only here, where hover works
    assert g._repr_svg_().lstrip().startswith("<?xml")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["neuron.png", "neuron.svg"]


def test_without_dot_jupyter_falls_back_and_files_raise_one_clear_error(tmp_path,
                                                                       monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no `dot` anywhere
    o, _ = neuron()
    g = viz.draw_graph(o)  # fit needs dot: without it the picture is drawn unmeasured
    assert g._repr_mimebundle_() == {"text/plain": g.source}
    assert g._repr_svg_() is None and g._repr_html_() is None
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


@needs_dot
def test_the_svg_is_rendered_once_per_dot_text(monkeypatch):
    g = Graph()
    g.edge("a", "b")
    calls = []
    import graphviz
    real = graphviz.Digraph.pipe

    def counting(self, *a, **k):
        calls.append(1)
        return real(self, *a, **k)

    monkeypatch.setattr(graphviz.Digraph, "pipe", counting)
    first = g.svg()
    assert g.svg() == first and g._repr_html_() and len(calls) == 1
    g.edge("b", "c")  # a new text: rendered again
    assert "b&#45;&gt;c" in g.svg() and len(calls) == 2


def test_bad_inputs_are_refused():
    with pytest.raises(TypeError, match="Value or engine.Tensor"):
        viz.draw_graph(3.0)
    with pytest.raises(ValueError, match="rankdir"):
        viz.draw_graph(Value(1.0), rankdir="XY")


def test_docstring_examples_run():
    # viz/ is not in the doctest paths of setup.cfg; run its examples here.
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    tried = 0
    for mod in (viz, vgraph, vrender, vrecurrent, vplots, vstyle, vtext, vmodel):
        result = doctest.testmod(mod, optionflags=flags)
        assert result.failed == 0, f"doctest failures in {mod.__name__}"
        tried += result.attempted
    assert tried >= 20


def test_a_create_graph_gradient_draws_its_backward_ops_apart():
    # Issue 17: the ops a create_graph backward recorded sit in their own dashed clusters,
    # named after the forward op whose backward made them.
    u = engine.tensor([0.5, -1.0], requires_grad=True, dtype=np.float64, name="u")
    (du,) = engine.grad((u.tanh() * u).sum(), u, create_graph=True)
    src = viz.draw_graph(du.sum()).source
    assert "backward of tanh" in src and "backward of mul" in src and "dashed" in src
    plain = viz.draw_graph((u.tanh() * u).sum()).source
    assert "backward of" not in plain


def test_a_gradient_with_its_own_graph_is_drawn_and_played():
    # backward(create_graph=True) leaves .grad requiring grad; numpy refuses such a tensor (as
    # PyTorch), so the pictures read its numbers through .data.
    a = engine.tensor([1.0, 2.0], requires_grad=True, dtype=np.float64, name="a")
    (g,) = engine.grad((a ** 3).sum(), a, create_graph=True)
    z = (g * g).sum()
    z.backward(create_graph=True)
    assert a.grad.requires_grad  # 36a³: [36, 288]
    src = viz.draw_graph(z).source
    assert "[36, 288]" in src
    assert "36" in viz.player(z).html()
