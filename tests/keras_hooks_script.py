"""One script for two libraries: the callback hooks that fit, evaluate and predict
fire, with their arguments and logs, recorded for Keras 3 and for cydl.

The code below is the same for both: `lib` is `keras` or `cydl` (the promise of
cydl is that replacing `tf.keras` with `cydl` keeps a script running).
tests/test_callbacks_keras.py runs it in a subprocess for Keras (so that
KERAS_BACKEND is set before Keras is imported, and the backend's threads stay out of
the test process) and imports it for cydl, then compares the two records.

    python tests/keras_hooks_script.py OUT.json     # Keras' record (KERAS_BACKEND set)
"""
import json
import sys

import numpy as np

N_TRAIN, N_VAL, N_BIG, BATCH = 10, 6, 40, 4     # 10 / 4: a partial last batch


def data():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(N_BIG, 4)).astype("float32")
    labels = rng.integers(0, 3, size=N_BIG)
    target = rng.normal(size=(N_BIG, 1)).astype("float32")
    return x, labels, target


def weights(shapes):
    """Fixed weights, so both libraries compute the very same numbers."""
    rng = np.random.default_rng(11)
    return [rng.normal(scale=0.5, size=s).astype("float32") for s in shapes]


def recorder_class(lib):
    class Recorder(lib.callbacks.Callback):
        """Records (hook, batch or epoch, logs) for every hook. The training batch
        hooks call the base class, which calls on_batch_begin/on_batch_end."""

        def __init__(self, stop_at=None):
            super().__init__()
            self.events = []
            self.stop_at = stop_at      # (epoch, batch) after which to stop training
            self.epoch = None

        def _log(self, hook, index, logs):
            self.events.append((hook, index, logs))

        def on_train_begin(self, logs=None): self._log("on_train_begin", None, logs)
        def on_train_end(self, logs=None): self._log("on_train_end", None, logs)
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch
            self._log("on_epoch_begin", epoch, logs)

        def on_epoch_end(self, epoch, logs=None): self._log("on_epoch_end", epoch, logs)
        def on_batch_begin(self, batch, logs=None): self._log("on_batch_begin", batch, logs)
        def on_batch_end(self, batch, logs=None): self._log("on_batch_end", batch, logs)

        def on_train_batch_begin(self, batch, logs=None):
            self._log("on_train_batch_begin", batch, logs)
            super().on_train_batch_begin(batch, logs)

        def on_train_batch_end(self, batch, logs=None):
            self._log("on_train_batch_end", batch, logs)
            super().on_train_batch_end(batch, logs)
            if (self.epoch, batch) == self.stop_at:
                self.model.stop_training = True

        def on_test_begin(self, logs=None): self._log("on_test_begin", None, logs)
        def on_test_end(self, logs=None): self._log("on_test_end", None, logs)
        def on_test_batch_begin(self, batch, logs=None):
            self._log("on_test_batch_begin", batch, logs)

        def on_test_batch_end(self, batch, logs=None):
            self._log("on_test_batch_end", batch, logs)

        def on_predict_begin(self, logs=None): self._log("on_predict_begin", None, logs)
        def on_predict_end(self, logs=None): self._log("on_predict_end", None, logs)
        def on_predict_batch_begin(self, batch, logs=None):
            self._log("on_predict_batch_begin", batch, logs)

        def on_predict_batch_end(self, batch, logs=None):
            self._log("on_predict_batch_end", batch, logs)
    return Recorder


def _plain(value):
    """A JSON-able description of a logs value: a number, or for predict's outputs
    the structure ("array"/"list") with the arrays' values."""
    if isinstance(value, (list, tuple)):
        return {"list": [_plain(v) for v in value]}
    arr = np.asarray(value)
    if arr.ndim == 0:
        return float(arr)
    return {"array": arr.astype("float64").tolist()}


def encode(events):
    return [{"hook": hook, "index": index,
             "logs": None if logs is None else {k: _plain(v) for k, v in logs.items()},
             "order": None if logs is None else list(logs)}
            for hook, index, logs in events]


def build(lib, kind):
    L = lib.layers
    inputs = L.Input(shape=(4,))
    hidden = L.Dense(5, activation="relu", name="hidden")(inputs)
    if kind == "sequential":
        model = lib.Sequential([L.Input(shape=(4,)), L.Dense(5, activation="relu"),
                                L.Dense(3, activation="softmax")])
        model.compile(optimizer=lib.optimizers.SGD(learning_rate=0.0),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    else:
        cls = L.Dense(3, activation="softmax", name="cls")(hidden)
        reg = L.Dense(1, name="reg")(hidden)
        model = lib.Model(inputs=inputs, outputs=[cls, reg])
        model.compile(optimizer=lib.optimizers.SGD(learning_rate=0.0),
                      loss=["sparse_categorical_crossentropy", "mse"],
                      loss_weights=[1.0, 0.5], metrics=[["accuracy"], ["mae"]])
    model.set_weights(weights([w.shape for w in model.get_weights()]))
    return model


def record(lib, kind):
    """Every hook of fit (2 epochs, validation data, a partial last batch), evaluate
    (explicit and default batch size) and predict (default batch size: Keras' 32
    gives two batches of the 40 rows), with lr=0 so the weights never move."""
    x, labels, target = data()
    model = build(lib, kind)
    y = labels if kind == "sequential" else [labels, target]

    def rows(a, part):
        return [t[part] for t in a] if isinstance(a, list) else a[part]
    train, val = slice(0, N_TRAIN), slice(N_TRAIN, N_TRAIN + N_VAL)
    rec = recorder_class(lib)()
    out = {}
    model.fit(x[train], rows(y, train), batch_size=BATCH, epochs=2, verbose=0, shuffle=False,
              validation_data=(x[val], rows(y, val)), callbacks=[rec])
    out["fit"], rec.events = encode(rec.events), []
    model.evaluate(x[train], rows(y, train), batch_size=BATCH, verbose=0, callbacks=[rec])
    out["evaluate"], rec.events = encode(rec.events), []
    model.evaluate(x, y, verbose=0, callbacks=[rec])
    out["evaluate_default_batch"], rec.events = encode(rec.events), []
    model.predict(x, verbose=0, callbacks=[rec])
    out["predict"], rec.events = encode(rec.events), []
    preds = model.predict(x, verbose=0)
    out["outputs"] = _plain(preds)
    # a batch hook that sets stop_training: the epoch still validates and ends
    rec = recorder_class(lib)(stop_at=(1, 1))
    history = model.fit(x[train], rows(y, train), batch_size=BATCH, epochs=4, verbose=0,
                        shuffle=False, validation_data=(x[val], rows(y, val)), callbacks=[rec])
    out["fit_stopped"] = encode(rec.events)
    out["history"] = {k: [float(v) for v in vs] for k, vs in history.history.items()}
    if kind == "functional":      # Keras 3's Sequential has no output_names
        out["output_names"] = list(model.output_names)
    return out


def main(path):
    import keras
    if int(keras.__version__.split(".")[0]) < 3:
        sys.exit(3)         # the oracle is Keras 3
    result = {kind: record(keras, kind) for kind in ("sequential", "functional")}
    with open(path, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main(sys.argv[1])
