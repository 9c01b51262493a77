"""The phases of a fused training step, and the threads that run them.

`run_step` is the whole step: gather, forward, loss, backward with the optimizer
update folded in, as described in _fused.pyx, which owns the buffers. Each phase
is cut into parts (_parts.pyx, _backward.pyx); every thread runs its parts of a
phase, then waits at a barrier for the others. Everything here works on a
StepState, a plain C struct, so no Python object is touched without the GIL.
"""
from cython cimport floating
from cython.parallel cimport parallel
from cydl._kernels._parallel cimport (omp_get_thread_num, omp_get_wtime, cydl_ftz_begin,
                                      cydl_ftz_end)
from cydl._kernels._blas cimport blas_pin, blas_unpin
from cydl._kernels._activations cimport ACT_SOFTMAX, ACT_LINEAR
from cydl._kernels._optim cimport (seg_sumsq, reset_penalty, apply_constraints, needs_norms,
                                   finish_scales, OPT_SGD)
from cydl._kernels._nodes cimport node_keys, node_backward_part
from cydl._kernels._parts cimport (gather_part, prefetch_next, forward_part, softmax_part,
                                   loss_part, activity_part, fwd_parts, rows_in_place,
                                   gather_parts, softmax_parts, folds_hidden)
from cydl._kernels._backward cimport (accum_act_part, backward_part, update_layer_part,
                                      update_part, update_deferred)
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
    c.x_direct = rows_in_place(p)
    if c.x_direct:
        c.X = <const floating*>p.X + start * p.n_features
    else:
        c.X = <const floating*>p.XB
    if c.train and c.compute:
        node_keys(p)
    if c.update:
        reset_penalty(p.rule, nt)     # each part sums the penalty of what it updates
    if p.profiling and nrun > p.prof_threads:
        p.prof_threads = nrun
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
    cdef bint lf, first_fold = False
    cdef double t0 = 0
    cdef unsigned int csr = 0
    csr = cydl_ftz_begin()      # denormals flushed on every thread (see _cpu.h)
    t0 = _tick(p, tid, -1, 0)
    if compute and not (x_direct and mode == 0):
        v = tid
        while v < nt:
            gather_part(p, P, v, nt, start, B, x_direct, mode)
            v = v + nrun
        _sync(p, nrun, tid)
        t0 = _tick(p, tid, P_GATHER, t0)
    for l in range(p.n_layers if compute else 0):
        v = tid
        while v < nt:
            forward_part(p, P, X, l, v, nt, B, mode)
            if tail and v == 0 and l == p.n_layers - 1:
                softmax_part(p, WS, 0, nt, B, mode)
            v = v + nrun
        if not (last_layer_ends and l == p.n_layers - 1):
            _sync(p, nrun, tid)
        t0 = _tick(p, tid, P_LAYERS + 2 * l, t0)
    if softmax and compute and not tail:
        v = tid
        while v < nt:
            softmax_part(p, WS, v, nt, B, mode)
            v = v + nrun
        if mode > 0:
            _sync(p, nrun, tid)
        t0 = _tick(p, tid, P_SOFTMAX, t0)
    if compute and mode > 0 and p.n_ar > 0:
        # activity regularizers: their penalty, and (training) their gradient into
        # the hidden nodes' d, which their readers then add to; after the softmax
        # phase, as the penalty is of the activated output
        v = tid
        while v < nt:
            activity_part(p, WS, v, nt, B, train)
            v = v + nrun
        _sync(p, nrun, tid)
    if compute and mode > 0:
        v = tid
        while v < nt:
            loss_part(p, WS, v, nt, B, train)
            v = v + nrun
        _sync(p, nrun, tid)
        t0 = _tick(p, tid, P_LOSS, t0)
    if train:
        for l in range(p.n_layers - 1 if compute else -1, p.first_bwd - 1, -1):
            if not p.L[l].needs_bwd:
                continue
            if p.L[l].accum and p.L[l].act != ACT_LINEAR:
                # every reader has added its share: now the activation derivative
                v = tid
                while v < nt:
                    accum_act_part(p, l, v, nt, B)
                    v = v + nrun
                _sync(p, nrun, tid)
            # plain SGD folds W's update into its gradient's GEMM: the lowest trained
            # layer's, and any other whose input gradient can be split to match
            # (folds_hidden); such a layer is done when its phase ends
            lf = fold and (folds_hidden(B, &p.L[l], nt) if p.L[l].need_dx else l == p.first_bwd)
            if l == p.first_bwd:
                first_fold = lf
            v = tid
            while v < nt:
                if l == p.n_layers - 1:
                    prefetch_next(p, v, nt, start + B, B)
                if eager and upd >= 0:
                    update_layer_part(p, P, G, upd, v, nt, B, False, True)
                if p.L[l].kind != NODE_DENSE:
                    node_backward_part(p, P, G, X, l, v, nt, B, eager)
                else:
                    backward_part(p, P, G, X, l, v, nt, B, lf)
                if (eager and l == p.first_bwd and not (lf and p.L[l].need_dx)
                        and not update_deferred(B, &p.L[l], lf)):
                    update_layer_part(p, P, G, l, v, nt, B, lf, False)
                v = v + nrun
            _sync(p, nrun, tid)
            upd = -1 if lf and p.L[l].need_dx else l
            t0 = _tick(p, tid, P_LAYERS + 2 * l + 1, t0)
        if (eager and compute and p.first_bwd < p.n_layers
                and update_deferred(B, &p.L[p.first_bwd], first_fold)):
            v = tid
            while v < nt:
                update_layer_part(p, P, G, p.first_bwd, v, nt, B, False, True)
                v = v + nrun
            _sync(p, nrun, tid)
            t0 = _tick(p, tid, P_UPDATE, t0)
        if update and not eager:
            if needs_norms(p.rule):
                k = tid
                while k < p.rule.n_segments:
                    p.rule.seg_scale[k] = seg_sumsq(p.rule, k, G, P)
                    k = k + nrun
                _sync(p, nrun, tid)
                if tid == 0:
                    finish_scales(p.rule)
                _sync(p, nrun, tid)
                t0 = _tick(p, tid, P_NORMS, t0)
            v = tid
            while v < nt:
                update_part(p, P, G, v, nt)
                v = v + nrun
            _sync(p, nrun, tid)
            t0 = _tick(p, tid, P_UPDATE, t0)
        if update and p.rule.has_con:      # every update is done: project the weights
            v = tid
            while v < nt:
                apply_constraints(p.rule, P, v, nt)
                v = v + nrun
    cydl_ftz_end(csr)


cdef inline void _sync(StepState* p, int nrun, int tid) noexcept nogil:
    """The end of a phase: every thread's writes are seen by all (see _barrier.h).
    While profiling, each thread also times its wait."""
    cdef double t
    if nrun < 2:
        return
    if p.profiling and tid < PROF_THREADS:
        t = omp_get_wtime()
        cydl_barrier_wait(p.bar, nrun)
        p.pending[8 * tid] += omp_get_wtime() - t
    else:
        cydl_barrier_wait(p.bar, nrun)


cdef inline double _tick(StepState* p, int tid, int slot, double t0) noexcept nogil:
    """Thread 0 adds the time since t0 to a profile slot and returns the new t0; every
    thread adds its barrier waits since its last tick to its own row of the slot."""
    cdef double now
    if not p.profiling:
        return t0
    if tid < PROF_THREADS:
        if slot >= 0:
            p.waits[tid * (P_LAYERS + 2 * p.n_layers) + slot] += p.pending[8 * tid]
        p.pending[8 * tid] = 0
    if tid != 0:
        return t0
    now = omp_get_wtime()
    if slot >= 0:
        p.prof[slot] += now - t0
    return now


cdef bint _one_part_prediction(StepState* p, Py_ssize_t B, int nt) noexcept nogil:
    """Whether every phase of a prediction of B rows in nt parts is part 0's alone
    (dense layers only: the other nodes' parts are their own business)."""
    cdef int l, k
    cdef LayerDesc* L
    if not rows_in_place(p) and gather_parts(p, B, nt) > 1:
        return False
    for l in range(p.n_layers):
        L = &p.L[l]
        if L.kind != NODE_DENSE or fwd_parts(B, L, nt) > 1:
            return False
    for k in range(p.n_outputs):
        L = &p.L[p.outs[k].node]
        if L.act == ACT_SOFTMAX and softmax_parts(B, L.n_out, nt) > 1:
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
    return softmax_parts(B, L.n_out, nt) == 1 and fwd_parts(B, L, nt) == 1


cdef void copy_out(StepState* p, int k, floating* out, Py_ssize_t start,
                   Py_ssize_t B) noexcept nogil:
    """out[start + r, c] = A[r, c]: output k, column-major, into C-ordered rows."""
    cdef LayerDesc* L = &p.L[p.outs[k].node]
    cdef const floating* A = <const floating*>p.WS + L.a
    cdef Py_ssize_t r, c, C = L.n_out
    for r in range(B):
        for c in range(C):
            out[(start + r) * C + c] = A[r + c * B]
