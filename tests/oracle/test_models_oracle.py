"""Random models, one SGD step, against a torch twin built from the same description
and the same weights: custom layers written with cydl.ops (a Dense-like layer, a
gate, a per-feature affine map, a concatenation) mixed with built-in layers and
functional merges, trained with mse or sparse categorical cross-entropy on each of
the three ways cydl runs a step. Comparing the weights after one SGD step compares
the gradients (w1 = w0 - lr * g); BatchNormalization's moving statistics too."""
import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

import cydl
from cydl import layers, ops

from .conftest import budget, seeds, torch_or_skip

torch = torch_or_skip()
from ._twins import ACTS, KERNEL_ACTS, LAYER_ACTS, PATHS, MyDense, Twin, \
    compiled  # noqa: E402

F = torch.nn.functional

HIDDEN_ACTS = sorted(set(KERNEL_ACTS) - {"softmax"})


class Gate(layers.Layer):
    """x * sigmoid(x @ w + b): a custom layer whose input feeds two ops."""

    def build(self, shape):
        self.w = self.add_weight(shape=(shape[-1], shape[-1]))
        self.b = self.add_weight(shape=(shape[-1],), initializer="zeros")

    def call(self, x):
        return x * ops.sigmoid(x @ self.w + self.b)


class Scale(layers.Layer):
    """x * w + b with 1-D w and b: broadcasting in the forward, summing in the backward."""

    def build(self, shape):
        self.w = self.add_weight(shape=(shape[-1],), initializer="ones")
        self.b = self.add_weight(shape=(shape[-1],), initializer="zeros")

    def call(self, x):
        return x * self.w + self.b


class CatSelf(layers.Layer):
    """concatenate([x, tanh(x @ w)]): the gradient splits at a concatenation."""

    def __init__(self, units, **kw):
        super().__init__(**kw)
        self.units = units

    def build(self, shape):
        self.w = self.add_weight(shape=(shape[-1], self.units))

    def call(self, x):
        return ops.concatenate([x, ops.tanh(ops.matmul(x, self.w))], axis=-1)


def block(item, width, rng):
    """(cydl function of a KerasTensor, torch function of (twin, tensor), out width)."""
    kind, *arg = item
    if kind == "dense":
        la = layers.Dense(arg[0], activation=arg[1])
        return la, lambda tw, t: tw.dense(la, t, arg[1]), arg[0]
    if kind == "mydense":
        la = MyDense(arg[0], arg[1])
        return la, lambda tw, t: ACTS[la.act](t @ tw.p(la.w) + tw.p(la.b)), arg[0]
    if kind == "gate":
        la = Gate()
        return la, lambda tw, t: t * torch.sigmoid(t @ tw.p(la.w) + tw.p(la.b)), width
    if kind == "scale":
        la = Scale()
        return la, lambda tw, t: t * tw.p(la.w) + tw.p(la.b), width
    if kind == "catself":
        la = CatSelf(arg[0])
        return la, lambda tw, t: torch.cat([t, torch.tanh(t @ tw.p(la.w))], -1), \
            width + arg[0]
    if kind == "bn":
        la = layers.BatchNormalization()
        return la, lambda tw, t: tw.batch_norm(la, t), width
    if kind == "dropout0":       # rate 0: training with it is exactly the identity
        return layers.Dropout(0.0), lambda tw, t: t, width
    if kind == "prelu":
        la = layers.PReLU()
        return la, lambda tw, t: tw.prelu(la, t), width
    if kind == "norm":
        la = layers.Normalization()
        la.adapt(rng.normal(1.0, 2.0, (16, width)))
        return la, lambda tw, t: tw.normalization(la, t), width
    if kind == "merge":
        return merge(arg[0], arg[1], width)
    if kind == "leaky":          # the layer's default slope is 0.3 in Keras 3, not 0.2
        la = layers.LeakyReLU() if arg[0] is None else layers.LeakyReLU(arg[0])
        slope = 0.3 if arg[0] is None else arg[0]
        return la, lambda tw, t: F.leaky_relu(t, slope), width
    if kind == "elu":
        return layers.ELU(arg[0]), lambda tw, t: F.elu(t, arg[0]), width
    if kind == "relu":
        return layers.ReLU(), lambda tw, t: F.relu(t), width
    return layers.Activation(arg[0]), lambda tw, t: ACTS[arg[0]](t), width


def merge(kind, u, width):
    """Two branches from one input, merged with a functional merge layer."""
    if kind == "concatenate":
        a, g, m = layers.Dense(u, activation="relu"), Gate(), layers.Concatenate()
        return (lambda x: m([a(x), g(x)]), lambda tw, t: torch.cat(
            [tw.dense(a, t, "relu"), t * torch.sigmoid(t @ tw.p(g.w) + tw.p(g.b))], -1), u + width)
    act = "sigmoid" if kind == "multiply" else "linear"
    a = layers.Dense(u, activation=act)
    b = MyDense(u, "tanh")
    m = layers.Multiply() if kind == "multiply" else layers.Add()
    op = torch.mul if kind == "multiply" else torch.add
    return (lambda x: m([a(x), b(x)]),
            lambda tw, t: op(tw.dense(a, t, act), torch.tanh(t @ tw.p(b.w) + tw.p(b.b))), u)


hidden = st.one_of(
    st.tuples(st.just("dense"), st.integers(1, 5), st.sampled_from(LAYER_ACTS)),
    st.tuples(st.just("mydense"), st.integers(1, 5), st.sampled_from(HIDDEN_ACTS)),
    st.sampled_from([("gate",), ("scale",), ("bn",), ("dropout0",), ("prelu",), ("norm",),
                     ("relu",)]),
    st.tuples(st.just("catself"), st.integers(1, 3)),
    st.tuples(st.just("act"), st.sampled_from(LAYER_ACTS)),
    st.tuples(st.just("leaky"), st.sampled_from([None, 0.1])),
    st.tuples(st.just("elu"), st.sampled_from([1.0, 0.5])),
    st.tuples(st.just("merge"), st.sampled_from(["concatenate", "add", "multiply"]),
              st.integers(1, 4)))
problems = st.fixed_dictionaries({
    "stack": st.lists(hidden, min_size=1, max_size=4),
    "inputs": st.sampled_from([(3,), (1,), (2, 3), (4, 1)]),     # 2-D ones start with Flatten
    "task": st.sampled_from(["mse", "sparse_categorical_crossentropy"]),
    "outs": st.integers(1, 3), "fold": st.booleans(), "batch": st.integers(2, 6),
    "lr": st.sampled_from([0.1, 0.01]), "seed": seeds})


def build(p, rng):
    """The cydl model and its torch forward, with random weights."""
    inp = layers.Input(shape=p["inputs"])
    x, steps, width = inp, [], int(np.prod(p["inputs"]))
    if len(p["inputs"]) > 1:
        x = layers.Flatten()(x)
    for item in p["stack"]:
        fn, th, width = block(item, width, rng)
        x = fn(x)
        steps.append(th)
    sparse = p["task"] != "mse"
    classes = p["outs"] + sparse
    act = "softmax" if sparse and not p["fold"] else "linear"
    head = layers.Dense(classes, activation=act)
    x = head(x)
    steps.append(lambda tw, t: tw.dense(head, t, act))
    if sparse and p["fold"]:          # a softmax layer after a linear Dense
        x = layers.Activation("softmax")(x)
        steps.append(lambda tw, t: torch.softmax(t, -1))
    model = cydl.Model(inputs=inp, outputs=x)
    for v in model.weights:
        if v.name not in ("mean", "variance"):
            lo, hi = (0.5, 2.0) if "variance" in v.name or v.name == "gamma" else \
                (0.0, 0.5) if v.name == "alpha" else (-0.9, 0.9)
            v.assign(rng.uniform(lo, hi, v.shape))

    def forward(tw, X):
        t = X.reshape(X.shape[0], -1)           # Flatten: row-major, as Keras
        for th in steps:
            t = th(tw, t)
        return t
    return model, forward


@pytest.mark.parametrize("path", PATHS)
@budget(20)
@given(p=problems)
def test_one_sgd_step_matches_torch(path, p, floatx64):
    rng = np.random.default_rng(p["seed"])
    model, forward = build(p, rng)
    B, sparse = p["batch"], p["task"] != "mse"
    X = rng.normal(size=(B,) + p["inputs"])
    Y = rng.integers(0, p["outs"] + 1, B) if sparse else rng.normal(size=(B, p["outs"]))

    twin = Twin()
    out = forward(twin, torch.tensor(X))
    if sparse:    # -log p[label]; cydl folds the softmax into the loss, same value
        # below Keras' clip at 1e-7 the loss depends on whether the runner sees the
        # logits (a graph does, an eager subclass does not): keep clear of it
        assume(float(out.min()) > 1e-6)
        tloss = -torch.log(out[torch.arange(B), torch.tensor(Y)]).mean()
    else:         # Keras mse: the mean over the outputs, then over the batch
        tloss = ((out - torch.tensor(Y)) ** 2).mean()
    want = twin.step(tloss, p["lr"])
    assert set(want) == {id(v) for v in model.weights}, "the twin misses a weight"

    loss = compiled(model, path, p["task"], p["lr"]).train_on_batch(X, Y)
    # 1e-8: a few dozen float64 ops per value, BN's 1/sqrt(var + 1e-3) and softmax's
    # exp amplify rounding to ~1e-13; any wrong gradient moves a weight by lr * O(0.1)
    np.testing.assert_allclose(loss, float(tloss.detach()), rtol=1e-8, err_msg="loss")
    for v in model.weights:
        np.testing.assert_allclose(v.numpy(), want[id(v)], rtol=1e-8, atol=1e-10,
                                   err_msg=f"{v.path} after one step on {path}")
