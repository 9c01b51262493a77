"""cydl.sklearn's MLPs against scikit-learn's, same hyper-parameters, same data.

    python benchmarks/bench_sklearn.py [--reps 3]

Digits (ships with cydl, 1,348 training rows, 64 features): MLPClassifier with
hidden_layer_sizes=(100,), adam, batch 200, 100 epochs (n_iter_no_change=100 so
both run every epoch); a 20,000 x 20 regression: MLPRegressor (100, 100), 30
epochs. Fit seconds (median of --reps fits, fresh estimators) and test scores.
Records the machine and cydl's thread count.
"""
import argparse
import os
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    import cydl
    from cydl import sklearn as cs
    from sklearn import neural_network as sk
    sys.path.insert(0, HERE)
    from _harness import machine
    print("machine:", machine(), "cydl threads:", cydl.get_num_threads())
    (xtr, ytr), (xte, yte) = cydl.datasets.digits.load_data()
    xtr, xte = xtr.reshape(len(xtr), -1) / 16.0, xte.reshape(len(xte), -1) / 16.0
    rng = np.random.default_rng(0)
    xr = rng.standard_normal((24000, 20))
    yr = np.tanh(xr[:, :5]).sum(axis=1) + 0.1 * xr[:, 5:].sum(axis=1)
    tasks = [("digits classifier (100,), 100 epochs", "MLPClassifier",
              dict(hidden_layer_sizes=(100,), max_iter=100, n_iter_no_change=100),
              xtr, ytr, xte, yte),
             ("regression 20k x 20, (100, 100), 30 epochs", "MLPRegressor",
              dict(hidden_layer_sizes=(100, 100), max_iter=30, n_iter_no_change=30),
              xr[:20000], yr[:20000], xr[20000:], yr[20000:])]
    for title, name, params, x1, y1, x2, y2 in tasks:
        print(f"\n{title}")
        for lib, mod in (("cydl", cs), ("sklearn", sk)):
            times, scores = [], []
            for r in range(a.reps):
                est = getattr(mod, name)(random_state=r, **params)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    t0 = time.perf_counter()
                    est.fit(x1, y1)
                    times.append(time.perf_counter() - t0)
                scores.append(est.score(x2, y2))
            print(f"  {lib:8s} fit {np.median(times):7.3f} s  [{min(times):.3f}-{max(times):.3f}]"
                  f"  test score {np.median(scores):.4f}")


if __name__ == "__main__":
    main()
