"""The one BLAS wrapper: column-major GEMM through scipy.linalg.cython_blas.

Every matrix in the kernels is column-major with an explicit leading dimension.
A C-ordered (rows, cols) array is the column-major (cols x rows) matrix, so it is
passed with the opposite transpose flag; nothing is ever copied to change order.

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


cdef void gemm(char ta, char tb, int m, int n, int k, floating alpha,
               const floating* A, int lda, const floating* B, int ldb,
               floating beta, floating* C, int ldc) noexcept nogil:
    """C[m,n] := alpha op(A)[m,k] op(B)[k,n] + beta C (column-major, 'N' or 'T')."""
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
