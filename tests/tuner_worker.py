"""A search worker for tests/test_tuner_study.py, also imported by the tests for its
data and model: a small RandomSearch on 3 Gaussian blobs, on a study that other
processes may share. Prints one JSON line: the trials this process ran.

    python tuner_worker.py DIRECTORY PROJECT --max-trials 6 --seed 3 [--wait-peer]
        [--hang-in-trial N]
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import optuna

import cydl
import cydl.tuner as kt


def blobs(n=240, seed=0):
    """Three well separated Gaussian blobs in 4 features, split 3:1 train/valid."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    X = (rng.normal(size=(n, 4)) + 2.0 * y[:, None]).astype("float32")
    cut = n * 3 // 4
    return (X[:cut], y[:cut]), (X[cut:], y[cut:])


def build_model(hp):
    model = cydl.Sequential([cydl.layers.Input(shape=(4,))])
    for _ in range(hp.Int("n_hidden", 0, 2, default=1)):
        model.add(cydl.layers.Dense(hp.Int("n_neurons", 4, 32), activation="relu"))
    model.add(cydl.layers.Dense(3, activation="softmax"))
    learning_rate = hp.Float("learning_rate", 1e-3, 1e-1, sampling="log")
    optimizer = cydl.optimizers.Adam(learning_rate) if hp.Choice("optimizer", ["sgd", "adam"]) \
        == "adam" else cydl.optimizers.SGD(learning_rate)
    model.compile(loss="sparse_categorical_crossentropy", optimizer=optimizer,
                  metrics=["accuracy"])
    return model


class _Probe(cydl.callbacks.Callback):
    """Records the kernels' thread count at each epoch; optionally waits, after its
    first epoch, until another worker runs a trial too, or hangs (to be killed)."""

    def __init__(self, tuner, wait_peer, hang_in):
        super().__init__()
        self.tuner, self.wait_peer, self.hang_in = tuner, wait_peer, hang_in

    def __deepcopy__(self, memo):       # each trial gets a copy: share the tuner, not copy it
        return _Probe(self.tuner, self.wait_peer, self.hang_in)

    def on_epoch_end(self, epoch, logs=None):
        self.tuner.threads.append(cydl.get_num_threads())
        if epoch == 0 and self.tuner.number == self.hang_in:
            print("HANGING", flush=True)
            time.sleep(600)
        if epoch == 0 and self.wait_peer and not self.tuner.ran:
            running = optuna.trial.TrialState.RUNNING
            deadline = time.time() + 120
            while len(self.tuner.oracle.study.get_trials(states=(running,))) < 2 \
                    and time.time() < deadline:
                time.sleep(0.05)


class Worker(kt.RandomSearch):
    def __init__(self, *args, **kwargs):
        self.ran, self.threads, self.number = [], [], None
        super().__init__(*args, **kwargs)

    def on_trial_begin(self, trial):
        self.number, self.threads = trial.number, []

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        self.ran.append({"number": trial.number, "values": trial.hyperparameters.values,
                         "status": trial.status, "threads": self.threads})


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("directory")
    parser.add_argument("project")
    parser.add_argument("--max-trials", type=int, default=6)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--wait-peer", action="store_true")
    parser.add_argument("--hang-in-trial", type=int, default=None)
    args = parser.parse_args(argv)
    (X, y), valid = blobs()
    tuner = Worker(build_model, objective="val_accuracy", max_trials=args.max_trials,
                   seed=args.seed, directory=args.directory, project_name=args.project)
    probe = _Probe(tuner, args.wait_peer, args.hang_in_trial)
    tuner.search(X, y, epochs=args.epochs, validation_data=valid, verbose=0,
                 callbacks=[probe])
    print(json.dumps({"pid": os.getpid(), "trials": tuner.ran}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
