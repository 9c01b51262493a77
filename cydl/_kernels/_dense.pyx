"""Dense layer kernels on column blocks.

Shapes, all column-major: X (B x n_in) or its row-major twin, W (n_in x n_out),
Z and A (B x n_out). Threads split the output columns, so a thread's block of W
(its units' incoming weights) is contiguous and is the same block in forward,
weight gradient and optimizer step.
"""
from cython cimport floating
from cython.parallel cimport prange
from cydl._kernels._blas cimport gemm, blas_pin, blas_unpin
from cydl._kernels._parallel cimport (Span, split_range, parts_for, run_threads,
                                      cydl_ftz_begin, cydl_ftz_end)
from cydl._kernels._activations cimport (bias_act_forward, act_backward, softmax_rows,
                                         softmax_backward_rows, ACT_SOFTMAX, ACT_LINEAR)



cdef int layout(Py_ssize_t rows, Py_ssize_t cols, Py_ssize_t s0, Py_ssize_t s1,
                Py_ssize_t item, char* trans, Py_ssize_t* ld) noexcept nogil:
    """How BLAS sees a (rows x cols) array with byte strides (s0, s1): 'N' with the
    column stride, or 'T' (row-major) with the row stride. -1 if neither is unit."""
    if s0 == item or cols == 1:
        trans[0] = c'N'
        ld[0] = s1 // item if cols > 1 else rows
        if ld[0] < rows:
            ld[0] = rows
        return 0
    if s1 == item or rows == 1:
        trans[0] = c'T'
        ld[0] = s0 // item if rows > 1 else cols
        if ld[0] < cols:
            ld[0] = cols
        return 0
    return -1


cdef void dense_forward_cols(int act, floating alpha, Py_ssize_t B, Py_ssize_t n_in,
                             const floating* X, Py_ssize_t ldx, char xt,
                             const floating* W, Py_ssize_t ldw, const floating* bias,
                             floating* Z, Py_ssize_t ldz, floating* A, Py_ssize_t lda,
                             Py_ssize_t c0, Py_ssize_t c1) noexcept nogil:
    """Z[:, c0:c1] = X W[:, c0:c1]; A[:, c0:c1] = act(Z + bias) (softmax: A = Z + bias)."""
    if c1 <= c0:
        return
    gemm(xt, c'N', <int>B, <int>(c1 - c0), <int>n_in, <floating>1, X, <int>ldx,
         W + c0 * ldw, <int>ldw, <floating>0, Z + c0 * ldz, <int>ldz)
    bias_act_forward(act, alpha, B, c0, c1, Z, ldz, bias, A, lda)


cdef void dense_weight_grad_cols(Py_ssize_t B, Py_ssize_t n_in,
                                 const floating* X, Py_ssize_t ldx, char xt,
                                 const floating* dZ, Py_ssize_t lddz,
                                 floating* dW, Py_ssize_t ldw, floating* db,
                                 Py_ssize_t c0, Py_ssize_t c1, floating beta) noexcept nogil:
    """dW[:, c0:c1] = X^T dZ[:, c0:c1] + beta dW; db[c] = sum_r dZ[r, c] + beta db[c]."""
    if c1 <= c0:
        return
    gemm(c'T' if xt == c'N' else c'N', c'N', <int>n_in, <int>(c1 - c0), <int>B,
         <floating>1, X, <int>ldx, dZ + c0 * lddz, <int>lddz, beta, dW + c0 * ldw, <int>ldw)
    if db != NULL:
        bias_grad_cols(B, dZ, lddz, db, c0, c1, beta)


cdef void dense_weight_grad_rows(Py_ssize_t B, Py_ssize_t n_out,
                                 const floating* X, Py_ssize_t ldx, char xt,
                                 const floating* dZ, Py_ssize_t lddz,
                                 floating* dW, Py_ssize_t ldw,
                                 Py_ssize_t i0, Py_ssize_t i1, floating beta,
                                 floating alpha=1) noexcept nogil:
    """dW[i0:i1, :] = X[:, i0:i1]^T dZ + beta dW[i0:i1, :] (rows of dW: input units)."""
    if i1 <= i0:
        return
    if xt == c'N':      # X column-major (B x n_in): its columns i0..i1
        gemm(c'T', c'N', <int>(i1 - i0), <int>n_out, <int>B, alpha, X + i0 * ldx,
             <int>ldx, dZ, <int>lddz, beta, dW + i0, <int>ldw)
    else:               # X row-major: the column-major (n_in x B) matrix's rows i0..i1
        gemm(c'N', c'N', <int>(i1 - i0), <int>n_out, <int>B, alpha, X + i0,
             <int>ldx, dZ, <int>lddz, beta, dW + i0, <int>ldw)


cdef void bias_grad_cols(Py_ssize_t B, const floating* dZ, Py_ssize_t lddz, floating* db,
                         Py_ssize_t c0, Py_ssize_t c1, floating beta) noexcept nogil:
    """db[c] = sum_r dZ[r, c] + beta db[c] for c in [c0, c1).

    Each column is summed in SUM_LANES interleaved partial sums (lane j takes rows
    j, j + SUM_LANES, ...) added up in a fixed tree at the end. One running sum is
    a chain of dependent adds, 3-4 cycles each: at batch 512 the first layer's 150
    columns per thread took 59 us of a 3.3 ms step, 4.7 us in lanes. The order is
    fixed by this code, not by the compiler or the SIMD width, so every build and
    thread count gets the same bits."""
    cdef Py_ssize_t r, c, j, w, full = B - B % SUM_LANES
    cdef floating acc[SUM_LANES]
    cdef const floating* col
    for c in range(c0, c1):
        col = dZ + c * lddz
        for j in range(SUM_LANES):
            acc[j] = 0
        r = 0
        while r < full:
            for j in range(SUM_LANES):
                acc[j] = acc[j] + col[r + j]
            r = r + SUM_LANES
        for j in range(B - full):
            acc[j] = acc[j] + col[full + j]
        w = SUM_LANES // 2
        while w > 0:
            for j in range(w):
                acc[j] = acc[j] + acc[j + w]
            w = w // 2
        db[c] = acc[0] if beta == 0 else acc[0] + beta * db[c]


cdef void dense_input_grad_cols(Py_ssize_t B, Py_ssize_t n_out,
                                const floating* dZ, Py_ssize_t lddz,
                                const floating* W, Py_ssize_t ldw,
                                floating* dX, Py_ssize_t lddx,
                                Py_ssize_t i0, Py_ssize_t i1, floating beta) noexcept nogil:
    """dX[:, i0:i1] = dZ W[i0:i1, :]^T + beta dX[:, i0:i1]."""
    if i1 <= i0:
        return
    gemm(c'N', c'T', <int>B, <int>(i1 - i0), <int>n_out, <floating>1, dZ, <int>lddz,
         W + i0, <int>ldw, beta, dX + i0 * lddx, <int>lddx)


# ----------------------------------------------------------------- drivers
# One call per op for the per-layer path (cydl._ops validates and allocates).

def dense_forward(const floating[:, :] X, const floating[::1, :] W, const floating[::1] bias,
                  floating[::1, :] Z, floating[::1, :] A, int act, double alpha,
                  int n_threads):
    """Z = X W (+ bias); A = act(Z). A may be Z (then Z is not kept)."""
    cdef Py_ssize_t B = X.shape[0], n_in = X.shape[1], n_out = W.shape[1]
    cdef Py_ssize_t ldx, ldz = Z.strides[1] // sizeof(floating)
    cdef Py_ssize_t lda = A.strides[1] // sizeof(floating), ldw = W.strides[1] // sizeof(floating)
    cdef char xt
    cdef int t, parts, old
    cdef unsigned int csr
    cdef Span sp
    cdef const floating* bp = &bias[0] if bias is not None else NULL
    if layout(B, n_in, X.strides[0], X.strides[1], sizeof(floating), &xt, &ldx) < 0:
        raise ValueError("X must be C- or F-contiguous")
    if B == 0:
        return
    if ldz < B:
        ldz = B
    if lda < B:
        lda = B
    if ldw < n_in:
        ldw = n_in
    parts = parts_for(<double>B * n_in * n_out, GEMM_MIN_WORK, n_threads, n_out)
    with nogil:
        old = blas_pin()
        for t in prange(parts, num_threads=run_threads(parts), schedule='static'):
            csr = cydl_ftz_begin()      # denormals flushed, as in the fused step (_cpu.h)
            sp = split_range(n_out, parts, t, COL_ALIGN)
            dense_forward_cols(act, <floating>alpha, B, n_in, &X[0, 0], ldx, xt, &W[0, 0], ldw,
                               bp, &Z[0, 0], ldz, &A[0, 0], lda, sp.lo, sp.hi)
            cydl_ftz_end(csr)
        if act == ACT_SOFTMAX:
            parts = parts_for(<double>B * n_out * 20, GEMM_MIN_WORK, n_threads, B)
            for t in prange(parts, num_threads=run_threads(parts), schedule='static'):
                csr = cydl_ftz_begin()
                sp = split_range(B, parts, t, 1)
                softmax_rows(sp.lo, sp.hi, n_out, &A[0, 0], lda, &A[0, 0], lda)
                cydl_ftz_end(csr)
        blas_unpin(old)


def dense_backward(const floating[::1, :] dA, const floating[:, :] X,
                   const floating[::1, :] W, const floating[::1, :] A,
                   const floating[::1, :] Z, floating[::1, :] dZ,
                   floating[::1, :] dW, floating[::1] db, floating[::1, :] dX,
                   int act, double alpha, bint accumulate, int n_threads):
    """dZ = dA * act'(.), dW (+)= X^T dZ, db (+)= colsum dZ, dX = dZ W^T.

    dW (with db) and dX may each be None to skip them.

    Pass act=ACT_LINEAR when dA already is the gradient of the pre-activation.
    dZ may be dA; Z may be None unless the activation needs it.
    """
    cdef Py_ssize_t B = X.shape[0], n_in = X.shape[1], n_out = W.shape[1]
    cdef Py_ssize_t ldx, ldw = W.strides[1] // sizeof(floating)
    cdef Py_ssize_t ldda = dA.strides[1] // sizeof(floating), lda = A.strides[1] // sizeof(floating)
    cdef Py_ssize_t lddz = dZ.strides[1] // sizeof(floating), lddw = n_in
    cdef Py_ssize_t ldz = 0, lddx = 0
    cdef char xt
    cdef int t, parts, parts_x, old
    cdef unsigned int csr
    cdef Span sp
    cdef floating beta = 1 if accumulate else 0
    cdef floating* dbp = &db[0] if db is not None else NULL
    cdef const floating* zp = NULL
    cdef floating* dxp = NULL
    cdef floating* dwp = NULL
    if dW is not None:
        dwp = &dW[0, 0]
        lddw = dW.strides[1] // sizeof(floating)
    else:
        dbp = NULL
    if layout(B, n_in, X.strides[0], X.strides[1], sizeof(floating), &xt, &ldx) < 0:
        raise ValueError("X must be C- or F-contiguous")
    if Z is not None:
        zp = &Z[0, 0]
        ldz = max(B, Z.strides[1] // sizeof(floating))
    if dX is not None:
        dxp = &dX[0, 0]
        lddx = max(B, dX.strides[1] // sizeof(floating))
    ldw = max(ldw, n_in)
    lddw = max(lddw, n_in)
    ldda = max(ldda, B)
    lda = max(lda, B)
    lddz = max(lddz, B)
    if B == 0:
        return
    with nogil:
        old = blas_pin()
        if act == ACT_SOFTMAX:
            parts = parts_for(<double>B * n_out * 8, GEMM_MIN_WORK, n_threads, B)
            for t in prange(parts, num_threads=run_threads(parts), schedule='static'):
                csr = cydl_ftz_begin()
                sp = split_range(B, parts, t, 1)
                softmax_backward_rows(sp.lo, sp.hi, n_out, &dA[0, 0], ldda, &A[0, 0], lda,
                                      &dZ[0, 0], lddz)
                cydl_ftz_end(csr)
        elif act != ACT_LINEAR or &dZ[0, 0] != &dA[0, 0]:
            parts = parts_for(<double>B * n_out * 4, GEMM_MIN_WORK, n_threads, n_out)
            for t in prange(parts, num_threads=run_threads(parts), schedule='static'):
                csr = cydl_ftz_begin()
                sp = split_range(n_out, parts, t, COL_ALIGN)
                act_backward(act, <floating>alpha, B, sp.lo, sp.hi, &dA[0, 0], ldda,
                             &A[0, 0], lda, zp, ldz, &dZ[0, 0], lddz)
                cydl_ftz_end(csr)
        parts = 0
        if dwp != NULL:
            parts = parts_for(<double>B * n_in * n_out, GEMM_MIN_WORK, n_threads, n_out)
        parts_x = 0
        if dxp != NULL:
            parts_x = parts_for(<double>B * n_in * n_out, GEMM_MIN_WORK, n_threads, n_in)
        for t in prange(n_threads if n_threads > 1 else 1, num_threads=run_threads(n_threads),
                        schedule='static'):
            csr = cydl_ftz_begin()
            # the input-gradient parts start on the last thread, so two one-part
            # GEMMs run side by side instead of on the same thread
            if t < parts:
                sp = split_range(n_out, parts, t, COL_ALIGN)
                dense_weight_grad_cols(B, n_in, &X[0, 0], ldx, xt, &dZ[0, 0], lddz,
                                       dwp, lddw, dbp, sp.lo, sp.hi, beta)
            if n_threads - 1 - t < parts_x:
                sp = split_range(n_in, parts_x, n_threads - 1 - t, COL_ALIGN)
                dense_input_grad_cols(B, n_out, &dZ[0, 0], lddz, &W[0, 0], ldw,
                                      dxp, lddx, sp.lo, sp.hi, 0)
            cydl_ftz_end(csr)
        blas_unpin(old)
