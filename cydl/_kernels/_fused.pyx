"""A whole training step of a dense network in one call, without the GIL.

The step runs inside one OpenMP parallel region; phases are separated by the
spinning barrier of _barrier.h (40-80 ns here, against about 0.3 us for libgomp's
and 0.6 us for a new region):

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

This module owns the buffers and the Python entry points (the Plan class, declared
in _fused.pxd); the phases themselves are in _phases.pyx, working on the Plan's
StepState struct, and the latency path of model(x) is _predict.pyx.
"""
from cython cimport floating
from cpython.exc cimport PyErr_CheckSignals
from libc.stdlib cimport malloc, free
cdef extern from "stdlib.h" nogil:
    int posix_memalign(void** ptr, size_t alignment, size_t size)
from cydl._kernels._data cimport find_nonfinite
from libc.string cimport memset
from cydl._kernels._losses cimport N_STATS
from cydl._kernels._optim cimport UpdateRule, slot_needed, needs_norms
from cydl._kernels._adapt cimport ThreadChooser, adaptive_on, forced_threads
from cydl._kernels._parallel cimport omp_get_wtime
from cydl._kernels._phases cimport (StepState, LayerDesc, run_step, copy_out, MAX_THREADS,
                                    cydl_barrier_init,
                                    NODE_BN, NODE_CONCAT, NODE_DENSE, MAX_OUT,
                                    STAT_STRIDE, SRC_U8, SRC_F32, SRC_F64, P_GATHER, P_LOSS,
                                    P_SOFTMAX, P_NORMS, P_UPDATE, P_LAYERS, PROF_THREADS)
from cydl._kernels._parts cimport ROW_COPY_MAX_B, row_copy_ld, row_copies
import numpy as np

from cydl._kernels._plan_spec import _FLOATS, _SOURCES, _check_array, _checked

cdef enum:
    _BUCKETS = 24      # batch-size classes of the thread choosers: 1, 2-3, 4-7, ...


cdef class Plan:
    """The compiled form of a model's graph plus its losses. Build it with
    cydl._ops.make_plan; bind data and the optimizer once; then one call per step."""
    # the attributes and C methods are declared in _fused.pxd

    def __cinit__(self):
        self.st.L = NULL
        self.st.part_stats = NULL
        self.st.prof = NULL
        self.st.waits = NULL
        self.st.pending = NULL
        self.st.prof_threads = 0
        self.st.profiling = False
        self.st.n_layers = 0
        self.st.n_ar = 0
        self.st.row0 = 0
        self.st.split = 0
        self.st.loss_rows = 1
        self._busy = False
        self._nrun = 1
        self.st.bar = NULL
        if posix_memalign(<void**>&self.st.bar, 64, 64) != 0:
            raise MemoryError()
        cydl_barrier_init(self.st.bar)

    def __dealloc__(self):
        free(self.st.bar)
        free(self.st.L)
        free(self.st.part_stats)
        free(self.st.prof)

    def __init__(self, list layers, params, grads, n_trainable, n_features, list outputs,
                 list inputs):
        cdef int i, j
        _check_array(params, "params", _FLOATS, 1, writable=True)
        _check_array(grads, "grads", (params.dtype,), 1, params.shape[0], writable=True)
        layers, outputs, inputs = _checked(layers, outputs, inputs, params.shape[0],
                                           n_trainable, n_features)
        self.st.n_layers = len(layers)
        self.st.n_features = n_features
        self.st.n_inputs = len(inputs)
        for i, (off, width) in enumerate(inputs):
            self.st.in_off[i], self.st.in_width[i] = off, width
        self.st.n_outputs = len(outputs)
        self.st.label_cols = 0
        self.st.y_cols = 0
        for i, o in enumerate(outputs):
            self.st.outs[i].node = o["node"]
            self.st.outs[i].loss_kind = o["loss_kind"]
            self.st.outs[i].acc_mode = o["acc_mode"]
            self.st.outs[i].on_logits = o["on_logits"]
            self.st.outs[i].param = o["param"]
            self.st.outs[i].thresh = o["thresh"]
            self.st.outs[i].weight = o["weight"]
            self.st.outs[i].smooth = o["smooth"]
            self.st.outs[i].sparse = o["sparse"]
            if o["sparse"]:
                self.st.outs[i].col = self.st.label_cols
                self.st.label_cols += 1
            else:
                self.st.outs[i].col = self.st.y_cols
                self.st.y_cols += layers[o["node"]]["n_out"]
        self.st.n_ar = sum(spec["ar_slot"] >= 0 for spec in layers)
        self.st.stat_stride = STAT_STRIDE * ((len(outputs) * N_STATS + self.st.n_ar +
                                              STAT_STRIDE - 1) // STAT_STRIDE)
        self.st.L = <LayerDesc*>malloc(self.st.n_layers * sizeof(LayerDesc))
        self.st.part_stats = <double*>malloc(MAX_THREADS * self.st.stat_stride * sizeof(double))
        if self.st.L == NULL or self.st.part_stats == NULL:
            raise MemoryError()
        self.st.first_bwd = self.st.n_layers
        self._counters = []
        cdef unsigned long long[::1] counter
        for i, spec in enumerate(layers):
            self.st.L[i].kind = spec["kind"]
            self.st.L[i].n_src = len(spec["src"])
            for j in range(len(spec["src"])):
                self.st.L[i].src[j] = spec["src"][j]
            self.st.L[i].need_dx = spec["need_dx"]
            self.st.L[i].needs_bwd = spec["needs_bwd"]
            self.st.L[i].accum = spec["accum"]
            self.st.L[i].out = spec["out"]
            self.st.L[i].m = spec["m"]
            self.st.L[i].v = spec["v"]
            self.st.L[i].eps = spec["eps"]
            self.st.L[i].momentum = spec["momentum"]
            self.st.L[i].ka = spec["ka"]
            self.st.L[i].kb = spec["kb"]
            self.st.L[i].kc = spec["kc"]
            self.st.L[i].seed = spec["seed"]
            self.st.L[i].thr = spec["thr"]
            self.st.L[i].counter = NULL
            if spec["counter"] is not None:
                counter = spec["counter"]
                self._counters.append(spec["counter"])
                self.st.L[i].counter = &counter[0]
            self.st.L[i].n_in = spec["n_in"]
            self.st.L[i].n_out = spec["n_out"]
            self.st.L[i].act = spec["act"]
            self.st.L[i].alpha = spec["alpha"]
            self.st.L[i].trainable = spec["trainable"]
            self.st.L[i].keep_z = spec["keep_z"]
            self.st.L[i].w = spec["w"]
            self.st.L[i].b = spec["b"]
            self.st.L[i].ar_slot = spec["ar_slot"]
            self.st.L[i].ar_l1 = spec["ar_l1"]
            self.st.L[i].ar_l2 = spec["ar_l2"]
            if spec["needs_bwd"] and self.st.first_bwd == self.st.n_layers:
                self.st.first_bwd = i
        self._params, self._grads = params, grads
        self.st.is_double = params.dtype == np.float64
        self.st.P = <char*><size_t>params.ctypes.data
        self.st.G = <char*><size_t>grads.ctypes.data
        self.st.n_trainable = n_trainable
        self.stats = np.zeros((len(outputs), N_STATS))
        self._stats = self.stats
        self.activity = np.zeros(self.st.n_ar)
        self._activity = self.activity
        self.st.bmax = 0
        self.st.X = NULL
        self.st.labels = NULL
        self.st.Y = NULL
        self.st.idx = NULL
        self.st.rule = NULL
        self._rule = None
        self._choosers = [None] * (3 * _BUCKETS)

    cdef int _idle(self) except -1:
        """Every entry point starts here. While one thread runs a step without the GIL,
        another must not rebind or free what that step reads; and a Plan made without
        __init__ has no layers to read."""
        if self.st.L == NULL:
            raise ValueError("this Plan was not initialized; build it with "
                             "cydl._ops.make_plan")
        if self._busy:
            raise RuntimeError("this Plan is running a step in another thread; give "
                               "each thread its own Plan")
        return 0

    # ------------------------------------------------------------ setup
    def ensure_batch(self, Py_ssize_t bmax):
        """Size the workspaces for batches of up to bmax rows (no-op if they fit)."""
        cdef Py_ssize_t off = 0, n, item
        cdef int i
        cdef object dt = self._params.dtype
        self._idle()
        if bmax < 0:
            raise ValueError(f"bmax must be >= 0. Received: bmax={bmax}")
        if bmax <= self.st.bmax:
            return
        for i in range(self.st.n_layers):
            n = bmax * self.st.L[i].n_out
            self.st.L[i].a = off
            off += n
            self.st.L[i].z = -1
            if self.st.L[i].keep_z or self.st.L[i].kind >= NODE_CONCAT:    # merges: scratch
                self.st.L[i].z = off
                off += n
            self.st.L[i].d = off
            off += n
            self.st.L[i].s = off          # batch statistics (BN)
            off += 2 * self.st.L[i].n_out if self.st.L[i].kind == NODE_BN else 0
            self.st.L[i].at = -1
            if not self.st.is_double and _feeds_dense_grad(&self.st, i):   # float32 only
                self.st.L[i].at = off     # moved onto a cache line below
                off += min(bmax, ROW_COPY_MAX_B) * row_copy_ld(&self.st.L[i]) + 16
        self._ws = np.zeros(off, dt)
        self._xb = np.zeros(bmax * self.st.n_features, dt)
        self._lb = np.zeros(bmax * max(self.st.label_cols, 1), np.int32)
        self._yb = np.zeros(bmax * max(self.st.y_cols, 1), dt)
        self._swb = np.zeros(bmax, dt)
        self.st.WS = <char*><size_t>self._ws.ctypes.data
        item = self._ws.itemsize
        for i in range(self.st.n_layers):
            if self.st.L[i].at >= 0:
                self.st.L[i].at += (-(<size_t>self.st.WS + self.st.L[i].at * item) % 64) // item
        self.st.XB = <char*><size_t>self._xb.ctypes.data
        self.st.LB = <int*><size_t>self._lb.ctypes.data
        self.st.YB = <char*><size_t>self._yb.ctypes.data
        self.st.SWB = <char*><size_t>self._swb.ctypes.data
        self.st.bmax = bmax

    def bind_data(self, X, labels=None, Y=None, sw=None):
        """The arrays steps read from: X (N, n_features) C-ordered uint8, float32 or
        float64 (every input's columns side by side); int32 labels (N, label columns)
        and targets Y (N, target columns) in the model dtype, the outputs' side by
        side; optional sample weights (N,)."""
        cdef int k, j
        self._idle()
        dt = self._params.dtype
        _check_array(X, "X", _SOURCES, 2, cols=self.st.n_features)
        n = X.shape[0]
        if labels is not None:
            if self.st.label_cols == 0:
                raise ValueError("this plan's losses take no integer labels")
            _check_array(labels, "labels", (np.dtype(np.int32),),
                         1 if self.st.label_cols == 1 and labels.ndim == 1 else 2, n,
                         None if labels.ndim == 1 else self.st.label_cols)
            # Steps index the output columns with labels and do not check them (a check
            # per step would be O(batch)); the private copy keeps a caller's later
            # writes from undoing this check.
            labels = labels.reshape(n, self.st.label_cols).copy()
            for k in range(self.st.n_outputs):
                if not self.st.outs[k].sparse:
                    continue
                C = self.st.L[self.st.outs[k].node].n_out
                col = labels[:, self.st.outs[k].col]
                if n and (col.min() < 0 or col.max() >= C):
                    j = int(np.flatnonzero((col < 0) | (col >= C))[0])
                    raise ValueError(f"labels[{j}] = {col[j]} is outside the valid range "
                                     f"[0, {C}) of the {C} outputs")
        if Y is not None:
            _check_array(Y, "Y", (dt,), 2, n, self.st.y_cols)
        if sw is not None:
            _check_array(sw, "sw", (dt,), 1, n)
        self._X, self._labels, self._Y, self._sw = X, labels, Y, sw
        self.st.X = <const char*><size_t>X.ctypes.data
        self.st.n_rows = X.shape[0]
        self.st.src_kind = SRC_U8 if X.dtype == np.uint8 else (
            SRC_F64 if X.dtype == np.float64 else SRC_F32)
        self.st.labels = <const int*><size_t>labels.ctypes.data if labels is not None else NULL
        self.st.Y = <const char*><size_t>Y.ctypes.data if Y is not None else NULL
        self.st.SW = <const char*><size_t>sw.ctypes.data if sw is not None else NULL
        self.st.idx = NULL
        self._idx = None

    def set_order(self, idx):
        """Row order of the coming steps (int64 row indices, one per bound row, e.g. a
        permutation), or None: in order."""
        self._idle()
        if idx is not None:
            if self.st.X == NULL or self._X is None:
                raise ValueError("set_order: bind data first (bind_data)")
            _check_array(idx, "idx", (np.dtype(np.int64),), 1, self.st.n_rows)
            # copied for the same reason as the labels in bind_data; about 0.1 ms for
            # 60k rows, once per epoch
            idx = idx.copy()
            if idx.size and (idx.min() < 0 or idx.max() >= self.st.n_rows):
                k = int(np.flatnonzero((idx < 0) | (idx >= self.st.n_rows))[0])
                raise ValueError(f"idx[{k}] = {idx[k]} is not a row index in "
                                 f"[0, {self.st.n_rows})")
        self._idx = idx
        self.st.idx = <const long long*><size_t>idx.ctypes.data if idx is not None else NULL

    def bind_optimizer(self, UpdateRule rule, slots):
        """The rule and its slot buffers (None where unused), each one entry per
        trainable parameter; the rule may be reconfigured later."""
        self._idle()
        slots = list(slots)
        if len(slots) > 3:
            raise ValueError(f"at most 3 slots. Received {len(slots)} slots")
        for k, a in enumerate(slots):
            if a is not None:
                _check_array(a, f"slot {k + 1}", (self._params.dtype,), 1,
                             self.st.n_trainable, writable=True)
        self._rule = rule
        self.st.rule = &rule.d
        self._slots = slots + [None] * (3 - len(slots))
        s = self._slots
        self.st.S1 = <char*><size_t>s[0].ctypes.data if s[0] is not None else NULL
        self.st.S2 = <char*><size_t>s[1].ctypes.data if s[1] is not None else NULL
        self.st.S3 = <char*><size_t>s[2].ctypes.data if s[2] is not None else NULL

    def set_profiling(self, bint on):
        """Time each phase of every step (thread 0, barrier to barrier) and each
        thread's waits at the barriers; see profile() and profile_waits(). Costs a
        few clock reads per phase and thread while on."""
        cdef int n = P_LAYERS + 2 * self.st.n_layers
        cdef Py_ssize_t total = n + PROF_THREADS * (n + 8)
        self._idle()
        if self.st.prof == NULL:
            self.st.prof = <double*>malloc(total * sizeof(double))
            if self.st.prof == NULL:
                raise MemoryError()
            self.st.waits = self.st.prof + n
            self.st.pending = self.st.waits + PROF_THREADS * n
        memset(self.st.prof, 0, total * sizeof(double))
        self.prof_steps = 0
        self.st.prof_threads = 0
        self.st.profiling = on

    def profile(self):
        """Mean milliseconds per step in each phase since set_profiling(True)."""
        if self.st.prof == NULL or self.prof_steps == 0:
            return {}
        out = self._by_phase(self.st.prof)
        return {k: v for k, v in out.items() if v > 0}

    def profile_waits(self):
        """Mean milliseconds per step that each thread waited at the barrier ending
        each phase (a list per phase, thread 0 first), for the phases profile()
        lists: a phase's time less a thread's wait is that thread's work in it."""
        cdef int t, n = P_LAYERS + 2 * self.st.n_layers
        if self.st.prof == NULL or self.prof_steps == 0:
            return {}
        rows = [self._by_phase(self.st.waits + t * n)
                for t in range(min(self.st.prof_threads, PROF_THREADS))]
        return {k: [r[k] for r in rows] for k in self.profile()}

    cdef dict _by_phase(self, const double* slot):
        """A profile array's slots by phase name, in the order a step runs them."""
        cdef int i
        scale = 1e3 / self.prof_steps
        out = {"gather": slot[P_GATHER] * scale}
        for i in range(self.st.n_layers):
            out[f"forward {i}"] = slot[P_LAYERS + 2 * i] * scale
        out["softmax"] = slot[P_SOFTMAX] * scale
        out["loss"] = slot[P_LOSS] * scale
        for i in range(self.st.n_layers - 1, -1, -1):
            out[f"backward {i}"] = slot[P_LAYERS + 2 * i + 1] * scale
        out["norms"] = slot[P_NORMS] * scale
        out["update"] = slot[P_UPDATE] * scale
        return out

    def output_view(self, Py_ssize_t B, int k=0):
        """Output k of the latest step: (B, n_out), Fortran order."""
        if not 0 <= k < self.st.n_outputs:
            raise ValueError(f"output {k} does not exist")
        cdef LayerDesc* o = &self.st.L[self.st.outs[k].node]
        return self._ws[o.a:o.a + B * o.n_out].reshape((B, o.n_out), order="F")

    # ------------------------------------------------------------ steps
    def train_step(self, Py_ssize_t start, Py_ssize_t stop, int n_threads):
        """Forward, loss, backward and update on rows [start, stop) of the bound
        order; self.stats gets the batch's loss and metric sums."""
        self._check_step(start, stop, True)
        self._run(start, stop - start, n_threads, 2)

    def grad_step(self, Py_ssize_t start, Py_ssize_t stop, int n_threads,
                  Py_ssize_t row0=0, double rows=0):
        """The first half of a data-parallel training step: forward, loss and backward
        on rows [start, stop) of the bound order, leaving the final gradients in the
        flat buffer and the parameters untouched (see update_step).

        Args:
            row0: the index of row `start` in the global batch, which the dropout
                masks are keyed by (rank r's rows get the masks one process would
                draw for them).
            rows: the global batch size the loss mean divides by (default: this
                call's rows), so that summing every process's gradient gives the
                gradient of the global batch's mean loss.
        """
        self._check_step(start, stop, True)
        if row0 < 0 or rows < 0 or (rows > 0 and rows < stop - start):
            raise ValueError(f"grad_step: need row0 >= 0 and rows >= stop - start. "
                             f"Received row0={row0}, rows={rows}")
        self._run(start, stop - start, n_threads, 2, 1, row0, rows)

    def update_step(self, int n_threads):
        """The second half: the optimizer's update (clipping, penalties and
        constraints included) of the gradients in the flat buffer, e.g. after they
        were summed across processes."""
        cdef int nt = max(1, min(n_threads, MAX_THREADS))
        cdef int nrun = max(1, min(self._nrun, nt))
        self._idle()
        self._check_rule()
        self.st.split = 2
        self.st.row_copy = False
        self._busy = True
        with nogil:
            run_step(&self.st, 0, 0, nt, nrun, 2)
        self._busy = False
        self.st.split = 0

    def empty_step(self):
        """grad_step for a process with no rows in this global batch (a short last
        batch): zero gradients and statistics, and the dropout layers' call
        counters advance as a step's would, so they stay in step with the others."""
        self._idle()
        self._grads[:self.st.n_trainable] = 0
        self.stats[...] = 0
        self.activity[...] = 0
        for counter in self._counters:
            counter[0] += 1

    def test_step(self, Py_ssize_t start, Py_ssize_t stop, int n_threads):
        """Forward and loss statistics only (no gradients, no update)."""
        self._check_step(start, stop, False)
        self._run(start, stop - start, n_threads, 1)

    cdef int _check_step(self, Py_ssize_t start, Py_ssize_t stop, bint train) except -1:
        # O(1): this runs every step. Everything per row was checked at binding.
        self._idle()
        if self.st.X == NULL:
            raise ValueError("bind data first (bind_data)")
        if self.st.label_cols and self.st.labels == NULL:
            raise ValueError("this loss needs integer labels: bind_data(X, labels)")
        if self.st.y_cols and self.st.Y == NULL:
            raise ValueError("this loss needs targets: bind_data(X, Y=...)")
        if not (0 <= start < stop <= self.st.n_rows) or stop - start > self.st.bmax:
            raise ValueError(f"Need 0 <= start < stop <= {self.st.n_rows} (bound rows) and "
                             f"stop - start <= {self.st.bmax} (ensure_batch). Received "
                             f"start={start}, stop={stop}")
        if not train:
            return 0
        return self._check_rule()

    cdef int _check_rule(self) except -1:
        cdef int k
        cdef char* slot[3]
        if self.st.rule == NULL or not (<UpdateRule>self._rule).configured:
            raise ValueError("bind a configured optimizer first (bind_optimizer)")
        slot[0] = self.st.S1
        slot[1] = self.st.S2
        slot[2] = self.st.S3
        for k in range(3):
            if slot[k] == NULL and slot_needed(&self.st.rule.s, k):
                raise ValueError(f"slot {k + 1} is required by the optimizer (kind "
                                 f"{self.st.rule.s.kind}) but was not bound")
        if (needs_norms(self.st.rule) or self.st.rule.has_reg or self.st.rule.has_con) and (
                self.st.rule.n_segments == 0 or
                self.st.rule.seg_bounds[self.st.rule.n_segments] != self.st.n_trainable):
            raise ValueError(f"the optimizer's segments must end at n_trainable="
                             f"{self.st.n_trainable} (set_segments)")
        return 0

    def predict(self, list outs, Py_ssize_t batch, int n_threads):
        """outs[k][i] = output k for row i of the bound X, batch rows at a time."""
        cdef Py_ssize_t start, B, n = self.st.n_rows
        cdef int k
        cdef char* ptrs[MAX_OUT]
        self._idle()
        if self.st.X == NULL:
            raise ValueError("predict: bind data first (bind_data)")
        if not 1 <= batch <= self.st.bmax:
            raise ValueError(f"predict: batch must be in [1, {self.st.bmax}] (ensure_batch). "
                             f"Received: batch={batch}")
        if not isinstance(outs, list) or len(outs) != self.st.n_outputs:
            raise ValueError(f"predict: one out array per output ({self.st.n_outputs})")
        for k, out in enumerate(outs):
            _check_array(out, f"outs[{k}]", (self._params.dtype,), 2, n,
                         self.st.L[self.st.outs[k].node].n_out, writable=True)
            ptrs[k] = <char*><size_t>out.ctypes.data
        start = 0
        try:
            while start < n:
                # Ctrl-C lands here between batches: the kernel runs without the GIL
                PyErr_CheckSignals()
                B = min(batch, n - start)
                self._run(start, B, n_threads, 0)
                # busy between batches as well: nothing may rebind X mid-predict
                self._busy = True
                for k in range(self.st.n_outputs):
                    if self.st.is_double:
                        copy_out(&self.st, k, <double*>ptrs[k], start, B)
                    else:
                        copy_out(&self.st, k, <float*>ptrs[k], start, B)
                start += B
        finally:
            self._busy = False

    cdef Py_ssize_t _predict_small(self, const char* X, Py_ssize_t B,
                                   int n_threads) except -2:
        """The network on B rows at X, of the model dtype and C order: -1, or the
        flat index of the first NaN or inf in them (then nothing ran)."""
        cdef Py_ssize_t bad
        self.st.X = X
        self.st.n_rows = B
        self.st.src_kind = SRC_F64 if self.st.is_double else SRC_F32
        self.st.idx = NULL
        self._X = None
        try:
            bad = self._run(0, B, n_threads, 0, 0, 0, 0, True)
        finally:
            self.st.X = NULL
        return bad

    cdef ThreadChooser _chooser(self, int mode, Py_ssize_t B):
        """The chooser of this mode and batch-size class (B within a factor of 2)."""
        cdef int bucket = 0
        while B > 1 and bucket < _BUCKETS - 1:
            B >>= 1
            bucket += 1
        cdef int i = mode * _BUCKETS + bucket
        ch = self._choosers[i]
        if ch is None:
            ch = ThreadChooser()
            self._choosers[i] = ch
        return <ThreadChooser>ch

    def thread_choice(self):
        """What the adaptive thread count did: one dict per (mode, batch class) used.
        mode is 'predict', 'test' or 'train'; 'threads' is the current choice."""
        out = []
        for i, ch in enumerate(self._choosers):
            if ch is not None:
                d = ch.state()
                d["mode"] = ("predict", "test", "train")[i // _BUCKETS]
                d["rows"] = f"{1 << (i % _BUCKETS)}..{(2 << (i % _BUCKETS)) - 1}"
                out.append(d)
        return out

    cdef Py_ssize_t _run(self, Py_ssize_t start, Py_ssize_t B, int n_threads, int mode,
                         int split=0, Py_ssize_t row0=0, double rows=0,
                         bint scan=False) except -2:
        """One step (run_step) on rows [start, start + B). scan: first look for a NaN or
        an inf in those rows of X (in place, model dtype), in the same release of
        the GIL: -1 when there is none, else the flat index of the first, and then
        nothing runs."""
        cdef int nt = n_threads if n_threads < MAX_THREADS else MAX_THREADS
        cdef int t, k, o, nrun
        cdef Py_ssize_t bad = -1, F = self.st.n_features
        cdef double t0 = 0
        cdef ThreadChooser ch = None
        if nt < 1:
            nt = 1
        nrun = nt
        if forced_threads() > 0:
            nrun = min(forced_threads(), nt)
        elif nt > 1 and adaptive_on():
            ch = self._chooser(mode, B)
            nrun = ch.choose(nt)
            t0 = omp_get_wtime()
        self.st.row_copy = mode == 2 and row_copies(&self.st, B)
        self.st.split = split
        self.st.row0 = row0
        self.st.loss_rows = rows if rows > 0 else <double>B
        self._nrun = nrun
        self._busy = True
        with nogil:
            if scan and self.st.is_double:
                bad = find_nonfinite(<const double*>self.st.X + start * F, B * F)
            elif scan:
                bad = find_nonfinite(<const float*>self.st.X + start * F, B * F)
            if bad < 0:
                run_step(&self.st, start, B, nt, nrun, mode)
        self._busy = False
        self.st.split = 0
        self.st.row0 = 0
        if bad >= 0:
            return bad
        if ch is not None:
            ch.record(nrun, omp_get_wtime() - t0, <double>B)
        if self.st.profiling:
            self.prof_steps += 1
        if mode == 0:
            return -1      # a prediction has no statistics
        for o in range(self.st.n_outputs):
            for k in range(N_STATS):
                self._stats[o, k] = 0.0
                for t in range(nt):          # fixed order: sums do not depend on timing
                    self._stats[o, k] += self.st.part_stats[t * self.st.stat_stride +
                                                            o * N_STATS + k]
        for k in range(self.st.n_ar):
            self._activity[k] = 0.0
            for t in range(nt):
                self._activity[k] += self.st.part_stats[
                    t * self.st.stat_stride + self.st.n_outputs * N_STATS + k]
        return -1


cdef bint _feeds_dense_grad(StepState* st, int i) noexcept:
    """Whether Dense node i's output is the input of a trained Dense node, whose
    weight gradient then reads a row-major copy of it (_parts.row_copies)."""
    cdef int l
    if st.L[i].kind != NODE_DENSE:
        return False
    for l in range(i + 1, st.n_layers):
        if st.L[l].kind == NODE_DENSE and st.L[l].trainable and st.L[l].src[0] == i:
            return True
    return False
