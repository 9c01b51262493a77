"""Softmax and the softmax cross-entropy vectorized across rows (cydl/_kernels/_vec_loss.h):
every SIMD variant this CPU runs gives the same bits, and so does every memory layout;
the results match PyTorch's autograd and a float64 NumPy reference; the header's own
exp and log stay within their stated ulp bounds, specials as libm."""
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import cydl
from cydl import _ops as ops
from cydl import layers
from cydl._kernels import _activations, _losses, _optim

VARIANTS = _optim.simd_available()
SETTINGS = settings(max_examples=40, deadline=None, derandomize=True)
KINDS = ["sparse_softmax_ce", "softmax_ce"]


@pytest.fixture
def restore_simd():
    before = _optim.simd_variant(), _activations.simd_variant()
    yield
    _optim.set_simd(before[0])
    _activations.set_simd(before[1])        # and _losses'


def _bits(a):
    a = np.ascontiguousarray(a)
    return a.view(f"u{a.itemsize}")


def _same_bits(got, want, what):
    for a, b in zip(got, want):
        np.testing.assert_array_equal(_bits(a), _bits(b), err_msg=what)


def _layout(a, order):
    """a with the memory order `order`: C, F, or strided (every other column of a wider
    array, rows reversed)."""
    if order == "C":
        return np.ascontiguousarray(a)
    if order == "F":
        return np.asfortranarray(a)
    wide = np.zeros((a.shape[0], 2 * a.shape[1]), a.dtype)
    wide[::-1, ::2] = a
    return wide[::-1, ::2]


def _case(rng, B, C, dtype, kind, scale, ties):
    P = rng.standard_normal((B, C)) * scale
    if ties:        # few distinct values: ties for the max, and exact zeros
        P = np.round(P / scale * 1.5) * scale
    labels = rng.integers(0, C, B)
    y = labels.astype(np.int32) if kind == "sparse_softmax_ce" else \
        rng.dirichlet(np.ones(C), B).astype(dtype) if rng.random() < 0.5 else \
        np.eye(C, dtype=dtype)[labels]
    return P.astype(dtype), y


def _loss(kind, P, y, sw, ls, acc=None):
    acc = acc or ("sparse" if kind == "sparse_softmax_ce" else "categorical")
    stats, G = ops.loss_forward_backward(kind, P, y, sw, acc_mode=acc, label_smoothing=ls,
                                         n_threads=1)
    return [stats, G]


# ------------------------------------------------------------------ (a) bit identity
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", KINDS)
def test_loss_variants_and_layouts_give_the_same_bits(restore_simd, kind, dtype):
    rng = np.random.default_rng(5)
    for B, C, ls, acc in [(1, 1, 0.0, None), (17, 10, 0.0, None), (70, 37, 0.1, None),
                          (33, 2, 0.0, "binary"), (130, 10, 0.2, None)]:
        if acc == "binary" and kind == "sparse_softmax_ce":
            acc = None
        P, y = _case(rng, B, C, dtype, kind, 8.0, B == 33)
        sw = rng.uniform(0, 2, B).astype(dtype)
        _activations.set_simd("default")
        base = _loss(kind, P, y, sw, ls, acc)
        for variant in VARIANTS:
            _activations.set_simd(variant)
            assert _losses.simd_variant() == variant
            for order in ("C", "F", "strided"):
                _same_bits(_loss(kind, _layout(P, order), y, sw, ls, acc), base,
                           f"{kind} B={B} C={C} {variant} {order}")
            # the kernel itself on strided operands (the public entry makes P contiguous)
            _same_bits(_kernel_loss(kind, _layout(P, "strided"), y, sw, ls, acc), base,
                       f"{kind} B={B} C={C} {variant} strided kernel")


def _kernel_loss(kind, P, y, sw, ls, acc):
    """_losses.loss_forward_backward on P as given, the targets and the gradient strided
    as well (the gradient read back in any order compares the same)."""
    acc = acc or ("sparse" if kind == "sparse_softmax_ce" else "categorical")
    sparse = kind == "sparse_softmax_ce"
    G = _layout(np.zeros(P.shape, P.dtype), "strided")
    stats = np.zeros(4)
    _losses.loss_forward_backward(ops.LOSS_KINDS[kind], ops.ACC_MODES[acc], 1.0, 0.5, P,
                                  y if sparse else None, None if sparse else _layout(y, "strided"),
                                  sw, G, 1.0 / P.shape[0], stats, 1, ls)
    return [stats, G]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_variants_and_layouts_give_the_same_bits(restore_simd, dtype):
    rng = np.random.default_rng(6)
    x = (rng.standard_normal((77, 13)) * 20).astype(dtype)
    w = rng.standard_normal((13, 11)).astype(dtype)
    _activations.set_simd("default")
    base = ops.activation_forward(x, "softmax", n_threads=1)
    for variant in VARIANTS:
        _activations.set_simd(variant)
        for order in ("C", "F", "strided"):
            got = ops.activation_forward(_layout(x, order), "softmax", n_threads=1)
            _same_bits([got], [base], f"softmax {variant} {order}")
        # the dense layer's softmax (softmax_rows, the fused step's) is the same routine
        z = np.empty((77, 11), dtype, order="F")
        a = ops.dense_forward(x, w, None, "softmax", z_out=z, n_threads=1)
        _same_bits([a], [ops.activation_forward(z, "softmax", n_threads=1)],
                   f"dense softmax {variant}")


def test_fused_training_is_the_same_in_every_variant(restore_simd):
    """A fused fit (softmax output and sparse cross-entropy, which the plan computes
    from the logits) ends with the same weights, history and predictions in every
    variant."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((200, 12)), rng.integers(0, 7, 200)
    cydl.set_num_threads(1)
    runs = []
    for variant in VARIANTS:
        _optim.set_simd(variant)
        _activations.set_simd(variant)
        cydl.utils.set_random_seed(1)
        model = cydl.Sequential([layers.Input(shape=(12,)), layers.Dense(9, activation="relu"),
                                 layers.Dense(7, activation="softmax")])
        model.compile(loss="sparse_categorical_crossentropy", optimizer="adam",
                      metrics=["accuracy"])
        h = model.fit(x, y, epochs=2, batch_size=33, verbose=0, shuffle=False)
        assert model._runner(train=True).fused
        runs.append([np.array(v) for v in h.history.values()] + model.get_weights() +
                    [model.predict(x, verbose=0)])
    for variant, run in zip(VARIANTS[1:], runs[1:]):
        _same_bits(run, runs[0], f"fused fit {variant}")


def test_losses_follow_cydl_simd_at_import():
    """CYDL_SIMD picks the loss kernels' variant too (a fresh interpreter, run from this
    folder so that an unbuilt source tree cannot shadow the built package)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(cydl.__file__)))
    env = {**os.environ, "CYDL_SIMD": "default",
           "PYTHONPATH": os.pathsep.join([root] + [p for p in [os.environ.get("PYTHONPATH")]
                                                   if p])}
    code = ("from cydl._kernels import _losses, _activations; "
            "print(_losses.simd_variant(), _activations.simd_variant())")
    out = subprocess.run([sys.executable, "-c", code],
                         capture_output=True, text=True, env=env, check=True,
                         cwd=os.path.dirname(os.path.abspath(__file__)))
    assert out.stdout.split() == ["default", "default"]
    assert _losses.simd_variant() == _activations.simd_variant() == _optim.simd_variant()


# ------------------------------------------------------------------ (b) oracles
def _numpy_reference(kind, P, y, sw, ls):
    """float64 loss sum, accuracy hits and gradient of the mean loss, from the formulas."""
    P = P.astype(np.float64)
    B, C = P.shape
    T = np.eye(C)[y] if kind == "sparse_softmax_ce" else y.astype(np.float64)
    hits = (P.argmax(1) == (y if kind == "sparse_softmax_ce" else T.argmax(1))).sum()
    T = T * (1 - ls) + ls / C
    w = np.ones(B) if sw is None else sw.astype(np.float64)
    m = P.max(1, keepdims=True)
    lse = m + np.log(np.exp(P - m).sum(1, keepdims=True))
    loss = (T * (lse - P)).sum(1)
    G = (np.exp(P - lse) * T.sum(1, keepdims=True) - T) * w[:, None] / B
    return (w * loss).sum(), hits, G


def _torch_reference(kind, P, y, sw, ls):
    torch = pytest.importorskip("torch", reason="PyTorch is the autograd oracle")
    p = torch.tensor(P.astype(np.float64), requires_grad=True)
    t = torch.tensor(y.astype(np.int64) if kind == "sparse_softmax_ce" else
                     y.astype(np.float64))
    per = torch.nn.functional.cross_entropy(p, t, reduction="none", label_smoothing=ls)
    w = torch.ones(P.shape[0], dtype=torch.float64) if sw is None else \
        torch.tensor(sw.astype(np.float64))
    total = (w * per).sum()
    (total / P.shape[0]).backward()
    return total.item(), p.grad.numpy()


@SETTINGS
@given(B=st.sampled_from([1, 15, 16, 17, 33, 70]), C=st.sampled_from([1, 2, 10, 37]),
       dtype=st.sampled_from([np.float32, np.float64]), kind=st.sampled_from(KINDS),
       scale=st.sampled_from([0.5, 5.0, 60.0, 3e3]), ties=st.booleans(),
       ls=st.sampled_from([0.0, 0.1, 1.0]), weighted=st.booleans(),
       order=st.sampled_from(["C", "F", "strided"]), seed=st.integers(0, 2**16))
def test_loss_matches_torch_and_float64(B, C, dtype, kind, scale, ties, ls, weighted,
                                        order, seed):
    rng = np.random.default_rng(seed)
    P, y = _case(rng, B, C, dtype, kind, scale, ties)
    sw = rng.uniform(0, 3, B).astype(dtype) if weighted else None
    stats, G = _loss(kind, _layout(P, order), y, sw, ls)
    loss, hits, G64 = _numpy_reference(kind, P, y, sw, ls)
    loss_t, G_t = _torch_reference(kind, P, y, sw, ls)
    eps = np.finfo(dtype).eps
    # one rounding of the logits' size per class and row; the gradient is O(w / B)
    size = 1.0 + np.abs(P.astype(np.float64)).max()
    wmax = 1.0 if sw is None else 1.0 + sw.max()
    for ref in (loss, loss_t):
        np.testing.assert_allclose(stats[0], ref, rtol=16 * eps,
                                   atol=16 * eps * size * C * wmax * B)
    assert stats[1] == hits                     # the first maximal class, as argmax
    assert G.dtype == dtype and G.shape == (B, C)
    for ref in (G64, G_t):
        np.testing.assert_allclose(G, ref, rtol=0, atol=16 * eps * size * wmax / B)


@SETTINGS
@given(B=st.sampled_from([1, 15, 16, 17, 33]), C=st.sampled_from([1, 2, 10, 37]),
       dtype=st.sampled_from([np.float32, np.float64]),
       scale=st.sampled_from([0.5, 5.0, 60.0, 3e3]), order=st.sampled_from(["C", "F", "strided"]),
       seed=st.integers(0, 2**16))
def test_softmax_matches_torch(B, C, dtype, scale, order, seed):
    torch = pytest.importorskip("torch", reason="PyTorch is the oracle")
    x = (np.random.default_rng(seed).standard_normal((B, C)) * scale).astype(dtype)
    got = cydl.ops.softmax(_layout(x, order))
    want = torch.softmax(torch.tensor(x.astype(np.float64)), dim=-1).numpy()
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(got, want, rtol=0,
                               atol=8 * eps * (1 + np.abs(x.astype(np.float64)).max()))
    np.testing.assert_allclose(got.sum(1), 1.0, rtol=0, atol=C * eps)


def test_nan_and_inf_logits_propagate():
    P = np.array([[0.0, np.nan, 1.0], [np.inf, 0.0, 0.0], [1.0, 2.0, 3.0]], np.float32)
    stats, G = _loss("sparse_softmax_ce", P, np.array([0, 1, 2], np.int32), None, 0.0)
    assert np.isnan(stats[0]) and np.isnan(G[:2]).any(axis=1).all()
    assert np.isfinite(G[2]).all()
    a = ops.activation_forward(P, "softmax")
    assert np.isnan(a[:2]).all() and np.isfinite(a[2]).all()


# ------------------------------------------------------------------ (c) exp and log
# The bounds _vec_loss_math.h states, in ulps of the exact result (the float32 results
# against float64 NumPy, the float64 ones against long double).
BOUND = {(np.float32, 0): 1.0, (np.float32, 1): 1.0, (np.float64, 0): 2.0,
         (np.float64, 1): 1.0}


def _vec(x, which, variant):
    _activations.set_simd(variant)
    x = np.ascontiguousarray(x)
    y = np.empty_like(x)
    _losses._vec_explog(x, y, which)
    return y


def _ulps(y, x, which):
    """|y - f(x)| in units of the last place of f(x) in y's format, f computed in a
    wider type; NaN where f(x) is not finite."""
    wide = np.float64 if y.dtype == np.float32 else np.longdouble
    xw = x.astype(wide)
    with np.errstate(all="ignore"):
        ref = np.exp(xw) if which == 0 else np.log(xw)
    fin = np.finfo(y.dtype)
    _, e = np.frexp(np.where(np.isfinite(ref) & (ref != 0), ref, 1))
    ulp = np.ldexp(np.ones_like(ref), np.maximum(e - fin.nmant - 1, fin.minexp - fin.nmant))
    ok = np.isfinite(ref) & (np.abs(ref) <= fin.max)
    with np.errstate(invalid="ignore"):
        err = np.abs(y.astype(wide) - ref) / ulp
    return np.where(ok, err, np.nan).astype(np.float64), ref


def _check_bound(x, which, variant="default"):
    y = _vec(x, which, variant)
    err, ref = _ulps(y, x, which)
    bound = BOUND[(x.dtype.type, which)]
    worst = np.nanargmax(np.where(np.isnan(err), -1, err)) if x.size else 0
    assert np.nanmax(np.append(err, 0)) <= bound, \
        f"{['exp', 'log'][which]}({x[worst]!r}) = {y[worst]!r}: {err[worst]:.3f} ulp"
    # where the exact result is out of range or special, the rounded one exactly
    out = ~np.isfinite(err)
    with np.errstate(over="ignore"):
        want = ref[out].astype(x.dtype)
    np.testing.assert_array_equal(y[out], want)
    return y


def _float32_sample():
    """Every 251st float32 of the exp domain that matters and every 4099th positive
    one for log, plus the edges."""
    bits = np.arange(0, 2**32, 251, dtype=np.uint64).astype(np.uint32)
    x = bits.view(np.float32)
    return x[np.isfinite(x) & (np.abs(x) < 110)], x[np.isfinite(x) & (x > 0)][::16]


def test_exp_log_float32_within_bound(restore_simd):
    xe, xl = _float32_sample()
    _check_bound(xe, 0)
    _check_bound(xl, 1)
    # the same bits in every variant
    for variant in VARIANTS[1:]:
        _same_bits([_vec(xe[:20000], 0, variant), _vec(xl[:20000], 1, variant)],
                   [_vec(xe[:20000], 0, "default"), _vec(xl[:20000], 1, "default")],
                   f"exp/log {variant}")


@pytest.mark.skipif(np.finfo(np.longdouble).nmant < 63,
                    reason="needs an extended long double as the float64 oracle")
def test_exp_log_float64_within_bound(restore_simd):
    rng = np.random.default_rng(11)
    _check_bound(np.concatenate([rng.uniform(-750, 750, 200000),
                                 rng.uniform(-1, 1, 50000)]), 0)
    bits = rng.integers(0, 0x7FF0000000000000, 200000, dtype=np.uint64)
    _check_bound(np.concatenate([bits.view(np.float64), rng.uniform(0.5, 2, 50000)]), 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exp_log_edges(restore_simd, dtype):
    f = np.finfo(dtype)
    big = np.log(f.max)
    tiny_log = np.log(f.smallest_subnormal)
    edges = np.array([0.0, -0.0, 1.0, -1.0, f.smallest_subnormal, f.smallest_normal, f.max,
                      big, np.nextafter(big, 0), np.nextafter(big, np.inf), tiny_log,
                      np.log(f.smallest_normal), tiny_log - 1, -88.0, 89.0, -87.5, 88.5,
                      -745.0, 709.0, 710.0, -746.0], dtype)
    with np.errstate(over="ignore"):
        edges = np.concatenate([edges, np.linspace(-104, 89, 4001).astype(dtype)])
    for variant in VARIANTS:
        e = _check_bound(edges, 0, variant)
        l = _check_bound(np.abs(edges), 1, variant)
        _same_bits([e, l], [_vec(edges, 0, "default"), _vec(np.abs(edges), 1, "default")],
                   variant)
        # exp(+-0) = 1, exp(-inf) = 0, exp(inf) = inf; log(+-0) = -inf, log(x < 0) = NaN
        specials = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, -1.0, -f.smallest_subnormal],
                            dtype)
        with np.errstate(all="ignore"):
            np.testing.assert_array_equal(_vec(specials[:5], 0, variant), np.exp(specials[:5]))
            np.testing.assert_array_equal(_vec(specials, 1, variant), np.log(specials))


@SETTINGS
@given(st.lists(st.floats(width=32, allow_nan=True, allow_infinity=True), min_size=1,
                max_size=40),
       st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=40))
def test_exp_log_drawn_values(x32, x64):
    for x in (np.array(x32, np.float32), np.array(x64, np.float64)):
        if x.dtype == np.float64 and np.finfo(np.longdouble).nmant < 63:
            continue
        _check_bound(x, 0)
        _check_bound(x, 1)
        with np.errstate(all="ignore"):
            want = np.log(x)
        np.testing.assert_array_equal(np.isnan(_vec(x, 1, _optim.simd_variant())),
                                      np.isnan(want))
