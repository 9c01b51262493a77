from cydl._kernels._phases cimport StepState
from cydl._kernels._adapt cimport ThreadChooser


cdef class Plan:
    cdef StepState st
    cdef public object stats     # float64[n_outputs, 4]: loss sum, hits, |err|, err^2 sums
    cdef public object activity  # float64[n_ar]: each activity regularizer's penalty sum
    cdef double[:, ::1] _stats
    cdef double[::1] _activity
    cdef object _params, _grads, _ws, _xb, _lb, _yb, _swb     # keep buffers alive
    cdef object _X, _labels, _Y, _sw, _idx, _rule, _slots      # keep bound arrays alive
    cdef object _counters          # the dropout layers' call counters (uint64[1] each)
    cdef long prof_steps
    cdef bint _busy      # a step runs without the GIL; see _idle
    cdef int _nrun       # the threads that ran the latest step (update_step reuses it)
    cdef list _choosers          # ThreadChooser per (mode, batch-size class), made on use

    cdef int _idle(self) except -1
    cdef int _check_step(self, Py_ssize_t start, Py_ssize_t stop, bint train) except -1
    cdef int _check_rule(self) except -1
    cdef Py_ssize_t _predict_small(self, const char* X, Py_ssize_t B,
                                   int n_threads) except -2
    cdef ThreadChooser _chooser(self, int mode, Py_ssize_t B)
    cdef dict _by_phase(self, const double* slot)
    cdef Py_ssize_t _run(self, Py_ssize_t start, Py_ssize_t B, int n_threads, int mode,
                         int split=*, Py_ssize_t row0=*, double rows=*,
                         bint scan=*) except -2
