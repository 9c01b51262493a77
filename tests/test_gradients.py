"""Backprop against central finite differences in float64: Dense x every activation
x every loss, through whole models, on the fused path and the per-layer path."""
import functools

import numpy as np
import pytest

import cydl
from cydl import layers, losses
from kernels.test_dense import ACTS

LOSS_SETUPS = [
    ("mse", "linear"), ("mae", "linear"), ("huber", "tanh"),
    ("sparse_categorical_crossentropy", "softmax"),
    (losses.SparseCategoricalCrossentropy(from_logits=True), "linear"),
    ("sparse_categorical_crossentropy", "sigmoid"),        # probabilities, Keras clipping
    ("categorical_crossentropy", "softmax"),
    (losses.CategoricalCrossentropy(from_logits=True), "linear"),
    ("categorical_crossentropy", "sigmoid"),
    ("binary_crossentropy", "sigmoid"),
    (losses.BinaryCrossentropy(from_logits=True), "linear"),
    ("binary_crossentropy", "softmax"),
]


def _targets(loss, n, C, rng):
    name = loss if isinstance(loss, str) else type(loss).__name__.lower()
    if "sparse" in name:
        return rng.integers(0, C, n)
    if "categorical" in name:
        return np.eye(C)[rng.integers(0, C, n)]
    if "binary" in name:
        return rng.integers(0, 2, (n, C)).astype(float)
    return rng.standard_normal((n, C))


# Momentum keeps every gradient in Variable.grad (plain SGD folds the lowest
# layer's update into its gradient GEMM and stores no gradient for it).
def keeps_gradients():
    return cydl.optimizers.SGD(learning_rate=0.1, momentum=0.5)


def check_gradients(model, x, y):
    """Gradient of the mean loss from one training step vs central differences."""
    params0 = [w.copy() for w in model.get_weights()]
    model.train_on_batch(x, y)
    grads = [v.grad.copy() for v in model.trainable_weights]
    model.set_weights(params0)
    h = 1e-6
    for var, g in zip(model.trainable_weights, grads):
        flat = var.value.reshape(-1, order="F" if var.ndim == 2 else "C")  # a view
        num = np.zeros(flat.size)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + h
            lp = model.evaluate(x, y, verbose=0)
            flat[i] = old - h
            lm = model.evaluate(x, y, verbose=0)
            flat[i] = old
            num[i] = (lp - lm) / (2 * h)
        np.testing.assert_allclose(g.reshape(-1, order="F" if var.ndim == 2 else "C"), num, rtol=1e-5, atol=1e-7,
                                   err_msg=f"gradient of {var.name}")


@pytest.mark.parametrize("eager", [False, True], ids=["fused", "layers"])
@pytest.mark.parametrize("loss,out_act", LOSS_SETUPS,
                         ids=[f"{l if isinstance(l, str) else type(l).__name__}-{a}"
                              for l, a in LOSS_SETUPS])
@pytest.mark.parametrize("act", ACTS)
def test_dense_gradients(act, loss, out_act, eager):
    cydl.config.set_floatx("float64")
    rng = np.random.default_rng(0)
    C = 3
    x = rng.standard_normal((7, 4))
    y = _targets(loss, 7, C, rng)
    cydl.utils.set_random_seed(1)
    if act == "gelu_tanh":     # the kernel's name for gelu(approximate=True)
        act = functools.partial(cydl.activations.gelu, approximate=True)
    model = cydl.Sequential([layers.Input(shape=(4,)), layers.Dense(5, activation=act),
                             layers.Dense(C, activation=out_act)])
    model.compile(loss=loss, optimizer=keeps_gradients(), run_eagerly=eager)
    check_gradients(model, x, y)


@pytest.mark.parametrize("eager", [False, True], ids=["fused", "layers"])
def test_gradients_with_frozen_layer_and_activation_layer(eager):
    cydl.config.set_floatx("float64")
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((6, 3)), rng.integers(0, 4, 6)
    model = cydl.Sequential([layers.Input(shape=(3,)), layers.Dense(5), layers.Activation("elu"),
                             layers.Dense(4, activation="tanh"), layers.Dense(4),
                             layers.Activation("softmax")])
    model.layers[0].trainable = False
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keeps_gradients(),
                  run_eagerly=eager)
    w_frozen = model.layers[0].get_weights()
    check_gradients(model, x, y)
    model.fit(x, y, epochs=2, verbose=0)
    for a, b in zip(w_frozen, model.layers[0].get_weights()):
        np.testing.assert_array_equal(a, b)
