"""What the three wrappers share: parameters, fit, predict and scikit-learn's tags."""
import numpy as np

from cydl.wrappers._build import as_kwargs, build_model
from cydl.wrappers._targets import TargetReshaper

try:
    import sklearn
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, TransformerMixin
except ImportError:      # scikit-learn is optional: the classes exist, making one raises
    sklearn = None

    class BaseEstimator:
        pass

    class ClassifierMixin:
        pass

    class RegressorMixin:
        pass

    class TransformerMixin:
        pass

# float inputs keep their precision; anything else numeric becomes float64
_FLOATS = (np.float64, np.float32)


def validate(est, *args, **kwargs):
    """scikit-learn's validate_data (>= 1.6), or the method it replaced."""
    try:
        from sklearn.utils.validation import validate_data
    except ImportError:
        return est._validate_data(*args, **kwargs)
    return validate_data(est, *args, **kwargs)


def check_is_fitted(est):
    from sklearn.utils.validation import check_is_fitted
    check_is_fitted(est)


class SKLBase(BaseEstimator):
    """Base class for the scikit-learn wrappers of cydl models.

    Args:
        model: a compiled cydl `Model`, or a callable returning one. A `Model` is
            cloned (fresh weights, same compile settings) before each fit, unless
            `warm_start=True`. A callable gets `X=` and `y=` (the training data,
            with `y` encoded as the model trains on it) when it accepts them, and
            `model_kwargs`.
        warm_start: bool, defaults to `False`. Whether to go on training the model
            of the previous fit (or the given `Model`'s weights at the first fit)
            instead of starting anew.
        model_kwargs: dict, defaults to `None`. Keyword arguments for `model` when
            it is callable.
        fit_kwargs: dict, defaults to `None`. Keyword arguments for `model.fit`;
            those given to the wrapper's `fit` take precedence. Unlike Keras 3.15,
            `sklearn.base.clone` keeps them (so searches train the epochs asked for).

    Attributes:
        model_: the fitted `Model`.
        history_: the `History` returned by `model.fit` (`history_.history["loss"]`,
            `history_.epoch`).
        epoch_: the number of epochs the fitted model has trained, over warm starts.
        n_features_in_: the number of features seen in fit.
    """

    def __init__(self, model, warm_start=False, model_kwargs=None, fit_kwargs=None):
        if sklearn is None:
            raise ImportError(f"{type(self).__name__} requires scikit-learn: "
                              f'pip install "cydl[sklearn]"')
        self.model = model
        self.warm_start = warm_start
        self.model_kwargs = model_kwargs
        self.fit_kwargs = fit_kwargs

    # how fit validates y (a regressor or transformer may have several target columns)
    _y_checks = {"multi_output": True, "y_numeric": True}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = True
        return tags

    def _more_tags(self):       # scikit-learn < 1.6
        return {"non_deterministic": True}

    def set_fit_request(self, **kwargs):
        """Route metadata (e.g. `sample_weight=True`) to `fit` through scikit-learn's
        metadata routing, which must be enabled
        (`sklearn.set_config(enable_metadata_routing=True)`).

        Returns:
            self
        """
        if not sklearn.get_config().get("enable_metadata_routing", False):
            raise RuntimeError("This method is only available when metadata routing is "
                               "enabled. You can enable it using "
                               "sklearn.set_config(enable_metadata_routing=True).")
        requests = self._get_metadata_request()
        for param, alias in kwargs.items():
            requests.fit.add_request(param=param, alias=alias)
        self._metadata_request = requests
        return self

    def fit(self, X, y, **kwargs):
        """Fit the model.

        Args:
            X: array-like, shape=(n_samples, n_features). The input samples.
            y: array-like, shape=(n_samples,) or (n_samples, n_outputs). The targets.
            **kwargs: keyword arguments for `model.fit`, over `fit_kwargs`.

        Returns:
            self
        """
        fit_kwargs = {**as_kwargs(self.fit_kwargs, "fit_kwargs"), **kwargs}
        warm = bool(self.warm_start) and hasattr(self, "model_")
        # a warm start goes on with the same features and classes: checked, not reset
        X, y = validate(self, X, y, reset=not warm, dtype=_FLOATS, **self._y_checks)
        y_built = self._process_target(y, reset=not warm)
        model = self.model_ if warm else build_model(self, X, y_built)
        target = self._fit_target(model, y, y_built)
        history = model.fit(X, target, **self._model_fit_kwargs(fit_kwargs, y))
        self.epoch_ = (self.epoch_ if warm else 0) + len(history.epoch)
        self.model_, self.history_ = model, history
        return self

    def predict(self, X):
        """Predict with the fitted model.

        Args:
            X: array-like, shape=(n_samples, n_features).

        Returns:
            The predictions, shaped as the targets of fit.
        """
        return self._reverse_process_target(self._raw_predict(X))

    def _raw_predict(self, X):
        check_is_fitted(self)
        return self.model_.predict(validate(self, X, reset=False, dtype=_FLOATS))

    def _process_target(self, y, reset=False):
        """The targets the build function sees (regressors: one column for 1-D y)."""
        if reset:
            self._target_encoder = TargetReshaper(y)
        return self._target_encoder.transform(y)

    def _fit_target(self, model, y, y_built):
        """The targets the model trains on, once it is known."""
        return y_built

    def _model_fit_kwargs(self, fit_kwargs, y):
        """The keyword arguments for `model.fit` (the classifier encodes labels in
        them)."""
        return fit_kwargs

    def _reverse_process_target(self, out):
        return self._target_encoder.inverse_transform(out)
