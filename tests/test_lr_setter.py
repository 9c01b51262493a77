"""The learning rate as the book changes it: from callbacks, per batch, with
`K.set_value(model.optimizer.learning_rate, ...)` or by assigning the property, on
the fused whole-step kernel and on the graph path."""
import math

import numpy as np
import pytest

import cydl
from cydl import layers

K = cydl.backend


# ----------------------------------------------------------------- the setter
@pytest.mark.parametrize("value", [0.01, 1, np.float32(0.25), np.float64(0.5),
                                   np.array(0.001), np.array(3, np.int64),
                                   np.array(0.125, np.float32)])
def test_setter_accepts_numbers_numpy_scalars_and_0d_arrays(value):
    opt = cydl.optimizers.SGD(learning_rate=0.1)
    var = opt.learning_rate
    opt.learning_rate = value
    assert opt.learning_rate is var            # the Variable stays, its value changes
    assert float(opt.learning_rate) == pytest.approx(float(np.asarray(value)))
    assert opt.current_learning_rate() == pytest.approx(float(np.asarray(value)))


def test_setter_copies_the_value_of_another_variable():
    src, dst = cydl.optimizers.SGD(0.2), cydl.optimizers.Adam(0.01)
    dst.learning_rate = src.learning_rate
    src.learning_rate = 0.7
    assert float(dst.learning_rate) == pytest.approx(0.2)


@pytest.mark.parametrize("value, exc, shown", [
    (np.array([0.1]), TypeError, "array([0.1])"),
    ("0.1", TypeError, "'0.1'"),
    (True, TypeError, "True"),
    (np.array(True), TypeError, "array(True)"),
    (-0.5, ValueError, "-0.5"),
    (np.array(np.nan), ValueError, "nan"),
    (math.inf, ValueError, "inf"),
])
def test_setter_refuses_values_that_are_not_one_rate(value, exc, shown):
    opt = cydl.optimizers.SGD(learning_rate=0.1)
    with pytest.raises(exc, match="learning_rate") as info:
        opt.learning_rate = value
    assert shown in str(info.value)
    assert float(opt.learning_rate) == pytest.approx(0.1)     # unchanged


def test_get_value_and_set_value_on_the_learning_rate():
    opt = cydl.optimizers.Adam(learning_rate=0.001)
    value = K.get_value(opt.learning_rate)
    assert isinstance(value, np.ndarray) and value.shape == () and value == 0.001
    K.set_value(opt.learning_rate, opt.learning_rate * 10)      # the book's idiom
    assert float(K.get_value(opt.learning_rate)) == pytest.approx(0.01)
    K.set_value(opt.learning_rate, np.float32(0.5))
    assert opt.current_learning_rate() == 0.5


def test_set_value_refuses_what_it_cannot_assign():
    opt = cydl.optimizers.SGD(0.1)
    with pytest.raises(TypeError, match="float"):
        K.set_value(0.1, 0.2)
    with pytest.raises(TypeError, match="'fast'"):
        K.set_value(opt.learning_rate, "fast")
    with pytest.raises(ValueError, match="shape"):
        K.set_value(opt.learning_rate, [0.1, 0.2])


def test_a_bad_rate_set_through_the_variable_stops_at_the_next_step():
    x, y = _data(16)
    model = _model()
    model.compile(loss="sparse_categorical_crossentropy", optimizer=cydl.optimizers.SGD(0.1))
    K.set_value(model.optimizer.learning_rate, np.nan)
    before = model.get_weights()
    with pytest.raises(ValueError, match="learning_rate=nan"):
        model.fit(x, y, epochs=1, verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_with_a_schedule_the_property_is_the_rate_of_the_next_step():
    schedule = cydl.optimizers.schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5)
    model = _model()
    model.compile(loss="sparse_categorical_crossentropy",
                  optimizer=cydl.optimizers.SGD(learning_rate=schedule))
    assert float(model.optimizer.learning_rate) == pytest.approx(0.1)
    x, y = _data(12)
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, shuffle=False)     # 3 steps
    assert float(K.get_value(model.optimizer.learning_rate)) == \
        pytest.approx(float(schedule(3)))
    assert float(schedule(3)) == pytest.approx(0.1 * 0.5 ** 1.5)


def test_clear_session_restarts_the_layer_names():
    K.clear_session()
    first = layers.Dense(2).name
    K.clear_session(free_memory=True)
    assert layers.Dense(2).name == first == "dense"


# ----------------------------------------------------------------- in training
def _data(n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 0.5)
    return x, y


def _model(seed=3):
    cydl.utils.set_random_seed(seed)
    return cydl.Sequential([layers.Input(shape=(6,)), layers.Dense(8, activation="relu"),
                            layers.Dense(3, activation="softmax")])


OPTIMIZERS = {
    "sgd": lambda lr: cydl.optimizers.SGD(learning_rate=lr),     # the folded SGD update
    "momentum": lambda lr: cydl.optimizers.SGD(learning_rate=lr, momentum=0.9),
    "adam": lambda lr: cydl.optimizers.Adam(learning_rate=lr),
}


class ExponentialLearningRate(cydl.callbacks.Callback):
    """The book's learning-rate finder (ch. 11), verbatim but for the import."""

    def __init__(self, factor):
        self.factor = factor
        self.rates = []
        self.losses = []

    def on_epoch_begin(self, epoch, logs=None):
        self.sum_of_epoch_losses = 0

    def on_batch_end(self, batch, logs=None):
        mean_epoch_loss = logs["loss"]
        new_sum_of_epoch_losses = mean_epoch_loss * (batch + 1)
        batch_loss = new_sum_of_epoch_losses - self.sum_of_epoch_losses
        self.sum_of_epoch_losses = new_sum_of_epoch_losses
        self.rates.append(K.get_value(self.model.optimizer.learning_rate))
        self.losses.append(batch_loss)
        K.set_value(self.model.optimizer.learning_rate,
                    self.model.optimizer.learning_rate * self.factor)


def _replay(rates, x, y, batch, opt_name, eagerly, weights):
    """The same steps by hand: train_on_batch on each batch in order, the rate set
    before each step."""
    model = _model()
    model.set_weights(weights)
    model.compile(loss="sparse_categorical_crossentropy",
                  optimizer=OPTIMIZERS[opt_name](rates[0]), run_eagerly=eagerly)
    losses = []
    steps_per_epoch = math.ceil(len(x) / batch)
    for step, rate in enumerate(rates):
        start = (step % steps_per_epoch) * batch
        model.optimizer.learning_rate = rate
        losses.append(model.train_on_batch(x[start:start + batch], y[start:start + batch]))
    return model, np.array(losses)


@pytest.mark.parametrize("eagerly", [False, True], ids=["fused", "graph"])
@pytest.mark.parametrize("opt_name", list(OPTIMIZERS))
def test_learning_rate_finder_changes_the_rate_of_every_step(opt_name, eagerly):
    x, y = _data(48)
    batch, lr0, factor = 8, 1e-3, 1.6
    model = _model()
    weights = model.get_weights()
    model.compile(loss="sparse_categorical_crossentropy", optimizer=OPTIMIZERS[opt_name](lr0),
                  run_eagerly=eagerly)
    assert model._runner(train=True).fused is not eagerly
    finder = ExponentialLearningRate(factor)
    model.fit(x, y, batch_size=batch, epochs=2, verbose=0, shuffle=False, callbacks=[finder])

    rates = np.array([float(r) for r in finder.rates])
    assert len(rates) == 2 * len(x) // batch
    np.testing.assert_allclose(rates, lr0 * factor ** np.arange(len(rates)), rtol=1e-12)
    assert int(model.optimizer.iterations.numpy()) == len(rates)

    replayed, step_losses = _replay(rates, x, y, batch, opt_name, eagerly, weights)
    for a, b in zip(model.get_weights(), replayed.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    # the finder recovers each batch's own loss from the running mean
    np.testing.assert_allclose(finder.losses, step_losses, rtol=1e-4, atol=1e-6)

    # and the rates mattered: one constant rate ends elsewhere
    constant, _ = _replay(np.full(len(rates), lr0), x, y, batch, opt_name, eagerly, weights)
    gap = max(np.abs(a - b).max() for a, b in zip(model.get_weights(), constant.get_weights()))
    assert gap > 1e-3


def test_the_rate_set_before_each_plain_sgd_step_is_the_rate_it_used():
    """Plain SGD steps are independent given the rate: a model recompiled with a
    fresh SGD(rate) before each step (the rate given to the constructor, not set)
    must end where the per-batch callback leads."""
    x, y = _data(32)
    model = _model()
    weights = model.get_weights()
    model.compile(loss="sparse_categorical_crossentropy",
                  optimizer=cydl.optimizers.SGD(learning_rate=0.05))
    finder = ExponentialLearningRate(0.5)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False, callbacks=[finder])

    reference = _model()
    reference.set_weights(weights)
    for step, rate in enumerate(finder.rates):
        reference.compile(loss="sparse_categorical_crossentropy",
                          optimizer=cydl.optimizers.SGD(learning_rate=float(rate)))
        reference.train_on_batch(x[8 * step:8 * step + 8], y[8 * step:8 * step + 8])
    for a, b in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


class OneCycleScheduler(cydl.callbacks.Callback):
    """The book's 1cycle scheduler (ch. 11): on_batch_begin, `logs` without a
    default, the property assigned through K.set_value."""

    def __init__(self, iterations, max_rate, start_rate=None, last_iterations=None,
                 last_rate=None):
        self.iterations = iterations
        self.max_rate = max_rate
        self.start_rate = start_rate or max_rate / 10
        self.last_iterations = last_iterations or iterations // 10 + 1
        self.half_iteration = (iterations - self.last_iterations) // 2
        self.last_rate = last_rate or self.start_rate / 1000
        self.iteration = 0
        self.seen = []

    def _interpolate(self, iter1, iter2, rate1, rate2):
        return (rate2 - rate1) * (self.iteration - iter1) / (iter2 - iter1) + rate1

    def on_batch_begin(self, batch, logs):
        if self.iteration < self.half_iteration:
            rate = self._interpolate(0, self.half_iteration, self.start_rate, self.max_rate)
        elif self.iteration < 2 * self.half_iteration:
            rate = self._interpolate(self.half_iteration, 2 * self.half_iteration,
                                     self.max_rate, self.start_rate)
        else:
            rate = self._interpolate(2 * self.half_iteration, self.iterations,
                                     self.start_rate, self.last_rate)
        self.iteration += 1
        K.set_value(self.model.optimizer.learning_rate, rate)
        self.seen.append(rate)


def test_one_cycle_sets_the_rate_of_the_step_that_follows():
    x, y = _data(40)
    model = _model()
    weights = model.get_weights()
    model.compile(loss="sparse_categorical_crossentropy",
                  optimizer=cydl.optimizers.SGD(learning_rate=1.0, momentum=0.9))
    steps = 3 * math.ceil(40 / 8)
    cycle = OneCycleScheduler(steps, max_rate=0.05)
    model.fit(x, y, batch_size=8, epochs=3, verbose=0, shuffle=False, callbacks=[cycle])
    assert len(cycle.seen) == steps and max(cycle.seen) == pytest.approx(0.05)
    replayed, _ = _replay(cycle.seen, x, y, 8, "momentum", False, weights)
    for a, b in zip(model.get_weights(), replayed.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    constant, _ = _replay(np.full(steps, cycle.seen[0]), x, y, 8, "momentum", False, weights)
    gap = max(np.abs(a - b).max() for a, b in zip(model.get_weights(), constant.get_weights()))
    assert gap > 1e-3


def test_lambda_callback_takes_the_batch_aliases():
    seen = []
    cb = cydl.callbacks.LambdaCallback(on_batch_begin=lambda batch, logs: seen.append(("b", batch)),
                                       on_batch_end=lambda batch, logs: seen.append(("e", batch)))
    x, y = _data(10)
    model = _model()
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[cb])
    assert seen == [("b", 0), ("e", 0), ("b", 1), ("e", 1), ("b", 2), ("e", 2)]


@pytest.mark.parametrize("hook", ["on_batch_end", "on_train_batch_end", "on_batch_begin"])
def test_stop_training_from_a_batch_hook_ends_fit_after_that_batch(hook):
    class Stop(cydl.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.epoch = None

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

    def stop(self, batch, logs=None):
        if (self.epoch, batch) == (1, 2):
            self.model.stop_training = True
    setattr(Stop, hook, stop)
    x, y = _data(40)
    model = _model()
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    history = model.fit(x, y, batch_size=8, epochs=5, verbose=0, validation_data=(x, y),
                        callbacks=[Stop()])
    assert history.epoch == [0, 1]
    assert "val_loss" in history.history and len(history.history["val_loss"]) == 2
    assert int(model.optimizer.iterations.numpy()) == 5 + 3
