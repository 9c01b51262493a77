"""Pure-NumPy twin of cydl._kernels._linear_sgd.run_epochs: same name, same
arguments, same in-place updates.

This is the spec the kernel is tested against (tests/test_linear_sgd_kernel.py):
scikit-learn's _plain_sgd (sklearn/linear_model/_sgd_fast.pyx) for the perceptron
loss, written sample by sample as sklearn's loop reads. Every sum sklearn runs as a
serial loop (a margin, the norms after an update, the epoch's loss) is a serial sum
here too (a Python loop or np.cumsum, never a pairwise or BLAS sum), so the twins
agree to the last bit.
"""
import math

import numpy as np

_RESET_WSCALE = 1e-9          # sklearn's WeightVector64


def _serial_sum(v):
    """v[0] + v[1] + ... left to right, as a C loop sums."""
    return float(np.cumsum(v)[-1]) if len(v) else 0.0


class _Weights:
    """sklearn's WeightVector: w = data * scale, with its running norms."""

    def __init__(self, data, scale, sq_norm, l1_norm):
        self.data, self.scale, self.sq_norm, self.l1_norm = data, scale, sq_norm, l1_norm

    def dot(self, xl):
        s = 0.0
        for a, v in zip(self.data.tolist(), xl):
            s += a * v
        return s * self.scale

    def add(self, x, c, norms):
        self.data += x * (c / self.scale)
        if norms:
            self.sq_norm = _serial_sum(self.data * self.data) * (self.scale * self.scale)
            self.l1_norm = _serial_sum(np.abs(self.data)) * self.scale

    def shrink(self, c):
        self.scale *= c
        self.sq_norm *= c * c
        self.l1_norm *= abs(c)
        if self.scale < _RESET_WSCALE:
            self.data *= self.scale
            self.scale = 1.0

    def l1(self, q, u):
        """Tsuruoka et al.'s cumulative L1 truncation, as sklearn's l1penalty."""
        d, s = self.data, self.scale
        z = d.copy()
        pos, neg = s * z > 0.0, s * z < 0.0
        d[pos] = np.maximum(0.0, d[pos] - (u + q[pos]) / s)
        d[neg] = np.minimum(0.0, d[neg] + (u - q[neg]) / s)
        q += s * (d - z)


def _epoch(W, b, X, y, c, rows, penalty, alpha, l1_ratio, eta, fit_intercept, track,
           u, q):
    """One pass over rows; returns (b, u, summed loss, summed objective)."""
    shrink = max(0.0, 1.0 - ((1.0 - l1_ratio) * eta * alpha)) if penalty >= 2 else None
    total = objective = 0.0
    for i in rows.tolist():
        z = (W.dot(X[i].tolist()) + b) * y[i]
        if track:
            loss = 0.0 - z if z <= 0.0 else 0.0
            total += loss
            objective += loss
            if penalty > 0:
                s = math.sqrt(W.sq_norm)
                objective += alpha * ((1.0 - l1_ratio) * 0.5 * (s * s)
                                      + l1_ratio * W.l1_norm)
        update = (eta * y[i]) * c[i] if z <= 0.0 else 0.0
        if shrink is not None:
            W.shrink(shrink)
        if update != 0.0:
            W.add(X[i], update, norms=penalty > 0)
            if fit_intercept:
                b += update
        if penalty in (1, 3):
            u += l1_ratio * eta * alpha
            W.l1(q, u)
    return b, u, total, objective


def run_epochs(X, y, c, w, q, state, order, perm, rows, skip, penalty, alpha, l1_ratio,
               eta0, fit_intercept, track, tol, n_iter_no_change, sums):
    """Up to len(sums) epochs of sklearn's _plain_sgd; returns (epochs, status).

    See cydl._kernels._linear_sgd.run_epochs for the arguments. `rows` is scratch.
    """
    X = np.asarray(X, np.float64)
    W = _Weights(w, state[1], state[2], state[3])
    done, status = 0, 0
    for e in range(len(sums)):
        done = e + 1
        if len(perm):
            order[...] = order[perm]
        train = order[skip[order] == 0]
        b, u, sums[e, 0], sums[e, 1] = _epoch(
            W, state[0], X, y, c, train, penalty, alpha, l1_ratio, eta0, fit_intercept,
            track, state[4], q)
        state[:5] = b, W.scale, W.sq_norm, W.l1_norm, u
        if not math.isfinite(b) or not np.isfinite(w).all():
            status = 2
            break
        with np.errstate(invalid="ignore"):
            obj = sums[e, 1] / np.float64(len(train))      # no rows: NaN, as sklearn's
        state[6] = state[6] + 1 if tol > -np.inf and obj > state[5] - tol else 0
        state[5] = min(state[5], obj)
        if state[6] >= n_iter_no_change:
            status = 1
            break
    return done, status
