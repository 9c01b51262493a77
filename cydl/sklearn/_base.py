"""What MLPClassifier and MLPRegressor share: the hyper-parameters and their
checks, the network's set-up (scikit-learn's _initialize), the solvers, and the
fitted attributes."""
import numpy as np

from cydl.sklearn import _network, _random, _validate as V
from cydl.sklearn._compat import BaseEstimator, available_if
from cydl.sklearn._helpers import _ACT64

_STOCHASTIC = ("sgd", "adam")


def _stochastic_solver(est):
    """partial_fit exists for the stochastic solvers only (sklearn's available_if)."""
    if est.solver not in _STOCHASTIC:
        raise AttributeError(f"partial_fit is only available for stochastic optimizers. "
                             f"{est.solver} is not stochastic.")
    return True


class _BaseMLP(BaseEstimator):
    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000):
        self.hidden_layer_sizes, self.activation = hidden_layer_sizes, activation
        self.solver = solver
        self.alpha, self.batch_size, self.learning_rate = alpha, batch_size, learning_rate
        self.learning_rate_init, self.power_t, self.max_iter = learning_rate_init, power_t, max_iter
        self.shuffle, self.random_state, self.tol = shuffle, random_state, tol
        self.verbose, self.warm_start, self.momentum = verbose, warm_start, momentum
        self.nesterovs_momentum, self.early_stopping = nesterovs_momentum, early_stopping
        self.validation_fraction, self.beta_1, self.beta_2 = validation_fraction, beta_1, beta_2
        self.epsilon, self.n_iter_no_change, self.max_fun = epsilon, n_iter_no_change, max_fun

    # ------------------------------------------------------------ checks
    def _check_params(self):
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, (int, np.integer)) else list(sizes)
        if any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1
               for s in sizes):
            raise ValueError(f"hidden_layer_sizes must hold positive ints. Received: "
                             f"hidden_layer_sizes={self.hidden_layer_sizes!r}")
        V.option(self, "activation", list(_network.HIDDEN))
        V.option(self, "solver", ["lbfgs", "sgd", "adam"])
        V.option(self, "learning_rate", ["constant", "invscaling", "adaptive"])
        for name in ("alpha", "tol", "power_t"):
            V.real(self, name, 0.0)
        V.real(self, "momentum", 0.0, 1.0)
        for name in ("learning_rate_init", "epsilon"):
            V.real(self, name, 0.0, low_open=True)
        for name in ("beta_1", "beta_2"):
            V.real(self, name, 0.0, 1.0, high_open=True)
        V.real(self, "validation_fraction", 0.0, 1.0, True, True)
        V.integer(self, "max_iter")
        V.integer(self, "max_fun")
        if self.n_iter_no_change != np.inf:
            V.integer(self, "n_iter_no_change")
        if not (isinstance(self.batch_size, str) and self.batch_size == "auto"):
            V.integer(self, "batch_size")
        V.boolean(self, "shuffle", "warm_start", "nesterovs_momentum", "early_stopping")
        return [int(s) for s in sizes]

    def _fit_dtype(self, X, first):
        """The training dtype. A new network takes X's, as scikit-learn's (float32 is
        the faster); a network that goes on training keeps its own, as scikit-learn's
        coefs_ keep theirs (X is cast). L-BFGS runs in float64: its line search needs
        an accurate gradient."""
        if self.solver == "lbfgs":
            return np.dtype(np.float64)
        return np.dtype(X.dtype if first else self.model_.layers[0].kernel.dtype)

    # ------------------------------------------------------------ fitting
    def _fit(self, X, y, incremental, sample_weight=None):
        """X, y checked and encoded by the estimator; first pass: a new network."""
        sizes = self._check_params()
        first = not hasattr(self, "model_") or (not self.warm_start and not incremental)
        sw = None if sample_weight is None else V.sample_weights(sample_weight, len(X))
        if sw is not None and (sw < 0).any():
            raise ValueError(f"cydl's {type(self).__name__} takes non-negative sample "
                             f"weights. Received sample_weight[{int(np.argmax(sw < 0))}]="
                             f"{sw[sw < 0][0]!r}")
        self._random_state = _random.check_random_state(self.random_state)
        units = [X.shape[1]] + sizes + [self._n_out(y)]
        dtype = self._fit_dtype(X, first)
        if first:
            self._initialize(units, dtype)
        elif self.model_.layers[0].kernel.dtype != dtype:     # a float32 network to lbfgs
            self.model_ = _network.converted(self.model_, units, self.activation,
                                             self._out_activation, dtype)
            self.__dict__.pop("_rate", None)         # the copy is compiled anew
        X = np.ascontiguousarray(X, dtype=dtype)
        if y.dtype.kind == "f":
            y = y.astype(dtype)
        if self.solver in _STOCHASTIC:
            from cydl.sklearn._stochastic import fit_stochastic
            fit_stochastic(self, X, y, incremental, sw)
        else:
            from cydl.sklearn._lbfgs import fit_lbfgs
            fit_lbfgs(self, X, y, sw)
            self.__dict__.pop("_rate", None)   # its model is compiled for lbfgs now
        if not incremental:      # the bound runner holds the training data: let it go
            self.model_._invalidate()
        if not all(np.isfinite(w).all() for w in self.model_.get_weights()):
            raise ValueError("Solver produced non-finite parameter weights. The input data "
                             "may contain large values and need to be preprocessed.")
        return self

    def _initialize(self, units, dtype):
        """sklearn's _initialize: attributes, then the initial weights."""
        for name in ("_rate", "loss_curve_", "validation_scores_", "best_loss_",
                     "best_validation_score_", "loss_", "_best_weights"):
            self.__dict__.pop(name, None)
        self.n_iter_, self.t_ = 0, 0
        self.n_outputs_, self.n_layers_ = units[-1], len(units)
        self.model_ = _network.build(units, self.activation, self._out_activation, dtype)
        _network.init_weights(self.model_, units, self.activation, self._random_state)
        self._best_weights = self.model_.get_weights()
        if self.solver in _STOCHASTIC:
            self._start_curves()

    def _start_curves(self):
        """The stochastic solvers' records (lbfgs keeps none)."""
        self.loss_curve_, self._no_improvement_count = [], 0
        self.best_loss_ = None if self.early_stopping else np.inf
        self.validation_scores_ = [] if self.early_stopping else None
        self.best_validation_score_ = -np.inf if self.early_stopping else None

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
        a = V.check_data(self, X, reset=False, dtype=np.float64, fitted="model_")
        layers = self.model_.layers
        act = _network.HIDDEN[self.activation]
        for k, layer in enumerate(layers):
            a = a @ layer.kernel.numpy().astype(np.float64) + layer.bias.numpy()
            name = act if k < len(layers) - 1 else (self._out_activation or "linear")
            a = _ACT64[name](a)
        return a


partial_fit_if_stochastic = available_if(_stochastic_solver)
