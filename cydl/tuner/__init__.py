"""keras_tuner's API on cydl models, with Optuna as the search engine.

    import cydl.tuner as kt
    tuner = kt.RandomSearch(build_model, objective="val_accuracy", max_trials=5)
    tuner.search(X_train, y_train, epochs=10, validation_data=(X_valid, y_valid))

`RandomSearch` samples with Optuna's RandomSampler, `BayesianOptimization` with its
TPESampler (keras_tuner's `alpha`/`beta` are accepted but do not apply to TPE; pass
`sampler=optuna.samplers.GPSampler(...)` for Optuna's Gaussian process), `Hyperband`
prunes with Optuna's HyperbandPruner (epochs are the steps) over keras_tuner's number
of trials. A `seed` fixes each trial's values, whatever the number of processes.
`OptunaPruningCallback` brings Optuna's pruning to any `model.fit` in a plain Optuna
study.

The study lives in an Optuna storage, by default the SQLite file
directory/project_name/optuna.db (`storage=` takes any Optuna storage or database URL,
e.g. PostgreSQL for workers on several machines), with each trial's best-epoch
weights in directory/project_name/trial_<id>/. Its trials are queued when it is
created, so:

* `search` resumes a project unless `overwrite=True`: finished trials count toward
  `max_trials`. A trial interrupted by Ctrl-C (or a fatal error) is marked FAIL and
  queued again with the same values; so is a trial left RUNNING by a killed process
  (seen at once on the same machine, after three missed one-minute heartbeats from
  another one) when a worker finds the queue empty.
* Several processes running the same script (overwrite=False) share the queue: each
  trial runs once, and `max_trials` are run in all. While other workers of the
  project search on the same machine, each trains on one thread (unless the thread
  count was set with `cydl.set_num_threads` or OMP_NUM_THREADS).

Needs Optuna: pip install "cydl[tuner]".
"""
try:
    import optuna  # noqa: F401  (fail here, with the extra to install)
except ImportError as e:
    raise ImportError('cydl.tuner runs its searches with Optuna, which is not installed. '
                      'Install the extra: pip install "cydl[tuner]" (or pip install optuna)'
                      ) from e

from cydl.tuner import errors  # noqa: E402
from cydl.tuner.hp_numerical import Float, Int  # noqa: E402
from cydl.tuner.hp_types import Boolean, Choice, Fixed, HyperParameter  # noqa: E402
from cydl.tuner.hypermodel import HyperModel  # noqa: E402
from cydl.tuner.hyperparameters import HyperParameters  # noqa: E402
from cydl.tuner.objective import Objective  # noqa: E402
from cydl.tuner.oracle import Oracle  # noqa: E402
from cydl.tuner.pruning import OptunaPruningCallback  # noqa: E402
from cydl.tuner.trial import Trial, TrialStatus  # noqa: E402
from cydl.tuner.tuner import Tuner  # noqa: E402
from cydl.tuner.tuners import (BayesianOptimization, BayesianOptimizationOracle,  # noqa: E402
                               Hyperband, HyperbandOracle, RandomSearch, RandomSearchOracle)

__all__ = ["HyperParameters", "HyperParameter", "Int", "Float", "Choice", "Boolean", "Fixed",
           "HyperModel", "Objective", "Oracle", "Trial", "TrialStatus", "Tuner",
           "RandomSearch", "RandomSearchOracle", "BayesianOptimization",
           "BayesianOptimizationOracle", "Hyperband", "HyperbandOracle",
           "OptunaPruningCallback", "errors"]
