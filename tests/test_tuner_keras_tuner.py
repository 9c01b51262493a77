"""cydl.tuner against keras_tuner itself: the same probe code runs on keras_tuner (one
subprocess, KERAS_BACKEND set before Keras is imported) and on cydl.tuner here, and
the observations must agree: HyperParameters' defaults, grids, configs and errors,
conditional scopes, objectives, metrics tracking, the summaries, the best trials and
Hyperband's schedule. Nothing trains: the searches score the hyper-parameters."""
import importlib.util
import json
import os
import re
import subprocess
import sys

import pytest

optuna = pytest.importorskip("optuna", reason="cydl.tuner needs Optuna: pip install 'cydl[tuner]'")

import cydl.tuner as kt  # noqa: E402
from _tuner_probe import probe  # noqa: E402  (tests/ is on sys.path)
from _tuner_probe_hyperband import HYPERBAND_SETTINGS  # noqa: E402

# Where cydl's metric directions depart from keras_tuner's, name: (keras_tuner's, cydl's).
# Higher is better for these metrics, but keras_tuner minimizes them (Keras knows them,
# and they are not on keras_tuner's list) or fails on them (Keras cannot build them
# from their name alone):
_HIGHER_IS_BETTER = {n: ("min", "max") for n in (
    "f1_score", "val_f1_score", "f_beta_score", "r2_score", "cosine_similarity",
    "pearson_correlation", "concordance_correlation", "binary_io_u")}
_HIGHER_IS_BETTER.update({n: ("error", "max") for n in (
    "io_u", "mean_io_u", "one_hot_io_u", "one_hot_mean_io_u", "precision_at_recall",
    "recall_at_precision", "sensitivity_at_specificity", "specificity_at_sensitivity")})
DIRECTION_DEPARTURES = {
    **_HIGHER_IS_BETTER,
    "fbeta_score": (None, "max"),          # Keras' FBetaScore logs under this name
    "rmse": (None, "min"), "huber_loss": (None, "min"),      # cydl's names
    # (keras_tuner minimizes any name Keras resolves, these generic ones too: cydl asks
    # for an Objective with a direction instead)
    "mean": ("min", None), "sum": ("min", None)}


def _run_keras_tuner(payload):
    """probe(keras_tuner, ...) in a subprocess; its observations as JSON."""
    if importlib.util.find_spec("keras_tuner") is None:
        pytest.skip("keras_tuner is the oracle of these tests: pip install keras-tuner")
    backend = next((b for b in ("torch", "jax") if importlib.util.find_spec(b)), None)
    if backend is None:
        pytest.skip("keras_tuner on Keras 3 needs a backend: pip install torch (or jax)")
    here = os.path.dirname(os.path.abspath(__file__))
    code = ("import json, sys\n"
            "try:\n    import keras_tuner\nexcept ImportError as e:\n"
            "    print(e, file=sys.stderr); sys.exit(3)\n"
            "from _tuner_probe import probe\n"
            f"kwargs = json.loads({json.dumps(json.dumps(payload))})\n"
            "print('RESULT ' + json.dumps(probe(keras_tuner, 'keras_tuner', **kwargs)))")
    path = [here] + [p for p in [os.environ.get("PYTHONPATH")] if p]
    env = dict(os.environ, KERAS_BACKEND=backend, CUDA_VISIBLE_DEVICES="",
               PYTHONPATH=os.pathsep.join(path))
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=600, cwd=here)
    # installed but not importable is a broken oracle, not a reason to skip
    assert proc.returncode != 3, (f"keras_tuner is installed but does not import with "
                                  f"KERAS_BACKEND={backend}: {proc.stderr.strip()[-300:]}")
    assert proc.returncode == 0, proc.stderr[-4000:]
    line = next(x for x in reversed(proc.stdout.splitlines()) if x.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


@pytest.fixture(scope="module")
def observed(tmp_path_factory):
    """(keras_tuner's observations, cydl.tuner's): one subprocess for all the tests."""
    payload = {"directory": str(tmp_path_factory.mktemp("keras_tuner"))}
    oracle = _run_keras_tuner(payload)
    payload["directory"] = str(tmp_path_factory.mktemp("cydl"))
    mine = json.loads(json.dumps(probe(kt, "cydl", **payload)))
    return oracle, mine


def test_hyperparameter_defaults_values_and_configs(observed):
    oracle, mine = observed
    assert mine["returned"] == oracle["returned"]
    assert mine["values"] == oracle["values"]          # names, order, types
    assert mine["configs"] == oracle["configs"]        # what search_space_summary prints


def test_grids(observed):
    oracle, mine = observed
    for name, values in oracle["grids"].items():
        assert mine["grids"][name] == pytest.approx(values, rel=1e-12), name


def test_bad_arguments_raise_the_same_errors(observed):
    oracle, mine = observed
    assert set(mine["errors"]) == set(oracle["errors"])
    for case, outcome in oracle["errors"].items():
        assert mine["errors"][case] == outcome, case


def test_conditional_scopes(observed):
    oracle, mine = observed
    assert mine["conditional"] == oracle["conditional"]


def test_objectives(observed):
    oracle, mine = observed
    assert mine["objectives"] == oracle["objectives"]
    assert set(mine["directions"]) == set(oracle["directions"])
    for name, direction in oracle["directions"].items():
        expected = DIRECTION_DEPARTURES.get(name, (direction, direction))
        assert (direction, mine["directions"][name]) == expected, name


def test_metrics_tracking(observed):
    oracle, mine = observed
    assert mine["metrics"] == oracle["metrics"]


def test_trial_summary(observed):
    oracle, mine = observed
    assert mine["trial_summary"] == oracle["trial_summary"]


def test_search_results(observed):
    oracle, mine = observed
    assert mine["search"] == oracle["search"]


def _layout(lines):
    """The lines without the values and scores (they differ: the libraries draw other
    values), the conditional hyper-parameter (there when "tanh" was drawn), blank
    lines and terminal escapes (keras_tuner "clears" the output between trials)."""
    kept = []
    for line in lines:
        line = re.sub(r"\x1b\[\d*K|\r", "", line)
        if not line.strip() or re.match(r"slope: |\S+ +\|\S+ +\|slope$", line):
            continue
        line = re.sub(r"^(units|activation): .*", r"\1: <value>", line)
        line = re.sub(r"^\S+ +\|\S+ +\|", "<value> |<best> |", line)
        kept.append(re.sub(r"\d+(\.\d*)?(e-?\d+)?", "N", line))
    return kept


def test_summaries_and_progress(observed):
    oracle, mine = observed
    assert mine["search_space_summary"] == oracle["search_space_summary"]
    assert _layout(mine["results_summary"]) == _layout(oracle["results_summary"])
    assert len(_layout(oracle["results_summary"])) == 4 + 3 * 5
    assert _layout(mine["progress"]) == _layout(oracle["progress"])
    assert len(_layout(oracle["progress"])) == 5 * 8


@pytest.mark.parametrize("setting", range(len(HYPERBAND_SETTINGS)))
def test_hyperband_schedule(observed, setting):
    """Brackets, their sizes and epochs: keras_tuner's formulas; as many trials as
    keras_tuner has configurations."""
    oracle, mine = observed
    theirs, ours = oracle["hyperband"][setting], mine["hyperband"][setting]
    assert ours["schedule"] == theirs["schedule"]
    assert len(ours["configurations"]) == len(theirs["configurations"])


@pytest.mark.parametrize("setting", range(len(HYPERBAND_SETTINGS)))
def test_hyperband_epochs_per_trial(observed, setting):
    """The pruning is Optuna's HyperbandPruner, not keras_tuner's rounds, so the epochs
    differ trial by trial (documented in tuners.HyperbandOracle). What holds for both:
    no configuration trains past max_epochs, some train to it, and when keras_tuner
    stops some configurations early with these scores, Optuna does too."""
    oracle, mine = observed
    theirs, ours = oracle["hyperband"][setting], mine["hyperband"][setting]
    max_epochs = HYPERBAND_SETTINGS[setting][0]
    for order in ("shuffled", "best_first"):
        kt_epochs, cydl_epochs = theirs["epochs"][order], ours["epochs"][order]
        assert len(cydl_epochs) == len(kt_epochs)
        assert all(1 <= e <= max_epochs for e in cydl_epochs)
        assert max(cydl_epochs) == max_epochs
    if min(theirs["epochs"]["shuffled"]) < max_epochs:
        assert min(ours["epochs"]["shuffled"]) < max_epochs
