"""Tuner: runs the trials of a search on cydl models (keras_tuner's Tuner)."""
import os
import traceback
import warnings

import optuna

from cydl import _config
from cydl.tuner import _results, errors
from cydl.tuner._callbacks import TunerCallback, configure_tensorboard_dir
from cydl.tuner._space import populate_initial_space
from cydl.tuner._tuner_hooks import TunerHooks
from cydl.tuner._tuner_results import TunerResults
from cydl.tuner._workers import WorkerRegistry
from cydl.tuner.hypermodel import get_hypermodel
from cydl.tuner.oracle import Oracle, _positive
from cydl.tuner.trial import TrialStatus


class Tuner(TunerResults, TunerHooks):
    """Runs the trials an oracle hands out: build, fit, record, save the best epoch.

    Args:
        oracle: the Oracle (RandomSearch, Hyperband, ... make theirs).
        hypermodel: a HyperModel, or a function `build(hp)` returning a compiled model.
        max_model_size: trials whose built model has more parameters fail.
        optimizer, loss, metrics: override what `build` compiled with.
        directory, project_name: the search lives in directory/project_name (the
            Optuna SQLite study `optuna.db` and each trial's weights).
        overwrite: start over (delete the project); False resumes it.
        executions_per_trial: models trained per trial; the scores are averaged.
        storage: an Optuna storage or database URL (e.g. "postgresql://...") to hold
            the study instead of the SQLite file, for workers on several machines.
        tuner_id: a name for this worker.
    """

    def __init__(self, oracle, hypermodel=None, max_model_size=None, optimizer=None,
                 loss=None, metrics=None, distribution_strategy=None, directory=None,
                 project_name=None, logger=None, tuner_id=None, overwrite=False,
                 executions_per_trial=1, storage=None, **kwargs):
        if kwargs:
            raise ValueError(f"Unrecognized arguments {list(kwargs)} for `Tuner.__init__()`.")
        if not isinstance(oracle, Oracle):
            raise ValueError(f"Expected `oracle` argument to be an instance of `Oracle`. "
                             f"Received: oracle={oracle!r}")
        if hypermodel is None and type(self).run_trial is Tuner.run_trial:
            raise ValueError("Received `hypermodel=None`. We only allow not specifying "
                             "`hypermodel` if the user defines the search space in "
                             "`Tuner.run_trial()` by subclassing a `Tuner` class.")
        if distribution_strategy is not None:
            raise ValueError("cydl trains on the CPU's threads: `distribution_strategy` is "
                             "not supported (run several processes on the study instead)")
        if logger is not None:
            warnings.warn("The `logger` argument is no longer supported and is ignored.",
                          DeprecationWarning, stacklevel=2)
        self.oracle, self.hypermodel = oracle, get_hypermodel(hypermodel)
        self.max_model_size, self.optimizer, self.loss, self.metrics = \
            max_model_size, optimizer, loss, metrics
        self.executions_per_trial = _positive(executions_per_trial, "executions_per_trial")
        self.directory = os.fspath(directory) if directory is not None else "."
        self.project_name = project_name or "untitled_project"
        self.tuner_id = tuner_id or os.environ.get("KERASTUNER_TUNER_ID", "tuner0")
        self._one_thread = False
        oracle._set_project_dir(self.directory, self.project_name, storage, overwrite)
        populate_initial_space(self)
        if oracle._open():
            print(f"Reloading Tuner from {self.project_dir}")

    @property
    def project_dir(self):
        return os.path.join(self.directory, self.project_name)

    # ----------------------------------------------------------- the search
    def search(self, *fit_args, **fit_kwargs):
        """Run the study's queued trials (all of them, or this worker's share): each
        builds a model with the sampled values and trains it with these `fit` arguments
        (callbacks are deep-copied for each trial)."""
        if "verbose" in fit_kwargs:
            self.oracle.verbose = fit_kwargs["verbose"]
        self.on_search_begin()
        self._workers = WorkerRegistry(self.project_dir)
        try:
            self._workers.__enter__()
            while True:
                self.pre_create_trial()
                trial = self.oracle.create_trial(self.tuner_id)
                if trial.status == TrialStatus.STOPPED:
                    break
                self.on_trial_begin(trial)
                self._try_run_and_update_trial(trial, *fit_args, **fit_kwargs)
                self.on_trial_end(trial)
        finally:
            self._workers.__exit__(None, None, None)
            self._workers = None
            if self._one_thread:
                _config.set_num_threads(None)
                self._one_thread = False
        self.on_search_end()

    def _try_run_and_update_trial(self, trial, *fit_args, **fit_kwargs):
        """Run the trial, again with the same values while `max_retries_per_trial`
        allows when it raises (keras_tuner: a crashed trial fails, the search goes on)."""
        for _ in range(self.oracle.max_retries_per_trial + 1):
            try:
                self._match_threads()
                self._run_and_update_trial(trial, *fit_args, **fit_kwargs)
                trial.status = TrialStatus.COMPLETED
                return
            except optuna.TrialPruned:
                logs = [g for g in getattr(trial, "_epoch_logs", [])
                        if self.oracle.objective.has_value(g)]
                if logs:
                    metrics, step = _results.best_epoch(logs, self.oracle.objective)
                    self.oracle.update_trial(trial.trial_id, metrics, step=step)
                trial.status = TrialStatus.PRUNED
                return
            except errors.FatalError:
                self.oracle.end_trial(trial, interrupted=True)
                raise
            except Exception as e:
                trial.message = traceback.format_exc()
                if isinstance(e, errors.FailedTrialError):
                    break
            except BaseException:       # KeyboardInterrupt, SystemExit: re-run it on resume
                self.oracle.end_trial(trial, interrupted=True)
                raise
        trial.status = TrialStatus.FAILED

    def _run_and_update_trial(self, trial, *fit_args, **fit_kwargs):
        results = self.run_trial(trial, *fit_args, **fit_kwargs)
        objective = self.oracle.objective
        _results.validate_trial_results(results, objective, "Tuner.run_trial()")
        self.oracle.update_trial(trial.trial_id,
                                 _results.convert_to_metrics_dict(results, objective),
                                 step=_results.get_best_step(results, objective))

    def run_trial(self, trial, *args, **kwargs):
        """Build and fit `executions_per_trial` models; returns their results."""
        save_best = _results.SaveBestEpoch(self.oracle.objective,
                                           self._get_checkpoint_fname(trial.trial_id))
        original_callbacks = kwargs.pop("callbacks", None) or []
        histories = []
        for execution in range(self.executions_per_trial):
            copied_kwargs = dict(kwargs)
            callbacks = self._deepcopy_callbacks(original_callbacks)
            configure_tensorboard_dir(callbacks, trial, execution)
            tuner_callback = TunerCallback(self, trial, report=execution == 0)
            if execution == 0:
                trial._epoch_logs = tuner_callback.epoch_logs
            # the best epoch is saved before a pruning callback may stop the fit
            copied_kwargs["callbacks"] = callbacks + [save_best, tuner_callback]
            histories.append(self._build_and_fit_model(trial, *args, **copied_kwargs))
        return histories

    def _match_threads(self):
        """One inner thread while other workers of the study search on this host (they
        share its cores), back to the default when alone; unless the user chose a
        thread count (set_num_threads or OMP_NUM_THREADS). Asked at each epoch."""
        workers = getattr(self, "_workers", None)
        if workers is None or os.environ.get("OMP_NUM_THREADS") or \
                (_config._N_THREADS is not None and not self._one_thread):
            return
        crowded = workers.others() > 0
        if crowded != self._one_thread:
            _config.set_num_threads(1 if crowded else None)
            self._one_thread = crowded


