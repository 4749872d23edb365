"""The layer set, one small file per family."""
from .activation import Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .conv import AvgPool2d, Conv2d, GlobalAvgPool2d, MaxPool2d
from .dropout import Dropout
from .linear import Flatten, Linear
from .norm import BatchNorm1d, BatchNorm2d
from .recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell, TimeStep

__all__ = ["AvgPool2d", "BatchNorm1d", "BatchNorm2d", "Conv2d", "Dropout", "Flatten",
           "GRU", "GRUCell", "GlobalAvgPool2d", "Identity", "LSTM", "LSTMCell", "LeakyReLU",
           "Linear", "MaxPool2d", "RNN", "RNNCell", "ReLU", "Sigmoid", "Softmax", "Tanh",
           "TimeStep"]
