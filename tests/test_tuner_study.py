"""cydl.tuner's Optuna study: a search resumes after Ctrl-C or a killed process with
exactly max_trials completed (the interrupted values run again), two processes
share one SQLite study without running a trial twice (and take one thread each
while both run), and a study keeps its objective and size."""
import json
import os
import subprocess
import sys

import pytest

optuna = pytest.importorskip("optuna", reason="cydl.tuner needs Optuna: pip install 'cydl[tuner]'")

import cydl  # noqa: E402
import cydl.tuner as kt  # noqa: E402
import tuner_worker  # noqa: E402
from tuner_worker import blobs, build_model  # noqa: E402

(X_TRAIN, Y_TRAIN), VALID = blobs()
HERE = os.path.dirname(os.path.abspath(__file__))
COMPLETE, FAIL = optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL


def _worker(*args):
    """Start tests/tuner_worker.py with the cydl this process imported."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(cydl.__file__)))
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    env["PYTHONPATH"] = os.pathsep.join([root] + [p for p in [env.get("PYTHONPATH")] if p])
    # run from tests/: from the repository root the child could import an unbuilt tree
    return subprocess.Popen([sys.executable, os.path.join(HERE, "tuner_worker.py"),
                             *map(str, args)], cwd=HERE, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _study(directory, project):
    path = os.path.join(directory, project, "optuna.db")
    return optuna.load_study(study_name=project, storage=f"sqlite:///{path}")


def _search(directory, project, max_trials=4, callbacks=(), tuner_class=kt.RandomSearch):
    tuner = tuner_class(build_model, objective="val_accuracy", max_trials=max_trials, seed=3,
                        directory=directory, project_name=project)
    tuner.search(X_TRAIN, Y_TRAIN, epochs=2, validation_data=VALID, verbose=0,
                 callbacks=list(callbacks))
    return tuner


def _values(study):
    return sorted(json.dumps(t.params, sort_keys=True) for t in study.trials
                  if t.state == COMPLETE)


def test_ctrl_c_then_resume(tmp_path):
    reference = _values(_search(tmp_path, "reference").oracle.study)

    class CtrlC(cydl.callbacks.Callback):
        def on_train_begin(self, logs=None):
            # the third trial: two are complete
            if len(_study(tmp_path, "resumed").get_trials(states=(COMPLETE,))) == 2:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _search(tmp_path, "resumed", callbacks=[CtrlC()])
    study = _study(tmp_path, "resumed")
    assert [t.state for t in study.trials[:3]] == [COMPLETE, COMPLETE, FAIL]
    interrupted = study.trials[2].params
    tuner = _search(tmp_path, "resumed")
    study = tuner.oracle.study
    assert len(study.get_trials(states=(COMPLETE,))) == 4
    rerun = [t for t in study.trials if t.user_attrs.get("retry_of") == 2]
    assert len(rerun) == 1 and rerun[0].params == interrupted and rerun[0].state == COMPLETE
    # the resumed search ran exactly the values of an uninterrupted one
    assert _values(study) == reference
    assert len(tuner.oracle.get_best_trials(10)) == 5       # the failed one comes last
    assert tuner.oracle.get_best_trials(10)[-1].status == "FAILED"


def test_killed_worker_then_resume(tmp_path):
    proc = _worker(tmp_path, "killed", "--max-trials", 3, "--hang-in-trial", 1)
    for line in proc.stdout:
        if line.startswith("HANGING"):
            break
    proc.kill()
    proc.communicate()
    study = _study(tmp_path, "killed")
    assert [t.state.name for t in study.trials] == ["COMPLETE", "RUNNING", "WAITING"]
    killed = study.trials[1].params
    tuner = _search(tmp_path, "killed", max_trials=3)
    study = tuner.oracle.study
    assert [t.state.name for t in study.trials] == ["COMPLETE", "FAIL", "COMPLETE", "COMPLETE"]
    assert study.trials[3].params == killed and study.trials[3].user_attrs["retry_of"] == 1


def test_two_processes_share_a_study(tmp_path):
    # both start on a fresh folder: one creates the study, the other joins it; each waits
    # after its first epoch until the other runs a trial too, so they overlap
    procs = [_worker(tmp_path, "shared", "--max-trials", 6, "--wait-peer") for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs[0][1][-2000:] + outputs[1][1][-2000:]
    ran = [json.loads(out.strip().splitlines()[-1])["trials"] for out, _ in outputs]
    assert all(ran) and sum(len(r) for r in ran) == 6
    numbers = [t["number"] for r in ran for t in r]
    assert sorted(numbers) == list(range(6))                 # no trial ran twice
    study = _study(tmp_path, "shared")
    assert len(study.get_trials(states=(COMPLETE,))) == 6 == len(study.trials)
    # the values depend on the seed and the trial number only: as one process would
    reference = _search(tmp_path, "alone", max_trials=6).oracle.study
    assert _values(study) == _values(reference)
    # while both ran, each trained on one thread (epoch 2 of each first trial)
    assert [r[0]["threads"][1] for r in ran] == [1, 1]


def test_one_worker_keeps_its_threads(tmp_path):
    tuner = tuner_worker.Worker(build_model, objective="val_accuracy", max_trials=1,
                                directory=tmp_path, project_name="alone")
    probe = tuner_worker._Probe(tuner, wait_peer=False, hang_in=None)
    tuner.search(X_TRAIN, Y_TRAIN, epochs=2, validation_data=VALID, verbose=0,
                 callbacks=[probe])
    assert tuner.ran[0]["threads"] == [cydl.get_num_threads()] * 2


def test_study_keeps_its_objective_and_grows(tmp_path):
    _search(tmp_path, "p", max_trials=2)
    tuner = _search(tmp_path, "p", max_trials=3)          # one more trial
    assert len(tuner.oracle.study.get_trials(states=(COMPLETE,))) == 3
    with pytest.raises(ValueError, match="created for 3 trials"):
        kt.RandomSearch(build_model, objective="val_accuracy", max_trials=2,
                        directory=tmp_path, project_name="p")
    with pytest.raises(ValueError, match="created with objective"):
        kt.RandomSearch(build_model, objective="val_loss", max_trials=3,
                        directory=tmp_path, project_name="p")
    fresh = kt.RandomSearch(build_model, objective="val_loss", max_trials=1, overwrite=True,
                            directory=tmp_path, project_name="p")
    assert fresh.remaining_trials == 1 and len(fresh.oracle.study.trials) == 1


def test_storage_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    tuner = kt.RandomSearch(build_model, objective="val_accuracy", max_trials=1, seed=0,
                            directory=tmp_path, project_name="p", storage=url)
    tuner.search(X_TRAIN, Y_TRAIN, epochs=1, validation_data=VALID, verbose=0)
    assert not os.path.exists(tmp_path / "p" / "optuna.db")
    study = optuna.load_study(study_name="p", storage=url)
    assert len(study.get_trials(states=(COMPLETE,))) == 1
    assert tuner.get_best_models()[0].evaluate(*VALID, verbose=0)[1] == pytest.approx(
        study.best_value, abs=1e-12)


def test_missing_optuna_names_the_extra():
    code = ("import sys; sys.modules['optuna'] = None\n"
            "try:\n    import cydl.tuner\nexcept ImportError as e:\n    print(e)\n")
    root = os.path.dirname(os.path.dirname(os.path.abspath(cydl.__file__)))
    out = subprocess.run([sys.executable, "-c", code], cwd=HERE, capture_output=True,
                         text=True, env=dict(os.environ, PYTHONPATH=root), timeout=120).stdout
    assert 'pip install "cydl[tuner]"' in out
