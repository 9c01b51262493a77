"""Fused optimizer steps against the published formulas, written out here step by
step (independently of cydl._ops._reference), and the kernel against the reference."""
import math

import numpy as np
import pytest

import cydl
from cydl import _ops as ops
from cydl._ops import _reference as ref
from conftest import DTYPES, THREADS


class _Store:
    """Just what Optimizer.build/apply need: a flat buffer and its gradient."""

    def __init__(self, params, bounds):
        self.params = params
        self.grads = np.zeros_like(params)
        self.dtype = params.dtype
        self.n_trainable = params.size
        self._bounds = bounds
        self.trainable_params, self.trainable_grads = self.params, self.grads

    def trainable_layout(self):
        return [("v%d" % i, b) for i, b in enumerate(self._bounds[:-1])]

    def segments(self):
        return self._bounds


def textbook(name, p, grads, **hp):
    """Each formula as published (Keras 3's forms), one step at a time, float64."""
    p = p.astype(np.float64).copy()
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    vmax = np.zeros_like(p)
    acc = np.full_like(p, hp.get("initial_accumulator_value", 0.1))
    mom = np.zeros_like(p)
    u_prod = 1.0
    lr = hp.get("learning_rate", 0.01)
    b1, b2, eps = hp.get("beta_1", 0.9), hp.get("beta_2", 0.999), hp.get("epsilon", 1e-7)
    for t, g in enumerate(grads, start=1):
        g = g.astype(np.float64)
        if hp.get("weight_decay"):
            p = p - lr * hp["weight_decay"] * p
        if name == "sgd":
            mu = hp.get("momentum", 0.0)
            if mu:
                m = mu * m - lr * g
                p = p + (mu * m - lr * g if hp.get("nesterov") else m)
            else:
                p = p - lr * g
        elif name in ("adam", "adamw"):
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            if hp.get("amsgrad"):
                vmax = np.maximum(vmax, v)
                vv = vmax
            else:
                vv = v
            p = p - lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t) * m / (np.sqrt(vv) + eps)
        elif name == "adamax":
            m = b1 * m + (1 - b1) * g
            v = np.maximum(b2 * v, np.abs(g))
            p = p - lr / (1 - b1 ** t) * m / (v + eps)
        elif name == "nadam":
            u_t = b1 * (1 - 0.5 * 0.96 ** t)
            u_next = b1 * (1 - 0.5 * 0.96 ** (t + 1))
            u_prod = u_prod * u_t
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            m_hat = u_next * m / (1 - u_prod * u_next) + (1 - u_t) * g / (1 - u_prod)
            v_hat = v / (1 - b2 ** t)
            p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
        elif name == "rmsprop":
            rho, mu = hp.get("rho", 0.9), hp.get("momentum", 0.0)
            v = rho * v + (1 - rho) * g * g
            denom = v
            if hp.get("centered"):
                m = rho * m + (1 - rho) * g
                denom = v - m * m
            step = lr * g / np.sqrt(denom + eps)
            if mu:
                mom = mu * mom + step
                step = mom
            p = p - step
        elif name == "adagrad":
            acc = acc + g * g
            p = p - lr * g / np.sqrt(acc + eps)
    return p


CASES = [
    ("sgd", cydl.optimizers.SGD, {"learning_rate": 0.05}),
    ("sgd", cydl.optimizers.SGD, {"learning_rate": 0.05, "momentum": 0.9}),
    ("sgd", cydl.optimizers.SGD, {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True}),
    ("adam", cydl.optimizers.Adam, {"learning_rate": 0.01}),
    ("adam", cydl.optimizers.Adam, {"learning_rate": 0.01, "amsgrad": True}),
    ("adamw", cydl.optimizers.AdamW, {"learning_rate": 0.01, "weight_decay": 0.1}),
    ("adamax", cydl.optimizers.Adamax, {"learning_rate": 0.01}),
    ("nadam", cydl.optimizers.Nadam, {"learning_rate": 0.01}),
    ("rmsprop", cydl.optimizers.RMSprop, {"learning_rate": 0.01}),
    ("rmsprop", cydl.optimizers.RMSprop, {"learning_rate": 0.01, "momentum": 0.5,
                                          "centered": True}),
    ("adagrad", cydl.optimizers.Adagrad, {"learning_rate": 0.1}),
    ("sgd", cydl.optimizers.SGD, {"learning_rate": 0.05, "weight_decay": 0.01}),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,cls,hp", CASES)
def test_optimizer_follows_published_formula(dtype, name, cls, hp):
    rng = np.random.default_rng(0)
    n, steps = 40_003, 7
    p0 = rng.standard_normal(n)
    grads = [rng.standard_normal(n) for _ in range(steps)]
    store = _Store(p0.astype(dtype), [0, 17, 20_000, n])
    opt = cls(**hp)
    opt.build(store)
    for g in grads:
        store.grads[...] = g
        opt.apply(store)
    want = textbook(name, p0, grads, **hp)
    tol = 2e-5 if dtype == np.float32 else 1e-11
    np.testing.assert_allclose(store.params, want, rtol=tol, atol=tol)
    assert int(opt.iterations.value) == steps


@pytest.mark.parametrize("clip", [{"clipvalue": 0.5}, {"clipnorm": 1.0}, {"global_clipnorm": 2.0}])
def test_gradient_clipping(clip):
    rng = np.random.default_rng(1)
    bounds = [0, 5, 105]
    p0, g = rng.standard_normal(105), 3 * rng.standard_normal(105)
    store = _Store(p0.copy(), bounds)
    opt = cydl.optimizers.SGD(learning_rate=0.1, **clip)
    opt.build(store)
    store.grads[...] = g
    opt.apply(store)
    if "clipvalue" in clip:
        gc = np.clip(g, -0.5, 0.5)
    elif "clipnorm" in clip:
        gc = np.concatenate([g[a:b] * min(1.0, 1.0 / np.linalg.norm(g[a:b]))
                             for a, b in zip(bounds[:-1], bounds[1:])])
    else:
        gc = g * min(1.0, 2.0 / np.linalg.norm(g))
    np.testing.assert_allclose(store.params, p0 - 0.1 * gc, rtol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_threads", THREADS)
@pytest.mark.parametrize("kind", sorted(ops.OPTIMIZER_KINDS))
def test_kernel_matches_reference(dtype, n_threads, kind):
    rng = np.random.default_rng(2)
    n = 50_001
    rule = ops.UpdateRule()
    rule.configure(ops.OPTIMIZER_KINDS[kind], momentum=0.7, nesterov=True, amsgrad=True,
                   centered=True, weight_decay=0.01, clipnorm=3.0)
    rule.set_segments([0, 10, 30_000, n])
    rule.set_step(0.01, 0.02, 0.3, 1.5)
    p = rng.standard_normal(n).astype(dtype)
    g = rng.standard_normal(n).astype(dtype)
    # realistic state: second moments dominate the squared mean gradient
    slots = [rng.uniform(0.5, 1, n).astype(dtype), rng.uniform(0, 0.1, n).astype(dtype),
             rng.uniform(0.5, 1, n).astype(dtype)]
    p2, slots2 = p.copy(), [s.copy() for s in slots]
    ops.optimizer_step(rule, p, g, slots, n_threads=n_threads)
    ref.optimizer_step(rule, p2, g, slots2)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(p, p2, rtol=tol, atol=tol)
    for a, b in zip(slots, slots2):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_threads", THREADS)
@pytest.mark.parametrize("kind", ["sgd", "adam", "rmsprop"])
@pytest.mark.parametrize("clip", [{}, {"clipnorm": 3.0}, {"global_clipnorm": 5.0},
                                  {"clipvalue": 0.7}])
def test_penalties_match_reference(dtype, n_threads, kind, clip):
    """L1/L2 penalties in the fused update: their gradient joins g before clipping,
    and the step returns the penalty of the weights it read."""
    rng = np.random.default_rng(5)
    n = 40_003
    bounds = [0, 17, 20_000, 20_100, n]
    rule = ops.UpdateRule()
    rule.configure(ops.OPTIMIZER_KINDS[kind], momentum=0.5, **clip)
    rule.set_segments(bounds)
    rule.set_penalties([0.01, 0.0, 0.003, 0.0], [0.0, 0.0, 0.02, 0.05])
    rule.set_step(0.01, 0.02, 0.3, 1.5)
    p = rng.standard_normal(n).astype(dtype)
    p[3] = 0.0                       # sign(0) = 0: no l1 push on an exact zero
    g = rng.standard_normal(n).astype(dtype)
    slots = [rng.uniform(0.5, 1, n).astype(dtype), rng.uniform(0, 0.1, n).astype(dtype),
             rng.uniform(0.5, 1, n).astype(dtype)]
    p2, slots2 = p.copy(), [s.copy() for s in slots]
    got = ops.optimizer_step(rule, p, g, slots, n_threads=n_threads)
    want = ref.optimizer_step(rule, p2, g, slots2)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(p, p2, rtol=tol, atol=tol)
    for a, b in zip(slots, slots2):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    assert want > 0
    assert got == pytest.approx(want, rel=1e-6 if dtype == np.float32 else 1e-12)
    rule.set_penalties([0.0] * 4, [0.0] * 4)
    assert ops.optimizer_step(rule, p, g, slots, n_threads=n_threads) == 0.0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_constraints_match_reference(dtype, n_threads):
    """Keras' constraints, applied by the update right after it: whole norm blocks per
    thread, so any thread count gives the same weights."""
    rng = np.random.default_rng(8)
    bounds = [0, 300 * 40, 300 * 40 + 40, 300 * 40 + 40 + 64 * 10, 300 * 40 + 40 + 640 + 10]
    n = bounds[-1]
    rule = ops.UpdateRule()
    rule.configure(ops.OPTIMIZER_KINDS["adam"])
    rule.set_segments(bounds)
    rule.set_constraints([("norm", 300, 0.0, 1.5, 1.0), "non_neg",
                          ("norm", 64, 0.5, 0.8, 0.6), ("norm", 10, 1.0, 1.0, 1.0)])
    rule.set_step(0.05, 0.05)
    p = (3 * rng.standard_normal(n)).astype(dtype)
    g = rng.standard_normal(n).astype(dtype)
    slots = [np.zeros(n, dtype), np.full(n, 0.5, dtype), None]
    p2, slots2 = p.copy(), [s.copy() if s is not None else None for s in slots]
    ops.optimizer_step(rule, p, g, slots, n_threads=n_threads)
    ref.optimizer_step(rule, p2, g, slots2)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(p, p2, rtol=tol, atol=tol)
    cols = p[:bounds[1]].reshape(40, 300)          # column c: unit c's 300 weights
    assert np.linalg.norm(cols, axis=1).max() <= 1.5 * (1 + 1e-6)
    assert (p[bounds[1]:bounds[2]] >= 0).all()
    np.testing.assert_allclose(np.linalg.norm(p[bounds[3]:].reshape(1, 10)), 1.0, rtol=1e-5)
    if n_threads > 1:      # the same weights as one thread, bit for bit
        p1, s1 = (3 * np.random.default_rng(8).standard_normal(n)).astype(dtype), None
        p3 = p1.copy()
        ops.optimizer_step(rule, p1, g, [np.zeros(n, dtype), np.full(n, 0.5, dtype), None],
                           n_threads=1)
        ops.optimizer_step(rule, p3, g, [np.zeros(n, dtype), np.full(n, 0.5, dtype), None],
                           n_threads=n_threads)
        np.testing.assert_array_equal(p1, p3)


@pytest.mark.parametrize("bad", [[("norm", 7, 0.0, 1.0, 1.0), None],
                                 [("norm", 3, 2.0, 1.0, 1.0), None],
                                 [("norm", 3, 0.0, 1.0, 1.5), None],
                                 ["clip", None], [None]])
def test_bad_constraints_raise(bad):
    rule = ops.UpdateRule()
    rule.configure(ops.OPTIMIZER_KINDS["sgd"])
    rule.set_segments([0, 9, 12])
    with pytest.raises(ValueError, match="constraint"):
        rule.set_constraints(bad)


def test_l2_penalty_follows_the_formula():
    """SGD on loss + l2 * sum w^2, three steps written out by hand."""
    rng = np.random.default_rng(6)
    p = rng.standard_normal(9)
    gs = rng.standard_normal((3, 9))
    rule = ops.UpdateRule()
    rule.configure(ops.OPTIMIZER_KINDS["sgd"])
    rule.set_segments([0, 4, 9])
    rule.set_penalties([0.0, 0.1], [0.05, 0.0])
    rule.set_step(0.2)
    want = p.copy()
    for g in gs:
        pen = 0.05 * np.sum(want[:4] ** 2) + 0.1 * np.sum(np.abs(want[4:]))
        step = g + np.concatenate([2 * 0.05 * want[:4], 0.1 * np.sign(want[4:])])
        want = want - 0.2 * step
        assert ops.optimizer_step(rule, p, g) == pytest.approx(pen, rel=1e-14)
    np.testing.assert_allclose(p, want, rtol=1e-14)


@pytest.mark.parametrize("bad", [([0.1], [0.0, 0.0]), ([-0.1, 0.0], [0.0, 0.0]),
                                 ([0.0, float("nan")], [0.0, 0.0]),
                                 ([0.0, 0.0], [float("inf"), 0.0])])
def test_bad_penalties_raise(bad):
    rule = ops.UpdateRule()
    rule.configure(ops.OPTIMIZER_KINDS["sgd"])
    rule.set_segments([0, 4, 9])
    with pytest.raises(ValueError, match="penalt"):
        rule.set_penalties(*bad)


def test_schedule_is_used_per_step():
    sched = cydl.optimizers.schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5)
    store = _Store(np.zeros(3), [0, 3])
    opt = cydl.optimizers.SGD(learning_rate=sched)
    opt.build(store)
    store.grads[...] = 1.0
    for _ in range(3):
        opt.apply(store)
    # rates at steps 0, 1, 2: 0.1, 0.1 * 0.5**0.5, 0.05
    np.testing.assert_allclose(store.params, -(0.1 + 0.1 * 0.5 ** 0.5 + 0.05))


@pytest.mark.parametrize("bad", [{"learning_rate": -1}, {"learning_rate": float("nan")},
                                 {"momentum": 1.5}, {"clipnorm": 0},
                                 {"clipnorm": 1, "clipvalue": 1}])
def test_bad_hyperparameters_raise(bad):
    with pytest.raises(ValueError):
        cydl.optimizers.SGD(**bad)
