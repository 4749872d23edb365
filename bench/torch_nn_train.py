"""PyTorch's side of bench/nn_train.py: the same training steps, timed the same way, in its
own process. Run by ``python -m bench.nn_train`` when torch is importable; on its own:
``python -m bench.torch_nn_train``. Results: bench/results/torch_nn_train.json
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from bench.common import measure, print_table, write_json
from bench.nn_train import WORKLOADS, batch


def torch_step(name):
    """A closure running one training step of workload ``name`` with PyTorch."""
    torch.manual_seed(0)
    x_np, y_np = batch(name)
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
    if name == "cnn":
        model = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(288, 10))
        loss_fn = F.cross_entropy
    elif name == "mlp":
        model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                              nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
        loss_fn = F.cross_entropy
    else:
        rnn = (nn.LSTM(1, 32, batch_first=True) if name == "lstm" else
               nn.RNN(1, 32, batch_first=True) if name == "rnn" else nn.LSTMCell(1, 32))
        head = nn.Linear(32, 1)
        model = nn.ModuleList([rnn, head])
        loss_fn = F.mse_loss
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def forward():
        if name == "lstm":
            _, (h, _) = rnn(x)
            return head(h[0])
        if name == "rnn":
            _, h = rnn(x)
            return head(h[0])
        if name == "lstm_cell":
            h = c = torch.zeros(x.shape[0], 32)
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


def main():
    workloads = {name: measure(torch_step(name), warmup=3, repeat=20, min_seconds=1.0)
                 for name in WORKLOADS}
    print_table(["workload", "torch ms", "min", "faults/call"],
                [[WORKLOADS[n][0], f"{w['median_ms']:.2f}", f"{w['min_ms']:.2f}",
                  f"{w['faults_per_call']:.0f}"] for n, w in workloads.items()],
                title=f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads")
    write_json("torch_nn_train", {"torch_version": torch.__version__,
                                  "torch_threads": torch.get_num_threads(),
                                  "workloads": workloads})


if __name__ == "__main__":
    main()
