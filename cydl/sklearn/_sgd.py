"""scikit-learn's plain SGD (sklearn/linear_model/_sgd_fast.pyx) for the perceptron
loss (hinge with threshold 0) at a constant rate, one binary problem at a time.

Same rows in the same order (see _random.sgd_permutation), same updates, same
stopping rule. The weights are w_data * wscale as in sklearn's WeightVector, so an
L2 penalty's per-sample shrinking costs O(1). Margins of up to _EXACT features are
summed feature by feature, as sklearn's loop sums them (BLAS may fuse and reorder,
which can move a margin of exactly 0 by one unit in the last place).

Without a penalty the weights change only on a mistake, so an epoch runs as
vectorized blocks of rows: the margins of the next rows under the current weights,
up to the first mistake, whose update is then applied. Blocks start small after a
mistake and double while none is found.
"""
import math

import numpy as np

from cydl.sklearn._random import sgd_permutation

PENALTIES = {None: 0, "l1": 1, "l2": 2, "elasticnet": 3}
_EXACT = 16


def _margins(X, w, b):
    """X @ w + b, feature by feature in sklearn's order for narrow X."""
    if X.shape[1] > _EXACT:
        return X @ w + b
    acc = X[:, 0] * w[0]
    for j in range(1, X.shape[1]):
        acc += X[:, j] * w[j]
    return acc + b


def _fast_epoch(w, b, X, y, c, rows, eta0, fit_intercept):
    """One epoch without a penalty; returns (b, summed loss)."""
    n, p, block, total = len(rows), 0, 32, 0.0
    while p < n:
        r = rows[p:p + block]
        z = _margins(X[r], w, b) * y[r]
        hit = (z <= 0.0) & (c[r] != 0.0)
        k = int(np.argmax(hit)) if hit.any() else -1
        seen = len(r) if k < 0 else k + 1
        zs = z[:seen]
        total += float(-zs[zs <= 0.0].sum())
        if k < 0:
            p, block = p + seen, min(block * 2, 8192)
            continue
        i = r[k]
        update = (eta0 * y[i]) * c[i]
        w += X[i] * update
        if fit_intercept:
            b += update
        p, block = p + seen, 32
    return b, total


class _Weights:
    """sklearn's WeightVector: w = data * scale, with its running norms."""

    def __init__(self, w):
        self.data, self.scale = w, 1.0
        self.sq_norm, self.l1_norm = float(w @ w), float(np.abs(w).sum())

    def dot(self, x, xl):
        if xl is None:
            return float(self.data @ x) * self.scale
        s = 0.0
        for a, v in zip(self.data.tolist(), xl):
            s += a * v
        return s * self.scale

    def add(self, x, c):
        self.data += x * (c / self.scale)
        self.sq_norm = float(self.data @ self.data) * (self.scale * self.scale)
        self.l1_norm = float(np.abs(self.data).sum()) * self.scale

    def shrink(self, c):
        self.scale *= c
        self.sq_norm *= c * c
        self.l1_norm *= abs(c)
        if self.scale < 1e-9:
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


def _exact_epoch(W, b, X, Xl, y, c, rows, cfg, state):
    """One epoch with a penalty, sample by sample; returns (b, loss, objective)."""
    alpha, l1_ratio, eta = cfg["alpha"], cfg["l1_ratio"], cfg["eta0"]
    ptype, track = cfg["penalty"], cfg["track"]
    shrink = max(0.0, 1.0 - ((1.0 - l1_ratio) * eta * alpha)) if ptype >= 2 else None
    total = objective = 0.0
    for i in rows.tolist():
        p = W.dot(X[i], None if Xl is None else Xl[i]) + b
        z = p * y[i]
        if track:
            loss = -z if z <= 0.0 else 0.0
            total += loss
            objective += loss + alpha * ((1.0 - l1_ratio) * 0.5 * math.sqrt(W.sq_norm) ** 2
                                         + l1_ratio * W.l1_norm)
        update = ((eta * y[i]) if z <= 0.0 else 0.0) * c[i]
        if shrink is not None:
            W.shrink(shrink)
        if update != 0.0:
            W.add(X[i], update)
            if cfg["fit_intercept"]:
                b += update
        if ptype in (1, 3):
            state["u"] += l1_ratio * eta * alpha
            W.l1(state["q"], state["u"])
    return b, total, objective


def plain_sgd(w, b, X, y, c, train_mask, cfg, seed, score_cb=None):
    """Fit one binary perceptron in place of w; returns (b, n_iter).

    Args:
        w, b: the starting weights (float64, updated in place) and intercept.
        X, y, c: float64 rows, labels in {-1, 1}, per-row weights (class weight
            times sample weight).
        train_mask: the rows it learns from (the others are early stopping's).
        cfg: penalty (0-3), alpha, l1_ratio, eta0, fit_intercept, max_iter, tol
            (-inf: none), n_iter_no_change, shuffle, early_stopping, verbose.
        seed: sklearn's per-problem shuffle seed.
        score_cb: early stopping's validation score of (w, b).
    """
    n = len(X)
    order = np.arange(n)
    perm = sgd_permutation(n, seed) if cfg["shuffle"] else None
    n_train = int(train_mask.sum())
    cfg = dict(cfg, track=bool(cfg["verbose"]) or not cfg["early_stopping"])
    fast = cfg["penalty"] == 0
    W = None if fast else _Weights(w)
    Xl = X.tolist() if not fast and X.shape[1] <= _EXACT else None
    state = {"q": np.zeros_like(w), "u": 0.0}
    best_obj, best_score, no_improve, tol = np.inf, -np.inf, 0, cfg["tol"]
    epoch = 0
    for epoch in range(cfg["max_iter"]):
        if perm is not None:
            order = order[perm]
        rows = order[train_mask[order]]
        if fast:
            b, total = _fast_epoch(w, b, X, y, c, rows, cfg["eta0"], cfg["fit_intercept"])
            objective = total
        else:
            b, total, objective = _exact_epoch(W, b, X, Xl, y, c, rows, cfg, state)
        if not math.isfinite(b) or not np.isfinite(w).all():
            raise ValueError(f"Floating-point under-/overflow occurred at epoch "
                             f"#{epoch + 1}. Scaling input data with StandardScaler or "
                             f"MinMaxScaler might help.")
        if cfg["verbose"]:
            print(f"-- Epoch {epoch + 1}\nBias: {b:.6f}, T: {(epoch + 1) * n_train}, "
                  f"Avg. loss: {total / n_train:.6f}")
        if cfg["early_stopping"]:
            score = score_cb(w, b)       # sklearn scores w_data, before any rescale
            no_improve = no_improve + 1 if score < best_score + tol else 0
            best_score = max(best_score, score)
        else:
            obj = objective / n_train
            no_improve = no_improve + 1 if obj > best_obj - tol else 0
            best_obj = min(best_obj, obj)
        if no_improve >= cfg["n_iter_no_change"]:
            break
    if W is not None and W.scale != 1.0:
        w *= W.scale
    return b, epoch + 1
