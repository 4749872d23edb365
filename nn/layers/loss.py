"""Loss modules with PyTorch's names and arguments: each holds its options and calls the
function of ``nn.functional`` (``nn.CrossEntropyLoss()(logits, labels)`` is
``F.cross_entropy(logits, labels)``). Class weights are buffers, as in PyTorch."""
from __future__ import annotations

from .. import functional as F
from ..module import Module

_REDUCTIONS = ("mean", "sum", "none")


class _Loss(Module):
    #: Whether the constructor takes PyTorch's deprecated ``size_average=`` / ``reduce=``
    #: (``F.takes_legacy_reduction``): as in PyTorch, all but the losses newer than them.
    legacy_keywords = True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.legacy_keywords and "__init__" in cls.__dict__:
            cls.__init__ = F.takes_legacy_reduction(cls.__dict__["__init__"])

    @F.takes_legacy_reduction
    def __init__(self, reduction: str = "mean", allowed=_REDUCTIONS):
        super().__init__()
        if reduction not in allowed:
            raise ValueError(f"{type(self).__name__}: reduction must be one of "
                             f"{', '.join(map(repr, allowed))}, got {reduction!r}"
                             + F.legacy_hint(reduction))
        self.reduction = reduction

    def _buffer(self, name, value):
        if value is None:
            object.__setattr__(self, name, None)
        else:
            self.register_buffer(name, value)

    def extra_repr(self):
        return f"reduction={self.reduction!r}" if self.reduction != "mean" else ""


class MSELoss(_Loss):
    """Mean squared error ``(ŷ − y)²``."""

    def forward(self, input, target):
        return F.mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    """Mean absolute error ``|ŷ − y|``."""

    def forward(self, input, target):
        return F.l1_loss(input, target, self.reduction)


class NLLLoss(_Loss):
    """Negative log-likelihood of log-probabilities and integer labels."""

    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean"):
        super().__init__(reduction)
        self._buffer("weight", weight)
        self.ignore_index = F._ignore_index(ignore_index, "NLLLoss", "2nd")  # now, not at call

    def forward(self, input, target):
        return F.nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy of logits against labels or class probabilities
    (``weight``, ``ignore_index`` and ``label_smoothing`` as ``F.cross_entropy``)."""

    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0):
        super().__init__(reduction)
        self._buffer("weight", weight)
        self.ignore_index = F._ignore_index(ignore_index, "CrossEntropyLoss", "2nd")
        self.label_smoothing = label_smoothing

    def forward(self, input, target):
        return F.cross_entropy(input, target, self.weight, self.ignore_index, self.reduction,
                               self.label_smoothing)


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities, PyTorch's: each log clamped at −100
    (``F.binary_cross_entropy``); ``weight`` broadcasts to the input's shape."""

    def __init__(self, weight=None, reduction: str = "mean"):
        super().__init__(reduction)
        self._buffer("weight", weight)

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, self.weight, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of logits (stable), with ``pos_weight`` per class (the last dim);
    ``weight`` and ``pos_weight`` broadcast to the input's shape without changing it."""

    def __init__(self, weight=None, reduction: str = "mean", pos_weight=None):
        super().__init__(reduction)
        self._buffer("weight", weight)
        self._buffer("pos_weight", pos_weight)

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, self.weight, self.reduction,
                                                  self.pos_weight)


class HuberLoss(_Loss):
    """``½d²`` for |d| < δ, else ``δ(|d| − ½δ)``."""

    legacy_keywords = False  # newer than size_average/reduce in PyTorch too

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction)
        self.delta = delta

    def forward(self, input, target):
        return F.huber_loss(input, target, self.reduction, self.delta)


class SmoothL1Loss(_Loss):
    """``½d²/β`` for |d| < β, else ``|d| − ½β``."""

    def __init__(self, reduction: str = "mean", beta: float = 1.0):
        super().__init__(reduction)
        self.beta = beta

    def forward(self, input, target):
        return F.smooth_l1_loss(input, target, self.reduction, self.beta)


class KLDivLoss(_Loss):
    """KL divergence of log-probabilities ``input`` from ``target`` (use
    ``reduction='batchmean'`` for the mathematical KL per sample)."""

    def __init__(self, reduction: str = "mean", log_target: bool = False):
        super().__init__(reduction, _REDUCTIONS + ("batchmean",))
        self.log_target = log_target

    def forward(self, input, target):
        return F.kl_div(input, target, self.reduction, self.log_target)


class CosineEmbeddingLoss(_Loss):
    """``1 − cos`` for pairs labelled 1, ``max(0, cos − margin)`` for pairs labelled −1."""

    def __init__(self, margin: float = 0.0, reduction: str = "mean"):
        super().__init__(reduction)
        self.margin = margin

    def forward(self, input1, input2, target):
        return F.cosine_embedding_loss(input1, input2, target, self.margin, self.reduction)


class PairwiseDistance(Module):
    """‖x1 − x2 + eps‖_p along the last dim, row by row (``F.pairwise_distance``)."""

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
        super().__init__()
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def forward(self, x1, x2):
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)


class CosineSimilarity(Module):
    """Cosine of the angle between ``x1`` and ``x2`` along ``dim``."""

    def __init__(self, dim: int = 1, eps: float = 1e-8):
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1, x2):
        return F.cosine_similarity(x1, x2, self.dim, self.eps)


class MarginRankingLoss(_Loss):
    """``max(0, −y·(x1 − x2) + margin)`` (``F.margin_ranking_loss``)."""

    def __init__(self, margin: float = 0.0, reduction: str = "mean"):
        super().__init__(reduction)
        self.margin = margin

    def forward(self, input1, input2, target):
        return F.margin_ranking_loss(input1, input2, target, self.margin, self.reduction)


class HingeEmbeddingLoss(_Loss):
    """x for y = 1, ``max(0, margin − x)`` for y = −1 (``F.hinge_embedding_loss``)."""

    def __init__(self, margin: float = 1.0, reduction: str = "mean"):
        super().__init__(reduction)
        self.margin = margin

    def forward(self, input, target):
        return F.hinge_embedding_loss(input, target, self.margin, self.reduction)


class SoftMarginLoss(_Loss):
    """``log(1 + e^(−y·x))`` (``F.soft_margin_loss``)."""

    def forward(self, input, target):
        return F.soft_margin_loss(input, target, self.reduction)


class MultiLabelSoftMarginLoss(_Loss):
    """One sigmoid cross-entropy per class, averaged over the classes
    (``F.multilabel_soft_margin_loss``); ``weight`` per class."""

    def __init__(self, weight=None, reduction: str = "mean"):
        super().__init__(reduction)
        self._buffer("weight", weight)

    def forward(self, input, target):
        return F.multilabel_soft_margin_loss(input, target, self.weight, self.reduction)


class MultiMarginLoss(_Loss):
    """The multi-class hinge (SVM) loss (``F.multi_margin_loss``): per sample
    ``(1/C)·Σ_{i≠y} w_y·max(0, margin − x_y + x_i)^p``, p = 1 or 2; ``weight`` per class."""

    def __init__(self, p: int = 1, margin: float = 1.0, weight=None, reduction: str = "mean"):
        super().__init__(reduction)
        if p not in (1, 2):
            raise ValueError(f"MultiMarginLoss: only p = 1 and p = 2 are supported, got {p!r}")
        self.p, self.margin = p, margin
        self._buffer("weight", weight)

    def forward(self, input, target):
        return F.multi_margin_loss(input, target, self.p, self.margin, self.weight,
                                   self.reduction)


class MultiLabelMarginLoss(_Loss):
    """Multi-label hinge loss (``F.multilabel_margin_loss``): target rows hold the sample's
    class indices, ended by the first −1."""

    def forward(self, input, target):
        return F.multilabel_margin_loss(input, target, self.reduction)


class TripletMarginLoss(_Loss):
    """``max(d(a, p) − d(a, n) + margin, 0)`` (``F.triplet_margin_loss``)."""

    def __init__(self, margin: float = 1.0, p: float = 2.0, eps: float = 1e-6,
                 swap: bool = False, reduction: str = "mean"):
        super().__init__(reduction)
        self.margin, self.p, self.eps, self.swap = margin, p, eps, swap

    def forward(self, anchor, positive, negative):
        return F.triplet_margin_loss(anchor, positive, negative, self.margin, self.p, self.eps,
                                     self.swap, self.reduction)


class TripletMarginWithDistanceLoss(_Loss):
    """``max(d(a, p) − d(a, n) + margin, 0)`` with any distance function
    (``F.triplet_margin_with_distance_loss``)."""

    legacy_keywords = False  # newer than size_average/reduce in PyTorch too

    def __init__(self, *, distance_function=None, margin: float = 1.0, swap: bool = False,
                 reduction: str = "mean"):
        super().__init__(reduction)
        if not margin > 0:
            raise ValueError(f"TripletMarginWithDistanceLoss: margin must be greater than 0, "
                             f"got {margin}")
        self.distance_function, self.margin, self.swap = distance_function, margin, swap

    def forward(self, anchor, positive, negative):
        return F.triplet_margin_with_distance_loss(
            anchor, positive, negative, distance_function=self.distance_function,
            margin=self.margin, swap=self.swap, reduction=self.reduction)


class GaussianNLLLoss(_Loss):
    """Negative log-likelihood of targets under N(input, var) (``F.gaussian_nll_loss``)."""

    legacy_keywords = False  # newer than size_average/reduce in PyTorch too

    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean"):
        super().__init__(reduction)
        self.full, self.eps = full, eps

    def forward(self, input, target, var):
        return F.gaussian_nll_loss(input, target, var, self.full, self.eps, self.reduction)


class PoissonNLLLoss(_Loss):
    """Poisson negative log-likelihood (``F.poisson_nll_loss``)."""

    def __init__(self, log_input: bool = True, full: bool = False, eps: float = 1e-8,
                 reduction: str = "mean"):
        super().__init__(reduction)
        self.log_input, self.full, self.eps = log_input, full, eps

    def forward(self, log_input, target):
        return F.poisson_nll_loss(log_input, target, self.log_input, self.full, self.eps,
                                  self.reduction)
