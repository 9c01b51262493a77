"""The Optuna study behind a search: created with its queue of trials, the claims of
the workers, and the re-queueing of the trials of dead workers.

Exactly `n` trials: the process that creates the study enqueues `n` WAITING trials,
and every worker claims one by moving it WAITING -> RUNNING in the storage, so
processes on one or many machines split the trials and none runs twice. A server
database makes the move atomic (the storage reads the trial FOR UPDATE); SQLite does
not (Python's sqlite3 opens the write transaction after the read), so on SQLite
the claims of the processes of one machine take turns under a lock file (oracle.py).
A trial whose worker died (see _liveness.py) is marked FAIL and a copy with the same
parameters is queued: it re-runs, as keras_tuner re-runs an interrupted trial."""
import time
import warnings

import optuna
from optuna.trial import TrialState

from cydl.tuner._liveness import alive_here, worker_tag

_CONFIG = "cydl_tuner"  # the study's user attr: what it was created with (set last)
_WORKER = "cydl:worker"  # a trial's system attr: "host:pid:process start time"


def open_study(storage, name, direction, sampler, pruner, n_trials, config):
    """Create the study with `n_trials` queued trials, or load it (returning the config
    it was created with) and queue more when `n_trials` grew."""
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)   # no "A new study created" line
    try:
        study = optuna.create_study(storage=storage, study_name=name, direction=direction,
                                    sampler=sampler, pruner=pruner)
        created = True
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(study_name=name, storage=storage, sampler=sampler,
                                  pruner=pruner)
        created = False
    finally:
        optuna.logging.set_verbosity(verbosity)
    if created:
        for _ in range(n_trials):
            study.enqueue_trial({})
        study.set_user_attr(_CONFIG, config)        # last: the queue is complete
        return study, None
    for _ in range(600):      # its creator may still be filling the queue
        stored = study.user_attrs.get(_CONFIG)
        if stored is not None:
            break
        time.sleep(0.1)
    else:
        raise RuntimeError(f"The study {name!r} exists but was never set up by cydl.tuner "
                           f"(its creator died?): pass overwrite=True to start over")
    if n_trials > stored["n_trials"]:
        for _ in range(n_trials - stored["n_trials"]):
            study.enqueue_trial({})
        study.set_user_attr(_CONFIG, {**stored, "n_trials": n_trials})
    return study, stored


def check_resumed(stored, config, name, project_dir):
    """ValueError when a loaded study was created for another objective, or more trials."""
    for key in ("objective", "direction"):
        if stored[key] != config[key]:
            raise ValueError(f"The study {name!r} in {project_dir} was created with {key} "
                             f"{stored[key]}, not {config[key]}: pass overwrite=True to start "
                             f"over, or another project_name")
    if config["n_trials"] < stored["n_trials"]:
        raise ValueError(f"The study {name!r} was created for {stored['n_trials']} trials; it "
                         f"cannot shrink to {config['n_trials']}: pass overwrite=True to start "
                         f"over")


def requeue(study, frozen):
    """Queue a copy of an interrupted trial with the same parameters (Optuna's
    heartbeat_stale_trial_callback signature)."""
    study.enqueue_trial(dict(frozen.params), user_attrs={"retry_of": frozen.number})


def _trial_id(study, storage, frozen):
    study_id = storage.get_study_id_from_name(study.study_name)
    return storage.get_trial_id_from_study_id_trial_number(study_id, frozen.number)


def recover_dead_trials(study, storage):
    """FAIL and re-queue the RUNNING trials whose worker is gone."""
    with warnings.catch_warnings():       # "experimental" since Optuna 2.9, and still there
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)          # heartbeat: any host
    for frozen in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        tag = frozen.system_attrs.get(_WORKER)
        if tag is None or alive_here(tag) is not False:
            continue
        try:
            won = storage.set_trial_state_values(_trial_id(study, storage, frozen),
                                                 state=TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:
            won = False              # another worker got there first, and re-queued it
        if won:
            requeue(study, frozen)


def claim_or_recover(study, storage, cursor):
    """claim_trial; when the queue is empty, re-queue the trials of dead workers first."""
    trial_id, cursor = claim_trial(study, storage, cursor)
    if trial_id is None:
        recover_dead_trials(study, storage)
        trial_id, cursor = claim_trial(study, storage, cursor)
    return trial_id, cursor


def claim_trial(study, storage, cursor=0):
    """Move the first WAITING trial numbered `cursor` or later to RUNNING for this
    process: (its id or None, the next cursor). Trials are tried by number, two
    queries each, so a claim costs the same however long the queue (reading the
    queued trials would cost a query per queued trial)."""
    study_id = storage.get_study_id_from_name(study.study_name)
    while True:
        try:
            trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, cursor)
        except KeyError:
            return None, cursor
        cursor += 1
        try:       # False: another worker claimed it; finished: it ran already
            if storage.set_trial_state_values(trial_id, state=TrialState.RUNNING):
                storage.set_trial_system_attr(trial_id, _WORKER, worker_tag())
                return trial_id, cursor
        except optuna.exceptions.UpdateFinishedTrialError:
            pass
