"""Input and hyper-parameter checks shared by the estimators: scikit-learn's own
validation and messages where it is installed, equivalents where it is not."""
import numbers

import numpy as np

from cydl.sklearn._compat import _multiclass, _validation
from cydl.sklearn._helpers import _not_fitted

NO_Y = object()      # check_data without a target (predict), unlike fit(X, None)


def check_data(est, X, y=NO_Y, *, reset, dtype, fitted="n_features_in_"):
    """X as `dtype` (and y as an array), n_features_in_ / feature_names_in_ set when
    `reset`; before prediction, the estimator must be fitted."""
    if _validation is not None:
        if y is NO_Y:
            if not reset:
                _validation.check_is_fitted(est)
            return _validation.validate_data(est, X, reset=reset, dtype=dtype)
        return _validation.validate_data(est, X, y, reset=reset, dtype=dtype,
                                         multi_output=True, y_numeric=False)
    from cydl._checks import as_array
    if not reset and not hasattr(est, fitted):
        raise _not_fitted(est)
    if y is None:
        raise ValueError(f"{type(est).__name__} requires y to be passed, but the "
                         f"target y is None")
    X = np.asarray(as_array(X, "X"))
    if X.ndim != 2:
        raise ValueError(f"Expected a 2-D array of samples x features, got shape "
                         f"{X.shape}. Reshape your data")
    if X.dtype.kind not in "biuf":
        raise ValueError(f"X must be numeric. Received dtype {X.dtype}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"Found array with shape {X.shape}: at least one sample and "
                         f"one feature are required")
    if not np.isfinite(X).all():
        raise ValueError("X contains NaN or infinity")
    if reset:
        est.n_features_in_ = X.shape[1]
    elif X.shape[1] != est.n_features_in_:
        raise ValueError(f"X has {X.shape[1]} features, but {type(est).__name__} is "
                         f"expecting {est.n_features_in_} features as input")
    if isinstance(dtype, (list, tuple)):      # keep X's when it is one of them
        dtype = X.dtype if X.dtype in [np.dtype(d) for d in dtype] else dtype[0]
    X = X.astype(dtype)
    if y is NO_Y:
        return X
    y = np.asarray(y)
    if len(y) != len(X):
        raise ValueError(f"Found input variables with inconsistent numbers of samples: "
                         f"[{len(X)}, {len(y)}]")
    return X, y


def class_labels(y):
    """y as a 1-D array of class labels (a column vector is flattened)."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        if _validation is not None:
            y = _validation.column_or_1d(y, warn=True)
        y = y.ravel()
    if _multiclass is not None:
        _multiclass.check_classification_targets(y)
    elif y.dtype.kind == "f" and not np.all(y == np.round(y)):
        raise ValueError("Unknown label type: continuous. Classifiers need labels")
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D (class labels); got shape {y.shape}")
    return y


def positions(classes, y):
    """The index of each label of y in classes_ (a ValueError names unknown ones)."""
    pos = np.clip(np.searchsorted(classes, y), 0, len(classes) - 1)
    if not np.array_equal(classes[pos], y):
        bad = y[classes[pos] != y][:3]
        raise ValueError(f"y holds labels not in classes_ {classes.tolist()}: "
                         f"{bad.tolist()}")
    return pos


def sample_weights(sample_weight, n, allow_all_zero=False):
    """sample_weight as float64 (n,), ones when None (negative weights are allowed,
    as scikit-learn allows them)."""
    if sample_weight is None:
        return np.ones(n)
    sw = np.asarray(sample_weight, dtype=np.float64)
    if sw.ndim == 0:
        return np.full(n, float(sw))
    if sw.shape != (n,):
        raise ValueError(f"sample_weight.shape == {sw.shape}, expected ({n},)!")
    if not np.isfinite(sw).all():
        raise ValueError("sample_weight contains NaN or infinity")
    if not allow_all_zero and not sw.any():
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return sw


# ---------------------------------------------------------------- hyper-parameters
def _is_real(v):
    return isinstance(v, (numbers.Real, np.number)) and not isinstance(v, (bool, np.bool_))


def real(est, name, low=None, high=None, low_open=False, high_open=False, none=False):
    v = getattr(est, name)
    if v is None and none:
        return None
    ok = _is_real(v) and np.isfinite(v) and \
        (low is None or (v > low if low_open else v >= low)) and \
        (high is None or (v < high if high_open else v <= high))
    if not ok:
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        where = f" in {lo}{low}, {high}{hi}" if high is not None else \
            f" {'>' if low_open else '>='} {low}" if low is not None else ""
        raise ValueError(f"The '{name}' parameter of {type(est).__name__} must be a finite "
                         f"number{where}{' or None' if none else ''}. Got {v!r} instead.")
    return float(v)


def integer(est, name, low=1):
    v = getattr(est, name)
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (numbers.Integral, np.integer)) \
            or v < low:
        raise ValueError(f"The '{name}' parameter of {type(est).__name__} must be an int "
                         f">= {low}. Got {v!r} instead.")
    return int(v)


def boolean(est, *names):
    for name in names:
        v = getattr(est, name)
        if not isinstance(v, (bool, np.bool_)):
            raise ValueError(f"The '{name}' parameter of {type(est).__name__} must be a "
                             f"bool. Got {v!r} instead.")


def option(est, name, options):
    v = getattr(est, name)
    if not any(v is o or (isinstance(v, str) and v == o) for o in options):
        raise ValueError(f"The '{name}' parameter of {type(est).__name__} must be one of "
                         f"{list(options)}. Got {v!r} instead.")
    return v
