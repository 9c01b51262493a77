"""The metric functions with Keras' names: one value per sample, as `keras.metrics`'
functions return (`sparse_categorical_accuracy(y_true, y_pred)`, ...)."""
import numpy as np

from cydl import _config, losses, ops
from cydl._checks import integer, number
from cydl.autodiff import Tensor


def _array(x, name, dtype=None):
    try:
        return np.asarray(x, dtype)
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must be an array of numbers. Received: {name}={x!r} of "
                        f"type {type(x).__name__}") from None


def _same_rank(y_true, y_pred):
    """Keras' squeeze_or_expand_to_same_rank: ranks that differ by a trailing axis of
    size 1 are made equal ((n,) against (n, 1) becomes (n, 1) against (n, 1))."""
    if y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
        y_true = y_true[..., 0] if y_pred.ndim != 1 else y_true
        y_pred = y_pred[..., None] if y_pred.ndim == 1 else y_pred
    elif y_pred.ndim == y_true.ndim + 1 and y_pred.shape[-1] == 1:
        y_pred = y_pred[..., 0] if y_true.ndim != 1 else y_pred
        y_true = y_true[..., None] if y_true.ndim == 1 else y_true
    return y_true, y_pred


def _scores(y_pred):
    y_pred = _array(y_pred, "y_pred")
    if y_pred.ndim == 0:
        raise ValueError(f"`y_pred` must have a class axis; received a scalar {y_pred!r}")
    return y_pred


def _matching(true_classes, predicted, pred_shape):
    if true_classes.shape != predicted.shape:
        raise ValueError(f"`y_true` gives classes of shape {true_classes.shape} for "
                         f"`y_pred` of shape {pred_shape}")
    return true_classes == predicted


def _floatx(matches):
    return np.asarray(matches, _config.floatx())


def _in_top_k(labels, scores, k):
    """Whether each label's score is among the k largest; a tie with the k-th score
    counts as in, and a NaN score as out (Keras' in_top_k)."""
    n_classes = scores.shape[-1]
    bad = (labels < 0) | (labels >= n_classes)
    if bad.any():
        raise ValueError(f"`y_true` has labels outside [0, {n_classes}): "
                         f"{np.unique(labels[bad]).tolist()}")
    at_label = np.take_along_axis(scores, labels[:, None], axis=-1)
    at_label = np.where(np.isnan(at_label), -np.inf, at_label)
    return 1 + (scores > at_label).sum(axis=-1) <= k


def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where argmax(y_pred) equals the integer label, else 0.0: one value per
    sample.

    Args:
        y_true: integer labels, shape (n,) or (n, 1).
        y_pred: class scores, shape (n, classes).

    Returns:
        An array of shape (n,) in floatx.

    Example:

    >>> cydl.metrics.sparse_categorical_accuracy([2, 1], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]])
    array([0., 1.], dtype=float32)
    """
    y_pred = _scores(y_pred)
    y_true = _array(y_true, "y_true", y_pred.dtype)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    return _floatx(_matching(y_true, y_pred.argmax(axis=-1), y_pred.shape))


def categorical_accuracy(y_true, y_pred):
    """1.0 where argmax(y_pred) equals argmax(y_true) (one-hot targets), else 0.0.

    Args:
        y_true: one-hot (or probability) targets, shape (n, classes).
        y_pred: class scores, shape (n, classes).

    Returns:
        An array of shape (n,) in floatx.

    Example:

    >>> cydl.metrics.categorical_accuracy([[0, 0, 1], [0, 1, 0]], [[0.1, 0.6, 0.3], [0, 1, 0]])
    array([0., 1.], dtype=float32)
    """
    y_pred = _scores(y_pred)
    y_true = _array(y_true, "y_true", y_pred.dtype)
    return _floatx(_matching(y_true.argmax(axis=-1), y_pred.argmax(axis=-1), y_pred.shape))


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """1.0 where (y_pred > threshold) equals the 0/1 target, element by element (as
    in Keras 3: the mean over the last axis is left to the caller, e.g. a metric).

    Args:
        y_true: 0/1 targets.
        y_pred: probabilities, the shape of y_true (a trailing axis of 1 may differ).
        threshold: the decision threshold (default 0.5).

    Returns:
        An array of y_pred's shape in floatx.

    Example:

    >>> cydl.metrics.binary_accuracy([[1], [0]], [[0.7], [0.6]])
    array([[1.], [0.]], dtype=float32)
    """
    threshold = number(threshold, "threshold", owner="binary_accuracy")
    y_pred = _array(y_pred, "y_pred")
    y_true = _array(y_true, "y_true")
    y_true, y_pred = _same_rank(y_true, y_pred)
    return _floatx((y_pred > threshold).astype(y_true.dtype) == y_true)


def _top_k(labels, y_pred, k, owner):
    k = integer(k, "k", low=1, owner=owner)
    shape = labels.shape
    scores = y_pred.reshape(-1, y_pred.shape[-1]) if y_pred.ndim > 2 else y_pred
    return _floatx(_in_top_k(labels.reshape(-1), scores, k).reshape(shape))


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1.0 where the target class (argmax of the one-hot y_true) is among the k
    highest scores of y_pred, else 0.0.

    Args:
        y_true: one-hot targets, shape (n, classes).
        y_pred: class scores, shape (n, classes).
        k: how many of the top scores count (default 5).

    Returns:
        An array of shape (n,) in floatx.

    Example:

    >>> cydl.metrics.top_k_categorical_accuracy([[0, 0, 1], [0, 1, 0]],
    ...                                         [[0.1, 0.6, 0.3], [0.6, 0.1, 0.3]], k=2)
    array([1., 0.], dtype=float32)
    """
    y_pred = _scores(y_pred)
    labels = _array(y_true, "y_true", y_pred.dtype).argmax(axis=-1)
    return _top_k(labels, y_pred, k, "top_k_categorical_accuracy")


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5, from_sorted_ids=False):
    """1.0 where the integer label is among the k highest scores of y_pred, else 0.0.

    Args:
        y_true: integer labels, shape (n,) (or (n, 1): the result then has that shape).
        y_pred: class scores, shape (n, classes); with `from_sorted_ids=True`, the
            class ids of each sample's top scores, best first.
        k: how many of the top scores count (default 5).
        from_sorted_ids: whether y_pred holds sorted class ids instead of scores.

    Returns:
        An array of y_true's shape in floatx.

    Example:

    >>> cydl.metrics.sparse_top_k_categorical_accuracy([2, 0], [[0.1, 0.6, 0.3],
    ...                                                [0.1, 0.6, 0.3]], k=2)
    array([1., 0.], dtype=float32)
    """
    y_pred = _scores(y_pred)
    if from_sorted_ids:
        k = integer(k, "k", low=1, owner="sparse_top_k_categorical_accuracy")
        labels = _array(y_true, "y_true", y_pred.dtype)
        ids = y_pred.reshape(-1, y_pred.shape[-1])[:, :k]
        return _floatx((labels.reshape(-1, 1) == ids).any(axis=1).reshape(labels.shape))
    labels = _array(y_true, "y_true")
    if labels.dtype.kind == "f":
        if not np.all(labels == np.floor(labels)):
            raise ValueError("`y_true` must hold integer class labels; received fractions")
    elif labels.dtype.kind not in "iu":
        raise TypeError(f"`y_true` must hold integer class labels. Received dtype "
                        f"{labels.dtype}")
    return _top_k(labels.astype(np.int64), y_pred, k, "sparse_top_k_categorical_accuracy")


def _regression_pair(y_true, y_pred):
    """(y_true, y_pred) as float64 with Keras' rank rule (_same_rank); a taped
    y_pred (Tensor or Variable) stays on the tape, so these also serve as a loss."""
    if type(y_pred) is not Tensor and not getattr(y_pred, "_is_variable", False):
        y_pred = np.asarray(_array(y_pred, "y_pred"), np.float64)
    y_true = np.asarray(_array(y_true, "y_true"), np.float64)
    shape = tuple(y_pred.shape)
    if y_true.ndim == len(shape) + 1 and y_true.shape[-1] == 1:
        if len(shape) == 1:
            y_pred = ops.reshape(y_pred, shape + (1,))
        else:
            y_true = y_true[..., 0]
    elif len(shape) == y_true.ndim + 1 and shape[-1] == 1:
        if y_true.ndim == 1:
            y_true = y_true[..., None]
        else:
            y_pred = ops.reshape(y_pred, shape[:-1])
    return y_true, y_pred


def mean_squared_error(y_true, y_pred):
    """mean((y_pred - y_true)^2) over the last axis: one value per sample (the same
    values as `cydl.losses.mean_squared_error`).

    Args:
        y_true: targets, shape (n, d).
        y_pred: predictions, shape (n, d).

    Returns:
        An array of shape (n,).

    Example:

    >>> cydl.metrics.mean_squared_error([[1.0, 2.0]], [[1.5, 2.0]])
    array([0.125])
    """
    return losses.mean_squared_error(*_regression_pair(y_true, y_pred))


def mean_absolute_error(y_true, y_pred):
    """mean(|y_pred - y_true|) over the last axis: one value per sample (the same
    values as `cydl.losses.mean_absolute_error`).

    Args:
        y_true: targets, shape (n, d).
        y_pred: predictions, shape (n, d).

    Returns:
        An array of shape (n,).

    Example:

    >>> cydl.metrics.mean_absolute_error([[1.0, 2.0]], [[1.5, 2.0]])
    array([0.25])
    """
    return losses.mean_absolute_error(*_regression_pair(y_true, y_pred))


def mean_absolute_percentage_error(y_true, y_pred):
    """100 * mean(|y_true - y_pred| / max(|y_true|, epsilon)) over the last axis.

    Args:
        y_true: targets, shape (n, d).
        y_pred: predictions, shape (n, d).

    Returns:
        An array of shape (n,).

    Example:

    >>> cydl.metrics.mean_absolute_percentage_error([[1.0, 2.0]], [[1.5, 2.0]])
    array([25.])
    """
    y_true, y_pred = _regression_pair(y_true, y_pred)
    scale = np.maximum(np.abs(y_true), _config.epsilon())
    diff = ops.absolute(ops.divide(ops.subtract(y_true, y_pred), scale))
    return ops.multiply(100.0, ops.mean(diff, axis=-1))


def mean_squared_logarithmic_error(y_true, y_pred):
    """mean((log(1 + y_pred) - log(1 + y_true))^2) over the last axis; values below
    epsilon count as epsilon.

    Args:
        y_true: targets, shape (n, d).
        y_pred: predictions, shape (n, d).

    Returns:
        An array of shape (n,).

    Example:

    >>> cydl.metrics.mean_squared_logarithmic_error([[0.0, 1.0]], [[0.0, 1.0]])
    array([0.])
    """
    y_true, y_pred = _regression_pair(y_true, y_pred)
    eps = _config.epsilon()
    first = ops.log(ops.add(ops.maximum(y_pred, eps), 1.0))
    second = np.log(np.maximum(y_true, eps) + 1.0)
    return ops.mean(ops.square(ops.subtract(first, second)), axis=-1)
