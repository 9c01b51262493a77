"""The parts of a fused step's phases up to the loss: thread t's share of the
gather, of one layer's forward, of the softmax, the loss and the activity penalties
(the backward parts and the optimizer update are in _backward.pyx), and the
switches for A/B measurements. _phases.pyx runs them, phase after phase, on every
thread of a step; each works on a StepState (a plain C struct) and the buffers it
points to. How a phase is cut into parts (rows or units) is in _parts.pxd.
"""
from cython cimport floating
from libc.string cimport memset, memcpy
from cydl._kernels._parallel cimport Span, split_range, parts_for, cydl_prefetch
from cydl._kernels._blas cimport gemm
from cydl._kernels._activations cimport (bias_act_forward, act_backward, softmax_rows,
                                         softmax_backward_rows, ACT_SOFTMAX, ACT_LINEAR)
from cydl._kernels._dense cimport dense_forward_cols, COL_ALIGN
from cydl._kernels._losses cimport loss_rows, N_STATS
from cydl._kernels._data cimport gather_rows_span
from cydl._kernels._nodes cimport node_forward_part
from cydl._kernels._phases cimport (StepState, LayerDesc, OutDesc, NODE_DENSE, SRC_U8,
                                     SRC_F32, SRC_F64)
from cydl._kernels._parts cimport (fwd_rows, row_copy, row_copy_ld, fwd_parts, gather_parts,
                                    softmax_parts)

cdef extern from "_transpose.h" nogil:
    void cydl_copy_rows_f32(const float* A, Py_ssize_t B, Py_ssize_t r0, Py_ssize_t r1,
                            Py_ssize_t c0, Py_ssize_t c1, float* AT, Py_ssize_t n)


cdef void gather_part(StepState* p, floating* P, int t, int nt, Py_ssize_t start, Py_ssize_t B,
                       bint x_direct, int mode) noexcept nogil:
    cdef Span sp
    cdef Py_ssize_t r, row, F = p.n_features
    cdef int C = p.y_cols
    cdef floating* yb = <floating*>p.YB
    cdef floating* swb = <floating*>p.SWB
    cdef int parts, l, j
    cdef floating* WS = <floating*>p.WS
    memset(p.part_stats + t * p.stat_stride, 0, p.stat_stride * sizeof(double))
    if mode == 2:       # the gradients that several readers add into start at zero
        l = t
        while l < p.n_layers:
            if p.L[l].accum:
                memset(WS + p.L[l].d, 0, B * p.L[l].n_out * sizeof(floating))
            l += nt
    parts = gather_parts(p, B, nt)
    if t >= parts:
        return
    sp = split_range(B, parts, t, 1)
    if not x_direct:
        if p.src_kind == SRC_U8:
            gather_rows_span(<const unsigned char*>p.X, F, F, p.idx, start, sp.lo, sp.hi, <floating*>p.XB)
        elif p.src_kind == SRC_F32:
            gather_rows_span(<const float*>p.X, F, F, p.idx, start, sp.lo, sp.hi, <floating*>p.XB)
        else:
            gather_rows_span(<const double*>p.X, F, F, p.idx, start, sp.lo, sp.hi, <floating*>p.XB)
    if mode == 0:
        return
    for r in range(sp.lo, sp.hi):
        row = p.idx[start + r] if p.idx != NULL else start + r
        if p.labels != NULL:      # label columns go column-major: one per sparse output
            for j in range(p.label_cols):
                p.LB[j * p.bmax + r] = p.labels[row * p.label_cols + j]
        if p.Y != NULL:
            memcpy(yb + r * C, <const floating*>p.Y + row * C, C * sizeof(floating))
        if p.SW != NULL:
            swb[r] = (<const floating*>p.SW)[row]


cdef void prefetch_next(StepState* p, int t, int nt, Py_ssize_t start, Py_ssize_t B) noexcept nogil:
    """Prefetch this thread's share of the next batch's input rows: shuffled rows
    come from all over the data set, and the next gather then finds them in cache."""
    cdef Py_ssize_t r, row, off, item, row_bytes
    cdef Span sp
    cdef const char* base
    if start + B > p.n_rows or p.idx == NULL:
        return       # in-order rows: the hardware prefetcher already streams them
    item = 1 if p.src_kind == SRC_U8 else (8 if p.src_kind == SRC_F64 else 4)
    row_bytes = p.n_features * item
    sp = split_range(B, nt, t, 1)
    for r in range(sp.lo, sp.hi):
        row = p.idx[start + r]
        base = p.X + row * row_bytes
        off = 0
        while off < row_bytes:
            cydl_prefetch(base + off)
            off += 64


cdef void forward_part(StepState* p, floating* P, const floating* X, int l, int t, int nt,
                        Py_ssize_t B, int mode) noexcept nogil:
    cdef LayerDesc* L = &p.L[l]
    if L.kind != NODE_DENSE:
        node_forward_part(p, P, X, l, t, nt, B, mode)
        return
    cdef floating* WS = <floating*>p.WS
    cdef const floating* x
    cdef Py_ssize_t ldx
    cdef char xt
    cdef floating* A = WS + L.a
    cdef floating* Z = A
    cdef int act = L.act, parts
    cdef Span sp
    if L.src[0] < 0:
        x, ldx, xt = X + p.in_off[-1 - L.src[0]], p.n_features, c'T'
    else:
        x, ldx, xt = WS + p.L[L.src[0]].a, B, c'N'
    if mode > 0 and L.keep_z:
        Z = WS + L.z
    if L.out >= 0 and (act == ACT_SOFTMAX or (mode > 0 and p.outs[L.out].on_logits)):
        act = ACT_LINEAR   # a fused loss works on the logits; softmax is a row phase
    if fwd_rows(B, L):
        parts = fwd_parts(B, L, nt)
        if t >= parts:
            return
        sp = split_range(B, parts, t, COL_ALIGN)
        if sp.hi <= sp.lo:
            return
        # rows lo..hi of Z = X W, then bias + activation on those rows of every column
        gemm(xt, c'N', <int>(sp.hi - sp.lo), L.n_out, L.n_in, <floating>1,
             x + (sp.lo * ldx if xt == c'T' else sp.lo), <int>ldx, P + L.w, L.n_in,
             <floating>0, Z + sp.lo, <int>B)
        bias_act_forward(act, <floating>L.alpha, sp.hi - sp.lo, 0, L.n_out, Z + sp.lo, B,
                         P + L.b if L.b >= 0 else NULL, A + sp.lo, B)
        if mode == 2 and row_copy(p, L):
            _copy_rows(A, B, sp.lo, sp.hi, 0, L.n_out, WS + L.at, row_copy_ld(L))
        return
    parts = fwd_parts(B, L, nt)
    if t >= parts:
        return
    sp = split_range(L.n_out, parts, t, COL_ALIGN)
    dense_forward_cols(act, <floating>L.alpha, B, L.n_in, x, ldx, xt, P + L.w, L.n_in,
                       P + L.b if L.b >= 0 else NULL, Z, B, A, B, sp.lo, sp.hi)
    if mode == 2 and row_copy(p, L):
        _copy_rows(A, B, 0, B, sp.lo, sp.hi, WS + L.at, row_copy_ld(L))


cdef bint _row_splits = True


def set_row_splits(bint on):
    """Whether packed GEMMs of large batches may split rows between threads where
    that packs less (fwd_rows and dw_rows in _parts.pxd); returns the previous
    setting. For A/B measurements and tests."""
    global _row_splits
    old = _row_splits
    _row_splits = on
    return old


cdef bint row_splits_on() noexcept nogil:
    return _row_splits


cdef bint _fold_hidden = True


def set_fold_hidden(bint on):
    """Whether plain SGD folds the update of layers whose input gradient is needed
    too (folds_hidden in _parts.pxd); returns the previous setting. For A/B
    measurements and tests."""
    global _fold_hidden
    old = _fold_hidden
    _fold_hidden = on
    return old


cdef bint fold_hidden_on() noexcept nogil:
    return _fold_hidden


cdef bint _row_copy = True


def set_row_copy(bint on):
    """Whether small training batches keep a row-major copy of the hidden outputs
    that Dense layers read (see row_copies in _parts.pxd); returns the previous
    setting. For A/B measurements and tests."""
    global _row_copy
    old = _row_copy
    _row_copy = on
    return old


cdef bint row_copy_on() noexcept nogil:
    return _row_copy


cdef inline void _copy_rows(const floating* A, Py_ssize_t B, Py_ssize_t r0, Py_ssize_t r1,
                            Py_ssize_t c0, Py_ssize_t c1, floating* AT,
                            Py_ssize_t n) noexcept nogil:
    """AT[r, c] = A[r, c] on rows [r0, r1) and columns [c0, c1): A column-major (B rows),
    AT row-major (n columns)."""
    cdef Py_ssize_t r, c
    if floating is float:
        cydl_copy_rows_f32(A, B, r0, r1, c0, c1, AT, n)
        return
    for c in range(c0, c1):
        for r in range(r0, r1):
            AT[r * n + c] = A[r + c * B]


cdef void softmax_part(StepState* p, floating* WS, int t, int nt, Py_ssize_t B,
                        int mode) noexcept nogil:
    cdef LayerDesc* L
    cdef int parts, k
    cdef Span sp
    for k in range(p.n_outputs):
        L = &p.L[p.outs[k].node]
        if L.act != ACT_SOFTMAX or (mode > 0 and p.outs[k].on_logits):
            continue
        parts = softmax_parts(B, L.n_out, nt)
        if t >= parts:
            continue
        sp = split_range(B, parts, t, 1)
        softmax_rows(sp.lo, sp.hi, L.n_out, WS + L.a, B, WS + L.a, B)


cdef void loss_part(StepState* p, floating* WS, int t, int nt, Py_ssize_t B, bint grad) noexcept nogil:
    """Each output's loss on a share of the rows: statistics per output, and the
    gradient (times the output's loss weight) into its node's d."""
    cdef LayerDesc* L
    cdef OutDesc* o
    cdef int C, parts, k
    cdef floating* A
    cdef floating* D
    cdef Span sp
    for k in range(p.n_outputs):
        o = &p.outs[k]
        L = &p.L[o.node]
        C = L.n_out
        A = WS + L.a
        D = WS + L.d
        parts = parts_for(<double>B * C * 30, 40000, nt, B)
        if t >= parts:
            continue
        sp = split_range(B, parts, t, 1)
        loss_rows(o.loss_kind, o.acc_mode, o.param, o.thresh, o.smooth, sp.lo, sp.hi, C,
                  A, 1, B, p.LB + o.col * p.bmax if o.sparse else NULL,
                  <floating*>p.YB + o.col if not o.sparse else NULL, p.y_cols, 1,
                  <floating*>p.SWB if p.SW != NULL else NULL,
                  D if grad else NULL, 1, B, <floating>(o.weight / p.loss_rows),
                  p.part_stats + t * p.stat_stride + k * N_STATS)
        if grad and L.ar_slot >= 0:
            # the output's own activity penalty (not scaled by the loss weight, as in
            # Keras); the plan never folds an activation into the loss of such a node
            _activity_grad(L, A, D, B, p.loss_rows, 0, C, sp.lo, sp.hi, True)
        if not grad or o.on_logits or L.act == ACT_LINEAR:
            continue
        # the loss saw the activated output: chain through the output activation
        if L.act == ACT_SOFTMAX:
            softmax_backward_rows(sp.lo, sp.hi, C, D, B, A, B, D, B)
        else:
            act_backward(L.act, <floating>L.alpha, sp.hi - sp.lo, 0, C, D + sp.lo, B,
                         A + sp.lo, B, WS + L.z + sp.lo if L.keep_z else NULL, B, D + sp.lo, B)


cdef inline void _activity_grad(LayerDesc* L, const floating* A, floating* D, Py_ssize_t B,
                                double rows,
                                Py_ssize_t c0, Py_ssize_t c1, Py_ssize_t r0, Py_ssize_t r1,
                                bint add) noexcept nogil:
    """D (=, or += with add) the gradient of the node's activity penalty over the
    batch size, (l1 sign(a) + 2 l2 a) / rows, on columns [c0, c1) and rows [r0, r1)
    (`rows` is B, or the global batch under data parallelism); the same expression,
    in the same order, as L1L2.gradient times 1/B on the graph runner."""
    cdef Py_ssize_t r, c
    cdef floating a, sg, l1 = <floating>L.ar_l1, l2x2 = <floating>(2.0 * L.ar_l2)
    cdef floating inv = <floating>(1.0 / rows)
    for c in range(c0, c1):
        for r in range(r0, r1):
            a = A[r + c * B]
            sg = <floating>((a > 0) - (a < 0))
            if add:
                D[r + c * B] += inv * (l1 * sg + l2x2 * a)
            else:
                D[r + c * B] = inv * (l1 * sg + l2x2 * a)


cdef void activity_part(StepState* p, floating* WS, int t, int nt, Py_ssize_t B,
                         bint grad) noexcept nogil:
    """Each regularized node's penalty l1 sum|a| + l2 sum a^2 on a block of its units,
    into this part's statistics (the runner divides by the batch size, as Keras does);
    with grad, a hidden node's d starts as the penalty's gradient (its readers add
    theirs: such a node always accumulates, see _plan_spec). An output node gets its
    gradient in the loss phase, which writes its d."""
    cdef LayerDesc* L
    cdef int l, parts
    cdef Span sp
    cdef Py_ssize_t r, c
    cdef const floating* A
    cdef floating a
    cdef double s1, s2
    for l in range(p.n_layers):
        L = &p.L[l]
        if L.ar_slot < 0:
            continue
        parts = parts_for(<double>B * L.n_out * 4, 40000, nt, L.n_out)
        if t >= parts:
            continue
        sp = split_range(L.n_out, parts, t, 1)
        A = WS + L.a
        s1 = 0
        s2 = 0
        for c in range(sp.lo, sp.hi):
            for r in range(B):
                a = A[r + c * B]
                s1 += a if a >= 0 else -a
                s2 += <double>a * a
        p.part_stats[t * p.stat_stride + p.n_outputs * N_STATS + L.ar_slot] += \
            L.ar_l1 * s1 + L.ar_l2 * s2
        if grad and L.out < 0 and L.needs_bwd:
            _activity_grad(L, A, WS + L.d, B, p.loss_rows, sp.lo, sp.hi, 0, B, False)
