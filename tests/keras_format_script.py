"""One script for two libraries: models of every layer kind cydl has, built,
compiled and trained the same way in Keras 3 and in cydl, to exchange `.keras`
files between them.

The model code below is the same for both: `lib` is `keras` or `cydl` (the promise
of cydl is that replacing `tf.keras` with `cydl` keeps a script running).
tests/test_keras_format.py imports it to build the cydl models, and runs it in a
subprocess for Keras (so that KERAS_BACKEND is set before Keras is imported):

    python tests/keras_format_script.py DIR     # KERAS_BACKEND=jax (or torch)

Keras then loads every `DIR/cydl/<case>.keras` and records what it predicts and
its optimizer's variables in `DIR/cydl/<case>.keras_out.npz` (and, for the cases
whose training is deterministic, saves the model after one more training step);
and it builds each case itself, trains it, saves `DIR/keras/<case>.keras` and
`.weights.h5` with its inputs, predictions and optimizer variables in
`DIR/keras/<case>.npz`, and loads cydl's `DIR/cydl/<case>.weights.h5` into it.
`DIR/report.json` says what failed, and why.
"""
import json
import os
import sys
import traceback

import numpy as np

N = 24


def data(seed=0):
    rng = np.random.default_rng(seed)
    return {"x8": rng.normal(size=(N, 8)).astype("float32"),
            "x46": rng.normal(size=(N, 4, 6)).astype("float32"),
            "wide": rng.normal(size=(N, 5)).astype("float32"),
            "deep": rng.normal(size=(N, 6)).astype("float32"),
            "labels": (np.arange(N) % 3).astype("int64"),
            "target": rng.normal(size=(N, 1)).astype("float32"),
            "binary": (np.arange(N) % 2).reshape(N, 1).astype("float32")}


def wide_and_deep_class(lib):
    """The book's subclassed Wide & Deep model (ch. 10), for either library."""
    layers = lib.layers

    class WideAndDeepModel(lib.Model):
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
    return WideAndDeepModel


def custom_objects(lib):
    return {"WideAndDeepModel": wide_and_deep_class(lib)}


# Each case: (model, inputs, targets). The models are trained a little before they
# are saved, so that the optimizers have slots and step counts to carry over.
def case_dense(lib, d):
    layers = lib.layers
    model = lib.Sequential([
        layers.Input(shape=(8,)),
        layers.Dense(16, activation="relu", kernel_initializer="he_normal",
                     kernel_regularizer=lib.regularizers.L2(0.01),
                     kernel_constraint=lib.constraints.MaxNorm(2.0)),
        layers.BatchNormalization(momentum=0.9),
        layers.Dense(3, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  optimizer=lib.optimizers.SGD(learning_rate=0.05, momentum=0.9,
                                               nesterov=True))
    return model, d["x8"], d["labels"]


def case_activations(lib, d):
    layers = lib.layers
    model = lib.Sequential([
        layers.Input(shape=(8,)), layers.Dense(8), layers.LeakyReLU(negative_slope=0.1),
        layers.Dense(8), layers.ReLU(), layers.Dense(8), layers.ELU(alpha=0.5),
        layers.Dense(8), layers.PReLU(), layers.Dense(3), layers.Activation("tanh"),
        layers.Dense(3), layers.Softmax()])
    model.compile(loss=lib.losses.CategoricalCrossentropy(),
                  optimizer=lib.optimizers.Adam(amsgrad=True),
                  metrics=[lib.metrics.CategoricalAccuracy()])
    return model, d["x8"], np.eye(3, dtype="float32")[d["labels"]]


def case_shapes(lib, d):
    layers = lib.layers
    schedule = lib.optimizers.schedules.PiecewiseConstantDecay([2, 4], [0.01, 0.005, 0.001])
    model = lib.Sequential([
        layers.Input(shape=(4, 6)), layers.Flatten(), layers.Dense(12),
        layers.Reshape((3, 4)), layers.Flatten(), layers.Dense(1)])
    model.compile(loss="mse", metrics=["mae"],
                  optimizer=lib.optimizers.RMSprop(schedule, momentum=0.5, centered=True))
    return model, d["x46"], d["target"]


def case_batchnorm_dropout(lib, d):
    layers = lib.layers
    model = lib.Sequential([
        layers.Input(shape=(8,)), layers.Dense(16, kernel_initializer="he_normal"),
        layers.BatchNormalization(), layers.Activation("relu"), layers.Dropout(0.3),
        layers.Dense(8, activation="selu", kernel_initializer="lecun_normal"),
        layers.AlphaDropout(0.1), layers.Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer=lib.optimizers.Nadam(),
                  metrics=["accuracy"])
    return model, d["x8"], d["binary"]


def case_normalization(lib, d):
    layers = lib.layers
    adapted = layers.Normalization()
    adapted.adapt(d["x8"])
    model = lib.Sequential([
        layers.Input(shape=(8,)), adapted,
        layers.Normalization(mean=[0.5] * 8, variance=[4.0] * 8),
        layers.Dense(1)])
    # (Huber's default delta: Keras 3.15 leaves `delta` out of Huber's config, so a
    # Keras file cannot carry another one)
    model.compile(loss=lib.losses.Huber(), optimizer=lib.optimizers.Adamax(),
                  metrics=[lib.metrics.RootMeanSquaredError()])
    return model, d["x8"], d["target"]


def case_merges(lib, d):
    layers = lib.layers
    wide = layers.Input(shape=(5,), name="wide")
    deep = layers.Input(shape=(6,), name="deep")
    hidden = layers.Dense(5, activation="tanh")(deep)
    merged = [cls()([wide, hidden]) for cls in (
        layers.Add, layers.Subtract, layers.Multiply, layers.Average, layers.Maximum,
        layers.Minimum)]
    out = layers.Dense(1)(layers.Concatenate()(merged))
    model = lib.Model(inputs=[wide, deep], outputs=[out])
    schedule = lib.optimizers.schedules.InverseTimeDecay(0.05, decay_steps=3, decay_rate=0.5)
    model.compile(loss="mae", optimizer=lib.optimizers.Adagrad(learning_rate=schedule))
    return model, [d["wide"], d["deep"]], d["target"]


def case_wide_and_deep(lib, d):
    """The book's functional Wide & Deep with two inputs and two outputs."""
    layers = lib.layers
    input_wide = layers.Input(shape=(5,))
    input_deep = layers.Input(shape=(6,))
    norm_layer_wide = layers.Normalization()
    norm_layer_deep = layers.Normalization()
    norm_wide = norm_layer_wide(input_wide)
    norm_deep = norm_layer_deep(input_deep)
    hidden1 = layers.Dense(30, activation="relu")(norm_deep)
    hidden2 = layers.Dense(30, activation="relu")(hidden1)
    concat = layers.concatenate([norm_wide, hidden2])
    output = layers.Dense(1)(concat)
    aux_output = layers.Dense(1)(hidden2)
    model = lib.Model(inputs=[input_wide, input_deep], outputs=[output, aux_output])
    schedule = lib.optimizers.schedules.ExponentialDecay(1e-3, 20, 0.9)
    model.compile(loss=("mse", "mse"), loss_weights=(0.9, 0.1),
                  optimizer=lib.optimizers.Adam(learning_rate=schedule),
                  metrics=[["RootMeanSquaredError"], ["RootMeanSquaredError"]])
    norm_layer_wide.adapt(d["wide"])
    norm_layer_deep.adapt(d["deep"])
    return model, [d["wide"], d["deep"]], [d["target"], d["target"]]


def case_subclassed(lib, d):
    """The book's WideAndDeepModel(30, activation="relu", name="my_cool_model")."""
    model = wide_and_deep_class(lib)(30, activation="relu", name="my_cool_model")
    model.compile(loss=["mse", "mse"], loss_weights=[0.9, 0.1], optimizer="adam",
                  metrics=[["RootMeanSquaredError"], ["RootMeanSquaredError"]])
    model.norm_layer_wide.adapt(d["wide"])
    model.norm_layer_deep.adapt(d["deep"])
    return model, [d["wide"], d["deep"]], [d["target"], d["target"]]


def case_nested(lib, d):
    """A Sequential and a functional model inside a functional one, each called
    twice (shared weights)."""
    layers = lib.layers
    inputs = layers.Input(shape=(8,))
    block = lib.Sequential([layers.Input(shape=(8,)), layers.Dense(8, activation="relu")])
    head_in = layers.Input(shape=(8,))
    head = lib.Model(head_in, layers.Dense(4)(head_in))
    first = head(block(inputs))
    second = layers.Dense(2)(head(block(layers.Dense(8)(inputs))))
    model = lib.Model(inputs, [first, second])
    schedule = lib.optimizers.schedules.PolynomialDecay(0.01, decay_steps=10, power=2.0)
    model.compile(loss=["mse", "mse"],
                  optimizer=lib.optimizers.AdamW(schedule, weight_decay=0.01))
    return model, d["x8"], [d["x8"][:, :4], d["x8"][:, :2]]


def case_new_layers(lib, d):
    layers = lib.layers
    model = lib.Sequential([
        layers.Input(shape=(8,)), layers.Rescaling(0.5, offset=1.0), layers.Dense(6),
        layers.GaussianNoise(0.1), layers.GaussianDropout(0.1), layers.Identity(),
        layers.Lambda(lib.ops.relu), layers.UnitNormalization(), layers.Dense(1)])
    schedule = lib.optimizers.schedules.CosineDecay(0.01, decay_steps=20, alpha=0.1)
    model.compile(loss="mse", optimizer=lib.optimizers.SGD(schedule, momentum=0.5))
    return model, d["x8"], d["target"]


def case_ops(lib, d):
    """A functional graph that calls ops directly (Keras lists the calls as layers)."""
    inputs = lib.layers.Input(shape=(8,))
    hidden = lib.ops.relu(lib.layers.Dense(8)(inputs)) + inputs
    outputs = lib.layers.Dense(1)(lib.ops.concatenate([hidden, lib.ops.square(inputs)],
                                                      axis=-1))
    model = lib.Model(inputs, outputs)
    model.compile(loss="mse", optimizer=lib.optimizers.Adam())
    return model, d["x8"], d["target"]


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}
# the cases whose training draws no random numbers: one more step in either library
# must land on the same weights
DETERMINISTIC = sorted(set(CASES) - {"batchnorm_dropout", "new_layers"})


def make(lib, name):
    """The trained model of a case, its inputs, and what it predicts."""
    d = data()
    model, x, y = CASES[name](lib, d)
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    return model, x, y


def step(model, x, y):
    """One more training step, on the whole data in order."""
    model.fit(x, y, epochs=1, batch_size=N, shuffle=False, verbose=0)


def outputs(pred):
    return [np.asarray(p) for p in (pred if isinstance(pred, (list, tuple)) else [pred])]


def save_arrays(path, x, pred, variables):
    xs = x if isinstance(x, list) else [x]
    np.savez(path, **{f"x{i}": a for i, a in enumerate(xs)},
             **{f"pred{i}": p for i, p in enumerate(outputs(pred))},
             **{f"opt{i}": np.asarray(v) for i, v in enumerate(variables)})


def main(folder):
    import keras
    report = {"loaded": {}, "made": {}, "backend": keras.backend.backend(),
              "keras_version": keras.__version__}
    objects = custom_objects(keras)
    cydl_dir = os.path.join(folder, "cydl")
    for name in sorted(CASES):
        path = os.path.join(cydl_dir, f"{name}.keras")
        if not os.path.exists(path):
            continue
        try:
            model = keras.models.load_model(path, custom_objects=objects)
            inputs = np.load(os.path.join(cydl_dir, f"{name}.npz"))
            xs = [inputs[k] for k in sorted(k for k in inputs.files if k.startswith("x"))]
            pred = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
            save_arrays(os.path.join(cydl_dir, f"{name}.keras_out.npz"), xs, pred,
                        [v.numpy() for v in model.optimizer.variables])
            report["loaded"][name] = {"ok": True,
                                      "optimizer": type(model.optimizer).__name__,
                                      "names": [v.path for v in model.optimizer.variables]}
            if name in DETERMINISTIC:
                _, x, y = CASES[name](keras, data())
                step(model, x, y)
                model.save(os.path.join(cydl_dir, f"{name}.keras_stepped.keras"))
        except Exception:                  # noqa: BLE001 (reported to the test)
            report["loaded"][name] = {"ok": False, "error": traceback.format_exc()[-3000:]}
    keras_dir = os.path.join(folder, "keras")
    os.makedirs(keras_dir, exist_ok=True)
    for name in sorted(CASES):
        try:
            keras.utils.set_random_seed(1)
            model, x, y = make(keras, name)
            model.save(os.path.join(keras_dir, f"{name}.keras"))
            model.save_weights(os.path.join(keras_dir, f"{name}.weights.h5"))
            save_arrays(os.path.join(keras_dir, f"{name}.npz"), x,
                        model.predict(x, verbose=0),
                        [v.numpy() for v in model.optimizer.variables])
            report["made"][name] = {"ok": True, "optimizer": type(model.optimizer).__name__,
                                    "names": [v.path for v in model.optimizer.variables]}
            if name in DETERMINISTIC:
                step(model, x, y)
                model.save(os.path.join(keras_dir, f"{name}.stepped.keras"))
            # cydl's weights file, loaded into this model of Keras' own
            weights = os.path.join(cydl_dir, f"{name}.weights.h5")
            if os.path.exists(weights):
                model.load_weights(weights)
                np.savez(os.path.join(cydl_dir, f"{name}.keras_weights_out.npz"),
                         **{f"pred{i}": p for i, p in enumerate(outputs(
                             model.predict(x, verbose=0)))})
        except Exception:                  # noqa: BLE001
            report["made"][name] = {"ok": False, "error": traceback.format_exc()[-3000:]}
    with open(os.path.join(folder, "report.json"), "w") as f:
        json.dump(report, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
