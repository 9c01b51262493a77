"""PReLU on a (rows, units) matrix with one learned slope per column.

Any strides: dense outputs arrive column-major (each unit one contiguous column),
N-D activations row-major. Work is split over columns, so each slope's gradient is
summed by one thread and the result does not depend on the thread count.
"""
from cython cimport floating
from cython.parallel cimport prange
from cydl._kernels._parallel cimport (Span, split_range, parts_for, run_threads,
                                      cydl_ftz_begin, cydl_ftz_end)


cdef void prelu_fwd_cols(Py_ssize_t rows, Py_ssize_t c0, Py_ssize_t c1,
                         const floating* X, Py_ssize_t xr, Py_ssize_t xc,
                         const floating* alpha, floating* Y, Py_ssize_t yr,
                         Py_ssize_t yc) noexcept nogil:
    cdef Py_ssize_t r, c
    cdef floating x, s
    for c in range(c0, c1):
        s = alpha[c]
        for r in range(rows):
            x = X[r * xr + c * xc]
            Y[r * yr + c * yc] = x if x > 0 else s * x


cdef void prelu_bwd_cols(Py_ssize_t rows, Py_ssize_t c0, Py_ssize_t c1,
                         const floating* G, Py_ssize_t gr, Py_ssize_t gc,
                         const floating* X, Py_ssize_t xr, Py_ssize_t xc,
                         const floating* alpha, floating* dX, Py_ssize_t dr,
                         Py_ssize_t dc, floating* dalpha) noexcept nogil:
    """dX = g where x > 0 else alpha g (dX may be NULL); dalpha += sum of x g where
    x < 0 (dalpha may be NULL)."""
    cdef Py_ssize_t r, c
    cdef floating x, g, s
    cdef double acc
    for c in range(c0, c1):
        s = alpha[c]
        acc = 0
        for r in range(rows):
            x = X[r * xr + c * xc]
            g = G[r * gr + c * gc]
            if dX != NULL:
                dX[r * dr + c * dc] = g if x > 0 else s * g
            if x < 0:
                acc += x * g
        if dalpha != NULL:
            dalpha[c] += <floating>acc


cdef inline Py_ssize_t _el(Py_ssize_t nbytes, Py_ssize_t item) noexcept nogil:
    return nbytes // item


def prelu_forward(const floating[:, :] X, const floating[::1] alpha, floating[:, :] Y,
                  int n_threads):
    """Y = X where X > 0, alpha[c] X elsewhere."""
    cdef Py_ssize_t rows = X.shape[0], cols = X.shape[1], it = sizeof(floating)
    cdef int t, parts
    cdef unsigned int csr
    cdef Span sp
    if rows == 0 or cols == 0:
        return
    parts = parts_for(<double>rows * cols, 40000, n_threads, cols)
    with nogil:
        for t in prange(parts, num_threads=run_threads(parts), schedule='static'):
            csr = cydl_ftz_begin()      # denormals flushed, as in the fused step (_cpu.h)
            sp = split_range(cols, parts, t, 1)
            prelu_fwd_cols(rows, sp.lo, sp.hi, &X[0, 0], _el(X.strides[0], it),
                           _el(X.strides[1], it), &alpha[0], &Y[0, 0],
                           _el(Y.strides[0], it), _el(Y.strides[1], it))
            cydl_ftz_end(csr)


def prelu_backward(const floating[:, :] G, const floating[:, :] X,
                   const floating[::1] alpha, floating[:, :] dX, floating[::1] dalpha,
                   int n_threads):
    """dX (None: skip) and dalpha += (None: skip) from the upstream gradient G."""
    cdef Py_ssize_t rows = X.shape[0], cols = X.shape[1], it = sizeof(floating)
    cdef floating* dxp = NULL
    cdef floating* dap = NULL
    cdef Py_ssize_t dr = 0, dc = 0
    cdef int t, parts
    cdef unsigned int csr
    cdef Span sp
    if rows == 0 or cols == 0:
        return
    if dX is not None:
        dxp = &dX[0, 0]
        dr = _el(dX.strides[0], it)
        dc = _el(dX.strides[1], it)
    if dalpha is not None:
        dap = &dalpha[0]
    parts = parts_for(<double>rows * cols * 2, 40000, n_threads, cols)
    with nogil:
        for t in prange(parts, num_threads=run_threads(parts), schedule='static'):
            csr = cydl_ftz_begin()
            sp = split_range(cols, parts, t, 1)
            prelu_bwd_cols(rows, sp.lo, sp.hi, &G[0, 0], _el(G.strides[0], it),
                           _el(G.strides[1], it), &X[0, 0], _el(X.strides[0], it),
                           _el(X.strides[1], it), &alpha[0], dxp, dr, dc, dap)
            cydl_ftz_end(csr)
