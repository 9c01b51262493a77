"""MLPClassifier's targets: class labels of any type, or a multilabel indicator
matrix, set up (classes_) or checked against an earlier fit, then encoded as the
network trains on them, as scikit-learn's LabelBinarizer does."""
import numpy as np

from cydl.sklearn import _validate as V
from cydl.sklearn._compat import _multiclass


def is_indicator(y):
    """Whether y is a multilabel indicator matrix (n, k > 1): scikit-learn's
    type_of_target "multilabel-indicator" (without it: values 0 and 1 only)."""
    y = np.asarray(y)
    if y.ndim != 2 or y.shape[1] < 2 or y.dtype.kind not in "biuf":
        return False
    if _multiclass is not None:
        return _multiclass.type_of_target(y) == "multilabel-indicator"
    return bool(np.isin(y, (0, 1)).all())


def encode(est, y, incremental, classes=None):
    """Set est.classes_ (and whether the task is multilabel) on a first fit, check y
    against them otherwise; return y as the network trains on it: one 0/1 column
    for two classes, class indices for more, the 0/1 matrix for multilabel.

    Args:
        est: the MLPClassifier.
        y: the checked targets.
        incremental: whether partial_fit is the caller.
        classes: partial_fit's `classes` (required on its first call).
    """
    indicator = is_indicator(y)
    redefine = not hasattr(est, "classes_") or (not est.warm_start and not incremental)
    labels = None if indicator else V.class_labels(y)
    if redefine:
        if incremental and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        if indicator:       # LabelBinarizer's classes for an indicator matrix
            est.classes_ = np.arange(y.shape[1])
        else:
            est.classes_ = np.unique(np.asarray(classes) if incremental else labels)
        est._multilabel = indicator
        if not indicator and len(est.classes_) < 2:
            raise ValueError(f"The number of classes has to be greater than one; got "
                             f"{len(est.classes_)} class")
    else:
        _check_same_task(est, y, indicator, labels, incremental, classes)
    if indicator:
        return (np.asarray(y) != 0).astype(np.float64)
    pos = V.positions(est.classes_, labels)
    return pos.astype(np.float64)[:, None] if len(est.classes_) == 2 else pos


def _check_same_task(est, y, indicator, labels, incremental, classes):
    if incremental and classes is not None and not getattr(est, "_multilabel", False) and \
            not np.array_equal(est.classes_, np.unique(np.asarray(classes))):
        raise ValueError(f"`classes={classes!r}` is not the same as on last call to "
                         f"partial_fit, was: {est.classes_!r}")
    if indicator != getattr(est, "_multilabel", False):
        kinds = {True: "a multilabel indicator matrix", False: "class labels"}
        raise ValueError(f"{type(est).__name__} was fitted on {kinds[not indicator]}; this "
                         f"y holds {kinds[indicator]} (shape {np.shape(y)})")
    if indicator:
        if y.shape[1] != len(est.classes_):
            raise ValueError(f"y has {y.shape[1]} labels, but {type(est).__name__} was "
                             f"fitted with {len(est.classes_)}")
    elif est.warm_start and not incremental and \
            set(np.unique(labels).tolist()) != set(est.classes_.tolist()):
        raise ValueError(f"warm_start can only be used where `y` has the same classes as "
                         f"in the previous call to fit. Previously got {est.classes_}, "
                         f"`y` has {np.unique(labels)}")
