"""The layer set, one small file per family."""
from .activation import Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .conv import AvgPool2d, Conv2d, GlobalAvgPool2d, MaxPool2d
from .dropout import Dropout
from .linear import Dense, Flatten, Linear
from .norm import BatchNorm1d, BatchNorm2d
from .recurrent import (GRU, LSTM, RNN, GRUCell, KerasGRU, KerasLSTM, LSTMCell, RNNCell,
                        SimpleRNN, TimeStep)

__all__ = ["AvgPool2d", "BatchNorm1d", "BatchNorm2d", "Conv2d", "Dense", "Dropout", "Flatten",
           "KerasGRU", "KerasLSTM", "SimpleRNN",
           "GRU", "GRUCell", "GlobalAvgPool2d", "Identity", "LSTM", "LSTMCell", "LeakyReLU",
           "Linear", "MaxPool2d", "RNN", "RNNCell", "ReLU", "Sigmoid", "Softmax", "Tanh",
           "TimeStep"]
