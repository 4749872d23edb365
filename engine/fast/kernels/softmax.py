"""Softmax cross-entropy over the rows of an (N, C) array: a classifier's loss in one pass.

numpy's reductions along a short last axis cost several µs each (the row max of a (128, 10)
float32 array: 6.8 µs, against 1.3 µs for exp over all of it), and the loss needs four of
them; these loops make one pass per row instead (``engine/ops/neural.py``'s
``CrossEntropy`` calls them for 2-D C-contiguous float32/float64 input).

Serial on purpose: a batch of logits is a few thousand values, far less than waking a second
thread costs. ``error_model="numpy"``: log(0) is −inf as in numpy, no Python exception.
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, error_model="numpy")
def cross_entropy_forward(x, labels, logp):
    """logp = log_softmax of each row of x (N, C), max subtracted first; returns
    Σₙ logp[n, labels[n]] accumulated in float64."""
    total = 0.0
    for n in range(x.shape[0]):
        row, out = x[n], logp[n]
        m = row[0]
        for j in range(1, row.shape[0]):
            v = row[j]
            m = v if v > m or v != v else m  # NaN wins, as numpy's max
        s = 0.0
        for j in range(row.shape[0]):
            s += np.exp(row[j] - m)
        lse = m + np.log(s)
        for j in range(row.shape[0]):
            out[j] = row[j] - lse
        total += out[labels[n]]
    return total


@njit(cache=True, error_model="numpy")
def cross_entropy_backward(logp, labels, scale, dx):
    """dx = (exp(logp) − onehot(labels))·scale, row by row (scale = g/M in logp's dtype)."""
    for n in range(logp.shape[0]):
        lp, d = logp[n], dx[n]
        for j in range(lp.shape[0]):
            d[j] = np.exp(lp[j]) * scale
        d[labels[n]] = (np.exp(lp[labels[n]]) - 1) * scale
