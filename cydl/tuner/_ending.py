"""The end of a trial: its results into the Optuna study, and the re-queueing of a
trial that was interrupted (keras_tuner's end_trial)."""
import math

from optuna.trial import TrialState

from cydl.tuner import _study
from cydl.tuner.trial import TrialStatus


def _attrs(oracle, trial):
    hp = trial.hyperparameters
    return {"hyperparameters": dict(hp.values), "space": hp.get_config()["space"],
            "metrics": getattr(trial, "_reported", {}), "best_step": trial.best_step,
            "score": trial.score, "message": trial.message}


def end_trial(oracle, trial, interrupted=False):
    """Tell the study how the trial ended. `interrupted`: stopped by the user or a
    fatal error, not by its hyper-parameters: FAIL, and a copy is queued to re-run."""
    study, live = oracle.study, trial._live
    try:
        oracle.update_space(trial.hyperparameters)
        if trial.status in (TrialStatus.COMPLETED, TrialStatus.PRUNED) and not interrupted:
            oracle.score_trial(trial)
            if trial.score is None or not math.isfinite(trial.score):
                trial.status = TrialStatus.FAILED
                trial.message = f"The objective {oracle.objective.name} is {trial.score}"
                trial.score = None
        live.set_user_attr("cydl", _attrs(oracle, trial))     # one write: one commit
        if interrupted:
            trial.status = TrialStatus.FAILED
            _study.requeue(study, study.tell(live, state=TrialState.FAIL))
        elif trial.status == TrialStatus.COMPLETED:
            study.tell(live, trial.score)
        elif trial.status == TrialStatus.PRUNED:
            study.tell(live, state=TrialState.PRUNED)
        else:
            study.tell(live, state=TrialState.FAIL)
    finally:
        trial._heartbeat.__exit__(None, None, None)
        for tuner_id, ongoing in list(oracle.ongoing_trials.items()):
            if ongoing is trial:
                del oracle.ongoing_trials[tuner_id]
    if interrupted:
        return
    oracle._display.on_trial_end(trial)
    oracle._failures = oracle._failures + 1 if trial.status == TrialStatus.FAILED else 0
    if oracle._failures >= oracle.max_consecutive_failed_trials:
        raise RuntimeError(f"Number of consecutive failures exceeded the limit of "
                           f"{oracle.max_consecutive_failed_trials}.\n{trial.message or ''}")
