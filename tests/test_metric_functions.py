"""cydl.metrics' functions against Keras 3's keras.metrics functions: per-sample
values and shapes on the same random inputs, and, compiled as metrics, the History
keys and values of one epoch (fixed weights, lr=0). tests/keras_metrics_script.py
holds the code both libraries run; Keras runs it in a subprocess."""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import cydl
from cydl import metrics

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import keras_metrics_script as script  # noqa: E402

FUNCTIONS = ["sparse_categorical_accuracy", "categorical_accuracy", "binary_accuracy",
             "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy",
             "mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
             "mean_squared_logarithmic_error"]


@pytest.fixture(scope="module")
def keras_values(tmp_path_factory):
    if importlib.util.find_spec("keras") is None:
        pytest.skip("Keras 3 is the oracle of these tests: pip install keras torch (or jax)")
    backend = next((b for b in ("torch", "jax") if importlib.util.find_spec(b)), None)
    if backend is None:
        pytest.skip("the Keras oracle needs a backend: pip install torch (or jax)")
    out = tmp_path_factory.mktemp("keras") / "metrics.npz"
    env = dict(os.environ, KERAS_BACKEND=backend, CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run([sys.executable, str(HERE / "keras_metrics_script.py"), str(out)],
                          env=env, capture_output=True, text=True, timeout=600)
    if proc.returncode == 3:
        pytest.skip("the installed Keras is older than 3: the oracle is Keras 3")
    assert proc.returncode == 0, proc.stderr[-3000:]
    with np.load(out) as f:
        return {k: f[k] for k in f.files}


def test_the_functions_are_there_with_keras_names():
    for name in FUNCTIONS:
        fn = getattr(metrics, name)
        assert callable(fn) and fn.__name__ == name


@pytest.mark.parametrize("case", list(script.cases()))
def test_function_values_match_keras(keras_values, case):
    ours = script.evaluate_cases(cydl)[case]
    theirs = keras_values[case]
    assert ours.shape == theirs.shape, f"{case}: shape {ours.shape} != Keras {theirs.shape}"
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6, err_msg=case)


def test_accuracy_cases_are_not_trivial():
    """The drawn inputs leave each accuracy both hits and misses, so the comparison
    above tells right from wrong."""
    values = script.evaluate_cases(cydl)
    for case in ("sca", "ca", "ba", "topk_1", "topk_2", "topk_default", "stopk_2",
                 "stopk_sorted_ids"):
        assert 0 < values[case].mean() < 1, case


@pytest.mark.parametrize("group", list(script.GROUPS))
def test_compiled_functions_log_like_keras(keras_values, group):
    theirs = json.loads(str(keras_values["__history__"]))[group]
    ours = script.compile_runs(cydl)[group]
    assert sorted(ours) == sorted(theirs)
    for key in theirs:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=2e-5, err_msg=key)


def test_compiled_function_is_the_mean_of_its_values():
    """Derived without Keras: with lr=0 the epoch's metric is the mean of the
    function over the model's own predictions (the kernel counts accuracy itself)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 4)).astype("float32")
    y = rng.integers(0, 6, 60)
    model = cydl.Sequential([cydl.layers.Input(shape=(4,)),
                             cydl.layers.Dense(6, activation="softmax")])
    model.compile(optimizer=cydl.optimizers.SGD(learning_rate=0.0),
                  loss="sparse_categorical_crossentropy",
                  metrics=[metrics.sparse_categorical_accuracy,
                           metrics.sparse_top_k_categorical_accuracy])
    history = model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    probs = model.predict(x, verbose=0)
    for fn in (metrics.sparse_categorical_accuracy, metrics.sparse_top_k_categorical_accuracy):
        expected = float(np.mean(fn(y, probs)))
        assert 0 < expected < 1
        assert history.history[fn.__name__][0] == pytest.approx(expected, abs=1e-6)


def test_metric_functions_also_train_as_a_loss():
    """keras.metrics.mean_squared_error is the loss function too: cydl's are
    differentiable, so a model trains with them as its loss."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 3)).astype("float32")
    y = (x @ np.array([[1.0], [2.0], [-1.0]], "float32") + 3.0)
    for fn in (metrics.mean_squared_error, metrics.mean_absolute_percentage_error,
               metrics.mean_squared_logarithmic_error):
        cydl.utils.set_random_seed(0)
        model = cydl.Sequential([cydl.layers.Input(shape=(3,)), cydl.layers.Dense(1)])
        model.compile(optimizer=cydl.optimizers.Adam(0.05), loss=fn)
        history = model.fit(x, np.abs(y), epochs=20, batch_size=16, verbose=0)
        assert history.history["loss"][-1] < 0.7 * history.history["loss"][0], fn.__name__


@pytest.mark.parametrize("call, exc, shown", [
    (lambda: metrics.top_k_categorical_accuracy([[0, 1]], [[0.3, 0.7]], k=0), ValueError,
     "k=0"),
    (lambda: metrics.sparse_top_k_categorical_accuracy([1], [[0.3, 0.7]], k="2"), TypeError,
     "k='2'"),
    (lambda: metrics.sparse_top_k_categorical_accuracy([5], [[0.3, 0.7]], k=1), ValueError,
     "[5]"),
    (lambda: metrics.sparse_top_k_categorical_accuracy([0.5], [[0.3, 0.7]]), ValueError,
     "integer"),
    (lambda: metrics.binary_accuracy([1], [0.7], threshold=float("nan")), ValueError,
     "threshold=nan"),
    (lambda: metrics.sparse_categorical_accuracy([1], 0.5), ValueError, "0.5"),
    (lambda: metrics.sparse_categorical_accuracy([1, 2, 0], [[0.3, 0.7]] * 2), ValueError,
     "(3,)"),
    (lambda: metrics.categorical_accuracy([[0, 1]] * 3, [[0.3, 0.7]] * 2), ValueError,
     "(2, 2)"),
    (lambda: metrics.categorical_accuracy([["a", "b"]], [[0.3, 0.7]]), TypeError, "y_true"),
    (lambda: metrics.SparseTopKCategoricalAccuracy(k=-1), ValueError, "k=-1"),
])
def test_bad_input_is_named(call, exc, shown):
    with pytest.raises(exc) as info:
        call()
    assert shown in str(info.value)
