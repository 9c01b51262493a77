"""Every loss of cydl.losses against torch formulas written from the Keras 3
definitions: the reduced value (each reduction, with and without sample weights),
d loss / d y_pred under a GradientTape with y_pred in different layouts, and the
gradient a training step applies (both layouts of the model output, each runner)."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import cydl
from cydl import layers, losses, ops
from cydl.variables import Variable

from .conftest import assert_close, budget, lay_out, layouts, seeds, torch_or_skip, \
    upstream, values

torch = torch_or_skip()
from ._twins import PATHS, compiled  # noqa: E402

F = torch.nn.functional
EPS = cydl.config.epsilon()
NEAR = ((-2.0, -0.6), (-0.4, -0.1), (0.1, 0.4), (0.6, 2.0))   # |error| off 0 and off 0.5


def smooth(yt, ls, k):
    return yt * (1 - ls) + ls / k          # Keras: toward 1/k (k = 2 for binary)


def cce(yt, yp, logits, ls):
    yt = smooth(yt, ls, yp.shape[-1])
    if logits:
        return -(yt * torch.log_softmax(yp, -1)).sum(-1)
    p = torch.clamp(yp / yp.sum(-1, keepdim=True), EPS, 1 - EPS)    # Keras clips
    return -(yt * torch.log(p)).sum(-1)


def bce(yt, yp, logits, ls):
    yt = smooth(yt, ls, 2)
    p = torch.clamp(yp, EPS, 1 - EPS)
    per = F.binary_cross_entropy_with_logits(yp, yt, reduction="none") if logits else \
        -(yt * torch.log(p) + (1 - yt) * torch.log(1 - p))
    return per.mean(-1)


def huber(yt, yp, d):
    e = (yp - yt).abs()
    return torch.where(e <= d, 0.5 * e * e, d * e - 0.5 * d * d).mean(-1)


def custom(yt, yp):       # a loss function written with cydl.ops: the generic tape path
    return ops.mean(ops.add(ops.square(ops.subtract(yp, yt)), ops.softplus(yp)), axis=-1)


# name -> (make the cydl loss from (logits, label smoothing), torch per-sample losses
# of (y_true, y_pred, logits, ls), targets kind, whether y_pred is a probability)
LOSSES = {
    "mse": (lambda lg, ls: losses.MeanSquaredError(),
            lambda yt, yp, lg, ls: ((yp - yt) ** 2).mean(-1), "near", False),
    "mae": (lambda lg, ls: losses.MeanAbsoluteError(),
            lambda yt, yp, lg, ls: (yp - yt).abs().mean(-1), "near", False),
    "huber": (lambda lg, ls: losses.Huber(0.5),
              lambda yt, yp, lg, ls: huber(yt, yp, 0.5), "near", False),
    "binary_crossentropy": (lambda lg, ls: losses.BinaryCrossentropy(lg, ls), bce,
                            "soft", True),
    "categorical_crossentropy": (lambda lg, ls: losses.CategoricalCrossentropy(lg, ls),
                                 cce, "rows", True),
    "sparse_categorical_crossentropy": (
        lambda lg, ls: losses.SparseCategoricalCrossentropy(lg, label_smoothing=ls),
        lambda yt, yp, lg, ls: cce(F.one_hot(yt.long(), yp.shape[-1]).double(), yp, lg, ls),
        "labels", True),
    "custom": (lambda lg, ls: losses.get(custom),
               lambda yt, yp, lg, ls: ((yp - yt) ** 2 + F.softplus(yp)).mean(-1), "near",
               False),
}


def draw_problem(name, draw, rng, shape):
    """(loss, torch per-sample fn, y_true, y_pred, logits, label smoothing), clear of
    every kink: errors at least 0.1 from 0 (mae) and from huber's delta, probabilities
    inside the clip."""
    make, th, targets, prob = LOSSES[name]
    logits = prob and draw(st.booleans())
    ls = draw(st.sampled_from([0.0, 0.1])) if prob else 0.0
    if prob and not logits:
        yp = rng.uniform(0.05, 0.95, shape)      # inside Keras' clip to [1e-7, 1 - 1e-7]
    else:
        yp = rng.uniform(-2, 2, shape)
    if targets == "near":       # huber's delta is 0.5
        yt = yp + values(rng, shape, NEAR)
    elif targets == "soft":
        yt = rng.integers(0, 2, shape).astype(float) if draw(st.booleans()) else \
            rng.uniform(0, 1, shape)
    elif targets == "rows":
        yt = rng.dirichlet(np.ones(shape[-1]), shape[:-1]) if draw(st.booleans()) else \
            np.eye(shape[-1])[rng.integers(0, shape[-1], shape[:-1])]
    else:
        yt = rng.integers(0, shape[-1], shape[:-1])
    return make(logits, ls), th, yt, yp, logits, ls


def reduce(per, reduction, sw):
    per = per if sw is None else per * torch.tensor(sw)
    return per if reduction == "none" else per.sum() if reduction == "sum" else \
        per.sum() / per.numel()      # sum_over_batch_size: over every element, as Keras


shapes = st.sampled_from([(1, 1), (5, 1), (3, 4), (4, 3), (2, 3, 2)])


@pytest.mark.parametrize("name", sorted(LOSSES))
@pytest.mark.parametrize("mode", ["variable", "tensor"])
@budget(15)
@given(data=st.data(), seed=seeds, shape=shapes,
       reduction=st.sampled_from(["sum_over_batch_size", "sum", "none"]))
def test_value_and_tape_gradient(name, mode, data, seed, shape, reduction):
    rng = np.random.default_rng(seed)
    loss, th, yt, yp, logits, ls = draw_problem(name, data.draw, rng, shape)
    loss.reduction = reduction
    sw = rng.uniform(0.5, 2.0, shape[:-1]) if data.draw(st.booleans()) else None
    yt = lay_out(yt, *data.draw(layouts))
    # not broadcast: repeating y_pred's values would move the errors drawn clear of 0
    yp_laid = lay_out(yp, *data.draw(layouts.filter(lambda lay: lay[0] != "broadcast")))
    t_yt = torch.tensor(np.array(yt))
    want = reduce(th(t_yt, torch.tensor(yp), logits, ls), reduction, sw)
    assert_close(loss(yt, yp_laid, sample_weight=sw), want.numpy(), np.float64, "value")

    start, cy_pre, th_pre = (yp, lambda v: v, lambda t: t) if mode == "variable" else \
        upstream(yp, data.draw)
    var = Variable(np.array(start), "y_pred")
    leaf = torch.tensor(np.array(start), requires_grad=True)
    with cydl.GradientTape() as tape:
        value = loss(yt, cy_pre(var), sample_weight=sw)
        total = ops.sum(value)
    reduce(th(t_yt, th_pre(leaf), logits, ls), reduction, sw).sum().backward()
    grad = tape.gradient(total, var)
    assert grad is not None, "the loss is not differentiable under a GradientTape"
    assert_close(grad, leaf.grad.numpy(), np.float64, f"d loss / d y_pred ({mode})")


class Linear(layers.Layer):
    """x @ w through cydl.ops: on the graph runner its output is C-ordered, where
    Dense's is Fortran-ordered; the loss gradient must land right in both."""

    def build(self, shape):
        self.w = self.add_weight(shape=(shape[-1], self.units))

    def __init__(self, units, **kw):
        super().__init__(**kw)
        self.units = units

    def call(self, x):
        return ops.matmul(x, self.w)


@pytest.mark.parametrize("name", sorted(set(LOSSES) - {"custom"}) + ["custom"])
@pytest.mark.parametrize("path", PATHS)
@budget(8)
@given(data=st.data(), seed=seeds, batch=st.integers(1, 5), width=st.integers(1, 4))
def test_training_step_applies_torchs_gradient(name, path, data, seed, batch, width,
                                               floatx64):
    """With X = I and no bias, y_pred (or its logits) is the kernel W, and one SGD
    step with lr = 1 leaves W - dL/dy_pred: the loss gradient the runner applied."""
    rng = np.random.default_rng(seed)
    # two classes at least: over one, softmax is 1, which Keras' clip turns into a
    # loss of 1e-7 on probabilities and 0 on logits (and an eager subclass hides them)
    width += name.endswith("categorical_crossentropy")
    loss, th, yt, yp, logits, ls = draw_problem(name, data.draw, rng, (batch, width))
    fold = LOSSES[name][3] and not logits and data.draw(st.booleans())
    act = ("sigmoid" if name == "binary_crossentropy" else "softmax") if fold else None
    if fold:        # the loss reads the logits of the output activation
        yp = rng.uniform(-2, 2, yp.shape)
    sw = rng.uniform(0.5, 2.0, batch) if data.draw(st.booleans()) else None
    inp = layers.Input(shape=(batch,))
    if data.draw(st.booleans()):
        head = layers.Dense(width, use_bias=False, activation=act)
        out, kernel = head(inp), lambda: head.kernel
    else:
        head = Linear(width)
        out, kernel = head(inp), lambda: head.w
        out = layers.Activation(act)(out) if act else out
    model = cydl.Model(inputs=inp, outputs=out)
    kernel().assign(yp)
    trainee = compiled(model, path, loss, 1.0)
    value = trainee.train_on_batch(np.eye(batch), yt, sample_weight=sw)

    leaf = torch.tensor(yp, requires_grad=True)
    # a folded activation: the loss of the logits, as TF-Keras (and cydl's docs) do it
    want = reduce(th(torch.tensor(yt), leaf, logits or fold, ls), "sum_over_batch_size", sw)
    want.backward()
    assert_close(value, float(want.detach()), np.float64, "loss value")
    assert_close(yp - kernel().numpy(), leaf.grad.numpy(), np.float64,
                 f"d loss / d y_pred applied on {path}")
