"""Lambda, GaussianNoise, GaussianDropout, Rescaling, Identity and UnitNormalization:
forward passes and configs against Keras 3 itself, gradients against PyTorch
autograd, noise statistics against their definition, and saving with cydl's saver."""
import math
import os

import numpy as np
import pytest

import cydl
from cydl import layers, ops

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    return pytest.importorskip("keras", reason="Keras 3 is the API oracle")


@pytest.fixture
def torch():
    return pytest.importorskip("torch", reason="torch is the gradient oracle")


def _np(keras, x):
    return keras.ops.convert_to_numpy(x)


def _inputs(dtype="float32", shape=(4, 3, 5)):
    x = np.random.default_rng(0).normal(size=shape).astype(dtype)
    x[0] = 0.0                      # an all-zero sample
    x[1] = 1e-14                    # and one whose norm is below Keras' epsilon
    return x


# ----------------------------------------------------------------- forward vs Keras
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("axis", [-1, 1, [1, 2], (0, 2)])
def test_unit_normalization_matches_keras_and_torch(keras, torch, axis, dtype):
    x = _inputs(dtype)
    got = layers.UnitNormalization(axis=axis, dtype=dtype)(x)
    assert got.dtype == np.dtype(dtype)
    # Keras 3.15 computes even a float64 layer at float32 precision (its 1 / epsilon
    # cap is a float32 constant, and ops.minimum gives float32): float32 tolerance
    want = _np(keras, keras.layers.UnitNormalization(axis=axis, dtype=dtype)(x))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=0)
    # the same formula, x / max(||x||, 1e-12), in torch at the layer's precision
    dims = tuple(axis) if isinstance(axis, (list, tuple)) else axis
    xt = torch.from_numpy(x)
    exact = (xt / torch.clamp_min(torch.linalg.vector_norm(xt, dim=dims, keepdim=True),
                                  1e-12)).numpy()
    np.testing.assert_allclose(got, exact, rtol=1e-6 if dtype == "float32" else 1e-13, atol=0)


@pytest.mark.parametrize("scale, offset", [(1 / 255, 0.0), (1 / 127.5, -1), ([1.0, 2.0, 0.5], 0.25),
                                           (2.0, [0.0, 1.0, -1.0])])
def test_rescaling_matches_keras(keras, scale, offset):
    x = np.random.default_rng(1).integers(0, 256, (4, 3))
    want = _np(keras, keras.layers.Rescaling(scale, offset)(x))
    got = layers.Rescaling(scale, offset)(x)
    assert got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-7)


def test_identity_matches_keras(keras):
    x = _inputs()
    np.testing.assert_array_equal(layers.Identity()(x), _np(keras, keras.layers.Identity()(x)))


def test_lambda_matches_keras(keras):
    x = _inputs()
    want = _np(keras, keras.layers.Lambda(lambda v, k: keras.ops.square(v) * k + 1.0,
                                          arguments={"k": 3.0})(x))
    got = layers.Lambda(lambda v, k: ops.square(v) * k + 1.0, arguments={"k": 3.0})(x)
    np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.parametrize("cls, kwargs", [("GaussianNoise", {"stddev": 0.3, "seed": 4}),
                                         ("GaussianDropout", {"rate": 0.3, "seed": 4}),
                                         ("Rescaling", {"scale": [1.0, 2.0], "offset": 0.5}),
                                         ("Rescaling", {"scale": 0.5}),
                                         ("UnitNormalization", {"axis": [1, 2]}),
                                         ("Identity", {})])
def test_configs_match_keras(keras, cls, kwargs):
    ours = getattr(layers, cls)(**kwargs).get_config()
    theirs = getattr(keras.layers, cls)(**kwargs).get_config()
    for key in set(theirs) - {"name", "dtype", "trainable"}:
        assert ours[key] == theirs[key], key
    again = getattr(layers, cls).from_config(ours).get_config()
    assert again == ours


@pytest.mark.parametrize("cls, make", [
    ("GaussianNoise", lambda m: m.GaussianNoise(2.0)),
    ("GaussianDropout", lambda m: m.GaussianDropout(1.5)),
    ("GaussianDropout", lambda m: m.GaussianDropout(-0.1)),
    ("UnitNormalization", lambda m: m.UnitNormalization(axis="x")),
    ("UnitNormalization", lambda m: m.UnitNormalization(axis=2.0)),
])
def test_bad_arguments_fail_like_keras(keras, cls, make):
    with pytest.raises((ValueError, TypeError)) as theirs:
        make(keras.layers)
    with pytest.raises(type(theirs.value)) as ours:
        make(layers)
    assert cls in str(ours.value) or "axis" in str(ours.value)


@pytest.mark.parametrize("make, match", [
    (lambda: layers.GaussianNoise("0.1"), "stddev"),
    (lambda: layers.GaussianDropout(1.0), "rate"),     # Keras divides by zero later
    (lambda: layers.Rescaling("a"), "scale"),
    (lambda: layers.Rescaling(1.0, offset=np.inf), "offset"),
    (lambda: layers.Lambda(3), "callable"),
    (lambda: layers.Lambda(ops.relu, arguments=[1]), "arguments"),
    (lambda: layers.GaussianNoise(0.1, seed=-1), "seed"),
])
def test_bad_arguments_name_the_value(make, match):
    with pytest.raises((TypeError, ValueError), match=match):
        make()


def test_unit_normalization_axis_out_of_bounds(keras):
    with pytest.raises(ValueError):
        keras.layers.UnitNormalization(axis=3)(keras.Input((3,)))
    with pytest.raises(ValueError, match="out of bounds"):
        layers.UnitNormalization(axis=3)(np.ones((2, 3)))


# ----------------------------------------------------------------- noise layers
NOISE = [(layers.GaussianNoise, "stddev", 0.4, lambda p: (0.0, p)),
         (layers.GaussianDropout, "rate", 0.2, lambda p: (1.0, math.sqrt(p / (1 - p))))]


@pytest.mark.parametrize("cls, arg, value, moments", NOISE)
def test_noise_statistics_and_identity_at_inference(keras, cls, arg, value, moments):
    """Training: the noise has the mean and standard deviation of its definition (as
    Keras' own draws do); inference: the identity, in both libraries."""
    n = 200_000
    base = np.zeros((n, 1), "float32") if arg == "stddev" else np.ones((n, 1), "float32")
    mean, std = moments(value)
    ours = cls(**{arg: value}, seed=1)(base, training=True)
    theirs = _np(keras, getattr(keras.layers, cls.__name__)(**{arg: value}, seed=1)(
        base, training=True))
    for draws in (ours, theirs):
        assert abs(draws.mean() - mean) < 5 * std / math.sqrt(n)
        assert abs(draws.std() - std) < 5 * std / math.sqrt(2 * n)
    x = _inputs()
    layer = cls(**{arg: value}, seed=1)
    np.testing.assert_array_equal(layer(x), x)
    np.testing.assert_array_equal(layer(x, training=False), x)
    np.testing.assert_array_equal(
        _np(keras, getattr(keras.layers, cls.__name__)(**{arg: value})(x)), x)


@pytest.mark.parametrize("cls, arg, value, moments", NOISE)
def test_noise_follows_seed_and_step(cls, arg, value, moments):
    x = _inputs()
    a, b, c = cls(**{arg: value}, seed=5), cls(**{arg: value}, seed=5), cls(**{arg: value}, seed=6)
    first = a(x, training=True)
    np.testing.assert_array_equal(first, b(x, training=True))
    assert not np.array_equal(first, c(x, training=True))
    assert not np.array_equal(first, a(x, training=True))      # a fresh draw per step
    assert a.steps == 2
    cydl.utils.set_random_seed(3)
    d = cls(**{arg: value})(x, training=True)
    cydl.utils.set_random_seed(3)
    np.testing.assert_array_equal(d, cls(**{arg: value})(x, training=True))


# ----------------------------------------------------------------- gradients vs torch
def _model(middle):
    cydl.config.set_floatx("float64")       # the model's own dtype too (conftest resets it)
    cydl.utils.set_random_seed(0)
    return cydl.Sequential([layers.Input((3,)), layers.Dense(4), middle, layers.Dense(2)])


def _torch_grads(torch, model, x, y, middle):
    w1, b1, w2, b2 = [torch.tensor(w, requires_grad=True) for w in model.get_weights()]
    out = middle(torch.from_numpy(x) @ w1 + b1) @ w2 + b2
    torch.mean((out - torch.from_numpy(y)) ** 2).backward()
    return [p.grad.numpy() for p in (w1, b1, w2, b2)]


def _tape_grads(model, x, y):
    with cydl.GradientTape() as tape:
        loss = ops.mean(ops.square(model(x, training=True) - y))
    return tape.gradient(loss, model.trainable_variables)


def _noise_factor(cls, arg, value, seed, shape):
    """What a fresh layer with the same seed draws at its first step."""
    layer = cls(**{arg: value}, seed=seed, dtype="float64")
    base = np.zeros(shape) if arg == "stddev" else np.ones(shape)
    return layer(base, training=True)


@pytest.mark.parametrize("case", ["unit_norm", "unit_norm_axis0", "rescaling", "identity",
                                  "lambda", "gaussian_noise", "gaussian_dropout"])
def test_gradients_match_torch(torch, case):
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    x[0] = 0.0            # with zero biases, UnitNormalization sees an all-zero row
    F = torch.nn.functional
    if case == "unit_norm":
        middle, twin = layers.UnitNormalization(), lambda h: F.normalize(h, dim=-1, eps=1e-12)
    elif case == "unit_norm_axis0":
        middle, twin = layers.UnitNormalization(axis=0), lambda h: F.normalize(h, dim=0, eps=1e-12)
    elif case == "rescaling":
        middle = layers.Rescaling([0.5, -2.0, 1.0, 3.0], offset=1.5)
        twin = lambda h: h * torch.tensor([0.5, -2.0, 1.0, 3.0], dtype=torch.float64) + 1.5
    elif case == "identity":
        middle, twin = layers.Identity(), lambda h: h
    elif case == "lambda":
        middle = layers.Lambda(lambda h: ops.tanh(h) * ops.sigmoid(h))
        twin = lambda h: torch.tanh(h) * torch.sigmoid(h)
    else:
        cls, arg, value = (layers.GaussianNoise, "stddev", 0.5) if case == "gaussian_noise" \
            else (layers.GaussianDropout, "rate", 0.4)
        middle = cls(**{arg: value}, seed=9)
        factor = torch.from_numpy(_noise_factor(cls, arg, value, 9, (5, 4)))
        twin = (lambda h: h + factor) if arg == "stddev" else (lambda h: h * factor)
    model = _model(middle)
    want = _torch_grads(torch, model, x, y, twin)
    for got, expected in zip(_tape_grads(model, x, y), want):
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)


def test_noise_layer_trains_with_fit_like_the_tape():
    """fit() (the graph runner) takes the same step as a custom loop."""
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(8, 3)), rng.normal(size=(8, 2))
    fitted = _model(layers.GaussianDropout(0.3, seed=2))
    fitted.compile(loss="mse", optimizer=cydl.optimizers.SGD(0.1))
    fitted.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    looped = _model(layers.GaussianDropout(0.3, seed=2))
    grads = _tape_grads(looped, x, y)
    cydl.optimizers.SGD(0.1).apply_gradients(zip(grads, looped.trainable_variables))
    for a, b in zip(fitted.get_weights(), looped.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-12)


# ----------------------------------------------------------------- saving
def _named_square(x):
    return ops.square(x)


class _Callable:
    def __call__(self, x):
        return x


def test_all_new_layers_save_and_load(tmp_path):
    inputs = layers.Input((6,))
    h = layers.Rescaling(0.5, offset=[1.0] * 6)(inputs)
    h = layers.Dense(5)(h)
    h = layers.GaussianNoise(0.2, seed=1)(h)
    h = layers.Lambda(_named_square)(h)
    h = layers.Lambda(ops.relu)(h)
    h = layers.GaussianDropout(0.2, seed=3)(h)
    h = layers.Identity()(h)
    outputs = layers.UnitNormalization()(layers.Dense(3)(h))
    model = cydl.Model(inputs, outputs)
    model.compile(loss="mse", optimizer="adam")
    x = np.random.default_rng(0).normal(size=(10, 6)).astype("float32")
    model.fit(x, x[:, :3], epochs=2, batch_size=5, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    with pytest.raises(ValueError, match="_named_square.*custom_objects"):
        cydl.models.load_model(path)
    loaded = cydl.models.load_model(path, custom_objects={"_named_square": _named_square})
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    # the noise layers go on with the draws the original would have made
    np.testing.assert_array_equal(loaded(x, training=True), model(x, training=True))
    np.testing.assert_array_equal(cydl.models.clone_model(model).predict(x, verbose=0).shape,
                                  (10, 3))


@pytest.mark.parametrize("function", [lambda x: ops.square(x),
                                      (lambda k: (lambda x: x * k))(2.0),
                                      ops.convert_to_tensor.__call__, _Callable()])
def test_lambda_with_code_cannot_be_saved(tmp_path, function):
    model = cydl.Sequential([layers.Input((3,)), layers.Dense(2), layers.Lambda(function)])
    model.compile(loss="mse", optimizer="sgd")
    path = tmp_path / "m.keras"
    with pytest.raises(ValueError) as err:
        model.save(path)
    message = str(err.value)
    for words in ("no code", "pickle", "get_config", "save_weights"):
        assert words in message
    assert not path.exists()
    model.save_weights(tmp_path / "m.weights.npz")           # the weights always save
    clone = cydl.models.clone_model(model)                    # in memory, the function stays
    clone.load_weights(tmp_path / "m.weights.npz")
    x = np.ones((2, 3), "float32")
    np.testing.assert_array_equal(clone.predict(x, verbose=0), model.predict(x, verbose=0))


def test_lambda_passes_training_and_infers_output_shape():
    seen = []

    def fn(x, training=None):
        seen.append(training)
        return ops.concatenate([x, x], axis=-1)
    layer = layers.Lambda(fn)
    model = cydl.Sequential([layers.Input((3,)), layer])
    assert model.output_shape == (None, 6) and layer.output_shape == (None, 6)
    model(np.ones((2, 3)), training=True)
    assert seen[-1] is True
    assert layers.Lambda(fn, output_shape=(7,)).compute_output_shape((None, 3)) == (None, 7)


# ReLU(max_value, negative_slope, threshold) and Softmax(axis): Keras 3 itself is the
# oracle of the values; the settings that are not one fused kernel are composed from
# cydl.ops and must never be folded into the Dense before them
_RELU_SETTINGS = [dict(), dict(max_value=6.0), dict(negative_slope=0.2),
                  dict(max_value=3.0, negative_slope=0.1, threshold=1.0),
                  dict(threshold=0.5), dict(max_value=2.5, threshold=0.5, negative_slope=0.3)]
_KERAS_RELU = """
x = np.array(data["x"])
result = {"relu": [np.asarray(keras.layers.ReLU(**kw)(x)).tolist() for kw in data["relu"]],
          "softmax": [np.asarray(keras.layers.Softmax(axis=a)(x)).tolist() for a in (0, 1, -1)]}
"""


def test_relu_and_softmax_settings_match_keras_in_a_trained_model():
    from _keras_oracle import run_keras
    rng = np.random.default_rng(3)
    x = np.round(rng.normal(size=(6, 5)) * 3, 1)     # includes values at the thresholds
    x[0, :3] = [1.0, 3.0, -0.5]
    theirs = run_keras(_KERAS_RELU, {"x": x.tolist(), "relu": _RELU_SETTINGS})
    # the layers compute in float32 (the default policy), Keras here in float64: a few
    # float32 roundings apart
    for kw, want in zip(_RELU_SETTINGS, theirs["relu"]):
        np.testing.assert_allclose(layers.ReLU(**kw)(x), want, rtol=1e-6, atol=1e-6)
    for axis, want in zip((0, 1, -1), theirs["softmax"]):
        np.testing.assert_allclose(layers.Softmax(axis=axis)(x), want, rtol=1e-6, atol=1e-7)
    # in a model: predict goes through the plan, and the layer must not be folded
    for make in [lambda: layers.ReLU(**_RELU_SETTINGS[3]), lambda: layers.Softmax(axis=0)]:
        cydl.utils.set_random_seed(0)
        m = cydl.Sequential([layers.Input((5,)), layers.Dense(5), make(), layers.Dense(3)])
        m.compile(loss="mse", optimizer="sgd")
        m.fit(x.astype("float32"), x[:, :3].astype("float32"), epochs=2, verbose=0)
        d1, act, d2 = m.layers
        h = x.astype("float32") @ d1.kernel.numpy() + d1.bias.numpy()
        want = np.asarray(act(h)) @ d2.kernel.numpy() + d2.bias.numpy()
        np.testing.assert_allclose(m.predict(x.astype("float32"), verbose=0), want,
                                   rtol=1e-5, atol=1e-5)


def test_composed_relu_gradients_and_config_round_trip(tmp_path):
    cydl.config.set_floatx("float64")
    try:
        cydl.utils.set_random_seed(1)
        m = cydl.Sequential([layers.Input((4,)), layers.Dense(6),
                             layers.ReLU(max_value=1.5, negative_slope=0.1, threshold=0.2),
                             layers.Dense(2)])
        m.compile(loss="mse", optimizer="sgd")
        x = np.random.default_rng(2).normal(size=(8, 4))
        y = np.random.default_rng(3).normal(size=(8, 2))
        result = cydl.utils.check_gradients(m, x, y)
        assert result.passed, result
        m.save(tmp_path / "m.keras")
        again = cydl.models.load_model(tmp_path / "m.keras")
        assert again.layers[1].get_config()["max_value"] == 1.5
        np.testing.assert_array_equal(again.predict(x, verbose=0), m.predict(x, verbose=0))
    finally:
        cydl.config.set_floatx("float32")


@pytest.mark.parametrize("kwargs, name", [(dict(threshold=-0.5), "threshold"),
                                          (dict(max_value=-1.0), "max_value"),
                                          (dict(negative_slope=float("nan")), "negative_slope")])
def test_relu_refuses_what_keras_refuses(kwargs, name):
    with pytest.raises(ValueError, match=name):
        layers.ReLU(**kwargs)
