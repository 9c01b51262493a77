"""scikit-learn's plain SGD (sklearn/linear_model/_sgd_fast.pyx) for the perceptron
loss (hinge with threshold 0) at a constant rate, one binary problem at a time.

Same rows in the same order (sklearn's shuffle, rerun with the same seed at every
epoch), same updates, same stopping rules. The epochs run in the compiled kernel
cydl._kernels._linear_sgd, whose pure-NumPy twin cydl.sklearn._sgd_reference is
the spec; without early stopping or verbose output, all of them in one call, the
kernel applying the tol rule itself.
"""
import numpy as np

from cydl._kernels import _linear_sgd

PENALTIES = {None: 0, "l1": 1, "l2": 2, "elasticnet": 3}


def sgd_permutation(n, seed):
    """The permutation sklearn's SequentialDataset.shuffle(seed) applies to the rows
    (equal to cydl.sklearn._random.sgd_permutation, in C)."""
    perm = np.empty(n, np.intp)
    _linear_sgd.shuffle_permutation(perm, int(seed) & 0xFFFFFFFF)
    return perm


def plain_sgd(w, b, X, y, c, train_mask, cfg, seed, score_cb=None,
              run_epochs=_linear_sgd.run_epochs):
    """Fit one binary perceptron in place of w; returns (b, n_iter).

    Args:
        w, b: the starting weights (float64, contiguous, updated in place) and
            intercept.
        X, y, c: float32 or float64 rows, float64 labels in {-1, 1} and per-row
            weights (class weight times sample weight).
        train_mask: the rows it learns from (the others are early stopping's).
        cfg: penalty (0-3), alpha, l1_ratio, eta0, fit_intercept, max_iter, tol
            (-inf: none), n_iter_no_change, shuffle, early_stopping, verbose.
        seed: sklearn's per-problem shuffle seed.
        score_cb: early stopping's validation score of (w, b).
        run_epochs: the kernel, or its twin _sgd_reference.run_epochs.
    """
    n, max_iter, penalty = len(X), cfg["max_iter"], cfg["penalty"]
    order, rows = np.arange(n, dtype=np.intp), np.empty(n, np.intp)
    perm = sgd_permutation(n, seed) if cfg["shuffle"] else np.empty(0, np.intp)
    skip = np.ascontiguousarray(~np.asarray(train_mask, bool), dtype=np.uint8)
    n_train = int(np.count_nonzero(train_mask))
    q = np.zeros(len(w) if penalty in (1, 3) else 0)
    # b, wscale, sq_norm, l1_norm, u, best objective, epochs without improvement
    state = np.array([b, 1.0, float(w @ w), float(np.abs(w).sum()), 0.0, np.inf, 0.0])
    verbose, early = bool(cfg["verbose"]), cfg["early_stopping"]
    track = verbose or not early        # sklearn sums the loss only then
    best_score, no_improve, done = -np.inf, 0, 0
    while done < max_iter:
        sums = np.zeros((1 if verbose or early else max_iter - done, 2))
        ran, status = run_epochs(
            X, y, c, w, q, state, order, perm, rows, skip, penalty, cfg["alpha"],
            cfg["l1_ratio"], cfg["eta0"], cfg["fit_intercept"], track,
            -np.inf if early else cfg["tol"], cfg["n_iter_no_change"], sums)
        done += ran
        if status == 2:
            raise ValueError(f"Floating-point under-/overflow occurred at epoch "
                             f"#{done}. Scaling input data with StandardScaler or "
                             f"MinMaxScaler might help.")
        if verbose:
            print(f"-- Epoch {done}\nBias: {state[0]:.6f}, T: {done * n_train}, "
                  f"Avg. loss: {sums[0, 0] / n_train:.6f}")
        if early:
            score = score_cb(w, float(state[0]))   # sklearn scores w_data, unscaled
            no_improve = no_improve + 1 if score < best_score + cfg["tol"] else 0
            best_score = max(best_score, score)
            if no_improve >= cfg["n_iter_no_change"]:
                break
        if status == 1:
            break
    if state[1] != 1.0:
        w *= state[1]
    return float(state[0]), done
