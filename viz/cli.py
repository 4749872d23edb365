"""The ``stepgrad`` command. ``stepgrad tour`` is the main job behind ``make demo``."""
from __future__ import annotations

import argparse
import sys

import numpy as np


def tour(args) -> int:
    """A scripted REPL tour: a micrograd-style neuron stepped through backprop, then a tensor
    graph (a tiny softmax classifier) stepped the same way, checked against gradcheck."""
    import engine
    from engine import Value, backward_steps

    print("== 1. A scalar neuron: o = tanh(x1·w1 + x2·w2 + b) ==")
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    n = x1 * w1 + x2 * w2 + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    print(f"forward: o = {o.data:.4f}\n")
    for step in backward_steps(o):
        print(step)
    print(f"\ngradients: w1 {w1.grad:.4f}, w2 {w2.grad:.4f}, b {b.grad:.4f}, x1 {x1.grad:.4f}")

    print("\n== 2. A tensor graph: cross-entropy of a linear softmax classifier ==")
    engine.manual_seed(0)
    x = engine.randn(4, 3, name="x")
    W = engine.randn(3, 2, requires_grad=True, name="W")
    labels = np.array([0, 1, 1, 0])
    logp = (x @ W).log_softmax(axis=1)
    loss = -logp[np.arange(4), labels].mean()
    loss.name = "loss"
    print(f"loss = {loss.item():.4f}\n")
    for step in backward_steps(loss):
        print(step)
    print(f"\nW.grad =\n{W.grad}")

    Wd = W.detach().double().requires_grad_()
    xd = x.double()
    ok = engine.gradcheck(lambda w: -(xd @ w).log_softmax(axis=1)[np.arange(4), labels].mean(),
                          Wd)
    print(f"gradcheck (float64, finite differences) of dloss/dW: {'passed' if ok else 'FAILED'}")
    return 0


def gradcheck_table(args) -> int:
    """Run every registered op's gradient check on a few random examples and print a table:
    op, input shapes, max abs error, max rel error, pass. Non-zero exit on any failure."""
    import engine
    from engine.gradcheck import jacobians
    from engine.registry import REGISTRY

    rng = np.random.default_rng(args.seed)
    rows, failed = [], 0
    for name in sorted(REGISTRY):
        if args.ops and name not in args.ops:
            continue
        spec = REGISTRY[name]
        tol = {"eps": 1e-6, "atol": 1e-5, "rtol": 1e-3, **spec.check}
        worst_abs = worst_rel = 0.0
        ok, shapes = True, ""
        for _ in range(args.examples):
            arrays, params = spec.sample(rng)
            ts = [engine.Tensor(a, requires_grad=True, dtype=np.float64) for a in arrays]
            fn = lambda *t: spec.fn(*t, **params)  # noqa: E731
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
        print("  ".join(f"{c:<{w}}" for c, w in zip(row, widths)))
    print(f"{len(rows) - failed} passed, {failed} failed")
    return 1 if failed else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="stepgrad", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("tour", help="step through backprop on a scalar and a tensor graph")
    p.set_defaults(run=tour)
    p = sub.add_parser("gradcheck", help="check every op's gradients by finite differences")
    p.add_argument("ops", nargs="*", help="only these ops (default: all)")
    p.add_argument("--examples", type=int, default=3, help="random examples per op")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=gradcheck_table)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
