"""The model engine: DAGs, shared layers, several inputs and outputs, subclassed
models (traced and eager), custom layers and losses written with cydl.ops, nesting,
copies and configs, and inference from several threads. Gradients are checked
against central finite differences in float64."""
import copy
import pickle
import threading

import numpy as np
import pytest

import cydl
from cydl import layers, ops


@pytest.fixture(autouse=True)
def float64():
    cydl.config.set_floatx("float64")
    yield
    cydl.config.set_floatx("float32")


def momentum():
    # momentum keeps every gradient in Variable.grad (see tests/test_gradients.py)
    return cydl.optimizers.SGD(learning_rate=0.1, momentum=0.5)


def total_loss(model, x, y):
    out = model.evaluate(x, y, verbose=0, batch_size=10 ** 6)
    return out[0] if isinstance(out, list) else out


def check_gradients(model, x, y, rtol=1e-6):
    """One training step's gradients vs central differences of evaluate()'s loss."""
    model.predict(x, verbose=0)        # builds a subclassed model
    params0 = model.get_weights()
    model.train_on_batch(x, y)
    grads = [v.grad.copy() for v in model.trainable_weights]
    model.set_weights(params0)
    h = 1e-6
    assert grads
    for var, g in zip(model.trainable_weights, grads):
        order = "F" if var.ndim == 2 else "C"       # 2-D weights are column-major views
        flat = var.value.reshape(-1, order=order)
        gflat = g.reshape(-1, order=order)
        num = np.zeros(flat.size)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + h
            lp = total_loss(model, x, y)
            flat[i] = old - h
            lm = total_loss(model, x, y)
            flat[i] = old
            num[i] = (lp - lm) / (2 * h)
        np.testing.assert_allclose(gflat, num, rtol=rtol, atol=1e-9,
                                   err_msg=f"gradient of {var.path}")


def _data(n=9, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 3)), rng.standard_normal((n, 2))


def test_dag_with_fan_out_shared_layer_concat_and_two_weighted_outputs():
    cydl.utils.set_random_seed(1)
    a = cydl.Input(shape=(3,), name="a")
    b = cydl.Input(shape=(2,), name="b")
    shared = layers.Dense(3, activation="tanh")
    h1 = shared(a)
    h2 = shared(h1)                       # the same layer applied twice
    hb = layers.Dense(3, activation="elu")(b)
    fan = layers.Dense(4, activation="sigmoid")(h2)
    cat = layers.concatenate([fan, hb, h1])          # h1 fans out to two consumers
    main = layers.Dense(1, name="main")(cat)
    aux = layers.Dense(2, activation="softmax", name="aux")(layers.add([h2, hb]))
    model = cydl.Model(inputs=[a, b], outputs=[main, aux])
    model.compile(loss=["mse", "sparse_categorical_crossentropy"], loss_weights=[0.7, 0.3],
                  optimizer=momentum())
    xa, xb = _data()
    rng = np.random.default_rng(5)
    y = [rng.standard_normal((9, 1)), rng.integers(0, 2, 9)]
    check_gradients(model, [xa, xb[:, :2]], y)
    assert model._runner(train=True).fused is False
    logs = model.evaluate([xa, xb], y, verbose=0, return_dict=True)
    assert set(logs) == {"loss", "main_loss", "aux_loss"}
    np.testing.assert_allclose(logs["loss"], 0.7 * logs["main_loss"] + 0.3 * logs["aux_loss"])


def test_shared_dense_applied_twice():
    cydl.utils.set_random_seed(2)
    inp = cydl.Input(shape=(4,))
    d = layers.Dense(4, activation="tanh")
    model = cydl.Model(inp, layers.Dense(1)(d(d(inp))))
    model.compile(loss="mse", optimizer=momentum())
    rng = np.random.default_rng(0)
    check_gradients(model, rng.standard_normal((6, 4)), rng.standard_normal((6, 1)))


class Branchy(cydl.Model):
    """call() branches on the data: it cannot be traced and runs on a tape."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.a = layers.Dense(3, activation="relu")
        self.b = layers.Dense(3, activation="tanh")
        self.out = layers.Dense(2)

    def call(self, inputs, training=None):
        h = self.a(inputs)
        if float(np.asarray(ops.mean(h))) > 0.1:
            h = self.b(h) * 2.0
        else:
            h = self.b(ops.square(h))
        return self.out(h)


def test_subclass_with_data_dependent_control_flow_runs_on_the_tape():
    cydl.utils.set_random_seed(3)
    model = Branchy()
    model.compile(loss="mse", optimizer=momentum())
    x, y = _data(8, 1)
    check_gradients(model, x, y)
    assert model._eager and model._function is None
    assert len(model.trainable_weights) == 6


class Scale(layers.Layer):
    """A custom layer written only with cydl.ops: no backward anywhere."""

    def build(self, input_shape):
        self.w = self.add_weight("w", (input_shape[-1],), initializer="ones")
        self.c = self.add_weight("c", (1,), initializer="zeros")

    def call(self, x):
        return ops.add(ops.multiply(ops.tanh(x), self.w), ops.square(self.c)) + x * 0.5


def test_custom_layer_custom_activation_and_custom_loss():
    cydl.utils.set_random_seed(4)

    def softsign_ish(x):              # a Python callable as an activation
        return ops.divide(x, ops.add(ops.absolute(x), 1.0))

    def loss_fn(y_true, y_pred):       # a custom loss, no gradient method
        return ops.mean(ops.square(ops.subtract(y_true, y_pred)), axis=-1) * 1.5

    model = cydl.Sequential([layers.Input(shape=(3,)), layers.Dense(4, activation=softsign_ish),
                             Scale(), layers.Dense(2)])
    model.compile(loss=loss_fn, optimizer=momentum())
    model.layers[1].c.assign([0.3])
    x, y = _data(7, 2)
    check_gradients(model, x, y)


def wide_and_deep_functional(units=5):
    input_wide = cydl.Input(shape=(2,))
    input_deep = cydl.Input(shape=(3,))
    hidden1 = layers.Dense(units, activation="relu")(input_deep)
    hidden2 = layers.Dense(units, activation="relu")(hidden1)
    concat = layers.concatenate([input_wide, hidden2])
    output = layers.Dense(1)(concat)
    aux_output = layers.Dense(1)(hidden2)
    return cydl.Model(inputs=[input_wide, input_deep], outputs=[output, aux_output])


class WideAndDeepModel(cydl.Model):
    def __init__(self, units=5, activation="relu", **kwargs):
        super().__init__(**kwargs)
        self.hidden1 = layers.Dense(units, activation=activation)
        self.hidden2 = layers.Dense(units, activation=activation)
        self.main_output = layers.Dense(1)
        self.aux_output = layers.Dense(1)

    def call(self, inputs):
        input_wide, input_deep = inputs
        hidden1 = self.hidden1(input_deep)
        hidden2 = self.hidden2(hidden1)
        concat = layers.concatenate([input_wide, hidden2])
        return self.main_output(concat), self.aux_output(hidden2)


def _wd_data():
    rng = np.random.default_rng(7)
    X = rng.standard_normal((120, 5))
    y = X[:, :1] * 0.5 - X[:, 3:4] + 0.1 * rng.standard_normal((120, 1))
    return (X[:, :2], X[:, 2:]), (y, y)


def test_subclassed_wide_and_deep_traces_and_matches_its_functional_twin():
    x, y = _wd_data()
    histories = []
    for make in (wide_and_deep_functional, WideAndDeepModel):
        cydl.utils.set_random_seed(42)
        model = make()
        model.compile(loss="mse", loss_weights=[0.9, 0.1], optimizer="adam",
                      metrics=["RootMeanSquaredError"])
        # one seed: initialization (at construction, or when fit builds the subclass)
        # and then shuffling draw the same numbers in the same order
        h = model.fit(x, y, epochs=3, batch_size=16, validation_split=0.2, verbose=0)
        histories.append((h.history, model.evaluate(x, y, verbose=0)))
    (h1, e1), (h2, e2) = histories
    assert model._function is not None and not model._eager    # traced
    assert len(h1) == len(h2) == 10 and "output_2_root_mean_squared_error" in h2
    for (k1, v1), (k2, v2) in zip(h1.items(), h2.items()):
        np.testing.assert_array_equal(v1, v2, err_msg=f"{k1} vs {k2}")
    assert len(e2) == 5           # loss, main loss, aux loss, main rmse, aux rmse
    np.testing.assert_array_equal(e1, e2)


def test_traced_subclass_gradients():
    cydl.utils.set_random_seed(8)
    model = WideAndDeepModel(units=3)
    model.compile(loss="mse", loss_weights=[0.9, 0.1], optimizer=momentum())
    (xw, xd), (y, _) = _wd_data()
    check_gradients(model, (xw[:6], xd[:6]), (y[:6], y[:6] * 2))


def test_nested_models_train_and_predict():
    cydl.utils.set_random_seed(9)
    inner = cydl.Sequential([layers.Dense(4, activation="relu"), layers.Dense(3)])
    inp = cydl.Input(shape=(3,))
    out = layers.Dense(1)(inner(inp))
    outer = cydl.Model(inp, out)
    seq = cydl.Sequential([layers.Input(shape=(1,)), layers.Dense(3), outer])
    for model, x in ((outer, _data()[0]), (seq, _data()[0][:, :1])):
        model.compile(loss="mse", optimizer=momentum())
        check_gradients(model, x, np.ones((len(x), 1)))
        h = model.fit(x, np.ones((len(x), 1)), epochs=3, verbose=0)
        assert h.history["loss"][-1] < h.history["loss"][0]
    assert len(seq.trainable_weights) == 2 + 6


def _models():
    cydl.utils.set_random_seed(11)
    seq = cydl.Sequential([layers.Input(shape=(3,)), layers.Dense(4, activation="relu"),
                           layers.Dense(2, activation="softmax")])
    dag = wide_and_deep_functional()
    inner = cydl.Sequential([layers.Dense(4, activation="relu")])
    inp = cydl.Input(shape=(3,))
    nested = cydl.Model(inp, layers.Dense(2)(inner(inp)))
    return {"sequential": (seq, _data()[0]), "dag": (dag, [_data()[0][:, :2], _data()[0]]),
            "nested": (nested, _data()[0])}


@pytest.mark.parametrize("how", ["pickle", "deepcopy", "config"])
@pytest.mark.parametrize("name", ["sequential", "dag", "nested"])
def test_copies_and_configs_round_trip(name, how):
    model, x = _models()[name]
    before = model.predict(x, verbose=0)
    if how == "pickle":
        twin = pickle.loads(pickle.dumps(model))
    elif how == "deepcopy":
        twin = copy.deepcopy(model)
    else:
        twin = type(model).from_config(model.get_config())
        twin.set_weights(model.get_weights())
    after = twin.predict(x, verbose=0)
    for a, b in zip(np.atleast_1d(before) if name != "dag" else before,
                    np.atleast_1d(after) if name != "dag" else after):
        np.testing.assert_array_equal(a, b)
    assert [v.shape for v in twin.weights] == [v.shape for v in model.weights]
    # the copy is independent and trains
    twin.compile(loss="mse", optimizer="sgd")
    y = [np.zeros((len(x[0]), 1))] * 2 if name == "dag" else np.zeros((len(x), 2))
    twin.fit(x, y, epochs=1, verbose=0)
    np.testing.assert_array_equal(model.predict(x, verbose=0)[0], before[0])


def test_variables_have_unique_paths():
    model, _ = _models()["dag"]
    paths = [v.path for v in model.weights]
    assert len(set(paths)) == len(paths) and all("/" in p for p in paths)


@pytest.mark.parametrize("name", ["sequential", "dag"])
def test_inference_from_four_threads_equals_serial(name):
    model, _ = _models()[name]
    model.compile(loss="mse", optimizer="sgd")
    rng = np.random.default_rng(0)
    batches = [[rng.standard_normal((n, 2)), rng.standard_normal((n, 3))] if name == "dag"
               else rng.standard_normal((n, 3)) for n in (1, 7, 300, 1000) * 3]
    targets = [[np.ones((len(b[0]), 1))] * 2 if name == "dag" else np.ones((len(b), 2))
               for b in batches]
    serial = [(model.predict(b, verbose=0), model.evaluate(b, t, verbose=0))
              for b, t in zip(batches, targets)]
    results = [None] * len(batches)

    def work(i):
        for _ in range(5):
            results[i] = (model.predict(batches[i], verbose=0), model(batches[i]),
                          model.evaluate(batches[i], targets[i], verbose=0))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(batches))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for (s, e), (p, c, e2) in zip(serial, results):
        assert e == e2
        for a, b, c1 in zip(*(v if name == "dag" else [v] for v in (s, p, c))):
            np.testing.assert_array_equal(a, b)
            np.testing.assert_allclose(a, c1, rtol=1e-12)


def test_gradient_tape_on_a_layer():
    layer = layers.Dense(2, activation="tanh")
    x = np.random.default_rng(0).standard_normal((5, 3))
    layer(x)
    with cydl.GradientTape() as tape:
        loss = ops.sum(ops.square(layer(x)))
    gk, gb = tape.gradient(loss, [layer.kernel, layer.bias])
    a = np.tanh(x @ layer.kernel.numpy() + layer.bias.numpy())
    dz = 2 * a * (1 - a ** 2)
    np.testing.assert_allclose(gk, x.T @ dz, rtol=1e-10)
    np.testing.assert_allclose(gb, dz.sum(0), rtol=1e-10)


class BookWideAndDeep(cydl.Model):
    """The book's subclassed Wide & Deep (ch. 10), Normalization layers included."""

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
        hidden2 = self.hidden2(self.hidden1(norm_deep))
        concat = layers.concatenate([norm_wide, hidden2])
        return self.main_output(concat), self.aux_output(hidden2)


def book_wide_and_deep_functional():
    input_wide, input_deep = layers.Input(shape=[5]), layers.Input(shape=[6])
    norm_layer_wide, norm_layer_deep = layers.Normalization(), layers.Normalization()
    hidden1 = layers.Dense(30, activation="relu")(norm_layer_deep(input_deep))
    hidden2 = layers.Dense(30, activation="relu")(hidden1)
    concat = layers.concatenate([norm_layer_wide(input_wide), hidden2])
    model = cydl.Model(inputs=[input_wide, input_deep],
                       outputs=[layers.Dense(1)(concat), layers.Dense(1)(hidden2)])
    return model, norm_layer_wide, norm_layer_deep


def test_the_books_wide_and_deep_functional_and_subclassed_give_identical_logs():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, 8)) * [1, 2, 3, 4, 5, 6, 7, 8] + 3
    y = X[:, :1] * 0.1 - X[:, 5:6] * 0.05 + 0.1 * rng.standard_normal((400, 1))
    Xw, Xd = X[:, :5], X[:, 2:]
    logs = []
    for kind in ("functional", "subclass"):
        cydl.utils.set_random_seed(42)
        if kind == "functional":
            model, nw, nd = book_wide_and_deep_functional()
        else:
            model = BookWideAndDeep(30, activation="relu", name="my_cool_model")
            nw, nd = model.norm_layer_wide, model.norm_layer_deep
        model.compile(loss="mse", loss_weights=[0.9, 0.1], optimizer="adam",
                      metrics=["RootMeanSquaredError"])
        nw.adapt(Xw)
        nd.adapt(Xd)
        h = model.fit((Xw[:300], Xd[:300]), (y[:300], y[:300]), epochs=4,
                      validation_data=((Xw[300:], Xd[300:]), (y[300:], y[300:])), verbose=0)
        assert model._runner(train=True).fused
        logs.append((list(h.history.values()), model.evaluate((Xw, Xd), (y, y), verbose=0)))
        assert h.history["val_loss"][-1] < h.history["val_loss"][0]
    assert logs[0] == logs[1]
    assert len(logs[1][1]) == 5    # weighted sum, main loss, aux loss, main rmse, aux rmse


@pytest.mark.parametrize("how", ["pickle", "deepcopy"])
@pytest.mark.parametrize("opt", ["adam", "momentum"])
def test_a_copy_of_a_trained_model_continues_training_identically(how, opt):
    cydl.utils.set_random_seed(12)
    model = cydl.Sequential([layers.Input(shape=(3,)), layers.Dense(5, activation="relu"),
                             layers.Dense(3, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy",
                  optimizer="adam" if opt == "adam" else momentum(), metrics=["accuracy"])
    x, y = _data(40)[0], np.random.default_rng(1).integers(0, 3, 40)
    model.fit(x, y, epochs=2, verbose=0)
    twin = pickle.loads(pickle.dumps(model)) if how == "pickle" else copy.deepcopy(model)
    h1 = model.fit(x, y, epochs=2, shuffle=False, verbose=0).history
    h2 = twin.fit(x, y, epochs=2, shuffle=False, verbose=0).history
    assert h1 == h2
    for a, b in zip(model.get_weights(), twin.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("make", [lambda: [cydl.layers.Dropout(0.5)],
                                  lambda: [cydl.layers.AlphaDropout(0.3)],
                                  lambda: [cydl.layers.Dropout(0.2),
                                           cydl.layers.Activation("softmax")]])
def test_a_model_without_weights_runs(make):
    # a plan of weightless nodes has no offsets into an empty parameter buffer (the
    # spec check used to count the size of weights a node does not have)
    m = cydl.Sequential([cydl.layers.Input((4,))] + make())
    x = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")
    want = x
    if isinstance(m.layers[-1], cydl.layers.Activation):
        e = np.exp(x - x.max(1, keepdims=True))
        want = e / e.sum(1, keepdims=True)
    np.testing.assert_allclose(m.predict(x, verbose=0), want, rtol=1e-6)
    m.compile(loss="mse", optimizer="sgd")
    np.testing.assert_allclose(m.evaluate(x, x, verbose=0), np.mean((want - x) ** 2),
                               rtol=1e-5)
    m.fit(x, x, epochs=1, verbose=0)          # nothing to train, but it runs
