"""The metric functions of `keras.metrics` and `cydl.metrics`, on the same inputs.

`cases()` draws the inputs (ties among the scores included, zeros and negative
values for the percentage and logarithmic errors); `evaluate_cases(lib)` applies
each library's functions to them; `compile_runs(lib)` compiles the functions as
metrics of a model with fixed weights and lr=0 and returns the History of one
epoch. tests/test_metric_functions.py runs this file in a subprocess for Keras:

    python tests/keras_metrics_script.py OUT.npz     # KERAS_BACKEND set
"""
import json
import sys

import numpy as np

N, CLASSES = 50, 7     # 7 classes: top-5 is not always a hit


def _inputs():
    rng = np.random.default_rng(5)
    scores = np.round(rng.random((N, CLASSES)), 1).astype("float32")    # many ties
    labels = rng.integers(0, CLASSES, N)
    onehot = np.eye(CLASSES, dtype="float32")[labels]
    binary = rng.integers(0, 2, (N, 3)).astype("float32")
    probs = rng.random((N, 3)).astype("float32")
    target = rng.normal(size=(N, 3)).astype("float32")
    target[:5] = 0.0                                    # MAPE divides by max(|y|, eps)
    pred = rng.normal(size=(N, 3)).astype("float32")
    ids = np.argsort(-scores, axis=1, kind="stable").astype("float32")
    return dict(scores=scores, labels=labels, onehot=onehot, binary=binary, probs=probs,
                target=target, pred=pred, ids=ids)


def cases():
    """name -> (function name, y_true, y_pred, kwargs)."""
    d = _inputs()
    s, lab = d["scores"], d["labels"]
    return {
        "sca": ("sparse_categorical_accuracy", lab, s, {}),
        "sca_column": ("sparse_categorical_accuracy", lab[:, None], s, {}),
        "sca_float_labels": ("sparse_categorical_accuracy", lab.astype("float32"), s, {}),
        "ca": ("categorical_accuracy", d["onehot"], s, {}),
        "ba": ("binary_accuracy", d["binary"], d["probs"], {}),
        "ba_threshold": ("binary_accuracy", d["binary"], d["probs"], {"threshold": 0.3}),
        "ba_column": ("binary_accuracy", d["binary"][:, 0], d["probs"][:, :1], {}),
        "topk_1": ("top_k_categorical_accuracy", d["onehot"], s, {"k": 1}),
        "topk_2": ("top_k_categorical_accuracy", d["onehot"], s, {"k": 2}),
        "topk_default": ("top_k_categorical_accuracy", d["onehot"], s, {}),
        "stopk_2": ("sparse_top_k_categorical_accuracy", lab, s, {"k": 2}),
        "stopk_3_column": ("sparse_top_k_categorical_accuracy", lab[:, None], s, {"k": 3}),
        "stopk_sorted_ids": ("sparse_top_k_categorical_accuracy", lab.astype("float32"),
                             d["ids"], {"k": 2, "from_sorted_ids": True}),
        "mse": ("mean_squared_error", d["target"], d["pred"], {}),
        "mse_column": ("mean_squared_error", d["target"][:, 0], d["pred"][:, :1], {}),
        "mae": ("mean_absolute_error", d["target"], d["pred"], {}),
        "mape": ("mean_absolute_percentage_error", d["target"], d["pred"], {}),
        "msle": ("mean_squared_logarithmic_error", d["target"], d["pred"], {}),
        "msle_positive": ("mean_squared_logarithmic_error", np.abs(d["target"]),
                          np.abs(d["pred"]), {}),
    }


def evaluate_cases(lib, to_numpy=np.asarray):
    return {name: np.asarray(to_numpy(getattr(lib.metrics, fn)(t, p, **kw)), np.float64)
            for name, (fn, t, p, kw) in cases().items()}


GROUPS = {   # name -> (units, activation, loss, targets, metric function names)
    "sparse": (CLASSES, "softmax", "sparse_categorical_crossentropy", "labels",
               ["sparse_categorical_accuracy", "sparse_top_k_categorical_accuracy"]),
    "categorical": (CLASSES, "softmax", "categorical_crossentropy", "onehot",
                    ["categorical_accuracy", "top_k_categorical_accuracy"]),
    "binary": (3, "sigmoid", "binary_crossentropy", "binary", ["binary_accuracy"]),
    "regression": (3, None, "mse", "target",
                   ["mean_squared_error", "mean_absolute_error",
                    "mean_absolute_percentage_error", "mean_squared_logarithmic_error"]),
}


def compile_runs(lib):
    """group -> History.history of one epoch with the functions as metrics."""
    d = _inputs()
    x = np.random.default_rng(9).normal(size=(N, 4)).astype("float32")
    out = {}
    for group, (units, act, loss, target, names) in GROUPS.items():
        model = lib.Sequential([lib.layers.Input(shape=(4,)),
                                lib.layers.Dense(units, activation=act)])
        rng = np.random.default_rng(13)
        model.set_weights([rng.normal(scale=0.7, size=w.shape).astype("float32")
                           for w in model.get_weights()])
        model.compile(optimizer=lib.optimizers.SGD(learning_rate=0.0), loss=loss,
                      metrics=[getattr(lib.metrics, n) for n in names])
        history = model.fit(x, d[target], batch_size=16, epochs=1, verbose=0, shuffle=False)
        out[group] = {k: [float(v) for v in vs] for k, vs in history.history.items()}
    return out


def main(path):
    import keras
    if int(keras.__version__.split(".")[0]) < 3:
        sys.exit(3)         # the oracle is Keras 3
    values = evaluate_cases(keras, keras.ops.convert_to_numpy)
    values["__history__"] = np.array(json.dumps(compile_runs(keras)))
    np.savez(path, **values)


if __name__ == "__main__":
    main(sys.argv[1])
