"""Pure-NumPy twins of every function in cydl._ops: same names, same arguments.

This module is the specification: the compiled kernels must agree with it (the
tests check that over dtypes, thread counts and odd shapes). It is also a
fallback that needs nothing compiled. n_threads is accepted and ignored.
"""
import numpy as np
from scipy.special import erf

from cydl._ops import DEFAULT_ALPHA, OPTIMIZER_KINDS

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
EPS = 1e-7


def _alpha(activation, alpha):
    return float(DEFAULT_ALPHA.get(activation, 0.0) if alpha is None else alpha)


def _sigmoid(z):
    return np.where(z >= 0, 1 / (1 + np.exp(-np.abs(z))), np.exp(-np.abs(z)) / (1 + np.exp(-np.abs(z))))


def _softplus(z):
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def act(name, z, alpha=None):
    """act(z) for every activation cydl knows."""
    a = _alpha(name, alpha)
    with np.errstate(over="ignore", invalid="ignore"):
        if name == "linear":
            return z.copy()
        if name == "relu":
            return np.maximum(z, 0)
        if name == "sigmoid":
            return _sigmoid(z)
        if name == "tanh":
            return np.tanh(z)
        if name == "softmax":
            return _softmax(z)
        if name == "elu":
            return np.where(z > 0, z, a * np.expm1(np.minimum(z, 0)))
        if name == "selu":
            return SELU_SCALE * np.where(z > 0, z, SELU_ALPHA * np.expm1(np.minimum(z, 0)))
        if name == "leaky_relu":
            return np.where(z > 0, z, a * z)
        if name == "gelu":
            return 0.5 * z * (1 + erf(z / np.sqrt(2)))
        if name == "gelu_tanh":
            return 0.5 * z * (1 + np.tanh(np.sqrt(2 / np.pi) * (z + 0.044715 * z ** 3)))
        if name == "swish":
            return z * _sigmoid(z)
        if name == "mish":
            return z * np.tanh(_softplus(z))
        if name == "softplus":
            return _softplus(z)
        if name == "softsign":
            return z / (1 + np.abs(z))
        if name == "exponential":
            return np.exp(z)
        if name == "hard_sigmoid":
            return np.clip(z / 6 + 0.5, 0, 1)
        if name == "relu6":
            return np.clip(z, 0, 6)
    raise ValueError(f"Unknown activation: {name!r}")


def act_grad(name, z, alpha=None):
    """d act(z) / dz, elementwise (not softmax)."""
    a = _alpha(name, alpha)
    if name == "linear":
        return np.ones_like(z)
    if name == "relu":
        return (z > 0).astype(z.dtype)
    if name == "sigmoid":
        s = _sigmoid(z)
        return s * (1 - s)
    if name == "tanh":
        return 1 - np.tanh(z) ** 2
    if name == "elu":
        return np.where(z > 0, 1, a * np.exp(np.minimum(z, 0)))
    if name == "selu":
        return SELU_SCALE * np.where(z > 0, 1, SELU_ALPHA * np.exp(np.minimum(z, 0)))
    if name == "leaky_relu":
        return np.where(z > 0, 1, a).astype(z.dtype)
    if name == "gelu":
        return 0.5 * (1 + erf(z / np.sqrt(2))) + z * np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)
    if name == "gelu_tanh":
        t = np.tanh(np.sqrt(2 / np.pi) * (z + 0.044715 * z ** 3))
        return 0.5 * (1 + t) + 0.5 * z * (1 - t * t) * np.sqrt(2 / np.pi) * (1 + 3 * 0.044715 * z * z)
    if name == "swish":
        s = _sigmoid(z)
        return s * (1 + z * (1 - s))
    if name == "mish":
        t = np.tanh(_softplus(z))
        return t + z * (1 - t * t) * _sigmoid(z)
    if name == "softplus":
        return _sigmoid(z)
    if name == "softsign":
        return 1 / (1 + np.abs(z)) ** 2
    if name == "exponential":
        return np.exp(z)
    if name == "hard_sigmoid":
        return np.where((z > -3) & (z < 3), 1 / 6, 0).astype(z.dtype)
    if name == "relu6":
        return ((z > 0) & (z < 6)).astype(z.dtype)
    raise ValueError(f"Unknown activation: {name!r}")


def activation_needs_z(activation, alpha=None):
    a = _alpha(activation, alpha)
    return (activation in ("gelu", "gelu_tanh", "swish", "mish")
            or (activation == "elu" and a <= 0) or (activation == "leaky_relu" and a < 0))


def _softmax_backward(dA, A):
    return A * (dA - (dA * A).sum(axis=-1, keepdims=True))


def dense_forward(X, W, b=None, activation="linear", alpha=None, *, out=None, z_out=None,
                  n_threads=None):
    X, W = np.asarray(X), np.asarray(W)
    Z = (X.astype(W.dtype) @ W).astype(W.dtype)
    if b is not None:
        Z = Z + np.asarray(b, W.dtype)
    A = act(activation, Z, alpha).astype(W.dtype)
    if z_out is not None:
        z_out[...] = Z
    if out is not None:
        out[...] = A
        return out
    return A


def dense_backward(dA, X, W, A, Z=None, activation="linear", alpha=None, *, dW_out=None,
                   db_out=None, dX_out=None, need_dX=True, need_dW=True, use_bias=True,
                   accumulate=False, n_threads=None):
    X, W, dA, A = (np.asarray(v, np.asarray(W).dtype) for v in (X, W, dA, A))
    if activation == "softmax":
        dZ = _softmax_backward(dA, A)
    elif activation_needs_z(activation, alpha):
        dZ = dA * act_grad(activation, np.asarray(Z), alpha)
    else:
        dZ = dA * _grad_from_output(activation, A, alpha)
    dW = X.T @ dZ
    db = dZ.sum(axis=0) if use_bias else None
    if not need_dW:
        dW = db = dW_out = db_out = None
    elif accumulate:
        dW = dW + dW_out
        if use_bias:
            db = db + db_out
    if dW_out is not None:
        dW_out[...] = dW
        dW = dW_out
    if db is not None and db_out is not None:
        db_out[...] = db
        db = db_out
    dX = None
    if need_dX:
        dX = dZ @ W.T
        if dX_out is not None:
            dX_out[...] = dX
            dX = dX_out
    return dW, db, dX


def _grad_from_output(name, a, alpha=None):
    """act'(z) written in terms of a = act(z), as the kernels compute it."""
    al = _alpha(name, alpha)
    if name == "linear":
        return np.ones_like(a)
    if name == "relu":
        return (a > 0).astype(a.dtype)
    if name == "sigmoid":
        return a * (1 - a)
    if name == "tanh":
        return 1 - a * a
    if name == "elu":
        return np.where(a > 0, 1, a + al)
    if name == "selu":
        return np.where(a > 0, SELU_SCALE, a + SELU_SCALE * SELU_ALPHA)
    if name == "leaky_relu":
        return np.where(a > 0, 1, al).astype(a.dtype)
    if name == "softplus":
        return -np.expm1(-a)
    if name == "softsign":
        return (1 - np.abs(a)) ** 2
    if name == "exponential":
        return a
    if name == "hard_sigmoid":
        return np.where((a > 0) & (a < 1), 1 / 6, 0).astype(a.dtype)
    if name == "relu6":
        return ((a > 0) & (a < 6)).astype(a.dtype)
    raise ValueError(f"{name!r} needs Z for its gradient")


def activation_forward(Z, activation="relu", alpha=None, *, out=None, n_threads=None):
    Z = np.asarray(Z)
    A = act(activation, Z, alpha).astype(Z.dtype)
    if out is not None:
        out[...] = A.reshape(out.shape)
        return out
    return A


def activation_backward(dA, A, Z=None, activation="relu", alpha=None, *, out=None,
                        n_threads=None):
    dA, A = np.asarray(dA), np.asarray(A)
    if activation == "softmax":
        dZ = _softmax_backward(dA, A)
    elif activation_needs_z(activation, alpha):
        dZ = dA * act_grad(activation, np.asarray(Z), alpha)
    else:
        dZ = dA * _grad_from_output(activation, A, alpha)
    return dZ.astype(A.dtype)


def loss_forward_backward(kind, y_pred, y_true, sample_weight=None, *, acc_mode="none",
                          param=1.0, thresh=0.5, grad_out=None, want_grad=True,
                          stats_out=None, n_threads=None, label_smoothing=0.0):
    P = np.asarray(y_pred)
    dt = P.dtype
    P = P.astype(np.float64)
    B, C = P.shape
    if kind.startswith("sparse"):
        lab = np.asarray(y_true).reshape(-1).astype(np.int64)
        Y = np.eye(C)[lab]
    else:
        Y = np.asarray(y_true, np.float64)
        lab = None
    Y_raw = Y              # accuracy counts against the targets as given
    if label_smoothing:    # Keras: y (1 - ls) + ls / C; binary: + ls / 2
        binary = kind in ("sigmoid_bce", "bce_prob")
        Y = Y * (1 - label_smoothing) + (0.5 * label_smoothing if binary else
                                         label_smoothing / C)
    w = np.ones(B) if sample_weight is None else np.asarray(sample_weight, np.float64).reshape(-1)
    if kind in ("sparse_softmax_ce", "softmax_ce"):
        m = P.max(axis=1, keepdims=True)
        lse = m + np.log(np.exp(P - m).sum(axis=1, keepdims=True))
        loss = (Y * (lse - P)).sum(axis=1)
        G = np.exp(P - lse) * Y.sum(axis=1, keepdims=True) - Y
    elif kind in ("sparse_ce_prob", "ce_prob"):
        S = P.sum(axis=1, keepdims=True)
        Q = P / S
        mask = (Q >= EPS) & (Q <= 1 - EPS)
        loss = -(Y * np.log(np.clip(Q, EPS, 1 - EPS))).sum(axis=1)
        ym = (Y * mask).sum(axis=1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            G = ym / S - np.where(mask & (Y != 0), Y / P, 0)
    elif kind == "sigmoid_bce":
        loss = (np.maximum(P, 0) - P * Y + np.log1p(np.exp(-np.abs(P)))).mean(axis=1)
        G = (_sigmoid(P) - Y) / C
    elif kind == "bce_prob":
        D = np.clip(P, EPS, 1 - EPS)
        loss = -(Y * np.log(D) + (1 - Y) * np.log(1 - D)).mean(axis=1)
        mask = (P >= EPS) & (P <= 1 - EPS)
        G = np.where(mask, -(Y / D) + (1 - Y) / (1 - D), 0) / C
    elif kind in ("mse", "mae", "huber"):
        E = P - Y
        if kind == "mse":
            loss, G = (E ** 2).mean(axis=1), 2 * E / C
        elif kind == "mae":
            loss, G = np.abs(E).mean(axis=1), np.sign(E) / C
        else:
            d = param
            small = np.abs(E) <= d
            loss = np.where(small, 0.5 * E ** 2, d * np.abs(E) - 0.5 * d * d).mean(axis=1)
            G = np.where(small, E, d * np.sign(E)) / C
    else:
        raise ValueError(f"Unknown loss kind {kind!r}")
    stats = np.zeros(4)
    stats[0] = (w * loss).sum()
    if acc_mode == "sparse":
        stats[1] = (P.argmax(axis=1) == lab).sum()
    elif acc_mode == "categorical":
        stats[1] = (P.argmax(axis=1) == Y_raw.argmax(axis=1)).sum()
    elif acc_mode == "binary":
        stats[1] = ((P > thresh).astype(np.float64) == Y_raw).mean(axis=1).sum()
    if kind in ("mse", "mae", "huber"):
        stats[2] = np.abs(P - Y).mean(axis=1).sum()
        stats[3] = ((P - Y) ** 2).mean(axis=1).sum()
    G = (G * (w / max(B, 1))[:, None]).astype(dt)
    if stats_out is not None:
        stats_out[...] = stats
        stats = stats_out
    if not want_grad:
        return stats, None
    if grad_out is not None:
        grad_out[...] = G
        return stats, grad_out
    return stats, G


def optimizer_step(rule, params, grads, slots=(), n_threads=None):
    """The Keras 3 update formulas, written out one by one. Returns the L1/L2 penalty
    of the weights before the update (the loss term Keras adds; 0 without one)."""
    s = rule.state()
    g = grads.astype(np.float64)
    scale = np.ones_like(g)
    seg = s["segments"] or [0, g.size]
    penalty = 0.0
    p0 = params.astype(np.float64)
    for a, b, l1, l2 in zip(seg[:-1], seg[1:], s.get("l1", ()), s.get("l2", ())):
        if l1 or l2:   # the penalty's gradient joins g before any clipping, as in Keras
            w = p0[a:b]
            g[a:b] += l1 * np.sign(w) + 2 * l2 * w
            penalty += l1 * np.abs(w).sum() + l2 * np.square(w).sum()
    if s["clipnorm"] > 0 or s["global_clipnorm"] > 0:
        sq = [np.sum(g[a:b] ** 2) for a, b in zip(seg[:-1], seg[1:])]
        for k, (a, b) in enumerate(zip(seg[:-1], seg[1:])):
            if s["global_clipnorm"] > 0:
                norm, clip = np.sqrt(sum(sq)), s["global_clipnorm"]
            else:
                norm, clip = np.sqrt(sq[k]), s["clipnorm"]
            scale[a:b] = clip / max(norm, clip)
    g = g * scale
    if s["clipvalue"] > 0:
        g = np.clip(g, -s["clipvalue"], s["clipvalue"])
    p = params.astype(np.float64)
    sl = [x.astype(np.float64) if x is not None else None for x in list(slots) + [None] * 3]
    lr, kind = s["lr"], s["kind"]
    p = p - p * s["weight_decay"] * lr
    K = OPTIMIZER_KINDS
    if kind == K["sgd"]:
        if s["momentum"] == 0:
            p = p - lr * g
        else:
            m = s["momentum"] * sl[0] - lr * g
            sl[0] = m
            p = p + (s["momentum"] * m - lr * g if s["nesterov"] else m)
    elif kind == K["adam"]:
        m = sl[0] + (g - sl[0]) * (1 - s["beta1"])
        v = sl[1] + (g * g - sl[1]) * (1 - s["beta2"])
        sl[0], sl[1] = m, v
        if s["amsgrad"]:
            v = np.maximum(sl[2], v)
            sl[2] = v
        p = p - s["c1"] * m / (np.sqrt(v) + s["eps"])
    elif kind == K["adamax"]:
        m = sl[0] + (g - sl[0]) * (1 - s["beta1"])
        u = np.maximum(s["beta2"] * sl[1], np.abs(g))
        sl[0], sl[1] = m, u
        p = p - s["c1"] * m / (u + s["eps"])
    elif kind == K["nadam"]:
        m = sl[0] + (g - sl[0]) * (1 - s["beta1"])
        v = sl[1] + (g * g - sl[1]) * (1 - s["beta2"])
        sl[0], sl[1] = m, v
        p = p - lr * (s["c1"] * m + s["c2"] * g) / (np.sqrt(v * s["c3"]) + s["eps"])
    elif kind == K["rmsprop"]:
        v = s["rho"] * sl[0] + (1 - s["rho"]) * g * g
        sl[0] = v
        if s["centered"]:
            mg = s["rho"] * sl[1] + (1 - s["rho"]) * g
            sl[1] = mg
            v = v - mg * mg
        inc = lr * g / np.sqrt(v + s["eps"])
        if s["momentum"] > 0:
            inc = s["momentum"] * sl[2] + inc
            sl[2] = inc
        p = p - inc
    elif kind == K["adagrad"]:
        acc = sl[0] + g * g
        sl[0] = acc
        p = p - lr * g / np.sqrt(acc + s["eps"])
    for a, b, con in zip(seg[:-1], seg[1:], s.get("constraints", ())):
        if con == "non_neg":
            p[a:b] = np.maximum(p[a:b], 0)
        elif con is not None:          # ("norm", block, lo, hi, rate): Keras' formula
            _, block, lo, hi, rate = con
            w = p[a:b].reshape(-1, block)
            norms = np.sqrt(np.sum(w ** 2, axis=1, keepdims=True))
            want = rate * np.clip(norms, lo, hi) + (1 - rate) * norms
            p[a:b] = (w * (want / (1e-7 + norms))).reshape(-1)
    params[...] = p
    for dst, src in zip(slots, sl):
        if dst is not None:
            dst[...] = src
    return penalty


def gather_rows(X, idx, start, stop, out, n_threads=None):
    rows = np.arange(start, stop) if idx is None else np.asarray(idx)[start:stop]
    out[: stop - start] = np.asarray(X)[rows]
    return out


def first_nonfinite(x, n_threads=None):
    x = np.asarray(x)
    if x.dtype.kind in "biu":
        return -1
    bad = np.flatnonzero(~np.isfinite(x.reshape(-1)))
    return int(bad[0]) if bad.size else -1


def labels_to_int32(y, n_classes):
    y = np.asarray(y).reshape(-1)
    bad = np.flatnonzero((y < 0) | (y >= n_classes))
    return y.astype(np.int32), (int(bad[0]) if bad.size else -1)


# ------------------------------------------------------------------ batch norm, dropout, PReLU
# Twins of cydl._ops._nodes. Statistics are computed in float64 and cast, like the
# kernels' double accumulators.

def batchnorm_forward(X, gamma=None, beta=None, mean=None, variance=None, epsilon=1e-3, *,
                      training=True, n_threads=None):
    X = np.asarray(X)
    dtype = X.dtype
    X2 = X.reshape(-1, X.shape[-1]).astype(np.float64)
    if training:
        m = X2.mean(axis=0)
        v = ((X2 - m) ** 2).mean(axis=0)
    else:
        m = np.asarray(mean, np.float64).reshape(-1)
        v = np.asarray(variance, np.float64).reshape(-1)
    mean_out, var_out = m.astype(dtype), v.astype(dtype)
    m, v = mean_out.astype(np.float64), var_out.astype(np.float64)
    g = 1.0 if gamma is None else np.asarray(gamma, np.float64).reshape(-1)
    b = 0.0 if beta is None else np.asarray(beta, np.float64).reshape(-1)
    Y = (X2 - m) / np.sqrt(v + epsilon) * g + b
    return Y.reshape(X.shape).astype(dtype), mean_out, var_out


def batchnorm_backward(dY, X, mean, variance, gamma=None, epsilon=1e-3, *, training=True,
                       dgamma_out=None, dbeta_out=None, need_dX=True, need_dgamma=True,
                       need_dbeta=True, n_threads=None):
    X = np.asarray(X)
    dtype = X.dtype
    n = X.shape[-1]
    X2 = X.reshape(-1, n).astype(np.float64)
    G = np.asarray(dY, np.float64).reshape(-1, n)
    m = np.asarray(mean, np.float64).reshape(-1)
    inv = 1.0 / np.sqrt(np.asarray(variance, np.float64).reshape(-1) + epsilon)
    g = 1.0 if gamma is None else np.asarray(gamma, np.float64).reshape(-1)
    xhat = (X2 - m) * inv
    sg, sgx = G.sum(axis=0), (G * xhat).sum(axis=0)
    dX = None
    if need_dX:
        dxhat = G * g
        if training:
            dX = inv * (dxhat - dxhat.mean(axis=0) - xhat * (dxhat * xhat).mean(axis=0))
        else:
            dX = inv * dxhat
        dX = dX.reshape(X.shape).astype(dtype)

    def out(buf, value):
        if buf is None:
            return value.astype(dtype)
        buf += value.reshape(buf.shape).astype(dtype)
        return buf
    return (dX, out(dgamma_out, sgx) if need_dgamma else None,
            out(dbeta_out, sg) if need_dbeta else None)


ALPHA_DROPOUT_P = -1.7580993408473766
_M64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15


def _mix64(z):
    """SplitMix64's finalizer on Python ints or uint64 arrays (wrapping mod 2**64)."""
    if isinstance(z, np.ndarray):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def dropout_call_key(seed, step):
    return _mix64(_mix64((seed + _GOLDEN) & _M64) ^ ((step * _GOLDEN + 1) & _M64))


def dropout_coefficients(rate, alpha=False):
    rate = float(rate)
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate must be in [0, 1]. Received: rate={rate}")
    if not alpha:
        return (1.0 / (1.0 - rate) if rate < 1 else 0.0), 0.0, 0.0
    p = ALPHA_DROPOUT_P
    a = ((1.0 - rate) * (1.0 + rate * p * p)) ** -0.5
    b = -a * p * rate
    return a, b, a * p + b


def _keep_mask(shape, key, keep_prob):
    n = int(np.prod(shape))
    thr = 1 << 53 if keep_prob >= 1 else (0 if keep_prob <= 0 else int(keep_prob * 2.0 ** 53))
    i = np.arange(1, n + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        bits = _mix64(np.uint64(key) + i * np.uint64(_GOLDEN))
    return ((bits >> np.uint64(11)) < np.uint64(thr)).astype(np.uint8).reshape(shape)


def dropout_forward(X, rate, seed=0, step=0, noise_shape=None, *, alpha=False, mask=None,
                    n_threads=None):
    X = np.asarray(X)
    a, b, c = dropout_coefficients(rate, alpha)
    if mask is None:
        ns = tuple(X.shape) if noise_shape is None else tuple(
            X.shape[i] if n is None else int(n) for i, n in enumerate(noise_shape))
        mask = np.broadcast_to(_keep_mask(ns, dropout_call_key(seed, step), 1.0 - rate),
                               X.shape)
    Y = np.where(mask != 0, a * X.astype(np.float64) + b, c).astype(X.dtype)
    return Y, mask


def dropout_backward(dY, mask, rate, *, alpha=False, n_threads=None):
    dY = np.asarray(dY)
    a = dropout_coefficients(rate, alpha)[0]
    return np.where(np.asarray(mask) != 0, a * dY.astype(np.float64), 0).astype(dY.dtype)


def prelu_forward(X, alpha, n_threads=None):
    X = np.asarray(X)
    return np.where(X > 0, X, np.asarray(alpha, X.dtype) * X)


def prelu_backward(dY, X, alpha, *, dalpha_out=None, need_dX=True, need_dalpha=True,
                   n_threads=None):
    X, dY = np.asarray(X), np.asarray(dY, X.dtype)
    alpha = np.asarray(alpha, X.dtype)
    dX = np.where(X > 0, dY, alpha * dY) if need_dX else None
    dalpha = None
    if need_dalpha:
        lead = tuple(range(X.ndim - alpha.ndim))
        s = np.where(X < 0, X.astype(np.float64) * dY, 0).sum(axis=lead).astype(X.dtype)
        dalpha = s if dalpha_out is None else dalpha_out.__iadd__(s)
    return dX, dalpha
