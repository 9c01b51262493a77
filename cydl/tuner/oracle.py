"""Oracle: hands out trials and records their results, in an Optuna study.

Optuna does the searching: the oracle's sampler (RandomSampler, TPESampler, ...)
picks each trial's values (those of the space known so far when the trial starts, as
keras_tuner; new ones as `build(hp)` asks for them), and its pruner (Hyperband) stops
trials early. The study lives in an Optuna storage (by default an SQLite file
in directory/project_name), so a search survives its process and several processes
can share it (see _study.py)."""
import contextlib
import random

import optuna

from cydl._checks import integer
from cydl.tuner import _ending, _study
from cydl.tuner._display import Display
from cydl.tuner._liveness import heartbeat
from cydl.tuner._oracle_results import OracleResults
from cydl.tuner._storage import is_local_sqlite, make_storage, prepare_project, project_lock
from cydl.tuner.hyperparameters import HyperParameters
from cydl.tuner.objective import create_objective
from cydl.tuner.samplers import PerTrialSampler
from cydl.tuner.trial import Trial, TrialStatus, format_id, record_metrics


def _positive(value, name, allow_none=False, low=1):
    """An int >= low: TypeError for another type, ValueError below `low`."""
    return integer(value, name, low=low, allow_none=allow_none)


class Oracle(OracleResults):
    """Base oracle: the objective, the trial budget and the Optuna study.

    Args:
        objective: a metric name (direction inferred), an `Objective`, or a list of
            them; None: minimize the float `HyperModel.fit` returns, else "val_loss".
        max_trials: how many trials the search runs in all (resumed or shared).
        hyperparameters: a HyperParameters registered in advance: these override the
            hypermodel's entries of the same name (e.g. a `Fixed` value).
        allow_new_entries: False: the hypermodel may ask only for those entries.
        tune_new_entries: False: other entries take their default.
        seed: seeds the sampling (each trial from (seed, trial number)); None: random.
        max_retries_per_trial: re-runs of a trial whose `build`/`fit` raised.
        max_consecutive_failed_trials: the search stops (RuntimeError) after this
            many failed trials in a row.
        sampler: an Optuna sampler to use instead of the tuner's (not seeded per trial).
    """

    def __init__(self, objective=None, max_trials=None, hyperparameters=None,
                 allow_new_entries=True, tune_new_entries=True, seed=None,
                 max_retries_per_trial=0, max_consecutive_failed_trials=3, sampler=None):
        self.objective = create_objective(objective)
        self.max_trials = _positive(max_trials, "max_trials", allow_none=True)
        if hyperparameters is None and not (tune_new_entries and allow_new_entries):
            raise ValueError("If you set `tune_new_entries=False` or `allow_new_entries=False`"
                             ", you must specify the search space via the `hyperparameters` "
                             "argument.")
        # given in advance: sampled at the start of every trial, with the rest of the
        # space seen so far (`_known`) unless tune_new_entries=False
        self.hyperparameters = (hyperparameters or HyperParameters()).copy()
        self._known = self.hyperparameters.copy()
        self.allow_new_entries, self.tune_new_entries = allow_new_entries, tune_new_entries
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError(f"`seed` must be an int or None. Received: seed={seed!r}")
        self.seed = seed
        self.max_retries_per_trial = _positive(max_retries_per_trial, "max_retries_per_trial",
                                               low=0)
        self.max_consecutive_failed_trials = _positive(max_consecutive_failed_trials,
                                                       "max_consecutive_failed_trials")
        self._sampler = sampler
        self.verbose = 1
        self.study = self.storage = None
        self.ongoing_trials = {}
        self._failures = 0
        self._display = Display(self)

    # ----------------------------------------------------------- what subclasses set
    def _n_trials(self):
        if self.max_trials is None:
            raise ValueError("`max_trials` must be a positive int: the study queues that many "
                             "trials for its workers. Received: max_trials=None")
        return self.max_trials

    def _sampler_factory(self):
        return optuna.samplers.RandomSampler

    def _pruner(self):
        return optuna.pruners.NopPruner()

    # ----------------------------------------------------------- the study
    def _set_project_dir(self, directory, project_name, storage=None, overwrite=False):
        self._project_dir = prepare_project(directory, project_name, storage, overwrite)
        self._study_name, self._storage_arg = project_name, storage

    def _open(self):
        """Create or load the study; True when it was loaded (a resumed search)."""
        n = self._n_trials()
        seed = self.seed if self.seed is not None else random.randint(1, 10000)
        direction = "maximize" if self.objective.direction == "max" else "minimize"
        config = {"objective": str(self.objective), "direction": direction,
                  "n_trials": n, "seed": seed}
        # processes starting together must not create SQLite's tables, or the study, twice
        with self._lock():
            self.storage = make_storage(self._storage_arg, self._project_dir)
            study, stored = _study.open_study(self.storage, self._study_name, direction,
                                              self._make_sampler(seed), self._pruner(), n, config)
        if stored is not None:
            _study.check_resumed(stored, config, self._study_name, self._project_dir)
            if self.seed is None:        # a worker joining without a seed uses the study's
                study.sampler = self._make_sampler(stored["seed"])
        # keras_tuner pads trial ids to the width of max_trials (of "None": Hyperband)
        self.study, self._width = study, len(str(self.max_trials))
        self._cursor = 0        # the first trial number that may still be queued
        return stored is not None

    def _lock(self):
        """The project's lock file for an SQLite study (see _study.py), else nothing."""
        if is_local_sqlite(self._storage_arg):
            return project_lock(self._project_dir)
        return contextlib.nullcontext()

    def _make_sampler(self, seed):
        return self._sampler or PerTrialSampler(self._sampler_factory(), seed)

    # ----------------------------------------------------------- trial life cycle
    def create_trial(self, tuner_id):
        """Claim the next queued trial: a RUNNING Trial, or a STOPPED one when none is left."""
        with self._lock():
            trial_id, self._cursor = _study.claim_or_recover(self.study, self.storage,
                                                             self._cursor)
        if trial_id is None:
            return Trial(HyperParameters(), status=TrialStatus.STOPPED)
        # an RDB storage's cache must know the trial before parameters are set on it (the
        # claim read it by number only): one read of the trials new or unfinished since
        self.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
        live = optuna.trial.Trial(self.study, trial_id)
        hp = self.hyperparameters.copy()
        if self.tune_new_entries:     # as keras_tuner: all the space known so far, up front
            hp.merge(self._known)
        hp._trial, hp._tune_new, hp._allow_new = live, self.tune_new_entries, \
            self.allow_new_entries
        hp._populate()
        trial = Trial(hp, trial_id=format_id(live.number, self._width))
        trial.number, trial._live = live.number, live
        trial._heartbeat = heartbeat(self.storage, trial_id)
        trial._heartbeat.__enter__()
        self.ongoing_trials[tuner_id] = trial
        self._display.on_trial_begin(trial)
        return trial

    def update_trial(self, trial_id, metrics, step=0):
        """Record a running trial's metrics (a dict holding the objective) at `step`."""
        trial = next(t for t in self.ongoing_trials.values() if t.trial_id == trial_id)
        if self.objective.name not in metrics:
            raise ValueError(f"Objective value missing in metrics reported to the Oracle, "
                             f"expected: {self.objective.name}, found: {sorted(metrics)}")
        record_metrics(trial, metrics, step, self.objective)
        trial._reported, trial.best_step = dict(metrics), step
        return trial

    def score_trial(self, trial):
        """The trial's score: the objective's best recorded value (None if none)."""
        if not trial.metrics.exists(self.objective.name):
            trial.score = None
            return
        trial.score = trial.metrics.get_best_value(self.objective.name)
        trial.best_step = trial.metrics.get_best_step(self.objective.name)

    def end_trial(self, trial, interrupted=False):
        """Write the trial's results to the study; re-queue it when it was interrupted."""
        _ending.end_trial(self, trial, interrupted)
