"""float32 optimizer steps against Keras 3's own, on the same float32 gradients.

cydl updates a float32 model's Adam, Adamax, Nadam and RMSprop state in float32 (the
vectorized loops of _vec_update.h and the general loop alike), as Keras does: 1 - beta
comes from the Python float, rounded once to float32. So Adam's moments must equal
Keras's bit for bit after several steps; the weights, whose step size Keras computes
in float32 tensor ops and cydl in double, may differ by a few float32 ulps.

One Keras subprocess computes every case (a subprocess per case would take minutes).
"""
import numpy as np
import pytest

import cydl
from cydl._kernels import _optim
from cydl.variables import Variable

from _keras_oracle import run_keras  # tests/ is on sys.path

# Builds the cases from a seed: run here and in the Keras child alike (the payload
# would be too long for a command line), so both get the same float32 arrays.
CASES_CODE = """
def make_cases(optimizers):
    rng = np.random.default_rng(20261206)
    cases = []
    for name, kw in optimizers:
        for _ in range(2):
            # sizes past the vector widths and their remainders; gradients over six
            # orders of magnitude; 1-6 steps
            ws = [rng.standard_normal(int(rng.integers(1, 70))).astype(np.float32),
                  rng.standard_normal((3, int(rng.integers(1, 60)))).astype(np.float32)]
            gs = [[(rng.standard_normal(w.shape) * 10.0 ** rng.integers(-4, 2))
                   .astype(np.float32) for w in ws] for _ in range(int(rng.integers(1, 7)))]
            cases.append({'name': name, 'kw': kw, 'w': ws, 'g': gs})
    return cases
"""

KERAS = CASES_CODE + """
result = []
for case in make_cases(data):
    out = {}
    for dt in ('float32', 'float64'):
        vs = [keras.Variable(w.astype(dt)) for w in case['w']]
        opt = getattr(keras.optimizers, case['name'])(**case['kw'])
        for grads in case['g']:
            opt.apply_gradients(zip([keras.ops.convert_to_tensor(g.astype(dt))
                                     for g in grads], vs))
        out[dt] = [keras.ops.convert_to_numpy(v).tolist() for v in vs]
    result.append(out)
"""

OPTIMIZERS = [("Adam", {}), ("Adam", {"beta_1": 0.8, "beta_2": 0.95, "epsilon": 1e-5}),
              ("Adamax", {}), ("Nadam", {}), ("RMSprop", {}), ("RMSprop", {"rho": 0.8})]

_scope = {"np": np}
exec(CASES_CODE, _scope)
CASES = _scope["make_cases"](OPTIMIZERS)


@pytest.fixture(scope="module")
def keras_results():
    return run_keras(KERAS, [list(o) for o in OPTIMIZERS], float64=False)


@pytest.mark.parametrize("simd", _optim.simd_available())
@pytest.mark.parametrize("k", range(len(CASES)))
def test_float32_steps_match_keras(keras_results, k, simd):
    """cydl's float32 trajectory is as close to Keras's float64 one as Keras's own
    float32 trajectory is: a formula error (1 - beta, the bias correction, where
    epsilon goes) would be far outside that, rounding is inside it."""
    case, want = CASES[k], keras_results[k]
    before = _optim.simd_variant()
    _optim.set_simd(simd)
    try:
        vs = [Variable(w.copy(), f"w{i}") for i, w in enumerate(case["w"])]
        opt = getattr(cydl.optimizers, case["name"])(**case["kw"])
        for grads in case["g"]:
            opt.apply_gradients(zip(grads, vs))
    finally:
        _optim.set_simd(before)
    for v, w0, w32, w64 in zip(vs, case["w"], want["float32"], want["float64"]):
        got = v.numpy()
        assert got.dtype == np.float32
        exact = np.asarray(w64, np.float64)
        keras_err = np.abs(np.asarray(w32, np.float64) - exact)
        # one float32 ulp of the weight on top: both round their result to float32
        ulp = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
        assert np.all(np.abs(got - exact) <= 2 * keras_err + 2 * ulp), case["name"]
        assert not np.array_equal(got, w0)        # it moved
