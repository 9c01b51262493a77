"""Dropout masks from a counter-based generator, and the masked affine map.

Element i of a call's mask is kept when the top 53 bits of
``mix64(key + (i + 1) * GOLDEN)`` fall below ``keep_prob * 2**53``: the SplitMix64
output for position i of a stream keyed by the call. Each mask bit is a pure
function of (key, i), with i the element's C-order (logical) index, so masks are
the same for any thread count, any split and any memory layout of the input, and
a call can be replayed from its key alone.

One map covers Dropout and AlphaDropout: ``y = a x + b`` where kept, ``c`` where
dropped (Dropout: a = 1 / (1 - rate), b = c = 0).
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.stdint cimport uint64_t
from cydl._kernels._parallel cimport (Span, split_range, parts_for, run_threads,
                                      cydl_ftz_begin, cydl_ftz_end)

from cydl._kernels._rng cimport mix64, kept, call_key as _call_key

cdef uint64_t MASK64 = 0xFFFFFFFFFFFFFFFFULL


def call_key(seed, step):
    """The stream key of call number `step` of a layer seeded with `seed` (ints)."""
    return _call_key(<uint64_t>(int(seed) & MASK64), <uint64_t>(int(step) & MASK64))


def keep_threshold(double keep_prob):
    """keep_prob as a threshold on 53-bit integers (keep_prob = 1 keeps all)."""
    if keep_prob >= 1:
        return <uint64_t>1 << 53
    if keep_prob <= 0:
        return 0
    return <uint64_t>(keep_prob * 9007199254740992.0)


cdef void fwd_span(bint by_cols, Py_ssize_t lo, Py_ssize_t hi, Py_ssize_t rows,
                   Py_ssize_t cols, const floating* X, Py_ssize_t xr, Py_ssize_t xc,
                   unsigned char* M, Py_ssize_t mr, Py_ssize_t mc,
                   floating* Y, Py_ssize_t yr, Py_ssize_t yc,
                   uint64_t key, uint64_t thr, floating a, floating b,
                   floating c) noexcept nogil:
    """Draw the mask and apply the map on columns [lo, hi) (by_cols) or rows [lo, hi),
    walking the input's contiguous axis innermost."""
    cdef Py_ssize_t i, j
    cdef unsigned char k
    if by_cols:
        for j in range(lo, hi):
            for i in range(rows):
                k = kept(key, <uint64_t>(i * cols + j), thr)
                M[i * mr + j * mc] = k
                Y[i * yr + j * yc] = a * X[i * xr + j * xc] + b if k else c
    else:
        for i in range(lo, hi):
            for j in range(cols):
                k = kept(key, <uint64_t>(i * cols + j), thr)
                M[i * mr + j * mc] = k
                Y[i * yr + j * yc] = a * X[i * xr + j * xc] + b if k else c


cdef void apply_span(bint by_cols, Py_ssize_t lo, Py_ssize_t hi, Py_ssize_t rows,
                     Py_ssize_t cols, const floating* X, Py_ssize_t xr, Py_ssize_t xc,
                     const unsigned char* M, Py_ssize_t mr, Py_ssize_t mc,
                     floating* Y, Py_ssize_t yr, Py_ssize_t yc,
                     floating a, floating b, floating c) noexcept nogil:
    cdef Py_ssize_t i, j
    if by_cols:
        for j in range(lo, hi):
            for i in range(rows):
                Y[i * yr + j * yc] = a * X[i * xr + j * xc] + b if M[i * mr + j * mc] else c
    else:
        for i in range(lo, hi):
            for j in range(cols):
                Y[i * yr + j * yc] = a * X[i * xr + j * xc] + b if M[i * mr + j * mc] else c


cdef void mask_span(Py_ssize_t lo, Py_ssize_t hi, unsigned char* M, uint64_t key,
                    uint64_t thr, uint64_t first) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(lo, hi):
        M[i] = kept(key, first + <uint64_t>i, thr)


cdef inline Py_ssize_t _el(Py_ssize_t nbytes, Py_ssize_t item) noexcept nogil:
    return nbytes // item


def dropout_forward(const floating[:, :] X, unsigned char[:, :] M, floating[:, :] Y,
                    uint64_t key, uint64_t thr, double a, double b, double c,
                    int n_threads):
    """M = the call's mask (1: kept); Y = a X + b where kept, c where dropped."""
    cdef Py_ssize_t rows = X.shape[0], cols = X.shape[1], it = sizeof(floating)
    cdef Py_ssize_t xr = _el(X.strides[0], it), xc = _el(X.strides[1], it)
    cdef Py_ssize_t yr = _el(Y.strides[0], it), yc = _el(Y.strides[1], it)
    cdef Py_ssize_t mr = M.strides[0], mc = M.strides[1]
    cdef bint by_cols = xr == 1 and cols > 1
    cdef Py_ssize_t n = cols if by_cols else rows
    cdef int t, parts
    cdef unsigned int csr
    cdef Span sp
    if rows == 0 or cols == 0:
        return
    parts = parts_for(<double>rows * cols * 4, 40000, n_threads, n)
    with nogil:
        for t in prange(parts, num_threads=run_threads(parts), schedule='static'):
            csr = cydl_ftz_begin()      # denormals flushed, as in the fused step (_cpu.h)
            sp = split_range(n, parts, t, 1)
            fwd_span(by_cols, sp.lo, sp.hi, rows, cols, &X[0, 0], xr, xc, &M[0, 0], mr, mc,
                     &Y[0, 0], yr, yc, key, thr, <floating>a, <floating>b, <floating>c)
            cydl_ftz_end(csr)


def dropout_apply(const floating[:, :] X, const unsigned char[:, :] M, floating[:, :] Y,
                  double a, double b, double c, int n_threads):
    """Y = a X + b where M, c elsewhere (M may broadcast: zero strides). The backward
    pass is this map with b = c = 0 on the upstream gradient."""
    cdef Py_ssize_t rows = X.shape[0], cols = X.shape[1], it = sizeof(floating)
    cdef Py_ssize_t xr = _el(X.strides[0], it), xc = _el(X.strides[1], it)
    cdef Py_ssize_t yr = _el(Y.strides[0], it), yc = _el(Y.strides[1], it)
    cdef Py_ssize_t mr = M.strides[0], mc = M.strides[1]
    cdef bint by_cols = xr == 1 and cols > 1
    cdef Py_ssize_t n = cols if by_cols else rows
    cdef int t, parts
    cdef unsigned int csr
    cdef Span sp
    if rows == 0 or cols == 0:
        return
    parts = parts_for(<double>rows * cols, 40000, n_threads, n)
    with nogil:
        for t in prange(parts, num_threads=run_threads(parts), schedule='static'):
            csr = cydl_ftz_begin()
            sp = split_range(n, parts, t, 1)
            apply_span(by_cols, sp.lo, sp.hi, rows, cols, &X[0, 0], xr, xc, &M[0, 0], mr, mc,
                       &Y[0, 0], yr, yc, <floating>a, <floating>b, <floating>c)
            cydl_ftz_end(csr)


def dropout_mask(unsigned char[::1] M, uint64_t key, uint64_t thr, int n_threads,
                 uint64_t first=0):
    """M[i] = whether element first + i of the call's stream is kept (for a
    noise_shape mask, broadcast later; `first` > 0 for a slice of a larger batch, as a
    process of a data-parallel step holds)."""
    cdef Py_ssize_t n = M.shape[0]
    cdef int t, parts
    cdef unsigned int csr
    cdef Span sp
    if n == 0:
        return
    parts = parts_for(<double>n * 3, 40000, n_threads, n)
    with nogil:
        for t in prange(parts, num_threads=run_threads(parts), schedule='static'):
            sp = split_range(n, parts, t, 1)
            mask_span(sp.lo, sp.hi, &M[0], key, thr, first)
