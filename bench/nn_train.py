"""Training steps of the course's models, ours vs PyTorch CPU: ``python -m bench.nn_train``.

One step = zero_grad, forward, loss, backward, Adam update, on a fixed batch:

- ``cnn``:  the seed CNN (Conv 1→16, pool, Conv 16→32, pool, Conv 32→32, pool, Linear 288→10),
  batch 128 of (1, 28, 28), cross-entropy. Target ≤ 1.0× PyTorch.
- ``mlp``:  MLP 784-256-128-64-10 (relu), batch 128, cross-entropy. Target ≤ 0.8× PyTorch.
- ``lstm``: ``nn.LSTM(1, 32)`` over 50 steps at batch 64, Linear(32→1) on the last hidden
  state, MSE; ``nn.LSTM`` on both sides (stepgrad's one sequence op against PyTorch's C++
  loop). Target ≤ 0.6× PyTorch.
- ``lstm_cell``: the same network as a Python loop over ``nn.LSTMCell`` on both sides (what a
  student writes when stepping through time: a graph of two ops (ours) or a handful (PyTorch's)
  per step). No target; until 2026-11 this loop was PyTorch's side of the ``lstm`` row, when
  stepgrad's ``nn.LSTM`` still built a graph per step.
- ``rnn``: the same network with ``nn.RNN(1, 32)`` (tanh), Keras's SimpleRNN's layer: one
  sequence op (ours) against PyTorch's C++ loop. No target.
- ``cnn, 1 hog``: the seed CNN's step while one other CPU-bound process (a Python busy loop)
  runs, for both libraries; target for stepgrad: < 2× its idle step.

Method (bench/common.py): fresh processes per measurement, both libraries under the same malloc
settings (PyTorch also under glibc's defaults, the 'torch default malloc' columns), OpenBLAS on
its native core type, the libraries alternating over ``BENCH_ROUNDS`` rounds (default 5); a
ratio is the median of the per-round ratios, [min–max] over the rounds beside it.

Peak memory of the CNN training run: the process's peak resident set (``ru_maxrss``) over
20 training steps and its growth over the size after set-up (model and batch built, before
the first step, so it includes any JIT loading), measured in a fresh process for each framework
(neither inherits the other's heap). For ours, also numpy's peak traced allocation
(``tracemalloc``) during one step after those 20.

Results: bench/results/nn_train.json (every round's numbers included).
"""
from __future__ import annotations

import subprocess
import sys

import numpy as np

from bench.common import (
    ROOT_DIR,
    Hog,
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

WORKLOADS = {  # name: (description, target ratio)
    "cnn": ("seed CNN step, batch 128", 1.0),
    "mlp": ("MLP 784-256-128-64-10 step, batch 128", 0.8),
    "lstm": ("nn.LSTM(1→32) 50 steps + Linear + MSE, batch 64", 0.6),
    "lstm_cell": ("the same as a Python loop over nn.LSTMCell", None),
    "rnn": ("nn.RNN(1→32) (tanh), the same network", None),
}
HOG_TARGET = 2.0  # stepgrad's CNN step with one competing process ≤ this × its idle step
MEMORY_STEPS = 20


def batch(name, seed=0):
    """The fixed input batch of a workload, as float32 numpy arrays (x, y)."""
    rng = np.random.default_rng(seed)
    if name == "cnn":
        return (rng.uniform(-1, 1, (128, 1, 28, 28)).astype(np.float32),
                rng.integers(0, 10, 128))
    if name == "mlp":
        return rng.uniform(0, 1, (128, 784)).astype(np.float32), rng.integers(0, 10, 128)
    if name in ("lstm", "lstm_cell", "rnn"):
        return (rng.standard_normal((64, 50, 1)).astype(np.float32),
                rng.standard_normal((64, 1)).astype(np.float32))
    raise KeyError(name)


# ----------------------------------------------------------------------------- ours
def our_step(name):
    """A closure running one training step of workload ``name`` with stepgrad."""
    import engine
    import nn

    engine.manual_seed(0)
    F = nn.F
    x_np, y_np = batch(name)
    x = engine.tensor(x_np)
    if name == "cnn":
        model, loss_fn = nn.models.seed_cnn(), F.cross_entropy
    elif name == "mlp":
        model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                              nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
        loss_fn = F.cross_entropy
    else:
        rnn = (nn.LSTM(1, 32, batch_first=True) if name == "lstm" else
               nn.RNN(1, 32, batch_first=True) if name == "rnn" else nn.LSTMCell(1, 32))
        head = nn.Linear(32, 1)
        model = nn.Sequential(rnn, head)  # holds the parameters; forward is below
        loss_fn = F.mse_loss
    y = engine.tensor(y_np)
    opt = nn.optim.Adam(model.parameters(), lr=1e-3)

    def forward():
        if name == "lstm":
            _, (h, _) = rnn(x)
            return head(h[-1])  # h_n (1, N, H): PyTorch's layout, the same line as torch's side
        if name == "rnn":
            _, h = rnn(x)
            return head(h[-1])
        if name == "lstm_cell":
            h = c = engine.zeros(x.shape[0], 32)
            for t in range(x.shape[1]):  # the Python loop over time a student writes
                h, c = rnn(x[:, t], (h, c))
            return head(h)
        return model(x)

    def step():
        opt.zero_grad()
        loss = loss_fn(forward(), y)
        loss.backward()
        opt.step()
        return loss

    return step


MEMORY_SCRIPT = """
import resource, sys, tracemalloc
sys.path.insert(0, {root!r})
from bench.{module} import {fn}
step = {fn}("cnn")
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # model and batch built
for _ in range({steps}):
    step()
tracemalloc.start()
step()
traced = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print({{"rss_after_setup_mb": base / 1024, "rss_peak_mb": peak / 1024,
        "growth_mb": (peak - base) / 1024, "traced_peak_mb": traced / 2**20}})
"""


def peak_memory(module, fn):
    """Peak-memory figures of 20 CNN training steps in a fresh process (see module doc)."""
    import ast
    code = MEMORY_SCRIPT.format(root=ROOT_DIR, module=module, fn=fn, steps=MEMORY_STEPS)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT_DIR, capture_output=True,
                         text=True, check=True, env=fair_env())
    return ast.literal_eval(out.stdout.strip().splitlines()[-1])


def worker(library, names):
    """Time the workloads ``names`` with ``library`` in this process; print JSON."""
    import json
    if library == "torch":
        import torch

        from bench.torch_nn_train import torch_step as make_step
        info = {"torch_version": torch.__version__, "torch_threads": torch.get_num_threads()}
    else:
        import numba

        from engine.fast import threads
        make_step = our_step
        info = {"threading_layer": numba.threading_layer(), "policy": threads.policy,
                "numba_threads": numba.get_num_threads()}
    times = {name: measure(make_step(name), warmup=3, repeat=20, min_seconds=1.0)
             for name in names}
    print(json.dumps({"times": times, "info": info}))


def torch_installed():
    import importlib.util
    return importlib.util.find_spec("torch") is not None


def main():
    warn = busy_warning()
    if warn:
        print(warn)
    names = list(WORKLOADS)
    same, default = fair_env("same"), fair_env("default")
    module = "bench.nn_train"
    runs = {"stepgrad": lambda: run_worker(module, ["stepgrad", *names], same)}
    with_torch = torch_installed()
    if with_torch:
        runs["torch"] = lambda: run_worker(module, ["torch", *names], same)
        runs["torch default malloc"] = lambda: run_worker(module, ["torch", *names], default)

    def hogged(library):
        def run():
            with Hog():
                return run_worker(module, [library, "cnn"], same)
        return run

    runs["stepgrad, 1 hog"] = hogged("stepgrad")
    if with_torch:
        runs["torch, 1 hog"] = hogged("torch")
    results = alternate(runs)
    memory = {"ours": peak_memory("nn_train", "our_step")}
    if with_torch:
        memory["torch"] = peak_memory("torch_nn_train", "torch_step")

    def per_round(run, name, stat="median_ms"):
        return [r and r["times"][name][stat] for r in results.get(run, [])]

    def fmt(v, spec=".2f"):
        return "-" if v is None else format(v, spec)

    rows, records = [], []
    for name, (what, target) in WORKLOADS.items():
        ours = per_round("stepgrad", name)
        theirs = per_round("torch", name) if with_torch else []
        plain = per_round("torch default malloc", name) if with_torch else []
        ratio, lo, hi = ratio_stats(ours, theirs) if with_torch else (None, None, None)
        ratio_d = ratio_stats(ours, plain)[0] if with_torch else None
        ratio_min = ratio_stats(per_round("stepgrad", name, "min_ms"),
                                per_round("torch", name, "min_ms"))[0] if with_torch else None
        verdict = "-" if target is None else f"≤{target}x" + (
            "" if ratio is None else " ok" if ratio <= target else " MISSED")
        rows.append([what, fmt(median_or_none(ours)), fmt(median_or_none(theirs)),
                     fmt(ratio) + "x" if ratio else "-",
                     f"[{lo:.2f}–{hi:.2f}]" if ratio else "", verdict,
                     fmt(ratio_min) + "x" if ratio_min else "-",
                     fmt(median_or_none(plain)), fmt(ratio_d) + "x" if ratio_d else "-"])
        records.append({"workload": name, "what": what, "ours_ms": ours, "torch_ms": theirs,
                        "torch_default_malloc_ms": plain, "ratio": ratio,
                        "ratio_range": [lo, hi], "ratio_vs_default_malloc": ratio_d,
                        "ratio_of_min_steps": ratio_min,
                        "target_ratio": target,
                        "meets_target": None if ratio is None or target is None
                        else ratio <= target})
    # The competing-process row: each library's hogged step over its own idle step.
    hog_ours = per_round("stepgrad, 1 hog", "cnn")
    slow, slo, shi = ratio_stats(hog_ours, per_round("stepgrad", "cnn"))
    hog_theirs = per_round("torch, 1 hog", "cnn") if with_torch else []
    tslow = ratio_stats(hog_theirs, per_round("torch", "cnn"))[0] if with_torch else None
    ratio_h = ratio_stats(hog_ours, hog_theirs)[0] if with_torch else None
    rows.append(["seed CNN step, 1 competing process", fmt(median_or_none(hog_ours)),
                 fmt(median_or_none(hog_theirs)), fmt(ratio_h) + "x" if ratio_h else "-", "",
                 "", "", "", ""])
    records.append({"workload": "cnn_hog", "ours_ms": hog_ours, "torch_ms": hog_theirs,
                    "ours_slowdown": slow, "ours_slowdown_range": [slo, shi],
                    "torch_slowdown": tslow, "target_slowdown": HOG_TARGET,
                    "meets_target": None if slow is None else slow <= HOG_TARGET})
    info = next((r["info"] for r in results["stepgrad"] if r), {})
    tinfo = next((r["info"] for r in results.get("torch", []) if r), None)
    m = memory["ours"]
    notes = [f"ms: median over {len(results['stepgrad'])} rounds of each process's median "
             "step (≥ 20 steps after 3 warm-up steps); ratio: median of the per-round "
             "ratios ours / torch (same malloc settings), [min–max] over the rounds; 'min "
             "ratio': the same for each process's fastest step (least disturbed by other "
             "processes on a shared machine).",
             f"With one competing process, stepgrad's step is {fmt(slow)}x its idle step "
             f"[{fmt(slo)}–{fmt(shi)}] (target ≤ {HOG_TARGET}x: "
             f"{'ok' if slow is not None and slow <= HOG_TARGET else 'MISSED'}); "
             f"PyTorch's {fmt(tslow)}x.",
             f"stepgrad: Numba {info.get('numba_threads')} threads, layer "
             f"{info.get('threading_layer')} (policy: {info.get('policy')}, engine/fast/threads.py)"
             + (f"; PyTorch {tinfo['torch_version']}, {tinfo['torch_threads']} threads."
                if tinfo else "."),
             f"CNN training, peak RSS over {MEMORY_STEPS} steps (fresh process each): ours "
             f"{m['rss_peak_mb']:.0f} MB (+{m['growth_mb']:.0f} MB over set-up; numpy's "
             f"traced peak in one step {m['traced_peak_mb']:.1f} MB)"
             + (f"; torch {memory['torch']['rss_peak_mb']:.0f} MB "
                f"(+{memory['torch']['growth_mb']:.0f} MB)" if with_torch else "") + "."]
    notes += describe_machine()
    if not with_torch:
        notes.append("PyTorch not installed: no comparison (pip install torch==2.13.0).")
    if warn:
        notes.append(warn)
    print_table(["workload", "ours ms", "torch ms", "ratio", "rounds", "target", "min ratio",
                 "torch default malloc ms", "ratio"], rows,
                title="Training steps (zero_grad + forward + loss + backward + Adam)",
                notes=notes)
    write_json("nn_train", {"rows": records, "memory": memory, "memory_steps": MEMORY_STEPS,
                            "rounds": results})


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3:] or list(WORKLOADS))
    else:
        main()
