"""The layer set, one small file per family."""
from .activation import (CELU, ELU, GELU, SELU, Hardsigmoid, Hardswish, Hardtanh, Identity,
                         LeakyReLU, LogSigmoid, LogSoftmax, Mish, PReLU, ReLU, ReLU6, Sigmoid,
                         SiLU, Softmax, Softmax2d, Softmin, Softplus, Softsign, Tanh, Threshold,
                         GLU, Hardshrink, Softshrink, Tanhshrink, RReLU)
from .attention import (MultiheadAttention, Transformer, TransformerDecoder,
                        TransformerDecoderLayer, TransformerEncoder, TransformerEncoderLayer)
from .conv import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveMaxPool1d, AdaptiveMaxPool2d,
                   AvgPool1d, AvgPool2d, ConstantPad1d, ConstantPad2d, Conv1d, Conv2d,
                   ConvTranspose1d, ConvTranspose2d, GlobalAvgPool2d, MaxPool1d, MaxPool2d,
                   MaxUnpool2d, PixelShuffle, PixelUnshuffle, ReflectionPad1d, ReflectionPad2d,
                   ReplicationPad1d, ReplicationPad2d, Upsample, UpsamplingBilinear2d,
                   UpsamplingNearest2d, ZeroPad1d, ZeroPad2d, Fold, Unfold, MaxUnpool1d,
                   LPPool1d, LPPool2d, ChannelShuffle, CircularPad1d, CircularPad2d,
                   AdaptiveAvgPool3d, AdaptiveMaxPool3d, AvgPool3d, Conv3d, ConvTranspose3d,
                   MaxPool3d, MaxUnpool3d)
from .dropout import AlphaDropout, Dropout, Dropout1d, Dropout2d, Dropout3d
from .lazy import (LazyBatchNorm1d, LazyBatchNorm2d, LazyBatchNorm3d, LazyConv1d, LazyConv2d,
                   LazyConv3d, LazyConvTranspose1d, LazyConvTranspose2d, LazyConvTranspose3d,
                   LazyLinear, LazyModuleMixin)
from .linear import Bilinear, Dense, Embedding, EmbeddingBag, Flatten, Linear, Unflatten
from .loss import (BCELoss, BCEWithLogitsLoss, CosineEmbeddingLoss, CosineSimilarity,
                   CrossEntropyLoss, GaussianNLLLoss, HingeEmbeddingLoss, HuberLoss, KLDivLoss,
                   L1Loss, MarginRankingLoss, MSELoss, MultiLabelSoftMarginLoss, NLLLoss,
                   PairwiseDistance, PoissonNLLLoss, SmoothL1Loss, SoftMarginLoss,
                   TripletMarginLoss, MultiMarginLoss, MultiLabelMarginLoss,
                   TripletMarginWithDistanceLoss)
from .norm import (BatchNorm1d, BatchNorm2d, BatchNorm3d, GroupNorm, InstanceNorm1d,
                   InstanceNorm2d, InstanceNorm3d, LayerNorm, LocalResponseNorm, RMSNorm)
from .recurrent import (GRU, LSTM, RNN, GRUCell, KerasGRU, KerasLSTM, LSTMCell, RNNCell,
                        SimpleRNN, TimeStep)

__all__ = ["AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "AvgPool1d", "AvgPool2d", "BCELoss",
           "BCEWithLogitsLoss", "BatchNorm1d", "BatchNorm2d", "CELU", "Conv1d", "Conv2d",
           "ConvTranspose2d", "CosineEmbeddingLoss", "CosineSimilarity", "CrossEntropyLoss",
           "Dense", "Dropout", "Dropout1d", "Dropout2d", "ELU", "Embedding", "EmbeddingBag",
           "Flatten", "GELU", "GRU", "GRUCell", "GlobalAvgPool2d",
           "Hardsigmoid", "Hardswish", "Hardtanh", "HuberLoss", "Identity", "KLDivLoss",
           "KerasGRU", "KerasLSTM", "L1Loss", "LSTM", "LayerNorm", "LSTMCell", "LeakyReLU",
           "Linear",
           "LogSigmoid", "LogSoftmax", "MSELoss", "MaxPool1d", "MaxPool2d", "MaxUnpool2d", "Mish",
           "NLLLoss", "PReLU", "RNN", "RNNCell", "ReLU", "ReLU6", "SELU", "SiLU", "Sigmoid",
           "SimpleRNN", "SmoothL1Loss", "Softmax", "Softmin", "Softplus", "Softsign", "Tanh",
           "TimeStep", "Unflatten", "Upsample", "UpsamplingBilinear2d", "UpsamplingNearest2d",
           "ConstantPad1d", "ConstantPad2d", "GroupNorm", "InstanceNorm1d", "InstanceNorm2d",
           "PairwiseDistance", "PixelShuffle", "PixelUnshuffle", "ReflectionPad1d",
           "ReflectionPad2d", "ReplicationPad1d", "ReplicationPad2d", "Softmax2d", "Threshold",
           "ZeroPad1d", "ZeroPad2d", "GaussianNLLLoss", "HingeEmbeddingLoss",
           "MarginRankingLoss", "MultiLabelSoftMarginLoss", "PoissonNLLLoss", "SoftMarginLoss",
           "TripletMarginLoss", "AdaptiveAvgPool1d", "AdaptiveMaxPool1d", "Bilinear",
           "MultiheadAttention", "TransformerEncoderLayer", "TransformerEncoder", "GLU",
           "Hardshrink", "Softshrink", "Tanhshrink", "MultiMarginLoss", "MultiLabelMarginLoss",
           "LocalResponseNorm", "AlphaDropout", "Dropout3d", "Fold", "Unfold", "RReLU", "RMSNorm",
           "Transformer", "TransformerDecoder", "TransformerDecoderLayer",
           "ConvTranspose1d", "MaxUnpool1d", "LPPool1d", "LPPool2d", "ChannelShuffle",
           "CircularPad1d", "CircularPad2d", "TripletMarginWithDistanceLoss", "LazyBatchNorm1d",
           "LazyBatchNorm2d", "LazyConv1d", "LazyConv2d", "LazyConvTranspose1d",
           "LazyConvTranspose2d", "LazyLinear", "LazyModuleMixin", "AdaptiveAvgPool3d",
           "AdaptiveMaxPool3d", "AvgPool3d", "BatchNorm3d", "Conv3d", "ConvTranspose3d",
           "InstanceNorm3d", "LazyBatchNorm3d", "LazyConv3d", "LazyConvTranspose3d",
           "MaxPool3d", "MaxUnpool3d"]
