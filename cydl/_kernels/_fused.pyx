"""A whole training step of a dense network in one call, without the GIL.

The step runs inside one OpenMP parallel region; phases are separated by the
barrier at the end of a `prange(n_threads)` loop (about 0.2 us, against 0.6 us for
a new region):

  gather   the batch's rows (shuffled, cast to the model dtype)
  forward  per layer: GEMM on a column block, then bias + activation on it
  loss     rows split; value, gradient and metric statistics in one pass
  backward per layer: dW and db on a column block of the outputs, and dX on a
           column block of the inputs fused with the previous layer's
           activation derivative (one barrier per layer). The optimizer updates
           each column block of W right after its gradient (the lowest layer) or
           one barrier later (the others, whose W the dX GEMM still reads), while
           the block is in cache. With plain SGD the lowest layer's update is the
           weight-gradient GEMM itself (alpha -lr, beta 1, written into W), so its
           gradient is never stored.
  update   with clipnorm / global_clipnorm only: norms first, then one pass over
           the flat parameter buffer

Each thread owns the same column block of a layer's W in forward, weight gradient
and (for the large first layer) its slice of the update, so that block stays in its
core's cache. Work too small to split runs on one thread while the others wait.

Layout: activations and gradients are column-major (B x units) with leading
dimension B; W is column-major (n_in x n_out) inside the flat buffer.
"""
from cython cimport floating
from cython.parallel cimport prange, parallel
from libc.stdlib cimport malloc, free
from libc.string cimport memset, memcpy
from cydl._kernels._parallel cimport (Span, split_range, parts_for, omp_get_thread_num,
                                      omp_get_wtime, cydl_ftz_begin, cydl_ftz_end,
                                      cydl_prefetch)
from cydl._kernels._blas cimport blas_pin, blas_unpin
from cydl._kernels._activations cimport (bias_act_forward, act_backward, softmax_rows,
                                         softmax_backward_rows, ACT_SOFTMAX, ACT_LINEAR)
from cydl._kernels._dense cimport (dense_forward_cols, dense_weight_grad_cols,
                                   dense_weight_grad_rows, bias_grad_cols,
                                   dense_input_grad_cols, GEMM_MIN_WORK, COL_ALIGN)
from cydl._kernels._blas cimport gemm
from cydl._kernels._losses cimport loss_rows, N_STATS
from cydl._kernels._optim cimport UpdateRule, update_range, sumsq, OPT_SGD
from cydl._kernels._data cimport gather_rows_span
import numpy as np

cdef enum:
    MAX_THREADS = 256
    STAT_STRIDE = 8       # doubles per thread: one cache line, no false sharing
    SRC_U8 = 0
    SRC_F32 = 1
    SRC_F64 = 2
    # profile slots: gather, loss, softmax, norms, update, then 2 per layer
    P_GATHER = 0
    P_LOSS = 1
    P_SOFTMAX = 2
    P_NORMS = 3
    P_UPDATE = 4
    P_LAYERS = 5


cdef struct LayerDesc:
    int n_in
    int n_out
    int act
    double alpha
    int trainable
    int keep_z            # the activation's derivative needs its input
    Py_ssize_t w          # offsets (elements) of kernel and bias in params/grads
    Py_ssize_t b          # -1: no bias
    Py_ssize_t a          # offsets in the workspace: output,
    Py_ssize_t z          # pre-activation (-1: computed in place),
    Py_ssize_t d          # and gradient, each bmax x n_out


cdef class Plan:
    """The compiled form of a chain of Dense layers plus a loss. Build it with
    cydl.ops.make_plan; bind data and the optimizer once; then one call per step."""
    cdef LayerDesc* L
    cdef int n_layers
    cdef int n_features
    cdef int first_bwd          # lowest layer that backward reaches
    cdef Py_ssize_t bmax
    cdef bint is_double
    cdef int loss_kind, acc_mode, on_logits
    cdef double loss_param, thresh
    cdef object _params, _grads, _ws, _xb, _lb, _yb, _swb
    cdef char* P
    cdef char* G
    cdef char* WS
    cdef char* XB
    cdef int* LB
    cdef char* YB
    cdef char* SWB
    cdef double* part_stats
    cdef public object stats     # float64[4]: loss sum, hits, |err| sum, err^2 sum
    cdef double[::1] _stats
    # bound data
    cdef object _X, _labels, _Y, _sw, _idx
    cdef const char* X
    cdef int src_kind
    cdef Py_ssize_t n_rows
    cdef const int* labels
    cdef const char* Y
    cdef int y_cols
    cdef const char* SW
    cdef const long long* idx
    # optimizer
    cdef UpdateRule rule
    cdef object _slots
    cdef char* S1
    cdef char* S2
    cdef char* S3
    cdef Py_ssize_t n_trainable
    # optional per-phase timing (thread 0, between barriers)
    cdef bint profiling
    cdef double* prof
    cdef long prof_steps

    def __cinit__(self):
        self.L = NULL
        self.part_stats = NULL
        self.prof = NULL
        self.profiling = False

    def __dealloc__(self):
        free(self.L)
        free(self.part_stats)
        free(self.prof)

    def __init__(self, list layers, params, grads, Py_ssize_t n_trainable, int n_features,
                 int loss_kind, int acc_mode, bint on_logits, double loss_param,
                 double thresh):
        cdef int i
        self.n_layers = len(layers)
        self.n_features = n_features
        self.L = <LayerDesc*>malloc(self.n_layers * sizeof(LayerDesc))
        self.part_stats = <double*>malloc(MAX_THREADS * STAT_STRIDE * sizeof(double))
        if self.L == NULL or self.part_stats == NULL:
            raise MemoryError()
        self.first_bwd = self.n_layers
        for i, spec in enumerate(layers):
            self.L[i].n_in = spec["n_in"]
            self.L[i].n_out = spec["n_out"]
            self.L[i].act = spec["act"]
            self.L[i].alpha = spec["alpha"]
            self.L[i].trainable = spec["trainable"]
            self.L[i].keep_z = spec["keep_z"]
            self.L[i].w = spec["w"]
            self.L[i].b = spec["b"]
            if spec["trainable"] and self.first_bwd == self.n_layers:
                self.first_bwd = i
        self._params, self._grads = params, grads
        self.is_double = params.dtype == np.float64
        self.P = <char*><size_t>params.ctypes.data
        self.G = <char*><size_t>grads.ctypes.data
        self.n_trainable = n_trainable
        self.loss_kind, self.acc_mode, self.on_logits = loss_kind, acc_mode, on_logits
        self.loss_param, self.thresh = loss_param, thresh
        self.stats = np.zeros(N_STATS)
        self._stats = self.stats
        self.bmax = 0
        self.X = NULL
        self.rule = None

    # ------------------------------------------------------------ setup
    def ensure_batch(self, Py_ssize_t bmax):
        """Size the workspaces for batches of up to bmax rows (no-op if they fit)."""
        cdef Py_ssize_t off = 0, n
        cdef int i
        cdef object dt = self._params.dtype
        if bmax <= self.bmax:
            return
        for i in range(self.n_layers):
            n = bmax * self.L[i].n_out
            self.L[i].a = off
            off += n
            self.L[i].z = -1
            if self.L[i].keep_z:
                self.L[i].z = off
                off += n
            self.L[i].d = off
            off += n
        self._ws = np.zeros(off, dt)
        self._xb = np.zeros(bmax * self.n_features, dt)
        self._lb = np.zeros(bmax, np.int32)
        self._yb = np.zeros(bmax * self.L[self.n_layers - 1].n_out, dt)
        self._swb = np.zeros(bmax, dt)
        self.WS = <char*><size_t>self._ws.ctypes.data
        self.XB = <char*><size_t>self._xb.ctypes.data
        self.LB = <int*><size_t>self._lb.ctypes.data
        self.YB = <char*><size_t>self._yb.ctypes.data
        self.SWB = <char*><size_t>self._swb.ctypes.data
        self.bmax = bmax

    def bind_data(self, X, labels=None, Y=None, sw=None):
        """The arrays steps read from: X (N, n_features) C-ordered uint8, float32 or
        float64; int32 labels (N,) or targets Y (N, C) in the model dtype; optional
        sample weights (N,). Checked by the caller (cydl.ops.make_plan's owner)."""
        self._X, self._labels, self._Y, self._sw = X, labels, Y, sw
        self.X = <const char*><size_t>X.ctypes.data
        self.n_rows = X.shape[0]
        self.src_kind = SRC_U8 if X.dtype == np.uint8 else (
            SRC_F64 if X.dtype == np.float64 else SRC_F32)
        self.labels = <const int*><size_t>labels.ctypes.data if labels is not None else NULL
        self.Y = <const char*><size_t>Y.ctypes.data if Y is not None else NULL
        self.y_cols = Y.shape[1] if Y is not None else 0
        self.SW = <const char*><size_t>sw.ctypes.data if sw is not None else NULL
        self.idx = NULL
        self._idx = None

    def set_order(self, idx):
        """Row order of the coming steps (an int64 permutation), or None: in order."""
        self._idx = idx
        self.idx = <const long long*><size_t>idx.ctypes.data if idx is not None else NULL

    def bind_optimizer(self, UpdateRule rule, slots):
        self.rule = rule
        self._slots = list(slots) + [None] * (3 - len(slots))
        s = self._slots
        self.S1 = <char*><size_t>s[0].ctypes.data if s[0] is not None else NULL
        self.S2 = <char*><size_t>s[1].ctypes.data if s[1] is not None else NULL
        self.S3 = <char*><size_t>s[2].ctypes.data if s[2] is not None else NULL

    def set_profiling(self, bint on):
        """Time each phase of every step (thread 0, barrier to barrier); see
        profile(). Costs two clock reads per phase while on."""
        cdef int n = P_LAYERS + 2 * self.n_layers
        if self.prof == NULL:
            self.prof = <double*>malloc(n * sizeof(double))
            if self.prof == NULL:
                raise MemoryError()
        memset(self.prof, 0, n * sizeof(double))
        self.prof_steps = 0
        self.profiling = on

    def profile(self):
        """Mean milliseconds per step in each phase since set_profiling(True)."""
        cdef int i
        if self.prof == NULL or self.prof_steps == 0:
            return {}
        scale = 1e3 / self.prof_steps
        out = {"gather": self.prof[P_GATHER] * scale}
        for i in range(self.n_layers):
            out[f"forward {i}"] = self.prof[P_LAYERS + 2 * i] * scale
        out["softmax"] = self.prof[P_SOFTMAX] * scale
        out["loss"] = self.prof[P_LOSS] * scale
        for i in range(self.n_layers - 1, -1, -1):
            out[f"backward {i}"] = self.prof[P_LAYERS + 2 * i + 1] * scale
        out["norms"] = self.prof[P_NORMS] * scale
        out["update"] = self.prof[P_UPDATE] * scale
        return {k: v for k, v in out.items() if v > 0}

    def output_view(self, Py_ssize_t B):
        """The last layer's output of the latest step: (B, n_out), Fortran order."""
        cdef LayerDesc* last = &self.L[self.n_layers - 1]
        return self._ws[last.a:last.a + B * last.n_out].reshape((B, last.n_out), order="F")

    # ------------------------------------------------------------ steps
    def train_step(self, Py_ssize_t start, Py_ssize_t stop, int n_threads):
        """Forward, loss, backward and update on rows [start, stop) of the bound
        order; self.stats gets the batch's loss and metric sums."""
        cdef Py_ssize_t B = stop - start
        if self.X == NULL or self.rule is None or B <= 0 or B > self.bmax or stop > self.n_rows:
            raise ValueError("train_step: bind data and optimizer, and keep the batch "
                             "within the workspace and the data")
        self._run(start, B, n_threads, 2)

    def test_step(self, Py_ssize_t start, Py_ssize_t stop, int n_threads):
        """Forward and loss statistics only (no gradients, no update)."""
        cdef Py_ssize_t B = stop - start
        if self.X == NULL or B <= 0 or B > self.bmax or stop > self.n_rows:
            raise ValueError("test_step: bind data and keep the batch within bounds")
        self._run(start, B, n_threads, 1)

    def predict(self, out, Py_ssize_t batch, int n_threads):
        """out[i] = network output for row i of the bound X, batch rows at a time."""
        cdef Py_ssize_t start, B, n = self.n_rows
        cdef int C = self.L[self.n_layers - 1].n_out
        if out.shape[0] != n or out.shape[1] != C or not out.flags.c_contiguous or \
                out.dtype != self._params.dtype or batch > self.bmax:
            raise ValueError("predict: out must be a C-ordered (N, n_out) array of the "
                             "model dtype, and batch must fit the workspace")
        cdef char* op = <char*><size_t>out.ctypes.data
        start = 0
        while start < n:
            B = min(batch, n - start)
            self._run(start, B, n_threads, 0)
            if self.is_double:
                _copy_out(self, <double*>op, start, B)
            else:
                _copy_out(self, <float*>op, start, B)
            start += B

    # Low-latency entry points of model(x) / model.predict(x) for small batches in
    # the model dtype. Two plain methods rather than one fused one: Cython picks a
    # fused def's specialization at call time, which costs microseconds here.
    def predict_f32(self, float[:, ::1] X, float[:, ::1] out, int n_threads):
        """out = network(X), float32 model; rows <= workspace rows."""
        if self.is_double:
            raise ValueError("this plan is float64")
        self._predict_small(<const char*>&X[0, 0], X.shape[0], X.shape[1], out.shape[0],
                            out.shape[1], n_threads)
        _copy_out(self, &out[0, 0], 0, X.shape[0])

    def predict_f64(self, double[:, ::1] X, double[:, ::1] out, int n_threads):
        """out = network(X), float64 model; rows <= workspace rows."""
        if not self.is_double:
            raise ValueError("this plan is float32")
        self._predict_small(<const char*>&X[0, 0], X.shape[0], X.shape[1], out.shape[0],
                            out.shape[1], n_threads)
        _copy_out(self, &out[0, 0], 0, X.shape[0])

    cdef int _predict_small(self, const char* X, Py_ssize_t B, Py_ssize_t F, Py_ssize_t outB,
                            Py_ssize_t outC, int n_threads) except -1:
        if F != self.n_features or B == 0 or B > self.bmax or outB != B or \
                outC != self.L[self.n_layers - 1].n_out:
            raise ValueError("predict: X must be (n <= workspace rows, n_features), "
                             "out (n, n_out)")
        self.X = X
        self.n_rows = B
        self.src_kind = SRC_F64 if self.is_double else SRC_F32
        self.idx = NULL
        self._X = None
        self._run(0, B, n_threads, 0)
        self.X = NULL
        return 0

    cdef void _run(self, Py_ssize_t start, Py_ssize_t B, int n_threads, int mode):
        cdef int nt = n_threads if n_threads < MAX_THREADS else MAX_THREADS
        cdef int t, k, old
        if nt < 1:
            nt = 1
        with nogil:
            old = blas_pin()
            if self.is_double:
                _step(self, <double*>self.P, start, B, nt, mode)
            else:
                _step(self, <float*>self.P, start, B, nt, mode)
            blas_unpin(old)
        if self.profiling:
            self.prof_steps += 1
        for k in range(N_STATS):
            self._stats[k] = 0.0
        for t in range(nt):          # fixed order: sums do not depend on timing
            for k in range(N_STATS):
                self._stats[k] += self.part_stats[t * STAT_STRIDE + k]


# ---------------------------------------------------------------- the step

cdef void _step(Plan p, floating* P, Py_ssize_t start, Py_ssize_t B, int nt,
                int mode) noexcept nogil:
    """mode 0: predict (forward with output activation); 1: forward + loss;
    2: forward + loss + backward + update."""
    cdef int t, l = 0, k
    cdef bint train = mode == 2
    cdef bint x_direct
    cdef double t0 = 0
    cdef unsigned int csr = 0
    # Update each layer while its gradient is still in cache, unless clipping by
    # norm needs every gradient first.
    cdef bint eager = train and not p.rule.needs_norms()
    # Plain SGD on the lowest trained layer: W -= lr X^T dZ is itself a GEMM (alpha
    # -lr, beta 1), so that layer's gradient is never stored and never re-read.
    cdef bint fold = eager and p.rule.s.kind == OPT_SGD and p.rule.s.momentum == 0 and \
        p.rule.s.weight_decay == 0 and p.rule.s.clipvalue == 0
    cdef const floating* X
    cdef floating* WS = <floating*>p.WS
    cdef floating* G = <floating*>p.G
    cdef Py_ssize_t F = p.n_features
    cdef LayerDesc* last = &p.L[p.n_layers - 1]
    # rows used in place when they already are the model dtype and in order
    x_direct = p.idx == NULL and ((floating is double and p.src_kind == SRC_F64) or
                                  (floating is float and p.src_kind == SRC_F32))
    if x_direct:
        X = <const floating*>p.X + start * F
    else:
        X = <const floating*>p.XB
    with parallel(num_threads=nt):
        csr = cydl_ftz_begin()      # denormals flushed on every thread (see _cpu.h)
        t0 = _tick(p, -1, 0)
        if not (x_direct and mode == 0):
            for t in prange(nt, schedule='static', chunksize=1):
                _gather_part(p, P, t, nt, start, B, x_direct, mode)
            t0 = _tick(p, P_GATHER, t0)
        for l in range(p.n_layers):
            for t in prange(nt, schedule='static', chunksize=1):
                _forward_part(p, P, X, l, t, nt, B, mode)
            t0 = _tick(p, P_LAYERS + 2 * l, t0)
        if last.act == ACT_SOFTMAX and (mode == 0 or not p.on_logits):
            for t in prange(nt, schedule='static', chunksize=1):
                _softmax_part(p, WS, t, nt, B)
            t0 = _tick(p, P_SOFTMAX, t0)
        if mode > 0:
            for t in prange(nt, schedule='static', chunksize=1):
                _loss_part(p, WS, t, nt, B, train)
            t0 = _tick(p, P_LOSS, t0)
        if train:
            for l in range(p.n_layers - 1, p.first_bwd - 1, -1):
                for t in prange(nt, schedule='static', chunksize=1):
                    if l == p.n_layers - 1:
                        _prefetch_next(p, t, nt, start + B, B)
                    if eager and l + 1 < p.n_layers:
                        _update_layer_part(p, P, G, l + 1, t, nt, B, False)
                    _backward_part(p, P, G, X, l, t, nt, B, fold and l == p.first_bwd
                                   and not _dw_rows(B, &p.L[l]))
                    if eager and l == p.first_bwd:
                        _update_layer_part(p, P, G, l, t, nt, B,
                                           fold and not _dw_rows(B, &p.L[l]))
                t0 = _tick(p, P_LAYERS + 2 * l + 1, t0)
            if not eager:
                for k in prange(p.rule.n_segments, schedule='dynamic'):
                    p.rule.seg_scale[k] = sumsq(G, p.rule.seg_bounds[k], p.rule.seg_bounds[k + 1])
                for t in prange(nt, schedule='static', chunksize=1):
                    if t == 0:
                        p.rule.finish_scales()
                t0 = _tick(p, P_NORMS, t0)
                for t in prange(nt, schedule='static', chunksize=1):
                    _update_part(p, P, G, t, nt)
                t0 = _tick(p, P_UPDATE, t0)
        cydl_ftz_end(csr)


# Which dimension of each GEMM the threads split. Splitting the units (columns)
# gives each thread its own block of W in every phase, which is what the cache
# wants; a row split makes every thread pack all of W. Measured on the 2-core
# development machine, a row split of the large layers ranged from 6% faster to
# 19% slower from one run to the next, so units are split unless a layer is too
# narrow to share out in 8-column blocks (e.g. a 10-class output layer).
cdef enum:
    NARROW = 4 * COL_ALIGN


cdef inline bint _fwd_rows(Py_ssize_t B, LayerDesc* L) noexcept nogil:
    return L.n_out < NARROW and B >= NARROW


cdef inline bint _dw_rows(Py_ssize_t B, LayerDesc* L) noexcept nogil:
    return L.n_out < NARROW and L.n_in >= NARROW


cdef inline bint _dx_rows(Py_ssize_t B, LayerDesc* L) noexcept nogil:
    return L.n_in < NARROW and B >= NARROW


cdef inline double _tick(Plan p, int slot, double t0) noexcept nogil:
    """Thread 0 adds the time since t0 to a profile slot and returns the new t0."""
    cdef double now
    if not p.profiling or omp_get_thread_num() != 0:
        return t0
    now = omp_get_wtime()
    if slot >= 0:
        p.prof[slot] += now - t0
    return now


cdef void _gather_part(Plan p, floating* P, int t, int nt, Py_ssize_t start, Py_ssize_t B,
                       bint x_direct, int mode) noexcept nogil:
    cdef Span sp
    cdef Py_ssize_t r, row, F = p.n_features
    cdef int C = p.y_cols
    cdef floating* yb = <floating*>p.YB
    cdef floating* swb = <floating*>p.SWB
    cdef int parts
    memset(p.part_stats + t * STAT_STRIDE, 0, STAT_STRIDE * sizeof(double))
    parts = parts_for(<double>B * F, 8192, nt, B)
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
        if p.labels != NULL:
            p.LB[r] = p.labels[row]
        if p.Y != NULL:
            memcpy(yb + r * C, <const floating*>p.Y + row * C, C * sizeof(floating))
        if p.SW != NULL:
            swb[r] = (<const floating*>p.SW)[row]


cdef void _prefetch_next(Plan p, int t, int nt, Py_ssize_t start, Py_ssize_t B) noexcept nogil:
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


cdef void _forward_part(Plan p, floating* P, const floating* X, int l, int t, int nt,
                        Py_ssize_t B, int mode) noexcept nogil:
    cdef LayerDesc* L = &p.L[l]
    cdef floating* WS = <floating*>p.WS
    cdef const floating* x
    cdef Py_ssize_t ldx
    cdef char xt
    cdef floating* A = WS + L.a
    cdef floating* Z = A
    cdef int act = L.act, parts
    cdef Span sp
    if l == 0:
        x, ldx, xt = X, p.n_features, c'T'
    else:
        x, ldx, xt = WS + p.L[l - 1].a, B, c'N'
    if mode > 0 and L.keep_z:
        Z = WS + L.z
    if l == p.n_layers - 1 and (act == ACT_SOFTMAX or (mode > 0 and p.on_logits)):
        act = ACT_LINEAR   # a fused loss works on the logits; softmax is a row phase
    if _fwd_rows(B, L):
        parts = parts_for(<double>B * L.n_in * L.n_out, GEMM_MIN_WORK, nt, B)
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
    parts = parts_for(<double>B * L.n_in * L.n_out, GEMM_MIN_WORK, nt, L.n_out)
    if t >= parts:
        return
    sp = split_range(L.n_out, parts, t, COL_ALIGN)
    dense_forward_cols(act, <floating>L.alpha, B, L.n_in, x, ldx, xt, P + L.w, L.n_in,
                       P + L.b if L.b >= 0 else NULL, Z, B, A, B, sp.lo, sp.hi)


cdef void _softmax_part(Plan p, floating* WS, int t, int nt, Py_ssize_t B) noexcept nogil:
    cdef LayerDesc* L = &p.L[p.n_layers - 1]
    cdef int parts = parts_for(<double>B * L.n_out * 20, 40000, nt, B)
    cdef Span sp
    if t >= parts:
        return
    sp = split_range(B, parts, t, 1)
    softmax_rows(sp.lo, sp.hi, L.n_out, WS + L.a, B, WS + L.a, B)


cdef void _loss_part(Plan p, floating* WS, int t, int nt, Py_ssize_t B, bint grad) noexcept nogil:
    cdef LayerDesc* L = &p.L[p.n_layers - 1]
    cdef int C = L.n_out, parts
    cdef floating* A = WS + L.a
    cdef floating* D = WS + L.d
    cdef Span sp
    parts = parts_for(<double>B * C * 30, 40000, nt, B)
    if t >= parts:
        return
    sp = split_range(B, parts, t, 1)
    loss_rows(p.loss_kind, p.acc_mode, p.loss_param, p.thresh, sp.lo, sp.hi, C, A, 1, B,
              p.LB if p.labels != NULL else NULL,
              <floating*>p.YB if p.Y != NULL else NULL, C, 1,
              <floating*>p.SWB if p.SW != NULL else NULL,
              D if grad else NULL, 1, B, <floating>(1.0 / B),
              p.part_stats + t * STAT_STRIDE)
    if not grad or p.on_logits or L.act == ACT_LINEAR:
        return
    # the loss saw the activated output: chain through the output activation
    if L.act == ACT_SOFTMAX:
        softmax_backward_rows(sp.lo, sp.hi, C, D, B, A, B, D, B)
    else:
        act_backward(L.act, <floating>L.alpha, sp.hi - sp.lo, 0, C, D + sp.lo, B, A + sp.lo, B,
                     WS + L.z + sp.lo if L.keep_z else NULL, B, D + sp.lo, B)


cdef void _backward_part(Plan p, floating* P, floating* G, const floating* X, int l, int t,
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
    if l == 0:
        x, ldx, xt = X, p.n_features, c'T'
    else:
        x, ldx, xt = WS + p.L[l - 1].a, B, c'N'
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
    if l <= p.first_bwd:
        return
    # input gradient, handed out from the last thread down so that two one-part
    # GEMMs of this phase land on different threads
    prev = &p.L[l - 1]
    tt = nt - 1 - t
    if _dx_rows(B, L):
        parts = parts_for(work, GEMM_MIN_WORK, nt, B)
        if tt >= parts:
            return
        sp = split_range(B, parts, tt, COL_ALIGN)
        if sp.hi <= sp.lo:
            return
        gemm(c'N', c'T', <int>(sp.hi - sp.lo), L.n_in, L.n_out, <floating>1, dZ + sp.lo,
             <int>B, P + L.w, L.n_in, <floating>0, WS + prev.d + sp.lo, <int>B)
        act_backward(prev.act, <floating>prev.alpha, sp.hi - sp.lo, 0, L.n_in,
                     WS + prev.d + sp.lo, B, WS + prev.a + sp.lo, B,
                     WS + prev.z + sp.lo if prev.keep_z else NULL, B, WS + prev.d + sp.lo, B)
        return
    parts = parts_for(work, GEMM_MIN_WORK, nt, L.n_in)
    if tt >= parts:
        return
    sp = split_range(L.n_in, parts, tt, COL_ALIGN)
    dense_input_grad_cols(B, L.n_out, dZ, B, P + L.w, L.n_in, WS + prev.d, B, sp.lo, sp.hi, 0)
    act_backward(prev.act, <floating>prev.alpha, B, sp.lo, sp.hi, WS + prev.d, B,
                 WS + prev.a, B, WS + prev.z if prev.keep_z else NULL, B, WS + prev.d, B)


cdef void _update_layer_part(Plan p, floating* P, floating* G, int l, int t, int nt,
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
    if not L.trainable:
        return
    if _dw_rows(B, L):
        # this thread computed rows lo..hi of dW: a piece of every column
        parts = parts_for(<double>B * L.n_in * L.n_out, GEMM_MIN_WORK, nt, L.n_in)
        if t < parts:
            sp = split_range(L.n_in, parts, t, COL_ALIGN)
            if sp.hi > sp.lo:
                for c in range(L.n_out):
                    col = L.w + c * L.n_in
                    update_range(p.rule, col + sp.lo, col + sp.hi, P, G, S1, S2, S3)
        if L.b >= 0:
            sp = split_range(L.n_out, nt, t, COL_ALIGN)
            update_range(p.rule, L.b + sp.lo, L.b + sp.hi, P, G, S1, S2, S3)
        return
    parts = parts_for(<double>B * L.n_in * L.n_out, GEMM_MIN_WORK, nt, L.n_out)
    if t >= parts:
        return
    sp = split_range(L.n_out, parts, t, COL_ALIGN)
    if not folded:      # folded: the weight-gradient GEMM already updated W
        update_range(p.rule, L.w + sp.lo * L.n_in, L.w + sp.hi * L.n_in, P, G, S1, S2, S3)
    if L.b >= 0:
        update_range(p.rule, L.b + sp.lo, L.b + sp.hi, P, G, S1, S2, S3)


cdef void _update_part(Plan p, floating* P, floating* G, int t, int nt) noexcept nogil:
    cdef Py_ssize_t n = p.n_trainable
    cdef int parts = parts_for(<double>n, 16384, nt, n)
    cdef Span sp
    if t >= parts:
        return
    sp = split_range(n, parts, t, 16)
    update_range(p.rule, sp.lo, sp.hi, P, G, <floating*>p.S1, <floating*>p.S2,
                 <floating*>p.S3)


cdef void _copy_out(Plan p, floating* out, Py_ssize_t start, Py_ssize_t B) noexcept nogil:
    """out[start + r, c] = A[r, c]: the column-major output into C-ordered rows."""
    cdef LayerDesc* L = &p.L[p.n_layers - 1]
    cdef const floating* A = <const floating*>p.WS + L.a
    cdef Py_ssize_t r, c, C = L.n_out
    for r in range(B):
        for c in range(C):
            out[(start + r) * C + c] = A[r + c * B]
