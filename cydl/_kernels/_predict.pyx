"""The latency path of model(x): a few rows through a compiled Plan in one C call.

A one-row prediction of the book's MLP takes about 8 us in the kernel; each Python
frame, attribute read, lock or array allocation around it costs 0.1-0.3 us. So the
whole call, from the type check of x to the new output array, is one method of a
C class, FastCall, and the model's __call__ is its only Python frame.

Everything is checked before the kernel runs; what FastCall does not take (another
dtype or layout, a NaN, too many rows) it returns None for, and the general path
answers it, with the detailed error where there is one.
"""
from cpython.buffer cimport (PyObject_GetBuffer, PyBuffer_Release, PyBUF_C_CONTIGUOUS,
                             PyBUF_WRITABLE, PyBUF_FORMAT)
from cpython.dict cimport PyDict_GetItem
from cpython.object cimport PyObject
from cydl._kernels._parallel cimport omp_get_max_threads
from cydl._kernels._fused cimport Plan
from cydl._kernels._phases cimport copy_out
import numpy as np

cdef object _ndarray = np.ndarray
cdef object _empty = np.empty

cdef enum:
    MAX_DIMS = 16


cdef Py_ssize_t _run(Plan plan, const char* x, char* out, Py_ssize_t n,
                     int n_threads) except -2:
    """out = network(x) for n rows in the plan's dtype; -1, or, when x holds a NaN
    or an inf, the flat index of the first one (then nothing ran)."""
    cdef Py_ssize_t bad
    plan._idle()
    if n < 1 or n > plan.st.bmax:
        raise ValueError(f"predict: between 1 and {plan.st.bmax} rows (the workspace). "
                         f"Received {n}")
    bad = plan._predict_small(x, n, n_threads)     # the scan, then the network
    if bad >= 0:
        return bad
    if plan.st.is_double:
        copy_out(&plan.st, 0, <double*>out, 0, n)
    else:
        copy_out(&plan.st, 0, <float*>out, 0, n)
    return -1


cdef class ThreadMemo:
    """get_num_threads(), remembered against everything it reads that can change:
    OMP_NUM_THREADS in os.environ, the count set_num_threads set, the fork flag (all
    compared by identity, with a reference kept so that no address is reused) and
    the OpenMP runtime's limit. A hit costs about 50 ns where the Python function
    costs about 0.3 us, 3 % of a one-row model(x); a miss asks it.

    Args:
        resolve: cydl's get_num_threads.
        config: the namespace (a dict) holding its _N_THREADS and _FORKED.
        env: the dict behind os.environ, or None (then every call asks).
        env_key: OMP_NUM_THREADS as a key of env.
    """
    cdef object resolve, config, env, env_key
    cdef object seen_env, seen_n, seen_fork
    cdef int seen_omp, n

    def __init__(self, resolve, dict config, env, env_key):
        self.resolve = resolve
        self.config = config
        self.env = env if type(env) is dict else None
        self.env_key = env_key
        self.n = 0

    cdef inline PyObject* _env(self):
        cdef PyObject* e = PyDict_GetItem(self.env, self.env_key)
        return e if e != NULL else <PyObject*>None

    cdef int get(self) except -1:
        if self.env is None:
            return self.resolve()
        if self.n > 0 and self._env() == <PyObject*>self.seen_env and \
                PyDict_GetItem(self.config, "_N_THREADS") == <PyObject*>self.seen_n and \
                PyDict_GetItem(self.config, "_FORKED") == <PyObject*>self.seen_fork and \
                omp_get_max_threads() == self.seen_omp:
            return self.n
        # read before asking: a change in between makes the next call ask again
        env = <object>self._env()
        count = self.config.get("_N_THREADS")
        fork = self.config.get("_FORKED")
        omp = omp_get_max_threads()
        self.n = 0
        self.seen_env, self.seen_n, self.seen_fork, self.seen_omp = env, count, fork, omp
        n = self.resolve()
        if self.seen_env is env and self.seen_n is count and self.seen_fork is fork:
            self.n = n      # (unless another Python thread asked meanwhile)
        return n

    def __call__(self):
        return self.get()


cdef class FastCall:
    """model(x) for up to max_rows rows of the model's dtype and sample shape.

    Calls from several threads take turns on the plan's workspace through `lock`
    (the model's, which the general path takes too); invalid once `store` (the
    model's parameter store) is stale. A call made while a gradient tape records
    on the calling thread is declined: the tape must see it.

    Args:
        plan: the model's compiled prediction Plan (one output).
        sample_shape: the model's input shape without the batch dimension.
        lock: a threading.Lock shared with every other user of the plan.
        store: the model's ParamStore.
        max_rows: the most rows one call runs (at most the plan's workspace).
        threads: a ThreadMemo (the thread count of every call).
        tapes: the thread-local whose `tape` attribute is the recording tape.
        out_shape: the output shape without the batch dimension (n_out values).

    Example:
        >>> out = fast(x)    # None: take the general path
    """
    cdef readonly Plan plan
    cdef readonly object lock
    cdef object store, dtype, tapes, out_tail
    cdef ThreadMemo threads
    cdef readonly Py_ssize_t max_rows, n_out
    cdef int ndim
    cdef Py_ssize_t item
    cdef char fmt
    cdef Py_ssize_t dims[MAX_DIMS]

    def __init__(self, Plan plan, sample_shape, lock, store, Py_ssize_t max_rows,
                 ThreadMemo threads not None, tapes, out_shape):
        cdef int i
        sample_shape = tuple(int(d) for d in sample_shape)
        if plan.st.n_outputs != 1:
            raise ValueError("FastCall: the plan must have one output")
        self.out_tail = tuple(int(d) for d in out_shape)
        if int(np.prod(self.out_tail)) != plan.st.L[plan.st.outs[0].node].n_out:
            raise ValueError(f"FastCall: output shape {self.out_tail} does not hold the "
                             f"plan's outputs")
        self.threads = threads
        self.tapes = tapes
        if len(sample_shape) + 1 > MAX_DIMS or \
                int(np.prod(sample_shape)) != plan.st.n_features:
            raise ValueError(f"FastCall: sample shape {sample_shape} does not hold the "
                             f"plan's {plan.st.n_features} features")
        plan.ensure_batch(max_rows)
        self.plan = plan
        self.lock = lock
        self.store = store
        self.max_rows = max_rows
        self.n_out = plan.st.L[plan.st.outs[0].node].n_out
        self.dtype = np.dtype(np.float64 if plan.st.is_double else np.float32)
        self.item = self.dtype.itemsize
        self.fmt = b"d"[0] if plan.st.is_double else b"f"[0]
        self.ndim = len(sample_shape) + 1
        for i in range(1, self.ndim):
            self.dims[i] = sample_shape[i - 1]

    def __call__(self, x, bint taped=True):
        """The (n,) + out_shape output for x, or None where the general path must
        answer. taped=False: the caller does not record (predict)."""
        cdef Py_buffer xb, ob
        cdef Py_ssize_t n, bad = 0
        cdef int i, n_threads
        if type(x) is not _ndarray or self.store.stale or \
                (taped and self.tapes.tape is not None):
            return None
        try:
            PyObject_GetBuffer(x, &xb, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT)
        except (BufferError, ValueError):     # NumPy: "ndarray is not C-contiguous"
            return None
        try:
            if xb.ndim != self.ndim or xb.itemsize != self.item or xb.format == NULL or \
                    xb.format[0] != self.fmt or xb.format[1] != 0:
                return None
            n = xb.shape[0]
            if n < 1 or n > self.max_rows:
                return None
            for i in range(1, self.ndim):
                if xb.shape[i] != self.dims[i]:
                    return None
            n_threads = self.threads.get()
            out = _empty((n,) + self.out_tail, self.dtype)
            PyObject_GetBuffer(out, &ob, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE)
            try:
                self.lock.acquire()
                try:
                    bad = _run(self.plan, <const char*>xb.buf, <char*>ob.buf, n, n_threads)
                finally:
                    self.lock.release()
            finally:
                PyBuffer_Release(&ob)
        finally:
            PyBuffer_Release(&xb)
        return out if bad == -1 else None


def predict_into(Plan plan, x, out, int n_threads):
    """out = network(x) for a small batch, into a caller's buffer (no lock: the
    caller owns the plan). x: any C-contiguous array of the plan's dtype holding n
    rows of n_features (an (n, 28, 28) image batch too); out: C-contiguous,
    writable, (n, n_out) of the plan's dtype, n <= workspace rows.

    Returns -1, or the flat index of the first NaN or inf in x (then nothing
    ran), or -2 when x is not C-contiguous."""
    cdef Py_buffer xb, ob
    cdef Py_ssize_t n, F = plan.st.n_features, C
    cdef Py_ssize_t item = 8 if plan.st.is_double else 4
    cdef bytes fmt = b"d" if plan.st.is_double else b"f"
    plan._idle()
    if plan.st.n_outputs != 1:
        raise ValueError("predict_into: the plan must have one output")
    try:
        PyObject_GetBuffer(x, &xb, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT)
    except (BufferError, ValueError):
        return -2
    try:
        PyObject_GetBuffer(out, &ob, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE | PyBUF_FORMAT)
        try:
            C = plan.st.L[plan.st.outs[0].node].n_out
            n = xb.len // (item * F) if F > 0 else 0
            if xb.itemsize != item or ob.itemsize != item or xb.format == NULL or \
                    ob.format == NULL or xb.format[0] != fmt[0] or \
                    ob.format[0] != fmt[0] or xb.ndim < 1 or xb.shape[0] != n or \
                    n * F * item != xb.len or ob.len != n * C * item:
                raise ValueError(f"predict_into: x must hold (n, {F}) and out (n, {C}) "
                                 f"values of this plan's dtype")
            return _run(plan, <const char*>xb.buf, <char*>ob.buf, n, n_threads)
        finally:
            PyBuffer_Release(&ob)
    finally:
        PyBuffer_Release(&xb)
