"""Losses with Keras' names, defaults and reductions.

Functions return one loss per sample; Loss objects reduce a batch to a scalar
(mean over the batch, Keras' "sum_over_batch_size"). In training, a loss becomes a
compiled kernel that gives the value and the gradient in one pass. Cross-entropy
after a softmax (or sigmoid) output layer is computed from the logits, which is
what TF-Keras does too: exact, and stable where probabilities round to 0 or 1.
"""
import numpy as np

from cydl import _config, ops
from cydl._checks import number
from cydl._registry import lookup, snake_case
from cydl.autodiff import Tensor, value_of


def _f64(x):
    """x in float64; a taped Tensor (or a Variable) stays on the tape, so that the
    loss differentiates in a custom training loop."""
    if type(x) is Tensor or getattr(x, "_is_variable", False) or \
            getattr(x, "_is_symbolic", False):
        return ops.cast(x, np.float64)
    return np.asarray(x, np.float64)


def _prep(y_true, y_pred):
    y_pred = _f64(y_pred)
    y_true = _f64(y_true)
    if y_pred.ndim == 0:
        y_pred = ops.reshape(y_pred, (1,))
    if y_true.shape != y_pred.shape and y_true.size == y_pred.size:
        y_true = ops.reshape(y_true, y_pred.shape)
    return y_true, y_pred


def mean_squared_error(y_true, y_pred):
    """mean((y_pred - y_true)^2, axis=-1), one value per sample."""
    y_true, y_pred = _prep(y_true, y_pred)
    return ops.mean(ops.square(ops.subtract(y_pred, y_true)), axis=-1)


def mean_absolute_error(y_true, y_pred):
    """mean(|y_pred - y_true|, axis=-1)."""
    y_true, y_pred = _prep(y_true, y_pred)
    return ops.mean(ops.absolute(ops.subtract(y_pred, y_true)), axis=-1)


def huber(y_true, y_pred, delta=1.0):
    """Quadratic for |error| <= delta, linear beyond; mean over the last axis."""
    y_true, y_pred = _prep(y_true, y_pred)
    e = ops.absolute(ops.subtract(y_pred, y_true))
    quadratic = ops.multiply(ops.multiply(0.5, e), e)
    linear = ops.subtract(ops.multiply(delta, e), 0.5 * delta * delta)
    return ops.mean(ops.where(value_of(e) <= delta, quadratic, linear), axis=-1)


def _log_softmax(z):
    # the shift only keeps exp finite: the result (and its gradient) do not depend on it
    m = np.max(value_of(z), axis=-1, keepdims=True)
    shifted = ops.subtract(z, m)
    return ops.subtract(shifted, ops.log(ops.sum(ops.exp(shifted), axis=-1, keepdims=True)))


def _smooth(y_true, label_smoothing, n, owner):
    """Keras' label smoothing: y (1 - ls) + ls / n, n the number of classes (2 for
    binary targets: ls / 2 is Keras' 0.5 * ls exactly). Targets are constants in
    training, but stay on a tape if they are one."""
    ls = number(label_smoothing, "label_smoothing", low=0.0, high=1.0, owner=owner)
    if not ls:
        return y_true
    return ops.add(ops.multiply(y_true, 1.0 - ls), ls / n)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0):
    """-sum(y_true * log(p)); probabilities are normalized and clipped to
    [1e-7, 1 - 1e-7] as in Keras.

    Args:
        from_logits: whether y_pred are logits (no softmax applied).
        label_smoothing: in [0, 1]: the targets become
            y_true * (1 - label_smoothing) + label_smoothing / num_classes.
    """
    y_true, y_pred = _prep(y_true, y_pred)
    y_true = _smooth(y_true, label_smoothing, y_pred.shape[-1], "categorical_crossentropy")
    if from_logits:
        return ops.negative(ops.sum(ops.multiply(y_true, _log_softmax(y_pred)), axis=-1))
    p = ops.divide(y_pred, ops.sum(y_pred, axis=-1, keepdims=True))
    eps = _config.epsilon()
    log_p = ops.log(ops.clip(p, eps, 1 - eps))
    return ops.negative(ops.sum(ops.multiply(y_true, log_p), axis=-1))


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, *, label_smoothing=0.0):
    """categorical_crossentropy with integer class labels.

    `label_smoothing` is not in Keras 3 here (its sparse loss has none); cydl smooths
    the one-hot labels as categorical_crossentropy does, which is what
    torch.nn.CrossEntropyLoss(label_smoothing=...) computes.
    """
    y_pred = _f64(y_pred)
    labels = np.asarray(value_of(y_true)).reshape(-1).astype(np.int64)
    onehot = np.eye(y_pred.shape[-1])[labels].reshape(y_pred.shape)
    return categorical_crossentropy(onehot, y_pred, from_logits, label_smoothing)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0):
    """Binary cross-entropy, averaged over the last axis.

    Args:
        from_logits: whether y_pred are logits (no sigmoid applied).
        label_smoothing: in [0, 1]: the targets become
            y_true * (1 - label_smoothing) + 0.5 * label_smoothing.
    """
    y_true, y_pred = _prep(y_true, y_pred)
    y_true = _smooth(y_true, label_smoothing, 2, "binary_crossentropy")
    if from_logits:
        z = y_pred
        soft = ops.log1p(ops.exp(ops.negative(ops.absolute(z))))
        per = ops.add(ops.subtract(ops.maximum(z, 0), ops.multiply(z, y_true)), soft)
    else:
        eps = _config.epsilon()
        p = ops.clip(y_pred, eps, 1 - eps)
        per = ops.negative(ops.add(ops.multiply(y_true, ops.log(p)),
                                   ops.multiply(ops.subtract(1, y_true),
                                                ops.log(ops.subtract(1, p)))))
    return ops.mean(per, axis=-1)


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
        """The reduced loss: a float, or a Tensor under a GradientTape when y_pred is
        one (a custom training loop differentiates it)."""
        per = self.call(y_true, y_pred)
        taped = type(per) is Tensor
        per = ops.cast(per, np.float64) if taped else np.asarray(per, np.float64)
        if sample_weight is not None:
            per = ops.multiply(per, np.asarray(sample_weight, np.float64).reshape(per.shape))
        if self.reduction == "none":
            return per
        total = ops.sum(per)
        if self.reduction != "sum":
            total = ops.divide(total, max(per.size, 1))
        return total if taped else float(total)

    def kernel_spec(self, final_activation):
        """(kernel kind, consumes logits of the last layer, parameter) or None; a
        cross-entropy adds a 4th entry, its label smoothing."""
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
        self.label_smoothing = number(label_smoothing, "label_smoothing", low=0.0,
                                      high=1.0, owner=type(self).__name__)
        ignore = kwargs.pop("ignore_class", None)
        kwargs.pop("axis", None)
        if ignore is not None or kwargs:
            raise TypeError(f"Unsupported arguments for {type(self).__name__}: "
                            f"{dict(kwargs, ignore_class=ignore)}")
        self.from_logits = bool(from_logits)

    def kernel_spec(self, final_activation):
        # the kernel smooths the targets itself, on the logits path as on probabilities
        ls = self.label_smoothing
        if self.from_logits:
            return self._logits_kind, False, 0.0, ls
        if final_activation == self._final:
            return self._logits_kind, True, 0.0, ls
        return self._prob_kind, False, 0.0, ls

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing}


class SparseCategoricalCrossentropy(_CrossEntropy):
    """Cross-entropy with integer labels 0..C-1.

    Args:
        from_logits: whether y_pred are logits (no softmax applied).
        label_smoothing: a cydl extension (Keras 3's sparse loss has none): in
            [0, 1], the one-hot labels are smoothed as CategoricalCrossentropy's
            targets are (torch.nn.CrossEntropyLoss's label_smoothing).

    Example:
    >>> model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    """
    _logits_kind, _prob_kind, _final = "sparse_softmax_ce", "sparse_ce_prob", "softmax"

    def __init__(self, from_logits=False, ignore_class=None,
                 reduction="sum_over_batch_size", axis=-1,
                 name="sparse_categorical_crossentropy", label_smoothing=0.0, **kwargs):
        super().__init__(from_logits, label_smoothing, name, reduction,
                         ignore_class=ignore_class, axis=axis, **kwargs)

    def call(self, y_true, y_pred):
        return sparse_categorical_crossentropy(y_true, y_pred, self.from_logits,
                                               label_smoothing=self.label_smoothing)

    def get_config(self):
        config = super().get_config()
        if not self.label_smoothing:    # Keras' sparse loss has no such argument
            del config["label_smoothing"]
        return config


class CategoricalCrossentropy(_CrossEntropy):
    """Cross-entropy with one-hot (or soft) targets.

    Args:
        from_logits: whether y_pred are logits.
        label_smoothing: in [0, 1]; the loss sees the targets
            y_true * (1 - label_smoothing) + label_smoothing / num_classes.
            Training stays one compiled step: the loss kernel smooths them.

    Example:
    >>> model.compile(loss=cydl.losses.CategoricalCrossentropy(label_smoothing=0.1),
    ...               optimizer="sgd", metrics=["accuracy"])
    """
    _logits_kind, _prob_kind, _final = "softmax_ce", "ce_prob", "softmax"

    def call(self, y_true, y_pred):
        return categorical_crossentropy(y_true, y_pred, self.from_logits,
                                        self.label_smoothing)


class BinaryCrossentropy(_CrossEntropy):
    """Binary cross-entropy for 0/1 targets, averaged over the last axis.

    Args:
        from_logits: whether y_pred are logits.
        label_smoothing: in [0, 1]; the loss sees the targets
            y_true * (1 - label_smoothing) + 0.5 * label_smoothing.
    """
    _logits_kind, _prob_kind, _final = "sigmoid_bce", "bce_prob", "sigmoid"

    def call(self, y_true, y_pred):
        return binary_crossentropy(y_true, y_pred, self.from_logits, self.label_smoothing)


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
