"""Layers, losses, optimizers and Keras-style training, built on engine's public API."""
from stepgrad._shadow import check_siblings as _check_siblings  # first: a clear error
_check_siblings(__name__, __file__)  # if a local file hides a package this one needs
from . import (attacks, callbacks, data, datasets, files, functional, init, models, optim,
               pretrained, utils)
from . import functional as F
from .callbacks import CSVLogger, TensorBoard
from .layers import (CELU, ELU, GELU, GRU, LSTM, RNN, SELU, AdaptiveAvgPool2d, AdaptiveMaxPool2d,
                     AvgPool1d, AvgPool2d, BatchNorm1d, BatchNorm2d, BCELoss, BCEWithLogitsLoss,
                     Conv1d, Conv2d, ConvTranspose2d, CosineEmbeddingLoss, CosineSimilarity,
                     CrossEntropyLoss, Dense, Dropout, Embedding, Flatten, GlobalAvgPool2d, GRUCell,
                     Hardsigmoid, Hardswish, Hardtanh, HuberLoss, Identity, KLDivLoss, L1Loss,
                     LeakyReLU, Linear, LogSigmoid, LogSoftmax, LSTMCell, MaxPool1d, MaxPool2d,
                     MaxUnpool2d, Mish, MSELoss, NLLLoss, PReLU, ReLU, ReLU6, RNNCell, SiLU,
                     Sigmoid, SimpleRNN, SmoothL1Loss, Softmax, Softmin, Softplus, Softsign, Tanh,
                     Upsample, UpsamplingBilinear2d, UpsamplingNearest2d, Dropout1d, Dropout2d,
                     LayerNorm, Unflatten, ConstantPad1d, ConstantPad2d, GroupNorm, InstanceNorm1d,
                     InstanceNorm2d, PairwiseDistance, PixelShuffle, PixelUnshuffle,
                     ReflectionPad1d, ReflectionPad2d, ReplicationPad1d, ReplicationPad2d,
                     Softmax2d, Threshold, ZeroPad1d, ZeroPad2d, GaussianNLLLoss,
                     HingeEmbeddingLoss, MarginRankingLoss, MultiLabelSoftMarginLoss,
                     PoissonNLLLoss, SoftMarginLoss, TripletMarginLoss, AdaptiveAvgPool1d,
                     AdaptiveMaxPool1d, Bilinear, MultiheadAttention, TransformerEncoder,
                     TransformerEncoderLayer, GLU, Hardshrink, Softshrink, Tanhshrink,
                     MultiMarginLoss, MultiLabelMarginLoss, LocalResponseNorm, AlphaDropout,
                     Dropout3d, EmbeddingBag, Fold, Unfold, RReLU, RMSNorm, Transformer,
                     TransformerDecoder, TransformerDecoderLayer, ConvTranspose1d, MaxUnpool1d,
                     LPPool1d, LPPool2d, ChannelShuffle, CircularPad1d, CircularPad2d,
                     TripletMarginWithDistanceLoss, LazyBatchNorm1d, LazyBatchNorm2d, LazyConv1d,
                     LazyConv2d, LazyConvTranspose1d, LazyConvTranspose2d, LazyLinear,
                     LazyModuleMixin, AdaptiveAvgPool3d, AdaptiveMaxPool3d, AvgPool3d,
                     BatchNorm3d, Conv3d, ConvTranspose3d, InstanceNorm3d, LazyBatchNorm3d,
                     LazyConv3d, LazyConvTranspose3d, MaxPool3d, MaxUnpool3d)
from .module import (Module, ModuleDict, ModuleList, Parameter, ParameterDict, ParameterList,
                     Sequential, UninitializedBuffer, UninitializedParameter)
from .interchange import export_onnx, from_torch, load_safetensors, save_safetensors, to_torch
from .serialization import load, save
from .summary import Summary, summary
from .training import (Callback, EarlyStopping, History, LearningRateScheduler, ModelCheckpoint,
                       TerminateOnNaN, evaluate, fit, load_checkpoint, predict)
from . import keras  # noqa: E402,I001 - after the layers it imports
from .keras import callbacks as _kc, layers as _kl, optimizers as _ko, utils as _ku  # noqa: F401
from .keras.saving import load_model
