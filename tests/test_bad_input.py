"""Bad input gets a clear ValueError or TypeError naming the value; odd but valid
input (float64, int, non-contiguous) is converted."""
import numpy as np
import pytest

import cydl
from cydl import layers


def _model(**compile_kwargs):
    model = cydl.Sequential([layers.Input(shape=(4,)), layers.Dense(8, activation="relu"),
                             layers.Dense(3, activation="softmax")])
    model.compile(loss=compile_kwargs.pop("loss", "sparse_categorical_crossentropy"),
                  optimizer="sgd", metrics=["accuracy"], **compile_kwargs)
    return model


X = np.random.default_rng(0).standard_normal((10, 4)).astype(np.float32)
Y = np.arange(10) % 3


@pytest.mark.parametrize("x,y,match", [
    (X, Y[:9], "cardinality"),
    (X[:, :3], Y, "incompatible shape"),
    (X[:, :, None], Y, "incompatible shape"),
    (X.ravel(), Y, "incompatible shape"),
    (np.where(np.arange(40).reshape(10, 4) == 7, np.nan, X), Y, "NaN or inf"),
    (np.where(np.arange(40).reshape(10, 4) == 9, np.inf, X), Y, "NaN or inf"),
    (X, np.where(np.arange(10) == 4, 3, Y), "label value of 3"),
    (X, np.where(np.arange(10) == 4, -1, Y), "label value of -1"),
    (X, Y + 0.5, "integer"),
    (X[:0], Y[:0], "empty"),
])
def test_fit_rejects_bad_data(x, y, match):
    with pytest.raises(ValueError, match=match):
        _model().fit(x, y, verbose=0)


def test_non_numeric_arrays():
    with pytest.raises(TypeError, match="numeric"):
        _model().fit(np.array([["a"] * 4] * 10), Y, verbose=0)
    with pytest.raises(TypeError, match="numeric"):
        _model().fit(X, np.array(["cat"] * 10), verbose=0)
    with pytest.raises(TypeError, match="numeric"):
        _model().predict(np.array([[object()] * 4]))


@pytest.mark.parametrize("kwargs,match", [
    ({"epochs": 0}, "epochs"), ({"epochs": -3}, "epochs"), ({"epochs": 1.5}, "epochs"),
    ({"batch_size": 0}, "batch_size"), ({"validation_split": 1.0}, "validation_split"),
])
def test_fit_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _model().fit(X, Y, verbose=0, **kwargs)


@pytest.mark.parametrize("build,match", [
    (lambda: cydl.optimizers.get("sgdd"), "sgdd"),
    (lambda: _model(loss="msee"), "msee"),
    (lambda: layers.Dense(3, activation="relux"), "relux"),
    (lambda: layers.Dense(0), "units=0"),
    (lambda: layers.Dense(-2), "units=-2"),
    (lambda: layers.Dense(3, kernel_initializer="he_normall"), "he_normall"),
    (lambda: layers.Dense(3, kernel_regularizer="l3"), "l3"),
    (lambda: cydl.config.set_floatx("float16"), "float16"),
    (lambda: cydl.set_num_threads(0), "n=0"),
])
def test_unknown_names_and_bad_hyperparameters(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_unknown_metric_name():
    model = cydl.Sequential([layers.Input(shape=(4,)), layers.Dense(3, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", metrics=["accuracyy"])
    with pytest.raises(ValueError, match="accuracyy"):
        model.fit(X, Y, verbose=0)


def test_fit_before_compile():
    model = cydl.Sequential([layers.Input(shape=(4,)), layers.Dense(3)])
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(X, Y)


@pytest.mark.parametrize("x", [X.astype(np.float64), (X * 10).astype(np.int64),
                               np.asfortranarray(X), np.repeat(X, 2, axis=1)[:, ::2],
                               (np.abs(X) * 50).astype(np.uint8), X.tolist()])
def test_other_dtypes_and_layouts_are_converted(x):
    model = _model()
    model.fit(x, Y, epochs=1, verbose=0)
    expected = model.predict(np.asarray(x, np.float32))
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-6)
    assert model.predict(x).dtype == np.float32


def test_one_hot_labels_with_sparse_loss_are_explained():
    with pytest.raises(ValueError, match="categorical_crossentropy"):
        _model().fit(X, np.eye(3)[Y], verbose=0)


@pytest.mark.parametrize("kw", [{"use_ema": True}, {"decay": 0.1},
                                {"gradient_accumulation_steps": 2},
                                {"loss_scale_factor": 128.0}])
def test_keras_optimizer_arguments_cydl_would_ignore_are_refused(kw):
    # accepting them would silently train differently from Keras
    with pytest.raises(NotImplementedError, match=next(iter(kw))):
        cydl.optimizers.Adam(**kw)


@pytest.mark.parametrize("kw", [{"use_ema": False}, {"jit_compile": True}, {"decay": 0},
                                {"ema_momentum": 0.99}])
def test_keras_optimizer_arguments_at_inert_values_are_accepted(kw):
    cydl.optimizers.Adam(**kw)
