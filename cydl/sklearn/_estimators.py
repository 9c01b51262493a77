"""MLPClassifier and MLPRegressor."""
import numpy as np

from cydl.sklearn import _classes, _validate as V
from cydl.sklearn._base import _BaseMLP, partial_fit_if_stochastic
from cydl.sklearn._compat import ClassifierMixin, RegressorMixin, _validation

_FLOATS = [np.float64, np.float32]


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier, as sklearn.neural_network.MLPClassifier.

    y holds class labels of any type, or (multilabel) a 0/1 indicator matrix of
    shape (n, n_labels): a logistic output per label, `predict` gives the matrix.

    Args: sklearn's, with the same defaults and meaning: solver "adam", "sgd"
        (learning_rate "constant", "invscaling" or "adaptive") or "lbfgs".

    Example:
    >>> clf = MLPClassifier(hidden_layer_sizes=(100,), random_state=0).fit(X, y)
    >>> clf.score(X_test, y_test)
    """

    _is_classifier = True
    _multilabel = False

    @property
    def _train_weight(self):
        # sklearn's log loss sums the labels' binary losses; cydl's means them
        return len(self.classes_) if self._multilabel else None

    @property
    def _report_weight(self):
        return self._train_weight or 1.0

    def fit(self, X, y, sample_weight=None):
        """Train on (X, y) (labels of any type), each row weighted by `sample_weight`
        (None: equally); returns self."""
        X, y = self._validate(X, y, incremental=False)
        return self._fit(X, y, incremental=False, sample_weight=sample_weight)

    @partial_fit_if_stochastic
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over (X, y); the first call needs `classes` (all the labels).
        The arguments are in scikit-learn's order (sample_weight before classes)."""
        X, y = self._validate(X, y, incremental=True, classes=classes)
        return self._fit(X, y, incremental=True, sample_weight=sample_weight)

    def _validate(self, X, y, incremental, classes=None):
        first = not hasattr(self, "model_") or (not self.warm_start and not incremental)
        X, y = V.check_data(self, X, y, reset=first, dtype=_FLOATS)
        return X, _classes.encode(self, y, incremental, classes)

    @property
    def _logistic(self):
        """One logistic output per label (multilabel), or one for two classes."""
        return self._multilabel or len(self.classes_) == 2

    def _n_out(self, y):
        return 1 if len(self.classes_) == 2 and not self._multilabel else len(self.classes_)

    @property
    def _out_activation(self):
        return "sigmoid" if self._logistic else "softmax"

    @property
    def out_activation_(self):
        return "logistic" if self._logistic else "softmax"

    @property
    def _loss(self):
        return "binary_crossentropy" if self._logistic else "sparse_categorical_crossentropy"

    def _score_on(self, X, y, sample_weight=None):
        """Accuracy on encoded labels (all of a row's labels, for multilabel), weighted
        as sklearn's accuracy_score."""
        p = self.model_.predict(X, verbose=0)
        if self._multilabel:
            hit = np.all((p > 0.5) == (np.asarray(y) > 0.5), axis=1)
        else:
            pred = (p[:, 0] > 0.5).astype(int) if p.shape[1] == 1 else p.argmax(axis=1)
            hit = pred == np.asarray(y).ravel().astype(int)
        return float(np.average(hit, weights=sample_weight))

    def predict_proba(self, X):
        """Class probabilities (n, n_classes), in the order of classes_ (multilabel:
        each label's probability)."""
        p = self._raw(X)
        return np.hstack([1 - p, p]) if p.shape[1] == 1 else p

    def predict_log_proba(self, X):
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        """The most probable class of each row (multilabel: the 0/1 matrix)."""
        proba = self.predict_proba(X)          # first: it raises NotFittedError
        if self._multilabel:
            return (proba > 0.5).astype(int)
        return self.classes_[proba.argmax(axis=1)]


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor, as sklearn.neural_network.MLPRegressor.

    The loss is sklearn's squared error: half the mean squared error, plus the L2
    term alpha / 2 ||W||^2 / n_samples. Args: sklearn's (loss "squared_error").

    Example:
    >>> reg = MLPRegressor(hidden_layer_sizes=[50, 50, 50], random_state=42).fit(X, y)
    """

    _is_classifier = False
    _loss = "mse"
    _report_weight = 0.5            # sklearn's squared loss is MSE / 2
    _out_activation = None
    out_activation_ = "identity"

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *,
                 solver="adam", alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000):
        super().__init__(
            hidden_layer_sizes, activation, solver=solver, alpha=alpha, batch_size=batch_size,
            learning_rate=learning_rate, learning_rate_init=learning_rate_init,
            power_t=power_t, max_iter=max_iter, shuffle=shuffle, random_state=random_state,
            tol=tol, verbose=verbose, warm_start=warm_start, momentum=momentum,
            nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
            validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2,
            epsilon=epsilon, n_iter_no_change=n_iter_no_change, max_fun=max_fun)
        self.loss = loss

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    @property
    def _train_weight(self):
        # sklearn's gradient is that of half the squared error summed over the outputs
        return 0.5 * self.n_outputs_

    def fit(self, X, y, sample_weight=None):
        """Train on (X, y), y of shape (n,) or (n, n_outputs), each row weighted by
        `sample_weight` (None: equally); returns self."""
        return self._fit(*self._validate(X, y, incremental=False), incremental=False,
                         sample_weight=sample_weight)

    @partial_fit_if_stochastic
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y)."""
        return self._fit(*self._validate(X, y, incremental=True), incremental=True,
                         sample_weight=sample_weight)

    def _validate(self, X, y, incremental):
        if not (isinstance(self.loss, str) and self.loss == "squared_error"):
            raise ValueError(f"cydl's MLPRegressor supports loss='squared_error' only. "
                             f"Received: loss={self.loss!r}")
        first = not hasattr(self, "model_") or (not self.warm_start and not incremental)
        X, y = V.check_data(self, X, y, reset=first, dtype=_FLOATS)
        y = np.asarray(y, dtype=np.float64)
        if y.ndim == 2 and y.shape[1] == 1:
            y = _validation.column_or_1d(y, warn=True) if _validation is not None \
                else y.ravel()
        if not np.isfinite(y).all():
            raise ValueError("y contains NaN or infinity")
        return X, y.reshape(len(X), -1)

    def _n_out(self, y):
        return y.shape[1]

    def _score_on(self, X, y, sample_weight=None):
        """R^2 averaged over the outputs, as sklearn's r2_score (weighted)."""
        p = self.model_.predict(X, verbose=0).astype(np.float64)
        y = np.asarray(y, np.float64).reshape(p.shape)
        w = np.ones((len(y), 1)) if sample_weight is None else \
            np.asarray(sample_weight, np.float64).reshape(-1, 1)
        ss_res = (w * (y - p) ** 2).sum(axis=0)
        ss_tot = (w * (y - np.average(y, axis=0, weights=w[:, 0])) ** 2).sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = np.where(ss_tot > 0, 1 - ss_res / ss_tot, np.where(ss_res > 0, 0.0, 1.0))
        return float(r2.mean())

    def predict(self, X):
        """The network's outputs: (n,) for one output, else (n, n_outputs)."""
        p = self._raw(X)
        return p.ravel() if p.shape[1] == 1 else p
