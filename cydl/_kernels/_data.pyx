"""Batch assembly and input checks that touch the data once and allocate nothing.

Training data stays as the user passed it (float32, float64 or uint8, C order);
each batch's rows are gathered, by index for shuffled epochs, and converted into a
reused buffer of the model's dtype.
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.string cimport memcpy
from libc.math cimport isfinite
from cydl._kernels._parallel cimport Span, split_range, parts_for, run_threads, cydl_prefetch

cdef enum:
    GATHER_AHEAD = 16


cdef void gather_rows_span(const src_t* X, Py_ssize_t ld, Py_ssize_t ncols,
                           const long long* idx, Py_ssize_t start, Py_ssize_t r0,
                           Py_ssize_t r1, floating* out) noexcept nogil:
    """out[r, :] = X[idx[start + r], :] (or X[start + r] when idx is NULL), r in [r0, r1)."""
    cdef Py_ssize_t r, c, row, off, nbytes = ncols * sizeof(src_t)
    cdef const src_t* src
    cdef floating* dst
    cdef const char* ahead
    # Shuffled rows come from all over a data set bigger than the caches: each row
    # starts with a cache miss the hardware cannot foresee. Asking for the row
    # GATHER_AHEAD places ahead overlaps those misses (gather of 512 rows of 784
    # floats: -25 %; a short span is already in cache: _parts.pyx's prefetch_next).
    cdef bint prefetch = idx != NULL and r1 - r0 >= 4 * GATHER_AHEAD
    for r in range(r0, r1):
        row = idx[start + r] if idx != NULL else start + r
        if prefetch and r + GATHER_AHEAD < r1:
            ahead = <const char*>(X + idx[start + r + GATHER_AHEAD] * ld)
            off = 0
            while off < nbytes:
                cydl_prefetch(ahead + off)
                off += 64
        src = X + row * ld
        dst = out + r * ncols
        if (src_t is float and floating is float) or (src_t is double and floating is double):
            memcpy(dst, src, ncols * sizeof(floating))
        else:
            for c in range(ncols):
                dst[c] = <floating>src[c]


def gather_rows(const src_t[:, ::1] X, const long long[::1] idx, Py_ssize_t start,
                Py_ssize_t stop,
                floating[:, ::1] out, int n_threads):
    """out[:stop-start] = X[idx[start:stop]] (X[start:stop] when idx is None), cast."""
    cdef Py_ssize_t n = stop - start, ncols = X.shape[1], nrows = X.shape[0], k
    cdef Py_ssize_t limit = idx.shape[0] if idx is not None else nrows
    cdef const long long* ip = NULL
    cdef int t, parts
    cdef Span sp
    if not 0 <= start <= stop <= limit:
        raise ValueError(f"Need 0 <= start <= stop <= {limit} ("
                         f"{'entries of idx' if idx is not None else 'rows of X'}). "
                         f"Received start={start}, stop={stop}")
    if out.shape[0] < n or out.shape[1] != ncols:
        raise ValueError(f"out must have at least {n} rows and {ncols} columns. Received "
                         f"shape=({out.shape[0]}, {out.shape[1]})")
    if n == 0:
        return
    if idx is not None:
        ip = &idx[0]
        # the rows are read through raw pointers; a C loop here costs nanoseconds
        for k in range(start, stop):
            if ip[k] < 0 or ip[k] >= nrows:
                raise ValueError(f"idx[{k}] = {ip[k]} is not a row index in [0, {nrows})")
    parts = parts_for(<double>n * ncols, 200000, n_threads, n)
    with nogil:
        for t in prange(parts, num_threads=run_threads(parts), schedule='static'):
            sp = split_range(n, parts, t, 1)
            gather_rows_span(&X[0, 0], ncols, ncols, ip, start, sp.lo, sp.hi, &out[0, 0])


cdef Py_ssize_t find_nonfinite(const floating* x, Py_ssize_t n) noexcept nogil:
    """Index of the first NaN or inf in x[0:n], or -1.

    A block at a time, the exponent bits of every element are tested and or-ed
    together: a loop without an early exit, which the compiler vectorizes (about 20x
    faster than testing isfinite element by element, which cannot be). Only a block
    that has a non-finite value is searched element by element."""
    cdef Py_ssize_t i, lo = 0, hi
    cdef const unsigned int* u4 = <const unsigned int*>x
    cdef const unsigned long long* u8 = <const unsigned long long*>x
    cdef unsigned int bad
    while lo < n:
        hi = lo + 2048 if lo + 2048 < n else n
        bad = 0
        if floating is float:
            for i in range(lo, hi):
                bad |= (u4[i] & 0x7f800000u) == 0x7f800000u
        else:
            for i in range(lo, hi):
                bad |= (u8[i] & 0x7ff0000000000000ull) == 0x7ff0000000000000ull
        if bad:
            for i in range(lo, hi):
                if not isfinite(x[i]):
                    return i
        lo = hi
    return -1


def first_nonfinite(const floating[::1] x, int n_threads):
    """Index of the first NaN or inf in x, or -1."""
    cdef Py_ssize_t n = x.shape[0], best = -1
    cdef int t, parts
    cdef Span sp
    cdef Py_ssize_t found[64]
    if n == 0:
        return -1
    parts = parts_for(<double>n, 4000000, min(n_threads, 64), n)
    if parts == 1:      # no parallel region for small inputs (latency of predict)
        with nogil:
            best = find_nonfinite(&x[0], n)
        return best
    with nogil:
        for t in prange(parts, num_threads=run_threads(parts), schedule='static'):
            sp = split_range(n, parts, t, 1)
            found[t] = find_nonfinite(&x[0] + sp.lo, sp.hi - sp.lo)
            if found[t] >= 0:
                found[t] = found[t] + sp.lo
    for t in range(parts):
        if found[t] >= 0:
            return found[t]
    return -1


ctypedef fused label_t:
    int
    long long


def labels_to_int32(const label_t[::1] y, int n_classes, int[::1] out):
    """Copy integer labels into out, returning the index of the first label outside
    [0, n_classes), or -1."""
    cdef Py_ssize_t i, n = y.shape[0], bad = -1
    with nogil:
        for i in range(n):
            if y[i] < 0 or y[i] >= n_classes:
                bad = i
                break
            out[i] = <int>y[i]
    return bad
