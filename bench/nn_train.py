"""Training steps of the course's models, ours vs PyTorch CPU: ``python -m bench.nn_train``.

One step = zero_grad, forward, loss, backward, Adam update, on a fixed batch:

- ``cnn``:  the seed CNN (Conv 1→16, pool, Conv 16→32, pool, Conv 32→32, pool, Linear 288→10),
  batch 128 of (1, 28, 28), cross-entropy. Target ≤ 1.0× PyTorch.
- ``mlp``:  MLP 784-256-128-64-10 (relu), batch 128, cross-entropy. Target ≤ 1.5× PyTorch.
- ``lstm``: LSTM(1→32) over 50 steps at batch 64, Linear(32→1) on the last hidden state, MSE.
  PyTorch's side is its own Python loop over ``nn.LSTMCell`` (what a student writes when
  stepping through time; a graph of the same shape as ours). Target ≤ 1.0× PyTorch.

Peak memory of the CNN training run: the process's peak resident set (``ru_maxrss``) over
20 training steps and its growth over the size after set-up (model and batch built, before
the first step, so it includes any JIT loading), measured in a fresh process for each framework
(neither inherits the other's heap). For ours, also numpy's peak traced allocation
(``tracemalloc``) during one step after those 20.

PyTorch runs in its own process (``bench.torch_nn_train``): the thread pools of the two
interfere when mixed in one process. Results: bench/results/nn_train.json
"""
from __future__ import annotations

import subprocess
import sys

import numpy as np

from bench.common import ROOT_DIR, busy_warning, measure, print_table, run_torch_section, write_json

WORKLOADS = {  # name: (description, target ratio)
    "cnn": ("seed CNN step, batch 128", 1.0),
    "mlp": ("MLP 784-256-128-64-10 step, batch 128", 1.5),
    "lstm": ("LSTM(1→32) 50 steps + Linear + MSE, batch 64", 1.0),
}
MEMORY_STEPS = 20


def batch(name, seed=0):
    """The fixed input batch of a workload, as float32 numpy arrays (x, y)."""
    rng = np.random.default_rng(seed)
    if name == "cnn":
        return (rng.uniform(-1, 1, (128, 1, 28, 28)).astype(np.float32),
                rng.integers(0, 10, 128))
    if name == "mlp":
        return rng.uniform(0, 1, (128, 784)).astype(np.float32), rng.integers(0, 10, 128)
    if name == "lstm":
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
        lstm, head = nn.LSTM(1, 32), nn.Linear(32, 1)
        model = nn.Sequential(lstm, head)  # holds the parameters; forward is below
        loss_fn = F.mse_loss
    y = engine.tensor(y_np)
    opt = nn.optim.Adam(model.parameters(), lr=1e-3)

    def forward():
        if name == "lstm":
            _, (h, _) = lstm(x)
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
                         text=True, check=True)
    return ast.literal_eval(out.stdout.strip().splitlines()[-1])


def main():
    warn = busy_warning()
    if warn:
        print(warn)
    ours = {name: measure(our_step(name), warmup=3, repeat=20, min_seconds=1.0)
            for name in WORKLOADS}
    torch = run_torch_section("torch_nn_train")
    memory = {"ours": peak_memory("nn_train", "our_step")}
    if torch:
        memory["torch"] = peak_memory("torch_nn_train", "torch_step")

    rows, records = [], []
    for name, (what, target) in WORKLOADS.items():
        o = ours[name]
        t = torch["workloads"][name] if torch else None
        ratio = o["median_ms"] / t["median_ms"] if t else None
        verdict = f"≤{target}x" + ("" if ratio is None else " ok" if ratio <= target
                                    else " MISSED")
        rows.append([what, f"{o['median_ms']:.2f}", f"{o['min_ms']:.2f}",
                     f"{t['median_ms']:.2f}" if t else "-", f"{t['min_ms']:.2f}" if t else "-",
                     f"{ratio:.2f}x" if ratio else "-",
                     f"{o['min_ms'] / t['min_ms']:.2f}x" if t else "-", verdict,
                     f"{o['faults_per_call']:.0f}", f"{t['faults_per_call']:.0f}" if t else "-"])
        records.append({"workload": name, "what": what, "ours": o, "torch": t, "ratio": ratio,
                        "target_ratio": target,
                        "meets_target": None if ratio is None else ratio <= target})
    m = memory["ours"]
    notes = ["ms: median and min of ≥ 20 steps after 3 warm-up steps; ratio: ours / torch.",
             f"CNN training, peak RSS over {MEMORY_STEPS} steps (fresh process each): ours "
             f"{m['rss_peak_mb']:.0f} MB (+{m['growth_mb']:.0f} MB over set-up; numpy's "
             f"traced peak in one step {m['traced_peak_mb']:.1f} MB)"
             + (f"; torch {memory['torch']['rss_peak_mb']:.0f} MB "
                f"(+{memory['torch']['growth_mb']:.0f} MB)" if torch else "") + "."]
    if torch:
        notes.append(f"PyTorch {torch['torch_version']}, {torch['torch_threads']} threads; its "
                     "LSTM row is a Python loop over nn.LSTMCell.")
    else:
        notes.append("PyTorch not installed: no comparison (pip install torch==2.13.0).")
    if warn:
        notes.append(warn)
    print_table(["workload", "ours ms", "min", "torch ms", "min", "ratio", "min", "target",
                 "faults ours", "faults torch"], rows,
                title="Training steps (zero_grad + forward + loss + backward + Adam)",
                notes=notes)
    write_json("nn_train", {"rows": records, "memory": memory,
                            "memory_steps": MEMORY_STEPS})


if __name__ == "__main__":
    main()
