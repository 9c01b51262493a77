"""Training learns real things: XOR (a 2-4-1 MLP can, a linear unit cannot), the
digits that ship with cydl, and the ln(n_classes) initial loss."""
import numpy as np
import pytest

import cydl
from cydl import layers

X_XOR = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
Y_XOR = np.array([0, 1, 1, 0], np.float32)


@pytest.mark.parametrize("eager", [False, True], ids=["fused", "layers"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mlp_learns_xor(seed, eager):
    cydl.utils.set_random_seed(seed)
    model = cydl.Sequential([layers.Input(shape=(2,)), layers.Dense(4, activation="tanh"),
                             layers.Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer=cydl.optimizers.Adam(0.05),
                  metrics=["accuracy"], run_eagerly=eager)
    model.fit(X_XOR, Y_XOR, epochs=400, batch_size=4, verbose=0)
    loss, acc = model.evaluate(X_XOR, Y_XOR, verbose=0)
    assert acc == 1.0 and loss < 0.1
    np.testing.assert_array_equal(model.predict(X_XOR).ravel() > 0.5, Y_XOR > 0.5)


def test_single_linear_unit_cannot_learn_xor():
    cydl.utils.set_random_seed(0)
    model = cydl.Sequential([layers.Input(shape=(2,)), layers.Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer=cydl.optimizers.Adam(0.05),
                  metrics=["accuracy"])
    model.fit(X_XOR, Y_XOR, epochs=400, batch_size=4, verbose=0)
    loss, acc = model.evaluate(X_XOR, Y_XOR, verbose=0)
    # the best any linear unit can do is 3 of 4; the optimum it converges to is
    # p = 0.5 everywhere (loss ln 2)
    assert acc <= 0.75 and loss > 0.6


def test_initial_loss_is_about_ln_n_classes():
    cydl.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((2000, 20)).astype(np.float32), rng.integers(0, 10, 2000)
    model = cydl.Sequential([layers.Input(shape=(20,)), layers.Dense(50, activation="relu"),
                             layers.Dense(10, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    assert abs(model.evaluate(x, y, verbose=0) - np.log(10)) < 0.25


def test_overfits_a_tiny_batch():
    cydl.utils.set_random_seed(0)
    (x, y), _ = cydl.datasets.digits.load_data()
    x, y = x[:16] / 16.0, y[:16]
    model = cydl.Sequential([layers.Input(shape=(8, 8)), layers.Flatten(),
                             layers.Dense(64, activation="relu"), layers.Dense(10, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer=cydl.optimizers.Adam(0.01),
                  metrics=["accuracy"])
    model.fit(x, y, epochs=200, batch_size=16, verbose=0)
    loss, acc = model.evaluate(x, y, verbose=0)
    assert acc == 1.0 and loss < 0.01


def test_digits_that_ship_with_cydl():
    cydl.utils.set_random_seed(42)
    (x, y), (xt, yt) = cydl.datasets.digits.load_data()
    model = cydl.Sequential([layers.Input(shape=(8, 8)), layers.Flatten(),
                             layers.Dense(64, activation="relu"), layers.Dense(10, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    history = model.fit(x / 16.0, y, epochs=30, validation_split=0.1, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0] / 5
    assert model.evaluate(xt / 16.0, yt, verbose=0)[1] > 0.93


def test_regression_learns_a_linear_map():
    cydl.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1000, 3))
    y = x @ np.array([1.5, -2.0, 0.5]) + 0.3
    model = cydl.Sequential([layers.Input(shape=(3,)), layers.Dense(1)])
    model.compile(loss="mse", optimizer=cydl.optimizers.SGD(0.05),
                  metrics=["mae", cydl.metrics.RootMeanSquaredError()])
    h = model.fit(x, y, epochs=20, verbose=0)
    assert h.history["loss"][-1] < 1e-6
    np.testing.assert_allclose(model.layers[0].kernel.numpy().ravel(), [1.5, -2.0, 0.5], atol=1e-3)
    assert set(h.history) == {"loss", "mae", "root_mean_squared_error"}
    np.testing.assert_allclose(h.history["root_mean_squared_error"][-1] ** 2,
                               h.history["loss"][-1], rtol=1e-3, atol=1e-9)
