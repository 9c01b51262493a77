"""Runtime-dispatched SIMD variants (cydl/_kernels/_vec_dispatch.h): every variant
this CPU runs must give bit-identical parameters, slots and activations, and match
the NumPy reference formulas (cydl._ops._reference) to rounding."""
import os
import subprocess
import sys

import numpy as np
import pytest

from cydl import _ops as ops
from cydl._kernels import _activations, _optim
from cydl._ops import _reference as ref

VARIANTS = _optim.simd_available()
SGD, ADAM = ops.OPTIMIZER_KINDS["sgd"], ops.OPTIMIZER_KINDS["adam"]
# (kind, configure() keywords, l1, l2): each fast loop of _vec_update.h, plus one
# configuration of the general scalar loop as a control
CASES = {
    "sgd": (SGD, {}, 0.0, 0.0),
    "sgd_l2": (SGD, {}, 0.0, 0.03),
    "sgd_l1l2": (SGD, {}, 0.01, 0.03),
    "sgd_momentum": (SGD, {"momentum": 0.9}, 0.0, 0.0),
    "sgd_nesterov": (SGD, {"momentum": 0.9, "nesterov": True}, 0.0, 0.0),
    "adam": (ADAM, {}, 0.0, 0.0),
    "adam_l1l2": (ADAM, {}, 0.01, 0.03),
    "adam_amsgrad_general": (ADAM, {"amsgrad": True, "clipvalue": 0.5}, 0.0, 0.0),
}


@pytest.fixture
def restore_simd():
    before = _optim.simd_variant(), _activations.simd_variant()
    yield
    _optim.set_simd(before[0])
    _activations.set_simd(before[1])


def _same_bits(got, base, what):
    for name, a, b in zip(("first", "second", "third", "fourth"), got, base):
        # compare the bits: NaN-safe and strict about -0.0
        np.testing.assert_array_equal(a.view(f"u{a.itemsize}"), b.view(f"u{b.itemsize}"),
                                      err_msg=f"{what}: {name} output differs")


def _run(case, dtype, variant, reference=False, n=1037, steps=4):
    """`steps` updates of an odd-length buffer that starts 1 element past an aligned
    address (a tail and an unaligned head in every vector width)."""
    kind, hp, l1, l2 = CASES[case]
    rng = np.random.default_rng(7)
    bounds = [0, 3, 520, n]                 # odd segment lengths: penalties split spans
    rule = ops.UpdateRule()
    rule.configure(kind, **hp)
    rule.set_segments(bounds)
    rule.set_penalties([l1, 0.0, l1], [l2, 0.0, l2])

    def buf(values):
        b = np.empty(n + 1, dtype)[1:]
        b[...] = values
        return b

    p = buf(rng.standard_normal(n))
    p[::97] = 0.0                           # sign(0) = 0 in the l1 term
    slots = [buf(rng.uniform(-0.1, 0.1, n)), buf(rng.uniform(0, 0.1, n)),
             buf(rng.uniform(0, 0.1, n))]
    if not reference:
        _optim.set_simd(variant)
    for t in range(1, steps + 1):
        g = buf(rng.standard_normal(n))
        # Adam's c1 = lr * sqrt(1 - b2^t) / (1 - b1^t), as the Python optimizer sets it
        rule.set_step(0.01, 0.01 * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t))
        if reference:
            ref.optimizer_step(rule, p, g, slots)
        else:
            ops.optimizer_step(rule, p, g, slots, n_threads=1)
    return [p] + slots


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", sorted(CASES))
def test_variants_are_bit_identical_and_match_reference(restore_simd, case, dtype):
    base = _run(case, dtype, "default")
    for variant in VARIANTS[1:]:
        _same_bits(_run(case, dtype, variant), base, f"{variant} != default (params, slots)")
    want = _run(case, dtype, None, reference=True)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for a, b in zip(base, want):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def _activation_pass(act, dtype, variant, reference=False):
    """Dense forward with a bias (Z kept), activation forward of an unaligned Z
    without one, and the backward pass: 37 rows (a tail in every width) x 13."""
    o = ref if reference else ops
    if not reference:
        _activations.set_simd(variant)
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((37, 9)).astype(dtype), rng.standard_normal((9, 13)).astype(dtype)
    b = rng.standard_normal(13).astype(dtype)
    z = np.empty((37, 13), dtype, order="F")     # the kernels' column-major layout
    a1 = o.dense_forward(x, w, b, act, z_out=z)
    z2 = np.empty(37 * 13 + 1, dtype)[1:].reshape(37, 13)
    z2[...] = z
    a2 = o.activation_forward(z2, act)
    da = np.empty(37 * 13 + 1, dtype)[1:].reshape(37, 13)
    da[...] = rng.standard_normal((37, 13))
    dz = o.activation_backward(da, a2, z2, act)
    return [a1, z, a2, dz]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("act", ["relu", "linear", "sigmoid", "tanh"])
def test_activation_variants_are_bit_identical_and_match_reference(restore_simd, act,
                                                                    dtype):
    base = _activation_pass(act, dtype, "default")
    for variant in VARIANTS[1:]:
        _same_bits(_activation_pass(act, dtype, variant), base, f"{act} {variant}")
    want = _activation_pass(act, dtype, None, reference=True)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for a, b in zip(base, want):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def test_activations_follow_the_optimizers_variant():
    assert _activations.simd_variant() == _optim.simd_variant()


def _child(code, env):
    """Run code in a fresh Python that imports the cydl these tests import (installed,
    or built in place), from this folder: from the repository root an unbuilt
    source tree would shadow it."""
    import cydl
    root = os.path.dirname(os.path.dirname(os.path.abspath(cydl.__file__)))
    env = dict(env, PYTHONPATH=os.pathsep.join([root] + [p for p in [env.get("PYTHONPATH")]
                                                         if p]))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, check=True, cwd=os.path.dirname(os.path.abspath(__file__)))


def test_default_is_the_widest_available():
    assert VARIANTS[0] == "default"
    out = _child("from cydl._kernels import _optim; print(_optim.simd_variant())",
                 {k: v for k, v in os.environ.items() if k != "CYDL_SIMD"})
    assert out.stdout.strip() == VARIANTS[-1]


def test_env_var_forces_a_variant_and_a_bad_one_falls_back():
    code = ("import warnings; warnings.simplefilter('always')\n"
            "from cydl._kernels import _activations, _optim\n"
            "print(_optim.simd_variant(), _activations.simd_variant())")
    out = _child(code, {**os.environ, "CYDL_SIMD": "default"})
    assert out.stdout.split() == ["default", "default"]
    out = _child(code, {**os.environ, "CYDL_SIMD": "sse9"})
    assert out.stdout.split() == [VARIANTS[-1]] * 2
    assert "CYDL_SIMD ignored" in out.stderr and "sse9" in out.stderr


def test_set_simd_rejects_unknown_and_unsupported(restore_simd):
    with pytest.raises(ValueError, match="Unknown SIMD variant 'neon'"):
        _optim.set_simd("neon")
    missing = [v for v in _optim.SIMD_VARIANTS if v not in VARIANTS]
    for v in missing:
        with pytest.raises(ValueError, match="not supported by this CPU"):
            _optim.set_simd(v)
    assert _optim.set_simd("auto") == VARIANTS[-1]


def test_show_config_names_the_variant(capsys):
    import cydl
    assert cydl._info.config_dict()["simd"] == _optim.simd_variant()
    cydl.show_config()
    assert f"SIMD:      {_optim.simd_variant()} (runtime dispatch" in capsys.readouterr().out
