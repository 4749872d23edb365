"""Layers, losses, optimizers and Keras-style training, built on engine's public API."""
from . import attacks, data, datasets, functional, init, models, optim, pretrained
from . import functional as F
from .layers import (CELU, ELU, GELU, GRU, LSTM, RNN, SELU, AvgPool2d, BatchNorm1d, BatchNorm2d,
                     BCELoss, BCEWithLogitsLoss, Conv2d, CosineEmbeddingLoss, CosineSimilarity,
                     CrossEntropyLoss, Dropout, Flatten, GlobalAvgPool2d, GRUCell, Hardsigmoid,
                     Hardswish, Hardtanh, HuberLoss, Identity, KLDivLoss, L1Loss, LeakyReLU,
                     Linear, LogSigmoid, LogSoftmax, LSTMCell, MaxPool2d, Mish, MSELoss, NLLLoss,
                     PReLU, ReLU, ReLU6, RNNCell, SiLU, Sigmoid, SmoothL1Loss, Softmax, Softmin,
                     Softplus, Softsign, Tanh)
from .module import Module, Parameter, Sequential
from .serialization import load, save
from .summary import Summary, summary
from .training import (Callback, EarlyStopping, History, LearningRateScheduler, ModelCheckpoint,
                       TerminateOnNaN, evaluate, fit, load_checkpoint, predict)
