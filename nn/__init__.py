"""Layers, losses, optimizers and Keras-style training, built on engine's public API."""
from . import attacks, callbacks, data, datasets, functional, models, optim, pretrained
from . import functional as F
from .callbacks import CSVLogger
from .layers import (GRU, LSTM, RNN, AvgPool2d, BatchNorm1d, BatchNorm2d, Conv2d, Dense,
                     Dropout, Flatten, GlobalAvgPool2d, GRUCell, Identity, LeakyReLU, Linear,
                     LSTMCell, MaxPool2d, ReLU, RNNCell, Sigmoid, SimpleRNN, Softmax, Tanh)
from .module import Module, Parameter, Sequential
from .serialization import load, save
from .summary import Summary, summary
from .training import (Callback, EarlyStopping, History, LearningRateScheduler, ModelCheckpoint,
                       TerminateOnNaN, evaluate, fit, load_checkpoint, predict)
from . import keras  # noqa: E402,I001 - after the layers it imports
from .keras import callbacks as _kc, layers as _kl, optimizers as _ko, utils as _ku  # noqa: F401
from .keras.saving import load_model
