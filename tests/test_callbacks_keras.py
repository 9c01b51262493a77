"""Callbacks against Keras 3 itself, hook for hook.

tests/keras_hooks_script.py records every hook that fit (2 epochs, validation data,
a partial last batch), evaluate and predict fire, with the batch or epoch index and
the logs, for a Sequential model and a two-output functional model. The same code
runs on Keras (in a subprocess, so KERAS_BACKEND is set before Keras is imported)
and on cydl; the records must agree: the sequence of hooks, their indices, the log
keys at each hook, and the logged numbers (same fixed weights, lr=0 so the weights
never move and every number is a function of the data).
"""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import cydl

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import keras_hooks_script as script  # noqa: E402

KINDS = ("sequential", "functional")
SECTIONS = ("fit", "evaluate", "evaluate_default_batch", "predict", "fit_stopped")


def keras_backend():
    """A backend for the Keras oracle, or a skip naming what is missing."""
    if importlib.util.find_spec("keras") is None:
        pytest.skip("Keras 3 is the oracle of these tests: pip install keras torch (or jax)")
    for name in ("torch", "jax"):
        if importlib.util.find_spec(name) is not None:
            return name
    pytest.skip("the Keras oracle needs a backend: pip install torch (or jax)")


@pytest.fixture(scope="module")
def keras_record(tmp_path_factory):
    backend = keras_backend()
    out = tmp_path_factory.mktemp("keras") / "record.json"
    env = dict(os.environ, KERAS_BACKEND=backend, CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run([sys.executable, str(HERE / "keras_hooks_script.py"), str(out)],
                          env=env, capture_output=True, text=True, timeout=600)
    if proc.returncode == 3:
        pytest.skip("the installed Keras is older than 3: the oracle is Keras 3")
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(out) as f:
        return json.load(f)


@pytest.fixture(scope="module")
def cydl_record():
    # through JSON like Keras' record, so both sides are compared in the same form
    return json.loads(json.dumps({kind: script.record(cydl, kind) for kind in KINDS}))


def hooks(events):
    return [(e["hook"], e["index"], None if e["logs"] is None else sorted(e["logs"]))
            for e in events]


@pytest.mark.parametrize("section", SECTIONS)
@pytest.mark.parametrize("kind", KINDS)
def test_hook_sequence_and_log_keys_match_keras(keras_record, cydl_record, kind, section):
    ours, theirs = hooks(cydl_record[kind][section]), hooks(keras_record[kind][section])
    assert len(ours) == len(theirs), (ours, theirs)
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert a == b, f"{kind} {section}: event {i}: cydl {a} != Keras {b}"


def numbers(value):
    """(structure, flat values) of a recorded logs value."""
    if isinstance(value, float):
        return "number", np.array([value])
    if "list" in value:
        parts = [numbers(v) for v in value["list"]]
        return ("list", [p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    return ("array", np.shape(value["array"])), np.ravel(value["array"])


@pytest.mark.parametrize("section", SECTIONS)
@pytest.mark.parametrize("kind", KINDS)
def test_logged_values_match_keras(keras_record, cydl_record, kind, section):
    for i, (a, b) in enumerate(zip(cydl_record[kind][section], keras_record[kind][section])):
        for key in b["logs"] or {}:
            (sa, va), (sb, vb) = numbers(a["logs"][key]), numbers(b["logs"][key])
            where = f"{kind} {section} event {i} {a['hook']}({a['index']}) {key}"
            assert sa == sb, f"{where}: structure {sa} != Keras {sb}"
            np.testing.assert_allclose(va, vb, rtol=2e-5, atol=2e-6, err_msg=where)


@pytest.mark.parametrize("kind", KINDS)
def test_history_after_stop_training_matches_keras(keras_record, cydl_record, kind):
    ours, theirs = cydl_record[kind]["history"], keras_record[kind]["history"]
    assert sorted(ours) == sorted(theirs)
    for key in theirs:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=2e-5, atol=2e-6, err_msg=key)


def _cross_entropy(probs, labels):
    probs = np.asarray(probs, np.float64)
    return -np.log(probs[np.arange(len(labels)), labels])


def _train_batch_losses(events):
    return [e["logs"]["loss"] for e in events if e["hook"] == "on_train_batch_end"]


@pytest.mark.parametrize("name", ["cydl", "keras"])
def test_batch_logs_hold_the_running_mean_of_the_epoch(keras_record, cydl_record, name):
    """Keras 3's batch-level logs hold the mean over the epoch so far, not the
    batch's own loss (the book's learning-rate finder relies on it). Derived from
    each library's own predictions: with lr=0 the loss of every sample is known."""
    record = (cydl_record if name == "cydl" else keras_record)["sequential"]
    x, labels, _ = script.data()
    probs = np.reshape(record["outputs"]["array"], (len(x), -1))
    per_sample = _cross_entropy(probs, labels)[:script.N_TRAIN]
    ends = np.minimum(np.arange(1, 4) * script.BATCH, script.N_TRAIN)    # 4, 8, 10
    running = np.cumsum(per_sample)[ends - 1] / ends
    starts = np.concatenate([[0], ends[:-1]])
    own = np.array([per_sample[a:b].mean() for a, b in zip(starts, ends)])
    # the data tell the two meanings apart, so the check below can fail
    assert np.abs(running - own)[1:].max() > 1e-3
    logged = _train_batch_losses(record["fit"])
    np.testing.assert_allclose(logged, np.tile(running, 2), rtol=2e-5, atol=2e-6)


def test_evaluate_with_callbacks_gives_the_values_without(cydl_record):
    """The hooks change how evaluate batches, not what it returns."""
    x, labels, _ = script.data()
    model = script.build(cydl, "sequential")
    plain = model.evaluate(x, labels, verbose=0, return_dict=True)
    watched = cydl_record["sequential"]["evaluate_default_batch"][-1]["logs"]
    assert sorted(plain) == sorted(watched)
    for key in plain:
        np.testing.assert_allclose(watched[key], plain[key], rtol=1e-6, err_msg=key)


def test_predict_with_callbacks_gives_the_outputs_without(cydl_record):
    x, _, _ = script.data()
    model = script.build(cydl, "functional")
    plain = model.predict(x, verbose=0)
    batches = [e["logs"]["outputs"]["list"] for e in cydl_record["functional"]["predict"]
               if e["hook"] == "on_predict_batch_end"]
    for k in range(2):
        joined = np.concatenate([np.asarray(b[k]["array"]) for b in batches])
        np.testing.assert_allclose(joined, plain[k], rtol=1e-6, atol=1e-7)


def test_output_names_match_keras(keras_record, cydl_record):
    ours, theirs = cydl_record["functional"]["output_names"], \
        keras_record["functional"]["output_names"]
    assert ours == theirs
