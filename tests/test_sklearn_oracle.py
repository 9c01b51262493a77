"""cydl.sklearn's MLPs trained side by side with scikit-learn's own (the oracle).

Both draw the same initial weights, batches and validation split from the same
random_state, so with float32 inputs (sklearn then computes in float32 too) the
loss curves agree to float32 rounding, epoch by epoch, for every solver and
learning-rate rule. L-BFGS: the gradient handed to scipy against float64 central
differences, and the score it reaches against sklearn's lbfgs."""
import numpy as np
import pytest

import cydl
from cydl.sklearn import MLPClassifier, MLPRegressor
from cydl.sklearn._lbfgs import Objective

nn = pytest.importorskip("sklearn.neural_network", reason="scikit-learn is not installed")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")   # ConvergenceWarning


def _digits(dtype=np.float32):
    (xtr, ytr), (xte, yte) = cydl.datasets.digits.load_data()
    f = lambda a: (a.reshape(len(a), -1) / 16.0).astype(dtype)    # noqa: E731
    return f(xtr), ytr, f(xte), yte


def _regression(n=450, outputs=1):
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, (n, 3)).astype(np.float32)
    y = np.sin(x[:, 0]) + 0.5 * x[:, 1] ** 2 - x[:, 2]
    return x, (y if outputs == 1 else np.column_stack([y, x[:, 0] * x[:, 1]]))


_CLF = dict(hidden_layer_sizes=(32,), max_iter=8)
CASES = [
    ("adam", MLPClassifier, _CLF, "digits"),
    ("sgd nesterov", MLPClassifier, dict(_CLF, solver="sgd", learning_rate_init=0.05), "digits"),
    ("sgd invscaling", MLPClassifier, dict(_CLF, solver="sgd", learning_rate="invscaling",
                                           learning_rate_init=0.05), "digits"),
    ("sgd adaptive", MLPClassifier, dict(_CLF, solver="sgd", learning_rate="adaptive",
                                         learning_rate_init=0.2, momentum=0.0, max_iter=40,
                                         n_iter_no_change=2, tol=0.01), "digits"),
    ("binary early stopping", MLPClassifier, dict(hidden_layer_sizes=(16,), max_iter=30,
                                                  early_stopping=True, n_iter_no_change=3),
     "binary"),
    ("l2, short last batch", MLPRegressor, dict(hidden_layer_sizes=(16, 16), alpha=0.1,
                                                max_iter=10, batch_size=64), "reg"),
    ("two outputs, tanh", MLPRegressor, dict(hidden_layer_sizes=(16,), activation="tanh",
                                             solver="sgd", learning_rate_init=0.01,
                                             max_iter=10), "reg2"),
    ("logistic, no shuffle", MLPRegressor, dict(hidden_layer_sizes=(16,), max_iter=10,
                                                activation="logistic", shuffle=False), "reg"),
]


def _data(kind):
    if kind in ("digits", "binary"):
        x, y, _, _ = _digits()
        return x, (y if kind == "digits" else y % 2)
    return _regression(outputs=2 if kind == "reg2" else 1)


@pytest.mark.parametrize("name,cls,params,kind", CASES, ids=[c[0] for c in CASES])
def test_training_follows_scikit_learn_epoch_by_epoch(name, cls, params, kind):
    X, y = _data(kind)
    ours = cls(random_state=3, **params).fit(X, y)
    ref = getattr(nn, cls.__name__)(random_state=3, **params).fit(X, y)
    assert ours.n_iter_ == ref.n_iter_ and ours.t_ == ref.t_
    np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=2e-4)
    assert ours.loss_ == ours.loss_curve_[-1]
    if ref.validation_scores_ is not None:
        np.testing.assert_allclose(ours.validation_scores_, ref.validation_scores_, atol=0.02)
    for a, b in zip(ours.coefs_ + ours.intercepts_, ref.coefs_ + ref.intercepts_):
        np.testing.assert_allclose(a, b, rtol=0, atol=2e-3)
    assert abs(ours.score(X, y) - ref.score(X, y)) < 1e-3


def test_max_iter_20_converges_as_scikit_learn():
    """check_regressors_train's data: MLPRegressor(max_iter=20) must reach R^2 > 0.5.
    Same initial weights and batches as sklearn's: the same score, per seed."""
    checks = pytest.importorskip("sklearn.utils.estimator_checks")
    from sklearn.preprocessing import scale
    X, y = checks._regression_dataset()
    y = scale(y)
    for seed in (0, 1, 2):
        ours = MLPRegressor(max_iter=20, alpha=0.01, random_state=seed).fit(X, y)
        ref = nn.MLPRegressor(max_iter=20, alpha=0.01, random_state=seed).fit(X, y)
        assert ours.score(X, y) == pytest.approx(ref.score(X, y), abs=1e-4)
    assert MLPRegressor(max_iter=20, alpha=0.01, random_state=0).fit(X, y).score(X, y) > 0.5


def test_learning_rate_rules():
    X, y, _, _ = _digits()
    lr0, power_t = 0.05, 0.3
    ours = MLPClassifier(hidden_layer_sizes=(8,), solver="sgd", learning_rate="invscaling",
                         learning_rate_init=lr0, power_t=power_t, random_state=0)
    ref = nn.MLPClassifier(hidden_layer_sizes=(8,), solver="sgd", learning_rate="invscaling",
                           learning_rate_init=lr0, power_t=power_t, random_state=0)
    for epoch in range(1, 4):
        ours.partial_fit(X, y, classes=np.arange(10))
        ref.partial_fit(X, y, classes=np.arange(10))
        # the published formula: eta = eta0 / (t + 1) ** power_t, t samples seen
        expect = lr0 / (epoch * len(X) + 1) ** power_t
        assert ours._rate.value == pytest.approx(expect, rel=1e-12)
        assert ref._optimizer.learning_rate == pytest.approx(expect, rel=1e-12)
        # the rate the epoch just trained with is the previous epoch's
        used = lr0 / ((epoch - 1) * len(X) + 1) ** power_t
        assert float(ours.model_.optimizer.learning_rate) == pytest.approx(used, rel=1e-12)
    np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=2e-4)
    # adaptive: divided by 5 after n_iter_no_change + 1 epochs without improvement
    kw = dict(hidden_layer_sizes=(8,), solver="sgd", learning_rate="adaptive", momentum=0.0,
              learning_rate_init=0.5, n_iter_no_change=1, tol=0.05, max_iter=25, random_state=0)
    ours, ref = MLPClassifier(**kw).fit(X, y), nn.MLPClassifier(**kw).fit(X, y)
    assert ours._rate.value == pytest.approx(ref._optimizer.learning_rate, rel=1e-12)
    assert ours._rate.value < 0.5 and ours.n_iter_ == ref.n_iter_
    k = round(np.log(0.5 / ours._rate.value) / np.log(5))
    assert ours._rate.value == pytest.approx(0.5 / 5 ** k, rel=1e-12) and k >= 1


def _finite_differences(f, x, eps=1e-6):
    grad = np.empty_like(x)
    for i in range(len(x)):
        e = np.zeros_like(x)
        e[i] = eps
        grad[i] = (f(x + e)[0] - f(x - e)[0]) / (2 * eps)
    return grad


@pytest.mark.parametrize("cls,outputs", [(MLPRegressor, 2), (MLPClassifier, 2),
                                          (MLPClassifier, 3)],
                         ids=["regressor, 2 outputs", "binary", "3 classes"])
def test_lbfgs_gradient_is_the_derivative_of_the_loss(cls, outputs):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((40, 4))
    y = rng.standard_normal((40, 2)) if cls is MLPRegressor else rng.integers(0, outputs, 40)
    est = cls(hidden_layer_sizes=(5, 3), activation="tanh", solver="lbfgs", alpha=0.3,
              max_iter=2, random_state=0).fit(X, y)
    assert est.coefs_[0].dtype == np.float64
    f = Objective(est, *est._validate(X, y, incremental=False))
    x0 = f.x0()
    loss, grad = f(x0)
    np.testing.assert_allclose(grad, _finite_differences(f, x0), rtol=1e-6, atol=1e-8)
    f.set(x0)                   # the differences left the weights beside x0
    # the loss is sklearn's objective at these weights (for several regression
    # outputs, the half squared error summed over them, whose gradient sklearn uses)
    from sklearn import metrics
    l2 = 0.3 / 2 * sum(float((w ** 2).sum()) for w in est.coefs_) / len(X)
    if cls is MLPRegressor:
        data = 0.5 * metrics.mean_squared_error(y, est.predict(X), multioutput="raw_values").sum()
    else:
        data = metrics.log_loss(y, est.predict_proba(X), labels=est.classes_)
    assert loss == pytest.approx(data + l2, rel=1e-10)


def test_lbfgs_reaches_scikit_learns_score():
    xtr, ytr, xte, yte = _digits(np.float64)
    kw = dict(hidden_layer_sizes=(32,), solver="lbfgs", max_iter=60, random_state=0)
    ours, ref = MLPClassifier(**kw).fit(xtr, ytr), nn.MLPClassifier(**kw).fit(xtr, ytr)
    assert ours.n_iter_ <= 60 and ours.loss_ == pytest.approx(ref.loss_, rel=0.2)
    assert ours.score(xte, yte) >= ref.score(xte, yte) - 0.01
    X, y = _regression(300)
    X = X.astype(np.float64)
    kw = dict(hidden_layer_sizes=(16, 16), activation="tanh", solver="lbfgs", max_iter=200,
              random_state=0)
    ours = MLPRegressor(**kw).fit(X[:200], y[:200])
    ref = nn.MLPRegressor(**kw).fit(X[:200], y[:200])
    assert ours.score(X[200:], y[200:]) >= ref.score(X[200:], y[200:]) - 0.01
    assert not hasattr(ours, "loss_curve_")
    # max_fun and max_iter stop it, with scikit-learn's ConvergenceWarning
    from sklearn.exceptions import ConvergenceWarning
    for limit in ({"max_fun": 5}, {"max_iter": 3}):
        with pytest.warns(ConvergenceWarning, match="lbfgs"):
            short = MLPRegressor(**dict(kw, **limit)).fit(X[:200], y[:200])
        assert short.n_iter_ <= 5


_SW_CASES = [
    ("adam, early stopping", MLPClassifier, dict(hidden_layer_sizes=(16,), max_iter=8,
                                                 early_stopping=True), "digits"),
    ("sgd, L2, short last batch", MLPClassifier,
     dict(hidden_layer_sizes=(16,), solver="sgd", alpha=0.5, batch_size=64, max_iter=6,
          learning_rate_init=0.05), "digits"),
    ("two outputs, early stopping", MLPRegressor,
     dict(hidden_layer_sizes=(16,), max_iter=8, alpha=0.1, early_stopping=True), "reg2"),
]


@pytest.mark.parametrize("name,cls,params,kind", _SW_CASES, ids=[c[0] for c in _SW_CASES])
def test_sample_weight_follows_scikit_learn(name, cls, params, kind):
    # scikit-learn >= 1.7: each batch's weighted mean loss, the L2 term over the
    # batch's sum of weights, weighted validation scores (cydl had no sample_weight)
    X, y = _data(kind)
    sw = np.random.default_rng(4).uniform(0, 3, len(X))
    sw[::7] = 0.0
    ours = cls(random_state=3, **params).fit(X, y, sample_weight=sw)
    ref = getattr(nn, cls.__name__)(random_state=3, **params).fit(X, y, sample_weight=sw)
    assert ours.n_iter_ == ref.n_iter_
    np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=2e-4)
    if ref.validation_scores_ is not None:
        np.testing.assert_allclose(ours.validation_scores_, ref.validation_scores_, atol=1e-3)
    for a, b in zip(ours.coefs_ + ours.intercepts_, ref.coefs_ + ref.intercepts_):
        np.testing.assert_allclose(a, b, rtol=0, atol=2e-3)
    # a weight of 0 is the row left out (one full batch, so exactly the same steps)
    full = dict(params, batch_size=len(X), early_stopping=False, max_iter=4)
    kept = sw > 0
    a = cls(random_state=0, **full).fit(X, y, sample_weight=kept.astype(float))
    b = cls(random_state=0, **full).fit(X[kept], y[kept])
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-5)


@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_lbfgs_sample_weight_is_scikit_learns_objective(cls):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((60, 4))
    y = rng.standard_normal((60, 2)) if cls is MLPRegressor else rng.integers(0, 3, 60)
    sw = rng.uniform(0, 2, 60)
    kw = dict(hidden_layer_sizes=(5,), activation="tanh", solver="lbfgs", alpha=0.3,
              max_iter=3, random_state=0)
    est = cls(**kw).fit(X, y, sample_weight=sw)
    f = Objective(est, *est._validate(X, y, incremental=False), sample_weight=sw)
    x0 = f.x0()
    loss, grad = f(x0)
    np.testing.assert_allclose(grad, _finite_differences(f, x0), rtol=1e-6, atol=1e-8)
    f.set(x0)
    from sklearn import metrics
    l2 = 0.3 / 2 * sum(float((w ** 2).sum()) for w in est.coefs_) / sw.sum()
    if cls is MLPRegressor:
        data = 0.5 * metrics.mean_squared_error(y, est.predict(X), sample_weight=sw,
                                                multioutput="raw_values")
        # the objective sums the outputs (its gradient is sklearn's); loss_ is, as
        # sklearn reports it, their mean (it was the sum: twice sklearn's loss_)
        assert loss == pytest.approx(data.sum() + l2, rel=1e-10)
        assert est.loss_ == pytest.approx(data.mean() + l2, rel=1e-10)
    else:
        data = metrics.log_loss(y, est.predict_proba(X), sample_weight=sw,
                                labels=est.classes_)
        assert loss == pytest.approx(data + l2, rel=1e-10)
        assert est.loss_ == pytest.approx(data + l2, rel=1e-10)
    ref = getattr(nn, cls.__name__)(**kw).fit(X, y, sample_weight=sw)
    if cls is MLPClassifier:        # one objective: the same steps
        np.testing.assert_allclose(est.coefs_[0], ref.coefs_[0], atol=1e-6)


@pytest.mark.parametrize("params", [dict(solver="sgd", alpha=0.1, batch_size=64),
                                    dict(early_stopping=True), dict(solver="lbfgs")],
                         ids=["sgd", "adam early stopping", "lbfgs"])
def test_multilabel_follows_scikit_learn(params):
    # a 0/1 indicator matrix (scikit-learn's multilabel) was refused: "y must be 1-D"
    datasets = pytest.importorskip("sklearn.datasets")
    X, Y = datasets.make_multilabel_classification(200, 6, n_classes=4, random_state=0)
    X = X / 10.0
    kw = dict(params, hidden_layer_sizes=(8,), max_iter=12, random_state=0)
    ours, ref = MLPClassifier(**kw).fit(X, Y), nn.MLPClassifier(**kw).fit(X, Y)
    assert ours.out_activation_ == ref.out_activation_ == "logistic"
    np.testing.assert_array_equal(ours.classes_, ref.classes_)
    assert ours.n_iter_ == ref.n_iter_ and ours.loss_ == pytest.approx(ref.loss_, rel=1e-6)
    if getattr(ref, "validation_scores_", None) is not None:
        np.testing.assert_allclose(ours.validation_scores_, ref.validation_scores_)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-6)
    pred = ours.predict(X)
    np.testing.assert_array_equal(pred, ref.predict(X))
    assert pred.shape == Y.shape and ours.score(X, Y) == ref.score(X, Y)
    with pytest.raises(ValueError, match="3 labels"):
        ours.set_params(warm_start=True).fit(X, Y[:, :3])
