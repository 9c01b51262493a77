"""scikit-learn's plain SGD for the perceptron loss, one binary problem, in C.

The same arithmetic in the same order as sklearn's _plain_sgd on dense rows
(hinge loss with threshold 0, constant rate, weights held as w * wscale, Tsuruoka's
cumulative L1 truncation), so the coefficients are scikit-learn's bit for bit. The
pure-NumPy twin, cydl.sklearn._sgd_reference.run_epochs, is the spec.

Each margin is summed feature by feature, a serial chain of additions. Where the
weight data only change on a mistake (no penalty, or L2, whose shrinking only moves
wscale), the margins of the next BLOCK rows are summed side by side, one chain per
row, and the rows past a mistake are summed again: the same sums, several times
faster than one chain at a time.
"""
from cython cimport floating
from libc.math cimport sqrt, fabs, isfinite, INFINITY, NAN
from cydl._kernels._parallel cimport cydl_prefetch

# Fused multiply-adds would round differently from scikit-learn's separate
# multiply and add (and from NumPy); keep them apart whatever -march says.
cdef extern from *:
    """
    #if defined(__clang__)
    #pragma clang fp contract(off)
    #elif defined(__GNUC__)
    #pragma GCC optimize("fp-contract=off")
    #endif
    """

cdef enum:
    BLOCK = 8
    N_STATE = 7          # b, wscale, sq_norm, l1_norm, u, best objective, no improvement

cdef double RESET_WSCALE = 1e-9     # sklearn's WeightVector64 threshold
cdef unsigned int RAND_R_MOD = 2147483648u    # our_rand_r's RAND_R_MAX + 1


def shuffle_permutation(Py_ssize_t[::1] perm, unsigned int seed):
    """perm = the permutation sklearn's SequentialDataset.shuffle(seed) applies:
    Fisher-Yates over arange(n) on its xorshift our_rand_r."""
    cdef Py_ssize_t n = perm.shape[0], i, j, tmp
    cdef unsigned int s = seed
    with nogil:
        for i in range(n):
            perm[i] = i
        for i in range(n - 1):
            if s == 0:
                s = 1
            s ^= s << 13
            s ^= s >> 17
            s ^= s << 5
            j = i + <Py_ssize_t>((s % RAND_R_MOD) % <unsigned int>(n - i))
            tmp = perm[i]
            perm[i] = perm[j]
            perm[j] = tmp


cdef inline void margins(const floating* X, Py_ssize_t xr, Py_ssize_t xc, Py_ssize_t p,
                         const Py_ssize_t* rows, Py_ssize_t nb, const double* w,
                         double* d) noexcept nogil:
    """d[r] = sum_j w[j] x_rows[r][j], each a left-to-right chain as sklearn's dot."""
    cdef Py_ssize_t j, r
    cdef double a0, a1, a2, a3, a4, a5, a6, a7, wj, a
    cdef const floating* x0
    cdef const floating* x1
    cdef const floating* x2
    cdef const floating* x3
    cdef const floating* x4
    cdef const floating* x5
    cdef const floating* x6
    cdef const floating* x7
    if nb == BLOCK:
        x0 = X + rows[0] * xr
        x1 = X + rows[1] * xr
        x2 = X + rows[2] * xr
        x3 = X + rows[3] * xr
        x4 = X + rows[4] * xr
        x5 = X + rows[5] * xr
        x6 = X + rows[6] * xr
        x7 = X + rows[7] * xr
        a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0
        for j in range(p):
            wj = w[j]
            a0 = a0 + wj * <double>x0[j * xc]
            a1 = a1 + wj * <double>x1[j * xc]
            a2 = a2 + wj * <double>x2[j * xc]
            a3 = a3 + wj * <double>x3[j * xc]
            a4 = a4 + wj * <double>x4[j * xc]
            a5 = a5 + wj * <double>x5[j * xc]
            a6 = a6 + wj * <double>x6[j * xc]
            a7 = a7 + wj * <double>x7[j * xc]
        d[0] = a0
        d[1] = a1
        d[2] = a2
        d[3] = a3
        d[4] = a4
        d[5] = a5
        d[6] = a6
        d[7] = a7
        return
    for r in range(nb):
        x0 = X + rows[r] * xr
        a = 0.0
        for j in range(p):
            a = a + w[j] * <double>x0[j * xc]
        d[r] = a


cdef inline void prefetch_rows(const floating* X, Py_ssize_t xr, Py_ssize_t p,
                               const Py_ssize_t* rows, Py_ssize_t nb) noexcept nogil:
    """Ask for the cache lines of rows the next block will read: the rows come in
    random order, which no hardware prefetcher foresees."""
    cdef Py_ssize_t r, off, size = p * <Py_ssize_t>sizeof(floating)
    cdef const char* x
    for r in range(nb):
        x = <const char*>(X + rows[r] * xr)
        for off in range(0, size, 64):
            cydl_prefetch(x + off)


cdef inline void add_row(const floating* x, Py_ssize_t xc, Py_ssize_t p, double* w,
                         double cu) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(p):
        w[j] += <double>x[j * xc] * cu


cdef inline void add_row_norms(const floating* x, Py_ssize_t xc, Py_ssize_t p, double* w,
                               double cu, double* l2, double* l1) noexcept nogil:
    """WeightVector.add: w += x cu, then both norms of w summed afresh."""
    cdef Py_ssize_t j
    cdef double s2 = 0.0, s1 = 0.0
    for j in range(p):
        w[j] += <double>x[j * xc] * cu
        s2 += w[j] * w[j]
        s1 += fabs(w[j])
    l2[0] = s2
    l1[0] = s1


cdef inline double l1_pass(double* w, double* q, Py_ssize_t p, double wscale, double u,
                           bint add, const floating* xa, double cu, double* l2,
                           double* l1, const floating* xn, Py_ssize_t xc) noexcept nogil:
    """One sweep for an L1 row: WeightVector.add of cu xa (if add; its norms into
    l2, l1), sklearn's l1penalty (clip each weight towards 0 by what it is still
    owed, q), and the next row xn's margin under the result, which it returns."""
    cdef Py_ssize_t j
    cdef double s2 = 0.0, s1 = 0.0, a = 0.0, wj, z, sz, qj, v
    for j in range(p):
        wj = w[j]
        if add:
            wj = wj + <double>xa[j * xc] * cu
            s2 += wj * wj
            s1 += fabs(wj)
        z = wj
        sz = wscale * z
        qj = q[j]
        # w - (u + q) / wscale written as w + (-(u + q)) / wscale: the same number,
        # with one division for either sign
        v = z + ((-(u + qj) if sz > 0.0 else u - qj) / wscale)
        if sz > 0.0:
            wj = v if v > 0.0 else 0.0
        elif sz < 0.0:
            wj = v if v < 0.0 else 0.0
        q[j] = qj + wscale * (wj - z)
        w[j] = wj
        a = a + wj * <double>xn[j * xc]
    if add:
        l2[0] = s2
        l1[0] = s1
    return a


cdef inline void sgd_epoch(const floating* X, Py_ssize_t xr, Py_ssize_t xc, Py_ssize_t p,
                           const double* y, const double* c, const Py_ssize_t* rows,
                           Py_ssize_t m, double* w, double* q, double* st, int penalty,
                           double alpha, double l1_ratio, double eta, bint fit_intercept,
                           bint track, double* sums) noexcept nogil:
    """One pass over rows[:m]; st holds b, wscale, sq_norm, l1_norm, u in and out;
    sums gets the summed loss and objective."""
    cdef double b = st[0], wscale = st[1], sq_norm = st[2], l1_norm = st[3], u = st[4]
    cdef double shrink = 1.0, sumloss = 0.0, objective = 0.0
    cdef double d[BLOCK]
    cdef double pr, z, loss, upd, s, l2acc = 0.0, l1acc = 0.0
    cdef Py_ssize_t k = 0, nb, t, i, j, nxt
    cdef bint changed, l1 = penalty == 1 or penalty == 3
    if penalty >= 2:
        shrink = 1.0 - ((1.0 - l1_ratio) * eta * alpha)
        if shrink < 0.0:
            shrink = 0.0
    if l1 and m > 0:
        margins(X, xr, xc, p, rows, 1, w, d)
    while k < m:
        if l1:
            nb = 1               # d[0]: summed by the previous row's l1_pass
        else:
            nb = BLOCK if m - k >= BLOCK else m - k
            if xc == 1 and k + nb < m:
                prefetch_rows(X, xr, p, rows + k + nb,
                              nb if m - k - nb >= nb else m - k - nb)
            margins(X, xr, xc, p, rows + k, nb, w, d)
        t = 0
        while t < nb:
            i = rows[k + t]
            t += 1
            pr = d[t - 1] * wscale + b
            z = pr * y[i]
            if track:
                loss = 0.0 - z if z <= 0.0 else 0.0
                sumloss += loss
                objective += loss
                if penalty > 0:
                    s = sqrt(sq_norm)
                    objective += alpha * ((1.0 - l1_ratio) * 0.5 * (s * s)
                                          + l1_ratio * l1_norm)
            upd = (eta * y[i]) * c[i] if z <= 0.0 else 0.0
            changed = False
            if penalty >= 2:
                wscale *= shrink
                sq_norm *= shrink * shrink
                l1_norm *= fabs(shrink)
                if wscale < RESET_WSCALE:
                    for j in range(p):
                        w[j] *= wscale
                    wscale = 1.0
                    changed = True
            if l1:
                u += l1_ratio * eta * alpha
                nxt = rows[k + 1] if k + 1 < m else i
                if xc == 1 and k + 2 < m:
                    prefetch_rows(X, xr, p, rows + k + 2, 1)
                d[0] = l1_pass(w, q, p, wscale, u, upd != 0.0, X + i * xr, upd / wscale,
                               &l2acc, &l1acc, X + nxt * xr, xc)
                if upd != 0.0:
                    sq_norm = l2acc * (wscale * wscale)
                    l1_norm = l1acc * wscale
                    if fit_intercept:
                        b += upd
            elif upd != 0.0:
                if penalty == 0:
                    add_row(X + i * xr, xc, p, w, upd / wscale)
                else:
                    add_row_norms(X + i * xr, xc, p, w, upd / wscale, &l2acc, &l1acc)
                    sq_norm = l2acc * (wscale * wscale)
                    l1_norm = l1acc * wscale
                if fit_intercept:
                    b += upd
                changed = True
            if changed:
                break            # the margins summed past row i are stale
        k += t
    st[0] = b
    st[1] = wscale
    st[2] = sq_norm
    st[3] = l1_norm
    st[4] = u
    sums[0] = sumloss
    sums[1] = objective


cdef inline Py_ssize_t _el(Py_ssize_t nbytes, Py_ssize_t item) noexcept nogil:
    return nbytes // item


cdef int _check_index(const Py_ssize_t[::1] a, Py_ssize_t n, str name) except -1:
    cdef Py_ssize_t i
    for i in range(a.shape[0]):
        if a[i] < 0 or a[i] >= n:
            raise ValueError(f"{name}[{i}] = {a[i]} is not a row index in [0, {n})")
    return 0


def run_epochs(const floating[:, :] X, const double[::1] y, const double[::1] c,
               double[::1] w, double[::1] q, double[::1] state, Py_ssize_t[::1] order,
               const Py_ssize_t[::1] perm, Py_ssize_t[::1] rows,
               const unsigned char[::1] skip, int penalty, double alpha, double l1_ratio,
               double eta0, bint fit_intercept, bint track, double tol,
               int n_iter_no_change, double[:, ::1] sums):
    """Up to sums.shape[0] epochs of sklearn's _plain_sgd; returns (epochs, status).

    Each epoch applies perm to order (empty perm: no shuffling), visits the rows of
    order whose skip is 0, then applies the stopping rule on the mean objective
    (tol = -inf: never). status: 0 all epochs ran, 1 converged, 2 weights or
    intercept no longer finite (the epoch that made them so is counted).
    state: b, wscale, sq_norm, l1_norm, u, best objective, epochs without
    improvement, carried between calls. sums[e] gets (loss, objective) summed.
    rows is scratch; q (length n_features) is the L1 penalty's memory.
    """
    cdef Py_ssize_t n = X.shape[0], p = X.shape[1], it = sizeof(floating), i, m
    cdef Py_ssize_t xr, xc
    cdef int e, done = 0, n_epochs = sums.shape[0], status = 0
    cdef double obj
    cdef double* qp = NULL
    if n == 0 or p == 0:
        raise ValueError(f"X needs rows and features; got shape ({n}, {p})")
    if (n > 1 and X.strides[0] % it) or (p > 1 and X.strides[1] % it):
        raise ValueError("X's strides must be whole multiples of its item size")
    for name, size in (("y", y.shape[0]), ("c", c.shape[0]), ("order", order.shape[0]),
                       ("rows", rows.shape[0]), ("skip", skip.shape[0])):
        if size != n:
            raise ValueError(f"{name} has {size} entries; X has {n} rows")
    if perm.shape[0] not in (0, n):
        raise ValueError(f"perm has {perm.shape[0]} entries; expected 0 or {n}")
    if w.shape[0] != p:
        raise ValueError(f"w has {w.shape[0]} entries; X has {p} features")
    if penalty not in (0, 1, 2, 3):
        raise ValueError(f"penalty must be 0 (none), 1 (l1), 2 (l2) or 3 (elasticnet); "
                         f"got {penalty}")
    if penalty in (1, 3):
        if q.shape[0] != p:
            raise ValueError(f"q has {q.shape[0]} entries; X has {p} features")
        qp = &q[0]
    if state.shape[0] != N_STATE or sums.shape[1] != 2:
        raise ValueError(f"state needs {N_STATE} entries and sums 2 columns")
    _check_index(order, n, "order")
    _check_index(perm, n, "perm")
    xr = _el(X.strides[0], it)
    xc = _el(X.strides[1], it)
    with nogil:
        for e in range(n_epochs):
            done = e + 1
            if perm.shape[0]:
                for i in range(n):
                    rows[i] = order[perm[i]]
                for i in range(n):
                    order[i] = rows[i]
            m = 0
            for i in range(n):
                if not skip[order[i]]:
                    rows[m] = order[i]
                    m += 1
            if xc == 1:      # a constant stride: the compiler's contiguous loops
                sgd_epoch(&X[0, 0], xr, 1, p, &y[0], &c[0], &rows[0], m, &w[0], qp,
                          &state[0], penalty, alpha, l1_ratio, eta0, fit_intercept,
                          track, &sums[e, 0])
            else:
                sgd_epoch(&X[0, 0], xr, xc, p, &y[0], &c[0], &rows[0], m, &w[0], qp,
                          &state[0], penalty, alpha, l1_ratio, eta0, fit_intercept,
                          track, &sums[e, 0])
            if not isfinite(state[0]):
                status = 2
            for i in range(p):
                if not isfinite(w[i]):
                    status = 2
            if status == 2:
                break
            # no training rows: NaN, as sklearn's (spelled out: a debug build checks
            # divisions)
            obj = sums[e, 1] / m if m > 0 else NAN
            if tol > -INFINITY and obj > state[5] - tol:
                state[6] += 1
            else:
                state[6] = 0
            if obj < state[5]:
                state[5] = obj
            if state[6] >= n_iter_no_change:
                status = 1
                break
    return done, status
