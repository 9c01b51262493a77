"""Writes the fixtures of tests/test_saving_legacy.py: `.keras` files in cydl's first
format (format "cydl.keras", version 1: a zip of JSON and .npy arrays), with what the
models computed when they were written.

They were made with the saver cydl had before the Keras 3 format (cydl/saving.py at
commit d30644c), run as a module of its own:

    git show d30644c:cydl/saving.py > /tmp/old_saving.py
    python tests/data/make_legacy_fixtures.py /tmp/old_saving.py

Each `legacy_v1_<name>.keras` comes with `legacy_v1_<name>.npz`: the inputs, the
predictions of the saved model, and the weights after one more epoch of training
(seeded), so that a reader can check both the numbers and the training state.
"""
import importlib.util
import os
import sys

import numpy as np

import cydl
from cydl import layers

HERE = os.path.dirname(os.path.abspath(__file__))


class LegacyScaled(cydl.Model):
    """A subclassed model with get_config, as the v1 format required."""

    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.hidden = layers.Dense(units, activation="relu")
        self.out = layers.Dense(1)

    def call(self, inputs):
        return self.out(self.hidden(inputs))

    def get_config(self):
        return {"units": self.units, "name": self.name}


def models():
    rng = np.random.default_rng(0)
    x = rng.random((60, 8)).astype(np.float32)
    y = np.arange(60) % 3
    cydl.utils.set_random_seed(0)
    seq = cydl.Sequential([layers.Input(shape=(8,)), layers.Dense(16, activation="relu"),
                           layers.BatchNormalization(), layers.Dropout(0.2),
                           layers.Dense(3, activation="softmax")])
    seq.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                optimizer=cydl.optimizers.Adam(
                    cydl.optimizers.schedules.ExponentialDecay(0.01, 20, 0.9)))
    seq.fit(x, y, epochs=2, verbose=0)
    yield "sequential", seq, x, y

    wide, deep = layers.Input(shape=(3,)), layers.Input(shape=(5,))
    hidden = layers.Dense(10, activation="relu")(deep)
    out = layers.Dense(1)(layers.Concatenate()([wide, hidden]))
    fn = cydl.Model(inputs=[wide, deep], outputs=[out])
    fn.compile(loss="mse", optimizer=cydl.optimizers.Nadam())
    xs = (x[:, :3], x[:, 3:])
    fn.fit(xs, x[:, 0], epochs=2, verbose=0)
    yield "functional", fn, xs, x[:, 0]

    sub = LegacyScaled(units=5)
    sub.compile(loss="mse", optimizer=cydl.optimizers.SGD(0.05, momentum=0.9))
    sub.fit(x, x[:, 1], epochs=2, verbose=0)
    yield "subclassed", sub, x, x[:, 1]


def main(old_saving_path):
    spec = importlib.util.spec_from_file_location("old_saving", old_saving_path)
    old = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(old)
    for name, model, x, y in models():
        path = os.path.join(HERE, f"legacy_v1_{name}.keras")
        old.save_model(model, path)
        pred = model.predict(x, verbose=0)
        cydl.utils.set_random_seed(7)
        model.fit(x, y, epochs=1, verbose=0)
        xs = list(x) if isinstance(x, tuple) else [x]
        np.savez(os.path.join(HERE, f"legacy_v1_{name}.npz"), pred=pred,
                 **{f"x{i}": a for i, a in enumerate(xs)}, y=y,
                 **{f"after{i}": w for i, w in enumerate(model.get_weights())})


if __name__ == "__main__":
    main(sys.argv[1])
