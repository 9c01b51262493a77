"""The phases of a fused training step, run by every thread of one parallel region.

`run_step` is the whole step: gather, forward, loss, backward with the optimizer
update folded in, as described in _fused.pyx, which owns the buffers. Everything
here works on a StepState, a plain C struct, so no Python object is touched
without the GIL.
"""
from cython cimport floating
from cython.parallel cimport parallel
from libc.string cimport memset, memcpy
from cydl._kernels._parallel cimport (Span, split_range, parts_for, omp_get_thread_num,
                                      omp_get_wtime, cydl_ftz_begin, cydl_ftz_end,
                                      cydl_prefetch)
from cydl._kernels._blas cimport gemm, blas_pin, blas_unpin
from cydl._kernels._activations cimport (bias_act_forward, act_backward, softmax_rows,
                                         softmax_backward_rows, ACT_SOFTMAX, ACT_LINEAR)
from cydl._kernels._dense cimport (dense_forward_cols, dense_weight_grad_cols,
                                   dense_weight_grad_rows, bias_grad_cols,
                                   dense_input_grad_cols, GEMM_MIN_WORK, COL_ALIGN)
from cydl._kernels._losses cimport loss_rows, N_STATS
from cydl._kernels._data cimport gather_rows_span
from cydl._kernels._optim cimport (RuleData, update_range, seg_sumsq, reset_penalty,
                                   apply_constraints, needs_norms,
                                   finish_scales, OPT_SGD)
from cydl._kernels._nodes cimport node_keys, node_forward_part, node_backward_part
import os

from cydl._kernels import SPIN as _SPIN


def spin_limit(value, policy):
    """The pauses a thread waiting at a phase barrier spins before it sleeps: what
    libgomp's idle threads do (GOMP_SPINCOUNT as cydl or the user set it, with its
    k/M/G/T suffixes or "infinite"; else OMP_WAIT_POLICY; else libgomp's default),
    so that both kinds of waiting give the core back alike on a busy machine."""
    if value is not None:
        v = str(value).strip().lower()
        if v.startswith("infinit"):
            return 2 ** 63 - 1
        scale = {"k": 10 ** 3, "m": 10 ** 6, "g": 10 ** 9, "t": 10 ** 12}.get(v[-1:], 1)
        try:
            return max(0, int(v[:-1] if scale > 1 else v) * scale)
        except ValueError:
            pass
    policy = (policy or "").strip().lower()
    return 30_000_000_000 if policy == "active" else 0 if policy == "passive" else 300000


cydl_barrier_set_spin(spin_limit(_SPIN[0], os.environ.get("OMP_WAIT_POLICY")))


def barrier_spin():
    """The spin limit the phase barriers use in this process."""
    return cydl_spin_limit


cdef void run_step(StepState* p, Py_ssize_t start, Py_ssize_t B, int nt, int nrun,
                   int mode) noexcept nogil:
    """One step on rows [start, start + B) of the bound order, BLAS pinned to one
    thread. mode 0: predict; 1: forward + loss; 2: training step.

    The work is cut into `nt` parts (the configured thread count) and run by
    `nrun` <= nt threads, thread t taking parts t, t + nrun, ... Every part does
    the same arithmetic whoever runs it, so the result depends on nt only, never
    on nrun: the adaptive thread choice (see _fused.pyx) cannot change a number."""
    cdef int old = blas_pin()
    if nrun > nt:
        nrun = nt
    if nrun < 1:
        nrun = 1
    if mode == 0 and nrun > 1 and _one_part_prediction(p, B, nt):
        nrun = 1        # no thread to wake: a small network's prediction (same parts)
    if p.is_double:
        _step(p, <double*>p.P, start, B, nt, nrun, mode)
    else:
        _step(p, <float*>p.P, start, B, nt, nrun, mode)
    blas_unpin(old)


cdef extern from "_team.h" nogil:
    ctypedef void (*cydl_job_fn)(void* arg, int tid) noexcept nogil
    int cydl_team_claim(int n)
    void cydl_team_run(cydl_job_fn fn, void* arg, int n)
    int cydl_team_on
    int cydl_team_workers


def set_team(bint on):
    """Whether predictions on several threads may run on cydl's own team (_team.h)
    rather than in an OpenMP region: the same parts either way, so the same numbers.
    Returns the previous setting. For A/B measurements and tests."""
    global cydl_team_on
    old = bool(cydl_team_on)
    cydl_team_on = on
    return old


def team_workers():
    """How many worker threads the team has started in this process."""
    return cydl_team_workers


cdef struct StepCall:
    # one step as each of its threads reads it (see _step)
    StepState* p
    void* P
    const void* X
    Py_ssize_t start, B
    int nt, nrun, mode
    bint train, compute, update, x_direct, eager, fold, softmax, tail, last_ends


cdef void _step(StepState* p, floating* P, Py_ssize_t start, Py_ssize_t B, int nt,
                int nrun, int mode) noexcept nogil:
    """mode 0: predict (forward with output activation); 1: forward + loss;
    2: forward + loss + backward + update. nt parts, nrun threads (see run_step).
    p.split cuts a training step in two for data parallelism: 1 runs it up to the
    final gradients (which the caller then sums across processes), 2 the update.

    A prediction on several threads runs on cydl's own team (_team.h) when it is
    free: an OpenMP region's start and join cost the caller about 0.8 us, a tenth
    of a one-row prediction. Everything else opens an OpenMP region; a step on
    one thread runs here, without one."""
    cdef StepCall c
    cdef int k
    c.p, c.P, c.start, c.B, c.nt, c.nrun, c.mode = p, P, start, B, nt, nrun, mode
    c.train = mode == 2
    c.compute = p.split != 2
    c.update = c.train and p.split != 1
    # Update each layer while its gradient is still in cache, unless clipping by
    # norm needs every gradient first.
    c.eager = c.train and p.split == 0 and not needs_norms(p.rule)
    # Plain SGD on the lowest trained layer: W -= lr X^T dZ is itself a GEMM (alpha
    # -lr, beta 1), so that layer's gradient is never stored and never re-read.
    c.fold = c.eager and p.rule.s.kind == OPT_SGD and p.rule.s.momentum == 0 and \
        p.rule.s.weight_decay == 0 and p.rule.s.clipvalue == 0 and not p.rule.has_reg
    c.softmax = False
    for k in range(p.n_outputs):
        if p.L[p.outs[k].node].act == ACT_SOFTMAX and (mode == 0 or not p.outs[k].on_logits):
            c.softmax = True
    # a prediction whose output layer and softmax are each one part's work (a few
    # rows): part 0 runs the softmax right after the layer, one barrier fewer
    c.tail = c.softmax and mode == 0 and _one_part_tail(p, B, nt)
    # a prediction's last phase needs no barrier of ours: whatever runs the threads
    # (the OpenMP region's join, the team's barrier) ends with one
    c.last_ends = mode == 0 and (c.tail or not c.softmax)
    c.x_direct = _x_direct(p)
    if c.x_direct:
        c.X = <const floating*>p.X + start * p.n_features
    else:
        c.X = <const floating*>p.XB
    if c.train and c.compute:
        node_keys(p)
    if c.update:
        reset_penalty(p.rule, nt)     # each part sums the penalty of what it updates
    if nrun == 1:
        _step_thread(&c, P, 0)
    elif mode == 0 and cydl_team_claim(nrun):
        if floating is double:
            cydl_team_run(_job_f64, &c, nrun)
        else:
            cydl_team_run(_job_f32, &c, nrun)
    else:
        with parallel(num_threads=nrun):
            _step_thread(&c, P, omp_get_thread_num())


cdef void _job_f32(void* c, int tid) noexcept nogil:
    _step_thread(<StepCall*>c, <float*>(<StepCall*>c).P, tid)


cdef void _job_f64(void* c, int tid) noexcept nogil:
    _step_thread(<StepCall*>c, <double*>(<StepCall*>c).P, tid)


cdef void _step_thread(StepCall* c, floating* P, int tid) noexcept nogil:
    """Thread tid's share of a step: parts tid, tid + nrun, ... of every phase;
    _sync ends each phase."""
    cdef StepState* p = c.p
    cdef Py_ssize_t start = c.start, B = c.B
    cdef int nt = c.nt, nrun = c.nrun, mode = c.mode
    cdef bint train = c.train, compute = c.compute, update = c.update
    cdef bint x_direct = c.x_direct, eager = c.eager, fold = c.fold
    cdef bint softmax = c.softmax, tail = c.tail, last_layer_ends = c.last_ends
    cdef const floating* X = <const floating*>c.X
    cdef floating* WS = <floating*>p.WS
    cdef floating* G = <floating*>p.G
    cdef int l, k, v
    cdef int upd = -1       # the node whose parameters wait for the next phase's update
    cdef double t0 = 0
    cdef unsigned int csr = 0
    csr = cydl_ftz_begin()      # denormals flushed on every thread (see _cpu.h)
    t0 = _tick(p, tid, -1, 0)
    if compute and not (x_direct and mode == 0):
        v = tid
        while v < nt:
            _gather_part(p, P, v, nt, start, B, x_direct, mode)
            v = v + nrun
        _sync(p, nrun)
        t0 = _tick(p, tid, P_GATHER, t0)
    for l in range(p.n_layers if compute else 0):
        v = tid
        while v < nt:
            _forward_part(p, P, X, l, v, nt, B, mode)
            if tail and v == 0 and l == p.n_layers - 1:
                _softmax_part(p, WS, 0, nt, B, mode)
            v = v + nrun
        if not (last_layer_ends and l == p.n_layers - 1):
            _sync(p, nrun)
        t0 = _tick(p, tid, P_LAYERS + 2 * l, t0)
    if softmax and compute and not tail:
        v = tid
        while v < nt:
            _softmax_part(p, WS, v, nt, B, mode)
            v = v + nrun
        if mode > 0:
            _sync(p, nrun)
        t0 = _tick(p, tid, P_SOFTMAX, t0)
    if compute and mode > 0 and p.n_ar > 0:
        # activity regularizers: their penalty, and (training) their gradient into
        # the hidden nodes' d, which their readers then add to; after the softmax
        # phase, as the penalty is of the activated output
        v = tid
        while v < nt:
            _activity_part(p, WS, v, nt, B, train)
            v = v + nrun
        _sync(p, nrun)
    if compute and mode > 0:
        v = tid
        while v < nt:
            _loss_part(p, WS, v, nt, B, train)
            v = v + nrun
        _sync(p, nrun)
        t0 = _tick(p, tid, P_LOSS, t0)
    if train:
        for l in range(p.n_layers - 1 if compute else -1, p.first_bwd - 1, -1):
            if not p.L[l].needs_bwd:
                continue
            if p.L[l].accum and p.L[l].act != ACT_LINEAR:
                # every reader has added its share: now the activation derivative
                v = tid
                while v < nt:
                    _accum_act_part(p, l, v, nt, B)
                    v = v + nrun
                _sync(p, nrun)
            v = tid
            while v < nt:
                if l == p.n_layers - 1:
                    _prefetch_next(p, v, nt, start + B, B)
                if eager and upd >= 0:
                    _update_layer_part(p, P, G, upd, v, nt, B, False)
                if p.L[l].kind != NODE_DENSE:
                    node_backward_part(p, P, G, X, l, v, nt, B, eager)
                else:
                    _backward_part(p, P, G, X, l, v, nt, B, fold and l == p.first_bwd
                                   and not _dw_rows(B, &p.L[l]))
                if eager and l == p.first_bwd:
                    _update_layer_part(p, P, G, l, v, nt, B,
                                       fold and not _dw_rows(B, &p.L[l]))
                v = v + nrun
            _sync(p, nrun)
            upd = l
            t0 = _tick(p, tid, P_LAYERS + 2 * l + 1, t0)
        if update and not eager:
            if needs_norms(p.rule):
                k = tid
                while k < p.rule.n_segments:
                    p.rule.seg_scale[k] = seg_sumsq(p.rule, k, G, P)
                    k = k + nrun
                _sync(p, nrun)
                if tid == 0:
                    finish_scales(p.rule)
                _sync(p, nrun)
                t0 = _tick(p, tid, P_NORMS, t0)
            v = tid
            while v < nt:
                _update_part(p, P, G, v, nt)
                v = v + nrun
            _sync(p, nrun)
            t0 = _tick(p, tid, P_UPDATE, t0)
        if update and p.rule.has_con:      # every update is done: project the weights
            v = tid
            while v < nt:
                apply_constraints(p.rule, P, v, nt)
                v = v + nrun
    cydl_ftz_end(csr)


# Which dimension of each GEMM the threads split. Splitting the units (columns)
# gives each thread its own block of W in every phase, which is what the cache
# wants; a row split makes every thread pack all of W. Measured on the 2-core
# development machine, a row split of the large layers ranged from 6% faster to
# 19% slower from one run to the next, so units are split unless a layer is too
# narrow to share out in 8-column blocks (e.g. a 10-class output layer).
cdef enum:
    NARROW = 4 * COL_ALIGN
    GEMV_MIN_WORK = 8192     # multiply-adds of a one-row layer worth a thread


cdef inline bint _fwd_rows(Py_ssize_t B, LayerDesc* L) noexcept nogil:
    return L.n_out < NARROW and B >= NARROW


cdef inline bint _dw_rows(Py_ssize_t B, LayerDesc* L) noexcept nogil:
    return L.n_out < NARROW and L.n_in >= NARROW


cdef inline int _fwd_parts(Py_ssize_t B, LayerDesc* L, int nt) noexcept nogil:
    """Parts of a dense layer's forward: rows (a narrow layer) or units; one row is a
    GEMV, bound by reading W, so worth sharing out from a smaller size."""
    cdef double work = <double>B * L.n_in * L.n_out
    if _fwd_rows(B, L):
        return parts_for(work, GEMM_MIN_WORK, nt, B)
    return parts_for(work, GEMM_MIN_WORK if B > 1 else GEMV_MIN_WORK, nt, L.n_out)


cdef inline bint _x_direct(StepState* p) noexcept nogil:
    """Whether the rows are used in place: already the model dtype, and in order."""
    return p.idx == NULL and p.src_kind == (SRC_F64 if p.is_double else SRC_F32)


cdef inline int _gather_parts(StepState* p, Py_ssize_t B, int nt) noexcept nogil:
    return parts_for(<double>B * p.n_features, 8192, nt, B)


cdef inline int _softmax_parts(Py_ssize_t B, Py_ssize_t C, int nt) noexcept nogil:
    return parts_for(<double>B * C * 20, 40000, nt, B)


cdef inline bint _dx_rows(Py_ssize_t B, LayerDesc* L) noexcept nogil:
    return L.n_in < NARROW and B >= NARROW


cdef inline void _sync(StepState* p, int nrun) noexcept nogil:
    """The end of a phase: every thread's writes are seen by all (see _barrier.h)."""
    if nrun > 1:
        cydl_barrier_wait(p.bar, nrun)


cdef inline double _tick(StepState* p, int tid, int slot, double t0) noexcept nogil:
    """Thread 0 adds the time since t0 to a profile slot and returns the new t0."""
    cdef double now
    if not p.profiling or tid != 0:
        return t0
    now = omp_get_wtime()
    if slot >= 0:
        p.prof[slot] += now - t0
    return now


cdef void _gather_part(StepState* p, floating* P, int t, int nt, Py_ssize_t start, Py_ssize_t B,
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
    parts = _gather_parts(p, B, nt)
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


cdef void _prefetch_next(StepState* p, int t, int nt, Py_ssize_t start, Py_ssize_t B) noexcept nogil:
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


cdef void _forward_part(StepState* p, floating* P, const floating* X, int l, int t, int nt,
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
    if _fwd_rows(B, L):
        parts = _fwd_parts(B, L, nt)
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
        return
    parts = _fwd_parts(B, L, nt)
    if t >= parts:
        return
    sp = split_range(L.n_out, parts, t, COL_ALIGN)
    dense_forward_cols(act, <floating>L.alpha, B, L.n_in, x, ldx, xt, P + L.w, L.n_in,
                       P + L.b if L.b >= 0 else NULL, Z, B, A, B, sp.lo, sp.hi)


cdef bint _one_part_prediction(StepState* p, Py_ssize_t B, int nt) noexcept nogil:
    """Whether every phase of a prediction of B rows in nt parts is part 0's alone
    (dense layers only: the other nodes' parts are their own business)."""
    cdef int l, k
    cdef LayerDesc* L
    if not _x_direct(p) and _gather_parts(p, B, nt) > 1:
        return False
    for l in range(p.n_layers):
        L = &p.L[l]
        if L.kind != NODE_DENSE or _fwd_parts(B, L, nt) > 1:
            return False
    for k in range(p.n_outputs):
        L = &p.L[p.outs[k].node]
        if L.act == ACT_SOFTMAX and _softmax_parts(B, L.n_out, nt) > 1:
            return False
    return True


cdef bint _one_part_tail(StepState* p, Py_ssize_t B, int nt) noexcept nogil:
    """Whether the one output is the last layer, a dense one whose forward and
    softmax both fall to part 0 alone (the same parts as in separate phases)."""
    cdef LayerDesc* L
    if p.n_outputs != 1 or p.outs[0].node != p.n_layers - 1:
        return False
    L = &p.L[p.n_layers - 1]
    if L.kind != NODE_DENSE or L.act != ACT_SOFTMAX:
        return False
    return _softmax_parts(B, L.n_out, nt) == 1 and _fwd_parts(B, L, nt) == 1


cdef void _softmax_part(StepState* p, floating* WS, int t, int nt, Py_ssize_t B,
                        int mode) noexcept nogil:
    cdef LayerDesc* L
    cdef int parts, k
    cdef Span sp
    for k in range(p.n_outputs):
        L = &p.L[p.outs[k].node]
        if L.act != ACT_SOFTMAX or (mode > 0 and p.outs[k].on_logits):
            continue
        parts = _softmax_parts(B, L.n_out, nt)
        if t >= parts:
            continue
        sp = split_range(B, parts, t, 1)
        softmax_rows(sp.lo, sp.hi, L.n_out, WS + L.a, B, WS + L.a, B)


cdef void _loss_part(StepState* p, floating* WS, int t, int nt, Py_ssize_t B, bint grad) noexcept nogil:
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


cdef void _activity_part(StepState* p, floating* WS, int t, int nt, Py_ssize_t B,
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


cdef void _accum_act_part(StepState* p, int l, int t, int nt, Py_ssize_t B) noexcept nogil:
    """dA -> dZ in place for a node that several readers added their gradients into."""
    cdef LayerDesc* L = &p.L[l]
    cdef int parts = parts_for(<double>B * L.n_out * 4, 40000, nt, L.n_out)
    cdef Span sp
    if t >= parts:
        return
    sp = split_range(L.n_out, parts, t, 1)
    if p.is_double:
        _accum_act(L, <double*>p.WS, sp, B)
    else:
        _accum_act(L, <float*>p.WS, sp, B)


cdef void _accum_act(LayerDesc* L, floating* WS, Span sp, Py_ssize_t B) noexcept nogil:
    act_backward(L.act, <floating>L.alpha, B, sp.lo, sp.hi, WS + L.d, B, WS + L.a, B,
                 WS + L.z if L.keep_z else NULL, B, WS + L.d, B)


cdef void _backward_part(StepState* p, floating* P, floating* G, const floating* X, int l, int t,
                         int nt, Py_ssize_t B, bint fold) noexcept nogil:
    cdef LayerDesc* L = &p.L[l]
    cdef LayerDesc* prev
    cdef floating* WS = <floating*>p.WS
    cdef floating* dZ = WS + L.d
    cdef const floating* x
    cdef Py_ssize_t ldx
    cdef char xt
    cdef int parts, tt
    cdef Span sp
    cdef double work = <double>B * L.n_in * L.n_out
    cdef floating beta
    if L.src[0] < 0:
        x, ldx, xt = X + p.in_off[-1 - L.src[0]], p.n_features, c'T'
    else:
        x, ldx, xt = WS + p.L[L.src[0]].a, B, c'N'
    if L.trainable and _dw_rows(B, L):     # (never folded: see _step)
        parts = parts_for(work, GEMM_MIN_WORK, nt, L.n_in)
        if t < parts:
            sp = split_range(L.n_in, parts, t, COL_ALIGN)
            dense_weight_grad_rows(B, L.n_out, x, ldx, xt, dZ, B, G + L.w, L.n_in,
                                   sp.lo, sp.hi, 0)
        if L.b >= 0:
            sp = split_range(L.n_out, nt, t, COL_ALIGN)
            bias_grad_cols(B, dZ, B, G + L.b, sp.lo, sp.hi, 0)
    elif L.trainable and fold:
        parts = parts_for(work, GEMM_MIN_WORK, nt, L.n_out)
        if t < parts:
            sp = split_range(L.n_out, parts, t, COL_ALIGN)
            if sp.hi > sp.lo:
                gemm(c'T' if xt == c'N' else c'N', c'N', L.n_in, <int>(sp.hi - sp.lo), <int>B,
                     <floating>(-p.rule.s.lr), x, <int>ldx, dZ + sp.lo * B, <int>B,
                     <floating>1, P + L.w + sp.lo * L.n_in, L.n_in)
                if L.b >= 0:
                    bias_grad_cols(B, dZ, B, G + L.b, sp.lo, sp.hi, 0)
    elif L.trainable:
        parts = parts_for(work, GEMM_MIN_WORK, nt, L.n_out)
        if t < parts:
            sp = split_range(L.n_out, parts, t, COL_ALIGN)
            dense_weight_grad_cols(B, L.n_in, x, ldx, xt, dZ, B, G + L.w, L.n_in,
                                   G + L.b if L.b >= 0 else NULL, sp.lo, sp.hi, 0)
    if not L.need_dx:
        return
    # input gradient, handed out from the last thread down so that two one-part
    # GEMMs of this phase land on different threads; a source with several readers
    # gets it added (beta 1) and applies its activation derivative itself
    prev = &p.L[L.src[0]]
    beta = 1 if prev.accum else 0
    tt = nt - 1 - t
    if _dx_rows(B, L):
        parts = parts_for(work, GEMM_MIN_WORK, nt, B)
        if tt >= parts:
            return
        sp = split_range(B, parts, tt, COL_ALIGN)
        if sp.hi <= sp.lo:
            return
        gemm(c'N', c'T', <int>(sp.hi - sp.lo), L.n_in, L.n_out, <floating>1, dZ + sp.lo,
             <int>B, P + L.w, L.n_in, beta, WS + prev.d + sp.lo, <int>B)
        if prev.accum:
            return
        act_backward(prev.act, <floating>prev.alpha, sp.hi - sp.lo, 0, L.n_in,
                     WS + prev.d + sp.lo, B, WS + prev.a + sp.lo, B,
                     WS + prev.z + sp.lo if prev.keep_z else NULL, B, WS + prev.d + sp.lo, B)
        return
    parts = parts_for(work, GEMM_MIN_WORK, nt, L.n_in)
    if tt >= parts:
        return
    sp = split_range(L.n_in, parts, tt, COL_ALIGN)
    dense_input_grad_cols(B, L.n_out, dZ, B, P + L.w, L.n_in, WS + prev.d, B, sp.lo, sp.hi, beta)
    if prev.accum:
        return
    act_backward(prev.act, <floating>prev.alpha, B, sp.lo, sp.hi, WS + prev.d, B,
                 WS + prev.a, B, WS + prev.z if prev.keep_z else NULL, B, WS + prev.d, B)


cdef void _update_layer_part(StepState* p, floating* P, floating* G, int l, int t, int nt,
                             Py_ssize_t B, bint folded) noexcept nogil:
    """Optimizer step on the columns of layer l whose gradient thread t computed
    (the same split as its weight-gradient GEMM, so the block is still in cache)."""
    cdef LayerDesc* L = &p.L[l]
    cdef int parts
    cdef Span sp
    cdef Py_ssize_t c, col
    cdef floating* S1 = <floating*>p.S1
    cdef floating* S2 = <floating*>p.S2
    cdef floating* S3 = <floating*>p.S3
    if not L.trainable or L.kind != NODE_DENSE:    # other nodes update in their own part
        return
    if _dw_rows(B, L):
        # this thread computed rows lo..hi of dW: a piece of every column
        parts = parts_for(<double>B * L.n_in * L.n_out, GEMM_MIN_WORK, nt, L.n_in)
        if t < parts:
            sp = split_range(L.n_in, parts, t, COL_ALIGN)
            if sp.hi > sp.lo:
                for c in range(L.n_out):
                    col = L.w + c * L.n_in
                    update_range(p.rule, col + sp.lo, col + sp.hi, P, G, S1, S2, S3, t)
        if L.b >= 0:
            sp = split_range(L.n_out, nt, t, COL_ALIGN)
            update_range(p.rule, L.b + sp.lo, L.b + sp.hi, P, G, S1, S2, S3, t)
        return
    parts = parts_for(<double>B * L.n_in * L.n_out, GEMM_MIN_WORK, nt, L.n_out)
    if t >= parts:
        return
    sp = split_range(L.n_out, parts, t, COL_ALIGN)
    if not folded:      # folded: the weight-gradient GEMM already updated W
        update_range(p.rule, L.w + sp.lo * L.n_in, L.w + sp.hi * L.n_in, P, G, S1, S2, S3, t)
    if L.b >= 0:
        update_range(p.rule, L.b + sp.lo, L.b + sp.hi, P, G, S1, S2, S3, t)


cdef void _update_part(StepState* p, floating* P, floating* G, int t, int nt) noexcept nogil:
    cdef Py_ssize_t n = p.n_trainable
    cdef int parts = parts_for(<double>n, 16384, nt, n)
    cdef Span sp
    if t >= parts:
        return
    sp = split_range(n, parts, t, 16)
    update_range(p.rule, sp.lo, sp.hi, P, G, <floating*>p.S1, <floating*>p.S2,
                 <floating*>p.S3, t)


cdef void copy_out(StepState* p, int k, floating* out, Py_ssize_t start,
                   Py_ssize_t B) noexcept nogil:
    """out[start + r, c] = A[r, c]: output k, column-major, into C-ordered rows."""
    cdef LayerDesc* L = &p.L[p.outs[k].node]
    cdef const floating* A = <const floating*>p.WS + L.a
    cdef Py_ssize_t r, c, C = L.n_out
    for r in range(B):
        for c in range(C):
            out[(start + r) * C + c] = A[r + c * B]
