"""RandomSearch, Hyperband and BayesianOptimization: keras_tuner's tuners, with
Optuna's samplers and pruner doing the search."""
import functools

import optuna

from cydl._checks import number
from cydl.tuner._hyperband import HyperbandSchedule
from cydl.tuner.oracle import Oracle, _positive
from cydl.tuner.tuner import Tuner

_ORACLE_ARGS = ("hyperparameters", "allow_new_entries", "tune_new_entries",
                "max_retries_per_trial", "max_consecutive_failed_trials", "sampler")


def _split(kwargs):
    """(oracle kwargs, tuner kwargs)."""
    return ({k: kwargs.pop(k) for k in _ORACLE_ARGS if k in kwargs}, kwargs)


class RandomSearchOracle(Oracle):
    """Random search: Optuna's RandomSampler, seeded per trial."""

    def __init__(self, objective=None, max_trials=10, seed=None, **kwargs):
        super().__init__(objective=objective, max_trials=max_trials, seed=seed, **kwargs)


class RandomSearch(Tuner):
    """Random search over the hyper-parameters `build(hp)` asks for (Optuna's
    RandomSampler; a trial's values depend only on `seed` and its number).

    Args:
        hypermodel: a HyperModel or a function `build(hp)` returning a compiled model.
        objective: e.g. "val_accuracy" (maximized: the direction is inferred), or
            `kt.Objective(name, direction)`.
        max_trials: trials in all, counting those of a resumed or shared study.
        seed: makes the sampled values reproducible.
        **kwargs: the Oracle's and the Tuner's arguments (directory, project_name,
            overwrite, storage, executions_per_trial, ...).

    Example:
    >>> tuner = kt.RandomSearch(build_model, objective="val_accuracy", max_trials=5,
    ...                         overwrite=True, directory="my_dir", seed=42)
    >>> tuner.search(X_train, y_train, epochs=10, validation_data=(X_valid, y_valid))
    >>> best_model = tuner.get_best_models(num_models=1)[0]
    """

    def __init__(self, hypermodel=None, objective=None, max_trials=10, seed=None, **kwargs):
        self.seed = seed
        oracle_kwargs, kwargs = _split(kwargs)
        oracle = RandomSearchOracle(objective, max_trials, seed, **oracle_kwargs)
        super().__init__(oracle, hypermodel, **kwargs)


class BayesianOptimizationOracle(Oracle):
    """Bayesian optimization through Optuna's TPESampler (tree-structured Parzen
    estimators), which handles conditional hyper-parameters. keras_tuner fits a
    Gaussian process instead; its `alpha` (noise added to the kernel's diagonal) and
    `beta` (the UCB exploration weight) are accepted and validated for compatibility
    but TPE has no such knobs: they do not change the search. For Optuna's own GP,
    pass `sampler=optuna.samplers.GPSampler(seed=...)` (needs torch).

    Args:
        num_initial_points: random trials before TPE models the results (its
            `n_startup_trials`); default 3 x the number of hyper-parameters, as
            keras_tuner.
    """

    def __init__(self, objective=None, max_trials=10, num_initial_points=None, alpha=1e-4,
                 beta=2.6, seed=None, **kwargs):
        super().__init__(objective=objective, max_trials=max_trials, seed=seed, **kwargs)
        self.num_initial_points = _positive(num_initial_points, "num_initial_points",
                                            allow_none=True)
        self.alpha = number(alpha, "alpha", low=0, owner="BayesianOptimization")
        self.beta = number(beta, "beta", low=0, owner="BayesianOptimization")

    def _sampler_factory(self):
        n = self.num_initial_points or 3 * max(1, len(self._known.space))
        return functools.partial(optuna.samplers.TPESampler, n_startup_trials=n)


class BayesianOptimization(Tuner):
    """Bayesian optimization (Optuna's TPESampler; see BayesianOptimizationOracle for
    `num_initial_points`, `alpha` and `beta`). Arguments as RandomSearch's."""

    def __init__(self, hypermodel=None, objective=None, max_trials=10, num_initial_points=None,
                 alpha=1e-4, beta=2.6, seed=None, **kwargs):
        self.seed = seed
        oracle_kwargs, kwargs = _split(kwargs)
        oracle = BayesianOptimizationOracle(objective, max_trials, num_initial_points, alpha,
                                            beta, seed, **oracle_kwargs)
        super().__init__(oracle, hypermodel, **kwargs)


class HyperbandOracle(HyperbandSchedule, Oracle):
    """Hyperband through Optuna's HyperbandPruner (min 1 epoch, max `max_epochs`,
    reduction factor `factor`): each trial trains up to `max_epochs` and reports its
    objective after every epoch; a trial behind the others of its bracket at a rung is
    pruned. The number of trials is keras_tuner's number of new configurations
    (`_get_size(b, 0)` summed over its brackets and iterations). Optuna, not
    keras_tuner, decides the rest: it assigns each trial's bracket by a hash of the
    study and trial, and its rungs sit at min_resource * factor**k epochs, where
    keras_tuner's rounds end at ceil(max_epochs / factor**(b - r)) (for the book's
    max_epochs=10, factor=3: Optuna checks after 1, 3 and 9 epochs, keras_tuner after
    2 and 4). Values are sampled at random (seeded per trial)."""

    def __init__(self, objective=None, max_epochs=100, factor=3, hyperband_iterations=1,
                 seed=None, **kwargs):
        super().__init__(objective=objective, seed=seed, **kwargs)
        self.max_epochs = _positive(max_epochs, "max_epochs")
        if isinstance(factor, bool) or not isinstance(factor, int) or factor < 2:
            raise ValueError(f"factor needs to be a int larger than 1. Received: {factor!r}")
        self.factor = factor
        self.hyperband_iterations = _positive(hyperband_iterations, "hyperband_iterations")
        self.min_epochs = 1

    def _n_trials(self):
        return self._n_configurations()

    def _pruner(self):
        return optuna.pruners.HyperbandPruner(min_resource=self.min_epochs,
                                              max_resource=self.max_epochs,
                                              reduction_factor=self.factor)


class Hyperband(Tuner):
    """Hyperband (Li et al., 2018) through Optuna's HyperbandPruner, with keras_tuner's
    number of trials: see HyperbandOracle. Each trial's `fit` runs `max_epochs` epochs
    unless pruned.

    Args:
        max_epochs: the most epochs one model trains.
        factor: the reduction factor between rungs (>= 2).
        hyperband_iterations: how many times to run the full set of brackets.
        Others as RandomSearch's.
    """

    def __init__(self, hypermodel=None, objective=None, max_epochs=100, factor=3,
                 hyperband_iterations=1, seed=None, **kwargs):
        oracle_kwargs, kwargs = _split(kwargs)
        oracle = HyperbandOracle(objective, max_epochs, factor, hyperband_iterations, seed,
                                 **oracle_kwargs)
        super().__init__(oracle, hypermodel, **kwargs)

    def run_trial(self, trial, *fit_args, **fit_kwargs):
        fit_kwargs["epochs"] = self.oracle.max_epochs
        return super().run_trial(trial, *fit_args, **fit_kwargs)
