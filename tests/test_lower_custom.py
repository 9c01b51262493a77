"""Custom layers in the fused step (cydl/models/_lower_ops.py): a custom layer made of
ops the plan knows is lowered into plan nodes and trains exactly as on the graph
runner; one that uses anything else leaves the model on the graph runner."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import cydl
from cydl import layers, ops
from cydl.models import _loops
from test_fused import assert_steps_allocate_nothing  # tests/ is on sys.path


class MyDense(cydl.layers.Layer):
    """relu(x @ w + b), or another activation, written with cydl.ops."""

    def __init__(self, units, act="relu", bias_first=False, use_affine=False, **kw):
        super().__init__(**kw)
        self.units, self.act, self.bias_first, self.use_affine = units, act, bias_first, \
            use_affine

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units))
        self.b = self.add_weight(shape=(self.units,), initializer="random_normal")

    def call(self, x):
        if self.use_affine:
            return ops.dense(x, self.w, self.b, self.act)
        z = ops.matmul(x, self.w)
        z = self.b + z if self.bias_first else z + self.b
        return ops.activation(z, self.act) if self.act != "linear" else z


class Gate(cydl.layers.Layer):
    def build(self, input_shape):
        n = input_shape[-1]
        self.w = self.add_weight(shape=(n, n))
        self.b = self.add_weight(shape=(n,), initializer="random_normal")

    def call(self, x):
        return x * ops.sigmoid(ops.matmul(x, self.w) + self.b)


class Residual(cydl.layers.Layer):
    """x + Dense(x), a layer calling a built-in sublayer, then a concatenation."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.inner = layers.Dense(4, activation="tanh")

    def build(self, input_shape):
        self.proj = MyDense(input_shape[-1], "linear")

    def call(self, x):
        h = self.inner(x)
        return ops.concatenate([ops.add(x, self.proj(h)), h], axis=-1)


class Scale(cydl.layers.Layer):
    """x * w with a 1-D w: broadcasting, which the plan has no node for."""

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones")

    def call(self, x):
        return ops.multiply(x, self.w)


class Tied(cydl.layers.Layer):
    """One weight used twice: its gradient is a sum the plan does not form."""

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], input_shape[-1]))

    def call(self, x):
        return ops.matmul(ops.tanh(ops.matmul(x, self.w)), self.w)


class Noisy(cydl.layers.Layer):
    """Different ops in training and inference: cannot be one plan."""

    def call(self, x, training=None):
        return ops.multiply(x, 2.0) if training else x


class Constant(cydl.layers.Layer):
    def call(self, x):
        return ops.add(x, 1.0)


class Identity(cydl.layers.Layer):
    def call(self, x):
        return x


def _model(custom, n_in=6):
    cydl.utils.set_random_seed(11)
    return cydl.Sequential([layers.Input(shape=(n_in,)), layers.Dense(5, activation="elu"),
                            custom, layers.Dense(3, activation="softmax")])


LOWERED = {
    "dense-relu": lambda: MyDense(4),
    "dense-bias-first": lambda: MyDense(4, "tanh", bias_first=True),
    "dense-linear": lambda: MyDense(4, "linear"),
    "ops.dense": lambda: MyDense(4, "sigmoid", use_affine=True),
    "gate": Gate,
    "residual": Residual,
    "identity": Identity,
}
GRAPH = {"scale": Scale, "tied": Tied, "noisy": Noisy, "constant": Constant}


def _train(make, eager, dtype, steps=4):
    cydl.config.set_floatx(dtype)
    try:
        model = _model(make())
        model.compile(loss="sparse_categorical_crossentropy",
                      optimizer=cydl.optimizers.SGD(0.1, momentum=0.5), run_eagerly=eager)
        rng = np.random.default_rng(5)
        x, y = rng.standard_normal((64, 6)), rng.integers(0, 3, 64)
        cydl.utils.set_random_seed(2)
        h = model.fit(x, y, epochs=steps, batch_size=16, verbose=0)
        return model, h.history["loss"], model.get_weights(), model.predict(x, verbose=0)
    finally:
        cydl.config.set_floatx("float32")


@pytest.mark.parametrize("name", sorted(LOWERED))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_lowered_custom_layer_trains_as_on_the_graph_runner(name, dtype):
    fused, loss_f, w_f, p_f = _train(LOWERED[name], False, dtype)
    graph, loss_g, w_g, p_g = _train(LOWERED[name], True, dtype)
    assert fused._runner(train=True).fused, name
    assert not graph._runner(train=True).fused
    # the plan runs the same kernels in the same order: equal up to GEMM blocking
    tol = dict(rtol=1e-12, atol=1e-14) if dtype == "float64" else dict(rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(loss_f, loss_g, **tol)
    for a, b in zip(w_f, w_g):
        np.testing.assert_allclose(a, b, **tol)
    np.testing.assert_allclose(p_f, p_g, **tol)


@pytest.mark.parametrize("name", sorted(GRAPH))
def test_unlowerable_custom_layer_stays_on_the_graph_runner(name):
    model, loss, _, _ = _train(GRAPH[name], False, "float64", steps=2)
    assert not model._runner(train=True).fused, name
    assert np.all(np.isfinite(loss))


@settings(max_examples=15, deadline=None, derandomize=True)
@given(order=st.permutations(["gate", "dense", "builtin", "residual"]),
       act=st.sampled_from(["relu", "tanh", "sigmoid", "elu", "swish", "softplus"]),
       width=st.integers(2, 7))
def test_random_compositions_lower_and_agree(order, act, width):
    def make():
        stack = [layers.Input(shape=(6,))]
        for kind in order:
            stack.append({"gate": Gate, "residual": Residual,
                          "dense": lambda: MyDense(width, act),
                          "builtin": lambda: layers.Dense(width, activation=act)}[kind]())
        return cydl.Sequential(stack + [layers.Dense(3, activation="softmax")])

    results = []
    for eager in (False, True):
        cydl.config.set_floatx("float64")
        try:
            cydl.utils.set_random_seed(4)
            model = make()
            model.compile(loss="sparse_categorical_crossentropy", optimizer="adam",
                          run_eagerly=eager)
            rng = np.random.default_rng(0)
            x, y = rng.standard_normal((40, 6)), rng.integers(0, 3, 40)
            model.fit(x, y, epochs=2, batch_size=8, verbose=0)
            assert model._runner(train=True).fused is not eager
            results.append(model.get_weights())
        finally:
            cydl.config.set_floatx("float32")
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_lowered_custom_step_allocates_nothing():
    model = _model(Gate())
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    rng = np.random.default_rng(1)
    data = _loops.prepare_xy(model, rng.standard_normal((640, 6)), rng.integers(0, 3, 640))
    runner = model._runner(train=True)
    assert runner.fused
    runner.bind(data, batch=32)
    runner.set_order(rng.permutation(640).astype(np.int64))
    assert_steps_allocate_nothing(runner)


def test_shape_inference_on_zeros_neither_warns_nor_changes_the_path():
    # layer_node finds output shapes by running the layer on zeros: 0/0 there used to
    # warn and, under -W error, silently sent the custom layer to the graph runner
    import warnings

    class Ratio(cydl.layers.Layer):
        def call(self, x):
            return cydl.ops.divide(x, x + x)

    m = cydl.Sequential([cydl.layers.Input((4,)), Ratio()])
    x = np.full((2, 4), 3.0, "float32")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(m.predict(x, verbose=0), 0.5)
