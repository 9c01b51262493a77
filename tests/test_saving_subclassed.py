"""Subclassed models and custom layers save as in Keras 3: their constructor
arguments are recorded when they are plain values, so the book's
`WideAndDeepModel(30, activation="relu", name="my_cool_model")` saves with
`model.save("my_model.keras")` and loads back through custom_objects or the
registry; an argument that is an object is an error that says what to add."""
import json
import zipfile

import numpy as np
import pytest

import cydl
from cydl import layers

RNG = np.random.default_rng(0)
X_WIDE = RNG.normal(size=(40, 5)).astype("float32")
X_DEEP = RNG.normal(size=(40, 6)).astype("float32")
Y = RNG.normal(size=(40, 1)).astype("float32")


class WideAndDeepModel(cydl.Model):
    """The book's (ch. 10), unchanged but for `tf.keras` -> `cydl`."""

    def __init__(self, units=30, activation="relu", **kwargs):
        super().__init__(**kwargs)
        self.norm_layer_wide = layers.Normalization()
        self.norm_layer_deep = layers.Normalization()
        self.hidden1 = layers.Dense(units, activation=activation)
        self.hidden2 = layers.Dense(units, activation=activation)
        self.main_output = layers.Dense(1)
        self.aux_output = layers.Dense(1)

    def call(self, inputs):
        input_wide, input_deep = inputs
        norm_wide = self.norm_layer_wide(input_wide)
        norm_deep = self.norm_layer_deep(input_deep)
        hidden1 = self.hidden1(norm_deep)
        hidden2 = self.hidden2(hidden1)
        concat = layers.concatenate([norm_wide, hidden2])
        output = self.main_output(concat)
        aux_output = self.aux_output(hidden2)
        return output, aux_output


def _book_model():
    cydl.utils.set_random_seed(42)
    model = WideAndDeepModel(30, activation="relu", name="my_cool_model")
    optimizer = cydl.optimizers.Adam(learning_rate=1e-3)
    model.compile(loss=["mse", "mse"], loss_weights=[0.9, 0.1], optimizer=optimizer,
                  metrics=["RootMeanSquaredError", "RootMeanSquaredError"])
    model.norm_layer_wide.adapt(X_WIDE)
    model.norm_layer_deep.adapt(X_DEEP)
    model.fit((X_WIDE, X_DEEP), (Y, Y), epochs=2, verbose=0)
    return model


def test_the_books_subclassed_model_saves_and_loads(tmp_path):
    model = _book_model()
    assert model.get_config() == {"units": 30, "activation": "relu", "name": "my_cool_model",
                                  "trainable": True, "dtype": "float32"}
    path = tmp_path / "my_model.keras"
    model.save(path)
    with zipfile.ZipFile(path) as z:
        entry = json.loads(z.read("config.json"))
    assert (entry["class_name"], entry["registered_name"]) == ("WideAndDeepModel",
                                                               "WideAndDeepModel")
    with pytest.raises(ValueError, match="WideAndDeepModel.*custom_objects"):
        cydl.models.load_model(path)
    loaded = cydl.models.load_model(path, custom_objects={"WideAndDeepModel": WideAndDeepModel})
    assert type(loaded) is WideAndDeepModel and loaded.name == "my_cool_model"
    for a, b in zip(loaded.predict((X_WIDE, X_DEEP), verbose=0),
                    model.predict((X_WIDE, X_DEEP), verbose=0)):
        np.testing.assert_array_equal(a, b)
    # and it trains on exactly as the original
    histories = []
    for m in (model, loaded):
        cydl.utils.set_random_seed(5)
        histories.append(m.fit((X_WIDE, X_DEEP), (Y, Y), epochs=2, verbose=0).history)
    assert histories[0] == histories[1]
    with cydl.saving.custom_object_scope({"WideAndDeepModel": WideAndDeepModel}):
        assert type(cydl.models.load_model(path)) is WideAndDeepModel


@cydl.saving.register_keras_serializable(package="cydl_tests")
class Registered(cydl.Model):
    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        self.hidden = layers.Dense(units, activation="relu")
        self.out = layers.Dense(1)

    def call(self, inputs):
        return self.out(self.hidden(inputs))


def test_a_registered_class_loads_without_custom_objects(tmp_path):
    model = Registered(units=3)
    model.compile(loss="mse", optimizer="sgd")
    model.fit(X_DEEP, Y, epochs=1, verbose=0)
    model.save(tmp_path / "r.keras")
    with zipfile.ZipFile(tmp_path / "r.keras") as z:
        assert json.loads(z.read("config.json"))["registered_name"] == "cydl_tests>Registered"
    assert cydl.saving.get_registered_name(Registered) == "cydl_tests>Registered"
    assert cydl.saving.get_registered_object("cydl_tests>Registered") is Registered
    loaded = cydl.models.load_model(tmp_path / "r.keras")
    assert type(loaded) is Registered and loaded.hidden.units == 3
    np.testing.assert_array_equal(loaded.predict(X_DEEP, verbose=0),
                                  model.predict(X_DEEP, verbose=0))


class Scaled(cydl.Model):
    def __init__(self, scale, units=2, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale
        self.dense = layers.Dense(units)

    def call(self, inputs):
        return self.dense(inputs)


def test_arguments_that_are_objects_say_what_to_add(tmp_path):
    model = Scaled(scale=np.ones(3), units=2)          # an array: not a plain value
    model(X_DEEP)
    with pytest.raises(NotImplementedError, match="'scale'"):
        model.get_config()
    with pytest.raises(ValueError) as err:
        model.save(tmp_path / "s.keras")
    message = str(err.value)
    for words in ("'scale'", "not plain values", "get_config()", "no code", "save_weights"):
        assert words in message
    assert not (tmp_path / "s.keras").exists()
    # a plain scale is recorded
    plain = Scaled(scale=[1.0, 2.0, 3.0])
    plain(X_DEEP)
    plain.save(tmp_path / "p.keras")
    again = cydl.models.load_model(tmp_path / "p.keras", custom_objects={"Scaled": Scaled})
    assert again.scale == [1.0, 2.0, 3.0]
    np.testing.assert_array_equal(again.predict(X_DEEP, verbose=0),
                                  plain.predict(X_DEEP, verbose=0))


class MyDense(layers.Layer):
    """A custom layer without get_config (the book's ch. 12 MyDense)."""

    def __init__(self, units, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.activation = cydl.activations.get(activation)

    def build(self, batch_input_shape):
        self.kernel = self.add_weight(name="kernel", shape=[batch_input_shape[-1], self.units],
                                      initializer="glorot_normal")
        self.bias = self.add_weight(name="bias", shape=[self.units], initializer="zeros")

    def call(self, X):
        return self.activation(X @ self.kernel + self.bias)


class NoKwargs(layers.Layer):
    """Its __init__ takes no name, trainable or dtype: the config must not hold them."""

    def __init__(self, factor):
        super().__init__()
        self.factor = factor

    def call(self, x):
        return x * self.factor


def test_custom_layers_record_their_arguments_too(tmp_path):
    inputs = layers.Input(shape=(6,))
    hidden = MyDense(4, activation="relu", name="mine")(inputs)
    outputs = layers.Dense(1)(NoKwargs(2.0)(hidden))
    model = cydl.Model(inputs, outputs)
    model.compile(loss="mse", optimizer="adam")
    model.fit(X_DEEP, Y, epochs=1, verbose=0)
    model.save(tmp_path / "c.keras")
    with zipfile.ZipFile(tmp_path / "c.keras") as z:
        entries = json.loads(z.read("config.json"))["config"]["layers"]
    mine = next(e for e in entries if e["class_name"] == "MyDense")
    assert mine["config"] == {"units": 4, "activation": "relu", "name": "mine",
                              "trainable": True, "dtype": "float32"}
    assert next(e for e in entries if e["class_name"] == "NoKwargs")["config"] == \
        {"factor": 2.0}
    with pytest.raises(ValueError, match="MyDense.*custom_objects"):
        cydl.models.load_model(tmp_path / "c.keras")
    loaded = cydl.models.load_model(tmp_path / "c.keras",
                                    custom_objects={"MyDense": MyDense, "NoKwargs": NoKwargs})
    assert loaded.get_layer("mine").units == 4
    np.testing.assert_array_equal(loaded.predict(X_DEEP, verbose=0),
                                  model.predict(X_DEEP, verbose=0))


def test_a_subclassed_model_clones_from_its_config():
    model = _book_model()
    clone = cydl.models.clone_model(model)
    assert type(clone) is WideAndDeepModel and clone.hidden1.units == 30
    twin = WideAndDeepModel.from_config(model.get_config())
    twin((X_WIDE, X_DEEP))
    twin.set_weights(model.get_weights())
    for a, b in zip(twin.predict((X_WIDE, X_DEEP), verbose=0),
                    model.predict((X_WIDE, X_DEEP), verbose=0)):
        np.testing.assert_array_equal(a, b)


class WithSuper(cydl.Model):
    """get_config the Keras way: super().get_config() plus its own arguments."""

    def __init__(self, scale, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale
        self.dense = layers.Dense(1)

    def call(self, inputs):
        return self.dense(inputs) * self.scale

    def get_config(self):
        return {**super().get_config(), "scale": float(self.scale)}


def test_get_config_may_build_on_super(tmp_path):
    model = WithSuper(np.array(0.5), name="with_super")     # an array: not plain
    model(X_DEEP)
    assert model.get_config() == {"name": "with_super", "trainable": True,
                                  "dtype": "float32", "scale": 0.5}
    model.save(tmp_path / "s.keras")
    again = cydl.models.load_model(tmp_path / "s.keras", custom_objects={"WithSuper": WithSuper})
    np.testing.assert_array_equal(again.predict(X_DEEP, verbose=0),
                                  model.predict(X_DEEP, verbose=0))


@cydl.saving.register_keras_serializable(package="cydl_tests")
def my_huber(y_true, y_pred):
    error = cydl.ops.subtract(y_true, y_pred)
    return cydl.ops.mean(cydl.ops.square(error), axis=-1)


def test_a_registered_loss_function_comes_back_by_its_registered_name(tmp_path):
    model = cydl.Sequential([layers.Input(shape=(6,)), layers.Dense(1)])
    model.compile(loss=my_huber, optimizer="sgd", metrics=[my_huber])
    model.fit(X_DEEP, Y, epochs=1, verbose=0)
    model.save(tmp_path / "l.keras")
    with zipfile.ZipFile(tmp_path / "l.keras") as z:
        loss = json.loads(z.read("config.json"))["compile_config"]["loss"]
    assert loss["config"] == loss["registered_name"] == "cydl_tests>my_huber"
    again = cydl.models.load_model(tmp_path / "l.keras")
    assert again.evaluate(X_DEEP, Y, verbose=0) == model.evaluate(X_DEEP, Y, verbose=0)
