"""Perceptron: scikit-learn's linear perceptron, draw for draw and update for update."""
import contextlib
import os
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from cydl.sklearn import _random, _validate as V
from cydl.sklearn._compat import BaseEstimator, ClassifierMixin, ConvergenceWarning
from cydl.sklearn._helpers import one_blas_thread
from cydl.sklearn._sgd import PENALTIES, plain_sgd


class Perceptron(ClassifierMixin, BaseEstimator):
    """Linear perceptron classifier, as `sklearn.linear_model.Perceptron`.

    Plain SGD on the perceptron loss max(0, -y (w.x + b)) at the constant rate
    `eta0`, one-vs-rest for more than two classes. It draws its random numbers and
    visits the rows and sums each margin as scikit-learn does, so the same
    `random_state` gives the same `coef_` (for float64 inputs: scikit-learn fits
    float32 ones in float32, cydl in float64).

    Args: as sklearn's: penalty (None, "l2", "l1", "elasticnet"), alpha, l1_ratio,
        fit_intercept, max_iter, tol (None: run max_iter epochs), shuffle, verbose,
        eta0, n_jobs (one-vs-rest problems on threads), random_state (default 0),
        early_stopping, validation_fraction, n_iter_no_change, class_weight (None,
        "balanced" or a dict), warm_start.

    Example:
    >>> iris = cydl.datasets.iris.load_iris(as_frame=True)
    >>> X = iris.data[["petal length (cm)", "petal width (cm)"]].values
    >>> per_clf = Perceptron(random_state=42).fit(X, iris.target == 0)
    >>> per_clf.predict([[2, 0.5], [3, 1]])
    array([ True, False])
    """

    def __init__(self, *, penalty=None, alpha=0.0001, l1_ratio=0.15, fit_intercept=True,
                 max_iter=1000, tol=1e-3, shuffle=True, verbose=0, eta0=1.0, n_jobs=None,
                 random_state=0, early_stopping=False, validation_fraction=0.1,
                 n_iter_no_change=5, class_weight=None, warm_start=False):
        self.penalty, self.alpha, self.l1_ratio = penalty, alpha, l1_ratio
        self.fit_intercept, self.max_iter, self.tol = fit_intercept, max_iter, tol
        self.shuffle, self.verbose, self.eta0, self.n_jobs = shuffle, verbose, eta0, n_jobs
        self.random_state, self.early_stopping = random_state, early_stopping
        self.validation_fraction, self.n_iter_no_change = validation_fraction, n_iter_no_change
        self.class_weight, self.warm_start = class_weight, warm_start

    def _config(self, max_iter):
        V.option(self, "penalty", list(PENALTIES))
        V.boolean(self, "fit_intercept", "shuffle", "early_stopping", "warm_start")
        tol = V.real(self, "tol", 0.0, none=True)
        if not (isinstance(self.verbose, (bool, np.bool_)) or V._is_real(self.verbose)):
            raise ValueError(f"The 'verbose' parameter of Perceptron must be an int or a "
                             f"bool. Got {self.verbose!r} instead.")
        if self.n_jobs is not None and V.integer(self, "n_jobs", low=-2 ** 31) == 0:
            raise ValueError("The 'n_jobs' parameter of Perceptron must not be 0")
        cw = self.class_weight
        if not (cw is None or isinstance(cw, dict) or (isinstance(cw, str) and cw == "balanced")):
            raise ValueError(f"The 'class_weight' parameter of Perceptron must be None, "
                             f"'balanced' or a dict. Got {cw!r} instead.")
        ptype = PENALTIES[self.penalty]
        return {"penalty": ptype, "alpha": V.real(self, "alpha", 0.0),
                "l1_ratio": {0: 0.0, 1: 1.0, 2: 0.0}.get(ptype) if ptype != 3
                else V.real(self, "l1_ratio", 0.0, 1.0),
                "eta0": V.real(self, "eta0", 0.0, low_open=True),
                "fit_intercept": bool(self.fit_intercept), "max_iter": max_iter,
                "tol": -np.inf if tol is None else tol, "shuffle": bool(self.shuffle),
                "n_iter_no_change": V.integer(self, "n_iter_no_change"),
                "early_stopping": bool(self.early_stopping), "verbose": int(self.verbose),
                "fraction": V.real(self, "validation_fraction", 0.0, 1.0, True, True)}

    # ------------------------------------------------------------ fitting
    def fit(self, X, y, coef_init=None, intercept_init=None, sample_weight=None):
        """Fit by SGD for up to max_iter epochs (see the class)."""
        cfg = self._config(V.integer(self, "max_iter"))
        self.__dict__.pop("classes_", None)
        if self.warm_start and getattr(self, "coef_", None) is not None:
            coef_init = self.coef_ if coef_init is None else coef_init
            intercept_init = self.intercept_ if intercept_init is None else intercept_init
        self.__dict__.pop("coef_", None)
        self.__dict__.pop("intercept_", None)
        self.t_ = 1.0
        X, y = V.check_data(self, X, y, reset=True, dtype=[np.float64, np.float32])
        y = V.class_labels(y)
        self._fit(X, y, np.unique(y), sample_weight, coef_init, intercept_init, cfg)
        if cfg["tol"] > -np.inf and self.n_iter_ == cfg["max_iter"]:
            warnings.warn("Maximum number of iteration reached before convergence. "
                          "Consider increasing max_iter to improve the fit.",
                          ConvergenceWarning)
        return self

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch over (X, y); the first call needs `classes`."""
        cfg = self._config(1)
        first = not hasattr(self, "classes_")
        if first:
            if self.early_stopping:
                raise ValueError("early_stopping should be False with partial_fit")
            if isinstance(self.class_weight, str):
                raise ValueError("class_weight 'balanced' is not supported for "
                                 "partial_fit: pass a dict of weights")
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
        X, y = V.check_data(self, X, y, reset=first, dtype=[np.float64, np.float32])
        y = V.class_labels(y)
        if classes is not None and not first and \
                not np.array_equal(self.classes_, np.unique(np.asarray(classes))):
            raise ValueError(f"`classes={classes!r}` is not the same as on last call to "
                             f"partial_fit, was: {self.classes_!r}")
        if not hasattr(self, "t_"):
            self.t_ = 1.0
        self._fit(X, y, np.unique(np.asarray(classes)) if first else self.classes_,
                  sample_weight, None, None, cfg)
        return self

    def _fit(self, X, y, classes, sample_weight, coef_init, intercept_init, cfg):
        self.classes_ = classes
        k = len(classes)
        if k < 2:
            raise ValueError(f"The number of classes has to be greater than one; got {k} "
                             f"class")
        pos = V.positions(classes, y)
        sw = V.sample_weights(sample_weight, len(X), allow_all_zero=cfg["early_stopping"])
        cw = _random.class_weights(self.class_weight, classes, y)
        n_rows = 1 if k == 2 else k
        coef = np.zeros((n_rows, X.shape[1]))
        icpt = np.zeros(n_rows)
        if coef_init is None and getattr(self, "coef_", None) is not None:
            coef_init, intercept_init = self.coef_, self.intercept_     # partial_fit
        if coef_init is not None:
            c0 = np.asarray(coef_init, np.float64)
            if c0.size != coef.size:
                raise ValueError(f"coef_init has shape {c0.shape}; {k} classes and "
                                 f"{X.shape[1]} features need {coef.shape}")
            coef[...] = c0.reshape(coef.shape)
        if intercept_init is not None:
            i0 = np.asarray(intercept_init, np.float64)
            if i0.size != n_rows:
                raise ValueError(f"intercept_init has shape {i0.shape}; expected "
                                 f"({n_rows},)")
            icpt[...] = i0.reshape(n_rows)
        # float32 rows stay float32: the kernel widens each value as it reads it
        Xc = np.ascontiguousarray(X)
        # BLAS only scores early stopping's validation rows, a small product per
        # epoch on each of the one-vs-rest threads
        with one_blas_thread() if cfg["early_stopping"] else contextlib.nullcontext():
            n_iter = self._solve(Xc, pos, y, k, coef, icpt, cw, sw, cfg)
        self.t_ += n_iter * len(X)
        self.n_iter_ = n_iter
        self.coef_ = coef.astype(X.dtype, copy=False)
        self.intercept_ = icpt.astype(X.dtype, copy=False)

    def _solve(self, X, pos, y, k, coef, icpt, cw, sw, cfg):
        """One binary problem, or one per class (one-vs-rest); returns n_iter_."""
        if k == 2:
            n_iter = self._binary(X, pos, 1, coef[0], icpt, cw[1], cw[0], sw, None,
                                  self.random_state, cfg)
        else:
            mask = _random.validation_mask(len(X), cfg["fraction"], self.random_state,
                                           y, True) if cfg["early_stopping"] else None
            seeds = _random.check_random_state(self.random_state).randint(
                _random.MAX_INT, size=k)
            jobs = [(X, pos, i, coef[i], icpt[i:i + 1], cw[i], 1.0, sw, mask, int(s), cfg)
                    for i, s in enumerate(seeds)]
            nj = 1 if self.n_jobs is None else int(self.n_jobs)
            workers = nj if nj > 0 else (os.cpu_count() or 1) + 1 + nj  # joblib's count
            with ThreadPoolExecutor(max(1, min(workers, k))) as pool:
                n_iter = max(pool.map(lambda a: self._binary(*a), jobs))
        return n_iter

    @staticmethod
    def _binary(X, pos, i, w, b_out, w_pos, w_neg, sw, mask, random_state, cfg):
        """sklearn's fit_binary: class i against the rest, into w and b_out[0]."""
        y = np.where(pos == i, 1.0, -1.0)
        rs = _random.check_random_state(random_state)
        rs.randint(1, _random.MAX_INT)       # make_dataset's seed (sklearn draws it)
        if mask is None:
            mask = _random.validation_mask(len(X), cfg["fraction"], random_state, y,
                                           True) if cfg["early_stopping"] else \
                np.zeros(len(X), bool)
        seed = rs.randint(_random.MAX_INT)
        c = np.ascontiguousarray(np.where(y > 0, w_pos, w_neg) * sw, dtype=np.float64)
        score = _validation_score(X[mask], y[mask], sw[mask]) if cfg["early_stopping"] \
            else None
        b, n_iter = plain_sgd(w, float(b_out[0]), X, y, c, ~mask, cfg, seed, score)
        b_out[0] = b
        return n_iter

    # ------------------------------------------------------------ predicting
    def decision_function(self, X):
        """Signed distances to the hyperplanes: (n,) for two classes, else (n, k)."""
        X = V.check_data(self, X, reset=False, dtype=[np.float64, np.float32],
                         fitted="coef_")
        scores = X @ self.coef_.T + self.intercept_
        return scores.ravel() if scores.shape[1] == 1 else scores

    def predict(self, X):
        """The class of each row: the sign of the score, or the highest score."""
        scores = self.decision_function(X)
        idx = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[idx]


def _validation_score(Xv, yv, swv):
    """sklearn's _ValidationScoreCallback: the weighted accuracy of sign(X w + b)."""
    Xv = Xv.astype(np.float64, copy=False)

    def score(w, b):
        pred = np.where(Xv @ w + b > 0, 1.0, -1.0)
        return float(np.average(pred == yv, weights=swv))
    return score
