"""cydl.sklearn's estimators against scikit-learn's, same data, same settings.

    python benchmarks/bench_sklearn.py [--reps 3] [--tiny]

Both estimators get the same hyper-parameters and random_state, hence (cydl draws
as scikit-learn does) the same initial weights and batches; each row gives the
median fit seconds of --reps fresh fits, the ratio, and both test scores:

* Fashion-MNIST, the first 10,000 training images / 255: MLPClassifier
  (300, 100), adam, 20 epochs; test accuracy on the 10,000 test images.
* California housing, the book's split (train_test_split(random_state=42), twice)
  and StandardScaler: MLPRegressor([50, 50, 50]), adam, 50 epochs; validation R^2.
* Digits (ships with cydl): MLPClassifier (100,) for 100 epochs, and with lbfgs
  (100 iterations); Perceptron, without and with an elastic-net penalty.
* Synthetic float64 data, 20,000 x 100, 10 classes: Perceptron (one-vs-rest), without
  and with an l2 penalty (its default tol stopping rule, as scikit-learn's).

Epoch counts are fixed (n_iter_no_change = max_iter) so both run the same work.
--tiny runs small subsets for one rep, to check the script works. Rows whose data
is missing are skipped with the reason. Records the machine and thread counts.
"""
import argparse
import os
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


def _fashion(tiny):
    import cydl
    (x, y), (xt, yt) = cydl.datasets.fashion_mnist.load_data()
    n, m = (1000, 1000) if tiny else (10000, 10000)
    f = lambda a: a.reshape(len(a), -1).astype(np.float32) / 255.0   # noqa: E731
    return f(x[:n]), y[:n], f(xt[:m]), yt[:m]


def _housing(tiny):
    import cydl
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler
    X, y = cydl.datasets.california_housing.load_arrays()
    X_full, _, y_full, _ = train_test_split(X, y, random_state=42)
    X_tr, X_va, y_tr, y_va = train_test_split(X_full, y_full, random_state=42)
    if tiny:
        X_tr, y_tr = X_tr[:1000], y_tr[:1000]
    sc = StandardScaler().fit(X_tr)
    return sc.transform(X_tr), y_tr, sc.transform(X_va), y_va


def _digits(tiny):
    import cydl
    (x, y), (xt, yt) = cydl.datasets.digits.load_data()
    return x.reshape(len(x), -1) / 16.0, y, xt.reshape(len(xt), -1) / 16.0, yt


def _synthetic(tiny):
    """20,000 (--tiny: 2,000) rows of 100 standard-normal features, 10 classes from a
    noisy random linear map, and 5,000 (500) test rows."""
    rng = np.random.default_rng(0)
    n, m = (2000, 500) if tiny else (20000, 5000)
    X = rng.standard_normal((n + m, 100))
    y = (X @ rng.standard_normal((100, 10)) + rng.standard_normal((n + m, 10))).argmax(1)
    return X[:n], y[:n], X[n:], y[n:]


def _tasks(tiny):
    e = (lambda k: 2) if tiny else (lambda k: k)
    return [
        ("Fashion-MNIST 10k, (300, 100), adam, 20 epochs", _fashion, "neural_network",
         "MLPClassifier", dict(hidden_layer_sizes=(300, 100), max_iter=e(20),
                               n_iter_no_change=e(20))),
        ("California housing (book split), [50, 50, 50], 50 epochs", _housing,
         "neural_network", "MLPRegressor", dict(hidden_layer_sizes=[50, 50, 50],
                                                max_iter=e(50), n_iter_no_change=e(50))),
        ("digits, (100,), adam, 100 epochs", _digits, "neural_network", "MLPClassifier",
         dict(hidden_layer_sizes=(100,), max_iter=e(100), n_iter_no_change=e(100))),
        ("digits, (100,), lbfgs, 100 iterations", _digits, "neural_network", "MLPClassifier",
         dict(hidden_layer_sizes=(100,), solver="lbfgs", max_iter=e(100))),
        ("digits, Perceptron", _digits, "linear_model", "Perceptron", {}),
        ("digits, Perceptron, elasticnet", _digits, "linear_model", "Perceptron",
         dict(penalty="elasticnet")),
        ("synthetic 20k x 100, 10 classes, Perceptron", _synthetic, "linear_model",
         "Perceptron", {}),
        ("synthetic 20k x 100, 10 classes, Perceptron, l2", _synthetic, "linear_model",
         "Perceptron", dict(penalty="l2")),
    ]


def _time_fits(make, reps, x1, y1, x2, y2):
    times, scores = [], []
    for r in range(reps):
        est = make(r)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            est.fit(x1, y1)
            times.append(time.perf_counter() - t0)
        scores.append(est.score(x2, y2))
    return float(np.median(times)), min(times), max(times), float(np.median(scores))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--tiny", action="store_true", help="small subsets, one rep")
    a = ap.parse_args()
    reps = 1 if a.tiny else a.reps
    import sklearn
    import cydl
    from cydl import sklearn as cs
    sys.path.insert(0, HERE)
    from _harness import machine
    print("machine:", machine(), "cydl threads:", cydl.get_num_threads(),
          "scikit-learn", sklearn.__version__)
    for title, load, module, name, params in _tasks(a.tiny):
        print(f"\n{title}")
        try:
            data = load(a.tiny)
        except (OSError, ValueError) as e:       # no data files, no network
            print(f"  skipped: {e}")
            continue
        sk = getattr(__import__(f"sklearn.{module}", fromlist=[name]), name)
        rows = {}
        for lib, cls in (("cydl", getattr(cs, name)), ("sklearn", sk)):
            rows[lib] = _time_fits(lambda r: cls(random_state=r, **params), reps, *data)
            med, lo, hi, score = rows[lib]
            print(f"  {lib:8s} fit {med:8.3f} s  [{lo:.3f}-{hi:.3f}]  test score {score:.4f}")
        print(f"  sklearn / cydl fit time: {rows['sklearn'][0] / rows['cydl'][0]:.2f}x")


if __name__ == "__main__":
    main()
