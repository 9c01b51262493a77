"""cydl.sklearn: MLPClassifier / MLPRegressor as scikit-learn estimators.

scikit-learn's own check_estimator suite (at the defaults, at max_iter=20, and for
each solver), real learning (the digits that ship with cydl, a smooth regression),
clone / pickle / deepcopy, GridSearchCV with worker processes, partial_fit,
warm_start, early_stopping, random_state, and the module working without
scikit-learn installed. tests/test_sklearn_oracle.py compares the training itself
with scikit-learn's."""
import copy
import os
import pickle
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import cydl
from cydl import _config
from cydl.sklearn import MLPClassifier, MLPRegressor

HERE = os.path.dirname(os.path.abspath(__file__))
# max_iter is kept small here on purpose
pytestmark = pytest.mark.filterwarnings("ignore:Stochastic Optimizer")


def _digits():
    (xtr, ytr), (xte, yte) = cydl.datasets.digits.load_data()
    return xtr.reshape(len(xtr), -1) / 16.0, ytr, xte.reshape(len(xte), -1) / 16.0, yte


def _regression(n=400, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, (n, 3))
    return x, np.sin(x[:, 0]) + 0.5 * x[:, 1] ** 2 - x[:, 2]


@pytest.mark.parametrize("est", [
    MLPClassifier(), MLPRegressor(), MLPClassifier(max_iter=20), MLPRegressor(max_iter=20),
    MLPClassifier(solver="lbfgs"), MLPRegressor(solver="lbfgs"),
    MLPClassifier(solver="sgd", learning_rate="adaptive")], ids=repr)
def test_scikit_learn_check_estimator(est):
    checks = pytest.importorskip("sklearn.utils.estimator_checks",
                                 reason="scikit-learn is not installed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        checks.check_estimator(est)


def test_classifier_learns_the_digits():
    xtr, ytr, xte, yte = _digits()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")        # ConvergenceWarning at max_iter
        clf = MLPClassifier(hidden_layer_sizes=(64,), max_iter=60, random_state=0).fit(xtr, ytr)
    assert clf.score(xte, yte) > 0.95
    assert clf.classes_.tolist() == list(range(10)) and clf.n_features_in_ == 64
    assert [c.shape for c in clf.coefs_] == [(64, 64), (64, 10)]
    assert clf.n_iter_ == len(clf.loss_curve_) <= 60 and clf.loss_ == clf.loss_curve_[-1]
    assert clf.loss_curve_[-1] < 0.2 * clf.loss_curve_[0]
    proba = clf.predict_proba(xte)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-12)
    np.testing.assert_array_equal(clf.predict(xte), proba.argmax(axis=1))


def test_binary_labels_of_any_type():
    xtr, ytr, xte, yte = _digits()
    keep = (ytr == 3) | (ytr == 8)
    names = np.where(ytr[keep] == 3, "three", "eight")
    clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=60, random_state=1,
                        n_iter_no_change=60).fit(xtr[keep], names)
    assert clf.classes_.tolist() == ["eight", "three"] and clf.out_activation_ == "logistic"
    assert clf.predict_proba(xtr[keep]).shape == (keep.sum(), 2)
    assert clf.score(xtr[keep], names) > 0.95


def test_regressor_fits_a_smooth_function():
    x, y = _regression()
    reg = MLPRegressor(hidden_layer_sizes=(32, 32), max_iter=300, learning_rate_init=0.01,
                       random_state=0).fit(x[:300], y[:300])
    assert reg.score(x[300:], y[300:]) > 0.9
    assert reg.predict(x[:5]).shape == (5,)
    # the reported loss is scikit-learn's: half the mean squared error (+ the L2 term)
    half_mse = 0.5 * np.mean((reg.predict(x[:300]) - y[:300]) ** 2)
    assert reg.loss_ == pytest.approx(half_mse, rel=0.5)


def test_random_state_repeats_and_leaves_the_global_generator_alone():
    x, y = _regression(100)
    before = _config.rng().bit_generator.state
    a = MLPRegressor(hidden_layer_sizes=(8,), max_iter=5, random_state=3).fit(x, y)
    assert _config.rng().bit_generator.state == before
    b = MLPRegressor(hidden_layer_sizes=(8,), max_iter=5, random_state=3).fit(x, y)
    for u, v in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_array_equal(u, v)
    # None: NumPy's global RandomState, as scikit-learn's check_random_state(None)
    np.random.seed(5)
    c = MLPRegressor(hidden_layer_sizes=(8,), max_iter=5).fit(x, y)
    np.random.seed(5)
    d = MLPRegressor(hidden_layer_sizes=(8,), max_iter=5).fit(x, y)
    np.testing.assert_array_equal(c.coefs_[0], d.coefs_[0])
    e = MLPRegressor(hidden_layer_sizes=(8,), max_iter=5, random_state=np.random.RandomState(5))
    np.testing.assert_array_equal(e.fit(x, y).coefs_[0], c.coefs_[0])


def test_clone_pickle_deepcopy():
    sklearn_base = pytest.importorskip("sklearn.base")
    xtr, ytr, xte, _ = _digits()
    clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=5, random_state=0).fit(xtr, ytr)
    fresh = sklearn_base.clone(clf)
    assert fresh.get_params() == clf.get_params() and not hasattr(fresh, "model_")
    for twin in (pickle.loads(pickle.dumps(clf)), copy.deepcopy(clf)):
        np.testing.assert_array_equal(twin.predict_proba(xte), clf.predict_proba(xte))


def test_grid_search_with_worker_processes():
    ms = pytest.importorskip("sklearn.model_selection")
    x, y = _regression(120)
    grid = ms.GridSearchCV(MLPRegressor(max_iter=20, random_state=0),
                           {"hidden_layer_sizes": [(4,), (16,)]}, cv=2, n_jobs=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        grid.fit(x, y)
    assert grid.best_params_["hidden_layer_sizes"] in [(4,), (16,)]
    assert np.isfinite(grid.cv_results_["mean_test_score"]).all()


def test_partial_fit_and_warm_start_go_on():
    xtr, ytr, _, _ = _digits()
    clf = MLPClassifier(hidden_layer_sizes=(16,), random_state=0)
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(xtr, ytr)
    for _ in range(5):
        clf.partial_fit(xtr, ytr, classes=np.arange(10))
    # scikit-learn's n_iter_ counts the epochs of the latest call; loss_curve_ all
    assert clf.n_iter_ == 1 and len(clf.loss_curve_) == 5 and clf.t_ == 5 * len(xtr)
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    with pytest.raises(ValueError, match="not in classes_"):
        clf.partial_fit(xtr[:3], [0, 1, 12])
    warm = MLPClassifier(hidden_layer_sizes=(16,), max_iter=3, warm_start=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warm.fit(xtr, ytr)
        first = warm.coefs_[0].copy()
        warm.fit(xtr, ytr)
    assert warm.n_iter_ == 3 and len(warm.loss_curve_) == 6
    assert not np.array_equal(first, warm.coefs_[0])
    with pytest.raises(ValueError, match="same classes"):
        warm.fit(xtr[ytr < 5], ytr[ytr < 5])
    # lbfgs is not stochastic: no partial_fit, as in scikit-learn
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")
    assert hasattr(MLPClassifier(solver="sgd"), "partial_fit")


def test_early_stopping_keeps_the_best_epoch():
    xtr, ytr, _, _ = _digits()
    clf = MLPClassifier(hidden_layer_sizes=(32,), early_stopping=True, n_iter_no_change=3,
                        max_iter=200, random_state=0).fit(xtr, ytr)
    scores = clf.validation_scores_
    assert clf.best_validation_score_ == max(scores) and clf.best_loss_ is None
    assert clf.n_iter_ == len(scores) < 200           # it stopped
    # it stops after n_iter_no_change + 1 epochs without an improvement by tol
    assert len(scores) - 1 - int(np.argmax(scores)) >= 4
    with pytest.raises(ValueError, match="early_stopping"):
        clf.partial_fit(xtr, ytr)


@pytest.mark.parametrize("params,match", [
    ({"solver": "newton"}, "solver"), ({"hidden_layer_sizes": (0,)}, "hidden_layer_sizes"),
    ({"learning_rate": "cyclic"}, "learning_rate"), ({"alpha": -1.0}, "alpha"),
    ({"max_iter": 0}, "max_iter"), ({"activation": "gelu"}, "activation"),
    ({"batch_size": 0}, "batch_size"), ({"validation_fraction": 1.0}, "validation_fraction"),
    ({"learning_rate_init": float("nan")}, "learning_rate_init"), ({"power_t": -1.0}, "power_t"),
    ({"max_fun": 0}, "max_fun"), ({"momentum": 1.5}, "momentum"), ({"loss": "poisson"}, "loss"),
    ({"shuffle": "no"}, "shuffle"), ({"solver": "lbfgs", "max_fun": 2.5}, "max_fun")], ids=str)
def test_bad_hyperparameters_are_named(params, match):
    x, y = _regression(20)
    with pytest.raises(ValueError, match=match):
        MLPRegressor(**params).fit(x, y)


def test_works_without_scikit_learn():
    code = textwrap.dedent("""
        import sys, warnings
        sys.modules["sklearn"] = None                 # import sklearn fails
        import numpy as np
        from cydl.sklearn import MLPClassifier, MLPRegressor
        rng = np.random.default_rng(0)
        x = rng.random((60, 4)); y = (x[:, 0] > 0.5).astype(int)
        warnings.simplefilter("ignore")
        clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=50, random_state=0).fit(x, y)
        assert clf.get_params()["hidden_layer_sizes"] == (8,)
        assert clf.set_params(alpha=0.1).alpha == 0.1
        assert 0.0 <= clf.score(x, y) <= 1.0
        reg = MLPRegressor(max_iter=5).fit(x, x[:, 0])
        assert reg.predict(x).shape == (60,) and reg.score(x, x[:, 0]) <= 1.0
        reg = MLPRegressor(solver="lbfgs", hidden_layer_sizes=(8,), max_iter=200,
                           random_state=0).fit(x, x[:, 0])
        assert reg.score(x, x[:, 0]) > 0.9
        es = MLPClassifier(max_iter=5, early_stopping=True, random_state=0).fit(x, y)
        assert len(es.validation_scores_) == es.n_iter_
        Y = (x[:, :3] > 0.5).astype(int)           # multilabel: subset accuracy
        ml = MLPClassifier(max_iter=5, random_state=0).fit(x, Y, sample_weight=x[:, 3])
        assert ml.predict(x).shape == (60, 3) and ml.classes_.tolist() == [0, 1, 2]
        assert ml.score(x, Y) == np.mean((ml.predict(x) == Y).all(axis=1))
        from cydl.sklearn import Perceptron
        per = Perceptron().fit(x, y)
        assert per.coef_.shape == (1, 4) and per.score(x, y) > 0.8
        per = Perceptron(class_weight="balanced", early_stopping=True).fit(x, y)
        assert per.n_iter_ >= 1
        try:
            MLPRegressor().predict(x)
        except AttributeError as e:
            assert "not fitted" in str(e)
        else:
            raise AssertionError("predict before fit")
        print("ok")
    """)
    env = dict(os.environ)      # the cydl this test imported, wherever it is
    root = os.path.dirname(os.path.dirname(os.path.abspath(cydl.__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=HERE, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("ok")


def test_partial_fit_keeps_the_networks_dtype():
    # float32 first, float64 next: the network stays float32 and trains on (it raised
    # AttributeError: the converted copy was never compiled); scikit-learn's coefs_
    # keep the first call's dtype too
    x, y = _regression(60)
    reg = MLPRegressor(hidden_layer_sizes=(8,), random_state=0)
    reg.partial_fit(x.astype(np.float32), y)
    before = reg.coefs_[0].copy()
    reg.partial_fit(x, y).partial_fit(x, y)
    assert reg.coefs_[0].dtype == np.float32 and reg.n_iter_ == 1 and reg.t_ == 180
    assert not np.array_equal(before, reg.coefs_[0]) and len(reg.loss_curve_) == 3
    # warm start after lbfgs (float64) goes on in float64, from the same weights
    warm = MLPRegressor(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=5, warm_start=True,
                        random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warm.fit(x.astype(np.float32), y)
        start = warm.coefs_[0].copy()
        warm.set_params(solver="adam", max_iter=2).fit(x.astype(np.float32), y)
    assert warm.coefs_[0].dtype == np.float64 and warm.n_iter_ == 2
    assert np.abs(warm.coefs_[0] - start).max() < 0.01      # two small adam steps on


def test_sample_weight_arguments():
    x, y = _regression(40)
    reg = MLPRegressor(hidden_layer_sizes=(4,), max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for bad, match in ((np.ones(39), "shape"), (np.r_[np.nan, np.ones(39)], "NaN"),
                           (np.zeros(40), "non-zero"), (np.r_[-1.0, np.ones(39)], "non-negative")):
            with pytest.raises(ValueError, match=match):
                reg.fit(x, y, sample_weight=bad)
        # scikit-learn's order: partial_fit(X, y, sample_weight, classes)
        clf = MLPClassifier(hidden_layer_sizes=(4,), random_state=0)
        labels = (y > 0).astype(int)
        clf.partial_fit(x, labels, np.ones(40), [0, 1])
        assert clf.classes_.tolist() == [0, 1] and clf.n_iter_ == 1
        # early stopping's validation rows all weigh 0: a named error, not a division
        # by zero in the weighted score
        es = MLPClassifier(hidden_layer_sizes=(4,), early_stopping=True, random_state=0)
        ms = pytest.importorskip("sklearn.model_selection")
        rs = np.random.RandomState(0)
        rs.uniform(size=3 * 4 + 4 + 4 * 1 + 1)     # the initial weights come first
        _, val = ms.train_test_split(np.arange(40), test_size=0.1, random_state=rs,
                                     stratify=labels)
        w0 = np.ones(40)
        w0[val] = 0.0
        with pytest.raises(ValueError, match="validation set are all zero"):
            es.fit(x, labels, sample_weight=w0)
        # weights 2 and 1 are the rows written twice and once (one full batch)
        w = np.where(np.arange(40) % 2, 2.0, 1.0)
        kw = dict(hidden_layer_sizes=(4,), max_iter=3, batch_size=80, random_state=0)
        a = MLPRegressor(**kw).fit(x, y, sample_weight=w)
        rows = np.repeat(np.arange(40), w.astype(int))
        b = MLPRegressor(**kw).fit(x[rows], y[rows])
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-6)
