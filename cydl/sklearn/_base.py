"""The network, training loop and fitted attributes shared by both estimators."""
import warnings

import numpy as np

from cydl.sklearn._compat import BaseEstimator, ConvergenceWarning, _validation
from cydl.sklearn._helpers import _ACT64, _not_fitted, _seeded

_NO_Y = object()      # _check_X without a target (predict), unlike fit(X, None)


class _BaseMLP(BaseEstimator):
    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, max_iter=200, shuffle=True, random_state=None,
                 tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10):
        self.hidden_layer_sizes, self.activation, self.solver = hidden_layer_sizes, activation, solver
        self.alpha, self.batch_size, self.learning_rate = alpha, batch_size, learning_rate
        self.learning_rate_init, self.max_iter, self.shuffle = learning_rate_init, max_iter, shuffle
        self.random_state, self.tol, self.verbose = random_state, tol, verbose
        self.warm_start, self.momentum = warm_start, momentum
        self.nesterovs_momentum, self.early_stopping = nesterovs_momentum, early_stopping
        self.validation_fraction, self.beta_1, self.beta_2 = validation_fraction, beta_1, beta_2
        self.epsilon, self.n_iter_no_change = epsilon, n_iter_no_change

    # ------------------------------------------------------------ checks
    _ACTIVATIONS = {"identity": "linear", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}

    def _check_params(self):
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, (int, np.integer)) else list(sizes)
        if any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1
               for s in sizes):
            raise ValueError(f"hidden_layer_sizes must hold positive ints. Received: "
                             f"hidden_layer_sizes={self.hidden_layer_sizes!r}")
        if self.activation not in self._ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(self._ACTIVATIONS)}. "
                             f"Received: activation={self.activation!r}")
        if self.solver not in ("adam", "sgd"):
            raise ValueError(f"solver must be 'adam' or 'sgd' (cydl has no 'lbfgs'). "
                             f"Received: solver={self.solver!r}")
        if self.learning_rate != "constant":
            raise ValueError(f"cydl's MLPs support learning_rate='constant' only. "
                             f"Received: learning_rate={self.learning_rate!r}")
        for name, low in (("alpha", 0.0), ("tol", 0.0), ("momentum", 0.0)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.number)) or \
                    not np.isfinite(v) or v < low:
                raise ValueError(f"{name} must be a finite number >= {low}. Received: "
                                 f"{name}={v!r}")
        for name in ("learning_rate_init", "epsilon"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.number)) or \
                    not np.isfinite(v) or v <= 0:
                raise ValueError(f"{name} must be a positive number. Received: {name}={v!r}")
        for name in ("max_iter", "n_iter_no_change"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name} must be a positive int. Received: {name}={v!r}")
        if not 0 < self.validation_fraction < 1:
            raise ValueError(f"validation_fraction must be in (0, 1). Received: "
                             f"validation_fraction={self.validation_fraction!r}")
        for name in ("beta_1", "beta_2"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must be in [0, 1). Received: "
                                 f"{name}={getattr(self, name)!r}")
        return [int(s) for s in sizes]

    def _check_X(self, X, fitting, y=_NO_Y):
        """X as float32 (and y checked), with scikit-learn's own validation and
        messages where it is installed."""
        if _validation is not None:
            if y is _NO_Y:
                if not fitting:
                    _validation.check_is_fitted(self)
                return _validation.validate_data(self, X, reset=fitting, dtype=np.float32)
            return _validation.validate_data(self, X, y, reset=fitting, dtype=np.float32,
                                             multi_output=True, y_numeric=False)
        from cydl._checks import as_array
        if not fitting and not hasattr(self, "model_"):
            raise _not_fitted(self)
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the "
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
        if fitting:
            self.n_features_in_ = X.shape[1]
        elif X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but {type(self).__name__} is "
                             f"expecting {self.n_features_in_} features as input")
        X = X.astype(np.float32)
        return X if y is _NO_Y else (X, np.asarray(y))

    # ------------------------------------------------------------ the network
    def _build(self, n_features, n_outputs, out_activation):
        import cydl
        from cydl import layers
        sizes = self._check_params()
        act = self._ACTIVATIONS[self.activation]
        with _seeded(self.random_state):
            net = [layers.Input(shape=(n_features,), dtype="float32")]
            net += [layers.Dense(s, activation=act, dtype="float32") for s in sizes]
            net.append(layers.Dense(n_outputs, activation=out_activation, dtype="float32"))
            model = cydl.Sequential(net)
        self.model_ = model
        self.n_layers_ = len(sizes) + 2
        self.n_outputs_ = n_outputs
        self.t_ = 0
        self.loss_curve_, self.best_loss_, self._no_improve = [], np.inf, 0
        self.validation_scores_ = [] if self.early_stopping else None
        self.best_validation_score_ = -np.inf if self.early_stopping else None

    def _compile(self, batch):
        import cydl
        if self.solver == "adam":
            opt = cydl.optimizers.Adam(self.learning_rate_init, beta_1=self.beta_1,
                                       beta_2=self.beta_2, epsilon=self.epsilon)
        else:
            opt = cydl.optimizers.SGD(self.learning_rate_init, momentum=self.momentum,
                                      nesterov=self.nesterovs_momentum and self.momentum > 0)
        # sklearn's loss adds alpha / 2 ||W||^2 / batch: an l2 factor of alpha / (2 batch)
        reg = cydl.regularizers.l2(self.alpha / (2.0 * batch)) if self.alpha > 0 else None
        for layer in self.model_.layers:
            layer.kernel.regularizer = reg
        self.model_.compile(optimizer=opt, loss=self._loss, loss_weights=self._loss_weight)
        self._batch = batch

    def _batch_size(self, n):
        if self.batch_size == "auto":
            return min(200, n)
        b = self.batch_size
        if isinstance(b, bool) or not isinstance(b, (int, np.integer)) or b < 1:
            raise ValueError(f"batch_size must be 'auto' or a positive int. Received: "
                             f"batch_size={b!r}")
        return int(min(b, n))

    # ------------------------------------------------------------ training
    def _fit(self, X, y, incremental):
        first = not hasattr(self, "model_") or not (self.warm_start or incremental)
        if first:
            self._build(X.shape[1], self._n_out(y), self._out_activation)
        batch = self._batch_size(len(X))
        if first:           # later calls keep the optimizer's state (partial_fit, warm_start)
            self._compile(batch)
        Xv = yv = None
        if self.early_stopping and not incremental:
            X, y, Xv, yv = self._split(X, y)
        epochs = 1 if incremental else self.max_iter
        best = None
        with _seeded(self.random_state if first else None):
            for _ in range(epochs):
                h = self.model_.fit(X, y, batch_size=batch, epochs=1, shuffle=self.shuffle,
                                    verbose=0)
                loss = float(h.history["loss"][0])
                self.t_ += len(X)
                self.loss_curve_.append(loss)
                self.n_iter_ = len(self.loss_curve_)
                self.loss_ = loss
                if self.verbose:
                    print(f"Iteration {self.n_iter_}, loss = {loss:.8f}")
                if Xv is not None:
                    score = self._score_on(Xv, yv)
                    self.validation_scores_.append(score)
                    improved = score > self.best_validation_score_ + self.tol
                    if score > self.best_validation_score_:
                        self.best_validation_score_ = score
                        best = self.model_.get_weights()
                else:
                    improved = loss < self.best_loss_ - self.tol
                    self.best_loss_ = min(self.best_loss_, loss)
                self._no_improve = 0 if improved else self._no_improve + 1
                if not incremental and self._no_improve >= self.n_iter_no_change:
                    break
            else:
                if not incremental:
                    warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter})"
                                  f" reached and the optimization hasn't converged yet.",
                                  ConvergenceWarning)
        if best is not None:
            self.model_.set_weights(best)
        if Xv is not None:
            self.best_loss_ = None
        return self

    def _split(self, X, y):
        rng = np.random.default_rng(None if self.random_state is None else
                                    int(np.random.default_rng(self.random_state)
                                        .integers(2 ** 31)))
        idx = rng.permutation(len(X))
        n_val = max(1, int(round(self.validation_fraction * len(X))))
        if len(X) - n_val < 1:
            raise ValueError(f"early_stopping needs more samples: {len(X)} with "
                             f"validation_fraction={self.validation_fraction}")
        val, tr = idx[:n_val], idx[n_val:]
        return X[tr], y[tr], X[val], y[val]

    # ------------------------------------------------------------ fitted attributes
    @property
    def coefs_(self):
        return [layer.kernel.numpy() for layer in self.model_.layers]

    @property
    def intercepts_(self):
        return [layer.bias.numpy() for layer in self.model_.layers]

    def _raw(self, X):
        """The network's output, computed in float64 from the trained weights: each
        row's result then does not depend on which rows share its batch (in float32
        it moved by one unit in the last place with the batch's size, and sklearn's
        checks ask for rtol 1e-7)."""
        a = self._check_X(X, False).astype(np.float64)
        layers = self.model_.layers
        act = self._ACTIVATIONS[self.activation]
        for k, layer in enumerate(layers):
            a = a @ layer.kernel.numpy().astype(np.float64) + layer.bias.numpy()
            name = act if k < len(layers) - 1 else (self._out_activation or "linear")
            a = _ACT64[name](a)
        return a
