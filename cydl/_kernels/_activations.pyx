"""Elementwise activations on column blocks of column-major (rows x cols) matrices.

Forward adds the bias and applies the activation in one pass over the GEMM output.
Backward multiplies the upstream gradient by the derivative, written in terms of the
output A wherever A determines it (relu, sigmoid, tanh, elu, ...), so those layers
need to keep only A. GELU, swish and mish keep the pre-activation Z as well.
Softmax couples a whole row, so it has row-block functions of its own.

The per-op drivers at the bottom take 2-D operands of any strides, each operand
with its own: a column-major weight meets a row-major gradient under a tape, and
walking both as flat buffers would pair the wrong elements. Operands that share an
order take the vectorized loops; mixed orders take the strided twins (no copy).
"""
from cython cimport floating
from cydl._kernels._math cimport (fexp, flog1p, ftanh, fsqrt, ferf, fabsx, fsigmoid,
                                  fsoftplus)
from libc.math cimport expm1, expm1f, M_PI

# The relu / linear forward and relu, sigmoid and tanh backward loops in every
# instruction-set variant, one picked at import (_vec_dispatch.h); the variant follows
# CYDL_SIMD as the optimizer's does (_optim.pyx).
cdef extern from "_vec_act.h" nogil:
    int cydl_va_set(int level)
    int cydl_va_level()
    void cydl_va_bias_relu_f(Py_ssize_t rows, Py_ssize_t ncols, float* Z, Py_ssize_t ldz,
                             const float* bias, float* A, Py_ssize_t lda, int store_z)
    void cydl_va_bias_relu_d(Py_ssize_t rows, Py_ssize_t ncols, double* Z, Py_ssize_t ldz,
                             const double* bias, double* A, Py_ssize_t lda, int store_z)
    void cydl_va_bias_linear_f(Py_ssize_t rows, Py_ssize_t ncols, float* Z, Py_ssize_t ldz,
                               const float* bias, float* A, Py_ssize_t lda, int store_z)
    void cydl_va_bias_linear_d(Py_ssize_t rows, Py_ssize_t ncols, double* Z,
                               Py_ssize_t ldz, const double* bias, double* A,
                               Py_ssize_t lda, int store_z)
    void cydl_va_backward_f(int which, Py_ssize_t rows, Py_ssize_t ncols, const float* dA,
                            Py_ssize_t ldda, const float* A, Py_ssize_t lda, float* dZ,
                            Py_ssize_t lddz)
    void cydl_va_backward_d(int which, Py_ssize_t rows, Py_ssize_t ncols, const double* dA,
                            Py_ssize_t ldda, const double* A, Py_ssize_t lda, double* dZ,
                            Py_ssize_t lddz)

# Softmax across rows with its own exp (_vec_loss.h), on the same variant.
cdef extern from "_vec_loss.h" nogil:
    int cydl_vl_set(int level)
    void cydl_vl_softmax_f(Py_ssize_t n, Py_ssize_t C, const float* Z, Py_ssize_t zr,
                           Py_ssize_t zc, float* A, Py_ssize_t ar, Py_ssize_t ac)
    void cydl_vl_softmax_d(Py_ssize_t n, Py_ssize_t C, const double* Z, Py_ssize_t zr,
                           Py_ssize_t zc, double* A, Py_ssize_t ar, Py_ssize_t ac)


def simd_variant():
    """The variant (_optim.SIMD_VARIANTS) the activation loops use now."""
    from cydl._kernels._optim import SIMD_VARIANTS
    return SIMD_VARIANTS[cydl_va_level()]


def set_simd(name):
    """Use the variant `name` for the activation loops, softmax and the softmax cross-
    entropy of _losses (see _optim.set_simd)."""
    from cydl._kernels import _losses
    from cydl._kernels._optim import SIMD_VARIANTS, simd_level
    level = simd_level(name)
    cydl_va_set(level)
    cydl_vl_set(level)          # this module's softmax
    return _losses.set_simd(SIMD_VARIANTS[level])


from cydl._kernels._optim import simd_variant as _optim_simd_variant
set_simd(_optim_simd_variant())        # the variant CYDL_SIMD (or the CPU) chose

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
    # relu and linear (and softmax's bias) run the vectorized loops of _vec_act.h.
    cdef Py_ssize_t r, c
    cdef floating b, z
    cdef floating* zc
    cdef floating* ac
    # Without a bias Z already holds the pre-activation: no store, so Z may be
    # read-only memory (activation_forward's input).
    cdef bint keep_z = A != Z and bias != NULL
    if act == ACT_RELU:
        if floating is float:
            cydl_va_bias_relu_f(rows, c1 - c0, Z + c0 * ldz, ldz,
                                bias + c0 if bias != NULL else NULL, A + c0 * lda, lda, keep_z)
        else:
            cydl_va_bias_relu_d(rows, c1 - c0, Z + c0 * ldz, ldz,
                                bias + c0 if bias != NULL else NULL, A + c0 * lda, lda, keep_z)
        return
    if act == ACT_LINEAR or act == ACT_SOFTMAX:
        if floating is float:
            cydl_va_bias_linear_f(rows, c1 - c0, Z + c0 * ldz, ldz,
                                  bias + c0 if bias != NULL else NULL, A + c0 * lda, lda,
                                  keep_z)
        else:
            cydl_va_bias_linear_d(rows, c1 - c0, Z + c0 * ldz, ldz,
                                  bias + c0 if bias != NULL else NULL, A + c0 * lda, lda,
                                  keep_z)
        return
    for c in range(c0, c1):
        zc = Z + c * ldz
        ac = A + c * lda
        b = bias[c] if bias != NULL else 0
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
    # the derivatives of relu, sigmoid and tanh depend on A alone (their Z-path and
    # A-path agree): the vectorized loops, `which` 0, 1, 2
    cdef int which = 0 if act == ACT_RELU else (1 if act == ACT_SIGMOID else
                                                 (2 if act == ACT_TANH else -1))
    if which >= 0:
        if floating is float:
            cydl_va_backward_f(which, rows, c1 - c0, dA + c0 * ldda, ldda, A + c0 * lda, lda,
                               dZ + c0 * lddz, lddz)
        else:
            cydl_va_backward_d(which, rows, c1 - c0, dA + c0 * ldda, ldda, A + c0 * lda, lda,
                               dZ + c0 * lddz, lddz)
        return
    for c in range(c0, c1):
        dac = dA + c * ldda
        ac = A + c * lda
        dzc = dZ + c * lddz
        if act == ACT_LINEAR:
            if dzc != dac:
                for r in range(rows):
                    dzc[r] = dac[r]
        elif Z != NULL:
            for r in range(rows):
                dzc[r] = dac[r] * _df(act, alpha, ac[r], Z[c * ldz + r])
        else:
            for r in range(rows):
                dzc[r] = dac[r] * _df(act, alpha, ac[r], 0)


cdef void softmax_rows(Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t cols,
                       const floating* Z, Py_ssize_t ldz,
                       floating* A, Py_ssize_t lda) noexcept nogil:
    """A[r, :] = softmax(Z[r, :]) for r in [r0, r1), max-shifted. A may alias Z.
    Vectorized across rows (_vec_loss.h)."""
    if floating is float:
        cydl_vl_softmax_f(r1 - r0, cols, Z + r0, 1, ldz, A + r0, 1, lda)
    else:
        cydl_vl_softmax_d(r1 - r0, cols, Z + r0, 1, ldz, A + r0, 1, lda)


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



# Strided twins of the loops above for the per-op path, where operands arrive in
# any memory order: 2-D weights are column-major views of the flat buffer, while the
# gradients NumPy hands back are row-major. Each operand brings its own (inner,
# outer) element strides, so nothing is copied to a common layout, and a pair of
# operands in different orders is still walked element for element.

cdef void act_forward_strided(int act, floating alpha, Py_ssize_t n_in,
                              Py_ssize_t o0, Py_ssize_t o1,
                              const floating* Z, Py_ssize_t zi, Py_ssize_t zo,
                              floating* A, Py_ssize_t ai, Py_ssize_t ao) noexcept nogil:
    """A[i, o] = act(Z[i, o]) for i < n_in, o in [o0, o1)."""
    cdef Py_ssize_t i, o, ib, ob, ie, oe
    cdef floating z
    # 32 x 32 tiles, so that the operand walked across its long stride stays in cache
    for ob in range(o0, o1, 32):
        oe = ob + 32 if ob + 32 < o1 else o1
        for ib in range(0, n_in, 32):
            ie = ib + 32 if ib + 32 < n_in else n_in
            for o in range(ob, oe):
                for i in range(ib, ie):
                    z = Z[i * zi + o * zo]
                    A[i * ai + o * ao] = _f(act, alpha, z)


cdef void act_backward_strided(int act, floating alpha, Py_ssize_t n_in,
                               Py_ssize_t o0, Py_ssize_t o1,
                               const floating* dA, Py_ssize_t gi, Py_ssize_t go,
                               const floating* A, Py_ssize_t ai, Py_ssize_t ao,
                               const floating* Z, Py_ssize_t zi, Py_ssize_t zo,
                               floating* dZ, Py_ssize_t di, Py_ssize_t do) noexcept nogil:
    """dZ[i, o] = dA[i, o] * act'(A[i, o], Z[i, o]); Z may be NULL unless act_needs_z."""
    cdef Py_ssize_t i, o, ib, ob, ie, oe
    cdef floating z, a
    for ob in range(o0, o1, 32):
        oe = ob + 32 if ob + 32 < o1 else o1
        for ib in range(0, n_in, 32):
            ie = ib + 32 if ib + 32 < n_in else n_in
            for o in range(ob, oe):
                if act == ACT_RELU:
                    for i in range(ib, ie):
                        # both loads before the select: a branch here mispredicts
                        a = A[i * ai + o * ao]
                        z = dA[i * gi + o * go]
                        dZ[i * di + o * do] = z if a > 0 else 0
                else:
                    for i in range(ib, ie):
                        z = Z[i * zi + o * zo] if Z != NULL else 0
                        dZ[i * di + o * do] = dA[i * gi + o * go] * \
                            _df(act, alpha, A[i * ai + o * ao], z)


cdef void softmax_rows_strided(Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t cols,
                               const floating* Z, Py_ssize_t zr, Py_ssize_t zc,
                               floating* A, Py_ssize_t ar, Py_ssize_t ac) noexcept nogil:
    """softmax_rows with a row and a column stride per operand. A may alias Z. Every
    layout runs the one vectorized routine, so the bits do not depend on it."""
    if floating is float:
        cydl_vl_softmax_f(r1 - r0, cols, Z + r0 * zr, zr, zc, A + r0 * ar, ar, ac)
    else:
        cydl_vl_softmax_d(r1 - r0, cols, Z + r0 * zr, zr, zc, A + r0 * ar, ar, ac)


cdef void softmax_backward_rows_strided(Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t cols,
                                        const floating* dA, Py_ssize_t gr, Py_ssize_t gc,
                                        const floating* A, Py_ssize_t ar, Py_ssize_t ac,
                                        floating* dZ, Py_ssize_t dr, Py_ssize_t dc) noexcept nogil:
    """softmax_backward_rows with a row and a column stride per operand."""
    cdef Py_ssize_t r, c
    cdef floating dot
    for r in range(r0, r1):
        dot = 0
        for c in range(cols):
            dot = dot + dA[r * gr + c * gc] * A[r * ar + c * ac]
        for c in range(cols):
            dZ[r * dr + c * dc] = A[r * ar + c * ac] * (dA[r * gr + c * gc] - dot)


# ----------------------------------------------------------------- drivers

from cython.parallel cimport prange
from cydl._kernels._parallel cimport (Span, split_range, parts_for, run_threads,
                                      cydl_ftz_begin, cydl_ftz_end)


cdef struct Operand:
    # element strides: along rows, along columns
    Py_ssize_t r
    Py_ssize_t c


cdef inline Operand _strides(Py_ssize_t rs, Py_ssize_t cs, Py_ssize_t rows, Py_ssize_t cols,
                             Py_ssize_t item) noexcept nogil:
    """Byte strides as element strides. The stride of an axis of length 1 is never
    used, so it is set to the value that lets the contiguous fast paths take it."""
    cdef Operand o
    o.r = rs // item
    o.c = cs // item
    if rows == 1:
        o.r = 1
    if cols == 1:
        o.c = 1 if rows == 1 else rows * o.r
    return o


cdef inline Operand _swap(Operand o) noexcept nogil:
    """The operand's strides in the transposed view."""
    cdef Operand t
    t.r = o.c
    t.c = o.r
    return t


cdef inline Py_ssize_t _iabs(Py_ssize_t x) noexcept nogil:
    return -x if x < 0 else x


def activation_forward(const floating[:, :] Z, floating[:, :] A, int act, double alpha,
                       int n_threads):
    """A = act(Z) elementwise over 2-D arrays of any strides; softmax along each row.
    A may be Z itself, but may not otherwise overlap it."""
    cdef Py_ssize_t rows = Z.shape[0], cols = Z.shape[1], item = sizeof(floating)
    cdef int t, parts
    cdef unsigned int csr
    cdef Span sp
    cdef Operand z, a
    cdef const floating* zp
    cdef floating* ap
    if A.shape[0] != rows or A.shape[1] != cols:
        raise ValueError(f"A {(A.shape[0], A.shape[1])} and Z {(rows, cols)} differ in shape")
    if rows == 0 or cols == 0:
        return
    z = _strides(Z.strides[0], Z.strides[1], rows, cols, item)
    a = _strides(A.strides[0], A.strides[1], rows, cols, item)
    zp = &Z[0, 0]
    ap = &A[0, 0]
    # Elementwise, the transposed problem is the same one: take the orientation in
    # which A's columns are its closer-spaced axis (a row-major pair then runs the
    # column-major loop).
    if act != ACT_SOFTMAX and not (z.r == 1 and a.r == 1) and \
            ((z.c == 1 and a.c == 1) or _iabs(a.r) > _iabs(a.c)):
        rows, cols = cols, rows
        z, a = _swap(z), _swap(a)
    with nogil:
        if act == ACT_SOFTMAX:
            parts = parts_for(<double>rows * cols * 20, 40000, n_threads, rows)
            for t in prange(parts, num_threads=run_threads(parts), schedule='static'):
                csr = cydl_ftz_begin()      # denormals flushed, as in the fused step (_cpu.h)
                sp = split_range(rows, parts, t, 1)
                softmax_rows_strided(sp.lo, sp.hi, cols, zp, z.r, z.c, ap, a.r, a.c)
                cydl_ftz_end(csr)
        elif z.r == 1 and a.r == 1:
            # columns contiguous (column-major): the vectorized loop over each column
            parts = parts_for(<double>rows * cols * 8, 40000, n_threads, cols)
            for t in prange(parts, num_threads=run_threads(parts), schedule='static'):
                csr = cydl_ftz_begin()
                sp = split_range(cols, parts, t, 1)
                # no bias: bias_act_forward does not write Z
                bias_act_forward(act, <floating>alpha, rows, sp.lo, sp.hi,
                                 <floating*>zp, z.c, <const floating*>NULL, ap, a.c)
                cydl_ftz_end(csr)
        else:
            # mixed orders: walk down A's columns (its shorter stride) with each
            # operand's own strides
            parts = parts_for(<double>rows * cols * 8, 40000, n_threads, cols)
            for t in prange(parts, num_threads=run_threads(parts), schedule='static'):
                csr = cydl_ftz_begin()
                sp = split_range(cols, parts, t, 1)
                act_forward_strided(act, <floating>alpha, rows, sp.lo, sp.hi,
                                    zp, z.r, z.c, ap, a.r, a.c)
                cydl_ftz_end(csr)


def activation_backward(const floating[:, :] dA, const floating[:, :] A,
                        const floating[:, :] Z, floating[:, :] dZ, int act, double alpha,
                        int n_threads):
    """dZ = dA * act'(.) (softmax: the row-wise Jacobian product) over 2-D arrays of
    any strides. dZ may be dA itself, but may not otherwise overlap an input."""
    cdef Py_ssize_t rows = dA.shape[0], cols = dA.shape[1], item = sizeof(floating)
    cdef int t, parts
    cdef unsigned int csr
    cdef Span sp
    cdef Operand g, a, z, d
    cdef const floating* gp
    cdef const floating* ap
    cdef const floating* zp = NULL
    cdef floating* dp
    if A.shape[0] != rows or A.shape[1] != cols or dZ.shape[0] != rows or \
            dZ.shape[1] != cols or (Z is not None and (Z.shape[0] != rows or Z.shape[1] != cols)):
        raise ValueError(f"dA, A, Z and dZ must all have shape {(rows, cols)}")
    if Z is None and act_needs_z(act, alpha):
        raise ValueError("this activation needs Z for its gradient")
    if rows == 0 or cols == 0:
        return
    g = _strides(dA.strides[0], dA.strides[1], rows, cols, item)
    a = _strides(A.strides[0], A.strides[1], rows, cols, item)
    d = _strides(dZ.strides[0], dZ.strides[1], rows, cols, item)
    z = d
    if Z is not None:
        z = _strides(Z.strides[0], Z.strides[1], rows, cols, item)
        zp = &Z[0, 0]
    gp = &dA[0, 0]
    ap = &A[0, 0]
    dp = &dZ[0, 0]
    if act != ACT_SOFTMAX and not (g.r == 1 and a.r == 1 and z.r == 1 and d.r == 1) and \
            ((g.c == 1 and a.c == 1 and z.c == 1 and d.c == 1) or _iabs(d.r) > _iabs(d.c)):
        rows, cols = cols, rows      # as in activation_forward
        g, a, z, d = _swap(g), _swap(a), _swap(z), _swap(d)
    with nogil:
        if act == ACT_SOFTMAX:
            parts = parts_for(<double>rows * cols * 8, 40000, n_threads, rows)
            for t in prange(parts, num_threads=run_threads(parts), schedule='static'):
                csr = cydl_ftz_begin()
                sp = split_range(rows, parts, t, 1)
                softmax_backward_rows_strided(sp.lo, sp.hi, cols, gp, g.r, g.c, ap, a.r, a.c,
                                              dp, d.r, d.c)
                cydl_ftz_end(csr)
        elif g.r == 1 and a.r == 1 and z.r == 1 and d.r == 1:
            parts = parts_for(<double>rows * cols * 8, 40000, n_threads, cols)
            for t in prange(parts, num_threads=run_threads(parts), schedule='static'):
                csr = cydl_ftz_begin()
                sp = split_range(cols, parts, t, 1)
                act_backward(act, <floating>alpha, rows, sp.lo, sp.hi, gp, g.c, ap, a.c,
                             zp, z.c, dp, d.c)
                cydl_ftz_end(csr)
        else:
            parts = parts_for(<double>rows * cols * 8, 40000, n_threads, cols)
            for t in prange(parts, num_threads=run_threads(parts), schedule='static'):
                csr = cydl_ftz_begin()
                sp = split_range(cols, parts, t, 1)
                act_backward_strided(act, <floating>alpha, rows, sp.lo, sp.hi, gp, g.r, g.c,
                                     ap, a.r, a.c, zp, z.r, z.c, dp, d.r, d.c)
                cydl_ftz_end(csr)
