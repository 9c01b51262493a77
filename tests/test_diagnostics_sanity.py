"""cydl.utils.sanity_check: each planted mistake is reported, a good MLP gets no
problem, and the model and the global generator come out untouched."""
import math

import numpy as np
import pytest

import cydl
from cydl import _config, layers
from cydl.utils import sanity_check

(_X, _Y), _ = cydl.datasets.digits.load_data()
X, Y = (_X.reshape(len(_X), -1) / 16.0)[:512], _Y[:512]     # real data, scaled to [0, 1]


def _mlp(head=None, loss="sparse_categorical_crossentropy", optimizer="adam", **dense_kw):
    cydl.utils.set_random_seed(0)
    model = cydl.Sequential([layers.Input(shape=(64,)),
                             layers.Dense(64, activation="relu", **dense_kw),
                             layers.Dense(32, activation="relu"),
                             *(head or [layers.Dense(10, activation="softmax")])])
    model.compile(loss=loss, optimizer=optimizer, metrics=["accuracy"])
    return model


def _problems_about(report, *words):
    return [p for p in report.problems if all(w in p for w in words)]


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_a_good_mlp_has_no_problem_and_is_untouched(optimizer):
    model = _mlp(optimizer=optimizer)
    weights, state = model.get_weights(), _config.rng().bit_generator.state
    report = sanity_check(model, X, Y)
    assert report.ok, str(report)
    assert report.values["initial_loss"] == pytest.approx(
        math.log(10), abs=1.0)          # the rule's own bound, measured independently below
    probs = model.predict(X, verbose=0)
    assert report.values["initial_loss"] == pytest.approx(
        -np.mean(np.log(probs[np.arange(len(Y)), Y])), rel=1e-5)
    assert report.values["overfit_accuracy"] >= 0.98
    # the note names the accuracy measured and the threshold tested (it said "100%")
    note = next(n for n in report.notes if "overfits" in n)
    assert "to 98% training accuracy" in note
    assert f"accuracy {report.values['overfit_accuracy']:.0%}" in note
    assert all(np.array_equal(a, b) for a, b in zip(weights, model.get_weights()))
    assert _config.rng().bit_generator.state == state
    assert "no problem" in str(report)


def test_a_doubled_softmax_is_flagged():
    report = sanity_check(_mlp([layers.Dense(10, activation="softmax"),
                                layers.Dropout(0.1), layers.Activation("softmax")]), X, Y)
    assert _problems_about(report, "softmax is applied twice")


def test_from_logits_on_a_softmax_output_is_flagged():
    loss = cydl.losses.SparseCategoricalCrossentropy(from_logits=True)
    report = sanity_check(_mlp(loss=loss), X, Y)
    assert _problems_about(report, "from_logits=True", "softmax")
    # the same model with the loss it should have: no such problem
    assert not _problems_about(sanity_check(_mlp(), X, Y), "from_logits")


def test_logits_given_to_a_loss_expecting_probabilities_is_flagged():
    report = sanity_check(_mlp([layers.Dense(10)]), X, Y)
    assert _problems_about(report, "expects probabilities")
    loss = cydl.losses.SparseCategoricalCrossentropy(from_logits=True)
    report = sanity_check(_mlp([layers.Dense(10)], loss=loss), X, Y)
    assert not _problems_about(report, "probabilities"), str(report)


def test_a_too_small_learning_rate_is_flagged():
    report = sanity_check(_mlp(optimizer=cydl.optimizers.SGD(learning_rate=1e-6)), X, Y,
                          overfit_steps=200)
    found = _problems_about(report, "cannot overfit 64 samples", "too small", "1e-06")
    assert found, str(report)
    assert report.values["overfit_loss_end"] > 0.9 * report.values["overfit_loss_start"]


def test_a_large_initialization_is_flagged():
    big = cydl.initializers.RandomNormal(stddev=3.0)
    report = sanity_check(_mlp([layers.Dense(10, activation="softmax",
                                             kernel_initializer=big)]), X, Y)
    assert report.values["initial_loss"] > math.log(10) + 1
    assert _problems_about(report, "initial loss", "ln(10)")


def test_dead_relus_and_saturated_units_are_flagged():
    dead = sanity_check(_mlp(bias_initializer=cydl.initializers.Constant(-50.0)), X, Y,
                        overfit_steps=16)
    assert _problems_about(dead, "ReLU units of layer")
    assert dead.values[f"dead_fraction/{dead_layer(dead)}"] == 1.0
    cydl.utils.set_random_seed(0)
    model = cydl.Sequential([layers.Input(shape=(64,)), layers.Dense(
        32, activation="tanh", kernel_initializer=cydl.initializers.RandomNormal(stddev=5.0)),
        layers.Dense(10, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    report = sanity_check(model, X, Y, overfit_steps=16)
    assert _problems_about(report, "saturated")


def dead_layer(report):
    return next(k.split("/", 1)[1] for k in report.values if k.startswith("dead_fraction/"))


def test_regularization_is_measured():
    report = sanity_check(_mlp(kernel_regularizer=cydl.regularizers.L2(0.01)), X, Y,
                          overfit_steps=16)
    with_reg = report.values["loss_with_regularization"]
    without = report.values["loss_without_regularization"]
    model = _mlp(kernel_regularizer=cydl.regularizers.L2(0.01))
    penalty = 0.01 * float(np.sum(model.layers[0].kernel.numpy().astype(np.float64) ** 2))
    assert with_reg - without == pytest.approx(penalty, rel=1e-4)
    zero = sanity_check(_mlp(kernel_regularizer=cydl.regularizers.L2(0.0)), X, Y,
                        overfit_steps=16)
    assert _problems_about(zero, "do not raise the loss")
    heavy = sanity_check(_mlp(kernel_regularizer=cydl.regularizers.L2(10.0)), X, Y,
                         overfit_steps=16)
    assert _problems_about(heavy, "penalty", "times the data loss")


def test_bad_arguments():
    with pytest.raises(ValueError, match="compile"):
        sanity_check(cydl.Sequential([layers.Input(shape=(64,)), layers.Dense(2)]), X, Y)
    with pytest.raises(ValueError, match="overfit_samples"):
        sanity_check(_mlp(), X, Y, overfit_samples=0)
    with pytest.raises(TypeError, match="overfit_steps"):
        sanity_check(_mlp(), X, Y, overfit_steps=1.5)


def test_from_logits_on_probabilities_is_flagged_without_a_graph():
    from cydl import ops

    class Branching(cydl.Model):      # eager: no graph to read, the outputs are read
        def __init__(self, **kw):
            super().__init__(**kw)
            self.hidden = layers.Dense(16, activation="relu")
            self.out = layers.Dense(10, activation="softmax")

        def call(self, x, training=None):
            if float(ops.convert_to_numpy(x).sum()) > -1e9:
                return self.out(self.hidden(x))
            return self.out(x)
    cydl.utils.set_random_seed(0)
    model = Branching()
    model.compile(loss=cydl.losses.SparseCategoricalCrossentropy(from_logits=True),
                  optimizer="adam")
    report = sanity_check(model, X, Y, overfit_steps=16)
    assert model._eager
    assert _problems_about(report, "from_logits=True", "already probabilities")
