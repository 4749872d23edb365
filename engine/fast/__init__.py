"""The speed machinery, apart from the teaching core: nothing here is needed to understand
autodiff, and everything here is checked against the slow, obvious definitions.

- ``conv.py``, ``pool.py``, ``lstm.py``, ``rnn.py``, ``gru.py``: conv2d, max/avg pooling,
  the LSTM, the Elman RNN and the GRU as fused ops (forward + backward written for speed,
  not twice differentiable);
- ``kernels/``: the Numba kernels they call (im2col/col2im, direct 3×3 convolutions, pooling):
  plain ``@njit`` functions on numpy arrays (``NUMBA_DISABLE_JIT=1`` to step in with pdb);
- ``threads.py``: how Numba's threads and numpy's BLAS share the cores;
- ``memory.py``: glibc's malloc thresholds, so a training step's freed megabytes are reused.
"""
