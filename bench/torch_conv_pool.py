"""PyTorch's side of bench/conv_pool.py: the same layers, timed the same way, in its own
process (PyTorch's thread pool and ours interfere when mixed in one process).

Run by ``python -m bench.conv_pool`` when torch is importable; on its own:
``python -m bench.torch_conv_pool``. Results: bench/results/torch_conv_pool.json
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from bench.common import measure, print_table, write_json
from bench.conv_pool import LAYERS, PADDING, layer_inputs


def torch_calls(kind, a, param, x_grad, padding=PADDING):
    """(forward, forward + backward) closures for one layer of PyTorch's."""
    x = a["x"].requires_grad_(x_grad)
    if kind.startswith("conv"):
        w, b = a["w"].requires_grad_(True), a["b"].requires_grad_(True)
        inputs = [t for t in (x, w, b) if t.requires_grad]
        op, opts = {"conv1d": (F.conv1d, padding), "convT": (F.conv_transpose2d, padding)}.get(
            kind, (F.conv2d, {"padding": padding}))

        def fwd():
            return op(x, w, b, **opts)
    else:
        inputs = [x]

        def fwd():
            return F.max_pool2d(x, param)

    def fwd_bwd():
        return torch.autograd.grad(fwd(), inputs, a["g"])  # no leaf .grad accumulation

    return fwd, fwd_bwd


def main():
    layers, rows = {}, []
    for name, kind, x_shape, param, x_grad in LAYERS:
        arrays = layer_inputs(kind, x_shape, param, x_grad)
        fwd, fwd_bwd = torch_calls(kind, {k: torch.from_numpy(v) for k, v in arrays.items()},
                                   param, x_grad)
        layers[name] = {"fwd": measure(fwd), "fwd_bwd": measure(fwd_bwd)}
        rows += [[name, p.replace("_", "+"), f"{layers[name][p]['median_ms']:.2f}",
                  f"{layers[name][p]['min_ms']:.2f}", f"{layers[name][p]['faults_per_call']:.0f}"]
                 for p in ("fwd", "fwd_bwd")]
    print_table(["layer", "pass", "torch ms", "min", "faults/call"], rows,
                title=f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads, batch "
                      f"{LAYERS[0][2][0]}")
    write_json("torch_conv_pool", {"torch_threads": torch.get_num_threads(), "layers": layers})


if __name__ == "__main__":
    main()
