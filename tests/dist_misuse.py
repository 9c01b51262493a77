"""Misuses of a data-parallel run, for tests/test_distribution_more.py. Each process
writes what each check gave (the error's type and message, or a result) to
OUT/rank{r}.json.

    mpiexec -n 2 python dist_misuse.py SCENARIO OUT

    misuse   the processes pass different arrays or arguments, or make different
             calls: every process gets the same clear error (and they stay in
             step, so a correct fit runs afterwards); save then load on every
             process reads the file just written; then process 1 ends its script
             while process 0 calls fit, which fails instead of waiting forever.
    timeout  CYDL_DIST_TIMEOUT=1: process 1 is late for predict; process 0 stops.
"""
import json
import os
import sys
import time

import numpy as np

import cydl
from cydl import layers

SCENARIO, OUT = sys.argv[1], sys.argv[2]
cydl.config.set_floatx("float64")
cydl.set_num_threads(1)


def _model():
    cydl.utils.set_random_seed(0)
    model = cydl.Sequential([layers.Input((4,)), layers.Dense(5, activation="relu"),
                             layers.Dense(3, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam",
                  metrics=["accuracy"])
    return model


def _outcome(call):
    try:
        value = call()
    except Exception as e:  # noqa: BLE001 - the test reads which error came
        return [type(e).__name__, str(e)]
    return ["ok", np.asarray(value, np.float64).ravel().tolist()]


def misuse(dist, results):
    rank = dist.process_id
    rng = np.random.default_rng(0)
    X, y = rng.random((50, 4)), rng.integers(0, 3, 50)
    n = 50 if rank == 0 else 40           # process 1 passes fewer rows
    model = _model()
    fit = model.fit
    results["fit_rows"] = _outcome(lambda: fit(X[:n], y[:n], batch_size=8, verbose=0))
    results["fit_epochs"] = _outcome(lambda: fit(X, y, epochs=1 + rank, verbose=0))
    results["evaluate_rows"] = _outcome(lambda: model.evaluate(X[:n], y[:n], verbose=0))
    results["predict_rows"] = _outcome(lambda: model.predict(X[:n], verbose=0))
    results["train_on_batch_rows"] = _outcome(lambda: model.train_on_batch(X[:n], y[:n]))
    results["other_call"] = _outcome(
        lambda: model.evaluate(X, y, verbose=0) if rank == 0 else model.predict(X))
    # the checks kept the processes in step and the model untouched: a correct fit
    # runs as one process alone runs it (the oracle, trained here without the
    # distribution)
    def trained(m):
        loss = m.fit(X, y, batch_size=8, epochs=2, verbose=0).history["loss"]
        return loss + [float(w.sum()) for w in m.get_weights()]
    results["fit"] = _outcome(lambda: trained(model))
    cydl.distribution.set_distribution(None)
    results["fit_alone"] = _outcome(lambda: trained(_model()))
    cydl.distribution.set_distribution(dist)
    # save, then load at once on every process: the file just written
    path = os.path.join(OUT, "model.keras")
    for round_ in range(2):
        fit(X, y, batch_size=8, epochs=1, verbose=0)
        if rank == 0:
            time.sleep(0.5)     # a slow writer: the others must wait for the file
        model.save(path)
        results[f"load_{round_}"] = _outcome(
            lambda: cydl.models.load_model(path).predict(X[:5]) - model.predict(X[:5]))
        model.save_weights(os.path.join(OUT, "w.weights.h5"))
        twin = _model()
        twin.load_weights(os.path.join(OUT, "w.weights.h5"))
        results[f"load_weights_{round_}"] = _outcome(
            lambda: twin.predict(X[:5]) - model.predict(X[:5]))
    if rank == 0:
        # process 1 has ended its script: fit must fail, and so must the next call
        results["ended"] = _outcome(lambda: fit(X, y, verbose=0))
        results["after_end"] = _outcome(lambda: model.predict(X))


def main():
    dist = cydl.distribution.DataParallel()
    cydl.distribution.set_distribution(dist)
    rank = dist.process_id
    os.makedirs(OUT, exist_ok=True)
    results = {}
    if SCENARIO == "misuse":
        misuse(dist, results)
    else:
        model = _model()
        if rank == 1:
            time.sleep(4)
        try:
            model.predict(np.ones((3, 4)))
        except TimeoutError as e:      # process 0 stops: it says why, then ends the job
            with open(os.path.join(OUT, f"timeout{rank}.txt"), "w") as f:
                f.write(str(e))
            raise
    with open(os.path.join(OUT, f"rank{rank}.json"), "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main()
