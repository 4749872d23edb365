"""The course's named models, built from stepgrad's layers (NCHW, logits out).

Every model returns logits: train with ``loss='cross_entropy'`` (softmax inside the loss, the
stable way) and apply ``F.softmax`` when you want the probabilities the course prints.

- :func:`seed_cnn` — course 000's CNN (the ``cnn-mnist.bson`` architecture), 16,938 parameters.
- :func:`inception_net` — course 001 ex. 10's two Inception-v1 modules, 196,154 parameters.
- :func:`resnet` — course 001 ex. 10's three residual blocks of 64 filters, 186,058 parameters.
"""
from __future__ import annotations

import engine

from .layers import Conv2d, Flatten, GlobalAvgPool2d, Linear, MaxPool2d, ReLU
from .module import Module, Sequential


def conv_relu(in_channels, out_channels, kernel_size):
    """Keras's ``Conv2D(out, k, padding='same', activation='relu')``: Conv2d → ReLU."""
    return Sequential(Conv2d(in_channels, out_channels, kernel_size, padding="same"), ReLU())


def seed_cnn():
    """Course 000's CNN: Conv(3×3, 1→16, pad 1) → ReLU → MaxPool(2) → Conv(16→32) → ReLU →
    MaxPool(2) → Conv(32→32) → ReLU → MaxPool(2) → Flatten → Linear(288 → 10).

    Input (N, 1, 28, 28) → logits (N, 10); feature maps 28 → 14 → 7 → 3.

    >>> import nn
    >>> nn.summary(nn.models.seed_cnn(), (1, 28, 28)).total_params
    16938
    """
    return Sequential(
        Conv2d(1, 16, 3, padding=1), ReLU(), MaxPool2d(2),
        Conv2d(16, 32, 3, padding=1), ReLU(), MaxPool2d(2),
        Conv2d(32, 32, 3, padding=1), ReLU(), MaxPool2d(2),
        Flatten(), Linear(288, 10))


class InceptionModule(Module):
    """Inception-v1 module (filter bank), all branches 'same' and relu, concatenated on
    channels: (N, C, H, W) → (N, f1 + f2_out + f3_out + f4, H, W).

    - ``b1``: 1×1 conv to f1
    - ``b2``: 1×1 conv to f2_in → 3×3 conv to f2_out
    - ``b3``: 1×1 conv to f3_in → 5×5 conv to f3_out
    - ``b4``: 3×3 max-pool (stride 1, 'same') → 1×1 conv to f4
    """

    def __init__(self, in_channels, f1, f2_in, f2_out, f3_in, f3_out, f4):
        super().__init__()
        self.b1 = conv_relu(in_channels, f1, 1)
        self.b2 = Sequential(conv_relu(in_channels, f2_in, 1), conv_relu(f2_in, f2_out, 3))
        self.b3 = Sequential(conv_relu(in_channels, f3_in, 1), conv_relu(f3_in, f3_out, 5))
        self.b4 = Sequential(MaxPool2d(3, stride=1, padding=1), conv_relu(in_channels, f4, 1))
        self.out_channels = f1 + f2_out + f3_out + f4

    def forward(self, x):
        return engine.concatenate([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], axis=1)


class ResidualBlock(Module):
    """Residual block: relu(conv3×3(relu(conv3×3(x))) + shortcut(x)), 'same' padding.

    The shortcut is the identity, or a 1×1 conv with relu when the channel count changes (the
    course's Keras code puts relu on the projection too). (N, C, H, W) → (N, filters, H, W).
    """

    def __init__(self, in_channels, filters):
        super().__init__()
        self.conv1 = conv_relu(in_channels, filters, 3)
        self.conv2 = Conv2d(filters, filters, 3, padding="same")
        self.project = conv_relu(in_channels, filters, 1) if in_channels != filters else None

    def forward(self, x):
        shortcut = x if self.project is None else self.project(x)
        return (self.conv2(self.conv1(x)) + shortcut).relu()


def _same_pool():
    # Keras MaxPooling2D((2, 2), strides=(2, 2), padding='same'): 28 → 14 → 7 → 4.
    return MaxPool2d(2, stride=2, ceil_mode=True)


def inception_net(in_channels=1, num_classes=10):
    """Course 001 ex. 10's InceptionNet: module (32, 32, 32, 32, 32, 16) → MaxPool(2, 'same')
    → module (32, 64, 64, 64, 64, 16) → MaxPool(2, 'same') → GlobalAvgPool → Linear(176 → 10).

    (N, 1, 28, 28) → logits (N, 10); channels 1 → 112 → 176, maps 28 → 14 → 7.

    >>> import nn
    >>> nn.summary(nn.models.inception_net(), (1, 28, 28)).total_params
    196154
    """
    m1 = InceptionModule(in_channels, 32, 32, 32, 32, 32, 16)
    m2 = InceptionModule(m1.out_channels, 32, 64, 64, 64, 64, 16)
    return Sequential(m1, _same_pool(), m2, _same_pool(), GlobalAvgPool2d(),
                      Linear(m2.out_channels, num_classes))


def resnet(in_channels=1, num_classes=10, filters=64, blocks=3):
    """Course 001 ex. 10's ResNet: ``blocks`` residual blocks of ``filters`` channels, each
    followed by MaxPool(2, 'same') → GlobalAvgPool → Linear(filters → 10).

    (N, 1, 28, 28) → logits (N, 10); maps 28 → 14 → 7 → 4.

    >>> import nn
    >>> nn.summary(nn.models.resnet(), (1, 28, 28)).total_params
    186058
    """
    layers, channels = [], in_channels
    for _ in range(blocks):
        layers += [ResidualBlock(channels, filters), _same_pool()]
        channels = filters
    return Sequential(*layers, GlobalAvgPool2d(), Linear(filters, num_classes))
