"""Saving and loading: .keras files, weights-only files, ModelCheckpoint, clone_model.

What must hold: a reloaded model predicts the same numbers and, compiled as saved,
trains on bit for bit like the original (optimizer slots, step count and schedule
included); a load never unpickles; a failed save leaves the previous file whole."""
import io
import json
import os
import zipfile

import numpy as np
import pytest

import cydl
from cydl import layers

RNG = np.random.default_rng(0)
X = RNG.random((120, 8)).astype(np.float32)
Y = np.arange(120) % 3


def _mlp(optimizer=None):
    cydl.utils.set_random_seed(0)
    model = cydl.Sequential([layers.Input(shape=(8,)), layers.Dense(16, activation="relu"),
                             layers.BatchNormalization(), layers.Dropout(0.2),
                             layers.Dense(3, activation="softmax")])
    schedule = cydl.optimizers.schedules.ExponentialDecay(0.01, 20, 0.9)
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  optimizer=optimizer or cydl.optimizers.Adam(schedule))
    model.fit(X, Y, epochs=2, verbose=0)
    return model


def _same_weights(a, b):
    return all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights()))


@pytest.mark.parametrize("optimizer", [None, "sgd", "nadam", "adamax", "adagrad", "adamw",
                                       cydl.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
                                       cydl.optimizers.RMSprop(clipnorm=1.0)])
def test_a_reloaded_model_predicts_and_trains_on_like_the_original(tmp_path, optimizer):
    model = _mlp(optimizer)
    path = tmp_path / "model.keras"
    model.save(path)
    again = cydl.models.load_model(path)
    np.testing.assert_array_equal(again.predict(X, verbose=0), model.predict(X, verbose=0))
    assert type(again.optimizer) is type(model.optimizer)
    assert int(again.optimizer.iterations.value) == int(model.optimizer.iterations.value) > 0
    histories = []
    for m in (model, again):
        cydl.utils.set_random_seed(7)               # the same shuffles and dropout masks
        histories.append(m.fit(X, Y, epochs=2, verbose=0).history)
    assert histories[0] == histories[1]
    assert _same_weights(model, again)


def test_a_functional_two_input_model_round_trips(tmp_path):
    # the book's Wide & Deep with two inputs (ch. 10)
    wide, deep = layers.Input(shape=(5,)), layers.Input(shape=(6,))
    hidden = layers.Dense(30, activation="relu")(layers.Dense(30, activation="relu")(deep))
    out = layers.Dense(1)(layers.Concatenate()([wide, hidden]))
    model = cydl.Model(inputs=[wide, deep], outputs=[out])
    model.compile(loss="mse", optimizer="adam", metrics=["RootMeanSquaredError"])
    xa, xb, y = RNG.random((50, 5)), RNG.random((50, 6)), RNG.random(50)
    model.fit((xa, xb), y, epochs=2, verbose=0)
    model.save(tmp_path / "wd.keras")
    again = cydl.models.load_model(tmp_path / "wd.keras")
    np.testing.assert_array_equal(again.predict((xa, xb), verbose=0),
                                  model.predict((xa, xb), verbose=0))
    assert again.evaluate((xa, xb), y, verbose=0) == model.evaluate((xa, xb), y, verbose=0)


class Scaled(cydl.Model):
    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.hidden = layers.Dense(units, activation="relu")
        self.out = layers.Dense(1)

    def call(self, inputs):
        return self.out(self.hidden(inputs))


class ScaledWithConfig(Scaled):
    def get_config(self):
        return {"units": self.units, "name": self.name}


class ScaledBy(Scaled):
    """A constructor argument that is an object: it cannot be recorded."""

    def __init__(self, scale=None, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale


def test_subclassed_models_save_with_get_config_and_load_through_custom_objects(tmp_path):
    # (cydl < 0.2 refused a subclass without get_config; its plain constructor
    # arguments are now recorded, as in Keras 3: tests/test_saving_subclassed.py)
    plain = ScaledBy(scale=np.float32)
    plain(X)
    with pytest.raises(ValueError, match="'scale'.*get_config.*save_weights"):
        plain.save(tmp_path / "plain.keras")
    model = ScaledWithConfig(units=5)
    model.compile(loss="mse", optimizer="sgd")
    model.fit(X, X[:, 0], epochs=1, verbose=0)
    model.save(tmp_path / "sub.keras")
    with pytest.raises(ValueError, match="ScaledWithConfig.*custom_objects"):
        cydl.models.load_model(tmp_path / "sub.keras")
    again = cydl.models.load_model(tmp_path / "sub.keras",
                                   custom_objects={"ScaledWithConfig": ScaledWithConfig})
    assert again.units == 5
    np.testing.assert_array_equal(again.predict(X, verbose=0), model.predict(X, verbose=0))


def test_custom_losses_and_metrics_come_back_through_custom_objects(tmp_path):
    def my_loss(y_true, y_pred):
        return cydl.ops.mean(cydl.ops.square(y_true - y_pred), axis=-1)

    model = cydl.Sequential([layers.Input(shape=(8,)), layers.Dense(1)])
    model.compile(loss=my_loss, optimizer="sgd", metrics=["mae"])
    model.fit(X, X[:, 0], epochs=1, verbose=0)
    model.save(tmp_path / "c.keras")
    with pytest.raises(ValueError, match="my_loss"):
        cydl.models.load_model(tmp_path / "c.keras")
    again = cydl.models.load_model(tmp_path / "c.keras", custom_objects={"my_loss": my_loss})
    assert again.evaluate(X, X[:, 0], verbose=0) == model.evaluate(X, X[:, 0], verbose=0)
    # compile=False loads the structure and weights without the custom loss
    bare = cydl.models.load_model(tmp_path / "c.keras", compile=False)
    assert not bare.compiled and _same_weights(bare, model)


@pytest.mark.parametrize("suffix", [".weights.npz", ".weights.h5"])
def test_weights_only_files(tmp_path, suffix):
    if suffix.endswith("h5"):
        pytest.importorskip("h5py", reason="h5py is not installed")
    model = _mlp()
    path = tmp_path / ("w" + suffix)
    model.save_weights(path)
    other = _mlp(cydl.optimizers.SGD())            # same structure, other weights
    other.fit(X, Y, epochs=1, verbose=0)
    assert not _same_weights(model, other)
    other.load_weights(path)
    assert _same_weights(model, other)
    # a model of another shape refuses them and keeps its own weights, all of them
    small = cydl.Sequential([layers.Input(shape=(8,)), layers.Dense(16, activation="relu"),
                             layers.BatchNormalization(), layers.Dropout(0.2),
                             layers.Dense(2, activation="softmax")])
    before = small.get_weights()
    with pytest.raises(ValueError, match="shape"):
        small.load_weights(path)
    assert all(np.array_equal(a, b) for a, b in zip(before, small.get_weights()))


def test_a_failed_save_leaves_the_previous_file_whole(tmp_path, monkeypatch):
    model = _mlp()
    path = tmp_path / "model.keras"
    model.save(path)
    before = path.read_bytes()
    model.fit(X, Y, epochs=1, verbose=0)

    real = zipfile.ZipFile.writestr

    def crash(self, name, data, *args, **kwargs):
        # the weights are the last member: the temporary file is half written
        if name == "model.weights.h5":
            raise OSError("disk full")
        return real(self, name, data, *args, **kwargs)
    monkeypatch.setattr(zipfile.ZipFile, "writestr", crash)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.keras"]        # no temporary file left
    cydl.models.load_model(path)


class _Flag:
    ran = False

    def __reduce__(self):
        return (setattr, (_Flag, "ran", True))


def test_loading_never_unpickles(tmp_path):
    # the format that holds .npy arrays is cydl's before 0.2 (still read, see
    # tests/test_saving_legacy.py); the Keras format's HDF5 holds no pickles at all
    legacy = os.path.join(os.path.dirname(__file__), "data", "legacy_v1_sequential.keras")
    # swap the weights for an object array: np.savez pickles it
    evil = tmp_path / "evil.keras"
    with zipfile.ZipFile(legacy) as src, zipfile.ZipFile(evil, "w") as dst:
        for name in src.namelist():
            if name == "model.weights.npz":
                buf = io.BytesIO()
                np.savez(buf, w00000=np.array([_Flag()], dtype=object))
                dst.writestr(name, buf.getvalue())
            else:
                dst.writestr(name, src.read(name))
    with pytest.warns(FutureWarning), pytest.raises(ValueError, match="pickle"):
        cydl.models.load_model(evil)
    assert _Flag.ran is False
    with pytest.raises(ValueError, match="not a .keras file"):
        (tmp_path / "junk.keras").write_bytes(b"not a zip")
        cydl.models.load_model(tmp_path / "junk.keras")


def test_file_names_and_overwrite(tmp_path):
    model = _mlp()
    with pytest.raises(ValueError, match=r"\.keras"):
        model.save(tmp_path / "model.h5")
    with pytest.raises(ValueError, match=r"\.weights\.npz or \.weights\.h5"):
        model.save_weights(tmp_path / "w.npz")
    model.save(tmp_path / "m.keras")
    with pytest.raises(FileExistsError):
        model.save(tmp_path / "m.keras", overwrite=False)
    unbuilt = cydl.Sequential([layers.Dense(2)])
    with pytest.raises(ValueError, match="not built"):
        unbuilt.save(tmp_path / "u.keras")


def test_model_checkpoint_keeps_the_best_epoch(tmp_path):
    model = _mlp()
    best = tmp_path / "best.keras"
    seen = []
    record = cydl.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: seen.append((logs["val_loss"], model.get_weights())))
    cb = cydl.callbacks.ModelCheckpoint(best, save_best_only=True)
    model.fit(X, Y, epochs=6, validation_split=0.25, verbose=0, callbacks=[cb, record])
    i = int(np.argmin([v for v, _ in seen]))
    again = cydl.models.load_model(best)
    assert all(np.array_equal(a, b) for a, b in zip(seen[i][1], again.get_weights()))
    every = cydl.callbacks.ModelCheckpoint(tmp_path / "w_{epoch:02d}.weights.npz",
                                           save_weights_only=True)
    model.fit(X, Y, epochs=3, verbose=0, callbacks=[every])
    assert sorted(os.listdir(tmp_path)) == ["best.keras", "w_01.weights.npz",
                                            "w_02.weights.npz", "w_03.weights.npz"]


def test_model_checkpoint_refuses_bad_arguments():
    with pytest.raises(ValueError, match=r"\.keras"):
        cydl.callbacks.ModelCheckpoint("ckpt.weights.npz")
    with pytest.raises(ValueError, match=r"\.weights\.npz"):
        cydl.callbacks.ModelCheckpoint("ckpt.keras", save_weights_only=True)
    with pytest.raises(ValueError, match="mode"):
        cydl.callbacks.ModelCheckpoint("ckpt.keras", mode="best")
    model = _mlp()
    with pytest.raises(ValueError, match="val_loss.*Available keys"):
        model.fit(X, Y, epochs=1, verbose=0,
                  callbacks=[cydl.callbacks.ModelCheckpoint("/tmp/x.keras", save_best_only=True)])


def test_clone_model_has_the_structure_and_fresh_weights():
    model = _mlp()
    clone = cydl.models.clone_model(model)
    assert [type(a) for a in clone.layers] == [type(b) for b in model.layers]
    assert clone.count_params() == model.count_params()
    assert not np.array_equal(clone.get_weights()[0], model.get_weights()[0])
    clone.set_weights(model.get_weights())
    np.testing.assert_array_equal(clone.predict(X, verbose=0), model.predict(X, verbose=0))


def test_weighted_metrics_are_saved_with_the_compile_arguments(tmp_path):
    model = cydl.Sequential([layers.Input(shape=(8,)), layers.Dense(1)])
    model.compile(loss="mse", optimizer="sgd", metrics=["mae"],
                  weighted_metrics=["mae", cydl.metrics.RootMeanSquaredError()])
    weights = np.linspace(0.1, 2.0, len(X))
    model.fit(X, X[:, 0], sample_weight=weights, epochs=1, verbose=0)
    model.save(tmp_path / "w.keras")
    with zipfile.ZipFile(tmp_path / "w.keras") as z:
        compiled = json.loads(z.read("config.json"))["compile_config"]
    assert compiled["weighted_metrics"][0] == "mae"
    assert compiled["weighted_metrics"][1]["class_name"] == "RootMeanSquaredError"
    again = cydl.models.load_model(tmp_path / "w.keras")
    logs = again.evaluate(X, X[:, 0], sample_weight=weights, return_dict=True, verbose=0)
    assert "weighted_mae" in logs
    assert logs == model.evaluate(X, X[:, 0], sample_weight=weights, return_dict=True,
                                  verbose=0)
