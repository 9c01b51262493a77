"""cydl.wrappers: SKLearnClassifier / SKLearnRegressor / SKLearnTransformer, Keras 3's
scikit-learn wrappers for cydl models.

scikit-learn's own estimator checks, Keras 3 itself as the oracle for the target
encoding and the shapes it gives back, real learning (blobs, a linear map) with every
classifier encoding, clone keeping fit_kwargs (Keras 3.15 drops them), Pipeline,
GridSearchCV and cross_validate with worker processes, RandomizedSearchCV, warm_start,
metadata routing, and the errors for bad input."""
import os
import pickle
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn", reason="cydl.wrappers wraps models for scikit-learn")
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import make_blobs  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import (GridSearchCV, RandomizedSearchCV,  # noqa: E402
                                     cross_validate)
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import cydl  # noqa: E402
from cydl import layers  # noqa: E402
from cydl.wrappers import SKLearnClassifier, SKLearnRegressor, SKLearnTransformer  # noqa: E402

from _keras_oracle import run_keras  # noqa: E402  (tests/ is on sys.path)

QUIET = {"verbose": 0}


# ---------------------------------------------------------------- build functions
# module-level, so that the wrappers pickle into GridSearchCV's worker processes
def build(X, y, loss="categorical_crossentropy", out="softmax", hidden=16, act="relu",
          units=None, lr=0.02, seed=0):
    """An MLP whose output width follows y (as Keras's own test model), or `units`."""
    if seed is not None:    # reproducible fits for scikit-learn's checks
        cydl.utils.set_random_seed(seed)
    model = cydl.Sequential([layers.Input(shape=(X.shape[1],)),
                             layers.Dense(hidden, activation=act),
                             layers.Dense(units or y.shape[1], activation=out)])
    model.compile(loss=loss, optimizer=cydl.optimizers.Adam(lr))
    return model


def build_recording(X, y, record, **kwargs):
    record.append(np.array(y, copy=True))
    return build(X, y, **kwargs)


def build_without_data(width=3):
    model = cydl.Sequential([layers.Input(shape=(4,)), layers.Dense(width, activation="softmax")])
    model.compile(loss="categorical_crossentropy", optimizer="adam")
    return model


def build_uncompiled(X, y):
    return cydl.Sequential([layers.Input(shape=(X.shape[1],)), layers.Dense(y.shape[1])])


def build_nothing(X, y):
    return None


class StartWeights(cydl.callbacks.Callback):
    """The weights a fit starts from."""

    def on_train_begin(self, logs=None):
        self.weights = [w.copy() for w in self.model.get_weights()]


def blobs(n=150, classes=("cat", "dog", "emu"), seed=0):
    X, idx = make_blobs(n_samples=n, centers=len(classes), n_features=4, cluster_std=1.0,
                        random_state=seed)
    return X, np.asarray(classes)[idx]


def linear(n=200, outputs=1, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    y = X @ rng.normal(size=(5, outputs)) + 0.5
    return X, (y[:, 0] if outputs == 1 else y)


# ---------------------------------------------------------------- scikit-learn's checks
# Expected failures, each for a reason that holds for Keras 3's wrappers too (Keras
# marks both checks expected-failing in keras/src/wrappers/sklearn_test.py).
_DECISION = ("decision_function returns the model's raw outputs, one column per class, as "
             "Keras's does; scikit-learn wants a 1-D score for two classes")
EXPECTED_FAILED = {"SKLearnClassifier": {"check_classifiers_train": _DECISION,
                                         "check_classifiers_classes": _DECISION}}


@parametrize_with_checks(
    [SKLearnClassifier(build, fit_kwargs={"epochs": 10, **QUIET}),
     SKLearnRegressor(build, model_kwargs={"loss": "mse", "out": "linear"}, fit_kwargs=QUIET),
     SKLearnTransformer(build, model_kwargs={"loss": "mse", "out": "linear"},
                        fit_kwargs=QUIET)],
    expected_failed_checks=lambda est: EXPECTED_FAILED.get(type(est).__name__, {}),
    xfail_strict=True)
def test_scikit_learn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(estimator)


# ---------------------------------------------------------------- Keras 3 as the oracle
_KERAS = """
from keras.wrappers import SKLearnClassifier, SKLearnRegressor
from sklearn.base import clone
seen = []
def build(X, y, loss="categorical_crossentropy"):
    seen.append(np.asarray(y).tolist())
    m = keras.Sequential([keras.Input((X.shape[1],)), keras.layers.Dense(y.shape[1])])
    m.compile(loss=loss, optimizer="adam")
    return m
X, labels, t = np.array(data["X"]), np.array(data["labels"]), np.array(data["t"])
clf = SKLearnClassifier(build, fit_kwargs=data["fit_kwargs"]).fit(X, labels)
dec, pred = clf.decision_function(X), clf.predict(X)
reg = SKLearnRegressor(build, model_kwargs={"loss": "mse"}, fit_kwargs=data["fit_kwargs"])
reg.fit(X, t)
result = {"y_seen": seen[0], "classes": clf.classes_.tolist(), "pred": pred.tolist(),
          "argmax": clf.classes_[dec.argmax(axis=1)].tolist(), "dec_shape": list(dec.shape),
          "clone_fit_kwargs": clone(clf).get_params()["fit_kwargs"],
          "reg_y_seen_shape": list(np.shape(seen[1])),
          "reg_pred_shape": list(reg.predict(X).shape)}
"""


def test_target_encoding_and_shapes_match_keras():
    X, labels = blobs(n=12, classes=("b", "c", "a"))
    t = X[:, 0] * 2.0
    fit_kwargs = {"epochs": 2, **QUIET}
    k = run_keras(_KERAS, {"X": X.tolist(), "labels": labels.tolist(), "t": t.tolist(),
                           "fit_kwargs": fit_kwargs}, float64=False)
    seen = []
    clf = SKLearnClassifier(build_recording, model_kwargs={"record": seen, "out": "linear"},
                            fit_kwargs=fit_kwargs).fit(X, labels)
    # the build function sees the very targets Keras's does: one-hot in sorted class order
    np.testing.assert_array_equal(seen[0], np.array(k["y_seen"]))
    assert clf.classes_.tolist() == k["classes"] == ["a", "b", "c"]
    # predictions are the labels themselves: the class of the largest raw output
    dec, pred = clf.decision_function(X), clf.predict(X)
    assert list(dec.shape) == k["dec_shape"]
    assert k["pred"] == k["argmax"] and set(k["pred"]) <= set(k["classes"])
    assert pred.tolist() == clf.classes_[dec.argmax(axis=1)].tolist()
    # a regressor's 1-D targets reach the model as one column and come back 1-D
    seen.clear()
    reg = SKLearnRegressor(build_recording, model_kwargs={"record": seen, "loss": "mse",
                                                          "out": "linear"},
                           fit_kwargs=fit_kwargs).fit(X, t)
    assert list(seen[0].shape) == k["reg_y_seen_shape"]
    assert list(reg.predict(X).shape) == k["reg_pred_shape"]
    # Keras 3.15's clone drops fit_kwargs (its searches then train one epoch); ours keeps them
    assert clone(clf).get_params()["fit_kwargs"] == fit_kwargs
    assert k["clone_fit_kwargs"] in (None, fit_kwargs)


# ---------------------------------------------------------------- fit_kwargs and clone
def test_clone_keeps_fit_kwargs():
    X, y = blobs(n=40)
    est = clone(SKLearnClassifier(model=build, fit_kwargs={"epochs": 7, **QUIET}))
    est.fit(X, y)
    assert est.history_.epoch == list(range(7)) and len(est.history_.history["loss"]) == 7
    assert est.epoch_ == 7


def test_fit_arguments_take_precedence_and_leave_fit_kwargs_alone():
    X, y = blobs(n=40)
    fit_kwargs = {"epochs": 3, **QUIET}
    est = SKLearnClassifier(build, fit_kwargs=fit_kwargs)
    assert est.fit(X, y, epochs=2).history_.epoch == [0, 1]
    assert est.fit_kwargs == {"epochs": 3, **QUIET} and est.fit_kwargs is fit_kwargs
    assert est.fit(X, y).history_.epoch == [0, 1, 2]     # (Keras 3.15 would keep epochs=2)


def test_grid_search_with_worker_processes_trains_the_requested_epochs():
    X, y = blobs(n=80)
    est = SKLearnClassifier(build, fit_kwargs={"epochs": 3, **QUIET})
    grid = [{"hidden": h, "act": a} for h in (4, 16) for a in ("relu", "tanh")]
    search = GridSearchCV(est, {"model_kwargs": grid}, cv=2, n_jobs=2).fit(X, y)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_params_["model_kwargs"] in grid
    best = search.best_estimator_
    assert best.history_.epoch == [0, 1, 2]
    assert best.model_.layers[0].units == search.best_params_["model_kwargs"]["hidden"]


def test_fitted_wrappers_come_back_from_worker_processes():
    X, y = blobs(n=80)
    est = SKLearnClassifier(build, fit_kwargs={"epochs": 4, **QUIET})
    cv = cross_validate(est, X, y, cv=2, n_jobs=2, return_estimator=True)
    for fitted, score in zip(cv["estimator"], cv["test_score"]):
        assert fitted.history_.epoch == [0, 1, 2, 3]
        assert fitted.score(X, y) >= 0.0 and np.isfinite(score)
        np.testing.assert_array_equal(pickle.loads(pickle.dumps(fitted)).predict(X),
                                      fitted.predict(X))


def test_randomized_search_over_a_pipeline():
    X, t = linear(n=120)
    pipe = make_pipeline(StandardScaler(), SKLearnRegressor(
        build, model_kwargs={"loss": "mse", "out": "linear"}, fit_kwargs={"epochs": 2, **QUIET}))
    search = RandomizedSearchCV(
        pipe, {"sklearnregressor__model_kwargs": [{"loss": "mse", "out": "linear", "hidden": h}
                                                  for h in (4, 8, 16)]},
        n_iter=2, cv=2, random_state=0).fit(X, t)
    assert len(search.cv_results_["params"]) == 2
    assert search.best_estimator_[-1].history_.epoch == [0, 1]


# ---------------------------------------------------------------- learning
@pytest.mark.parametrize("kwargs, classes", [
    ({"loss": "categorical_crossentropy"}, ("cat", "dog", "emu")),
    ({"loss": "sparse_categorical_crossentropy"}, ("cat", "dog", "emu")),
    ({"loss": "binary_crossentropy", "out": "sigmoid", "units": 1}, ("no", "yes")),
    ({"loss": cydl.losses.BinaryCrossentropy(from_logits=True), "out": "linear", "units": 1},
     ("no", "yes")),
    ({"loss": "categorical_crossentropy"}, (-1, 7)),
], ids=["categorical", "sparse", "sigmoid", "logits", "two-columns"])
def test_classifier_learns_with_each_encoding(kwargs, classes):
    X, y = blobs(n=200, classes=classes, seed=3)
    seen = []
    clf = SKLearnClassifier(build_recording, model_kwargs={"record": seen, **kwargs},
                            fit_kwargs={"epochs": 30, **QUIET})
    clf.fit(X[:150], y[:150])
    # the build function always sees one-hot targets, whatever the loss trains on
    assert seen[0].shape == (150, len(classes))
    np.testing.assert_array_equal(seen[0].argmax(axis=1), np.searchsorted(sorted(classes), y[:150]))
    pred = clf.predict(X[150:])
    assert pred.dtype == np.asarray(classes).dtype and set(pred) <= set(classes)
    assert clf.score(X[150:], y[150:]) > 0.9


def test_decision_function_agrees_with_predict():
    X, y = blobs(n=60, classes=("a", "b"))
    for out in ("softmax", "linear"):
        clf = SKLearnClassifier(build, model_kwargs={"loss": "binary_crossentropy", "out": out},
                                fit_kwargs={"epochs": 1, **QUIET}).fit(X, y)
        dec = clf.decision_function(X)
        assert dec.shape == (60, 2)
        np.testing.assert_array_equal(clf.classes_[dec.argmax(axis=1)], clf.predict(X))


@pytest.mark.parametrize("outputs", [1, 2])
def test_regressor_learns_one_or_several_targets(outputs):
    X, t = linear(n=250, outputs=outputs)
    reg = SKLearnRegressor(build, model_kwargs={"loss": "mse", "out": "linear", "act": "linear"},
                           fit_kwargs={"epochs": 40, **QUIET}).fit(X[:200], t[:200])
    pred = reg.predict(X[200:])
    assert pred.shape == t[200:].shape and pred.dtype == np.float64
    assert reg.score(X[200:], t[200:]) > 0.9


def test_transformer_feeds_a_pipeline():
    X, names = blobs(n=200, seed=5)
    y = np.searchsorted(["cat", "dog", "emu"], names)       # a Pipeline hands y to each step
    pipe = make_pipeline(StandardScaler(), SKLearnTransformer(
        build, model_kwargs={"loss": "sparse_categorical_crossentropy", "units": 3},
        fit_kwargs={"epochs": 30, **QUIET}), LogisticRegression())
    pipe.fit(X[:150], y[:150])
    assert pipe[:-1].transform(X[:5]).shape == (5, 3)
    assert pipe.score(X[150:], y[150:]) > 0.9


def test_frozen_transformer_is_not_trained_again():
    frozen = pytest.importorskip("sklearn.frozen", reason="FrozenEstimator: scikit-learn >= 1.6")
    X, t = linear(n=60, outputs=2)
    trs = SKLearnTransformer(build, model_kwargs={"loss": "mse", "out": "linear"},
                             fit_kwargs={"epochs": 2, **QUIET}).fit(X, t)
    before = trs.model_.get_weights()
    pipe = make_pipeline(frozen.FrozenEstimator(trs), LogisticRegression())
    pipe.fit(X, (t[:, 0] > t[:, 0].mean()).astype(int))
    for a, b in zip(before, trs.model_.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(pipe[0].transform(X), trs.model_.predict(X))


# ---------------------------------------------------------------- warm_start
def _fit_from(est, X, y):
    """Fit est; return the weights that fit started from."""
    cb = StartWeights()
    est.fit(X, y, callbacks=[cb])
    return cb.weights


def _same(a, b):
    return len(a) == len(b) and all(np.array_equal(u, v) for u, v in zip(a, b))


@pytest.mark.parametrize("warm_start", [False, True])
def test_warm_start_goes_on_and_cold_start_rebuilds(warm_start):
    X, y = blobs(n=40)
    est = SKLearnClassifier(build, warm_start=warm_start, model_kwargs={"seed": None},
                            fit_kwargs={"epochs": 3, **QUIET})
    _fit_from(est, X, y)
    first, trained = est.model_, est.model_.get_weights()
    start = _fit_from(est, X, y)
    assert _same(start, trained) is warm_start
    assert (est.model_ is first) is warm_start
    assert est.epoch_ == (6 if warm_start else 3) and est.history_.epoch == [0, 1, 2]


@pytest.mark.parametrize("warm_start", [False, True])
def test_a_model_instance_is_cloned_or_trained_on_from_its_weights(warm_start):
    X, y = blobs(n=40)
    given = build(X, np.eye(3)[:40], seed=1)
    given.compile(loss="categorical_crossentropy", optimizer=cydl.optimizers.SGD(0.05),
                  metrics=["accuracy"])
    weights = given.get_weights()
    est = SKLearnClassifier(given, warm_start=warm_start, fit_kwargs={"epochs": 2, **QUIET})
    start = _fit_from(est, X, y)
    assert _same(start, weights) is warm_start      # a clone starts from fresh weights
    assert est.model_ is not given and _same(given.get_weights(), weights)   # not mutated
    assert isinstance(est.model_.optimizer, cydl.optimizers.SGD)
    assert float(est.model_.optimizer.learning_rate) == pytest.approx(0.05)
    assert "accuracy" in est.history_.history
    assert est.score(X, y) >= 0.0


def test_warm_start_keeps_the_classes_and_features_of_the_first_fit():
    X, y = blobs(n=40)
    est = SKLearnClassifier(build, warm_start=True, fit_kwargs=QUIET).fit(X, y)
    with pytest.raises(ValueError, match="unseen labels"):
        est.fit(X, np.where(y == "cat", "cow", y))
    with pytest.raises(ValueError, match="features"):
        est.fit(X[:, :3], y)


# ---------------------------------------------------------------- build functions, routing
def test_a_build_function_that_takes_no_data_gets_only_model_kwargs():
    X, y = blobs(n=30)
    est = SKLearnClassifier(build_without_data, model_kwargs={"width": 3}, fit_kwargs=QUIET)
    assert est.fit(X, y).predict(X).shape == (30,)


def test_sample_weight_is_routed_to_the_model_when_requested():
    X, y = blobs(n=30)
    with sklearn.config_context(enable_metadata_routing=True):
        clf = SKLearnClassifier(build, fit_kwargs=QUIET).set_fit_request(sample_weight=True)
        pipe = make_pipeline(StandardScaler().set_fit_request(sample_weight=False), clf)
        pipe.fit(X, y, sample_weight=np.zeros(30))
        # every sample weighs 0: the weighted loss is exactly 0
        assert pipe[-1].history_.history["loss"] == [0.0]
        with pytest.raises(Exception, match="sample_weight"):
            make_pipeline(SKLearnClassifier(build, fit_kwargs=QUIET)).fit(
                X, y, sample_weight=np.ones(30))
    with pytest.raises(RuntimeError, match="metadata routing"):
        SKLearnClassifier(build).set_fit_request(sample_weight=True)


@pytest.mark.parametrize("loss", ["categorical_crossentropy", "sparse_categorical_crossentropy"])
def test_labels_in_validation_data_and_class_weight_are_encoded(loss):
    # they reached model.fit as labels: strings failed ("`y` must be numeric"), and
    # class_weight failed for one-hot targets and for any label that is not an index
    from sklearn.metrics import log_loss
    X, y = blobs(n=120, classes=("cat", "dog", "emu"), seed=5)
    clf = SKLearnClassifier(build, model_kwargs={"loss": loss},
                            fit_kwargs={"epochs": 3, **QUIET,
                                        "validation_data": (X[100:], y[100:, None])})
    clf.fit(X[:100], y[:100])
    # the oracle: scikit-learn's log loss of the final model on the validation labels
    expected = log_loss(y[100:], clf.model_.predict(X[100:], verbose=0), labels=clf.classes_)
    assert clf.history_.history["val_loss"][-1] == pytest.approx(expected, rel=1e-4)
    # class_weight keyed by label is the per-row weight it stands for
    weights = {"cat": 3.0, "dog": 0.5, "emu": 1.0}
    by_label = SKLearnClassifier(build, model_kwargs={"loss": loss},
                                 fit_kwargs={"epochs": 3, **QUIET}).fit(
        X, y, class_weight=weights, sample_weight=np.full(120, 2.0))
    by_row = SKLearnClassifier(build, model_kwargs={"loss": loss},
                               fit_kwargs={"epochs": 3, **QUIET}).fit(
        X, y, sample_weight=2.0 * np.array([weights[c] for c in y]))
    assert by_label.history_.history["loss"] == by_row.history_.history["loss"]
    from sklearn.utils.class_weight import compute_class_weight
    balanced = compute_class_weight("balanced", classes=np.unique(y[:90]), y=y[:90])
    a = SKLearnClassifier(build, model_kwargs={"loss": loss}, fit_kwargs={"epochs": 2, **QUIET})
    b = clone(a)
    a.fit(X[:90], y[:90], class_weight="balanced")
    b.fit(X[:90], y[:90], sample_weight=balanced[np.searchsorted(a.classes_, y[:90])])
    assert a.history_.history["loss"] == b.history_.history["loss"]
    with pytest.raises(ValueError, match="not in class"):
        clone(a).fit(X, y, class_weight={0: 2.0})           # an index, not a label
    with pytest.raises(ValueError, match="unseen labels"):
        clone(a).fit(X, y, validation_data=(X[:5], ["cat", "owl", "cat", "dog", "emu"]))


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("est, exc, match", [
    (SKLearnClassifier(5), TypeError, "model=5"),
    (SKLearnClassifier(build_nothing), TypeError, "returned None"),
    (SKLearnRegressor(build_uncompiled), RuntimeError, "needs to be compiled"),
    (SKLearnClassifier(build, model_kwargs=["hidden"]), TypeError, "model_kwargs"),
    (SKLearnClassifier(build, fit_kwargs=3), TypeError, "fit_kwargs=3"),
    (SKLearnClassifier(build, model_kwargs={"X": 1}), ValueError, "'X'"),
    (SKLearnClassifier(build, fit_kwargs={"epochs": -1, **QUIET}), ValueError, "epochs"),
], ids=["not-callable", "not-a-model", "uncompiled", "model_kwargs-list", "fit_kwargs-int",
        "model_kwargs-X", "bad-epochs"])
def test_bad_models_and_arguments_are_named(est, exc, match):
    X, y = blobs(n=20)
    with pytest.raises(exc, match=match):
        est.fit(X, y if isinstance(est, SKLearnClassifier) else X[:, 0])


def test_bad_model_instances_and_targets():
    X, y = blobs(n=20)
    uncompiled = build_uncompiled(X, np.eye(3))
    with pytest.raises(RuntimeError, match="needs to be compiled"):
        SKLearnClassifier(uncompiled).fit(X, y)
    with pytest.raises(ValueError, match="model_kwargs"):
        SKLearnClassifier(build(X, np.eye(3)), model_kwargs={"hidden": 3}).fit(X, y)
    with pytest.raises(ValueError, match="Only binary and multiclass"):
        SKLearnClassifier(build).fit(X, X[:, 0])
    with pytest.raises(ValueError, match="only one class"):
        SKLearnClassifier(build).fit(X, np.full(20, "cat"))
    with pytest.raises(NotFittedError):
        SKLearnClassifier(build).predict(X)
    with pytest.raises(ValueError, match="requires y"):
        SKLearnTransformer(build).fit(X, None)
    with pytest.raises(ValueError, match="NaN"):
        SKLearnRegressor(build).fit(np.full((20, 4), np.nan), X[:, 0])
    reg = SKLearnRegressor(build, model_kwargs={"loss": "mse", "out": "linear"},
                           fit_kwargs=QUIET).fit(X, X[:, 0])
    with pytest.raises(ValueError, match="features"):
        reg.predict(X[:, :2])


def test_without_scikit_learn_the_classes_say_what_to_install():
    code = textwrap.dedent("""
        import sys
        sys.modules["sklearn"] = None            # as if scikit-learn were not installed
        from cydl.wrappers import SKLearnClassifier
        try:
            SKLearnClassifier(print)
        except ImportError as e:
            print(e)
    """)
    here = os.path.dirname(os.path.dirname(os.path.abspath(cydl.__file__)))
    env = dict(os.environ, PYTHONPATH=here)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=os.path.dirname(os.path.abspath(__file__)), timeout=120)
    assert out.returncode == 0, out.stderr
    assert 'pip install "cydl[sklearn]"' in out.stdout
