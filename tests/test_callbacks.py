"""ReduceLROnPlateau and CSVLogger: the rate each epoch ends with, derived by hand
from Keras' rule, and the CSV file against History."""
import csv
import math

import numpy as np
import pytest

import cydl
from cydl import layers

X = np.random.default_rng(0).random((90, 6)).astype(np.float32)
Y = np.arange(90) % 3


def _model(lr=0.1):
    cydl.utils.set_random_seed(0)
    model = cydl.Sequential([layers.Input(shape=(6,)), layers.Dense(8, activation="relu"),
                             layers.Dense(3, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  optimizer=cydl.optimizers.SGD(lr))
    return model


def _drive(cb, values, lr=0.1):
    """The rate after each epoch end when `monitor` takes these values."""
    model = _model(lr)
    cb.set_model(model)
    cb.on_train_begin()
    rates = []
    for epoch, v in enumerate(values):
        cb.on_epoch_end(epoch, {"val_loss": v, "val_accuracy": v})
        rates.append(model.optimizer.current_learning_rate())
    return rates


def test_reduce_on_plateau_follows_keras_rule():
    # best 1.0 at epoch 0; epochs 1, 2 do not improve by min_delta -> patience 2 is
    # reached at epoch 2: 0.1 -> 0.05; epochs 3, 4 again -> 0.025 at epoch 4; 0.5
    # at epoch 5 improves; 0.6, 0.6 -> 0.0125 at epoch 7
    cb = cydl.callbacks.ReduceLROnPlateau(factor=0.5, patience=2)
    rates = _drive(cb, [1.0, 1.0, 0.99995, 1.2, 1.0, 0.5, 0.6, 0.6])
    np.testing.assert_allclose(rates, [0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.025, 0.0125])


def test_reduce_on_plateau_cooldown_min_lr_and_max_mode():
    # cooldown 2: the reduction at epoch 1 sets the counter to 2; epoch 2 counts it
    # down to 1 and is skipped, epoch 3 counts it to 0 and counts as a bad epoch
    # again (Keras decrements first), so patience 1 reduces there: 0.001 -> min_lr
    cb = cydl.callbacks.ReduceLROnPlateau(factor=0.1, patience=1, cooldown=2, min_lr=0.002)
    rates = _drive(cb, [1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    np.testing.assert_allclose(rates, [0.1, 0.01, 0.01, 0.002, 0.002, 0.002])
    # on an accuracy, higher is better
    cb = cydl.callbacks.ReduceLROnPlateau(monitor="val_accuracy", factor=0.5, patience=1)
    rates = _drive(cb, [0.5, 0.6, 0.7, 0.6])
    np.testing.assert_allclose(rates, [0.1, 0.1, 0.1, 0.05])


def test_reduce_on_plateau_in_fit_logs_the_rate():
    model = _model(lr=0.5)
    cb = cydl.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1,
                                          min_delta=10.0)     # never "improves" after epoch 0
    h = model.fit(X, Y, epochs=4, verbose=0, callbacks=[cb])
    # as in Keras, an epoch logs the rate it trained with; the reduction at its end
    # shows in the next epoch's entry
    np.testing.assert_allclose(h.history["learning_rate"], [0.5, 0.5, 0.25, 0.125])
    assert model.optimizer.current_learning_rate() == 0.0625


@pytest.mark.parametrize("kwargs,exc", [({"factor": 1.0}, ValueError),
                                        ({"factor": math.nan}, ValueError),
                                        ({"factor": "0.5"}, TypeError),
                                        ({"patience": -1}, ValueError),
                                        ({"min_lr": -1e-3}, ValueError),
                                        ({"mode": "lowest"}, ValueError),
                                        ({"epsilon": 1e-4}, TypeError)])
def test_reduce_on_plateau_refuses_bad_arguments(kwargs, exc):
    with pytest.raises(exc, match=next(iter(kwargs))):
        cydl.callbacks.ReduceLROnPlateau(**kwargs)


def test_reduce_on_plateau_names_a_missing_monitor():
    model = _model()
    with pytest.raises(ValueError, match="val_loss.*Available keys"):
        model.fit(X, Y, epochs=1, verbose=0, callbacks=[cydl.callbacks.ReduceLROnPlateau()])


def test_csv_logger_writes_history(tmp_path):
    path = tmp_path / "log.csv"
    model = _model()
    h = model.fit(X, Y, epochs=3, validation_split=0.2, verbose=0,
                  callbacks=[cydl.callbacks.CSVLogger(path)])
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [int(r[0]) for r in rows[1:]] == [0, 1, 2]
    for j, key in enumerate(rows[0][1:], start=1):
        np.testing.assert_allclose([float(r[j]) for r in rows[1:]], h.history[key],
                                   rtol=1e-12)
    # append=True goes on under the same header; the default starts afresh
    model.fit(X, Y, epochs=2, validation_split=0.2, verbose=0,
              callbacks=[cydl.callbacks.CSVLogger(path, append=True)])
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert len(rows) == 6 and rows.count(rows[0]) == 1
    model.fit(X, Y, epochs=1, verbose=0, callbacks=[cydl.callbacks.CSVLogger(path, ";")])
    assert path.read_text().splitlines()[0] == "epoch;accuracy;loss"
    with pytest.raises(ValueError, match="separator"):
        cydl.callbacks.CSVLogger(path, separator=";;")
