"""Fused optimizer updates over one flat parameter buffer.

One pass reads p, g and the slots once and writes them once: gradient scaling
(clipnorm, global_clipnorm), clipvalue, decoupled weight decay and the update itself.
The Python optimizer owns the step count and the schedule and sets the per-step
scalars (c1..c3) once per step; the formulas are Keras 3's.
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.stdlib cimport malloc, free
from libc.math cimport sqrt
from cydl._kernels._math cimport fsqrt, fabsx
from cydl._kernels._parallel cimport (Span, split_range, parts_for, run_threads, cydl_ftz_begin,
                                      cydl_ftz_end)
import numpy as np

cdef extern from "_simd.h" nogil:
    void cydl_abs_sq_f(const float* p, Py_ssize_t n, double* s1, double* s2)
    void cydl_abs_sq_d(const double* p, Py_ssize_t n, double* s1, double* s2)

# The fast loops in every instruction-set variant, one picked at import (_vec_dispatch.h).
cdef extern from "_vec_update.h" nogil:
    int cydl_simd_supported(int level)
    int cydl_simd_best()
    int cydl_vu_set(int level)
    int cydl_vu_level()
    void cydl_vu_sgd_f(float* p, const float* g, Py_ssize_t n, float lr)
    void cydl_vu_sgd_d(double* p, const double* g, Py_ssize_t n, double lr)
    void cydl_vu_sgd_pen_f(float* p, const float* g, Py_ssize_t n, float lr, float l1,
                           float l2x2)
    void cydl_vu_sgd_pen_d(double* p, const double* g, Py_ssize_t n, double lr, double l1,
                           double l2x2)
    void cydl_vu_sgd_mom_f(float* p, const float* g, float* s1, Py_ssize_t n, float lr,
                           float mom, int nesterov)
    void cydl_vu_sgd_mom_d(double* p, const double* g, double* s1, Py_ssize_t n, double lr,
                           double mom, int nesterov)
    void cydl_vu_adam_f(float* p, const float* g, float* s1, float* s2, Py_ssize_t n,
                        float omb1, float omb2, float c1, float eps)
    void cydl_vu_adam_d(double* p, const double* g, double* s1, double* s2, Py_ssize_t n,
                        double omb1, double omb2, double c1, double eps)
    void cydl_vu_adam_pen_f(float* p, const float* g, float* s1, float* s2, Py_ssize_t n,
                            float omb1, float omb2, float c1, float eps, float l1,
                            float l2x2)
    void cydl_vu_adam_pen_d(double* p, const double* g, double* s1, double* s2,
                            Py_ssize_t n, double omb1, double omb2, double c1, double eps,
                            double l1, double l2x2)

SIMD_VARIANTS = ("default", "avx2", "avx512f")


def simd_available():
    """The instruction-set variants of the update loops this CPU runs."""
    return tuple(v for k, v in enumerate(SIMD_VARIANTS) if cydl_simd_supported(k))


def simd_variant():
    """The variant the update loops use now."""
    return SIMD_VARIANTS[cydl_vu_level()]


def simd_level(name):
    """The index in SIMD_VARIANTS of variant `name` ("auto": the widest this CPU
    runs); ValueError for an unknown name or one this CPU does not run. Every
    module with SIMD loops (the update here, _activations, _losses) owns its own
    dispatch table and sets it from this."""
    if name == "auto":
        return cydl_simd_best()
    if name not in SIMD_VARIANTS:
        raise ValueError(f"Unknown SIMD variant {name!r}. Known: {SIMD_VARIANTS + ('auto',)}")
    if not cydl_simd_supported(SIMD_VARIANTS.index(name)):
        raise ValueError(f"SIMD variant {name!r} is not supported by this CPU. "
                         f"Available: {simd_available()}")
    return SIMD_VARIANTS.index(name)


def set_simd(name):
    """Use variant `name` (one of simd_available(), or "auto" for the widest) from now
    on. Every variant gives the same bits; this exists for tests and A/B timing."""
    cydl_vu_set(simd_level(name))
    return simd_variant()


def _simd_from_env():
    import os
    import warnings
    want = os.environ.get("CYDL_SIMD", "").strip().lower() or "auto"
    try:
        set_simd(want)
    except ValueError as e:       # a bad pin must not make the library unimportable
        warnings.warn(f"CYDL_SIMD ignored: {e}", RuntimeWarning, stacklevel=2)
        set_simd("auto")


_simd_from_env()

KINDS = {"sgd": OPT_SGD, "adam": OPT_ADAM, "adamax": OPT_ADAMAX, "nadam": OPT_NADAM,
         "rmsprop": OPT_RMSPROP, "adagrad": OPT_ADAGRAD}

# Elements per thread below which the update is not split.
cdef Py_ssize_t MIN_CHUNK = 16384
# Entries whose penalty is summed just before their update (in L1 for both passes).
cdef Py_ssize_t PEN_CHUNK = 2048
# More threads than this buy nothing (cydl._ops.MAX_THREADS, the fused kernels' cap).
cdef int MAX_THREADS = 256


cdef bint slot_needed(const OptStep* s, int k) noexcept nogil:
    """Whether update_span reads slot k (0, 1, 2) under this configuration."""
    if s.kind == OPT_SGD:
        return k == 0 and s.momentum != 0
    if s.kind == OPT_ADAM:
        return k < 2 or s.amsgrad
    if s.kind == OPT_ADAMAX or s.kind == OPT_NADAM:
        return k < 2
    if s.kind == OPT_RMSPROP:
        return k == 0 or (k == 1 and s.centered) or (k == 2 and s.momentum > 0)
    return k == 0      # adagrad


cdef double sumsq(const floating* g, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    cdef Py_ssize_t i
    cdef double s = 0
    for i in range(lo, hi):
        s += <double>g[i] * g[i]
    return s


cdef void update_span(const OptStep* s, Py_ssize_t lo, Py_ssize_t hi, floating* p,
                      const floating* g, floating* s1, floating* s2, floating* s3,
                      floating gscale, double l1, double l2, double* pen) noexcept nogil:
    """p[lo:hi] <- one optimizer step with gradient gscale * (g + l1 sign(p) + 2 l2 p)
    (then clipvalue). With pen, the penalty l1 sum|p| + l2 sum p^2 of the weights
    before the step (the loss term Keras adds) is added to pen[0]."""
    cdef floating lr = <floating>s.lr, mom = <floating>s.momentum
    cdef floating b1 = <floating>s.beta1, b2 = <floating>s.beta2, eps = <floating>s.eps
    cdef floating rho = <floating>s.rho, cv = <floating>s.clipvalue
    cdef floating decay = 1 - <floating>(s.lr * s.weight_decay)
    cdef floating c1 = <floating>s.c1, c2 = <floating>s.c2, c3 = <floating>s.c3
    cdef bint wd = s.weight_decay != 0, clip = s.clipvalue > 0, scaled = gscale != 1
    cdef int kind = s.kind
    cdef unsigned int csr = cydl_ftz_begin()
    cdef Py_ssize_t a, b
    cdef double a1 = 0, a2 = 0
    if pen == NULL:
        _update_span(s, lo, hi, p, g, s1, s2, s3, gscale, lr, mom, b1, b2, eps, rho, cv,
                     decay, c1, c2, c3, wd, clip, scaled, kind, 0, 0, False)
    else:
        # chunks small enough to stay in L1 between the sums and the update
        a = lo
        while a < hi:
            b = a + PEN_CHUNK if a + PEN_CHUNK < hi else hi
            if floating is float:
                cydl_abs_sq_f(p + a, b - a, &a1, &a2)
            else:
                cydl_abs_sq_d(p + a, b - a, &a1, &a2)
            _update_span(s, a, b, p, g, s1, s2, s3, gscale, lr, mom, b1, b2, eps, rho, cv,
                         decay, c1, c2, c3, wd, clip, scaled, kind, <floating>l1,
                         <floating>(2 * l2), True)
            a = b
        pen[0] += l1 * a1 + l2 * a2
    cydl_ftz_end(csr)


cdef inline void _update_span(const OptStep* s, Py_ssize_t lo, Py_ssize_t hi, floating* p,
                              const floating* g, floating* s1, floating* s2, floating* s3,
                              floating gscale, floating lr, floating mom, floating b1,
                              floating b2, floating eps, floating rho, floating cv,
                              floating decay, floating c1, floating c2, floating c3,
                              bint wd, bint clip, bint scaled, int kind, floating l1,
                              floating l2x2, bint reg) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating gi, m, v, d, w
    # The common cases run the vectorized loops of _vec_update.h (the same operations in
    # the same order as the general loop below, so they give the same bits); a
    # penalty's gradient (l1 sign(w) + 2 l2 w) is added branch-free.
    cdef bint plain = not wd and not clip and not scaled
    cdef Py_ssize_t n = hi - lo
    # 1 - beta from the double hyper-parameter, rounded once to the parameters' type,
    # in which the moments are then updated: Keras 3's arithmetic (`1 - self.beta_1`
    # in Python, times a float32 tensor), and the NumPy reference's. A float model's
    # Adam thus runs in float (16 lanes of AVX-512, not 8 of double: 2x faster).
    cdef floating omb1 = <floating>(1 - s.beta1), omb2 = <floating>(1 - s.beta2)
    cdef floating omr = <floating>(1 - s.rho)
    if kind == OPT_SGD and mom == 0 and plain:
        if floating is float:
            if reg:
                cydl_vu_sgd_pen_f(p + lo, g + lo, n, lr, l1, l2x2)
            else:
                cydl_vu_sgd_f(p + lo, g + lo, n, lr)
        else:
            if reg:
                cydl_vu_sgd_pen_d(p + lo, g + lo, n, lr, l1, l2x2)
            else:
                cydl_vu_sgd_d(p + lo, g + lo, n, lr)
        return
    if kind == OPT_SGD and plain and not reg:
        if floating is float:
            cydl_vu_sgd_mom_f(p + lo, g + lo, s1 + lo, n, lr, mom, s.nesterov)
        else:
            cydl_vu_sgd_mom_d(p + lo, g + lo, s1 + lo, n, lr, mom, s.nesterov)
        return
    if kind == OPT_ADAM and not s.amsgrad and plain:
        if floating is float:
            if reg:
                cydl_vu_adam_pen_f(p + lo, g + lo, s1 + lo, s2 + lo, n, omb1, omb2, c1, eps,
                                   l1, l2x2)
            else:
                cydl_vu_adam_f(p + lo, g + lo, s1 + lo, s2 + lo, n, omb1, omb2, c1, eps)
        else:
            if reg:
                cydl_vu_adam_pen_d(p + lo, g + lo, s1 + lo, s2 + lo, n, omb1, omb2, c1, eps,
                                   l1, l2x2)
            else:
                cydl_vu_adam_d(p + lo, g + lo, s1 + lo, s2 + lo, n, omb1, omb2, c1, eps)
        return
    for i in range(lo, hi):
        gi = g[i]
        if reg:
            w = p[i]
            gi = gi + l2x2 * w + l1 * <floating>((w > 0) - (w < 0))
        gi = gi * gscale
        if clip:
            gi = cv if gi > cv else (-cv if gi < -cv else gi)
        if wd:
            p[i] *= decay
        if kind == OPT_SGD:
            if mom == 0:
                p[i] -= lr * gi
            else:
                m = mom * s1[i] - lr * gi
                s1[i] = m
                p[i] += (mom * m - lr * gi) if s.nesterov else m
        elif kind == OPT_ADAM:
            m = s1[i] + (gi - s1[i]) * omb1
            v = s2[i] + (gi * gi - s2[i]) * omb2
            s1[i] = m
            s2[i] = v
            if s.amsgrad:
                if v > s3[i]:
                    s3[i] = v
                else:
                    v = s3[i]
            p[i] -= c1 * m / (fsqrt(v) + eps)
        elif kind == OPT_ADAMAX:
            m = s1[i] + (gi - s1[i]) * omb1
            v = b2 * s2[i]
            d = fabsx(gi)
            v = v if v > d else d
            s1[i] = m
            s2[i] = v
            p[i] -= c1 * m / (v + eps)
        elif kind == OPT_NADAM:
            m = s1[i] + (gi - s1[i]) * omb1
            v = s2[i] + (gi * gi - s2[i]) * omb2
            s1[i] = m
            s2[i] = v
            p[i] -= lr * (c1 * m + c2 * gi) / (fsqrt(v * c3) + eps)
        elif kind == OPT_RMSPROP:
            v = rho * s1[i] + omr * gi * gi
            s1[i] = v
            if s.centered:
                m = rho * s2[i] + omr * gi
                s2[i] = m
                v = v - m * m
            d = lr * gi / fsqrt(v + eps)
            if mom > 0:
                d = mom * s3[i] + d
                s3[i] = d
            p[i] -= d
        elif kind == OPT_ADAGRAD:
            v = s1[i] + gi * gi
            s1[i] = v
            p[i] -= lr * gi / fsqrt(v + eps)


cdef bint needs_norms(const RuleData* r) noexcept nogil:
    return r.s.clipnorm > 0 or r.s.global_clipnorm > 0


cdef void finish_scales(RuleData* r) noexcept nogil:
    """Turn the per-variable sums of squares in seg_scale into scale factors."""
    cdef Py_ssize_t k
    cdef double total = 0, norm, clip
    if r.s.global_clipnorm > 0:
        for k in range(r.n_segments):
            total += r.seg_scale[k]
        norm = sqrt(total)
        clip = r.s.global_clipnorm
        for k in range(r.n_segments):
            r.seg_scale[k] = clip / (norm if norm > clip else clip)
    else:
        clip = r.s.clipnorm
        for k in range(r.n_segments):
            norm = sqrt(r.seg_scale[k])
            r.seg_scale[k] = clip / (norm if norm > clip else clip)


cdef void update_range(const RuleData* r, Py_ssize_t lo, Py_ssize_t hi, floating* p,
                       const floating* g, floating* s1, floating* s2,
                       floating* s3, int part) noexcept nogil:
    """Update [lo, hi), each variable's piece with that variable's gradient scale and
    penalty factors; `part` (< MAX_PARTS) is the piece of the step's work this is,
    whose row of pen takes the penalty sums (fixed pieces: a fixed summation order)."""
    cdef Py_ssize_t k, a, b
    cdef bint norms = needs_norms(r)
    cdef double* pen
    if not norms and not r.has_reg:
        update_span(&r.s, lo, hi, p, g, s1, s2, s3, <floating>1, 0, 0, NULL)
        return
    for k in range(r.n_segments):
        a = r.seg_bounds[k]
        b = r.seg_bounds[k + 1]
        if b <= lo or a >= hi:
            continue
        pen = NULL
        if r.has_reg and (r.seg_l1[k] != 0 or r.seg_l2[k] != 0):
            pen = r.pen + part * r.n_segments + k
        update_span(&r.s, a if a > lo else lo, b if b < hi else hi, p, g, s1, s2, s3,
                    <floating>(r.seg_scale[k] if norms else 1), r.seg_l1[k], r.seg_l2[k], pen)


cdef double seg_sumsq(const RuleData* r, Py_ssize_t k, const floating* g,
                      const floating* p) noexcept nogil:
    """The squared norm of variable k's whole gradient, its penalty's included."""
    cdef Py_ssize_t i
    cdef double s = 0
    cdef floating gi, w
    cdef floating l1 = <floating>r.seg_l1[k], l2x2 = <floating>(2 * r.seg_l2[k])
    if not r.has_reg or (l1 == 0 and l2x2 == 0):
        return sumsq(g, r.seg_bounds[k], r.seg_bounds[k + 1])
    for i in range(r.seg_bounds[k], r.seg_bounds[k + 1]):
        w = p[i]
        gi = g[i] + l2x2 * w + (l1 if w > 0 else (-l1 if w < 0 else 0))
        s += <double>gi * gi
    return s


cdef void apply_constraints(const RuleData* r, floating* p, int part,
                            int parts) noexcept nogil:
    """Project the updated weights of piece `part` of `parts` (Keras' constraints: a
    whole norm block always belongs to one piece, so the result is the same for any
    split). A norm is scaled to rate * clip(norm, lo, hi) + (1 - rate) * norm, with
    Keras' 1e-7 guard against a zero norm."""
    cdef Py_ssize_t k, a, n, b, i, base
    cdef const SegConstraint* c
    cdef Span sp
    cdef double ss, norm, want
    cdef floating scale
    if not r.has_con:
        return
    for k in range(r.n_segments):
        c = &r.con[k]
        if c.kind == CON_NONE:
            continue
        a = r.seg_bounds[k]
        n = r.seg_bounds[k + 1] - a
        if c.kind == CON_NONNEG:
            sp = split_range(n, parts, part, 16)
            for i in range(a + sp.lo, a + sp.hi):
                if p[i] < 0:
                    p[i] = 0
            continue
        sp = split_range(n // c.block, parts, part, 1)
        for b in range(sp.lo, sp.hi):
            base = a + b * c.block
            ss = 0
            for i in range(base, base + c.block):
                ss += <double>p[i] * p[i]
            norm = sqrt(ss)
            want = norm if norm > c.lo else c.lo
            want = want if want < c.hi else c.hi
            want = c.rate * want + (1 - c.rate) * norm
            scale = <floating>(want / (1e-7 + norm))
            for i in range(base, base + c.block):
                p[i] *= scale


cdef void reset_penalty(RuleData* r, int parts) noexcept nogil:
    """Zero the penalty sums of `parts` pieces before a step."""
    cdef Py_ssize_t i
    if not r.has_reg:
        return
    if parts > MAX_PARTS:
        parts = MAX_PARTS
    r.pen_rows = parts
    for i in range(parts * r.n_segments):
        r.pen[i] = 0


cdef double penalty(const RuleData* r) noexcept nogil:
    """The step's penalty: its sums added in a fixed order (variable, then piece)."""
    cdef Py_ssize_t k
    cdef int t
    cdef double total = 0
    if not r.has_reg:
        return 0
    for k in range(r.n_segments):
        for t in range(r.pen_rows):
            total += r.pen[t * r.n_segments + k]
    return total


cdef int check_slot(const OptStep* s, int k, bint missing, Py_ssize_t size,
                    Py_ssize_t n) except -1:
    """ValueError unless slot k is present with n entries whenever the update reads it."""
    if missing:
        if slot_needed(s, k):
            raise ValueError(f"slot {k + 1} is required by this optimizer (kind "
                             f"{s.kind}) but is missing")
    elif size != n:
        raise ValueError(f"slot {k + 1} has {size} entries but the buffer has {n}")
    return 0


cdef class UpdateRule:
    """The hyper-parameters and per-step scalars of one optimizer, readable without
    the GIL, plus the variable boundaries that clipnorm needs."""

    def __cinit__(self):
        # Cython zeroes a new object, so every pointer is NULL: _free only sets the
        # fields it owns to their empty state
        self._free()
        self.configured = False

    def __dealloc__(self):
        self._free()

    cdef void _free(self) noexcept:
        """Release the per-variable arrays; no segments, penalties or constraints."""
        free(self.d.seg_bounds)
        free(self.d.seg_scale)
        free(self.d.seg_l1)
        free(self.d.seg_l2)
        free(self.d.pen)
        free(self.d.con)
        self.d.con = NULL
        self.d.has_con = False
        self.d.seg_bounds = NULL
        self.d.seg_scale = NULL
        self.d.seg_l1 = NULL
        self.d.seg_l2 = NULL
        self.d.pen = NULL
        self.d.has_reg = False
        self.d.pen_rows = 0
        self.d.n_segments = 0

    def configure(self, int kind, *, double momentum=0, bint nesterov=False,
                  double beta1=0.9, double beta2=0.999, double eps=1e-7, double rho=0.9,
                  bint amsgrad=False, bint centered=False, double weight_decay=0,
                  double clipvalue=0, double clipnorm=0, double global_clipnorm=0):
        cdef OptStep* s = &self.d.s
        if kind not in KINDS.values():
            raise ValueError(f"Unknown optimizer kind code {kind}. Known: {KINDS}")
        s.kind = kind
        s.momentum = momentum
        s.nesterov = nesterov
        s.beta1 = beta1
        s.beta2 = beta2
        s.eps = eps
        s.rho = rho
        s.amsgrad = amsgrad
        s.centered = centered
        s.weight_decay = weight_decay
        s.clipvalue = clipvalue
        s.clipnorm = clipnorm
        s.global_clipnorm = global_clipnorm
        self.configured = True

    def slots_needed(self):
        """Which of the three slot buffers the configured update reads."""
        return tuple(bool(slot_needed(&self.d.s, k)) for k in range(3))

    def set_segments(self, bounds):
        """Offsets [0, e1, e2, ..., n] of the variables in the trainable buffer."""
        cdef Py_ssize_t k, n
        b = np.asarray(bounds)
        if b.ndim != 1 or b.size == 0 or b.dtype.kind not in "iu":
            raise ValueError(f"segments must be a non-empty list of int offsets. "
                             f"Received: {bounds!r}")
        # apply() sums gradient slices between consecutive bounds: they must stay inside
        # the buffer, which it checks against the last bound
        if b[0] != 0:
            raise ValueError(f"segments must start at 0. Received segments[0]={b[0]}")
        bad = np.flatnonzero(np.diff(b) < 0)
        if bad.size:
            k = bad[0] + 1
            raise ValueError(f"segments must never decrease. Received segments[{k}]="
                             f"{b[k]} after segments[{k - 1}]={b[k - 1]}")
        n = b.size - 1
        self._free()
        self.d.seg_bounds = <Py_ssize_t*>malloc((n + 1) * sizeof(Py_ssize_t))
        self.d.seg_scale = <double*>malloc((n + 1) * sizeof(double))
        self.d.seg_l1 = <double*>malloc((n + 1) * sizeof(double))
        self.d.seg_l2 = <double*>malloc((n + 1) * sizeof(double))
        self.d.pen = <double*>malloc((MAX_PARTS * n + 1) * sizeof(double))
        self.d.con = <SegConstraint*>malloc((n + 1) * sizeof(SegConstraint))
        if self.d.seg_bounds == NULL or self.d.seg_scale == NULL or self.d.seg_l1 == NULL \
                or self.d.seg_l2 == NULL or self.d.pen == NULL or self.d.con == NULL:
            self._free()
            raise MemoryError()
        for k in range(n + 1):
            self.d.seg_bounds[k] = b[k]
            self.d.seg_scale[k] = 1.0
            self.d.seg_l1[k] = 0.0
            self.d.seg_l2[k] = 0.0
            self.d.con[k].kind = CON_NONE
            self.d.con[k].block = 1
        self.d.n_segments = n

    def set_constraints(self, specs):
        """Each variable's constraint, applied right after its update: None, "non_neg",
        or ("norm", block, lo, hi, rate) to scale each run of `block` entries (a Dense
        kernel's column) from norm to rate * clip(norm, lo, hi) + (1 - rate) * norm."""
        cdef Py_ssize_t k, n = self.d.n_segments, size
        specs = list(specs)
        if len(specs) != n:
            raise ValueError(f"set_constraints() needs one entry per variable ({n}). "
                             f"Received {len(specs)}")
        parsed = []
        for k, spec in enumerate(specs):
            size = self.d.seg_bounds[k + 1] - self.d.seg_bounds[k]
            if spec is None:
                parsed.append((CON_NONE, 1, 0.0, 0.0, 0.0))
            elif spec == "non_neg":
                parsed.append((CON_NONNEG, 1, 0.0, 0.0, 0.0))
            elif isinstance(spec, tuple) and len(spec) == 5 and spec[0] == "norm":
                _, block, lo, hi, rate = spec
                if not isinstance(block, (int, np.integer)) or block < 1 or size % block:
                    raise ValueError(f"constraint {k}: block={block!r} must be a positive "
                                     f"divisor of the variable's {size} entries")
                if not (0 <= lo <= hi < float("inf")) or not (0 <= rate <= 1):
                    raise ValueError(f"constraint {k}: need 0 <= lo <= hi < inf and "
                                     f"0 <= rate <= 1. Received lo={lo!r}, hi={hi!r}, "
                                     f"rate={rate!r}")
                parsed.append((CON_NORM, int(block), float(lo), float(hi), float(rate)))
            else:
                raise ValueError(f"constraint {k}: expected None, 'non_neg' or ('norm', "
                                 f"block, lo, hi, rate). Received {spec!r}")
        for k, (kind, block, lo, hi, rate) in enumerate(parsed):
            self.d.con[k].kind = kind
            self.d.con[k].block = block
            self.d.con[k].lo = lo
            self.d.con[k].hi = hi
            self.d.con[k].rate = rate
        self.d.has_con = any(p[0] != CON_NONE for p in parsed)

    def set_penalties(self, l1, l2):
        """Each variable's l1 and l2 penalty factors (lists of n_segments numbers, 0
        for none): the update adds their gradient, l1 sign(p) + 2 l2 p, to g and sums
        the penalty of the weights it updates (penalty()). Keras' L1L2 regularizers."""
        cdef Py_ssize_t k, n = self.d.n_segments
        a1 = np.asarray(l1, np.float64).reshape(-1)
        a2 = np.asarray(l2, np.float64).reshape(-1)
        if a1.size != n or a2.size != n:
            raise ValueError(f"set_penalties() needs one l1 and one l2 factor per variable "
                             f"({n}). Received {a1.size} and {a2.size}")
        for name, a in (("l1", a1), ("l2", a2)):
            bad = np.flatnonzero(~np.isfinite(a) | (a < 0))
            if bad.size:
                raise ValueError(f"penalty factors must be finite and >= 0. Received "
                                 f"{name}[{bad[0]}]={a[bad[0]]!r}")
        for k in range(n):
            self.d.seg_l1[k] = a1[k]
            self.d.seg_l2[k] = a2[k]
        self.d.has_reg = bool((a1 != 0).any() or (a2 != 0).any())
        self.d.pen_rows = 0

    def penalty(self):
        """The l1/l2 penalty of the weights before the latest update (0 without one)."""
        return penalty(&self.d)

    def state(self):
        """The hyper-parameters, per-step scalars and variable bounds, as a dict."""
        d = dict(self.d.s)
        d["segments"] = [self.d.seg_bounds[k] for k in range(self.d.n_segments + 1)] \
            if self.d.n_segments else []
        d["l1"] = [self.d.seg_l1[k] for k in range(self.d.n_segments)]
        d["l2"] = [self.d.seg_l2[k] for k in range(self.d.n_segments)]
        d["constraints"] = [None if self.d.con[k].kind == CON_NONE else "non_neg"
                            if self.d.con[k].kind == CON_NONNEG else
                            ("norm", self.d.con[k].block, self.d.con[k].lo, self.d.con[k].hi,
                             self.d.con[k].rate) for k in range(self.d.n_segments)]
        return d

    def set_step(self, double lr, double c1=0, double c2=0, double c3=0):
        self.d.s.lr = lr
        self.d.s.c1 = c1
        self.d.s.c2 = c2
        self.d.s.c3 = c3

    def apply(self, floating[::1] p, const floating[::1] g, floating[::1] s1,
              floating[::1] s2, floating[::1] s3, int n_threads):
        """One step over the whole buffer: p, g and the slots (None if unused)."""
        cdef Py_ssize_t n = p.shape[0], k
        cdef int t, parts
        cdef Span sp
        cdef RuleData* r = &self.d
        cdef floating* q[3]
        if not self.configured:
            raise ValueError("UpdateRule.configure() must be called before apply()")
        if n_threads < 1:
            raise ValueError(f"n_threads must be a positive int. Received: n_threads={n_threads}")
        n_threads = min(n_threads, MAX_THREADS)
        if g.shape[0] != n:
            raise ValueError(f"g has {g.shape[0]} entries but p has {n}")
        check_slot(&r.s, 0, s1 is None, 0 if s1 is None else s1.shape[0], n)
        check_slot(&r.s, 1, s2 is None, 0 if s2 is None else s2.shape[0], n)
        check_slot(&r.s, 2, s3 is None, 0 if s3 is None else s3.shape[0], n)
        if n == 0:
            return
        q[0] = &s1[0] if s1 is not None else NULL
        q[1] = &s2[0] if s2 is not None else NULL
        q[2] = &s3[0] if s3 is not None else NULL
        if (needs_norms(r) or r.has_reg) and (r.n_segments == 0 or
                                               r.seg_bounds[r.n_segments] != n):
            raise ValueError("set_segments() must describe the whole buffer")
        if needs_norms(r):
            with nogil:
                for k in prange(r.n_segments, num_threads=run_threads(n_threads),
                                schedule='dynamic'):
                    r.seg_scale[k] = seg_sumsq(r, k, &g[0], &p[0])
                finish_scales(r)
        if r.has_con and (r.n_segments == 0 or r.seg_bounds[r.n_segments] != n):
            raise ValueError("set_segments() must describe the whole buffer")
        parts = parts_for(<double>n, <double>MIN_CHUNK, n_threads, n)
        reset_penalty(r, parts)
        with nogil:
            for t in prange(parts, num_threads=run_threads(parts), schedule='static'):
                sp = split_range(n, parts, t, 16)
                update_range(r, sp.lo, sp.hi, &p[0], &g[0], q[0], q[1], q[2], t)
            if r.has_con:
                for t in prange(n_threads, num_threads=run_threads(n_threads),
                                schedule='static'):
                    apply_constraints(r, &p[0], t, n_threads)
