"""History.plot: the book's pd.DataFrame(history.history).plot(), drawn with matplotlib
(Agg backend), and a clear ImportError without matplotlib."""
import sys

import numpy as np
import pytest

import cydl
from cydl import layers

RNG = np.random.default_rng(0)
X = RNG.normal(size=(64, 4)).astype(np.float32)
Y = (X[:, 0] > 0).astype(np.int64)


def _history(epochs=3):
    cydl.utils.set_random_seed(0)
    model = cydl.Sequential([layers.Input(shape=(4,)), layers.Dense(8, activation="relu"),
                             layers.Dense(2, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd",
                  metrics=["accuracy"])
    return model.fit(X, Y, epochs=epochs, validation_split=0.25, verbose=0)


def test_every_key_against_the_epoch_val_dashed_in_the_same_color():
    matplotlib = pytest.importorskip("matplotlib", reason="plotting is the [plot] extra")
    matplotlib.use("Agg")
    history = _history()
    ax = history.plot(ylim=[0, 2], title="curves")
    lines = {line.get_label(): line for line in ax.lines}
    assert list(lines) == list(history.history) == ["loss", "accuracy", "val_loss",
                                                    "val_accuracy"]
    for key, line in lines.items():
        np.testing.assert_array_equal(line.get_xdata(), history.epoch)
        np.testing.assert_array_equal(line.get_ydata(), history.history[key])
        assert line.get_linestyle() == ("--" if key.startswith("val_") else "-")
    assert lines["val_loss"].get_color() == lines["loss"].get_color()
    assert lines["val_accuracy"].get_color() == lines["accuracy"].get_color()
    assert lines["loss"].get_color() != lines["accuracy"].get_color()
    assert ax.get_xlabel() == "Epoch" and ax.get_ylim() == (0, 2)
    assert ax.get_title() == "curves"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(history.history)
    ax2 = history.plot(keys=["loss"])
    assert [line.get_label() for line in ax2.lines] == ["loss"]
    matplotlib.pyplot.close("all")


def test_bad_keys_and_empty_history():
    pytest.importorskip("matplotlib", reason="plotting is the [plot] extra")
    with pytest.raises(ValueError, match="unknown keys"):
        _history(1).plot(keys=["los"])
    with pytest.raises(ValueError, match="empty"):
        cydl.callbacks.History().plot()


def test_without_matplotlib_the_error_names_the_extra(monkeypatch):
    history = _history(1)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)     # import fails
    with pytest.raises(ImportError, match=r'pip install "cydl\[plot\]"'):
        history.plot()
