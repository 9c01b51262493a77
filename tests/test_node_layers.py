"""BatchNormalization, Dropout, AlphaDropout, PReLU and Normalization as layers:
Keras semantics, weights and configs, and each call's gradient (through
GradientTape) against float64 central finite differences."""
import numpy as np
import pytest

import cydl
from cydl import ops
from cydl.autodiff import GradientTape
from cydl.layers import (AlphaDropout, BatchNormalization, Dense, Dropout, Flatten,
                         Normalization, PReLU)
from cydl.variables import Variable


def _loss(out, R):
    """A scalar whose gradient involves every output unevenly (sum(y) would give
    batch norm a zero input gradient and hide errors)."""
    return ops.sum(ops.multiply(ops.square(out), R) + ops.multiply(out, R))


def grad_check(forward, variables, h=1e-6, tol=1e-6):
    """forward() -> scalar; compare tape gradients of `variables` (float64 Variables)
    with central differences; relative error in the 2-norm per variable."""
    with GradientTape() as tape:
        loss = forward()
    grads = tape.gradient(loss, variables)
    for var, g in zip(variables, grads):
        assert g is not None, f"no gradient for {var.name}"
        num = np.zeros(var.shape)
        value = var.value
        for i in np.ndindex(var.shape):
            old = value[i]
            value[i] = old + h
            up = float(np.asarray(forward()))
            value[i] = old - h
            down = float(np.asarray(forward()))
            value[i] = old
            num[i] = (up - down) / (2 * h)
        err = np.linalg.norm(g - num) / max(np.linalg.norm(g) + np.linalg.norm(num), 1e-30)
        assert err <= tol, f"{var.name}: relative error {err:.2e}"


def _x(shape, seed=0, order="C", avoid_zero=False):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    if avoid_zero:      # keep finite differences off the kink at 0
        x = np.where(np.abs(x) < 0.1, np.sign(x + 1e-12) * (0.1 + np.abs(x)), x)
    return np.asfortranarray(x) if order == "F" else x


# ------------------------------------------------------------------ BatchNormalization
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape,axis,order", [
    ((5, 3), -1, "C"), ((5, 3), -1, "F"), ((1, 4), -1, "C"), ((3, 2, 4), -1, "C"),
    ((3, 4, 2), 1, "C")])
def test_batchnorm_gradient(training, shape, axis, order):
    bn = BatchNormalization(axis=axis, dtype="float64", gamma_initializer="random_normal",
                            beta_initializer="random_normal")
    x = Variable(_x(shape, order=order), "x")
    bn(x.value)
    n = shape[axis]
    rng = np.random.default_rng(1)
    bn.moving_mean.assign(rng.standard_normal(n))
    bn.moving_variance.assign(rng.random(n) + 0.5)
    R = rng.standard_normal(shape)
    if training and shape[0] == 1:
        # one sample is its own mean: the output is beta, whatever x and gamma
        np.testing.assert_allclose(bn(x, training=True), np.broadcast_to(bn.beta.value, shape))
        return
    grad_check(lambda: _loss(bn(x, training=training), R), [x, bn.gamma, bn.beta])


def test_batchnorm_shared_twice_sums_weight_gradients_and_skips_dx_for_arrays():
    bn = BatchNormalization(dtype="float64", gamma_initializer="random_normal")
    x = Variable(_x((7, 3), seed=3), "x")
    bn(x.value)
    R = np.random.default_rng(3).standard_normal((7, 3))
    plain = _x((7, 3), seed=4)      # an array: no gradient wanted, so no dx computed

    def forward():
        return _loss(bn(x, training=True), R) + _loss(bn(plain, training=True), R)
    grad_check(forward, [x, bn.gamma, bn.beta])


def test_batchnorm_without_center_and_scale_has_gradient_for_input():
    bn = BatchNormalization(center=False, scale=False, dtype="float64")
    x = Variable(_x((6, 3)), "x")
    R = np.random.default_rng(2).standard_normal((6, 3))
    grad_check(lambda: _loss(bn(x, training=True), R), [x])
    assert [w.name for w in bn.weights] == ["moving_mean", "moving_variance"]


def test_batchnorm_training_normalizes_and_updates_moving_statistics():
    x = _x((32, 5)) * 3 + 2
    bn = BatchNormalization(momentum=0.9, epsilon=1e-3, dtype="float64")
    y = bn(x, training=True)
    mean, var = x.mean(axis=0), x.var(axis=0)         # biased, as Keras
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-3), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(bn.moving_mean.numpy(), 0.9 * 0 + 0.1 * mean, rtol=1e-12)
    np.testing.assert_allclose(bn.moving_variance.numpy(), 0.9 * 1 + 0.1 * var, rtol=1e-12)
    before = [bn.moving_mean.numpy(), bn.moving_variance.numpy()]
    y_inf = bn(x)        # inference: moving statistics, no update
    np.testing.assert_allclose(y_inf, (x - before[0]) / np.sqrt(before[1] + 1e-3), rtol=1e-12)
    np.testing.assert_array_equal(bn.moving_mean.numpy(), before[0])


def test_frozen_batchnorm_runs_in_inference_mode():
    x = _x((8, 3)) + 5
    bn = BatchNormalization(dtype="float64")
    bn(x)
    bn.trainable = False
    y = bn(x, training=True)
    np.testing.assert_allclose(y, x / np.sqrt(1 + 1e-3), rtol=1e-12)
    np.testing.assert_array_equal(bn.moving_mean.numpy(), np.zeros(3))


def test_batchnorm_keeps_column_major_activations_column_major():
    x = np.asfortranarray(_x((16, 7)).astype(np.float32))
    y = BatchNormalization()(x, training=True)
    assert y.flags.f_contiguous and y.dtype == np.float32


def test_book_model_has_the_books_non_trainable_parameter_count():
    # Sequential([Input((28, 28)), Flatten(), BN, Dense(300), BN, Dense(100), BN, Dense(10)])
    stack = [Flatten(), BatchNormalization(), Dense(300, activation="relu"),
             BatchNormalization(), Dense(100, activation="relu"), BatchNormalization(),
             Dense(10, activation="softmax")]
    h = np.zeros((2, 28, 28), np.float32)
    for layer in stack:
        h = layer(h)
    non_trainable = sum(w.size for layer in stack for w in layer.non_trainable_weights)
    assert non_trainable == 2 * (784 + 300 + 100) == 2368
    bns = [layer for layer in stack if isinstance(layer, BatchNormalization)]
    assert [w.name for w in bns[0].weights] == ["gamma", "beta", "moving_mean",
                                                "moving_variance"]
    assert sum(w.size for b in bns for w in b.trainable_weights) == 2 * (784 + 300 + 100)


def test_batchnorm_rejects_bad_arguments():
    with pytest.raises(ValueError):
        BatchNormalization(epsilon=0)
    with pytest.raises(ValueError, match="features"):
        bn = BatchNormalization()
        bn(np.ones((2, 3), np.float32))
        bn(np.ones((2, 4), np.float32))


# ------------------------------------------------------------------ Dropout
class MCDropout(Dropout):
    def call(self, inputs, training=None):
        return super().call(inputs, training=True)


@pytest.mark.parametrize("cls", [Dropout, AlphaDropout])
@pytest.mark.parametrize("noise_shape", [None, (1, 4)])
def test_dropout_gradient_with_the_mask_held_fixed(cls, noise_shape):
    layer = cls(0.4, noise_shape=noise_shape, seed=3, dtype="float64")
    x = Variable(_x((5, 4)), "x")
    R = np.random.default_rng(4).standard_normal((5, 4))

    def forward():
        layer.steps = 7          # replay the same training call: the same mask
        return _loss(layer(x, training=True), R)
    grad_check(forward, [x])
    y = layer(x.value, training=True)
    assert not np.allclose(y, x.value)        # the check above did see a real mask


def test_dropout_functional_form_with_a_given_mask():
    from cydl._ops import dropout_forward
    from cydl.layers.regularization import dropout
    x = Variable(_x((6, 3)), "x")
    _, mask = dropout_forward(x.value, 0.5, seed=1)
    R = np.random.default_rng(5).standard_normal((6, 3))
    grad_check(lambda: _loss(dropout(x, 0.5, mask=mask), R), [x])


def test_dropout_is_the_identity_at_inference():
    x = _x((4, 6)).astype(np.float32)
    for layer in (Dropout(0.5), AlphaDropout(0.5)):
        assert layer(x) is not None
        np.testing.assert_array_equal(layer(x), x)
        np.testing.assert_array_equal(layer(x, training=False), x)


def test_dropout_scales_kept_units_and_draws_a_new_mask_each_step():
    x = np.ones((50, 40), np.float32)
    layer = Dropout(0.25, seed=1)
    y1 = layer(x, training=True)
    y2 = layer(x, training=True)
    assert set(np.unique(y1)) <= {0.0, np.float32(1 / 0.75)}
    assert not np.array_equal(y1, y2)
    assert layer.steps == 2


def test_dropout_masks_repeat_from_the_seed_on_any_thread_count():
    x = _x((64, 33)).astype(np.float32)
    outs = []
    for n in (1, 2):
        with cydl.num_threads(n):
            layer = Dropout(0.5, seed=42)
            outs.append([layer(x, training=True) for _ in range(3)])
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)
    cydl.utils.set_random_seed(7)
    a = Dropout(0.5)(x, training=True)
    cydl.utils.set_random_seed(7)
    b = Dropout(0.5)(x, training=True)
    np.testing.assert_array_equal(a, b)


def test_mc_dropout_is_active_without_training_flag():
    x = np.ones((20, 30), np.float32)
    layer = MCDropout(0.5, seed=0)
    y1, y2 = layer(x), layer(x)
    assert (y1 == 0).any() and not np.array_equal(y1, y2)
    assert (Dropout(0.5, seed=0)(x, training=True) == 0).any()


def test_dropout_rejects_bad_rate_and_seed():
    with pytest.raises(ValueError, match="rate"):
        Dropout(1.5)
    with pytest.raises(ValueError, match="seed"):
        Dropout(0.5, seed=-3)
    with pytest.raises(ValueError, match="rate"):
        AlphaDropout(1.0)


# ------------------------------------------------------------------ PReLU
@pytest.mark.parametrize("shape,shared_axes", [
    ((4, 5), None), ((1, 3), None), ((3, 2, 4), None), ((2, 3, 2, 3), [1, 2]),
    ((2, 3, 2, 3), [3]), ((2, 3, 4), [1])])
def test_prelu_gradient(shape, shared_axes):
    layer = PReLU(alpha_initializer="random_normal", shared_axes=shared_axes,
                  dtype="float64")
    x = Variable(_x(shape, avoid_zero=True), "x")
    layer(x.value)
    R = np.random.default_rng(6).standard_normal(shape)
    grad_check(lambda: _loss(layer(x), R), [x, layer.alpha])


def test_prelu_values_and_alpha_shape():
    x = _x((3, 4, 5), seed=2)
    layer = PReLU(alpha_initializer="random_normal", shared_axes=[1], dtype="float64")
    y = layer(x)
    assert layer.alpha.shape == (1, 5)
    a = layer.alpha.numpy()
    np.testing.assert_allclose(y, np.where(x > 0, x, a * x), rtol=1e-15)
    assert PReLU()(np.ones((2, 3, 4))) is not None
    relu_like = PReLU()
    np.testing.assert_array_equal(relu_like(x), np.maximum(x, 0).astype(np.float32))
    assert relu_like.alpha.shape == (4, 5)


# ------------------------------------------------------------------ Normalization
def test_normalization_adapt_matches_numpy_and_builds_the_layer():
    data = _x((50, 3, 4)) * 5 + 3
    layer = Normalization(axis=-1)
    layer.adapt(data)
    assert layer.built
    np.testing.assert_allclose(layer.adapt_mean.numpy(), data.mean(axis=(0, 1)), rtol=1e-6)
    np.testing.assert_allclose(layer.adapt_variance.numpy(), data.var(axis=(0, 1)),
                               rtol=1e-5)
    assert [w.name for w in layer.non_trainable_weights] == ["mean", "variance"]
    assert layer.trainable_weights == []
    y = layer(data.astype(np.float32))
    np.testing.assert_allclose(y.mean(axis=(0, 1)), 0, atol=1e-5)
    np.testing.assert_allclose(y.std(axis=(0, 1)), 1, rtol=1e-5)


def test_normalization_adapt_over_batches_equals_whole_array():
    data = _x((37, 4), seed=3) * 2 - 1
    whole, parts = Normalization(dtype="float64"), Normalization(dtype="float64")
    whole.adapt(data)
    parts.adapt([data[:10], data[10:11], data[11:]])
    np.testing.assert_allclose(parts.adapt_mean.numpy(), whole.adapt_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(parts.adapt_variance.numpy(), whole.adapt_variance.numpy(),
                               rtol=1e-12)


def test_normalization_given_statistics_invert_and_epsilon():
    x = _x((6, 3), seed=4)
    mean, var = np.array([1.0, -2.0, 0.5]), np.array([4.0, 0.25, 0.0])
    layer = Normalization(mean=mean, variance=var, dtype="float64")
    y = layer(x)
    np.testing.assert_allclose(y, (x - mean) / np.maximum(np.sqrt(var), 1e-7), rtol=1e-12)
    back = Normalization(mean=mean, variance=var, invert=True, dtype="float64")
    np.testing.assert_allclose(back(y), x, rtol=1e-9, atol=1e-12)
    assert layer.weights == []


def test_normalization_gradient_flows_to_the_input():
    layer = Normalization(axis=1, dtype="float64")
    layer.adapt(_x((20, 3, 2), seed=5) * 3)
    x = Variable(_x((4, 3, 2), seed=6), "x")
    R = np.random.default_rng(7).standard_normal((4, 3, 2))
    grad_check(lambda: _loss(layer(x), R), [x])


# ------------------------------------------------------------------ configs
@pytest.mark.parametrize("layer", [
    BatchNormalization(axis=1, momentum=0.9, epsilon=1e-4, center=False,
                       gamma_initializer="random_normal", gamma_regularizer="l2"),
    Dropout(0.3, noise_shape=(None, 1), seed=5),
    AlphaDropout(0.1, seed=2),
    PReLU(alpha_initializer="ones", shared_axes=[1, 2]),
    Normalization(axis=(1, 2), mean=[1.0, 2.0], variance=[3.0, 4.0], invert=True),
    Normalization(axis=None)])
def test_get_config_round_trip(layer):
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    keys = {BatchNormalization: {"axis", "momentum", "epsilon", "center", "scale",
                                 "beta_initializer", "gamma_initializer",
                                 "moving_mean_initializer", "moving_variance_initializer",
                                 "beta_regularizer", "gamma_regularizer", "beta_constraint",
                                 "gamma_constraint", "synchronized"},
            Dropout: {"rate", "noise_shape", "seed"},
            AlphaDropout: {"rate", "noise_shape", "seed"},
            PReLU: {"alpha_initializer", "alpha_regularizer", "alpha_constraint",
                    "shared_axes"},
            Normalization: {"axis", "mean", "variance", "invert"}}[type(layer)]
    assert keys <= set(config)


def test_new_layers_are_exported():
    for name in ("BatchNormalization", "Dropout", "AlphaDropout", "PReLU", "Normalization"):
        assert name in cydl.layers.__all__ and hasattr(cydl.layers, name)


# ------------------------------------------------------------------ in models
def test_book_model_trains_and_counts_like_keras():
    cydl.utils.set_random_seed(0)
    model = cydl.Sequential([
        cydl.Input((28, 28)), Flatten(), BatchNormalization(),
        Dense(300, activation="relu"), BatchNormalization(),
        Dense(100, activation="relu"), BatchNormalization(), Dense(10, activation="softmax")])
    widths = (784, 300, 100)
    assert sum(w.size for w in model.non_trainable_weights) == 2 * sum(widths)
    rng = np.random.default_rng(0)
    x = rng.random((64, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 64)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    bn = model.layers[1]
    before = bn.moving_mean.numpy()
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    assert not np.array_equal(bn.moving_mean.numpy(), before)     # updated in place
    p1 = model.predict(x[:5], verbose=0)
    p2 = model.predict(x[:5], verbose=0)
    np.testing.assert_array_equal(p1, p2)           # inference: moving statistics only


def test_dropout_prelu_alpha_dropout_train_in_a_model():
    cydl.utils.set_random_seed(1)
    rng = np.random.default_rng(1)
    x = rng.random((128, 6)).astype(np.float32)
    y = x.sum(axis=1, keepdims=True)
    model = cydl.Sequential([cydl.Input((6,)), Dense(16, activation="selu"), AlphaDropout(0.1),
                             Dense(16), PReLU(), Dropout(0.2), Dense(1)])
    model.compile(loss="mse", optimizer="adam")
    model.fit(x, y, epochs=3, verbose=0)
    prelu = model.layers[3]
    assert np.any(prelu.alpha.numpy() != 0)        # the slopes got gradients
    np.testing.assert_array_equal(model.predict(x[:4], verbose=0),
                                  model.predict(x[:4], verbose=0))
