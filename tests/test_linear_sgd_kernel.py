"""The perceptron's SGD kernel (cydl._kernels._linear_sgd) against its pure-NumPy
twin (cydl.sklearn._sgd_reference, sklearn's _plain_sgd sample by sample), bit for
bit, over drawn problems: float32/float64, C/F-ordered and strided rows, sample
weights of any sign, every penalty, shuffling, skipped rows, the stopping rule.
scikit-learn itself is the oracle of tests/test_sklearn_perceptron.py."""
import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, example, given, settings, strategies as st  # noqa: E402

from cydl._kernels import _linear_sgd  # noqa: E402
from cydl.sklearn import Perceptron, _random, _sgd_reference  # noqa: E402
from cydl.sklearn._sgd import plain_sgd, sgd_permutation  # noqa: E402

SETTINGS = settings(max_examples=150, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def problems(draw):
    n, p = draw(st.integers(1, 24)), draw(st.integers(1, 9))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    layout = draw(st.sampled_from(["C", "F", "strided"]))
    X = (rng.standard_normal((n, p)) * draw(st.sampled_from([0.01, 1.0, 30.0])))
    X = X.astype(dtype)
    if layout == "F":
        X = np.asfortranarray(X)
    elif layout == "strided":       # every other row, every third column, backwards
        big = np.zeros((2 * n, 3 * p), dtype)
        big[::2, ::3] = X[::-1, ::-1]
        X = big[-2::-2, -3::-3]
    penalty = draw(st.integers(0, 3))
    y = np.where(rng.random(n) < draw(st.floats(0.1, 0.9)), 1.0, -1.0)
    c = draw(st.sampled_from([np.ones(n), rng.normal(1.0, 1.0, n),
                              rng.choice([0.0, 0.5, 3.0], n)]))
    w0 = draw(st.sampled_from([np.zeros(p), rng.standard_normal(p)]))
    return dict(
        X=X, y=y, c=np.ascontiguousarray(c), w0=w0, b0=draw(st.sampled_from([0.0, 0.7])),
        penalty=penalty,
        # up to alpha * eta >= 1: shrinking to 0 and sklearn's wscale resets
        alpha=draw(st.sampled_from([1e-4, 0.01, 0.3, 0.45, 2.0])),
        l1_ratio={0: 0.0, 1: 1.0, 2: 0.0}.get(penalty, draw(st.floats(0.0, 1.0))),
        eta0=draw(st.sampled_from([1.0, 0.1, 2.5])),
        fit_intercept=draw(st.booleans()), track=draw(st.booleans()),
        tol=draw(st.sampled_from([-np.inf, 1e-3, 0.5])),
        n_iter_no_change=draw(st.integers(1, 3)), n_epochs=draw(st.integers(1, 5)),
        seed=draw(st.sampled_from([None, 0, 1, 2 ** 31 - 2])),
        skip=rng.random(n) < draw(st.sampled_from([0.0, 0.3])))


def _run(fn, pb):
    n, p = pb["X"].shape
    out = dict(w=pb["w0"].copy(), q=np.zeros(p if pb["penalty"] in (1, 3) else 0),
               state=np.array([pb["b0"], 1.0, pb["w0"] @ pb["w0"], np.abs(pb["w0"]).sum(),
                               0.0, np.inf, 0.0]),
               order=np.arange(n, dtype=np.intp), sums=np.full((pb["n_epochs"], 2), -1.0))
    perm = np.empty(0, np.intp) if pb["seed"] is None else sgd_permutation(n, pb["seed"])
    out["ret"] = fn(pb["X"], pb["y"], pb["c"], out["w"], out["q"], out["state"],
                    out["order"], perm, np.empty(n, np.intp), pb["skip"].astype(np.uint8),
                    pb["penalty"], pb["alpha"], pb["l1_ratio"], pb["eta0"],
                    pb["fit_intercept"], pb["track"], pb["tol"], pb["n_iter_no_change"],
                    out["sums"])
    return out


_ALL_ROWS_SKIPPED = dict(   # an epoch with no training rows (found by CI's debug build)
    X=np.array([[0.00189053, -0.00522748]], np.float32), y=np.array([-1.0]),
    c=np.array([1.0]), w0=np.zeros(2), b0=0.0, penalty=0, alpha=1e-4, l1_ratio=0.0,
    eta0=1.0, fit_intercept=False, track=False, tol=-np.inf, n_iter_no_change=1,
    n_epochs=1, seed=None, skip=np.array([True]))


@SETTINGS
@example(_ALL_ROWS_SKIPPED)
@given(problems())
def test_kernel_matches_reference_bit_for_bit(pb):
    with np.errstate(all="ignore"):
        ours, ref = _run(_linear_sgd.run_epochs, pb), _run(_sgd_reference.run_epochs, pb)
    assert ours["ret"] == ref["ret"]
    ran = ours["ret"][0]
    for key in ("w", "q", "state", "order"):
        np.testing.assert_array_equal(ours[key], ref[key], err_msg=key)
    np.testing.assert_array_equal(ours["sums"][:ran], ref["sums"][:ran])


@pytest.mark.parametrize("penalty,l1_ratio", [(2, 0.0), (3, 0.4)])
def test_wscale_resets_match_reference(penalty, l1_ratio):
    # shrinking by 1 - 0.3 (1 - l1_ratio) per row takes wscale under sklearn's 1e-9
    # every few dozen rows, where the weight data are rescaled and wscale reset to 1
    rng = np.random.default_rng(5)
    X = rng.standard_normal((40, 6))
    pb = dict(X=X, y=np.where(X[:, 0] + rng.standard_normal(40) > 0, 1.0, -1.0),
              c=np.ones(40), w0=np.zeros(6), b0=0.0, penalty=penalty, alpha=0.3,
              l1_ratio=l1_ratio, eta0=1.0, fit_intercept=True, track=True, tol=-np.inf,
              n_iter_no_change=5, n_epochs=4, seed=3, skip=np.zeros(40, bool))
    assert (1 - 0.3 * (1 - l1_ratio)) ** 160 < 1e-9
    ours, ref = _run(_linear_sgd.run_epochs, pb), _run(_sgd_reference.run_epochs, pb)
    assert ours["state"][1] > 1e-9 and ours["ret"] == ref["ret"] == (4, 0)
    for key in ("w", "q", "state", "sums"):
        np.testing.assert_array_equal(ours[key], ref[key], err_msg=key)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 17, 1000])
def test_shuffle_permutation_is_sklearns(n):
    for seed in (0, 1, 42, 12345, 2 ** 31 - 2, 2 ** 32 - 1):
        np.testing.assert_array_equal(sgd_permutation(n, seed),
                                      _random.sgd_permutation(n, seed))


def test_plain_sgd_with_early_stopping_matches_reference():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((60, 5))
    y = np.where(X @ rng.standard_normal(5) + 0.3 * rng.standard_normal(60) > 0, 1.0, -1.0)
    mask = rng.random(60) < 0.8
    cfg = dict(penalty=3, alpha=0.01, l1_ratio=0.3, eta0=1.0, fit_intercept=True,
               max_iter=30, tol=1e-3, n_iter_no_change=3, shuffle=True,
               early_stopping=True, verbose=0)

    def score(w, b):
        return float(np.mean(np.where(X[~mask] @ w + b > 0, 1.0, -1.0) == y[~mask]))
    fits = []
    for fn in (_linear_sgd.run_epochs, _sgd_reference.run_epochs):
        w = np.zeros(5)
        fits.append((plain_sgd(w, 0.0, X, y, np.ones(60), mask, cfg, 7, score, fn), w))
    assert fits[0][0] == fits[1][0] and 1 < fits[0][0][1] < 30
    np.testing.assert_array_equal(fits[0][1], fits[1][1])


@pytest.mark.parametrize("params", [
    {}, {"penalty": "l2", "alpha": 0.01}, {"penalty": "l1", "alpha": 0.001},
    {"penalty": "elasticnet", "class_weight": "balanced"}, {"early_stopping": True}],
    ids=str)
def test_wide_float64_coef_is_scikit_learns_exactly(params):
    lm = pytest.importorskip("sklearn.linear_model", reason="scikit-learn is not installed")
    # 40 features: each margin a 40-term sum, in sklearn's order, so no rounding apart
    rng = np.random.default_rng(11)
    X = rng.standard_normal((300, 40))
    y = (X @ rng.standard_normal((40, 3)) + rng.standard_normal((300, 3))).argmax(1)
    sw = rng.uniform(0.2, 2.0, 300)
    ours = Perceptron(random_state=4, **params).fit(X, y, sample_weight=sw)
    ref = lm.Perceptron(random_state=4, **params).fit(X, y, sample_weight=sw)
    np.testing.assert_array_equal(ours.coef_, ref.coef_)
    np.testing.assert_array_equal(ours.intercept_, ref.intercept_)
    assert ours.n_iter_ == ref.n_iter_ > 1 and ours.t_ == ref.t_


def test_float32_rows_fit_as_their_float64_values():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 12)).astype(np.float32)
    y = rng.integers(0, 3, 200)
    for params in ({}, {"penalty": "elasticnet"}):
        a = Perceptron(n_jobs=2, **params).fit(X, y)
        b = Perceptron(**params).fit(X.astype(np.float64), y)
        assert a.coef_.dtype == np.float32 and a.n_iter_ == b.n_iter_
        np.testing.assert_array_equal(a.coef_, b.coef_.astype(np.float32))


def test_diverging_weights_are_reported():
    X = np.array([[1e300, 1e300], [-1e300, 1e300]])
    y = np.array([0, 1])
    with pytest.raises(ValueError, match="under-/overflow occurred at epoch #1"):
        Perceptron(eta0=1e10).fit(X, y)


def _args(n=4, p=3):
    return [np.ones((n, p)), np.ones(n), np.ones(n), np.zeros(p), np.zeros(0), np.ones(7),
            np.arange(n, dtype=np.intp), np.empty(0, np.intp), np.empty(n, np.intp),
            np.zeros(n, np.uint8), 0, 1e-4, 0.0, 1.0, True, True, 1e-3, 5, np.zeros((1, 2))]


@pytest.mark.parametrize("pos,value,match", [
    (0, np.ones((0, 3)), "rows and features"), (1, np.ones(3), "y has 3"),
    (3, np.zeros(2), "w has 2"), (5, np.ones(6), "state"),
    (6, np.array([0, 1, 2, 4], np.intp), r"order\[3\] = 4"),
    (7, np.array([0, -1, 2, 3], np.intp), r"perm\[1\] = -1"),
    (7, np.arange(3, dtype=np.intp), "perm has 3"), (10, 4, "penalty"),
    (10, 1, "q has 0")])
def test_kernel_refuses_bad_arguments(pos, value, match):
    args = _args()
    args[pos] = value
    with pytest.raises(ValueError, match=match):
        _linear_sgd.run_epochs(*args)
