"""Batch normalization: per-feature column reductions over a (batch, features) matrix.

The matrices may have any strides: the engine's dense outputs are column-major, so
in the hot case each feature is one contiguous column and no copy is made; C-ordered
inputs (N-D activations reshaped to 2-D) are read in place with a row stride.
Work is split over features, so every reduction is private to one thread and the
result does not depend on the thread count. Sums run in double for float32 too:
a batch of thousands of float32 terms loses digits otherwise.
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport sqrt
from cydl._kernels._parallel cimport (Span, split_range, parts_for, run_threads,
                                      cydl_ftz_begin, cydl_ftz_end)


cdef enum:
    # columns reduced side by side: each column's sum is still one chain over the
    # rows in order, but BN_BLOCK chains run at once instead of one after another
    # (a float add waits 3-4 cycles for the previous one)
    BN_BLOCK = 16


cdef void bn_stats_cols(Py_ssize_t rows, Py_ssize_t c0, Py_ssize_t c1,
                        const floating* X, Py_ssize_t sr, Py_ssize_t sc,
                        floating* mean, floating* var) noexcept nogil:
    """Mean and biased variance of columns [c0, c1), in two passes (no cancellation),
    each column's sums in row order (so the same bits for any split of the columns).
    BN_BLOCK columns go side by side. The book's ch. 11 model at batch 32 (2 threads,
    benchmarks/lab/bn_phases.py): its first layer, over the 784 input pixels of
    row-major rows, took 29-35 us a forward phase one column at a time, 16-19 us so;
    the BN of the 300 column-major hidden units 20 -> 13 us (43 -> 31 at batch 128)."""
    cdef Py_ssize_t r, c = c0, j, w
    cdef const floating* xr
    cdef double s[BN_BLOCK]
    cdef double m[BN_BLOCK]
    cdef double d
    while c < c1:
        w = min(<Py_ssize_t>BN_BLOCK, c1 - c)
        for j in range(w):
            s[j] = 0
        for r in range(rows):
            xr = X + r * sr + c * sc
            for j in range(w):
                s[j] += xr[j * sc]
        for j in range(w):
            m[j] = s[j] / rows
            s[j] = 0
        for r in range(rows):
            xr = X + r * sr + c * sc
            for j in range(w):
                d = xr[j * sc] - m[j]
                s[j] += d * d
        for j in range(w):
            mean[c + j] = <floating>m[j]
            var[c + j] = <floating>(s[j] / rows)
        c += w


cdef void bn_scale_cols(Py_ssize_t rows, Py_ssize_t c0, Py_ssize_t c1,
                        const floating* X, Py_ssize_t sr, Py_ssize_t sc,
                        const floating* mean, const floating* var,
                        const floating* gamma, const floating* beta, double eps,
                        floating* Y, Py_ssize_t yr, Py_ssize_t yc) noexcept nogil:
    """Y = (X - mean) * gamma / sqrt(var + eps) + beta on columns [c0, c1)."""
    cdef Py_ssize_t r, c
    cdef const floating* xc
    cdef floating* ycol
    cdef floating k, b
    for c in range(c0, c1):
        k = <floating>(1.0 / sqrt(<double>var[c] + eps))
        if gamma != NULL:
            k = k * gamma[c]
        b = beta[c] if beta != NULL else 0
        b = b - mean[c] * k
        xc = X + c * sc
        ycol = Y + c * yc
        for r in range(rows):
            ycol[r * yr] = xc[r * sr] * k + b


cdef void bn_backward_cols(Py_ssize_t rows, Py_ssize_t c0, Py_ssize_t c1,
                           const floating* G, Py_ssize_t gr, Py_ssize_t gc,
                           const floating* X, Py_ssize_t sr, Py_ssize_t sc,
                           const floating* mean, const floating* var,
                           const floating* gamma, double eps, bint batch_stats,
                           floating* dX, Py_ssize_t dr, Py_ssize_t dc,
                           floating* dgamma, floating* dbeta) noexcept nogil:
    """On columns [c0, c1): dgamma += sum g xhat, dbeta += sum g and dX (NULL: skip).

    With batch statistics the mean and variance depend on X, which adds the two
    projection terms: dx = gamma invstd (g - mean(g) - xhat mean(g xhat)).
    """
    cdef Py_ssize_t r, c, j, w = 0, c_end = c0
    cdef const floating* gcol
    cdef const floating* xc
    cdef const floating* gr_
    cdef const floating* xr
    cdef floating* dxc
    cdef double inv, m, sg, sgx, xh, k, a, b
    cdef double bsg[BN_BLOCK]
    cdef double bsgx[BN_BLOCK]
    cdef double bm[BN_BLOCK]
    for c in range(c0, c1):
        if c == c_end and sr != 1:
            # the sums of the next BN_BLOCK strided columns side by side (see
            # bn_stats_cols): the book's model's input BN backward phase 65.6 -> 63.7 us
            # at batch 32, 113 -> 108 at 128 (medians, in-process A/B)
            w = min(<Py_ssize_t>BN_BLOCK, c1 - c)
            c_end = c + w
            for j in range(w):
                bsg[j] = 0
                bsgx[j] = 0
                bm[j] = mean[c + j]
            for r in range(rows):
                gr_ = G + r * gr + c * gc
                xr = X + r * sr + c * sc
                for j in range(w):
                    bsg[j] += gr_[j * gc]
                    bsgx[j] += gr_[j * gc] * (xr[j * sc] - bm[j])
        inv = 1.0 / sqrt(<double>var[c] + eps)
        m = mean[c]
        gcol = G + c * gc
        xc = X + c * sc
        if sr != 1:
            sg = bsg[c - (c_end - w)]
            sgx = bsgx[c - (c_end - w)]
        else:
            # a contiguous column on its own: side by side, the backward's two sums
            # measured slower on the book's model (the BN of 300 hidden units 20 ->
            # 21 us at batch 32, 42 -> 48 at 128), unlike the forward's
            sg = 0
            sgx = 0
            for r in range(rows):
                sg += gcol[r * gr]
                sgx += gcol[r * gr] * (xc[r] - m)
        sgx *= inv      # sum g * xhat
        if dgamma != NULL:
            dgamma[c] += <floating>sgx
        if dbeta != NULL:
            dbeta[c] += <floating>sg
        if dX == NULL:
            continue
        k = inv * (gamma[c] if gamma != NULL else 1)
        dxc = dX + c * dc
        if batch_stats:
            # dx = k g - k sg / n - k xhat sgx / n, with xhat = (x - m) inv
            a = k * sgx * inv / rows
            b = -k * sg / rows + a * m
            for r in range(rows):
                dxc[r * dr] = <floating>(k * gcol[r * gr] - a * xc[r * sr] + b)
        else:
            for r in range(rows):
                dxc[r * dr] = <floating>(k * gcol[r * gr])


cdef inline Py_ssize_t _stride(Py_ssize_t nbytes, Py_ssize_t item) noexcept nogil:
    return nbytes // item


def batchnorm_forward(const floating[:, :] X, const floating[::1] gamma,
                      const floating[::1] beta, floating[::1] mean, floating[::1] var,
                      floating[:, :] Y, double eps, bint batch_stats, int n_threads):
    """Y = gamma (X - mean) / sqrt(var + eps) + beta per column. With batch_stats,
    mean and var are first computed from X (biased variance) and written out;
    otherwise they are read (the moving statistics). gamma and beta may be None."""
    cdef Py_ssize_t rows = X.shape[0], cols = X.shape[1]
    cdef Py_ssize_t it = sizeof(floating)
    cdef Py_ssize_t sr = _stride(X.strides[0], it), sc = _stride(X.strides[1], it)
    cdef Py_ssize_t yr = _stride(Y.strides[0], it), yc = _stride(Y.strides[1], it)
    cdef const floating* gp = &gamma[0] if gamma is not None and cols > 0 else NULL
    cdef const floating* bp = &beta[0] if beta is not None and cols > 0 else NULL
    cdef int t, parts
    cdef unsigned int csr
    cdef Span sp
    if rows == 0 or cols == 0:
        return
    parts = parts_for(<double>rows * cols * 4, 40000, n_threads, cols)
    with nogil:
        for t in prange(parts, num_threads=run_threads(parts), schedule='static'):
            csr = cydl_ftz_begin()      # denormals flushed, as in the fused step (_cpu.h)
            sp = split_range(cols, parts, t, 1)
            if batch_stats:
                bn_stats_cols(rows, sp.lo, sp.hi, &X[0, 0], sr, sc, &mean[0], &var[0])
            bn_scale_cols(rows, sp.lo, sp.hi, &X[0, 0], sr, sc, &mean[0], &var[0], gp, bp,
                          eps, &Y[0, 0], yr, yc)
            cydl_ftz_end(csr)


def batchnorm_backward(const floating[:, :] G, const floating[:, :] X,
                       const floating[::1] mean, const floating[::1] var,
                       const floating[::1] gamma, floating[:, :] dX,
                       floating[::1] dgamma, floating[::1] dbeta, double eps,
                       bint batch_stats, int n_threads):
    """dX from the upstream gradient G; dgamma and dbeta are accumulated (+=).
    dX, dgamma, dbeta and gamma may be None."""
    cdef Py_ssize_t rows = X.shape[0], cols = X.shape[1]
    cdef Py_ssize_t it = sizeof(floating)
    cdef Py_ssize_t gr = _stride(G.strides[0], it), gc = _stride(G.strides[1], it)
    cdef Py_ssize_t sr = _stride(X.strides[0], it), sc = _stride(X.strides[1], it)
    cdef Py_ssize_t dr = 0, dc = 0
    cdef bint any_out = rows > 0 and cols > 0
    cdef const floating* gp = &gamma[0] if gamma is not None and any_out else NULL
    cdef floating* dxp = NULL
    cdef floating* dgp = &dgamma[0] if dgamma is not None and any_out else NULL
    cdef floating* dbp = &dbeta[0] if dbeta is not None and any_out else NULL
    cdef int t, parts
    cdef unsigned int csr
    cdef Span sp
    if not any_out:
        return
    if dX is not None:
        dxp = &dX[0, 0]
        dr = _stride(dX.strides[0], it)
        dc = _stride(dX.strides[1], it)
    parts = parts_for(<double>rows * cols * 6, 40000, n_threads, cols)
    with nogil:
        for t in prange(parts, num_threads=run_threads(parts), schedule='static'):
            csr = cydl_ftz_begin()
            sp = split_range(cols, parts, t, 1)
            bn_backward_cols(rows, sp.lo, sp.hi, &G[0, 0], gr, gc, &X[0, 0], sr, sc,
                             &mean[0], &var[0], gp, eps, batch_stats, dxp, dr, dc, dgp, dbp)
            cydl_ftz_end(csr)
