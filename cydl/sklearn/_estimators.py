"""MLPClassifier and MLPRegressor."""
import numpy as np

from cydl.sklearn._base import _BaseMLP
from cydl.sklearn._compat import ClassifierMixin, RegressorMixin, _multiclass, _validation

class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier with sklearn's interface (see the module).

    Args: as sklearn.neural_network.MLPClassifier; solver 'adam' or 'sgd',
    learning_rate 'constant'.

    Example:
    >>> clf = MLPClassifier(hidden_layer_sizes=(100,), random_state=0).fit(X, y)
    >>> clf.score(X_test, y_test)
    """

    _loss_weight = None

    def fit(self, X, y):
        warm = self.warm_start and hasattr(self, "model_")
        X, y = self._check_X(X, not warm, y)
        y = self._encode(y, fitting=not warm)
        return self._fit(X, y, incremental=False)

    def partial_fit(self, X, y, classes=None):
        """One pass over (X, y); the first call needs `classes`."""
        if not hasattr(self, "classes_"):
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit")
            self.classes_ = np.unique(np.asarray(classes))
        X, y = self._check_X(X, not hasattr(self, "model_"), y)
        y = self._encode(y, fitting=False)
        return self._fit(X, y, incremental=True)

    def _encode(self, y, fitting):
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
        if fitting:
            self.classes_ = np.unique(y)
            if len(self.classes_) < 2:
                raise ValueError(f"The number of classes has to be greater than one; got "
                                 f"{len(self.classes_)} class")
        pos = np.searchsorted(self.classes_, y)
        pos = np.clip(pos, 0, len(self.classes_) - 1)
        if not np.array_equal(self.classes_[pos], y):
            bad = y[self.classes_[pos] != y][:3]
            raise ValueError(f"y holds labels not in classes_ {self.classes_.tolist()}: "
                             f"{bad.tolist()}")
        return pos.astype(np.float32)[:, None] if len(self.classes_) == 2 else pos

    def _n_out(self, y):
        return 1 if len(self.classes_) == 2 else len(self.classes_)

    @property
    def _out_activation(self):
        return "sigmoid" if len(self.classes_) == 2 else "softmax"

    @property
    def out_activation_(self):
        return "logistic" if len(self.classes_) == 2 else "softmax"

    @property
    def _loss(self):
        return "binary_crossentropy" if len(self.classes_) == 2 \
            else "sparse_categorical_crossentropy"

    def _score_on(self, X, y):
        p = self.model_.predict(X, verbose=0)
        pred = (p[:, 0] > 0.5).astype(int) if p.shape[1] == 1 else p.argmax(axis=1)
        return float(np.mean(pred == np.asarray(y).ravel().astype(int)))

    def predict_proba(self, X):
        p = self._raw(X).astype(np.float64)
        return np.hstack([1 - p, p]) if p.shape[1] == 1 else p

    def predict_log_proba(self, X):
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        proba = self.predict_proba(X)          # first: it raises NotFittedError
        return self.classes_[proba.argmax(axis=1)]


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor with sklearn's interface (see the module).

    The loss is sklearn's: half the mean squared error, plus the L2 term.

    Example:
    >>> reg = MLPRegressor(hidden_layer_sizes=(50, 50, 50), random_state=42).fit(X, y)
    """

    _loss = "mse"
    _loss_weight = 0.5           # sklearn's squared loss is MSE / 2
    _out_activation = None
    out_activation_ = "identity"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def fit(self, X, y):
        X, y = self._check_X(X, not (self.warm_start and hasattr(self, "model_")), y)
        return self._fit(X, self._targets(y, len(X)), incremental=False)

    def partial_fit(self, X, y):
        """One pass over (X, y)."""
        X, y = self._check_X(X, not hasattr(self, "model_"), y)
        return self._fit(X, self._targets(y, len(X)), incremental=True)

    def _targets(self, y, n):
        y = np.asarray(y, dtype=np.float64)
        self._y_1d = y.ndim == 1
        y = y.reshape(n, -1)
        if not np.isfinite(y).all():
            raise ValueError("y contains NaN or infinity")
        return y.astype(np.float32)

    def _n_out(self, y):
        return y.shape[1]

    def _score_on(self, X, y):
        p = self.model_.predict(X, verbose=0).astype(np.float64)
        y = np.asarray(y, np.float64).reshape(p.shape)
        ss_tot = ((y - y.mean(axis=0)) ** 2).sum()
        return float(1 - ((y - p) ** 2).sum() / ss_tot) if ss_tot > 0 else 0.0

    def predict(self, X):
        p = self._raw(X).astype(np.float64)
        return p.ravel() if p.shape[1] == 1 and getattr(self, "_y_1d", True) else p
