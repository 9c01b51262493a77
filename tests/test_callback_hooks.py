"""Callback hooks in evaluate and predict, and how logs travel between callbacks,
checked without Keras (tests/test_callbacks_keras.py compares with Keras itself)."""
import math

import numpy as np
import pytest

import cydl
from cydl import layers


def _model(outputs=1):
    cydl.utils.set_random_seed(0)
    inputs = layers.Input(shape=(4,))
    hidden = layers.Dense(6, activation="relu")(inputs)
    outs = [layers.Dense(3, activation="softmax", name=f"out{k}")(hidden)
            for k in range(outputs)]
    model = cydl.Model(inputs=inputs, outputs=outs if outputs > 1 else outs[0])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def _data(n=10):
    rng = np.random.default_rng(1)
    return rng.normal(size=(n, 4)).astype("float32"), rng.integers(0, 3, n)


class Recorder(cydl.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.events = []

    def on_test_begin(self, logs=None): self.events.append(("test_begin", None))
    def on_test_end(self, logs=None): self.events.append(("test_end", None))
    def on_test_batch_begin(self, batch, logs=None): self.events.append(("begin", batch))
    def on_test_batch_end(self, batch, logs=None): self.events.append(("end", batch))
    def on_predict_begin(self, logs=None): self.events.append(("predict_begin", None))
    def on_predict_end(self, logs=None): self.events.append(("predict_end", None))

    def on_predict_batch_begin(self, batch, logs=None):
        self.events.append(("begin", batch))

    def on_predict_batch_end(self, batch, logs=None):
        self.events.append(("end", batch, logs["outputs"].shape))


@pytest.mark.parametrize("batch_size, n", [(4, 10), (None, 70)])
def test_evaluate_fires_the_test_hooks_per_batch(batch_size, n):
    x, y = _data(n)
    model, rec = _model(), Recorder()
    model.evaluate(x, y, batch_size=batch_size, verbose=0, callbacks=[rec])
    steps = math.ceil(n / (batch_size or 32))     # Keras' default batch of 32
    expected = [("test_begin", None)] + [e for i in range(steps)
                                         for e in (("begin", i), ("end", i))] + \
        [("test_end", None)]
    assert rec.events == expected


def test_predict_hands_each_batch_its_outputs():
    x, _ = _data(10)
    model, rec = _model(), Recorder()
    out = model.predict(x, batch_size=4, verbose=0, callbacks=[rec])
    assert out.shape == (10, 3)
    assert rec.events == [("predict_begin", None), ("begin", 0), ("end", 0, (4, 3)),
                          ("begin", 1), ("end", 1, (4, 3)), ("begin", 2), ("end", 2, (2, 3)),
                          ("predict_end", None)]


def test_stop_predicting_returns_the_batches_done():
    class Stop(cydl.callbacks.Callback):
        def on_predict_batch_end(self, batch, logs=None):
            if batch == 1:
                self.model.stop_predicting = True
    x, _ = _data(10)
    model = _model()
    out = model.predict(x, batch_size=4, verbose=0, callbacks=[Stop()])
    np.testing.assert_allclose(out, model.predict(x, verbose=0)[:8], rtol=1e-6, atol=1e-7)


def test_a_key_a_callback_adds_reaches_later_callbacks_of_that_call_only():
    seen = {}

    class Adds(cydl.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["extra"] = 1.5

    class Reads(cydl.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen["epoch"] = dict(logs)

        def on_train_end(self, logs=None):
            seen["end"] = dict(logs)
    x, y = _data()
    history = _model().fit(x, y, epochs=2, verbose=0, callbacks=[Adds(), Reads()])
    assert seen["epoch"]["extra"] == 1.5 and history.history["extra"] == [1.5, 1.5]
    assert "extra" not in seen["end"] and "loss" in seen["end"]


def test_a_hook_that_evaluates_other_data_leaves_validation_right():
    x, y = _data(20)
    other_x, other_y = _data(7)

    class Meddles(cydl.callbacks.Callback):
        def on_test_batch_end(self, batch, logs=None):
            if batch == 0 and not getattr(self, "busy", False):
                self.busy = True
                self.model.evaluate(other_x, other_y, verbose=0)
                self.busy = False

    model = _model()
    model.compile(optimizer=cydl.optimizers.SGD(learning_rate=0.0),
                  loss="sparse_categorical_crossentropy")
    history = model.fit(x, y, batch_size=5, epochs=1, verbose=0, validation_data=(x, y),
                        callbacks=[Meddles()])
    plain = model.evaluate(x, y, verbose=0)
    assert history.history["val_loss"][0] == pytest.approx(plain, rel=1e-6)


def test_a_history_in_the_list_is_the_one_fit_returns():
    x, y = _data()
    mine = cydl.callbacks.History()
    model = _model()
    assert model.fit(x, y, epochs=2, verbose=0, callbacks=[mine]) is mine
    assert model.history is mine and mine.epoch == [0, 1]


@pytest.mark.parametrize("method", ["evaluate", "predict"])
@pytest.mark.parametrize("callbacks, shown", [(42, "42"), ([object()], "callbacks[0]"),
                                              (cydl.callbacks.History(), "History")])
def test_bad_callbacks_are_named(method, callbacks, shown):
    x, y = _data()
    model = _model()
    args = (x, y) if method == "evaluate" else (x,)
    with pytest.raises(TypeError) as info:
        getattr(model, method)(*args, verbose=0, callbacks=callbacks)
    assert shown in str(info.value)
