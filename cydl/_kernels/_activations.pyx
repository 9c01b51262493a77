"""Elementwise activations on column blocks of column-major (rows x cols) matrices.

Forward adds the bias and applies the activation in one pass over the GEMM output.
Backward multiplies the upstream gradient by the derivative, written in terms of the
output A wherever A determines it (relu, sigmoid, tanh, elu, ...), so those layers
need to keep only A. GELU, swish and mish keep the pre-activation Z as well.
Softmax couples a whole row, so it has row-block functions of its own.
"""
from cython cimport floating
from cydl._kernels._math cimport (fexp, flog1p, ftanh, fsqrt, ferf, fabsx, fsigmoid,
                                  fsoftplus)
from libc.math cimport expm1, expm1f, M_PI

cdef double SELU_ALPHA = 1.6732632423543772848170429916717
cdef double SELU_SCALE = 1.0507009873554804934193349852946

NAMES = {
    "linear": ACT_LINEAR, "relu": ACT_RELU, "sigmoid": ACT_SIGMOID, "tanh": ACT_TANH,
    "softmax": ACT_SOFTMAX, "elu": ACT_ELU, "selu": ACT_SELU,
    "leaky_relu": ACT_LEAKY_RELU, "gelu": ACT_GELU, "gelu_tanh": ACT_GELU_TANH,
    "swish": ACT_SWISH, "mish": ACT_MISH, "softplus": ACT_SOFTPLUS,
    "softsign": ACT_SOFTSIGN, "exponential": ACT_EXPONENTIAL,
    "hard_sigmoid": ACT_HARD_SIGMOID, "relu6": ACT_RELU6,
}


def needs_z(int act, double alpha):
    return act_needs_z(act, alpha)


cdef bint act_needs_z(int act, double alpha) noexcept nogil:
    if act == ACT_GELU or act == ACT_GELU_TANH or act == ACT_SWISH or act == ACT_MISH:
        return True
    if act == ACT_ELU and alpha <= 0:
        return True
    if act == ACT_LEAKY_RELU and alpha < 0:
        return True
    return False


cdef inline floating _expm1(floating x) noexcept nogil:
    if floating is float:
        return expm1f(x)
    else:
        return expm1(x)


cdef inline floating _f(int act, floating alpha, floating z) noexcept nogil:
    """act(z) for every elementwise activation."""
    cdef floating t
    if act == ACT_LINEAR:
        return z
    elif act == ACT_RELU:
        return z if z > 0 else 0
    elif act == ACT_SIGMOID:
        return fsigmoid(z)
    elif act == ACT_TANH:
        return ftanh(z)
    elif act == ACT_ELU:
        return z if z > 0 else alpha * _expm1(z)
    elif act == ACT_SELU:
        return <floating>SELU_SCALE * (z if z > 0 else <floating>SELU_ALPHA * _expm1(z))
    elif act == ACT_LEAKY_RELU:
        return z if z > 0 else alpha * z
    elif act == ACT_GELU:
        return <floating>0.5 * z * (1 + ferf(z * <floating>0.7071067811865476))
    elif act == ACT_GELU_TANH:
        t = ftanh(<floating>0.7978845608028654 * (z + <floating>0.044715 * z * z * z))
        return <floating>0.5 * z * (1 + t)
    elif act == ACT_SWISH:
        return z * fsigmoid(z)
    elif act == ACT_MISH:
        return z * ftanh(fsoftplus(z))
    elif act == ACT_SOFTPLUS:
        return fsoftplus(z)
    elif act == ACT_SOFTSIGN:
        return z / (1 + fabsx(z))
    elif act == ACT_EXPONENTIAL:
        return fexp(z)
    elif act == ACT_HARD_SIGMOID:
        t = z / 6 + <floating>0.5
        return 0 if t <= 0 else (1 if t >= 1 else t)
    elif act == ACT_RELU6:
        return 0 if z <= 0 else (6 if z >= 6 else z)
    return z


cdef inline floating _df(int act, floating alpha, floating a, floating z) noexcept nogil:
    """d act / dz, from the output a (and z where a does not determine it)."""
    cdef floating s, t, u, sp
    if act == ACT_LINEAR:
        return 1
    elif act == ACT_RELU:
        return 1 if a > 0 else 0
    elif act == ACT_SIGMOID:
        return a * (1 - a)
    elif act == ACT_TANH:
        return 1 - a * a
    elif act == ACT_ELU:
        if alpha <= 0:
            return 1 if z > 0 else alpha * fexp(z)
        return 1 if a > 0 else a + alpha
    elif act == ACT_SELU:
        return <floating>SELU_SCALE if a > 0 else a + <floating>(SELU_SCALE * SELU_ALPHA)
    elif act == ACT_LEAKY_RELU:
        if alpha < 0:
            return 1 if z > 0 else alpha
        return 1 if a > 0 else alpha
    elif act == ACT_GELU:
        return (<floating>0.5 * (1 + ferf(z * <floating>0.7071067811865476))
                + z * fexp(<floating>-0.5 * z * z) * <floating>0.3989422804014327)
    elif act == ACT_GELU_TANH:
        u = <floating>0.7978845608028654 * (z + <floating>0.044715 * z * z * z)
        t = ftanh(u)
        return (<floating>0.5 * (1 + t) + <floating>0.5 * z * (1 - t * t)
                * <floating>0.7978845608028654 * (1 + <floating>0.134145 * z * z))
    elif act == ACT_SWISH:
        s = fsigmoid(z)
        return s * (1 + z * (1 - s))
    elif act == ACT_MISH:
        sp = ftanh(fsoftplus(z))
        return sp + z * (1 - sp * sp) * fsigmoid(z)
    elif act == ACT_SOFTPLUS:
        return -_expm1(-a)
    elif act == ACT_SOFTSIGN:
        t = 1 - fabsx(a)
        return t * t
    elif act == ACT_EXPONENTIAL:
        return a
    elif act == ACT_HARD_SIGMOID:
        return <floating>(1.0 / 6.0) if (a > 0 and a < 1) else 0
    elif act == ACT_RELU6:
        return 1 if (a > 0 and a < 6) else 0
    return 1


cdef void bias_act_forward(int act, floating alpha, Py_ssize_t rows,
                           Py_ssize_t c0, Py_ssize_t c1,
                           floating* Z, Py_ssize_t ldz, const floating* bias,
                           floating* A, Py_ssize_t lda) noexcept nogil:
    """Z[:, c] += bias[c]; A[:, c] = act(Z[:, c]) for c in [c0, c1). A may alias Z;
    bias may be NULL. Softmax is not elementwise: it is left to softmax_rows."""
    # The relu and linear loops load before they select and never store under a
    # condition, so that GCC vectorizes them (it will not if-convert otherwise).
    cdef Py_ssize_t r, c
    cdef floating b, z
    cdef floating* zc
    cdef floating* ac
    # Without a bias Z already holds the pre-activation: no store, so Z may be
    # read-only memory (activation_forward's input).
    cdef bint keep_z = A != Z and bias != NULL
    for c in range(c0, c1):
        zc = Z + c * ldz
        ac = A + c * lda
        b = bias[c] if bias != NULL else 0
        if act == ACT_RELU and not keep_z:
            for r in range(rows):
                z = zc[r] + b
                ac[r] = z if z > 0 else 0
        elif act == ACT_RELU:
            for r in range(rows):
                z = zc[r] + b
                zc[r] = z
                ac[r] = z if z > 0 else 0
        elif act == ACT_LINEAR or act == ACT_SOFTMAX:
            for r in range(rows):
                ac[r] = zc[r] + b
            if keep_z and b != 0:
                for r in range(rows):
                    zc[r] = ac[r]
        else:
            for r in range(rows):
                z = zc[r] + b
                if keep_z:
                    zc[r] = z
                ac[r] = _f(act, alpha, z)


cdef void act_backward(int act, floating alpha, Py_ssize_t rows,
                       Py_ssize_t c0, Py_ssize_t c1,
                       const floating* dA, Py_ssize_t ldda,
                       const floating* A, Py_ssize_t lda,
                       const floating* Z, Py_ssize_t ldz,
                       floating* dZ, Py_ssize_t lddz) noexcept nogil:
    """dZ[:, c] = dA[:, c] * act'(.) for c in [c0, c1). dZ may alias dA; Z may be NULL
    unless act_needs_z. Not for softmax (see softmax_backward_rows)."""
    cdef Py_ssize_t r, c
    cdef const floating* dac
    cdef const floating* ac
    cdef floating* dzc
    cdef floating d
    for c in range(c0, c1):
        dac = dA + c * ldda
        ac = A + c * lda
        dzc = dZ + c * lddz
        if act == ACT_LINEAR:
            if dzc != dac:
                for r in range(rows):
                    dzc[r] = dac[r]
        elif act == ACT_RELU:
            for r in range(rows):
                d = dac[r]
                dzc[r] = d if ac[r] > 0 else 0
        elif Z != NULL:
            for r in range(rows):
                dzc[r] = dac[r] * _df(act, alpha, ac[r], Z[c * ldz + r])
        else:
            for r in range(rows):
                dzc[r] = dac[r] * _df(act, alpha, ac[r], 0)


cdef void softmax_rows(Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t cols,
                       const floating* Z, Py_ssize_t ldz,
                       floating* A, Py_ssize_t lda) noexcept nogil:
    """A[r, :] = softmax(Z[r, :]) for r in [r0, r1), max-shifted. A may alias Z."""
    cdef Py_ssize_t r, c
    cdef floating m, s, e
    for r in range(r0, r1):
        m = Z[r]
        for c in range(1, cols):
            if Z[r + c * ldz] > m:
                m = Z[r + c * ldz]
        s = 0
        for c in range(cols):
            e = fexp(Z[r + c * ldz] - m)
            A[r + c * lda] = e
            s += e
        s = 1 / s
        for c in range(cols):
            A[r + c * lda] *= s


cdef void softmax_backward_rows(Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t cols,
                                const floating* dA, Py_ssize_t ldda,
                                const floating* A, Py_ssize_t lda,
                                floating* dZ, Py_ssize_t lddz) noexcept nogil:
    """dZ[r, :] = A[r, :] * (dA[r, :] - sum_c dA[r, c] A[r, c]). dZ may alias dA."""
    cdef Py_ssize_t r, c
    cdef floating dot
    for r in range(r0, r1):
        dot = 0
        for c in range(cols):
            dot = dot + dA[r + c * ldda] * A[r + c * lda]
        for c in range(cols):
            dZ[r + c * lddz] = A[r + c * lda] * (dA[r + c * ldda] - dot)


# ----------------------------------------------------------------- drivers

from cython.parallel cimport prange
from cydl._kernels._parallel cimport (Span, split_range, parts_for, run_threads,
                                      cydl_ftz_begin, cydl_ftz_end)


def activation_forward(const floating[::1, :] Z, floating[::1, :] A, int act, double alpha,
                       int n_threads):
    """A = act(Z) over a column-major (rows x cols) array; softmax along each row.
    A may be Z."""
    cdef Py_ssize_t rows = Z.shape[0], cols = Z.shape[1]
    cdef int t, parts
    cdef unsigned int csr
    cdef Span sp
    if rows == 0 or cols == 0:
        return
    with nogil:
        if act == ACT_SOFTMAX:
            parts = parts_for(<double>rows * cols * 20, 40000, n_threads, rows)
            for t in prange(parts, num_threads=run_threads(parts), schedule='static'):
                csr = cydl_ftz_begin()      # denormals flushed, as in the fused step (_cpu.h)
                sp = split_range(rows, parts, t, 1)
                softmax_rows(sp.lo, sp.hi, cols, &Z[0, 0], rows, &A[0, 0], rows)
                cydl_ftz_end(csr)
        else:
            parts = parts_for(<double>rows * cols * 8, 40000, n_threads, cols)
            for t in prange(parts, num_threads=run_threads(parts), schedule='static'):
                csr = cydl_ftz_begin()
                sp = split_range(cols, parts, t, 1)
                # no bias: bias_act_forward does not write Z
                bias_act_forward(act, <floating>alpha, rows, sp.lo, sp.hi,
                                 <floating*>&Z[0, 0], rows, <const floating*>NULL,
                                 &A[0, 0], rows)
                cydl_ftz_end(csr)


def activation_backward(const floating[::1, :] dA, const floating[::1, :] A,
                        const floating[::1, :] Z, floating[::1, :] dZ, int act, double alpha,
                        int n_threads):
    """dZ = dA * act'(.) (softmax: the row-wise Jacobian product). dZ may be dA."""
    cdef Py_ssize_t rows = dA.shape[0], cols = dA.shape[1]
    cdef const floating* zp = &Z[0, 0] if Z is not None and rows * cols > 0 else NULL
    cdef int t, parts
    cdef unsigned int csr
    cdef Span sp
    if rows == 0 or cols == 0:
        return
    with nogil:
        if act == ACT_SOFTMAX:
            parts = parts_for(<double>rows * cols * 8, 40000, n_threads, rows)
            for t in prange(parts, num_threads=run_threads(parts), schedule='static'):
                csr = cydl_ftz_begin()
                sp = split_range(rows, parts, t, 1)
                softmax_backward_rows(sp.lo, sp.hi, cols, &dA[0, 0], rows, &A[0, 0], rows,
                                      &dZ[0, 0], rows)
                cydl_ftz_end(csr)
        else:
            parts = parts_for(<double>rows * cols * 8, 40000, n_threads, cols)
            for t in prange(parts, num_threads=run_threads(parts), schedule='static'):
                csr = cydl_ftz_begin()
                sp = split_range(cols, parts, t, 1)
                act_backward(act, <floating>alpha, rows, sp.lo, sp.hi, &dA[0, 0], rows,
                             &A[0, 0], rows, zp, rows, &dZ[0, 0], rows)
                cydl_ftz_end(csr)
