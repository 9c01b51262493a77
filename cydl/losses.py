"""Losses with Keras' names, defaults and reductions.

Functions return one loss per sample; Loss objects reduce a batch to a scalar
(mean over the batch, Keras' "sum_over_batch_size"). In training, a loss becomes a
compiled kernel that gives the value and the gradient in one pass. Cross-entropy
after a softmax (or sigmoid) output layer is computed from the logits, which is
what TF-Keras does too: exact, and stable where probabilities round to 0 or 1.
"""
import numpy as np

from cydl import _config
from cydl._checks import number
from cydl._registry import lookup, snake_case


def _prep(y_true, y_pred):
    y_pred = np.asarray(y_pred, np.float64)
    y_true = np.asarray(y_true, np.float64)
    if y_pred.ndim == 0:
        y_pred = y_pred.reshape(1)
    if y_true.shape != y_pred.shape and y_true.size == y_pred.size:
        y_true = y_true.reshape(y_pred.shape)
    return y_true, y_pred


def mean_squared_error(y_true, y_pred):
    """mean((y_pred - y_true)^2, axis=-1), one value per sample."""
    y_true, y_pred = _prep(y_true, y_pred)
    return np.mean(np.square(y_pred - y_true), axis=-1)


def mean_absolute_error(y_true, y_pred):
    """mean(|y_pred - y_true|, axis=-1)."""
    y_true, y_pred = _prep(y_true, y_pred)
    return np.mean(np.abs(y_pred - y_true), axis=-1)


def huber(y_true, y_pred, delta=1.0):
    """Quadratic for |error| <= delta, linear beyond; mean over the last axis."""
    y_true, y_pred = _prep(y_true, y_pred)
    e = np.abs(y_pred - y_true)
    return np.mean(np.where(e <= delta, 0.5 * e * e, delta * e - 0.5 * delta * delta), axis=-1)


def _log_softmax(z):
    m = z.max(axis=-1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=-1, keepdims=True))


def categorical_crossentropy(y_true, y_pred, from_logits=False):
    """-sum(y_true * log(p)); probabilities are normalized and clipped to
    [1e-7, 1 - 1e-7] as in Keras."""
    y_true, y_pred = _prep(y_true, y_pred)
    if from_logits:
        return -(y_true * _log_softmax(y_pred)).sum(axis=-1)
    p = y_pred / y_pred.sum(axis=-1, keepdims=True)
    eps = _config.epsilon()
    return -(y_true * np.log(np.clip(p, eps, 1 - eps))).sum(axis=-1)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False):
    """categorical_crossentropy with integer class labels."""
    y_pred = np.asarray(y_pred, np.float64)
    labels = np.asarray(y_true).reshape(-1).astype(np.int64)
    onehot = np.eye(y_pred.shape[-1])[labels].reshape(y_pred.shape)
    return categorical_crossentropy(onehot, y_pred, from_logits)


def binary_crossentropy(y_true, y_pred, from_logits=False):
    """Binary cross-entropy, averaged over the last axis."""
    y_true, y_pred = _prep(y_true, y_pred)
    if from_logits:
        z = y_pred
        per = np.maximum(z, 0) - z * y_true + np.log1p(np.exp(-np.abs(z)))
    else:
        eps = _config.epsilon()
        p = np.clip(y_pred, eps, 1 - eps)
        per = -(y_true * np.log(p) + (1 - y_true) * np.log(1 - p))
    return per.mean(axis=-1)


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error


class Loss:
    """Base class. Subclasses define `call(y_true, y_pred)` (per-sample losses),
    written with cydl.ops so that training can differentiate it; or, optionally,
    `gradient(y_true, y_pred)`: d(mean loss)/d y_pred.

    Args:
        name: the loss's name.
        reduction: "sum_over_batch_size" (default, the batch mean), "sum" or "none".
    """

    kernel = None        # the compiled kernel kind, when there is one

    def __init__(self, name=None, reduction="sum_over_batch_size"):
        if reduction not in ("sum_over_batch_size", "sum", "none", "mean"):
            raise ValueError(f"Invalid reduction: {reduction!r}")
        self.name = name or snake_case(type(self).__name__)
        self.reduction = reduction

    def call(self, y_true, y_pred):
        raise NotImplementedError

    gradient = None     # optional: d(mean loss)/d(y_pred); else call() is differentiated

    def __call__(self, y_true, y_pred, sample_weight=None):
        per = np.asarray(self.call(y_true, y_pred), np.float64)
        if sample_weight is not None:
            per = per * np.asarray(sample_weight, np.float64).reshape(per.shape)
        if self.reduction == "none":
            return per
        if self.reduction == "sum":
            return float(per.sum())
        return float(per.sum() / max(per.size, 1))

    def kernel_spec(self, final_activation):
        """(kernel kind, consumes logits of the last layer, parameter) or None."""
        return None

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class MeanSquaredError(Loss):
    """Mean of squared errors: the default regression loss.

    Example:
    >>> model.compile(loss=cydl.losses.MeanSquaredError(), optimizer="sgd")
    """

    def call(self, y_true, y_pred):
        return mean_squared_error(y_true, y_pred)

    def kernel_spec(self, final_activation):
        return "mse", False, 0.0


class MeanAbsoluteError(Loss):
    """Mean of absolute errors."""

    def call(self, y_true, y_pred):
        return mean_absolute_error(y_true, y_pred)

    def kernel_spec(self, final_activation):
        return "mae", False, 0.0


class Huber(Loss):
    """Huber loss: squared error below `delta`, absolute error above.

    Args:
        delta: positive threshold (default 1.0).
    """

    def __init__(self, delta=1.0, name="huber_loss", reduction="sum_over_batch_size"):
        super().__init__(name, reduction)
        self.delta = number(delta, "delta", low=0.0, low_open=True, owner="Huber")

    def call(self, y_true, y_pred):
        return huber(y_true, y_pred, self.delta)

    def kernel_spec(self, final_activation):
        return "huber", False, self.delta

    def get_config(self):
        return {**super().get_config(), "delta": self.delta}


class _CrossEntropy(Loss):
    _logits_kind = _prob_kind = _final = None

    def __init__(self, from_logits=False, label_smoothing=0.0, name=None,
                 reduction="sum_over_batch_size", **kwargs):
        super().__init__(name, reduction)
        if label_smoothing:
            raise NotImplementedError("label_smoothing is not supported yet")
        ignore = kwargs.pop("ignore_class", None)
        kwargs.pop("axis", None)
        if ignore is not None or kwargs:
            raise TypeError(f"Unsupported arguments for {type(self).__name__}: "
                            f"{dict(kwargs, ignore_class=ignore)}")
        self.from_logits = bool(from_logits)

    def kernel_spec(self, final_activation):
        if self.from_logits:
            return self._logits_kind, False, 0.0
        if final_activation == self._final:
            return self._logits_kind, True, 0.0
        return self._prob_kind, False, 0.0

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits}


class SparseCategoricalCrossentropy(_CrossEntropy):
    """Cross-entropy with integer labels 0..C-1.

    Args:
        from_logits: whether y_pred are logits (no softmax applied).

    Example:
    >>> model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    """
    _logits_kind, _prob_kind, _final = "sparse_softmax_ce", "sparse_ce_prob", "softmax"

    def call(self, y_true, y_pred):
        return sparse_categorical_crossentropy(y_true, y_pred, self.from_logits)


class CategoricalCrossentropy(_CrossEntropy):
    """Cross-entropy with one-hot (or soft) targets.

    Args:
        from_logits: whether y_pred are logits.
    """
    _logits_kind, _prob_kind, _final = "softmax_ce", "ce_prob", "softmax"

    def call(self, y_true, y_pred):
        return categorical_crossentropy(y_true, y_pred, self.from_logits)


class BinaryCrossentropy(_CrossEntropy):
    """Binary cross-entropy for 0/1 targets, averaged over the last axis.

    Args:
        from_logits: whether y_pred are logits.
    """
    _logits_kind, _prob_kind, _final = "sigmoid_bce", "bce_prob", "sigmoid"

    def call(self, y_true, y_pred):
        return binary_crossentropy(y_true, y_pred, self.from_logits)


_ALIASES = {
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError, "MSE": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "MAE": MeanAbsoluteError, "huber": Huber, "huber_loss": Huber,
    "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
}
for _cls in (MeanSquaredError, MeanAbsoluteError, Huber, BinaryCrossentropy,
             CategoricalCrossentropy, SparseCategoricalCrossentropy):
    _ALIASES[_cls.__name__] = _cls
_FUNCTIONS = {
    mean_squared_error: MeanSquaredError, mean_absolute_error: MeanAbsoluteError,
    huber: Huber, binary_crossentropy: BinaryCrossentropy,
    categorical_crossentropy: CategoricalCrossentropy,
    sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
}


class LossFunctionWrapper(Loss):
    """A loss from a function loss_fn(y_true, y_pred) -> per-sample losses.

    Write it with cydl.ops and training differentiates it; no gradient needed.

    Example:
    >>> def my_huber(y_true, y_pred):
    ...     err = cydl.ops.subtract(y_true, y_pred)
    ...     return cydl.ops.mean(cydl.ops.square(err), axis=-1)
    >>> model.compile(loss=my_huber, optimizer="sgd")
    """

    def __init__(self, fn, name=None, reduction="sum_over_batch_size", **kwargs):
        super().__init__(name or getattr(fn, "__name__", "loss"), reduction)
        self.fn = fn
        self.kwargs = kwargs

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self.kwargs)


def get(identifier):
    """A Loss from a name ("mse"), a loss function of this module, a config dict or
    a Loss instance."""
    if identifier is None or isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier) and not isinstance(identifier, str):
        if identifier in _FUNCTIONS:
            return _FUNCTIONS[identifier]()
        return LossFunctionWrapper(identifier)
    return lookup(identifier, _ALIASES, "loss", instantiate=True)
