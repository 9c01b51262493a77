"""`model.export(path, format="onnx")`: the exported graph, run by ONNX Runtime, gives
what cydl's own `predict` gives, for every built-in layer kind and activation, the
three model APIs, float32 and float64, and any batch size (the batch axis is
dynamic). ONNX Runtime is the independent implementation here: its own kernels
(MLAS) evaluate the graph, cydl's BLAS/Cython kernels evaluate the model.

Tolerances are error budgets, not fitted numbers: two float implementations of one
formula differ by rounding only. A length-k dot product summed in another order
differs by about sqrt(k) eps relative to its terms (rounding errors add as a random
walk); an elementwise op (activation, bias add, normalization) by a few ulps,
counted as 4; the budgets of successive layers add. The values entering each
product are O(1) here (unit-scale inputs, Glorot weights), so the same budget is
used as an absolute tolerance scaled by the output's magnitude.
"""
import functools

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="ONNX export needs the onnx package")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime runs the exported graph")
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings, strategies as st  # noqa: E402

import cydl  # noqa: E402
from cydl import layers, ops  # noqa: E402
from cydl.export._onnx import to_onnx  # noqa: E402

RNG = np.random.default_rng(0)
# predict's own trace of a custom or composite layer (cydl.models._lower_ops) runs
# each op on zeros, where a division warns (0 / 0); those values are discarded


def budget(dtype, *fan_ins, elementwise=0):
    """eps x (sum over layers of sqrt(fan_in) + 4, plus 4 per extra elementwise op)."""
    eps = np.finfo(dtype).eps
    return float(eps * (sum(np.sqrt(k) + 4 for k in fan_ins) + 4 * elementwise))


def session(model, path=None, **kwargs):
    """An ONNX Runtime session on the exported model (through a file when path)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1          # the test machine's cores are shared
    if path is not None:
        model.export(str(path), format="onnx", verbose=False, **kwargs)
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    data = to_onnx(model, **kwargs).SerializeToString()
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def run(sess, xs):
    xs = xs if isinstance(xs, (list, tuple)) else [xs]
    return sess.run(None, {i.name: x for i, x in zip(sess.get_inputs(), xs)})


def check(model, sess, xs, tol):
    """ORT's outputs against model.predict, within tol (relative and scaled absolute)."""
    expected = model.predict(xs, verbose=0)
    expected = expected if isinstance(expected, (list, tuple)) else [expected]
    got = run(sess, xs)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.dtype == e.dtype and g.shape == e.shape
        scale = max(1.0, float(np.max(np.abs(e))))
        np.testing.assert_allclose(g, e, rtol=tol, atol=tol * scale)


def rows(shape, n, dtype="float32", scale=1.0):
    return (RNG.normal(size=(n,) + tuple(shape)) * scale).astype(dtype)


def book_mlp():
    cydl.utils.set_random_seed(42)
    return cydl.Sequential([
        layers.Input(shape=(28, 28)), layers.Flatten(),
        layers.Dense(300, activation="relu"), layers.Dense(100, activation="relu"),
        layers.Dense(10, activation="softmax")])


_MLP = {}


def _mlp_session():
    if not _MLP:
        _MLP["model"] = model = book_mlp()
        _MLP["sess"] = session(model)
    return _MLP["model"], _MLP["sess"]


# ---------------------------------------------------------------- the book's models
def test_book_mlp_file_names_and_metadata(tmp_path):
    model = book_mlp()
    sess = session(model, tmp_path / "mlp.onnx")
    proto = onnx.load(str(tmp_path / "mlp.onnx"))
    onnx.checker.check_model(proto, full_check=True)
    assert proto.producer_name == "cydl" and proto.producer_version == cydl.__version__
    assert [o.domain for o in proto.opset_import] == [""]
    assert proto.opset_import[0].version >= 18
    assert [i.name for i in sess.get_inputs()] == [t.name for t in model.inputs]
    assert [o.name for o in sess.get_outputs()] == model.output_names
    assert sess.get_inputs()[0].shape == ["batch", 28, 28]
    assert sess.get_outputs()[0].shape == ["batch", 10]
    # the weights travel as initializers named by their paths, at full precision
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in proto.graph.initializer}
    kernel = model.layers[1].kernel
    np.testing.assert_array_equal(inits[kernel.path], kernel.numpy())
    check(model, sess, rows((28, 28), 5), budget("float32", 784, 300, 100))


@settings(max_examples=8, deadline=None)
@given(n=st.integers(1, 40))
def test_book_mlp_any_batch_size(n):
    model, sess = _mlp_session()
    for batch in (n, 2 * n):          # the batch axis is dynamic: one graph, any size
        check(model, sess, rows((28, 28), batch), budget("float32", 784, 300, 100))


@settings(max_examples=10, deadline=None)
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=3), n=st.integers(1, 9))
def test_dense_and_flatten_on_any_sample_shape(shape, n):
    """Dense is Gemm on a matrix and MatMul + Add on more axes; Flatten keeps the
    batch axis whatever the rank."""
    cydl.utils.set_random_seed(n)
    model = cydl.Sequential([layers.Input(shape=shape), layers.Dense(3, activation="elu"),
                             layers.Flatten(), layers.Dense(2)])
    sess = session(model)
    tol = budget("float32", shape[-1], 3 * int(np.prod(shape[:-1])))
    for batch in (n, 2 * n):
        check(model, sess, rows(shape, batch), tol)


def _wide_and_deep():
    """The book's functional Wide & Deep (ch. 10): two inputs, two outputs."""
    cydl.utils.set_random_seed(42)
    input_wide = layers.Input(shape=[5], name="input_wide")
    input_deep = layers.Input(shape=[6], name="input_deep")
    norm_wide, norm_deep = layers.Normalization(), layers.Normalization()
    hidden1 = layers.Dense(30, activation="relu")(norm_deep(input_deep))
    hidden2 = layers.Dense(30, activation="relu")(hidden1)
    concat = layers.concatenate([norm_wide(input_wide), hidden2])
    output = layers.Dense(1, name="output")(concat)
    aux_output = layers.Dense(1, name="aux_output")(hidden2)
    model = cydl.Model(inputs=[input_wide, input_deep], outputs=[output, aux_output])
    norm_wide.adapt(rows([5], 200, scale=3.0) + 2.0)
    norm_deep.adapt(rows([6], 200, scale=0.5) - 1.0)
    return model


def test_functional_wide_and_deep(tmp_path):
    model = _wide_and_deep()
    sess = session(model, tmp_path / "wd.onnx")
    assert [i.name for i in sess.get_inputs()] == ["input_wide", "input_deep"]
    assert [o.name for o in sess.get_outputs()] == ["output", "aux_output"] == \
        model.output_names
    tol = budget("float32", 6, 30, 30, 35, elementwise=2)
    for n in (7, 14):
        check(model, sess, [rows([5], n) + 2.0, rows([6], n) - 1.0], tol)


class WideAndDeepModel(cydl.Model):
    """The book's subclassed version (ch. 10)."""

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
        return self.main_output(concat), self.aux_output(hidden2)


def test_traced_subclassed_model():
    cydl.utils.set_random_seed(42)
    model = WideAndDeepModel(30, activation="relu")
    model.norm_layer_wide.adapt(rows([5], 100, scale=2.0))
    model.norm_layer_deep.adapt(rows([6], 100, scale=4.0))
    model.compile(loss=["mse", "mse"], loss_weights=[0.9, 0.1], optimizer="adam")
    xs = [rows([5], 64, scale=2.0), rows([6], 64, scale=4.0)]
    model.fit(xs, [rows([1], 64), rows([1], 64)], epochs=2, verbose=0)
    sess = session(model)
    assert [o.name for o in sess.get_outputs()] == model.output_names == \
        ["output_1", "output_2"]
    tol = budget("float32", 6, 30, 30, 35, elementwise=2)
    check(model, sess, [x[:9] for x in xs], tol)
    check(model, sess, [x[:18] for x in xs], tol)


def test_unbuilt_subclassed_model_builds_from_input_signature():
    model = WideAndDeepModel(8)
    proto = to_onnx(model, input_signature=[(None, 5), (None, 6)])
    assert model.built and len(proto.graph.input) == 2
    sess = session(model)
    check(model, sess, [rows([5], 4), rows([6], 4)], budget("float32", 6, 8, 8, 13,
                                                            elementwise=2))


# ---------------------------------------------------------------- inference-form layers
def test_batch_norm_and_dropout_net():
    cydl.utils.set_random_seed(1)
    model = cydl.Sequential([
        layers.Input(shape=(12,)), layers.Dense(16, activation="relu"),
        layers.BatchNormalization(), layers.Dropout(0.3), layers.Dense(16, activation="selu"),
        layers.AlphaDropout(0.1), layers.GaussianNoise(0.2), layers.GaussianDropout(0.2),
        layers.BatchNormalization(center=False, scale=False, epsilon=0.01),
        layers.Dense(3, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    x = rows([12], 256, scale=2.0) + 1.0
    model.fit(x, RNG.integers(0, 3, 256), epochs=3, verbose=0)
    bn = model.layers[1]
    assert not np.allclose(bn.moving_mean.numpy(), 0)      # the statistics moved
    # and statistics far from (0, 1), with a non-trivial scale and offset
    bn.set_weights([RNG.uniform(0.5, 2, 16), RNG.normal(size=16), RNG.normal(size=16) * 3,
                    RNG.uniform(0.1, 5, 16)])
    proto = to_onnx(model)
    kinds = {n.op_type for n in proto.graph.node}
    assert kinds == {"Gemm", "Relu", "Selu", "Softmax", "Mul", "Add"}   # no noise at all
    sess = session(model)
    tol = budget("float32", 12, 16, 16, elementwise=4)
    check(model, sess, x[:10], tol)
    check(model, sess, x[:20], tol)


def test_batch_norm_on_a_middle_axis():
    cydl.utils.set_random_seed(2)
    bn = layers.BatchNormalization(axis=1)
    model = cydl.Sequential([layers.Input(shape=(4, 3)), bn, layers.Flatten()])
    bn.set_weights([RNG.uniform(0.5, 2, 4), RNG.normal(size=4), RNG.normal(size=4),
                    RNG.uniform(0.1, 3, 4)])
    sess = session(model)
    for n in (3, 6):
        check(model, sess, rows((4, 3), n), budget("float32", elementwise=2))


@pytest.mark.parametrize("kwargs", [{}, {"invert": True}, {"axis": None},
                                    {"mean": [1.0, -2.0, 0.5], "variance": [4.0, 0.25, 0.0]}])
def test_normalization(kwargs):
    norm = layers.Normalization(**kwargs)
    model = cydl.Sequential([layers.Input(shape=(3,)), norm])
    if "mean" not in kwargs:
        norm.adapt(rows([3], 300, scale=5.0) + 3.0)
    sess = session(model)
    for n in (4, 8):
        check(model, sess, rows([3], n, scale=5.0), budget("float32", elementwise=2))


def test_shape_scaling_and_function_layers():
    cydl.utils.set_random_seed(3)
    inputs = layers.Input(shape=(12,), name="pixels")
    h = layers.Rescaling(1 / 127.5, offset=-1.0)(inputs)
    h = layers.Reshape((4, -1))(h)
    h = layers.UnitNormalization(axis=[1, 2])(h)
    h = layers.Identity()(h)
    h = layers.Rescaling(scale=[1.0, 2.0, 3.0])(h)
    h = layers.Dense(5, activation="tanh")(h)                # a Dense on 3-D input
    h = layers.UnitNormalization()(h)
    h = layers.Lambda(lambda t: ops.square(t) - 0.5)(h)
    model = cydl.Model(inputs, layers.Flatten()(h))
    sess = session(model)
    tol = budget("float32", 12, 3, elementwise=8)
    for n in (5, 10):
        check(model, sess, (RNG.random((n, 12)) * 255).astype("float32"), tol)


def test_prelu():
    cydl.utils.set_random_seed(4)
    slopes = cydl.initializers.RandomUniform(-0.5, 0.5)
    x = layers.Input(shape=(4, 3))
    a = layers.PReLU(alpha_initializer=slopes)(x)                        # one per unit
    b = layers.PReLU(alpha_initializer=slopes, shared_axes=[1])(x)       # per channel
    c = layers.PReLU(alpha_initializer=slopes, shared_axes=[2])(x)       # the ops path
    model = cydl.Model(x, [a, b, c])
    sess = session(model)
    for n in (3, 6):
        check(model, sess, rows((4, 3), n), budget("float32", elementwise=1))


@pytest.mark.parametrize("merge", ["add", "subtract", "multiply", "average", "maximum",
                                   "minimum", "concatenate"])
def test_every_merge_layer(merge):
    ins = [layers.Input(shape=(2, 3), name=f"in_{i}") for i in range(3)]
    cls = getattr(layers, merge)
    used = ins[:2] if merge == "subtract" else ins
    outs = [cls(used)]
    if merge == "concatenate":
        outs.append(layers.concatenate(used, axis=1))
    model = cydl.Model(ins, outs)
    sess = session(model)
    for n in (2, 4):
        check(model, sess, [rows((2, 3), n) for _ in ins], budget("float32", elementwise=3))


# ---------------------------------------------------------------- activations
def my_swish(x):
    """A user activation written with cydl.ops: traced into ONNX ops."""
    return ops.multiply(x, ops.sigmoid(x))


ACTIVATIONS = ["linear", "relu", "sigmoid", "tanh", "softmax", "elu", "selu", "leaky_relu",
               "gelu", "swish", "silu", "mish", "softplus", "softsign", "exponential",
               "hard_sigmoid", "relu6", ["leaky_relu", 0.1], ["elu", 0.5], my_swish,
               functools.partial(cydl.activations.gelu, approximate=True)]


def _activation_model(spec, dtype):
    cydl.utils.set_random_seed(5)
    x_dense = layers.Input(shape=(8,), name="x_dense", dtype=dtype)
    x_act = layers.Input(shape=(8,), name="x_act", dtype=dtype)
    out = [layers.Dense(8, activation=spec, dtype=dtype)(x_dense),
           layers.Activation(spec, dtype=dtype)(x_act)]
    return cydl.Model([x_dense, x_act], out)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("spec", ACTIVATIONS, ids=lambda s: "gelu_approximate" if hasattr(
    s, "func") else getattr(s, "__name__", "_".join(map(str, np.atleast_1d(s)))))
def test_every_activation(spec, dtype):
    model = _activation_model(spec, dtype)
    proto = to_onnx(model)
    elem = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    assert [i.type.tensor_type.elem_type for i in proto.graph.input] == [elem, elem]
    sess = session(model)
    # ONNX Runtime has no double Erf: exact GELU is float32-accurate in a double graph
    exact_gelu = spec == "gelu"
    tol = budget("float32" if exact_gelu else dtype, 8)
    for n in (6, 12):     # the activation branch sees values far out in both tails
        check(model, sess, [rows([8], n, dtype), rows([8], n, dtype, scale=4.0)], tol)


def test_activation_layers():
    cydl.utils.set_random_seed(6)
    x = layers.Input(shape=(5,))
    outs = [layer(x) for layer in (layers.ReLU(), layers.LeakyReLU(negative_slope=0.25),
                                   layers.ELU(alpha=0.7), layers.Softmax())]
    model = cydl.Model(x, outs)
    sess = session(model)
    assert [o.name for o in sess.get_outputs()] == model.output_names
    check(model, sess, rows([5], 9, scale=3.0), budget("float32", elementwise=1))


def test_float64_model_gives_a_double_graph():
    cydl.config.set_floatx("float64")
    model = book_mlp()
    proto = to_onnx(model)
    double = onnx.TensorProto.DOUBLE
    assert proto.graph.input[0].type.tensor_type.elem_type == double
    assert {i.data_type for i in proto.graph.initializer} == {double}
    sess = session(model)
    for n in (3, 6):
        check(model, sess, rows((28, 28), n, "float64"), budget("float64", 784, 300, 100))


# ---------------------------------------------------------------- traced custom code
class GatedUnit(layers.Layer):
    """A custom layer made of cydl.ops only: exported through its traced ops."""

    def build(self, input_shape):
        self.w = self.add_weight("w", (input_shape[-1], 4))
        self.b = self.add_weight("b", (4,), "ones")
        self.inner = layers.Dense(2, activation="elu")

    def call(self, x, training=None):
        h = ops.matmul(x, self.w) + self.b
        gated = ops.where(ops.greater(h, 0.0), h * ops.sigmoid(h), ops.exp(h) - 1.0)
        parts = [gated, ops.mean(x, axis=-1, keepdims=True), x[:, 1:3], self.inner(h),
                 ops.sum(ops.reshape(ops.stack([x, -x], axis=1), (-1, 2, 6)), axis=1)]
        y = ops.cast(ops.cast(ops.concatenate(parts, axis=-1), "float64") + 0.0, "float32")
        y = ops.clip(ops.sqrt(ops.square(y) + 1.0), 0.0, 5.0) - ops.abs(ops.log1p(ops.abs(y)))
        return ops.transpose(ops.transpose(y)) / ops.maximum(ops.power(y, 2.0), 0.5)


def test_custom_layer_traced_from_its_ops():
    cydl.utils.set_random_seed(7)
    x = layers.Input(shape=(6,), name="features")
    model = cydl.Model(x, layers.Dense(3)(GatedUnit()(x)))
    proto = to_onnx(model)
    kinds = {n.op_type for n in proto.graph.node}
    assert {"MatMul", "Where", "Greater", "ReduceMean", "Slice", "Concat", "Clip"} <= kinds
    sess = session(model)
    tol = budget("float32", 6, 4, 21, elementwise=12)
    for n in (4, 8):
        check(model, sess, rows([6], n), tol)


def test_raw_ops_and_nested_models_in_a_functional_graph():
    cydl.utils.set_random_seed(8)
    inner = cydl.Sequential([layers.Input(shape=(4,)), layers.Dense(4, activation="gelu")])
    x = layers.Input(shape=(4,))
    h = ops.relu(inner(x)) + x                   # op nodes of the outer graph
    block = cydl.Model(x, ops.tanh(h) * 2.0)
    x2 = layers.Input(shape=(4,))
    y = block(block(x2))                         # a model used twice, nested
    model = cydl.Model(x2, [y, y, x2])           # one value twice, and the input itself
    sess = session(model)
    assert [o.name for o in sess.get_outputs()] == model.output_names
    for n in (3, 6):
        check(model, sess, rows([4], n), budget("float32", 4, 4, elementwise=6))


def test_unbuilt_and_eager_models_are_refused():
    class Branchy(cydl.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(2)

        def call(self, x):
            return self.dense(x) if float(ops.mean(x)) > 0 else -self.dense(x)
    model = Branchy()
    with pytest.raises(ValueError, match="not built yet"):
        to_onnx(model)
    model.predict(rows([3], 2), verbose=0)
    with pytest.raises(NotImplementedError, match="'branchy' \\(Branchy\\).*eagerly"):
        to_onnx(model)


# ---------------------------------------------------------------- errors
class Sorted(layers.Layer):
    def call(self, x):
        return np.sort(x, axis=-1)           # NumPy on a symbolic tensor: no graph


class Mystery(layers.Layer):
    """A layer whose call applies a primitive of its own (no ONNX mapping)."""

    def call(self, x):
        from cydl.autodiff import apply
        return apply(lambda values, need: (np.cumsum(values[0], axis=-1), None), (x,))


@pytest.mark.parametrize("layer, cls", [(Sorted(name="sorter"), "Sorted"),
                                        (Mystery(name="mystery"), "Mystery")])
def test_an_inexpressible_layer_is_named(layer, cls):
    x = layers.Input(shape=(3,))
    model = cydl.Model(x, layers.Dense(2)(layer(x)))
    with pytest.raises(NotImplementedError, match=f"layer '{layer.name}' \\({cls}\\)"):
        to_onnx(model)


def test_mc_dropout_is_refused():
    x = layers.Input(shape=(3,))
    model = cydl.Model(x, layers.Dropout(0.5, name="mc")(x, training=True))
    with pytest.raises(NotImplementedError, match="'mc' \\(Dropout\\).*training=True"):
        to_onnx(model)


def test_export_arguments(tmp_path, capsys):
    model, _ = _mlp_session()
    path = tmp_path / "m.onnx"
    model.export(path)                                   # format="onnx" by default
    assert capsys.readouterr().out == f"Saved artifact at '{path}'.\n"      # Keras' message
    for fmt in ("tf_saved_model", "litert", "bogus"):
        with pytest.raises(ValueError, match=r"Supported formats are: \['onnx'\]"):
            model.export(path, format=fmt)
    with pytest.raises(TypeError, match="unexpected keyword"):
        model.export(path, format="onnx", jax2tf_kwargs={})
    for bad in (17, 10 ** 6, "18", True):
        with pytest.raises(ValueError, match="opset_version"):
            model.export(path, format="onnx", opset_version=bad)
    assert to_onnx(model, opset_version=19).opset_import[0].version == 19
    with pytest.raises(ValueError, match="input_signature"):
        to_onnx(model, input_signature=[(None, 27, 28)])
    with pytest.raises(ValueError, match="input_signature"):
        to_onnx(model, input_signature=[(None, 28, 28), (None, 3)])
    with pytest.raises(ValueError, match="float64"):
        to_onnx(model, input_signature=cydl.Input(shape=(28, 28), dtype="float64"))
    # an int batch size fixes the batch axis
    fixed = to_onnx(model, input_signature=[(1, 28, 28)])
    dims = fixed.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims] == [1, 28, 28]
    assert not list(tmp_path.glob("*.tmp"))


def test_missing_onnx_names_the_extra(monkeypatch):
    import sys
    model = book_mlp()
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r'pip install "cydl\[onnx\]"'):
        model.export("never.onnx", format="onnx")


def test_a_bad_path_is_named_before_anything_is_written(tmp_path):
    model, _ = _mlp_session()
    missing = tmp_path / "no" / "such" / "m.onnx"
    with pytest.raises(FileNotFoundError, match="the directory .*such' does not exist"):
        model.export(missing, format="onnx", verbose=False)
    with pytest.raises(IsADirectoryError, match="is a directory.*model.onnx"):
        model.export(tmp_path, format="onnx", verbose=False)
    assert list(tmp_path.iterdir()) == []


def test_exporting_again_to_a_path_replaces_the_file(tmp_path):
    path = tmp_path / "m.onnx"
    x = rows((4,), 5)
    for seed in (1, 2):
        cydl.utils.set_random_seed(seed)
        model = cydl.Sequential([layers.Input((4,)), layers.Dense(3, activation="tanh")])
        check(model, session(model, path), x, budget("float32", 4))
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]


def test_a_float64_input_feeding_a_float32_model():
    # cydl casts the input to the model's dtype; the graph takes double and casts
    x = layers.Input((3,), dtype="float64", name="x")
    inner = cydl.Sequential([layers.Input((3,)), layers.Dense(4, activation="relu")])
    norm = layers.Normalization(mean=1.0, variance=2.0)
    cydl.utils.set_random_seed(3)
    model = cydl.Model(x, [layers.Dense(2)(norm(x)), inner(x)])
    sess = session(model)
    assert sess.get_inputs()[0].type == "tensor(double)"
    check(model, sess, rows((3,), 6, "float64"), budget("float32", 3, elementwise=2))
