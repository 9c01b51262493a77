"""Torch twins of cydl models, the three ways cydl runs a training step, and the
check of one op against torch (shared by the op and operator tables).

A twin is built from the same description as the cydl model and reads the cydl
layers' weights after they are built, so both start from identical parameters; its
SGD step is written out (w -= lr * grad) so that no torch optimizer convention
enters the comparison. Keras 3 semantics are spelled out where torch differs
(LeakyReLU's default slope, hard_sigmoid, BatchNormalization's biased moving
variance and momentum convention).
"""
import numpy as np
from hypothesis import strategies as st

import cydl
from cydl import ops
from cydl.autodiff import value_of
from cydl.variables import Variable

from .conftest import assert_close, lay_out, layouts, torch_or_skip, upstream, values

torch = torch_or_skip()
F = torch.nn.functional

ACTS = {   # cydl activation name -> torch (Keras 3 definitions where the two differ)
    "linear": lambda t: t, "relu": F.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
    "softmax": lambda t: torch.softmax(t, -1), "elu": F.elu, "selu": F.selu,
    "leaky_relu": lambda t: F.leaky_relu(t, 0.2),        # Keras' default slope, not 0.01
    "gelu": F.gelu, "gelu_tanh": lambda t: F.gelu(t, approximate="tanh"), "swish": F.silu,
    "mish": F.mish, "softplus": F.softplus, "softsign": F.softsign,
    "exponential": torch.exp, "hard_sigmoid": lambda t: F.relu6(t + 3) / 6,   # Keras 3
    "relu6": F.relu6}
KERNEL_ACTS = sorted(ACTS)                                  # what ops.activation takes
LAYER_ACTS = sorted(set(ACTS) - {"gelu_tanh"} | {"silu"})   # the names layers accept
ACTS["silu"] = F.silu

PATHS = ("default", "run_eagerly", "eager_subclass")


class MyDense(cydl.layers.Layer):
    """The custom layer of the bug report, with the activation as a parameter."""

    def __init__(self, units, activation="tanh", **kw):
        super().__init__(**kw)
        self.units, self.act = units, activation

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                 initializer="glorot_uniform")
        self.b = self.add_weight(shape=(self.units,), initializer="zeros")

    def call(self, x):
        return ops.activation(ops.matmul(x, self.w) + self.b, self.act)


class EagerSubclass(cydl.Model):
    """Runs `inner` from a call() that branches on data: it cannot be traced, so
    cydl trains it eagerly on a tape (the third way a step runs)."""

    def __init__(self, inner, **kw):
        super().__init__(**kw)
        self.inner = inner

    def call(self, x, training=None):
        if np.all(np.isfinite(ops.convert_to_numpy(x))):
            return self.inner(x, training=training)
        return self.inner(x, training=training)


def compiled(model, path, loss, lr):
    """model (or its eager wrapper) compiled for one SGD step on `path`."""
    if path == "eager_subclass":
        model = EagerSubclass(model)
        model.build((None,) + tuple(model.inner.input_shape[1:]))
    model.compile(loss=loss, optimizer=cydl.optimizers.SGD(lr),
                  run_eagerly=path == "run_eagerly")
    return model


def runner_kind(model):
    """'fused', 'graph' or 'eager': which runner took the last training step."""
    runner = model._runners.get("train")
    if getattr(model, "_eager", False):
        return "eager"
    return "fused" if getattr(runner, "fused", False) else "graph"


class Twin:
    """A torch function of the cydl variables: params maps id(Variable) to a torch
    leaf holding its value (trainable ones with requires_grad)."""

    def __init__(self):
        self.params, self.vars, self.stats = {}, [], []

    def p(self, var):
        if id(var) not in self.params:
            self.params[id(var)] = torch.tensor(
                np.array(var.numpy()), dtype=torch.float64, requires_grad=var.trainable)
            self.vars.append(var)
        return self.params[id(var)]

    def step(self, loss, lr):
        """The SGD step: the new value of every variable, by id."""
        loss.backward()
        new = {}
        for var in self.vars:
            t = self.params[id(var)]
            new[id(var)] = (t - lr * t.grad).detach().numpy() if t.grad is not None \
                else t.detach().numpy()
        for var, value in self.stats:        # moving statistics, updated by the forward
            new[id(var)] = value.detach().numpy()
        return new

    # ---- the layers, as torch functions of a built cydl layer and a torch input
    def dense(self, layer, x, act):
        """act: the activation's name as given to the layer, never read back from it."""
        z = x @ self.p(layer.kernel)
        if layer.use_bias:
            z = z + self.p(layer.bias)
        return ACTS[act](z)

    def batch_norm(self, layer, x):
        # training mode: batch mean and *biased* variance (Keras 3), epsilon 1e-3;
        # moving = moving * momentum + batch * (1 - momentum), momentum 0.99
        mean, var = x.mean(0), x.var(0, unbiased=False)
        m = layer.momentum
        self.stats.append((layer.moving_mean, self.p(layer.moving_mean) * m
                           + mean.detach() * (1 - m)))
        self.stats.append((layer.moving_variance, self.p(layer.moving_variance) * m
                           + var.detach() * (1 - m)))
        return (x - mean) / torch.sqrt(var + layer.epsilon) * self.p(layer.gamma) \
            + self.p(layer.beta)

    def prelu(self, layer, x):
        return F.relu(x) - self.p(layer.alpha) * F.relu(-x)

    def normalization(self, layer, x):
        # Keras 3: (x - mean) / max(sqrt(variance), epsilon); the statistics do not train
        mean, var = self.p(layer.adapt_mean), self.p(layer.adapt_variance)
        return (x - mean) / torch.clamp(torch.sqrt(var), min=cydl.config.epsilon())


# ----------------------------------------------------------------- one op, checked
class Case:
    """Logical float64 operands and how each may enter: 'd' a Variable/Tensor or a
    constant, 'v' always a Variable/Tensor, 'w' always a Variable (dense's weights),
    'c' a constant, 'm' a boolean constant."""

    def __init__(self, arrays, kinds, cy, th, out_dtype=None):
        self.arrays, self.kinds, self.cy, self.th = arrays, kinds, cy, th
        self.out_dtype = out_dtype


def as_torch(x):
    """A constant for the reference: float64 whatever cydl computes in."""
    return torch.tensor(x, dtype=torch.float64) if x.dtype.kind == "f" else torch.tensor(x)


def check(case, dtype, mode, draw, rng):
    """The forward on plain arrays in drawn layouts, then the forward and every
    operand's gradient under a tape, entering as `mode` says, against torch float64.
    mode: 'variable' (Variables, a cotangent of ones), 'cotangent' (Variables, a
    random cotangent in a drawn layout) or 'tensor' (Tensors that an earlier op laid
    out, a random cotangent)."""
    kinds = list(case.kinds)
    d_at = [i for i, k in enumerate(kinds) if k == "d"]
    must = None if {"v", "w"} & set(kinds) or not d_at else draw(st.sampled_from(d_at))
    kinds = [k if k != "d" else "v" if i == must else draw(st.sampled_from("vc"))
             for i, k in enumerate(kinds)]     # the others: differentiated or constant
    cast = [a if k == "m" else a.astype(dtype) for a, k in zip(case.arrays, kinds)]
    laid = [a if k == "w" else lay_out(a, *draw(layouts)) for a, k in zip(cast, kinds)]
    xs = [np.array(a) for a in laid]
    out_dtype = np.dtype(case.out_dtype or dtype)
    tol_dtype = np.float32 if np.float32 in (dtype, out_dtype) else np.float64

    # forward on plain arrays in the drawn layouts (Variables where only those go)
    plain = case.cy(*[Variable(x, "w") if k == "w" else a for a, x, k in zip(laid, xs, kinds)])
    want = case.th(*[as_torch(x) for x in xs])
    assert_close(value_of(plain), want.detach().numpy(), tol_dtype, "forward on arrays")

    operands, targs, pairs = [], [], []
    with cydl.GradientTape() as tape:
        for a, x, k in zip(laid, xs, kinds):
            if k in "cm":
                operands.append(a)
                targs.append(as_torch(x))
                continue
            start, cy_pre, th_pre = (x, lambda v: v, lambda t: t) \
                if mode != "tensor" or k == "w" else upstream(x, draw)
            var = Variable(np.array(start), "x")
            leaf = torch.tensor(np.array(start), dtype=torch.float64, requires_grad=True)
            pairs.append((var, leaf))
            operands.append(cy_pre(var))
            targs.append(th_pre(leaf))
        y = case.cy(*operands)
        if mode == "variable":      # the cotangent is all ones, arriving 0-strided
            loss, R = ops.sum(y), np.ones(np.shape(y))
        else:
            r_dtype = out_dtype if out_dtype.kind == "f" else np.dtype(dtype)
            R = lay_out(values(rng, np.shape(y), ((-2.0, 2.0),)).astype(r_dtype),
                        *draw(layouts))
            loss = ops.sum(ops.multiply(y, R))
    ty = case.th(*targs)
    assert np.asarray(value_of(y)).dtype == out_dtype, "dtype"
    assert_close(value_of(y), ty.detach().numpy(), tol_dtype, "forward under the tape")
    tloss = (ty * torch.tensor(np.array(R), dtype=ty.dtype)).sum()
    if tloss.requires_grad:
        tloss.backward()
    grads = tape.gradient(loss, [v for v, _ in pairs])
    for i, ((var, leaf), g) in enumerate(zip(pairs, grads)):
        expect = np.zeros(var.shape) if leaf.grad is None else leaf.grad.numpy()
        assert_close(np.zeros(var.shape) if g is None else g, expect, tol_dtype,
                     f"gradient of operand {i}")
