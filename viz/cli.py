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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="stepgrad", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("tour", help="step through backprop on a scalar and a tensor graph")
    p.set_defaults(run=tour)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
