"""Layers, losses, optimizers and Keras-style training, built on engine's public API."""
from stepgrad._shadow import check_siblings as _check_siblings  # first: a clear error
_check_siblings(__name__, __file__)  # if a local file hides a package this one needs
from . import attacks, callbacks, data, datasets, files, functional, models, optim, pretrained
from . import functional as F
from .layers import (GRU, LSTM, RNN, AvgPool2d, BatchNorm1d, BatchNorm2d, Conv2d, Dropout,
                     Flatten, GlobalAvgPool2d, GRUCell, Identity, LeakyReLU, Linear, LSTMCell,
                     MaxPool2d, ReLU, RNNCell, Sigmoid, Softmax, Tanh)
from .module import Module, Parameter, Sequential
from .interchange import export_onnx, from_torch, load_safetensors, save_safetensors, to_torch
from .serialization import load, save
from .summary import Summary, summary
from .training import (Callback, CSVLogger, EarlyStopping, History, LearningRateScheduler,
                       ModelCheckpoint, TensorBoard, TerminateOnNaN, evaluate, fit,
                       load_checkpoint, predict)
