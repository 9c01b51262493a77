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

This module owns the buffers and the Python entry points (the Plan class); the
phases themselves are in _phases.pyx, working on the Plan's StepState struct.
"""
from cython cimport floating
from libc.stdlib cimport malloc, free
from libc.string cimport memset
from cydl._kernels._losses cimport N_STATS
from cydl._kernels._optim cimport UpdateRule
from cydl._kernels._adapt cimport ThreadChooser, adaptive_on, forced_threads
from cydl._kernels._parallel cimport omp_get_wtime
from cydl._kernels._phases cimport (StepState, LayerDesc, run_step, copy_out, MAX_THREADS,
                                    STAT_STRIDE, SRC_U8, SRC_F32, SRC_F64, P_GATHER, P_LOSS,
                                    P_SOFTMAX, P_NORMS, P_UPDATE, P_LAYERS)
import numpy as np

cdef enum:
    _BUCKETS = 24      # batch-size classes of the thread choosers: 1, 2-3, 4-7, ...


cdef class Plan:
    """The compiled form of a chain of Dense layers plus a loss. Build it with
    cydl._ops.make_plan; bind data and the optimizer once; then one call per step."""
    cdef StepState st
    cdef public object stats     # float64[4]: loss sum, hits, |err| sum, err^2 sum
    cdef double[::1] _stats
    cdef object _params, _grads, _ws, _xb, _lb, _yb, _swb     # keep buffers alive
    cdef object _X, _labels, _Y, _sw, _idx, _rule, _slots      # keep bound arrays alive
    cdef long prof_steps
    cdef list _choosers          # ThreadChooser per (mode, batch-size class), made on use

    def __cinit__(self):
        self.st.L = NULL
        self.st.part_stats = NULL
        self.st.prof = NULL
        self.st.profiling = False

    def __dealloc__(self):
        free(self.st.L)
        free(self.st.part_stats)
        free(self.st.prof)

    def __init__(self, list layers, params, grads, Py_ssize_t n_trainable, int n_features,
                 int loss_kind, int acc_mode, bint on_logits, double loss_param,
                 double thresh):
        cdef int i
        self.st.n_layers = len(layers)
        self.st.n_features = n_features
        self.st.L = <LayerDesc*>malloc(self.st.n_layers * sizeof(LayerDesc))
        self.st.part_stats = <double*>malloc(MAX_THREADS * STAT_STRIDE * sizeof(double))
        if self.st.L == NULL or self.st.part_stats == NULL:
            raise MemoryError()
        self.st.first_bwd = self.st.n_layers
        for i, spec in enumerate(layers):
            self.st.L[i].n_in = spec["n_in"]
            self.st.L[i].n_out = spec["n_out"]
            self.st.L[i].act = spec["act"]
            self.st.L[i].alpha = spec["alpha"]
            self.st.L[i].trainable = spec["trainable"]
            self.st.L[i].keep_z = spec["keep_z"]
            self.st.L[i].w = spec["w"]
            self.st.L[i].b = spec["b"]
            if spec["trainable"] and self.st.first_bwd == self.st.n_layers:
                self.st.first_bwd = i
        self._params, self._grads = params, grads
        self.st.is_double = params.dtype == np.float64
        self.st.P = <char*><size_t>params.ctypes.data
        self.st.G = <char*><size_t>grads.ctypes.data
        self.st.n_trainable = n_trainable
        self.st.loss_kind, self.st.acc_mode, self.st.on_logits = loss_kind, acc_mode, on_logits
        self.st.loss_param, self.st.thresh = loss_param, thresh
        self.stats = np.zeros(N_STATS)
        self._stats = self.stats
        self.st.bmax = 0
        self.st.X = NULL
        self.st.rule = NULL
        self._rule = None
        self._choosers = [None] * (3 * _BUCKETS)

    # ------------------------------------------------------------ setup
    def ensure_batch(self, Py_ssize_t bmax):
        """Size the workspaces for batches of up to bmax rows (no-op if they fit)."""
        cdef Py_ssize_t off = 0, n
        cdef int i
        cdef object dt = self._params.dtype
        if bmax <= self.st.bmax:
            return
        for i in range(self.st.n_layers):
            n = bmax * self.st.L[i].n_out
            self.st.L[i].a = off
            off += n
            self.st.L[i].z = -1
            if self.st.L[i].keep_z:
                self.st.L[i].z = off
                off += n
            self.st.L[i].d = off
            off += n
        self._ws = np.zeros(off, dt)
        self._xb = np.zeros(bmax * self.st.n_features, dt)
        self._lb = np.zeros(bmax, np.int32)
        self._yb = np.zeros(bmax * self.st.L[self.st.n_layers - 1].n_out, dt)
        self._swb = np.zeros(bmax, dt)
        self.st.WS = <char*><size_t>self._ws.ctypes.data
        self.st.XB = <char*><size_t>self._xb.ctypes.data
        self.st.LB = <int*><size_t>self._lb.ctypes.data
        self.st.YB = <char*><size_t>self._yb.ctypes.data
        self.st.SWB = <char*><size_t>self._swb.ctypes.data
        self.st.bmax = bmax

    def bind_data(self, X, labels=None, Y=None, sw=None):
        """The arrays steps read from: X (N, n_features) C-ordered uint8, float32 or
        float64; int32 labels (N,) or targets Y (N, C) in the model dtype; optional
        sample weights (N,). Checked by the caller (cydl._ops.make_plan's owner)."""
        self._X, self._labels, self._Y, self._sw = X, labels, Y, sw
        self.st.X = <const char*><size_t>X.ctypes.data
        self.st.n_rows = X.shape[0]
        self.st.src_kind = SRC_U8 if X.dtype == np.uint8 else (
            SRC_F64 if X.dtype == np.float64 else SRC_F32)
        self.st.labels = <const int*><size_t>labels.ctypes.data if labels is not None else NULL
        self.st.Y = <const char*><size_t>Y.ctypes.data if Y is not None else NULL
        self.st.y_cols = Y.shape[1] if Y is not None else 0
        self.st.SW = <const char*><size_t>sw.ctypes.data if sw is not None else NULL
        self.st.idx = NULL
        self._idx = None

    def set_order(self, idx):
        """Row order of the coming steps (an int64 permutation), or None: in order."""
        self._idx = idx
        self.st.idx = <const long long*><size_t>idx.ctypes.data if idx is not None else NULL

    def bind_optimizer(self, UpdateRule rule, slots):
        self._rule = rule
        self.st.rule = &rule.d
        self._slots = list(slots) + [None] * (3 - len(slots))
        s = self._slots
        self.st.S1 = <char*><size_t>s[0].ctypes.data if s[0] is not None else NULL
        self.st.S2 = <char*><size_t>s[1].ctypes.data if s[1] is not None else NULL
        self.st.S3 = <char*><size_t>s[2].ctypes.data if s[2] is not None else NULL

    def set_profiling(self, bint on):
        """Time each phase of every step (thread 0, barrier to barrier); see
        profile(). Costs two clock reads per phase while on."""
        cdef int n = P_LAYERS + 2 * self.st.n_layers
        if self.st.prof == NULL:
            self.st.prof = <double*>malloc(n * sizeof(double))
            if self.st.prof == NULL:
                raise MemoryError()
        memset(self.st.prof, 0, n * sizeof(double))
        self.prof_steps = 0
        self.st.profiling = on

    def profile(self):
        """Mean milliseconds per step in each phase since set_profiling(True)."""
        cdef int i
        if self.st.prof == NULL or self.prof_steps == 0:
            return {}
        scale = 1e3 / self.prof_steps
        out = {"gather": self.st.prof[P_GATHER] * scale}
        for i in range(self.st.n_layers):
            out[f"forward {i}"] = self.st.prof[P_LAYERS + 2 * i] * scale
        out["softmax"] = self.st.prof[P_SOFTMAX] * scale
        out["loss"] = self.st.prof[P_LOSS] * scale
        for i in range(self.st.n_layers - 1, -1, -1):
            out[f"backward {i}"] = self.st.prof[P_LAYERS + 2 * i + 1] * scale
        out["norms"] = self.st.prof[P_NORMS] * scale
        out["update"] = self.st.prof[P_UPDATE] * scale
        return {k: v for k, v in out.items() if v > 0}

    def output_view(self, Py_ssize_t B):
        """The last layer's output of the latest step: (B, n_out), Fortran order."""
        cdef LayerDesc* last = &self.st.L[self.st.n_layers - 1]
        return self._ws[last.a:last.a + B * last.n_out].reshape((B, last.n_out), order="F")

    # ------------------------------------------------------------ steps
    def train_step(self, Py_ssize_t start, Py_ssize_t stop, int n_threads):
        """Forward, loss, backward and update on rows [start, stop) of the bound
        order; self.stats gets the batch's loss and metric sums."""
        cdef Py_ssize_t B = stop - start
        if self.st.X == NULL or self.st.rule == NULL or B <= 0 or B > self.st.bmax or stop > self.st.n_rows:
            raise ValueError("train_step: bind data and optimizer, and keep the batch "
                             "within the workspace and the data")
        self._run(start, B, n_threads, 2)

    def test_step(self, Py_ssize_t start, Py_ssize_t stop, int n_threads):
        """Forward and loss statistics only (no gradients, no update)."""
        cdef Py_ssize_t B = stop - start
        if self.st.X == NULL or B <= 0 or B > self.st.bmax or stop > self.st.n_rows:
            raise ValueError("test_step: bind data and keep the batch within bounds")
        self._run(start, B, n_threads, 1)

    def predict(self, out, Py_ssize_t batch, int n_threads):
        """out[i] = network output for row i of the bound X, batch rows at a time."""
        cdef Py_ssize_t start, B, n = self.st.n_rows
        cdef int C = self.st.L[self.st.n_layers - 1].n_out
        if out.shape[0] != n or out.shape[1] != C or not out.flags.c_contiguous or \
                out.dtype != self._params.dtype or batch > self.st.bmax:
            raise ValueError("predict: out must be a C-ordered (N, n_out) array of the "
                             "model dtype, and batch must fit the workspace")
        cdef char* op = <char*><size_t>out.ctypes.data
        start = 0
        while start < n:
            B = min(batch, n - start)
            self._run(start, B, n_threads, 0)
            if self.st.is_double:
                copy_out(&self.st, <double*>op, start, B)
            else:
                copy_out(&self.st, <float*>op, start, B)
            start += B

    # Low-latency entry points of model(x) / model.predict(x) for small batches in
    # the model dtype. Two plain methods rather than one fused one: Cython picks a
    # fused def's specialization at call time, which costs microseconds here.
    def predict_f32(self, float[:, ::1] X, float[:, ::1] out, int n_threads):
        """out = network(X), float32 model; rows <= workspace rows."""
        if self.st.is_double:
            raise ValueError("this plan is float64")
        self._predict_small(<const char*>&X[0, 0], X.shape[0], X.shape[1], out.shape[0],
                            out.shape[1], n_threads)
        copy_out(&self.st, &out[0, 0], 0, X.shape[0])

    def predict_f64(self, double[:, ::1] X, double[:, ::1] out, int n_threads):
        """out = network(X), float64 model; rows <= workspace rows."""
        if not self.st.is_double:
            raise ValueError("this plan is float32")
        self._predict_small(<const char*>&X[0, 0], X.shape[0], X.shape[1], out.shape[0],
                            out.shape[1], n_threads)
        copy_out(&self.st, &out[0, 0], 0, X.shape[0])

    cdef int _predict_small(self, const char* X, Py_ssize_t B, Py_ssize_t F, Py_ssize_t outB,
                            Py_ssize_t outC, int n_threads) except -1:
        if F != self.st.n_features or B == 0 or B > self.st.bmax or outB != B or \
                outC != self.st.L[self.st.n_layers - 1].n_out:
            raise ValueError("predict: X must be (n <= workspace rows, n_features), "
                             "out (n, n_out)")
        self.st.X = X
        self.st.n_rows = B
        self.st.src_kind = SRC_F64 if self.st.is_double else SRC_F32
        self.st.idx = NULL
        self._X = None
        self._run(0, B, n_threads, 0)
        self.st.X = NULL
        return 0

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

    cdef void _run(self, Py_ssize_t start, Py_ssize_t B, int n_threads, int mode):
        cdef int nt = n_threads if n_threads < MAX_THREADS else MAX_THREADS
        cdef int t, k, nrun
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
        with nogil:
            run_step(&self.st, start, B, nt, nrun, mode)
        if ch is not None:
            ch.record(nrun, omp_get_wtime() - t0, <double>B)
        if self.st.profiling:
            self.prof_steps += 1
        for k in range(N_STATS):
            self._stats[k] = 0.0
        for t in range(nt):          # fixed order: sums do not depend on timing
            for k in range(N_STATS):
                self._stats[k] += self.st.part_stats[t * STAT_STRIDE + k]
