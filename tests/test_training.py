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


_KERAS_CLASS_WEIGHT = """
x, y, k0, b0 = (np.array(data[k]) for k in ("x", "y", "k0", "b0"))
out = {}
for name, loss, units, act in (("onehot", "categorical_crossentropy", 3, "softmax"),
                               ("binary", "binary_crossentropy", 1, "sigmoid")):
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(units, activation=act)])
    m.layers[0].set_weights([k0[:, :units], b0[:units]])
    m.compile(loss=loss, optimizer=keras.optimizers.SGD(0.5))
    t = np.eye(3)[y] if units == 3 else (y > 0).astype("float64")[:, None]
    m.fit(x, t, batch_size=len(x), epochs=1, verbose=0, shuffle=False,
          class_weight={0: 3.0, 1: 0.5, 2: 2.0})
    out[name] = [w.tolist() for w in m.layers[0].get_weights()]
result = out
"""


def test_class_weight_with_one_hot_and_binary_targets_as_keras():
    # Keras 3 weighs one-hot targets by their argmax and a 0/1 column by its value
    from _keras_oracle import run_keras
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(12, 4)), rng.integers(0, 3, 12)
    k0, b0 = rng.normal(size=(4, 3)) * 0.3, rng.normal(size=3) * 0.1
    theirs = run_keras(_KERAS_CLASS_WEIGHT, {"x": x.tolist(), "y": y.tolist(),
                                             "k0": k0.tolist(), "b0": b0.tolist()})
    cydl.config.set_floatx("float64")
    try:
        for name, loss, units, act in (("onehot", "categorical_crossentropy", 3, "softmax"),
                                       ("binary", "binary_crossentropy", 1, "sigmoid")):
            m = cydl.Sequential([cydl.layers.Input((4,)),
                                 cydl.layers.Dense(units, activation=act)])
            m.layers[0].set_weights([k0[:, :units], b0[:units]])
            m.compile(loss=loss, optimizer=cydl.optimizers.SGD(0.5))
            t = np.eye(3)[y] if units == 3 else (y > 0).astype("float64")[:, None]
            m.fit(x, t, batch_size=len(x), epochs=1, verbose=0, shuffle=False,
                  class_weight={0: 3.0, 1: 0.5, 2: 2.0})
            # Keras keeps a float32 intermediate even under floatx float64 (the same
            # 2e-8 gap shows without class_weight); a wrong weighting moves ~1e-2
            for ours, want in zip(m.layers[0].get_weights(), theirs[name]):
                np.testing.assert_allclose(ours, want, rtol=1e-6, atol=1e-7)
    finally:
        cydl.config.set_floatx("float32")
