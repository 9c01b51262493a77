"""scikit-learn's base classes and validation when it is installed, small stand-ins
when it is not (it is an optional dependency)."""
import inspect

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.utils import multiclass as _multiclass, validation as _validation
    from sklearn.utils.metaestimators import available_if
    if not hasattr(_validation, "validate_data"):      # scikit-learn < 1.6
        _validation = None
except ImportError:            # scikit-learn is optional
    _validation = _multiclass = None
    class BaseEstimator:
        """get_params / set_params from the constructor's arguments, as sklearn's."""

        def get_params(self, deep=True):
            names = [p for p in inspect.signature(type(self).__init__).parameters
                     if p != "self"]
            return {n: getattr(self, n) for n in names}

        def set_params(self, **params):
            valid = self.get_params()
            for k, v in params.items():
                if k not in valid:
                    raise ValueError(f"Invalid parameter {k!r} for {type(self).__name__}")
                setattr(self, k, v)
            return self

    class ClassifierMixin:
        _estimator_type = "classifier"

        def score(self, X, y, sample_weight=None):
            hit = self.predict(X) == np.asarray(y)
            if hit.ndim == 2:       # multilabel: a row counts when all its labels do
                hit = hit.all(axis=1)
            return float(np.average(hit, weights=sample_weight))

    class RegressorMixin:
        _estimator_type = "regressor"

        def score(self, X, y, sample_weight=None):
            y = np.asarray(y, np.float64)
            p = np.asarray(self.predict(X), np.float64).reshape(y.shape)
            w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight)
            ss_res = np.sum(w * ((y - p) ** 2).reshape(len(y), -1).sum(axis=1))
            mean = np.average(y, axis=0, weights=w)
            ss_tot = np.sum(w * ((y - mean) ** 2).reshape(len(y), -1).sum(axis=1))
            return float(1 - ss_res / ss_tot) if ss_tot > 0 else 0.0

    class ConvergenceWarning(UserWarning):
        pass

    def available_if(check):
        """The method exists on an instance only when check(instance) passes (it
        raises AttributeError otherwise), as sklearn's available_if."""
        def wrap(fn):
            class _Method:
                def __get__(self, obj, owner=None):
                    if obj is None:
                        return fn
                    check(obj)
                    return fn.__get__(obj, owner)
            return _Method()
        return wrap
