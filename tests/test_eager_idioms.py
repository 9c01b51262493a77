"""Eager Python idioms on the values inside a `call`: float(), int(), bool(), .item(),
np.asarray() and comparisons work on taped Tensors as on the NumPy arrays they hold;
on symbolic KerasTensors they raise graph.TracingError, so a subclassed model that
uses them runs eagerly on a tape, and trains like its PyTorch twin."""
import numpy as np
import pytest

import cydl
from cydl import graph, layers, ops
from cydl.autodiff import Tensor

IDIOMS = {
    "float": float,
    "int": int,
    "bool": bool,
    "item": lambda t: t.item(),
    "asarray": np.asarray,
    "convert_to_numpy": ops.convert_to_numpy,
    "lt": lambda t: t < 0.25,
    "le": lambda t: t <= 0.25,
    "gt": lambda t: t > 0.25,
    "ge": lambda t: t >= 0.25,
    "range": lambda t: range(t),
}


def _taped(value):
    """A Tensor holding value (computed from a watched array under a tape)."""
    x = np.asarray(value, np.float64)
    with cydl.GradientTape() as tape:
        tape.watch(x)
        t = ops.multiply(x, 1.0)
    assert type(t) is Tensor
    return t


@pytest.mark.parametrize("name", [n for n in IDIOMS if n != "range"])
@pytest.mark.parametrize("value", [0.5, -2.0, 0.0, 0.25])
def test_scalar_tensor_idioms_match_numpy(name, value):
    fn = IDIOMS[name]
    got, want = fn(_taped(value)), fn(np.asarray(value))
    assert type(got) is type(want)
    assert np.array_equal(got, want)


@pytest.mark.parametrize("name", ["lt", "le", "gt", "ge", "asarray"])
def test_array_tensor_comparisons_give_numpy_arrays(name):
    value = np.array([[-1.0, 0.25], [0.5, 3.0]])
    got = IDIOMS[name](_taped(value))
    want = IDIOMS[name](value)
    assert isinstance(got, np.ndarray) and got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    if name != "asarray":
        with pytest.raises(ValueError, match="ambiguous"):    # NumPy's own rule
            bool(got)


def test_integer_tensor_is_an_index_and_float_tensor_is_not():
    t = Tensor(np.array(3, np.int64), (), (), None)
    assert list(range(t)) == [0, 1, 2]
    with pytest.raises(TypeError, match="integer"):
        range(_taped(3.0))


def test_tensor_equality_is_identity_and_ops_equal_is_elementwise():
    a, b = _taped([1.0, 2.0]), _taped([1.0, 2.0])
    assert a == a and a != b and not (a == b)
    assert len({a, b, a}) == 2                   # hashable: usable as a dict key
    assert a in [b, a] and b not in [a]
    np.testing.assert_array_equal(ops.equal(a, b), [True, True])
    np.testing.assert_array_equal(ops.not_equal(a, np.array([1.0, 0.0])), [False, True])


@pytest.mark.parametrize("name", sorted(IDIOMS))
def test_symbolic_tensor_raises_tracing_error(name):
    h = ops.mean(layers.Input(shape=(3,)))
    with pytest.raises(graph.TracingError):
        IDIOMS[name](h)
    assert issubclass(graph.TracingError, TypeError)


@pytest.mark.parametrize("name", ["less", "less_equal", "greater", "greater_equal",
                                  "equal", "not_equal"])
def test_comparison_ops_trace_into_a_graph(name):
    """The ops form of a comparison is no Python branch: a model using it is traced
    (no eager fallback) and computes what NumPy does."""
    class Masked(cydl.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(4)

        def call(self, x):
            h = self.dense(x)
            return ops.where(getattr(ops, name)(h, 0.0), h, ops.multiply(h, 0.1))

    x = np.random.default_rng(0).normal(size=(6, 3)).astype("float32")
    model = Masked()
    out = model.predict(x, verbose=0)
    assert not model._eager and model._function is not None
    h = x @ model.dense.kernel.numpy() + model.dense.bias.numpy()
    np_fn = getattr(np, name)
    np.testing.assert_allclose(out, np.where(np_fn(h, 0.0), h, h * 0.1), rtol=1e-6)


# ----------------------------------------------------------------- training
class Branchy(cydl.Model):
    """Branches on a concrete value with float(): cannot be traced."""

    def __init__(self, taken, **kwargs):
        super().__init__(**kwargs)
        self.hidden = layers.Dense(5, activation="tanh")
        self.out = layers.Dense(2)
        self.taken = taken

    def call(self, inputs):
        h = self.hidden(inputs)
        if float(ops.mean(h)) > 0:
            self.taken.append("pos")
            h = ops.multiply(h, 2.0)
        else:
            self.taken.append("neg")
            h = ops.square(h)
        if bool(ops.sum(h) < 1e6) and int(ops.sum(ops.greater(h, -2.0))) >= 0:
            h = ops.add(h, ops.mean(h).item())
        return self.out(h)


def _torch_twin(model, torch):
    hidden = torch.nn.Linear(3, 5).double()
    out = torch.nn.Linear(5, 2).double()
    with torch.no_grad():
        hidden.weight.copy_(torch.from_numpy(model.hidden.kernel.numpy().T))
        hidden.bias.copy_(torch.from_numpy(model.hidden.bias.numpy()))
        out.weight.copy_(torch.from_numpy(model.out.kernel.numpy().T))
        out.bias.copy_(torch.from_numpy(model.out.bias.numpy()))

    def forward(x):
        h = torch.tanh(hidden(x))
        h = h * 2.0 if float(h.detach().mean()) > 0 else torch.square(h)
        if bool(h.detach().sum() < 1e6) and int((h > -2.0).sum()) >= 0:
            h = h + h.mean().item()
        return out(h)
    return forward, [hidden.weight, hidden.bias, out.weight, out.bias]


def _torch_step(forward, params, x, y, lr, torch):
    opt = torch.optim.SGD(params, lr=lr)
    opt.zero_grad()
    loss = torch.mean((forward(torch.from_numpy(x)) - torch.from_numpy(y)) ** 2)
    loss.backward()
    opt.step()


def _weights_like_cydl(params):
    hw, hb, ow, ob = (p.detach().numpy() for p in params)
    return [hw.T, hb, ow.T, ob]


def test_float_branch_model_trains_like_its_torch_twin():
    torch = pytest.importorskip("torch", reason="torch is the gradient oracle")
    cydl.config.set_floatx("float64")
    rng = np.random.default_rng(3)
    x = np.abs(rng.normal(size=(16, 3)))
    y = rng.normal(size=(16, 2))
    taken = []
    for sign in (1.0, -1.0):            # tanh is odd: the two signs take both branches
        cydl.utils.set_random_seed(7)
        model = Branchy(taken)
        model.compile(loss="mse", optimizer=cydl.optimizers.SGD(learning_rate=0.1))
        model.build((None, 3))
        assert model._eager               # float() on a KerasTensor stopped the tracing
        forward, params = _torch_twin(model, torch)
        xs = sign * x
        # one full-batch epoch of fit(), then one train_on_batch step, each against
        # the same SGD step of the twin
        model.fit(xs, y, batch_size=len(xs), epochs=1, shuffle=False, verbose=0)
        _torch_step(forward, params, xs, y, 0.1, torch)
        for got, want in zip(model.get_weights(), _weights_like_cydl(params)):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
        model.train_on_batch(xs, y)
        _torch_step(forward, params, xs, y, 0.1, torch)
        for got, want in zip(model.get_weights(), _weights_like_cydl(params)):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    assert {"pos", "neg"} <= set(taken)
