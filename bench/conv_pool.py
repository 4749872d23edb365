"""Conv and pool kernels on the seed CNN's layers at batch 128: ours vs PyTorch.

The course's model: Conv 1→16 (3x3, pad 1) on 28x28, MaxPool 2, Conv 16→32 on 14x14,
MaxPool 2, Conv 32→32 on 7x7, MaxPool 2 (7 → 3, floor), Linear 288→10. Then other
convolutions of the course's models (EXTRA) and the rest of the convolution family (FAMILY):
conv1d over sequences and the transposed convolutions of an autoencoder's decoder. For each
layer:

- forward, and forward + backward, in ms. Both sides are timed per op: the forward is the
  public ``conv2d`` / ``max_pool2d`` call (recording the graph), forward + backward is
  ``engine.grad`` / ``torch.autograd.grad`` of it. Neither accumulates into leaves' ``.grad``.
  conv1's input (the images) needs no gradient, every other layer's input does, as in
  training.
- the fair method of bench/common.py: each library measured in fresh processes (``python -m
  bench.conv_pool --worker stepgrad|torch``), under the same malloc settings (PyTorch also
  under glibc's defaults: the 'torch default malloc' column), OpenBLAS on its native core
  type, alternating over ``BENCH_ROUNDS`` rounds (default 5). ms: the median over the rounds
  of each process's median (≥ 30 runs after warm-up); ratio: the median of the per-round
  ratios, [min–max] over the rounds beside it.
- GFLOPS: the conv's multiply-adds × 2 (forward; × 2 more for dW, and for dx when the input
  needs a gradient) / our median time.
- page faults per call (``ru_minflt``): fresh memory touched per call, ~1 µs per 4 KiB page.
- first-call latency in a fresh process with a warm Numba cache (the kernels are compiled
  and cached by the timing runs before it).

Run: ``python -m bench.conv_pool`` (or ``python -m bench``). Results: bench/results/conv_pool.json
Timings need a quiet machine: the run warns when the load average says otherwise.
"""
from __future__ import annotations

import ast
import math
import subprocess
import sys

from bench.common import (
    ROOT_DIR,
    alternate,
    busy_warning,
    describe_machine,
    fair_env,
    measure,
    median_or_none,
    print_table,
    ratio_stats,
    run_worker,
    write_json,
)

BATCH = 128
# (name, kind, input shape, weight shape or pool kernel, input needs grad)
LAYERS = [
    ("conv1", "conv", (BATCH, 1, 28, 28), (16, 1, 3, 3), False),
    ("pool1", "maxpool", (BATCH, 16, 28, 28), 2, True),
    ("conv2", "conv", (BATCH, 16, 14, 14), (32, 16, 3, 3), True),
    ("pool2", "maxpool", (BATCH, 32, 14, 14), 2, True),
    ("conv3", "conv", (BATCH, 32, 7, 7), (32, 32, 3, 3), True),
    ("pool3", "maxpool", (BATCH, 32, 7, 7), 2, True),
]
PADDING = 1  # every conv: 3x3, stride 1, padding 1 (shape-preserving)
# Other convolutions of the course's models (nn.models: ResNet, InceptionNet), batch 32, no
# target: the first 3x3 of ResNet, a 64→64 3x3 of its blocks (direct kernels), Inception's 1x1
# and 5x5 'same' convs (im2col + GEMM). (name, input, weight, padding)
EXTRA = [
    ("resnet 1→64 3x3 28²", (32, 1, 28, 28), (64, 1, 3, 3), 1),
    ("resnet 64→64 3x3 14²", (32, 64, 14, 14), (64, 64, 3, 3), 1),
    ("incep. 112→32 1x1 14²", (32, 112, 14, 14), (32, 112, 1, 1), 0),
    ("incep. 32→32 5x5 14²", (32, 32, 14, 14), (32, 32, 5, 5), 2),
]
# The convolution family beyond conv2d, batch 128 (name, kind, input, weight, options, input
# needs grad): conv1d over sequences of 100 steps (the course's "1-D convolution vs RNN"; the
# first layer sees the data, which needs no gradient), and the decoder of a convolutional
# autoencoder mirroring the seed CNN: transposed 3x3 convolutions, stride 2, 7² → 14² → 28².
FAMILY = [
    ("conv1d 1→16 k5 L100", "conv1d", (BATCH, 1, 100), (16, 1, 5), {"padding": 2}, False),
    ("conv1d 16→32 k5 L100", "conv1d", (BATCH, 16, 100), (32, 16, 5), {"padding": 2}, True),
    ("convT 32→16 3x3 s2 7²→14²", "convT", (BATCH, 32, 7, 7), (32, 16, 3, 3),
     {"stride": 2, "padding": 1, "output_padding": 1}, True),
    ("convT 16→1 3x3 s2 14²→28²", "convT", (BATCH, 16, 14, 14), (16, 1, 3, 3),
     {"stride": 2, "padding": 1, "output_padding": 1}, True),
]
TARGETS = {"conv": 1.8, "maxpool": 0.3}  # fwd+bwd time ≤ this × PyTorch's
FIRST_CALL_TARGET_S = 0.5


def output_shape(kind, x_shape, w_shape, opts):
    """The output shape of a conv-family layer (PyTorch's size formulas)."""
    if kind == "conv1d":
        p = opts.get("padding", 0)
        return (x_shape[0], w_shape[0], x_shape[2] + 2 * p - w_shape[2] + 1)
    if kind == "convT":
        s, p, o = opts.get("stride", 1), opts.get("padding", 0), opts.get("output_padding", 0)
        return (x_shape[0], w_shape[1]) + tuple((n - 1) * s - 2 * p + k + o for n, k in
                                                zip(x_shape[2:], w_shape[2:], strict=True))
    return (x_shape[0], w_shape[0]) + x_shape[2:]  # the 'same' conv2d layers


def layer_inputs(kind, x_shape, param, x_grad, seed=0, opts=None):
    """float32 numpy arrays for one layer: x, weight, bias (conv) and the upstream gradient."""
    import numpy as np
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape, dtype=np.float32)
    if kind.startswith("conv"):
        w = (rng.standard_normal(param, dtype=np.float32) * 0.1)
        out = output_shape(kind, x_shape, param, opts or {})
        b = rng.standard_normal(out[1], dtype=np.float32)
        return {"x": x, "w": w, "b": b, "g": rng.standard_normal(out, dtype=np.float32)}
    out = x_shape[:2] + tuple(s // param for s in x_shape[2:])
    return {"x": x, "g": rng.standard_normal(out, dtype=np.float32)}


# ----------------------------------------------------------------------------- ours
def our_calls(kind, a, param, x_grad, padding=PADDING):
    """(forward, forward + backward) closures for one layer of ours."""
    import engine
    from engine.fast.conv import conv1d, conv2d, conv_transpose2d
    from engine.fast.pool import max_pool2d

    x = engine.from_numpy(a["x"]).requires_grad_(x_grad)
    inputs = [x] if x_grad else []
    if kind.startswith("conv"):
        w = engine.from_numpy(a["w"]).requires_grad_(True)
        b = engine.from_numpy(a["b"]).requires_grad_(True)
        inputs += [w, b]
        op, opts = {"conv1d": (conv1d, padding), "convT": (conv_transpose2d, padding)}.get(
            kind, (conv2d, {"padding": padding}))

        def fwd():
            return op(x, w, b, **opts)
    else:
        def fwd():
            return max_pool2d(x, param)

    g = engine.from_numpy(a["g"])

    def fwd_bwd():  # as torch.autograd.grad: no leaf .grad accumulation
        return engine.grad(fwd(), inputs, grad_outputs=g)

    return fwd, fwd_bwd


def all_layers():
    """(name, kind, input, weight or pool kernel, input needs grad, padding or options): the
    seed CNN's layers, then EXTRA (kind 'conv, other'), then FAMILY ('conv1d', 'convT',
    with a dict of options)."""
    return ([layer + (PADDING,) for layer in LAYERS]
            + [(name, "conv, other", x, w, True, pad) for name, x, w, pad in EXTRA]
            + [(name, kind, x, w, x_grad, opts) for name, kind, x, w, opts, x_grad in FAMILY])


def conv_flops(x_shape, w_shape, x_grad, kind="conv", opts=None):
    """FLOPs of one conv layer: (forward, forward + backward). Multiply-adds: each output
    value's window for conv2d ('same' size) and conv1d; each input pixel times the whole
    kernel for a transposed convolution."""
    out = output_shape(kind, x_shape, w_shape, opts or {})
    if kind == "convT":
        fwd = 2 * math.prod(x_shape) * math.prod(w_shape[1:])
    else:
        fwd = 2 * math.prod(out) * math.prod(w_shape[1:])
    return fwd, fwd * (3 if x_grad else 2)


def worker(library):
    """Time every layer with ``library`` in this process and print JSON."""
    import json
    if library == "torch":
        import torch

        from bench.torch_conv_pool import torch_calls as calls
        info = {"torch_version": torch.__version__, "torch_threads": torch.get_num_threads()}
        convert = torch.from_numpy
    else:
        import numba

        from engine.fast import threads
        calls, convert = our_calls, (lambda a: a)
        info = {"threading_layer": numba.threading_layer(), "policy": threads.policy,
                "numba_threads": numba.get_num_threads()}
    layers = {}
    for name, kind, x_shape, param, x_grad, padding in all_layers():
        arrays = {k: convert(v) for k, v in layer_inputs(
            kind, x_shape, param, x_grad, opts=padding if isinstance(padding, dict) else None
        ).items()}
        fwd, fwd_bwd = calls(kind, arrays, param, x_grad, padding)
        layers[name] = {"fwd": measure(fwd), "fwd_bwd": measure(fwd_bwd)}
    print(json.dumps({"layers": layers, "info": info}))


# ----------------------------------------------------------------------------- first call
FIRST_CALL = r"""
import sys, time
if {block_scipy}:
    sys.modules["scipy"] = None   # numba looks for scipy's BLAS on first use; see the notes
t0 = time.perf_counter()
import numpy as np, engine
from engine.fast.conv import conv2d
from engine.fast.pool import max_pool2d
t1 = time.perf_counter()
x = engine.from_numpy(np.ones((128, 1, 28, 28), np.float32))
w = engine.from_numpy(np.ones((16, 1, 3, 3), np.float32)).requires_grad_(True)
b = engine.from_numpy(np.ones(16, np.float32)).requires_grad_(True)
y = conv2d(x, w, b, padding=1)
engine.grad(y, [w, b], grad_outputs=engine.ones(*y.shape))
t2 = time.perf_counter()
y = y.detach().requires_grad_(True)
z = max_pool2d(y, 2)
engine.grad(z, [y], grad_outputs=engine.ones(*z.shape))
t3 = time.perf_counter()
print({{"import_s": t1 - t0, "first_conv_s": t2 - t1, "first_pool_s": t3 - t2}})
"""


def first_call(block_scipy=False):
    out = subprocess.run([sys.executable, "-c", FIRST_CALL.format(block_scipy=block_scipy)],
                         cwd=ROOT_DIR, capture_output=True, text=True, check=True)
    return ast.literal_eval(out.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- report
def add_totals(rows, totals, with_torch, fmt):
    """The 'all six' rows: each round's sums over the seed CNN's six layers."""
    for phase in ("fwd", "fwd_bwd"):
        ours, theirs = totals[(phase, "ours")], totals.get((phase, "torch"), [])
        ratio = ratio_stats(ours, theirs)[0] if with_torch else None
        rows.append(["all six", phase.replace("_", "+"), fmt(median_or_none(ours)),
                     fmt(median_or_none(theirs)), fmt(ratio) + "x" if ratio else "-", "", "", "",
                     fmt(median_or_none(totals.get((phase, "plain"), []))), "", "", ""])


def main():
    import importlib.util
    warn = busy_warning()
    if warn:
        print(warn)
    with_torch = importlib.util.find_spec("torch") is not None
    same, default = fair_env("same"), fair_env("default")
    module = "bench.conv_pool"
    runs = {"stepgrad": lambda: run_worker(module, ["stepgrad"], same)}
    if with_torch:
        runs["torch"] = lambda: run_worker(module, ["torch"], same)
        runs["torch default malloc"] = lambda: run_worker(module, ["torch"], default)
    results = alternate(runs)
    first = first_call()
    first_no_scipy = first_call(block_scipy=True)

    def per_round(run, name, phase, stat="median_ms"):
        return [r and r["layers"][name][phase][stat] for r in results.get(run, [])]

    def fmt(v, spec=".2f"):
        return "-" if v is None else format(v, spec)

    rows, records = [], []
    totals = {}
    for name, kind, x_shape, param, x_grad, opts in all_layers():
        if kind == "conv, other" and name == EXTRA[0][0]:  # the seed CNN's totals first
            add_totals(rows, totals, with_torch, fmt)
        for phase in ("fwd", "fwd_bwd"):
            ours = per_round("stepgrad", name, phase)
            theirs = per_round("torch", name, phase) if with_torch else []
            plain = per_round("torch default malloc", name, phase) if with_torch else []
            for key, vals in (("ours", ours), ("torch", theirs), ("plain", plain)):
                if kind not in ("conv", "maxpool"):  # totals: the seed CNN's six layers
                    break
                acc = totals.setdefault((phase, key), [0.0] * len(vals))
                totals[(phase, key)] = [a + (v or 0.0) for a, v in zip(acc, vals, strict=True)]
            ratio, lo, hi = ratio_stats(ours, theirs) if with_torch else (None, None, None)
            ratio_min = ratio_stats(per_round("stepgrad", name, phase, "min_ms"),
                                    per_round("torch", name, phase, "min_ms"))[0] \
                if with_torch else None
            target = TARGETS.get(kind) if phase == "fwd_bwd" else None
            verdict = "" if target is None else f"≤{target}x" + (
                "" if ratio is None else " ok" if ratio <= target else " MISSED")
            o = median_or_none(ours)
            gflops = (conv_flops(x_shape, param, x_grad, kind, opts if isinstance(opts, dict)
                                 else None)[phase == "fwd_bwd"] / o / 1e6
                      if kind.startswith("conv") and o else None)
            faults = median_or_none(per_round("stepgrad", name, phase, "faults_per_call"))
            tfaults = median_or_none(per_round("torch default malloc", name, phase,
                                               "faults_per_call")) if with_torch else None
            rows.append([name, phase.replace("_", "+"), fmt(o), fmt(median_or_none(theirs)),
                         fmt(ratio) + "x" if ratio else "-",
                         f"[{lo:.2f}–{hi:.2f}]" if ratio else "", verdict,
                         fmt(ratio_min) + "x" if ratio_min else "-",
                         fmt(median_or_none(plain)), fmt(gflops, ".0f"), fmt(faults, ".0f"),
                         fmt(tfaults, ".0f")])
            records.append({"layer": name, "phase": phase, "ours_ms": ours, "torch_ms": theirs,
                            "torch_default_malloc_ms": plain, "ratio": ratio,
                            "ratio_range": [lo, hi], "ratio_of_mins": ratio_min,
                            "target_ratio": target,
                            "meets_target": None if ratio is None or target is None
                            else ratio <= target, "gflops": gflops})
    info = next((r["info"] for r in results["stepgrad"] if r), {})
    tinfo = next((r["info"] for r in results.get("torch", []) if r), None)
    ok = first["first_conv_s"] < FIRST_CALL_TARGET_S
    notes = [
        f"batch {BATCH} (the 'other' rows: batch {EXTRA[0][1][0]}; conv1d and convT: batch "
        f"{FAMILY[0][2][0]}), float32. ms: median over "
        f"{len(results['stepgrad'])} rounds of each "
        "process's median (≥ 30 runs); ratio: median of the per-round ratios ours / torch "
        "(same malloc settings), [min–max] over the rounds; 'min ratio': the same for each "
        "process's fastest run. faults: page faults per call, "
        "ours and PyTorch's under default malloc.",
        f"stepgrad: Numba {info.get('numba_threads')} threads, layer "
        f"{info.get('threading_layer')} (policy: {info.get('policy')}, engine/fast/threads.py)"
        + (f"; PyTorch {tinfo['torch_version']}, {tinfo['torch_threads']} threads."
           if tinfo else "."),
        f"first call in a fresh process, warm Numba cache: import {first['import_s']:.2f} s, "
        f"conv2d fwd+bwd {first['first_conv_s']:.2f} s, max_pool2d fwd+bwd "
        f"{first['first_pool_s']:.2f} s (target < {FIRST_CALL_TARGET_S} s: "
        f"{'ok' if ok else 'MISSED'}); with scipy hidden {first_no_scipy['first_conv_s']:.2f} s "
        "(Numba's first load imports scipy.linalg, when installed, to look for BLAS).",
    ] + describe_machine()
    if not with_torch:
        notes.append("PyTorch not installed: no comparison (pip install torch==2.13.0).")
    if warn:
        notes.append(warn)
    print_table(["layer", "pass", "ours ms", "torch ms", "ratio", "rounds", "target",
                 "min ratio", "torch default malloc ms", "GFLOPS", "faults ours", "faults torch"],
                rows,
                title=f"Seed CNN conv/pool layers, batch {BATCH}", notes=notes)
    write_json("conv_pool", {
        "batch": BATCH, "targets": {"conv_fwd_bwd_ratio": TARGETS["conv"],
                                    "pool_fwd_bwd_ratio": TARGETS["maxpool"],
                                    "first_call_s": FIRST_CALL_TARGET_S},
        "rows": records, "first_call": first, "first_call_without_scipy": first_no_scipy,
        "rounds": results})


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--worker":
        worker(sys.argv[2])
    else:
        main()
