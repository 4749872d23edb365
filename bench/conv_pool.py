"""Conv and pool kernels on the seed CNN's layers at batch 128: ours vs PyTorch vs the GEMM.

The course's model: Conv 1→16 (3x3, pad 1) on 28x28, MaxPool 2, Conv 16→32 on 14x14,
MaxPool 2, Conv 32→32 on 7x7, MaxPool 2 (7 → 3, floor), Linear 288→10. For each layer:

- forward, and forward + backward, in ms (median of ≥ 30 runs after warm-up). Both sides
  are timed per op: our forward is the public ``conv2d`` / ``max_pool2d`` call (recording
  the graph), our backward is the op's own ``backward``; PyTorch's is ``torch.autograd.grad``.
  Neither includes accumulating into leaves' ``.grad``. conv1's input (the images) needs no
  gradient, every other layer's input does, as in training.
- PyTorch runs in a separate process (``bench/torch_conv_pool.py``): its thread pools and
  ours interfere when mixed in one process.
- GEMM efficiency: the time numpy's BLAS needs for the same GEMMs (whole batch or our chunk
  shapes, whichever is faster) divided by our time for the whole op; 100 % would mean im2col,
  col2im and the layout shuffles cost nothing.
- page faults per call (``ru_minflt``): fresh memory touched per call, ~1 µs per 4 KiB page.
- first-call latency in a fresh process with a warm Numba cache (the kernels are compiled
  and cached by the timing runs before it).

Run: ``python -m bench.conv_pool`` (or ``python -m bench``). Results: bench/results/conv_pool.json

Both sides run under the machine's default allocator settings, page faults included (PyTorch's
conv forward faults in its output every call here). For numbers without that effect, run with
a steady glibc heap, which both processes inherit (the JSON records the setting):
``MALLOC_MMAP_THRESHOLD_=268435456 MALLOC_TRIM_THRESHOLD_=1073741824 python -m bench conv_pool``.
Timings need a quiet machine: the run warns when the load average says otherwise.
"""
from __future__ import annotations

import ast
import subprocess
import sys

from bench.common import ROOT_DIR, busy_warning, measure, print_table, run_torch_section, write_json

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
TARGETS = {"conv": 1.5, "maxpool": 0.5}  # fwd+bwd time ≤ this × PyTorch's
FIRST_CALL_TARGET_S = 0.5


def layer_inputs(kind, x_shape, param, x_grad, seed=0):
    """float32 numpy arrays for one layer: x, weight, bias (conv) and the upstream gradient."""
    import numpy as np
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape, dtype=np.float32)
    if kind == "conv":
        w = (rng.standard_normal(param, dtype=np.float32) * 0.1)
        b = rng.standard_normal(param[0], dtype=np.float32)
        out = (x_shape[0], param[0]) + x_shape[2:]
        return {"x": x, "w": w, "b": b, "g": rng.standard_normal(out, dtype=np.float32)}
    out = x_shape[:2] + tuple(s // param for s in x_shape[2:])
    return {"x": x, "g": rng.standard_normal(out, dtype=np.float32)}


# ----------------------------------------------------------------------------- ours
def our_calls(kind, a, param, x_grad):
    """(forward, forward + backward) closures for one layer of ours."""
    import engine
    from engine.ops.conv import conv2d
    from engine.ops.pool import max_pool2d

    x = engine.Tensor._wrap(a["x"], requires_grad=x_grad)
    if kind == "conv":
        w = engine.Tensor._wrap(a["w"], requires_grad=True)
        b = engine.Tensor._wrap(a["b"], requires_grad=True)

        def fwd():
            return conv2d(x, w, b, padding=PADDING)
    else:
        def fwd():
            return max_pool2d(x, param)

    def fwd_bwd():
        return fwd()._ctx.backward(a["g"])  # the op's backward: no leaf .grad accumulation

    return fwd, fwd_bwd


def time_ours():
    import numpy as np

    from engine.ops.conv import ConvGeometry

    rows = {}
    for name, kind, x_shape, param, x_grad in LAYERS:
        fwd, fwd_bwd = our_calls(kind, layer_inputs(kind, x_shape, param, x_grad), param, x_grad)
        rows[name] = {"fwd": measure(fwd), "fwd_bwd": measure(fwd_bwd)}
        if kind == "conv":
            geo = ConvGeometry(x_shape, param, None, 1, PADDING, 1, 1)
            rows[name]["gemm"] = gemm_ceiling(np, geo, x_grad)
    return rows


def gemm_ceiling(np, geo, x_grad):
    """numpy's time for this conv's products alone (forward; dW and, if x needs a gradient,
    dcols), each at the fastest of: one GEMM for the whole batch, one per chunk of our chunk
    size, one per sample (batched matmul). Inputs are preallocated and warm."""
    rng = np.random.default_rng(1)
    F, K, N, P = geo.F, geo.K, geo.N, geo.P
    geo.plan(4, keep_cols=True)

    def rand(*shape):
        return rng.standard_normal(shape, dtype=np.float32)

    def timed(A, B, calls=1):
        batch = np.broadcast_shapes(A.shape[:-2], B.shape[:-2])
        C = np.empty(batch + (A.shape[-2], B.shape[-1]), np.float32)
        return measure(lambda: np.matmul(A, B, out=C), repeat=10)["median_ms"] * calls

    def best(batch, per_sample):
        """min over: one GEMM per n samples (n = N or our chunk), one GEMM per sample."""
        return min([timed(*batch(n), calls=N / n) for n in sorted({N, geo.nb})]
                   + [timed(*per_sample())])

    fwd = best(lambda n: (rand(F, K), rand(K, n * P)),                  # W · cols
               lambda: (rand(F, K), rand(N, K, P)))
    dw = best(lambda n: (rand(F, n * P), rand(K, n * P).T),             # dY · colsᵀ
              lambda: (rand(N, F, P), rand(N, K, P).transpose(0, 2, 1)))
    dcols = best(lambda n: (rand(F, K).T, rand(F, n * P)),              # Wᵀ · dY
                 lambda: (rand(F, K).T, rand(N, F, P))) if x_grad else 0.0
    flops = 2 * F * K * N * P
    return {"fwd_ms": fwd, "fwd_bwd_ms": fwd + dw + dcols, "fwd_flops": flops,
            "fwd_bwd_flops": flops * (3 if x_grad else 2)}


# ----------------------------------------------------------------------------- first call
FIRST_CALL = r"""
import sys, time
if {block_scipy}:
    sys.modules["scipy"] = None   # numba looks for scipy's BLAS on first use; see the notes
t0 = time.perf_counter()
import numpy as np, engine
from engine.ops.conv import conv2d
from engine.ops.pool import max_pool2d
t1 = time.perf_counter()
x = engine.Tensor._wrap(np.ones((128, 1, 28, 28), np.float32))
w = engine.Tensor._wrap(np.ones((16, 1, 3, 3), np.float32), requires_grad=True)
b = engine.Tensor._wrap(np.ones(16, np.float32), requires_grad=True)
y = conv2d(x, w, b, padding=1)
y._ctx.backward(np.ones(y.shape, np.float32))
t2 = time.perf_counter()
z = max_pool2d(y, 2)
z._ctx.backward(np.ones(z.shape, np.float32))
t3 = time.perf_counter()
print({{"import_s": t1 - t0, "first_conv_s": t2 - t1, "first_pool_s": t3 - t2}})
"""


def first_call(block_scipy=False):
    out = subprocess.run([sys.executable, "-c", FIRST_CALL.format(block_scipy=block_scipy)],
                         cwd=ROOT_DIR, capture_output=True, text=True, check=True)
    return ast.literal_eval(out.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- torch
# ----------------------------------------------------------------------------- report
def row_for(name, kind, phase, ours, torch):
    """One table row and one JSON record for a layer and a pass."""
    o = ours[name][phase]
    t = torch["layers"][name][phase] if torch else None
    ratio = o["median_ms"] / t["median_ms"] if t else None
    ratio_min = o["min_ms"] / t["min_ms"] if t else None
    target = TARGETS[kind] if phase == "fwd_bwd" else None
    gemm = ours[name].get("gemm")
    eff = gemm[f"{phase}_ms"] / o["median_ms"] if gemm else None
    gflops = gemm[f"{phase}_flops"] / o["median_ms"] / 1e6 if gemm else None
    verdict = ""
    if target:
        verdict = f"≤{target}x" + ("" if ratio is None else " ok" if ratio <= target else " MISSED")
    record = {"layer": name, "phase": phase, "ours_ms": o["median_ms"], "ours_min_ms": o["min_ms"],
              "ours_faults": o["faults_per_call"], "torch_ms": t and t["median_ms"],
              "torch_min_ms": t and t["min_ms"], "torch_faults": t and t["faults_per_call"],
              "ratio": ratio, "ratio_of_mins": ratio_min, "target_ratio": target,
              "meets_target": None if ratio is None or target is None else ratio <= target,
              "gemm_ceiling_ms": gemm and gemm[f"{phase}_ms"], "gemm_efficiency": eff,
              "gflops": gflops}

    def fmt(v, spec):
        return "-" if v is None else format(v, spec)

    row = [name, phase.replace("_", "+"), fmt(o["median_ms"], ".2f"), fmt(o["min_ms"], ".2f"),
           fmt(t and t["median_ms"], ".2f"), fmt(t and t["min_ms"], ".2f"),
           fmt(ratio, ".2f") + ("x" if ratio else ""),
           fmt(ratio_min, ".2f") + ("x" if ratio else ""),
           verdict, fmt(gflops, ".0f"), fmt(eff, ".0%"), fmt(o["faults_per_call"], ".0f"),
           fmt(t and t["faults_per_call"], ".0f")]
    return row, record


def main():
    warn = busy_warning()
    if warn:
        print(warn)
    ours = time_ours()
    torch = run_torch_section("torch_conv_pool")
    first = first_call()
    first_no_scipy = first_call(block_scipy=True)

    import numba
    rows, records = [], []
    for name, kind, *_ in LAYERS:
        for phase in ("fwd", "fwd_bwd"):
            row, record = row_for(name, kind, phase, ours, torch)
            rows.append(row)
            records.append(record)
    totals = {"ours": {}, "torch": {}}
    for phase in ("fwd", "fwd_bwd"):
        for who, src in (("ours", ours), ("torch", torch and torch["layers"])):
            if src:
                totals[who][phase] = {stat: sum(src[n][phase][stat] for n, *_ in LAYERS)
                                      for stat in ("median_ms", "min_ms")}
        o, t = totals["ours"][phase], totals["torch"].get(phase)
        rows.append(["all six", phase.replace("_", "+"), f"{o['median_ms']:.2f}",
                     f"{o['min_ms']:.2f}", f"{t['median_ms']:.2f}" if t else "-",
                     f"{t['min_ms']:.2f}" if t else "-",
                     f"{o['median_ms'] / t['median_ms']:.2f}x" if t else "-",
                     f"{o['min_ms'] / t['min_ms']:.2f}x" if t else "-", "", "", "", "", ""])
    threads = f"numba {numba.get_num_threads()} threads ({numba.threading_layer()})"
    if torch:
        threads += f", torch {torch['torch_threads']} threads"
    ok = first["first_conv_s"] < FIRST_CALL_TARGET_S
    notes = [
        f"batch {BATCH}, float32, {threads}. ms: median and min of ≥ 30 runs; ratio: ours / "
        "torch (medians; 'min' column: of the mins, which noise from other processes inflates "
        "least).",
        "GFLOPS: the conv's FLOPs / our median time. GEMM eff: numpy's time for the same "
        "GEMMs alone / our time for the whole op.",
        f"first call in a fresh process, warm Numba cache: import {first['import_s']:.2f} s, "
        f"conv2d fwd+bwd {first['first_conv_s']:.2f} s, max_pool2d fwd+bwd "
        f"{first['first_pool_s']:.2f} s (target < {FIRST_CALL_TARGET_S} s: "
        f"{'ok' if ok else 'MISSED'}); with scipy hidden {first_no_scipy['first_conv_s']:.2f} s "
        "(Numba's first load imports scipy.linalg, when installed, to look for BLAS).",
    ]
    if not torch:
        notes.append("PyTorch not installed: no comparison (pip install torch==2.13.0).")
    if warn:
        notes.append(warn)
    print_table(["layer", "pass", "ours ms", "min", "torch ms", "min", "ratio", "min",
                 "target", "GFLOPS", "GEMM eff", "faults ours", "faults torch"], rows,
                title=f"Seed CNN conv/pool layers, batch {BATCH}", notes=notes)
    write_json("conv_pool", {
        "batch": BATCH, "targets": {"conv_fwd_bwd_ratio": TARGETS["conv"],
                                    "pool_fwd_bwd_ratio": TARGETS["maxpool"],
                                    "first_call_s": FIRST_CALL_TARGET_S},
        "rows": records, "totals_ms": totals,
        "first_call": first, "first_call_without_scipy": first_no_scipy,
        "numba_threads": numba.get_num_threads(), "threading_layer": numba.threading_layer(),
        "ours_raw": ours, "torch_raw": torch and torch["layers"]})


if __name__ == "__main__":
    main()
