"""The Keras-shaped API: names, defaults, History keys, weights, dtypes, threads."""
import io

import numpy as np
import pytest

import cydl
from cydl import layers


def _book_model():
    return cydl.Sequential([
        layers.Input(shape=(28, 28)), layers.Flatten(),
        layers.Dense(300, activation="relu"), layers.Dense(100, activation="relu"),
        layers.Dense(10, activation="softmax")])


def test_summary_matches_keras():
    lines = []
    model = _book_model()
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "Total params: 266,610" in text and "Trainable params: 266,610" in text
    assert "(None, 784)" in text and "235,500" in text
    assert [layer.name for layer in model.layers][1:] == ["dense", "dense_1", "dense_2"] or \
        all(layer.name.startswith(("flatten", "dense")) for layer in model.layers)


def test_defaults_follow_keras():
    dense = layers.Dense(5)
    assert type(dense.kernel_initializer).__name__ == "GlorotUniform"
    assert type(dense.bias_initializer).__name__ == "Zeros"
    assert cydl.optimizers.SGD().current_learning_rate() == 0.01
    adam = cydl.optimizers.get("adam")
    assert (adam.current_learning_rate(), adam.beta_1, adam.beta_2, adam.epsilon) == \
        (0.001, 0.9, 0.999, 1e-7)
    assert cydl.config.floatx() == "float32"
    dense.build((None, 7))
    assert dense.kernel.shape == (7, 5) and np.all(dense.bias.numpy() == 0)
    limit = np.sqrt(6 / (7 + 5))
    assert np.abs(dense.kernel.numpy()).max() <= limit


def test_fit_history_evaluate_predict():
    cydl.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x, y = rng.random((200, 28, 28)), rng.integers(0, 10, 200)
    model = _book_model()
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
    history = model.fit(x, y, epochs=3, validation_data=(x[:50], y[:50]), verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert history.epoch == [0, 1, 2] and history.params["epochs"] == 3
    assert history.params["steps"] == 7     # ceil(200 / 32)
    assert model.history is history
    result = model.evaluate(x, y, verbose=0)
    assert isinstance(result, list) and len(result) == 2
    assert set(model.evaluate(x, y, verbose=0, return_dict=True)) == {"loss", "accuracy"}
    proba = model.predict(x[:3])
    assert proba.shape == (3, 10) and proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_allclose(model(x[:3]), proba, rtol=1e-6)
    np.testing.assert_allclose(model.predict(x, batch_size=7)[:3], proba, rtol=1e-5)


def test_validation_split_takes_the_last_samples():
    x = np.arange(100, dtype=np.float32).reshape(50, 2)
    y = np.arange(50) % 2
    model = cydl.Sequential([layers.Input(shape=(2,)), layers.Dense(2, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    h = model.fit(x / 100, y, epochs=1, validation_split=0.2, verbose=0)
    expected = model.evaluate(x[40:] / 100, y[40:], verbose=0)
    np.testing.assert_allclose(h.history["val_loss"][0], expected, rtol=1e-6)
    assert h.params["steps"] == 2      # 40 training samples, batch 32


def test_weights_round_trip_and_layer_access():
    model = _book_model()
    w = model.get_weights()
    assert [a.shape for a in w] == [(784, 300), (300,), (300, 100), (100,), (100, 10), (10,)]
    model2 = _book_model()
    model2.set_weights(w)
    x = np.random.default_rng(0).random((4, 28, 28))
    np.testing.assert_array_equal(model.predict(x), model2.predict(x))
    hidden1 = model.layers[1]
    assert model.get_layer(hidden1.name) is hidden1
    weights, biases = hidden1.get_weights()
    assert weights.shape == (784, 300) and biases.shape == (300,)
    with pytest.raises(ValueError, match="expects 6"):
        model.set_weights(w[:2])


def test_float64_everywhere():
    cydl.config.set_floatx("float64")
    assert cydl.backend.floatx() == "float64"
    model = cydl.Sequential([layers.Input(shape=(3,)), layers.Dense(4, activation="relu"),
                             layers.Dense(1)])
    model.compile(loss="mse", optimizer="sgd")
    model.fit(np.ones((8, 3)), np.ones(8), epochs=2, verbose=0)
    assert model.predict(np.ones((2, 3))).dtype == np.float64
    assert all(v.dtype == np.float64 for v in model.weights)


def test_dtype_argument():
    layer = layers.Dense(2, dtype="float64")
    assert layer(np.ones((1, 3), np.float32)).dtype == np.float64


def test_reproducible_for_a_seed_and_thread_count():
    rng = np.random.default_rng(5)
    x, y = rng.random((300, 20)), rng.integers(0, 3, 300)

    def run():
        cydl.utils.set_random_seed(123)
        model = cydl.Sequential([layers.Input(shape=(20,)), layers.Dense(30, activation="relu"),
                                 layers.Dense(3, activation="softmax")])
        model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
        model.fit(x, y, epochs=3, verbose=0)
        return model.get_weights()

    for a, b in zip(run(), run()):
        np.testing.assert_array_equal(a, b)


def test_thread_knobs():
    cydl.set_num_threads(1)
    assert cydl.get_num_threads() == 1
    with cydl.num_threads(2):
        assert cydl.get_num_threads() == (2 if cydl._config._openmp_enabled() else 1)
    assert cydl.get_num_threads() == 1
    cydl.set_num_threads(-1)
    assert cydl.get_num_threads() >= 1


def test_openmp_is_really_on_unless_disabled(monkeypatch):
    import os
    from cydl._kernels import _parallel
    if os.environ.get("CYDL_NO_OPENMP"):
        pytest.skip("built with CYDL_NO_OPENMP")
    assert _parallel.openmp_enabled()
    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    cydl.show_config()
    assert "OpenMP:    on" in out.getvalue()


def test_sequential_add_and_input_shape_kwarg():
    model = cydl.Sequential()
    model.add(layers.Dense(4, activation="relu", input_shape=(3,)))
    model.add(layers.Dense(2))
    assert model.built and model.output_shape == (None, 2)
    assert model.count_params() == 3 * 4 + 4 + 4 * 2 + 2
    lazy = cydl.Sequential([layers.Dense(2)])
    assert not lazy.built
    lazy.compile(loss="mse", optimizer="sgd")
    lazy.fit(np.ones((4, 5)), np.ones((4, 2)), verbose=0)
    assert lazy.built and lazy.input_shape == (None, 5)


def test_functional_chain():
    inputs = cydl.Input(shape=(8,))
    hidden = layers.Dense(30, activation="relu")(inputs)
    outputs = layers.Dense(1)(hidden)
    model = cydl.Model(inputs=inputs, outputs=outputs)
    model.compile(loss="mse", optimizer="sgd")
    model.fit(np.ones((16, 8)), np.ones(16), verbose=0)
    assert model.predict(np.ones((2, 8))).shape == (2, 1)


def test_progress_output_is_plain_lines_when_not_a_terminal(capsys):
    model = cydl.Sequential([layers.Input(shape=(2,)), layers.Dense(1)])
    model.compile(loss="mse", optimizer="sgd", metrics=["mae"])
    model.fit(np.ones((64, 2)), np.ones(64), epochs=2, verbose=1)
    out = capsys.readouterr().out
    assert "\r" not in out and "\x1b" not in out
    lines = out.strip().splitlines()
    assert lines[0] == "Epoch 1/2" and lines[1].startswith("2/2 - ")
    assert " - loss: " in lines[1] and " - mae: " in lines[1]


def test_early_stopping_restores_best_weights():
    rng = np.random.default_rng(0)
    x, y = rng.random((64, 3)), rng.random(64)
    model = cydl.Sequential([layers.Input(shape=(3,)), layers.Dense(1)])
    model.compile(loss="mse", optimizer=cydl.optimizers.SGD(learning_rate=0.5))
    es = cydl.callbacks.EarlyStopping(monitor="loss", patience=2, restore_best_weights=True)
    h = model.fit(x, y, epochs=50, callbacks=[es], verbose=0)
    best = int(np.argmin(h.history["loss"]))
    assert len(h.history["loss"]) < 50 or best == 49
    with pytest.raises(ValueError, match="Available keys"):
        model.fit(x, y, epochs=2, verbose=0,
                  callbacks=[cydl.callbacks.EarlyStopping(monitor="val_acc")])


def test_early_stopping_never_takes_nan_as_best():
    class Feed(cydl.callbacks.Callback):
        values = [float("nan"), 1.0, 0.5, 0.7, 0.8]

        def on_epoch_end(self, epoch, logs=None):
            logs["val_loss"] = self.values[epoch]

    model = cydl.Sequential([layers.Input(shape=(2,)), layers.Dense(1)])
    model.compile(loss="mse", optimizer="sgd")
    es = cydl.callbacks.EarlyStopping(patience=2)
    model.fit(np.ones((8, 2)), np.ones(8), epochs=5, verbose=0, callbacks=[Feed(), es])
    assert es.best == 0.5 and es.best_epoch == 2 and es.stopped_epoch == 4
