"""Scalar math in the precision of the data: float calls the f-suffixed libm
routines, so float32 kernels never round-trip through double."""
from cython cimport floating
from libc.math cimport (exp, expf, log, logf, log1p, log1pf, tanh, tanhf, sqrt,
                        sqrtf, erf, erff, fabs, fabsf)


cdef inline floating fexp(floating x) noexcept nogil:
    if floating is float:
        return expf(x)
    else:
        return exp(x)


cdef inline floating flog(floating x) noexcept nogil:
    if floating is float:
        return logf(x)
    else:
        return log(x)


cdef inline floating flog1p(floating x) noexcept nogil:
    if floating is float:
        return log1pf(x)
    else:
        return log1p(x)


cdef inline floating ftanh(floating x) noexcept nogil:
    if floating is float:
        return tanhf(x)
    else:
        return tanh(x)


cdef inline floating fsqrt(floating x) noexcept nogil:
    if floating is float:
        return sqrtf(x)
    else:
        return sqrt(x)


cdef inline floating ferf(floating x) noexcept nogil:
    if floating is float:
        return erff(x)
    else:
        return erf(x)


cdef inline floating fabsx(floating x) noexcept nogil:
    if floating is float:
        return fabsf(x)
    else:
        return fabs(x)


cdef inline floating fsigmoid(floating z) noexcept nogil:
    """1 / (1 + e^-z) without overflow for either sign of z."""
    cdef floating e
    if z >= 0:
        return 1 / (1 + fexp(-z))
    e = fexp(z)
    return e / (1 + e)


cdef inline floating fsoftplus(floating z) noexcept nogil:
    """log(1 + e^z) = max(z, 0) + log1p(e^-|z|)."""
    return (z if z > 0 else 0) + flog1p(fexp(-fabsx(z)))
