"""cydl.utils.find_learning_rate: the book's exponential sweep, per-batch losses equal
to the steps' own, early stop, and the model (weights, optimizer state, learning
rate, global generator) left bit for bit as it was."""
import copy
import math

import numpy as np
import pytest

import cydl
from cydl import _config, layers
from cydl.utils import find_learning_rate

(_X, _Y), _ = cydl.datasets.digits.load_data()
X, Y = (_X.reshape(len(_X), -1) / 16.0).astype(np.float32)[:640], _Y[:640]


def _model(optimizer="adam", extra=()):
    cydl.utils.set_random_seed(0)
    model = cydl.Sequential([layers.Input(shape=(64,)), layers.Dense(32, activation="relu"),
                             *extra, layers.Dense(10, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer=optimizer)
    return model


def test_model_and_optimizer_state_are_bit_identical_after():
    model = _model(extra=[layers.BatchNormalization(), layers.Dropout(0.2)])
    model.fit(X, Y, epochs=1, verbose=0)        # an optimizer with state (Adam's slots)
    weights = model.get_weights()
    state = [np.array(a) for a in model.optimizer._state_arrays()]
    lr, rng = float(model.optimizer.learning_rate), _config.rng().bit_generator.state
    steps = model.layers[2].steps
    twin = copy.deepcopy(model)          # never swept
    result = find_learning_rate(model, X, Y, min_lr=1e-4, max_lr=1.0, batch_size=32)
    assert len(result.rates) > 5
    assert all(np.array_equal(a, b) for a, b in zip(weights, model.get_weights()))
    assert all(np.array_equal(a, b) for a, b in zip(state, model.optimizer._state_arrays()))
    assert float(model.optimizer.learning_rate) == lr
    assert _config.rng().bit_generator.state == rng
    assert model.layers[2].steps == steps
    # and it trains on exactly as the copy that was never swept
    for m in (model, twin):
        _config.rng().bit_generator.state = rng
        m.fit(X, Y, epochs=1, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(twin.get_weights(), model.get_weights()))


def test_rates_are_exponential_and_losses_are_the_steps_own():
    # identical rows: every batch is the same whatever the shuffling, so the sweep
    # can be replayed step by step with train_on_batch at the recorded rates
    x, y = np.repeat(X[:1], 96, axis=0), np.repeat(Y[:1], 96)
    model = _model(optimizer="sgd")
    replay = copy.deepcopy(model)
    result = find_learning_rate(model, x, y, min_lr=1e-3, max_lr=1.0, batch_size=32,
                                epochs=2, stop_factor=1e9)
    assert len(result.rates) == 6          # 3 batches x 2 epochs
    factor = math.exp(math.log(1.0 / 1e-3) / 6)
    np.testing.assert_allclose(result.rates, 1e-3 * factor ** np.arange(6), rtol=1e-12)
    expected = []
    for rate in result.rates:
        replay.optimizer.learning_rate = rate
        expected.append(replay.train_on_batch(x[:32], y[:32]))
    np.testing.assert_allclose(result.losses, expected, rtol=1e-6)
    rates, losses = result          # the book's `rates, losses = find_learning_rate(...)`
    assert rates is result.rates and losses is result.losses


def test_stops_when_the_loss_explodes_and_suggests_a_rate():
    model = _model(optimizer="sgd")
    result = find_learning_rate(model, X, Y, min_lr=1e-4, max_lr=1e4, batch_size=16)
    assert result.stopped_early
    assert len(result.rates) < math.ceil(len(X) / 16)
    smoothed = result.smoothed_losses
    last = smoothed[-1]
    assert not np.isfinite(last) or last > 4 * np.nanmin(smoothed)
    assert result.min_loss_rate == result.rates[int(np.nanargmin(smoothed))]
    assert result.suggested_rate == pytest.approx(result.min_loss_rate / 10)
    assert 1e-4 / 10 <= result.suggested_rate < result.rates[-1]


def test_plot_returns_axes():
    matplotlib = pytest.importorskip("matplotlib", reason="plotting is the [plot] extra")
    matplotlib.use("Agg")
    result = find_learning_rate(_model(), X[:128], Y[:128], batch_size=16, plot=True)
    ax = result.plot()
    assert ax.get_xscale() == "log"
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), result.rates)
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), result.losses)
    assert "suggested" in repr(result) or "suggested_rate" in repr(result)
    matplotlib.pyplot.close("all")


def test_bad_arguments():
    with pytest.raises(ValueError, match="max_lr"):
        find_learning_rate(_model(), X, Y, min_lr=1.0, max_lr=0.1)
    with pytest.raises(ValueError, match="min_lr"):
        find_learning_rate(_model(), X, Y, min_lr=0.0)
    with pytest.raises(ValueError, match="compile"):
        find_learning_rate(cydl.Sequential([layers.Input(shape=(64,)), layers.Dense(2)]), X, Y)
    with pytest.raises(TypeError, match="epochs"):
        find_learning_rate(_model(), X, Y, epochs=1.5)
    # one batch sweeps nothing (it returned min_lr / 10 as the suggestion)
    with pytest.raises(ValueError, match="at least 2 training steps"):
        find_learning_rate(_model(), X[:20], Y[:20], batch_size=32)
    assert len(find_learning_rate(_model(), X[:20], Y[:20], batch_size=32, epochs=2).rates) == 2
