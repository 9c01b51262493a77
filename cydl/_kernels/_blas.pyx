"""The one BLAS wrapper: column-major GEMM through scipy.linalg.cython_blas.

Every matrix in the kernels is column-major with an explicit leading dimension.
A C-ordered (rows, cols) array is the column-major (cols x rows) matrix, so it is
passed with the opposite transpose flag; this wrapper never copies to change order
(the fused step makes one such copy itself: _parts.row_copies).

GEMMs with one output row or column go to GEMV: OpenBLAS sgemm with n == 1 is about
10x slower than sgemv on the shapes of a dense layer.

cydl runs its own threads (OpenMP) and calls BLAS from inside them, so BLAS itself
must stay single-threaded while a kernel runs: `blas_pin` sets scipy's OpenBLAS to
one thread and returns the old count for `blas_unpin`.
"""
from cython cimport floating
from scipy.linalg.cython_blas cimport sgemm, dgemm, sgemv, dgemv
from libc.stdint cimport uintptr_t

ctypedef void (*set_threads_t)(int) noexcept nogil
ctypedef int (*get_threads_t)() noexcept nogil

cdef set_threads_t _set_threads = NULL
cdef get_threads_t _get_threads = NULL


def bind_thread_control(uintptr_t set_addr, uintptr_t get_addr):
    """Receive the addresses of openblas_set_num_threads / _get_num_threads of the
    OpenBLAS that scipy's cython_blas calls (found by cydl._ops._blas_threads)."""
    global _set_threads, _get_threads
    _set_threads = <set_threads_t>set_addr
    _get_threads = <get_threads_t>get_addr


cdef int blas_pin() noexcept nogil:
    cdef int old = 0
    if _get_threads != NULL and _set_threads != NULL:
        old = _get_threads()
        if old != 1:
            _set_threads(1)
    return old


cdef void blas_unpin(int old) noexcept nogil:
    if _set_threads != NULL and old > 1:
        _set_threads(old)


cdef inline void _gemv(char t, int m, int n, floating alpha, const floating* A, int lda,
                       const floating* x, int incx, floating beta, floating* y,
                       int incy) noexcept nogil:
    if floating is float:
        sgemv(&t, &m, &n, &alpha, <float*>A, &lda, <float*>x, &incx, &beta, y, &incy)
    else:
        dgemv(&t, &m, &n, &alpha, <double*>A, &lda, <double*>x, &incx, &beta, y, &incy)


cdef enum:
    # What OpenBLAS's small-matrix SGEMM kernels accept (SkylakeX-family cores,
    # kernel/x86_64/sgemm_small_kernel_permit_skylakex.c): M*N*K <= 100^3, not
    # A^T B^T, and for A^T B also M*N <= 1200 and K >= 32
    SMALL_MNK = 1000000
    SMALL_TN_MN = 1200
    # pieces at least this many rows tall, where the columns allow (1 thread, the
    # MLP's shapes: 64 within 3 % of 32, 128 up to 8 % slower at K 512-784)
    TILE_MIN_ROWS = 32
    # past TILE_MAX_K pieces get too thin to pay (TILE_TN_MIN_K: _blas.pxd)
    TILE_MAX_K = 2048

cdef bint _small = False


cdef bint tn_packs(int k) noexcept nogil:
    """Whether a float A^T B GEMM with inner size k goes to OpenBLAS whole, packed,
    where an A B GEMM of the same shape would run on its small kernels in pieces."""
    return _small and k < TILE_TN_MIN_K


cdef bint gemm_packs(char ta, char tb, int n, int k, bint beta0) noexcept nogil:
    """Whether a float GEMM with N columns and inner size K goes to OpenBLAS whole,
    which packs both operands (not in pieces for its small kernels)."""
    cdef int cm, cn
    return not (_small and _tiles(ta, tb, n, k, beta0, &cm, &cn))


def set_small_tiles(bint on):
    """Whether float GEMMs are cut into pieces that OpenBLAS runs on its small-matrix
    kernels. cydl turns it on where OpenBLAS has them (cydl._ops._blas_threads);
    returns the previous setting. For A/B measurements and tests."""
    global _small
    old = _small
    _small = on
    return old


cdef void gemm(char ta, char tb, int m, int n, int k, floating alpha,
               const floating* A, int lda, const floating* B, int ldb,
               floating beta, floating* C, int ldc) noexcept nogil:
    """C[m,n] := alpha op(A)[m,k] op(B)[k,n] + beta C (column-major, 'N' or 'T').

    OpenBLAS packs both operands of every GEMM it runs on its main kernels: for the
    shapes of a dense layer's step (a few hundred rows, a thread's 50-150 units)
    packing costs 10-40 % of the call. Where it also has small-matrix kernels,
    which read the operands in place, a float GEMM goes to them in pieces they
    accept: one thread's GEMMs of the benchmark MLP's step take 0.71-0.93x the
    time (benchmarks/lab/small_gemm.py). The pieces depend on N and K alone, and
    _pieces ends each call so that a row's result depends on neither its batch nor
    its place in it, nor on the thread count."""
    cdef int cm, cn, j, nn
    if floating is float:
        if _small and m > 1 and n > 1 and _tiles(ta, tb, n, k, beta == 0, &cm, &cn):
            if m >= n:
                # rows outer: a row piece of op(A) stays in cache for every column
                # piece, and op(B), the smaller operand, is read again from cache
                # (in-process A/B at batch 512: the first layer's GEMMs 4-7 % faster)
                _pieces(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, cm, cn)
                return
            j = 0           # columns outer: op(A), the smaller, is read again
            while j < n:
                nn = _next_cols(n - j, cn)
                _pieces(ta, tb, m, nn, k, alpha, A, lda,
                        B + (<Py_ssize_t>j * ldb if tb == c'N' else j), ldb, beta,
                        C + <Py_ssize_t>j * ldc, ldc, cm, nn)
                j += nn
            return
    _gemm1(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc)


cdef inline int _next_cols(int left, int cn) noexcept nogil:
    """Columns of the next piece: cn, except that no piece gets one column alone."""
    if left == cn + 1:
        return (cn + 1) // 2
    return min(cn, left)


cdef void _pieces(char ta, char tb, int m, int n, int k, float alpha, const float* A,
                  int lda, const float* B, int ldb, float beta, float* C,
                  int ldc, int cm, int cn) noexcept nogil:
    """The rows, cm at a time, each row piece in column pieces of cn, ending so that
    every row is computed the same way wherever it sits (kernel/x86_64/
    sgemm_small_kernel_*_skylakex.c). The A B kernel sums a row with one FMA chain over
    K, except the last 1-8 rows of a call when K >= 32, which it sums as dot products:
    the body here is a multiple of 16 rows and the last 17-33 rows go in pieces of 9-15
    rows. The A^T B kernel reduces a dot product in two orders, one of them only for the
    last (rows mod 4) rows and (columns mod 4) columns: every piece is a multiple of 4
    rows, the last 4 rows again on their own (beta is 0 there, so rows computed twice
    get the same values). The A B^T kernel has one order."""
    # Py_ssize_t: i + cm must not overflow an int for m near INT_MAX
    cdef Py_ssize_t i = 0, body = m
    cdef int t = 0, h, end
    cdef bint dot_tail = ta == c'N' and tb == c'N' and k >= 32     # AB's other order
    if dot_tail:
        t = m % 16
        end = 16 + t if t >= 2 else 33
        if 1 <= t <= 8 and m >= end:
            body = m - end
    elif ta == c'T':
        if m % 4 and m >= 4:
            body = m - m % 4
    elif m > cm and m % cm == 1:        # no one-row piece: two halves
        body = m - cm - 1
    while i < body:
        _piece(ta, tb, <int>min(cm, body - i), n, k, alpha, A, lda, B, ldb, beta, C, ldc, i, cn)
        i += cm
    if body == m:
        return
    if ta == c'T':
        _piece(ta, tb, 4, n, k, alpha, A, lda, B, ldb, beta, C, ldc, m - 4, cn)
    elif dot_tail and t >= 2:
        _piece(ta, tb, 9, n, k, alpha, A, lda, B, ldb, beta, C, ldc, body, cn)
        _piece(ta, tb, 7 + t, n, k, alpha, A, lda, B, ldb, beta, C, ldc, body + 9, cn)
    elif dot_tail:
        for h in range(3):
            _piece(ta, tb, 11, n, k, alpha, A, lda, B, ldb, beta, C, ldc, body + 11 * h, cn)
    else:
        h = <int>((m - body) // 2)
        _piece(ta, tb, h, n, k, alpha, A, lda, B, ldb, beta, C, ldc, body, cn)
        _piece(ta, tb, <int>(m - body - h), n, k, alpha, A, lda, B, ldb, beta, C, ldc, body + h,
               cn)


cdef inline void _piece(char ta, char tb, int m, int n, int k, float alpha, const float* A,
                        int lda, const float* B, int ldb, float beta, float* C,
                        int ldc, Py_ssize_t i, int cn) noexcept nogil:
    # rows i..i+m, in column pieces of cn, straight to sgemm (a one-row or
    # one-column call is not a GEMV here: the small kernel sums it like the others)
    cdef int j = 0, nn
    cdef const float* a = A + (i if ta == c'N' else i * lda)
    while j < n:
        nn = _next_cols(n - j, cn)
        sgemm(&ta, &tb, &m, &nn, &k, &alpha, <float*>a, &lda,
              <float*>(B + (<Py_ssize_t>j * ldb if tb == c'N' else j)), &ldb, &beta,
              C + i + <Py_ssize_t>j * ldc, &ldc)
        j += nn


cdef bint _tiles(char ta, char tb, int n, int k, bint beta0, int* cm, int* cn) noexcept nogil:
    """Whether a float GEMM with N columns and inner size K goes to OpenBLAS's small
    kernels in pieces, and the piece's rows and columns: as many columns as keep
    TILE_MIN_ROWS rows within the kernels' bounds (all of N if they fit, else a
    multiple of 8), then as many rows as those columns allow (a multiple of 16).
    A^T B only with beta 0 (see _pieces)."""
    cdef bint tn = ta == c'T' and tb == c'N'
    cdef long c, r
    if (ta == c'T' and tb == c'T') or n < 1 or k < 1 or k > TILE_MAX_K or \
            (tn and (k < TILE_TN_MIN_K or not beta0)):
        return False
    c = SMALL_MNK // (<long>TILE_MIN_ROWS * k)
    if tn:
        c = min(c, SMALL_TN_MN // TILE_MIN_ROWS)
    c = n if n <= c else max(8, c // 8 * 8)
    r = SMALL_MNK // (c * k)
    if tn:
        r = min(r, SMALL_TN_MN // c)
    if r < 16:
        return False
    cm[0] = <int>(r // 16 * 16)
    cn[0] = <int>c
    return True


cdef void _gemm1(char ta, char tb, int m, int n, int k, floating alpha,
                 const floating* A, int lda, const floating* B, int ldb,
                 floating beta, floating* C, int ldc) noexcept nogil:
    cdef int i, j
    if m <= 0 or n <= 0:
        return
    if k <= 0:
        for j in range(n):
            for i in range(m):
                C[i + <Py_ssize_t>j * ldc] = 0 if beta == 0 else beta * C[i + <Py_ssize_t>j * ldc]
        return
    if n == 1:
        # C[:, 0] = op(A) x, x = op(B)[:, 0]
        if ta == c'N':
            _gemv(c'N', m, k, alpha, A, lda, B, 1 if tb == c'N' else ldb, beta, C, 1)
        else:
            _gemv(c'T', k, m, alpha, A, lda, B, 1 if tb == c'N' else ldb, beta, C, 1)
    elif m == 1:
        # C[0, :] = op(B)^T a, a = op(A)[0, :]
        if tb == c'N':
            _gemv(c'T', k, n, alpha, B, ldb, A, lda if ta == c'N' else 1, beta, C, ldc)
        else:
            _gemv(c'N', n, k, alpha, B, ldb, A, lda if ta == c'N' else 1, beta, C, ldc)
    elif floating is float:
        sgemm(&ta, &tb, &m, &n, &k, &alpha, <float*>A, &lda, <float*>B, &ldb, &beta, C, &ldc)
    else:
        dgemm(&ta, &tb, &m, &n, &k, &alpha, <double*>A, &lda, <double*>B, &ldb, &beta, C, &ldc)


def tile_shape(str ta, str tb, int n, int k, bint beta0=True):
    """(rows, columns) of the pieces a float GEMM with N columns and inner size K is
    cut into when small tiles are on (and it has 2 rows and 2 columns or more), or
    None for one call. For tests."""
    cdef int cm = 0, cn = 0
    if _tiles(ord(ta), ord(tb), n, k, beta0, &cm, &cn):
        return cm, cn
    return None


def gemm_into(str ta, str tb, int m, int n, int k, double alpha, const floating[::1] A,
              int lda, const floating[::1] B, int ldb, double beta, floating[::1] C,
              int ldc):
    """C := alpha op(A) op(B) + beta C through `gemm`, on flat column-major buffers
    with explicit leading dimensions (strided views of bigger matrices). For tests."""
    cdef char a = ord(ta) if ta in ("N", "T") else 0
    cdef char b = ord(tb) if tb in ("N", "T") else 0
    if not a or not b:
        raise ValueError(f"ta and tb must be 'N' or 'T'. Received ta={ta!r}, tb={tb!r}")
    if m < 0 or n < 0 or k < 0:
        raise ValueError(f"m, n, k must be >= 0. Received m={m}, n={n}, k={k}")
    for name, buf, rows, cols, ld in (("A", A, m if ta == "N" else k, k if ta == "N" else m, lda),
                                      ("B", B, k if tb == "N" else n, n if tb == "N" else k, ldb),
                                      ("C", C, m, n, ldc)):
        if ld < max(1, rows) or (rows and cols and buf.shape[0] < ld * (cols - 1) + rows):
            raise ValueError(f"{name} needs leading dimension >= {max(1, rows)} and "
                             f"{ld * (cols - 1) + rows} elements. Received ld={ld}, "
                             f"size={buf.shape[0]}")
    if m == 0 or n == 0:
        return
    cdef const floating* pa = &A[0] if k else NULL     # k == 0: C := beta C only
    cdef const floating* pb = &B[0] if k else NULL
    with nogil:
        gemm(a, b, m, n, k, <floating>alpha, pa, lda, pb, ldb, <floating>beta, &C[0], ldc)
