"""A data-parallel training run for tests/test_distribution.py: the same script runs
under `mpiexec -n 2` and as one process, and each process saves what it ended
with (weights, History, evaluate, predict, how many files it wrote) to OUT/rank{r}.npz.

    [mpiexec -n 2] python dist_train.py SCENARIO OUT

Scenarios (float64, so that 2 processes match 1 to the rounding of the sums):
    mlp        MLP with BatchNormalization and Dropout, validation_split, shuffle,
               batches of 25 rows (13 + 12 per process) and a last batch of one row
               (process 1 has none); ModelCheckpoint and CSVLogger.
    wide_deep  the book's (ch. 10) two-input, two-output Wide & Deep, validation_data,
               on the default thread count (each process's share of the CPUs).
    manual     DataParallel(auto_shard_dataset=False): each process passes its own
               half of the rows (one process gets them in the equivalent order); the
               MLP without BatchNormalization, so the fused step with Dropout.
"""
import csv
import os
import sys

import numpy as np

import cydl
from cydl import layers

SCENARIO, OUT = sys.argv[1], sys.argv[2]
cydl.config.set_floatx("float64")
if SCENARIO != "wide_deep":      # wide_deep keeps the default: each process's share
    cydl.set_num_threads(1)


def _counting(module, name, counts, key):
    """Wrap module.name so that each call adds 1 to counts[key] (files this process
    wrote)."""
    original = getattr(module, name)

    def wrapper(*args, **kwargs):
        counts[key] += 1
        return original(*args, **kwargs)
    setattr(module, name, wrapper)


def mlp_data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((252, 12))      # 201 training rows: 8 x 25 + 1
    y = (X[:, :3].sum(axis=1) > 0).astype(int) + (X[:, 3] > 1).astype(int)
    return X, y


def mlp(batch_norm=True):
    cydl.utils.set_random_seed(5)
    return cydl.Sequential([
        layers.Input(shape=(12,)), layers.Dense(24, activation="relu")] +
        ([layers.BatchNormalization()] if batch_norm else []) + [layers.Dropout(0.3),
        layers.Dense(16, activation="tanh"), layers.Dropout(0.2),
        layers.Dense(3, activation="softmax")])


def wide_deep_data():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((301, 8))
    y = X[:, 0] * 2 - X[:, 5] + np.sin(X[:, 3]) + 0.1 * rng.standard_normal(301)
    return (X[:, :5], X[:, 2:]), y.reshape(-1, 1)


def wide_deep():
    cydl.utils.set_random_seed(6)
    input_wide = layers.Input(shape=[5], name="input_wide")
    input_deep = layers.Input(shape=[6], name="input_deep")
    norm_wide, norm_deep = layers.Normalization(), layers.Normalization()
    hidden1 = layers.Dense(30, activation="relu")(norm_deep(input_deep))
    hidden2 = layers.Dense(30, activation="relu")(hidden1)
    concat = layers.concatenate([norm_wide(input_wide), hidden2])
    output = layers.Dense(1, name="output")(concat)
    aux_output = layers.Dense(1, name="aux_output")(hidden2)
    model = cydl.Model(inputs=[input_wide, input_deep], outputs=[output, aux_output])
    (Xw, Xd), _ = wide_deep_data()
    norm_wide.adapt(Xw)
    norm_deep.adapt(Xd)
    return model


def main():
    dist = cydl.distribution.DataParallel(auto_shard_dataset=SCENARIO != "manual")
    cydl.distribution.set_distribution(dist)
    rank = dist.process_id
    counts = {"save": 0, "csv": 0}
    _counting(cydl.saving, "save_model", counts, "save")
    _counting(csv, "writer", counts, "csv")
    os.makedirs(OUT, exist_ok=True)
    if SCENARIO in ("mlp", "manual"):
        X, y = mlp_data()
        model = mlp(batch_norm=SCENARIO == "mlp")
        model.compile(loss="sparse_categorical_crossentropy",
                      optimizer=cydl.optimizers.Adam(0.01), metrics=["accuracy"])
        callbacks = [cydl.callbacks.ModelCheckpoint(os.path.join(OUT, "ckpt_{epoch}.keras")),
                     cydl.callbacks.CSVLogger(os.path.join(OUT, "log.csv")),
                     cydl.callbacks.EarlyStopping("loss", patience=1,
                                                  restore_best_weights=True)]
        if SCENARIO == "mlp":
            history = model.fit(X, y, batch_size=25, epochs=3, validation_split=0.2,
                                shuffle=True, callbacks=callbacks, verbose=0)
        else:
            # process r passes rows r::2 of the first 200; one process gets them in the
            # order that makes each of its batches the two processes' batches joined
            Xs, ys = X[:200], y[:200]
            if dist.num_processes > 1:
                Xs, ys = Xs[rank::2], ys[rank::2]
            else:
                order = np.concatenate([np.r_[np.arange(0, 200, 2)[s * 10:s * 10 + 10],
                                              np.arange(1, 200, 2)[s * 10:s * 10 + 10]]
                                        for s in range(10)])
                Xs, ys = Xs[order], ys[order]
            history = model.fit(Xs, ys, batch_size=20, epochs=2, shuffle=False,
                                callbacks=callbacks, verbose=0)
        evaluated = model.evaluate(X, y, batch_size=40, verbose=0)
        predicted = [model.predict(X[:37])]
    else:
        (Xw, Xd), y = wide_deep_data()
        model = wide_deep()
        model.compile(loss=("mse", "mse"), loss_weights=(0.9, 0.1),
                      optimizer=cydl.optimizers.SGD(0.01, momentum=0.9),
                      metrics=[["RootMeanSquaredError"], ["mae"]])
        # 225 rows: 7 batches of 32 (16 + 16), then one row (process 1 has none)
        # (min_delta=1: never an improvement, so the rate halves after every epoch)
        plateau = cydl.callbacks.ReduceLROnPlateau("val_loss", factor=0.5, patience=0,
                                                   min_delta=1.0)
        history = model.fit((Xw[:225], Xd[:225]), (y[:225], y[:225]), batch_size=32,
                            epochs=3, validation_data=((Xw[225:], Xd[225:]),
                                                       (y[225:], y[225:])),
                            callbacks=[plateau], verbose=0)
        evaluated = model.evaluate((Xw, Xd), (y, y), verbose=0)
        predicted = model.predict((Xw[:37], Xd[:37]))
    weights = np.concatenate([w.ravel() for w in model.get_weights()])
    np.savez(os.path.join(OUT, f"rank{rank}.npz"), weights=weights,
             history_keys=np.array(list(history.history)),
             history=np.array(list(history.history.values())),
             evaluated=np.asarray(evaluated), saves=counts["save"], csv_writers=counts["csv"],
             learning_rate=float(np.asarray(model.optimizer.learning_rate)),
             fused=model._runner(train=True).fused, threads=cydl.get_num_threads(),
             local_size=cydl._info.config_dict()["distribution"].get("local_size", 1),
             **{f"predicted{k}": p for k, p in enumerate(predicted)})


if __name__ == "__main__":
    main()
