"""Shared pieces of the PyTorch oracle: the torch import, the hypothesis budget, the
tolerances, and the memory layouts every operand is drawn in.

The oracle is independent of cydl: PyTorch autodiff in float64 on the same logical
values. It exists because a kernel that walks two operands of different memory
orders as flat buffers computes a plausible-looking, wrong gradient that neither the
NumPy reference nor a cydl-vs-cydl comparison notices when both sides share it.

This directory is a package (it has an __init__.py) so that this conftest is
`oracle.conftest`: a second top-level `conftest` module would shadow tests/conftest.py
for the modules that do `from conftest import ...`.
"""
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings, strategies as st

import cydl


def torch_or_skip():
    """PyTorch, or a skip of the calling module: the oracle is a test extra."""
    torch = pytest.importorskip(
        "torch", reason="the PyTorch oracle is a test extra: pip install '.[test]'")
    # one thread: the machine has two cores, and the reference needs no speed
    torch.set_num_threads(1)
    return torch


# The suite must stay well under two minutes on two cores; CYDL_ORACLE_EXAMPLES raises
# the budget for a soak run. In CI the examples are derandomized, so a red build
# reproduces locally with CI=1.
EXAMPLES = int(os.environ.get("CYDL_ORACLE_EXAMPLES", "25"))
settings.register_profile(
    "cydl-oracle", max_examples=EXAMPLES, deadline=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.function_scoped_fixture])
ORACLE = settings.get_profile("cydl-oracle")


def budget(n):
    """Settings with n examples at the default budget, scaled with CYDL_ORACLE_EXAMPLES."""
    return settings(ORACLE, max_examples=max(1, n * EXAMPLES // 25))


# float64: every compared value is a few ops deep on O(1) numbers, so cydl and torch
# agree to ~1e-15; 1e-9 leaves room for different exp/log/erf implementations while a
# layout bug (an O(1) error) cannot hide. float32: single rounding (6e-8) amplified by
# derivatives that stay below ~20 on the drawn domains.
TOL = {np.dtype(np.float64): dict(rtol=1e-9, atol=1e-10),
       np.dtype(np.float32): dict(rtol=2e-4, atol=2e-5)}


def assert_close(actual, expected, dtype, what):
    actual = np.asarray(actual, np.float64)
    expected = np.asarray(expected, np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    np.testing.assert_allclose(actual, expected, err_msg=what, **TOL[np.dtype(dtype)])


@pytest.fixture
def floatx64():
    """float64 layers for the duration of a test, then the previous floatx back."""
    prev = cydl.config.floatx()
    cydl.config.set_floatx("float64")
    yield
    cydl.config.set_floatx(prev)


# ----------------------------------------------------------------- values and layouts
DEFAULT = ((-2.5, -0.1), (0.1, 2.5))    # clear of the kinks at 0 and of hard_sigmoid's at 3


def values(rng, shape, domain=DEFAULT):
    """float64 values spread over the intervals of `domain`. Drawn from a seeded
    generator, not element by element: continuous values never tie (maximum/minimum)
    and never land on a kink, which shrunk hypothesis floats like to do."""
    lo, hi = np.array(domain, np.float64).T
    pick = rng.choice(len(lo), size=shape, p=(hi - lo) / (hi - lo).sum())
    return lo[pick] + (hi - lo)[pick] * rng.random(shape)


def _gap(x):
    """What fills the memory a view skips: NaN, so that reading a gap shows up."""
    return np.nan if x.dtype.kind == "f" else 0


LAYOUTS = ("C", "F", "strided", "transposed", "reversed", "sliced", "broadcast")


def lay_out(x, kind, axis=0):
    """x's values in the memory layout `kind`: a copy in C or Fortran order, or a view
    with a stride of 2, permuted axes, a negative stride, an offset, or (broadcast)
    a stride of 0 along `axis`. Only 'broadcast' changes the values: they repeat the
    first entry along `axis`, so use np.array(result) as the logical value."""
    x = np.asarray(x)
    nd = x.ndim
    if nd == 0 or kind == "C":
        return np.array(x, order="C")      # ascontiguousarray would make 0-d 1-d
    axis %= nd
    if kind == "F":
        return np.asfortranarray(x)
    if kind == "strided":
        shape = list(x.shape)
        shape[axis] *= 2
        buf = np.full(shape, _gap(x), x.dtype)
        idx = [slice(None)] * nd
        idx[axis] = slice(None, None, 2)
        buf[tuple(idx)] = x
        return buf[tuple(idx)]
    if kind == "transposed":
        perm = np.roll(np.arange(nd), axis + 1)[::-1]
        return np.ascontiguousarray(np.transpose(x, perm)).transpose(np.argsort(perm))
    if kind == "reversed":
        return np.flip(np.flip(x, axis).copy(), axis)
    if kind == "sliced":
        buf = np.full(tuple(n + 2 for n in x.shape), _gap(x), x.dtype)
        inner = tuple(slice(1, n + 1) for n in x.shape)
        buf[inner] = x
        return buf[inner]
    if kind == "broadcast" and x.shape[axis]:
        return np.broadcast_to(np.take(x, [0], axis=axis), x.shape)
    return np.array(x, order="C")       # broadcast along an empty axis


layouts = st.tuples(st.sampled_from(LAYOUTS), st.integers(0, 5))
seeds = st.integers(0, 2 ** 32 - 1)


def upstream(x, draw):
    """(value of a Variable, cydl op, torch op): the op turns the Variable into a Tensor
    holding x, laid out as that op leaves it, so the gradient arrives in that layout."""
    nd = x.ndim
    how = draw(st.sampled_from(["scale", "reshape"] + ["transpose", "slice", "reverse"]
                               * (nd > 0)))
    axis = draw(st.integers(0, max(nd - 1, 0)))
    idx = tuple(slice(None, None, -1 if how == "reverse" else 2) if i == axis
                else slice(None) for i in range(nd))
    if how == "scale":
        return x, lambda v: cydl.ops.multiply(v, 1.0), lambda t: t * 1.0
    if how == "reshape":
        return x.reshape(-1), lambda v: cydl.ops.reshape(v, x.shape), \
            lambda t: t.reshape(x.shape)
    if how == "transpose":
        perm = tuple(np.roll(np.arange(nd), axis + 1)[::-1])
        inv = tuple(int(i) for i in np.argsort(perm))
        return np.transpose(x, perm), lambda v: cydl.ops.transpose(v, inv), \
            lambda t: t.permute(inv)
    if how == "reverse":
        return np.flip(x, axis), lambda v: cydl.ops.getitem(v, idx), lambda t: t.flip(axis)
    buf = np.repeat(x, 2, axis=axis)     # x at the even positions, gradient 0 elsewhere
    return buf, lambda v: cydl.ops.getitem(v, idx), lambda t: t[idx]
