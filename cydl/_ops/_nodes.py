"""Dispatchers of the normalization, dropout and PReLU kernels.

Same rules as the rest of cydl._ops: validate and convert while holding the GIL,
allocate, then call the kernel; each function has a NumPy twin of the same name
and signature in cydl._ops._reference.

Layout: a 2-D input is used in place whatever its strides (the dense layer's
column-major outputs are the hot case); N-D inputs are seen as
(-1, features) row-major matrices. New outputs take the input's order, so an N-D
result is a free reshape of the kernel's matrix.
"""
import numpy as np

from cydl import _config
from cydl._kernels import _dropout, _norm, _prelu

__all__ = ["batchnorm_forward", "batchnorm_backward", "dropout_forward", "dropout_backward",
           "dropout_coefficients", "dropout_call_key", "prelu_forward", "prelu_backward",
           "ALPHA_DROPOUT_P"]

# SELU's negative saturation value, -scale * alpha: where AlphaDropout sends dropped units
ALPHA_DROPOUT_P = -1.7580993408473766
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _threads(n_threads):
    from cydl._ops import resolve_threads
    return resolve_threads(n_threads)


def _float(x, name, dtype=None):
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a numeric array. Received dtype={x.dtype}")
    if dtype is None:
        dtype = x.dtype if x.dtype in _FLOATS else np.dtype(_config.floatx())
    return x.astype(dtype, copy=False)


def _matrix(x, name, cols=None):
    """x as a 2-D matrix the kernels read in place: 2-D as it is, N-D as (-1, last)
    (or (-1, cols)) row-major, a scalar or vector as one row."""
    if x.ndim == 2 and (cols is None or x.shape[1] == cols):
        return x
    if cols is None:
        cols = x.shape[-1] if x.ndim >= 1 else 1
    if cols == 0 or x.size % cols:
        raise ValueError(f"{name} of shape {x.shape} cannot be seen as rows of {cols}")
    return np.ascontiguousarray(x).reshape(-1, cols)


def _empty_like(m):
    """An empty matrix in m's order: column-major stays column-major."""
    order = "F" if m.flags.f_contiguous and not m.flags.c_contiguous else "C"
    return np.empty(m.shape, m.dtype, order=order)


def _vector(v, name, n, dtype):
    if v is None:
        return None
    v = np.ascontiguousarray(_float(v, name, dtype)).reshape(-1)
    if v.shape != (n,):
        raise ValueError(f"{name} must have {n} entries (one per feature). "
                         f"Received shape={np.shape(v)}")
    return v


def _out_vector(out, name, n, dtype):
    if out is None:
        return np.zeros(n, dtype)
    if not isinstance(out, np.ndarray) or out.dtype != dtype or out.size != n:
        raise ValueError(f"{name} must be a {dtype} array of {n} entries. "
                         f"Received {getattr(out, 'shape', type(out))}")
    return out


def _accumulate_into(out, acc):
    """out += acc, through a contiguous 1-D view when there is one (no temporary)."""
    if out is acc:
        return out
    out += acc.reshape(out.shape)
    return out


# ------------------------------------------------------------------ batch norm
def batchnorm_forward(X, gamma=None, beta=None, mean=None, variance=None, epsilon=1e-3, *,
                      training=True, n_threads=None):
    """Batch normalization of X over its rows, features on the last axis.

    With training=True the per-feature batch mean and biased variance are computed
    (mean and variance must then be None); otherwise the given statistics (the
    moving ones) are used. Returns (Y, mean, variance), Y of X's shape.
    gamma and beta may be None (scale=False, center=False).
    """
    X = _float(X, "X")
    if X.ndim < 1:
        raise ValueError(f"X must have a feature axis. Received shape={X.shape}")
    dtype = X.dtype
    X2 = _matrix(X, "X")
    rows, cols = X2.shape
    epsilon = float(epsilon)
    if not epsilon > 0:
        raise ValueError(f"epsilon must be positive. Received: epsilon={epsilon}")
    gamma = _vector(gamma, "gamma", cols, dtype)
    beta = _vector(beta, "beta", cols, dtype)
    if training:
        if mean is not None or variance is not None:
            raise ValueError("training=True computes the batch statistics: pass "
                             "mean=None and variance=None")
        if rows == 0:
            raise ValueError("batch statistics need at least one sample. "
                             f"Received X of shape {X.shape}")
        mean = np.empty(cols, dtype)
        variance = np.empty(cols, dtype)
    else:
        if mean is None or variance is None:
            raise ValueError("training=False needs the moving mean and variance")
        mean = _vector(mean, "mean", cols, dtype)
        variance = _vector(variance, "variance", cols, dtype)
        if np.any(variance + epsilon <= 0):
            raise ValueError("variance + epsilon must be positive")
    Y2 = _empty_like(X2)
    _norm.batchnorm_forward(X2, gamma, beta, mean, variance, Y2, epsilon, bool(training),
                            _threads(n_threads))
    return Y2.reshape(X.shape), mean, variance


def batchnorm_backward(dY, X, mean, variance, gamma=None, epsilon=1e-3, *, training=True,
                       dgamma_out=None, dbeta_out=None, need_dX=True, need_dgamma=True,
                       need_dbeta=True, n_threads=None):
    """Gradients of batchnorm_forward: returns (dX, dgamma, dbeta).

    mean and variance are those the forward used (its return values). With
    training=True the gradient flows through the batch statistics too. dgamma and
    dbeta are added into dgamma_out and dbeta_out when given (a weight's gradient
    buffer), else into new zeros; what is not needed comes back as None.
    """
    X = _float(X, "X")
    dtype = X.dtype
    dY = _float(dY, "dY", dtype)
    if dY.shape != X.shape:
        raise ValueError(f"dY {dY.shape} and X {X.shape} differ in shape")
    X2 = _matrix(X, "X")
    G2 = _matrix(dY, "dY")
    rows, cols = X2.shape
    mean = _vector(mean, "mean", cols, dtype)
    variance = _vector(variance, "variance", cols, dtype)
    if mean is None or variance is None:
        raise ValueError("batchnorm_backward needs the forward's mean and variance")
    gamma = _vector(gamma, "gamma", cols, dtype)
    dgamma = dbeta = None
    if need_dgamma:
        dgamma = _out_vector(dgamma_out, "dgamma_out", cols, dtype)
    if need_dbeta:
        dbeta = _out_vector(dbeta_out, "dbeta_out", cols, dtype)
    # the kernel adds into contiguous vectors; a weight's buffer may be another view
    kg = dgamma if dgamma is None or dgamma.flags.c_contiguous and dgamma.ndim == 1 \
        else np.zeros(cols, dtype)
    kb = dbeta if dbeta is None or dbeta.flags.c_contiguous and dbeta.ndim == 1 \
        else np.zeros(cols, dtype)
    dX2 = _empty_like(X2) if need_dX else None
    _norm.batchnorm_backward(G2, X2, mean, variance, gamma, dX2, kg, kb, float(epsilon),
                             bool(training), _threads(n_threads))
    if dgamma is not None:
        _accumulate_into(dgamma, kg)
    if dbeta is not None:
        _accumulate_into(dbeta, kb)
    return (None if dX2 is None else dX2.reshape(X.shape)), dgamma, dbeta


# ------------------------------------------------------------------ dropout
def dropout_coefficients(rate, alpha=False):
    """(a, b, c): kept units become a x + b, dropped ones c.

    Dropout: a = 1 / (1 - rate), b = c = 0 (inverted dropout). AlphaDropout keeps
    SELU's mean and variance: dropped units go to ALPHA_DROPOUT_P, then the affine
    map a, b restores the moments (Keras' formulas).
    """
    rate = float(rate)
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate must be in [0, 1]. Received: rate={rate}")
    if not alpha:
        return (1.0 / (1.0 - rate) if rate < 1 else 0.0), 0.0, 0.0
    if rate >= 1:
        raise ValueError("AlphaDropout needs rate < 1. Received: rate=1")
    p = ALPHA_DROPOUT_P
    a = ((1.0 - rate) * (1.0 + rate * p * p)) ** -0.5
    b = -a * p * rate
    return a, b, a * p + b


def dropout_call_key(seed, step):
    """The 64-bit stream key of training call `step` of a dropout seeded with `seed`."""
    for v, name in ((seed, "seed"), (step, "step")):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ValueError(f"{name} must be a non-negative int. Received: {name}={v!r}")
    return int(_dropout.call_key(int(seed), int(step)))


def _noise_shape(noise_shape, shape):
    if noise_shape is None:
        return tuple(shape)
    ns = tuple(shape[i] if n is None else int(n) for i, n in enumerate(noise_shape))
    if len(ns) != len(shape) or any(n not in (1, s) for n, s in zip(ns, shape)):
        raise ValueError(f"noise_shape {tuple(noise_shape)} does not broadcast to the input "
                         f"shape {tuple(shape)}")
    return ns


def dropout_forward(X, rate, seed=0, step=0, noise_shape=None, *, alpha=False, mask=None,
                    n_threads=None):
    """Dropout (alpha=False) or AlphaDropout (alpha=True) of X: returns (Y, mask).

    The mask (uint8, X's shape, 1 = kept; a broadcast view when noise_shape repeats
    it) is a function of (seed, step) and of each element's index only, so the same
    call gives the same mask on any thread count. Pass `mask` to replay a call.
    """
    X = _float(X, "X")
    a, b, c = dropout_coefficients(rate, alpha)
    X2 = _matrix(X, "X")
    Y2 = _empty_like(X2)
    threads = _threads(n_threads)
    if mask is None:
        key = dropout_call_key(seed, step)
        thr = int(_dropout.keep_threshold(1.0 - float(rate)))
        ns = _noise_shape(noise_shape, X.shape)
        if ns == tuple(X.shape):
            M2 = np.empty(X2.shape, np.uint8, order="F" if Y2.flags.f_contiguous
                          and not Y2.flags.c_contiguous else "C")
            _dropout.dropout_forward(X2, M2, Y2, key, thr, a, b, c, threads)
            return Y2.reshape(X.shape), M2.reshape(X.shape)
        small = np.empty(int(np.prod(ns)), np.uint8)
        _dropout.dropout_mask(small, key, thr, threads)
        mask = np.broadcast_to(small.reshape(ns), X.shape)
    else:
        mask = np.asarray(mask)
        if mask.shape != X.shape:
            raise ValueError(f"mask {mask.shape} and X {X.shape} differ in shape")
        mask = mask.astype(np.uint8, copy=False)
    _dropout.dropout_apply(X2, _mask_matrix(mask, X2), Y2, a, b, c, threads)
    return Y2.reshape(X.shape), mask


def _mask_matrix(mask, X2):
    if mask.ndim == 2:
        return mask
    # a broadcast mask has zero strides; reshaping it may copy, which is fine (uint8)
    return mask.reshape(X2.shape)


def dropout_backward(dY, mask, rate, *, alpha=False, n_threads=None):
    """dX = a dY where the mask kept the unit, 0 elsewhere (a from dropout_coefficients)."""
    dY = _float(dY, "dY")
    mask = np.asarray(mask)
    if mask.shape != dY.shape:
        raise ValueError(f"mask {mask.shape} and dY {dY.shape} differ in shape")
    a = dropout_coefficients(rate, alpha)[0]
    G2 = _matrix(dY, "dY")
    dX2 = _empty_like(G2)
    _dropout.dropout_apply(G2, _mask_matrix(mask.astype(np.uint8, copy=False), G2), dX2,
                           a, 0.0, 0.0, _threads(n_threads))
    return dX2.reshape(dY.shape)


# ------------------------------------------------------------------ PReLU
def _prelu_operands(X, alpha):
    X = _float(X, "X")
    alpha = _float(alpha, "alpha", X.dtype)
    if alpha.ndim > X.ndim or X.shape[X.ndim - alpha.ndim:] != alpha.shape:
        raise ValueError(f"alpha of shape {alpha.shape} must match the trailing axes of X "
                         f"(shape {X.shape})")
    cols = max(alpha.size, 1)
    flat = np.ascontiguousarray(alpha).reshape(-1)
    return X, _matrix(X, "X", cols) if X.size else X.reshape(-1, cols), flat


def prelu_forward(X, alpha, n_threads=None):
    """Y = X where X > 0, alpha X elsewhere; alpha has the shape of X's trailing axes
    (one slope per unit) and is broadcast over the leading ones."""
    X, X2, a = _prelu_operands(X, alpha)
    Y2 = _empty_like(X2)
    _prelu.prelu_forward(X2, a, Y2, _threads(n_threads))
    return Y2.reshape(X.shape)


def prelu_backward(dY, X, alpha, *, dalpha_out=None, need_dX=True, need_dalpha=True,
                   n_threads=None):
    """Gradients of prelu_forward: returns (dX, dalpha). dalpha (sum over the leading
    axes of X dY where X < 0) is added into dalpha_out when given, else into zeros."""
    X, X2, a = _prelu_operands(X, alpha)
    alpha_shape = np.shape(alpha)
    dY = _float(dY, "dY", X.dtype)
    if dY.shape != X.shape:
        raise ValueError(f"dY {dY.shape} and X {X.shape} differ in shape")
    G2 = _matrix(dY, "dY", X2.shape[1]) if dY.size else dY.reshape(X2.shape)
    dalpha = kd = None
    if need_dalpha:
        if dalpha_out is None:
            dalpha = np.zeros(alpha_shape, X.dtype)
        elif not isinstance(dalpha_out, np.ndarray) or dalpha_out.shape != alpha_shape \
                or dalpha_out.dtype != X.dtype:
            raise ValueError(f"dalpha_out must be a {X.dtype} array of shape {alpha_shape}")
        else:
            dalpha = dalpha_out
        kd = dalpha.reshape(-1) if dalpha.flags.c_contiguous else np.zeros(a.size, X.dtype)
    dX2 = _empty_like(X2) if need_dX else None
    _prelu.prelu_backward(G2, X2, a, dX2, kd, _threads(n_threads))
    if kd is not None and not np.shares_memory(kd, dalpha):
        dalpha += kd.reshape(alpha_shape)
    return (None if dX2 is None else dX2.reshape(X.shape)), dalpha
