"""Losses with their gradients and metric statistics, one pass per row block.

P holds a batch of predictions or logits (B x C), element (r, c) at P[r*prs + c*pcs],
so row- and column-major inputs both work. The per-sample loss follows Keras: cross-
entropies sum over classes, binary cross-entropy and the regression losses average
over the last axis. The gradient is d(sum_r w_r loss_r)/dP times gscale (1/B for a
batch mean), written to G when G is not NULL. `param` is Huber's delta and `thresh`
the threshold of binary accuracy (0 for logits, 0.5 for probabilities).

`smooth` is Keras' label smoothing of the cross-entropies: the loss sees the target
t (1 - smooth) + smooth / C (categorical and sparse; C classes) or
t (1 - smooth) + smooth / 2 (binary), accuracy the unsmoothed target. With
smooth = 0 that is t * 1 + 0, exactly t, so unsmoothed losses are unchanged.

The softmax cross-entropies run vectorized across rows (_vec_loss.h), in every memory
layout, with the exp and log of that header: the same bits in every SIMD variant.
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.stdlib cimport malloc, free
from libc.string cimport memset
from cydl._kernels._math cimport fexp, flog, flog1p, fabsx, fsigmoid
from cydl._kernels._parallel cimport (Span, split_range, parts_for, run_threads,
                                      cydl_ftz_begin, cydl_ftz_end)
import numpy as np

# The softmax cross-entropy across rows in every instruction-set variant
# (_vec_loss.h); the variant follows _optim's as the activations' does.
cdef extern from "_vec_loss.h" nogil:
    int cydl_vl_set(int level)
    int cydl_vl_level()
    void cydl_vl_explog_f(int which, Py_ssize_t n, const float* x, float* y)
    void cydl_vl_explog_d(int which, Py_ssize_t n, const double* x, double* y)
    void cydl_vl_softmax_ce_f(int sparse, int hard, int acc, double thresh, Py_ssize_t n,
                              Py_ssize_t C, const float* P, Py_ssize_t prs, Py_ssize_t pcs,
                              const int* labels, const float* Y, Py_ssize_t yrs,
                              Py_ssize_t ycs, const float* sw, float* G, Py_ssize_t grs,
                              Py_ssize_t gcs, float gscale, float on, float u, double* stats)
    void cydl_vl_softmax_ce_d(int sparse, int hard, int acc, double thresh, Py_ssize_t n,
                              Py_ssize_t C, const double* P, Py_ssize_t prs, Py_ssize_t pcs,
                              const int* labels, const double* Y, Py_ssize_t yrs,
                              Py_ssize_t ycs, const double* sw, double* G, Py_ssize_t grs,
                              Py_ssize_t gcs, double gscale, double on, double u,
                              double* stats)


def simd_variant():
    """The variant (_optim.SIMD_VARIANTS) the softmax cross-entropy uses now."""
    from cydl._kernels._optim import SIMD_VARIANTS
    return SIMD_VARIANTS[cydl_vl_level()]


def set_simd(name):
    """Use the variant `name` for the softmax cross-entropy (see _optim.set_simd);
    _activations.set_simd calls this too."""
    from cydl._kernels._optim import SIMD_VARIANTS, simd_level
    level = simd_level(name)
    cydl_vl_set(level)
    return SIMD_VARIANTS[level]


from cydl._kernels._optim import simd_variant as _optim_simd_variant
set_simd(_optim_simd_variant())        # the variant CYDL_SIMD (or the CPU) chose


def _vec_explog(const floating[::1] x, floating[::1] y, int which):
    """y = exp(x) (which 0) or log(x) (1) with _vec_loss.h's functions, for the tests'
    accuracy checks (no denormal flushing here)."""
    if y.shape[0] != x.shape[0] or which not in (0, 1):
        raise ValueError(f"x and y need one length ({x.shape[0]}, {y.shape[0]}) and "
                         f"which 0 (exp) or 1 (log) (received {which})")
    if x.shape[0] == 0:
        return
    with nogil:
        if floating is float:
            cydl_vl_explog_f(which, x.shape[0], &x[0], &y[0])
        else:
            cydl_vl_explog_d(which, x.shape[0], &x[0], &y[0])

cdef double EPS = 1e-7   # Keras' backend epsilon, used to clip probabilities

NAMES = {
    "sparse_softmax_ce": LOSS_SPARSE_SOFTMAX_CE, "softmax_ce": LOSS_SOFTMAX_CE,
    "sigmoid_bce": LOSS_SIGMOID_BCE, "sparse_ce_prob": LOSS_SPARSE_CE_PROB,
    "ce_prob": LOSS_CE_PROB, "bce_prob": LOSS_BCE_PROB, "mse": LOSS_MSE,
    "mae": LOSS_MAE, "huber": LOSS_HUBER,
}
ACC_MODES = {"none": ACC_NONE, "sparse": ACC_SPARSE, "categorical": ACC_CATEGORICAL,
             "binary": ACC_BINARY}


cdef inline Py_ssize_t _argmax(const floating* x, Py_ssize_t n, Py_ssize_t stride) noexcept nogil:
    cdef Py_ssize_t c, best = 0
    for c in range(1, n):
        if x[c * stride] > x[best * stride]:
            best = c
    return best


cdef inline floating _target(bint sparse, const floating* y, Py_ssize_t ycs, Py_ssize_t c,
                             Py_ssize_t lab, floating on, floating u) noexcept nogil:
    """Class c's (smoothed) target: t * on + u."""
    if sparse:
        return (on if c == lab else <floating>0) + u
    return y[c * ycs] * on + u


cdef inline void _softmax_ce_rows(int kind, int acc_mode, double thresh, double smooth,
                                  Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t C,
                                  const floating* P, Py_ssize_t prs, Py_ssize_t pcs,
                                  const int* labels, const floating* Y, Py_ssize_t yrs,
                                  Py_ssize_t ycs, const floating* sw, floating* G,
                                  Py_ssize_t grs, Py_ssize_t gcs, floating gscale, floating on,
                                  floating u, double* stats) noexcept nogil:
    """loss_rows of the two softmax cross-entropies, vectorized across rows: the
    formulas of the scalar loop it replaced (_vec_loss_ce.h spells them out)."""
    cdef int sparse = kind == LOSS_SPARSE_SOFTMAX_CE
    cdef int hard = sparse and smooth == 0
    if C < 1:
        return
    if floating is float:
        cydl_vl_softmax_ce_f(sparse, hard, acc_mode, thresh, r1 - r0, C, P + r0 * prs, prs,
                             pcs, labels + r0 if labels != NULL else NULL,
                             Y + r0 * yrs if Y != NULL else NULL, yrs, ycs,
                             sw + r0 if sw != NULL else NULL,
                             G + r0 * grs if G != NULL else NULL, grs, gcs, gscale, on, u,
                             stats)
    else:
        cydl_vl_softmax_ce_d(sparse, hard, acc_mode, thresh, r1 - r0, C, P + r0 * prs, prs,
                             pcs, labels + r0 if labels != NULL else NULL,
                             Y + r0 * yrs if Y != NULL else NULL, yrs, ycs,
                             sw + r0 if sw != NULL else NULL,
                             G + r0 * grs if G != NULL else NULL, grs, gcs, gscale, on, u,
                             stats)


cdef void loss_rows(int kind, int acc_mode, double param, double thresh, double smooth,
                    Py_ssize_t r0, Py_ssize_t r1,
                    Py_ssize_t C, const floating* P, Py_ssize_t prs, Py_ssize_t pcs,
                    const int* labels, const floating* Y, Py_ssize_t yrs, Py_ssize_t ycs,
                    const floating* sw, floating* G, Py_ssize_t grs, Py_ssize_t gcs,
                    floating gscale, double* stats) noexcept nogil:
    cdef Py_ssize_t r, c, lab = 0
    cdef const floating* p
    cdef const floating* y = NULL
    cdef floating* g = NULL
    cdef floating s, e, z, t, w, gs, ysum, d, ae, clip_lo, clip_hi, delta, on, u
    cdef double loss, hits, aerr, serr
    cdef bint sparse = kind == LOSS_SPARSE_SOFTMAX_CE or kind == LOSS_SPARSE_CE_PROB
    clip_lo = <floating>EPS
    clip_hi = 1 - <floating>EPS
    delta = <floating>param
    # label smoothing as Keras writes it: y (1 - ls) + ls / C, or + ls / 2 for binary
    on = <floating>(1.0 - smooth)
    if kind == LOSS_SIGMOID_BCE or kind == LOSS_BCE_PROB:
        u = <floating>(0.5 * smooth)
    else:
        u = <floating>(smooth / C) if C > 0 else <floating>0
    if kind == LOSS_SPARSE_SOFTMAX_CE or kind == LOSS_SOFTMAX_CE:
        _softmax_ce_rows(kind, acc_mode, thresh, smooth, r0, r1, C, P, prs, pcs, labels, Y,
                         yrs, ycs, sw, G, grs, gcs, gscale, on, u, stats)
        return
    for r in range(r0, r1):
        p = P + r * prs
        if Y != NULL:
            y = Y + r * yrs
        if G != NULL:
            g = G + r * grs
        if labels != NULL:
            lab = labels[r]
        w = sw[r] if sw != NULL else 1
        gs = gscale * w
        loss = 0
        aerr = 0
        serr = 0
        if kind == LOSS_SPARSE_CE_PROB or kind == LOSS_CE_PROB:
            s = 0
            for c in range(C):
                s = s + p[c * pcs]
            ysum = 0   # sum over unclipped classes of y_c
            for c in range(C):
                t = _target(sparse, y, ycs, c, lab, on, u)
                if t == 0:
                    continue
                e = p[c * pcs] / s
                if e < clip_lo:
                    loss -= t * flog(clip_lo)
                elif e > clip_hi:
                    loss -= t * flog(clip_hi)
                else:
                    loss -= t * flog(e)
                    ysum = ysum + t
            if g != NULL:
                for c in range(C):
                    t = _target(sparse, y, ycs, c, lab, on, u)
                    d = ysum / s
                    e = p[c * pcs] / s
                    if t != 0 and e >= clip_lo and e <= clip_hi:
                        d = d - t / p[c * pcs]
                    g[c * gcs] = gs * d
        elif kind == LOSS_SIGMOID_BCE:
            for c in range(C):
                z = p[c * pcs]
                t = y[c * ycs] * on + u
                # max(z, 0) - z t + log(1 + e^-|z|)
                loss += (z if z > 0 else 0) - z * t + flog1p(fexp(-fabsx(z)))
                if g != NULL:
                    g[c * gcs] = gs * (fsigmoid(z) - t) / C
            loss /= C
        elif kind == LOSS_BCE_PROB:
            for c in range(C):
                e = p[c * pcs]
                t = y[c * ycs] * on + u
                d = e if e > clip_lo else clip_lo
                d = d if d < clip_hi else clip_hi
                loss -= t * flog(d) + (1 - t) * flog(1 - d)
                if g != NULL:
                    if e >= clip_lo and e <= clip_hi:
                        g[c * gcs] = gs * (-(t / d) + (1 - t) / (1 - d)) / C
                    else:
                        g[c * gcs] = 0
            loss /= C
        else:
            for c in range(C):
                d = p[c * pcs] - y[c * ycs]
                ae = fabsx(d)
                aerr += ae
                serr += d * d
                if kind == LOSS_MSE:
                    loss += d * d
                    if g != NULL:
                        g[c * gcs] = gs * 2 * d / C
                elif kind == LOSS_MAE:
                    loss += ae
                    if g != NULL:
                        g[c * gcs] = gs * ((d > 0) - (d < 0)) / C
                else:
                    if ae <= delta:
                        loss += 0.5 * d * d
                        if g != NULL:
                            g[c * gcs] = gs * d / C
                    else:
                        loss += delta * ae - 0.5 * delta * delta
                        if g != NULL:
                            g[c * gcs] = gs * delta * ((d > 0) - (d < 0)) / C
            loss /= C
            aerr /= C
            serr /= C
        hits = 0
        if acc_mode == ACC_SPARSE:
            hits = _argmax(p, C, pcs) == lab
        elif acc_mode == ACC_CATEGORICAL:
            hits = _argmax(p, C, pcs) == _argmax(y, C, ycs)
        elif acc_mode == ACC_BINARY:
            for c in range(C):
                hits += (<floating>(1 if p[c * pcs] > thresh else 0)) == y[c * ycs]
            hits /= C
        stats[0] += w * loss
        stats[1] += hits
        stats[2] += aerr
        stats[3] += serr


def loss_forward_backward(int kind, int acc_mode, double param, double thresh,
                          const floating[:, :] P,
                          const int[::1] labels, const floating[:, :] Y,
                          const floating[::1] sw,
                          floating[:, :] G, double gscale, double[::1] stats,
                          int n_threads, double smooth=0.0):
    """stats[:] = sums over rows of (loss, hits, |err|, err^2); G = gscale * dloss/dP;
    `smooth`: the cross-entropies' label smoothing."""
    cdef Py_ssize_t B = P.shape[0], C = P.shape[1], item = sizeof(floating)
    cdef Py_ssize_t yrs = 0, ycs = 0, grs = 0, gcs = 0
    cdef const int* lp = &labels[0] if labels is not None and B > 0 else NULL
    cdef const floating* yp = NULL
    cdef const floating* swp = &sw[0] if sw is not None and B > 0 else NULL
    cdef floating* gp = NULL
    cdef int t, k, parts
    cdef unsigned int csr
    cdef Py_ssize_t r
    cdef Span sp
    cdef double* part_stats
    if not 0.0 <= smooth <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1]. Received: {smooth}")
    if smooth != 0 and kind > LOSS_BCE_PROB:
        raise ValueError(f"label_smoothing applies to the cross-entropies only (loss kind "
                         f"code {kind})")
    if stats.shape[0] < N_STATS:
        raise ValueError(f"stats must have {N_STATS} entries. Received {stats.shape[0]}")
    if (labels is not None and labels.shape[0] != B) or (sw is not None and sw.shape[0] != B):
        raise ValueError(f"labels and sample weights need one entry per row ({B})")
    if (Y is not None and (Y.shape[0] != B or Y.shape[1] != C)) or \
            (G is not None and (G.shape[0] != B or G.shape[1] != C)):
        raise ValueError(f"targets and gradient must have P's shape ({B}, {C})")
    if lp != NULL:
        # labels index P's columns through raw pointers; checking them costs nanoseconds
        for r in range(B):
            if lp[r] < 0 or lp[r] >= C:
                raise ValueError(f"Received a label value of {lp[r]} (at index {r}), "
                                 f"outside the valid range [0, {C})")
    if Y is not None and B > 0:
        yp = &Y[0, 0]
        yrs = Y.strides[0] // item
        ycs = Y.strides[1] // item
    if G is not None and B > 0:
        gp = &G[0, 0]
        grs = G.strides[0] // item
        gcs = G.strides[1] // item
    stats[:] = 0
    if B == 0:
        return
    parts = parts_for(<double>B * C * 30, 40000, n_threads, B)
    part_stats = <double*>malloc(parts * 8 * sizeof(double))
    memset(part_stats, 0, parts * 8 * sizeof(double))
    with nogil:
        for t in prange(parts, num_threads=run_threads(parts), schedule='static'):
            csr = cydl_ftz_begin()      # denormals flushed, as in the fused step (_cpu.h)
            sp = split_range(B, parts, t, 1)
            loss_rows(kind, acc_mode, param, thresh, smooth, sp.lo, sp.hi, C, &P[0, 0],
                      P.strides[0] // item, P.strides[1] // item, lp, yp, yrs, ycs, swp,
                      gp, grs, gcs, <floating>gscale, part_stats + 8 * t)
            cydl_ftz_end(csr)
    for t in range(parts):     # fixed order: the sum does not depend on timing
        for k in range(N_STATS):
            stats[k] += part_stats[8 * t + k]
    free(part_stats)
