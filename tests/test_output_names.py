"""model.output_names: a list of the output layers' names, as in Keras, and what
cydl keys by it (targets, losses and metrics per output, their log names)."""
import numpy as np
import pytest

import cydl
from cydl import layers


def _two_outputs():
    inputs = layers.Input(shape=(4,))
    hidden = layers.Dense(5, activation="relu")(inputs)
    cls = layers.Dense(3, activation="softmax", name="species")(hidden)
    reg = layers.Dense(1, name="size")(hidden)
    return cydl.Model(inputs=inputs, outputs=[cls, reg])


def test_output_names_is_a_list_of_the_output_layers_names():
    model = _two_outputs()
    names = model.output_names
    assert isinstance(names, list)
    assert names == [model.layers[-2].name, model.layers[-1].name]
    assert names == [model.get_layer("species").name, model.get_layer("size").name]


def test_sequential_output_name_is_its_last_layer():
    model = cydl.Sequential([layers.Input(shape=(4,)), layers.Dense(2), layers.Dense(3)])
    assert model.output_names == [model.layers[-1].name]


def test_one_layer_twice_gets_unique_names():
    inputs = layers.Input(shape=(4,))
    out = layers.Dense(2, name="head")(inputs)
    model = cydl.Model(inputs=inputs, outputs=[out, out])
    names = model.output_names
    assert len(set(names)) == 2


def test_targets_losses_and_logs_are_keyed_by_output_names():
    model = _two_outputs()
    first, second = model.output_names
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 4)).astype("float32")
    y = {first: rng.integers(0, 3, 20), second: rng.normal(size=(20, 1))}
    model.compile(optimizer="sgd", loss={first: "sparse_categorical_crossentropy",
                                         second: "mse"},
                  metrics={first: ["accuracy"], second: ["mae"]})
    history = model.fit(x, y, epochs=1, verbose=0)
    assert set(history.history) == {"loss", f"{first}_loss", f"{second}_loss",
                                    f"{first}_accuracy", f"{second}_mae"}
    with pytest.raises(ValueError, match=second):
        model.fit(x, {first: y[first]}, epochs=1, verbose=0)
