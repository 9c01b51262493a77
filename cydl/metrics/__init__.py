"""Metrics with Keras' names: stateful Metric classes and per-sample functions.

In `fit` and `evaluate`, accuracy, MAE, MSE and RMSE come out of the loss kernel's
own pass over the batch (its `stats`), so they cost nothing extra; any other metric
is updated from the batch's predictions through `update_state`. The functions
(`sparse_categorical_accuracy(y_true, y_pred)`, ...) return one value per sample, as
`keras.metrics` does; passed to `compile(metrics=[...])` they log under their own
name, and those that match a kernel statistic are counted there too.
"""
import numpy as np

from cydl import losses
from cydl._checks import integer, number
from cydl._registry import lookup, snake_case
from cydl.metrics.functions import (  # noqa: F401  (public here, as in keras.metrics)
    binary_accuracy, categorical_accuracy, mean_absolute_error,
    mean_absolute_percentage_error, mean_squared_error, mean_squared_logarithmic_error,
    sparse_categorical_accuracy, sparse_top_k_categorical_accuracy,
    top_k_categorical_accuracy)


class Metric:
    """Base class: `update_state`, `result`, `reset_state`.

    Args:
        name: the name used in logs and History (e.g. "accuracy").
    """

    stat = None      # the loss-kernel statistic that can feed this metric, if any
    acc_mode = None  # for stat == "hits": which accuracy the kernel must count

    def __init__(self, name=None, dtype=None):
        self.name = name or snake_case(type(self).__name__)
        self.dtype = dtype
        self.reset_state()

    def reset_state(self):
        self.total = 0.0
        self.count = 0.0

    def update_state(self, y_true, y_pred, sample_weight=None):
        values = np.asarray(self.values(y_true, y_pred), np.float64).reshape(-1)
        if sample_weight is not None:
            w = np.asarray(sample_weight, np.float64).reshape(-1)
            self.total += float((values * w).sum())
            self.count += float(w.sum())
        else:
            self.total += float(values.sum())
            self.count += values.size

    def values(self, y_true, y_pred):
        raise NotImplementedError

    def add_stat(self, value_sum, count):
        """Accumulate a statistic the loss kernel already summed over a batch."""
        self.total += value_sum
        self.count += count

    def result(self):
        return self.total / self.count if self.count else 0.0

    def get_config(self):
        return {"name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


class Mean(Metric):
    """The running (weighted) mean of the values passed to update_state(values)."""

    def update_state(self, values, sample_weight=None):
        super().update_state(None, values, sample_weight)

    def values(self, y_true, y_pred):
        return y_pred


class MeanMetricWrapper(Metric):
    """The running mean of a per-sample function fn(y_true, y_pred).

    Example:
    >>> m = cydl.metrics.MeanMetricWrapper(cydl.losses.mae, name="mae")
    """

    def __init__(self, fn, name=None, dtype=None):
        self.fn = fn
        super().__init__(name or getattr(fn, "__name__", "metric"), dtype)

    def values(self, y_true, y_pred):
        return self.fn(y_true, y_pred)


def _labels(y_true):
    return np.asarray(y_true).reshape(-1).astype(np.int64)


class SparseCategoricalAccuracy(Metric):
    """How often argmax(y_pred) equals the integer label."""
    stat, acc_mode = "hits", "sparse"

    def values(self, y_true, y_pred):
        y_pred = np.asarray(y_pred)
        return y_pred.reshape(-1, y_pred.shape[-1]).argmax(axis=-1) == _labels(y_true)


class CategoricalAccuracy(Metric):
    """How often argmax(y_pred) equals argmax(y_true)."""
    stat, acc_mode = "hits", "categorical"

    def values(self, y_true, y_pred):
        return np.asarray(y_pred).argmax(axis=-1) == np.asarray(y_true).argmax(axis=-1)


class BinaryAccuracy(Metric):
    """How often (y_pred > threshold) equals y_true, averaged over the last axis.

    Args:
        threshold: decision threshold on probabilities (default 0.5).
    """
    stat, acc_mode = "hits", "binary"

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        # NaN would count every prediction as negative without any error
        self.threshold = number(threshold, "threshold", owner="BinaryAccuracy")
        super().__init__(name, dtype)

    def values(self, y_true, y_pred):
        y_pred = np.asarray(y_pred)
        y_true = np.asarray(y_true).reshape(y_pred.shape)
        return ((y_pred > self.threshold) == y_true).mean(axis=-1)


class Accuracy(Metric):
    """How often y_pred equals y_true exactly."""

    def values(self, y_true, y_pred):
        y_pred = np.asarray(y_pred)
        return np.asarray(y_true).reshape(y_pred.shape) == y_pred


class MeanAbsoluteError(Metric):
    """Mean of |y_pred - y_true|."""
    stat = "abs"

    def values(self, y_true, y_pred):
        return losses.mean_absolute_error(y_true, y_pred)


class MeanSquaredError(Metric):
    """Mean of (y_pred - y_true)^2."""
    stat = "sq"

    def values(self, y_true, y_pred):
        return losses.mean_squared_error(y_true, y_pred)


class RootMeanSquaredError(MeanSquaredError):
    """sqrt of the mean squared error over everything seen so far."""

    def result(self):
        return float(np.sqrt(super().result()))


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the target class (one-hot y_true) is among the k highest scores.

    Args:
        k: how many of the top scores count (default 5).
        name: the log name.

    Example:

    >>> model.compile(loss="categorical_crossentropy", optimizer="sgd",
    ...               metrics=[cydl.metrics.TopKCategoricalAccuracy(k=3)])
    """

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        self.k = integer(k, "k", low=1, owner=type(self).__name__)
        super().__init__(top_k_categorical_accuracy, name, dtype)

    def values(self, y_true, y_pred):
        return top_k_categorical_accuracy(y_true, y_pred, self.k)

    def get_config(self):
        return {"name": self.name, "k": self.k}


class SparseTopKCategoricalAccuracy(TopKCategoricalAccuracy):
    """How often the integer label is among the k highest scores.

    Args:
        k: how many of the top scores count (default 5).
        name: the log name.

    Example:

    >>> m = cydl.metrics.SparseTopKCategoricalAccuracy(k=2)
    >>> m.update_state([2, 0], [[0.1, 0.6, 0.3], [0.1, 0.6, 0.3]])
    >>> m.result()
    0.5
    """

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None):
        super().__init__(k, name, dtype)
        self.fn = sparse_top_k_categorical_accuracy     # what MeanMetricWrapper reports

    def values(self, y_true, y_pred):
        return sparse_top_k_categorical_accuracy(y_true, y_pred, self.k)


class MeanAbsolutePercentageError(MeanMetricWrapper):
    """The mean of mean_absolute_percentage_error over the samples seen.

    Args:
        name: the log name.

    Example:

    >>> model.compile(loss="mse", optimizer="adam", metrics=["mape"])
    """

    def __init__(self, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(mean_absolute_percentage_error, name, dtype)

    def get_config(self):
        return {"name": self.name}


class MeanSquaredLogarithmicError(MeanMetricWrapper):
    """The mean of mean_squared_logarithmic_error over the samples seen.

    Args:
        name: the log name.

    Example:

    >>> model.compile(loss="mse", optimizer="adam", metrics=["msle"])
    """

    def __init__(self, name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(mean_squared_logarithmic_error, name, dtype)

    def get_config(self):
        return {"name": self.name}


_ALIASES = {
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "categorical_accuracy": CategoricalAccuracy, "binary_accuracy": BinaryAccuracy,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "rmse": RootMeanSquaredError, "root_mean_squared_error": RootMeanSquaredError,
    "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
    "mape": MeanAbsolutePercentageError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "msle": MeanSquaredLogarithmicError,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError,
}
_CLASSES = (SparseCategoricalAccuracy, CategoricalAccuracy, BinaryAccuracy, Accuracy,
            MeanAbsoluteError, MeanSquaredError, RootMeanSquaredError, Mean,
            TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy,
            MeanAbsolutePercentageError, MeanSquaredLogarithmicError)
# metric functions whose values a kernel statistic already sums: compiled as the
# matching class (same values, no extra pass), logged under the function's name
_FUNCTION_CLASSES = (
    (sparse_categorical_accuracy, SparseCategoricalAccuracy),
    (categorical_accuracy, CategoricalAccuracy), (binary_accuracy, BinaryAccuracy),
    (mean_squared_error, MeanSquaredError), (losses.mean_squared_error, MeanSquaredError),
    (mean_absolute_error, MeanAbsoluteError), (losses.mean_absolute_error, MeanAbsoluteError),
)


def get(identifier, y_true_shape=None, y_pred_shape=None):
    """A Metric from a name, class, function or instance. "accuracy"/"acc" pick
    binary, sparse categorical or categorical accuracy from the shapes, as Keras
    does, and keep the name the user wrote (so History has "accuracy")."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, str):
        if identifier in ("accuracy", "acc"):
            return _accuracy(identifier, y_true_shape, y_pred_shape)
        for cls in _CLASSES:
            if identifier == cls.__name__:
                return cls()
        cls = lookup(identifier, _ALIASES, "metric", instantiate=False)
        return cls(name=identifier)
    if callable(identifier):
        cls = next((c for fn, c in _FUNCTION_CLASSES if fn is identifier), None)
        if cls is not None:
            return cls(name=identifier.__name__)
        return MeanMetricWrapper(identifier)
    raise TypeError(f"Could not interpret metric identifier: {identifier!r}")


def _accuracy(name, y_true_shape, y_pred_shape):
    if y_pred_shape is None:
        raise ValueError("accuracy needs the shapes of y_true and y_pred")
    if y_pred_shape[-1] == 1:
        return BinaryAccuracy(name=name)
    sparse = len(y_true_shape) == len(y_pred_shape) - 1 or (
        len(y_true_shape) == len(y_pred_shape) and y_true_shape[-1] == 1)
    return (SparseCategoricalAccuracy if sparse else CategoricalAccuracy)(name=name)
