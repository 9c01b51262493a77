"""compile(weighted_metrics=...) and per-output metrics, as Keras 3 reads and logs them.

Weighted metrics take fit's sample weights (and class weights); a name that a plain
metric already has is logged as "weighted_<name>". With several outputs, metrics are
a dict by output layer name or a list with one entry per output, logged as
"<output>_<metric>". History keys and values are compared with Keras 3 itself on a
small deterministic problem (same initial weights, SGD, unshuffled batches)."""
import json
import os

import numpy as np
import pytest

import cydl
from _keras_oracle import run_keras  # tests/ is on sys.path

RNG = np.random.default_rng(0)
X = RNG.standard_normal((50, 4))
Y_REG = RNG.standard_normal((50, 1))
Y_CLS = RNG.integers(0, 3, 50)
SW = RNG.uniform(0.1, 2.0, 50)
VAL = slice(0, 20)


def _two_outputs(lib):
    L = lib.layers
    x = L.Input((4,))
    h = L.Dense(6, activation="tanh", name="hidden")(x)
    a = L.Dense(1, name="out_a")(h)
    b = L.Dense(3, activation="softmax", name="out_b")(h)
    return lib.Model(x, [a, b])


def _one_output(lib):
    L = lib.layers
    return lib.Sequential([L.Input((4,)), L.Dense(6, activation="relu"),
                           L.Dense(3, activation="softmax")])


# name -> (model, compile keywords, fit keywords); the same text runs on Keras
CASES = {
    "dicts": ("two", dict(loss=["mse", "sparse_categorical_crossentropy"],
                          metrics={"out_a": ["mae"], "out_b": ["accuracy"]},
                          weighted_metrics={"out_a": ["mae", "mse"], "out_b": "accuracy"}),
              dict(sample_weight=True, validation=True)),
    "lists-one-per-output": ("two", dict(loss=["mse", "sparse_categorical_crossentropy"],
                                         metrics=["mse", ["accuracy"]],
                                         weighted_metrics=[["mae"], "accuracy"]),
                             dict(sample_weight=True, validation=False)),
    "partial-dict": ("two", dict(loss={"out_a": "mse",
                                       "out_b": "sparse_categorical_crossentropy"},
                                 loss_weights={"out_a": 0.3, "out_b": 1.0},
                                 metrics={"out_b": "accuracy"},
                                 weighted_metrics={"out_a": "mae"}),
                     dict(sample_weight=True, validation=True)),
    "single": ("one", dict(loss="sparse_categorical_crossentropy",
                           metrics=["accuracy"],
                           weighted_metrics=["accuracy", "sparse_categorical_accuracy"]),
               dict(sample_weight=True, validation=True)),
    "class-weight": ("one", dict(loss="sparse_categorical_crossentropy",
                                 metrics=["accuracy"], weighted_metrics=["accuracy"]),
                     dict(class_weight={0: 0.5, 1: 2.0, 2: 1.0}, validation=False)),
    "no-sample-weight": ("one", dict(loss="sparse_categorical_crossentropy",
                                     weighted_metrics=["accuracy"]),
                         dict(validation=True)),
}


def _fit_args(model_kind, fit):
    y = [Y_REG, Y_CLS] if model_kind == "two" else Y_CLS
    kw = dict(epochs=3, batch_size=8, shuffle=False, verbose=0)
    if fit.get("sample_weight"):
        kw["sample_weight"] = SW
    if fit.get("class_weight"):
        kw["class_weight"] = fit["class_weight"]
    if fit.get("validation"):
        yv = [Y_REG[VAL], Y_CLS[VAL]] if model_kind == "two" else Y_CLS[VAL]
        kw["validation_data"] = (X[VAL], yv, SW[VAL]) if fit.get("sample_weight") else \
            (X[VAL], yv)
    return y, kw


def run_case(lib, name, weights=None):
    model_kind, compile_kw, fit = CASES[name]
    model = (_two_outputs if model_kind == "two" else _one_output)(lib)
    if weights is not None:
        model.set_weights([np.asarray(w) for w in weights])
    model.compile(optimizer=lib.optimizers.SGD(0.1), **compile_kw)
    y, kw = _fit_args(model_kind, fit)
    h = model.fit(X, y, **kw)
    ev = model.evaluate(X, y, sample_weight=kw.get("sample_weight"), verbose=0,
                        return_dict=True)
    return model, {"history": {k: [float(v) for v in vs] for k, vs in h.history.items()},
                   "evaluate": {k: float(v) for k, v in ev.items()},
                   "weights": [np.asarray(w).tolist() for w in model.get_weights()]}


def _keras_script():
    return f"""
sys.path.insert(0, {json.dumps(os.path.dirname(os.path.abspath(__file__)))})
import test_weighted_metrics as t
result = {{name: t.run_case(keras, name, data[name])[1] for name in data}}
"""


@pytest.fixture(scope="module")
def both():
    cydl.config.set_floatx("float64")
    mine, initial = {}, {}
    for name in CASES:
        cydl.utils.set_random_seed(5)
        model_kind = CASES[name][0]
        initial[name] = [w.tolist() for w in (_two_outputs if model_kind == "two"
                                              else _one_output)(cydl).get_weights()]
        model, mine[name] = run_case(cydl, name, initial[name])
        assert model._runner(train=True).fused, name     # weighted metrics stay fused
    theirs = run_keras(_keras_script(), initial)
    cydl.config.set_floatx("float32")
    return mine, theirs


@pytest.mark.parametrize("name", list(CASES))
def test_history_and_evaluate_match_keras(both, name):
    mine, theirs = both[0][name], both[1][name]
    assert set(mine["history"]) == set(theirs["history"])
    assert set(mine["evaluate"]) == set(theirs["evaluate"])
    # Keras keeps its metric totals in float32 even under floatx float64
    for key, values in mine["history"].items():
        np.testing.assert_allclose(values, theirs["history"][key], rtol=1e-6, atol=1e-7,
                                   err_msg=key)
    for key, value in mine["evaluate"].items():
        np.testing.assert_allclose(value, theirs["evaluate"][key], rtol=1e-6, atol=1e-7,
                                   err_msg=key)
    for a, b in zip(mine["weights"], theirs["weights"]):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_key_names_are_keras_names(both):
    mine = both[0]
    assert set(mine["dicts"]["history"]) == {
        "loss", "out_a_loss", "out_b_loss", "out_a_mae", "out_a_weighted_mae", "out_a_mse",
        "out_b_accuracy", "out_b_weighted_accuracy",
        *("val_" + k for k in ("loss", "out_a_loss", "out_b_loss", "out_a_mae",
                               "out_a_weighted_mae", "out_a_mse", "out_b_accuracy",
                               "out_b_weighted_accuracy"))}
    assert set(mine["lists-one-per-output"]["history"]) == {
        "loss", "out_a_loss", "out_b_loss", "out_a_mse", "out_b_accuracy", "out_a_mae",
        "out_b_weighted_accuracy"}
    assert set(mine["single"]["evaluate"]) == {"loss", "accuracy", "weighted_accuracy",
                                               "sparse_categorical_accuracy"}


def test_weighted_values_are_weighted_means():
    """Against a direct computation: with lr 0 the weights never move, so every
    batch's predictions are the model's predictions."""
    cydl.config.set_floatx("float64")
    cydl.utils.set_random_seed(1)
    model = _two_outputs(cydl)
    model.compile(optimizer=cydl.optimizers.SGD(0.0),
                  loss=["mse", "sparse_categorical_crossentropy"],
                  metrics={"out_a": "mae", "out_b": "accuracy"},
                  weighted_metrics={"out_a": "mae", "out_b": "accuracy"})
    h = model.fit(X, [Y_REG, Y_CLS], sample_weight=SW, batch_size=7, epochs=1, verbose=0)
    a, b = model.predict(X, verbose=0)
    err = np.abs(a - Y_REG).mean(axis=1)
    hit = (b.argmax(axis=1) == Y_CLS).astype(float)
    np.testing.assert_allclose(h.history["out_a_mae"], err.mean(), rtol=1e-12)
    np.testing.assert_allclose(h.history["out_a_weighted_mae"], (SW * err).sum() / SW.sum(),
                               rtol=1e-12)
    np.testing.assert_allclose(h.history["out_b_accuracy"], hit.mean(), rtol=1e-12)
    np.testing.assert_allclose(h.history["out_b_weighted_accuracy"],
                               (SW * hit).sum() / SW.sum(), rtol=1e-12)
    assert abs((SW * hit).sum() / SW.sum() - hit.mean()) > 1e-3     # the weights matter


@pytest.mark.parametrize("name", ["dicts", "single", "class-weight"])
def test_fused_and_graph_runner_agree(name):
    cydl.config.set_floatx("float64")
    results = []
    for eager in (False, True):
        cydl.utils.set_random_seed(5)
        model_kind, compile_kw, fit = CASES[name]
        model = (_two_outputs if model_kind == "two" else _one_output)(cydl)
        model.compile(optimizer=cydl.optimizers.SGD(0.1), run_eagerly=eager, **compile_kw)
        y, kw = _fit_args(model_kind, fit)
        h = model.fit(X, y, **kw)
        assert model._runner(train=True).fused is not eager
        results.append(h.history)
    for key in results[0]:
        np.testing.assert_allclose(results[0][key], results[1][key], rtol=1e-10, err_msg=key)


def test_bad_metric_arguments_are_refused():
    model = _two_outputs(cydl)
    with pytest.raises(TypeError, match="weighted_metrics"):
        model.compile(optimizer="sgd", loss="mse", weighted_metrics=5)
    model.compile(optimizer="sgd", loss=["mse", "sparse_categorical_crossentropy"],
                  weighted_metrics={"out_c": "mae"})
    with pytest.raises(ValueError, match="out_c"):
        model.fit(X, [Y_REG, Y_CLS], verbose=0)
    model.compile(optimizer="sgd", loss=["mse", "sparse_categorical_crossentropy"],
                  metrics=[["mae"], ["accuracy"], ["mse"]])
    with pytest.raises(ValueError, match="3 lists for 2 outputs"):
        model.fit(X, [Y_REG, Y_CLS], verbose=0)
