cdef enum:
    WIN = 16          # recent per-row times kept at the current thread count
    PROBE_STEPS = 6   # steps of a probe; the first one is a warm-up and not counted


cdef class ThreadChooser:
    cdef public int nmax          # the configured thread count (parts of the work)
    cdef public int cur           # threads the steps run on now: 1 or nmax
    cdef public int probing       # threads of the probe under way, 0: none
    cdef int probe_left
    cdef double probe_t[WIN]       # per-row seconds of the probe's latest steps, a ring
    cdef int probe_n
    cdef double probe_cost        # seconds the probe under way took so far
    cdef double cost_one, cost_all   # seconds the latest probe of 1 / nmax threads took
    cdef double win[WIN]          # per-row seconds at cur, a ring
    cdef int win_n, win_i
    cdef double med               # median of win, refreshed every few steps
    cdef double since             # seconds run at cur since the latest probe
    cdef long steps_since
    cdef double ratio             # probe again after ratio x the latest probe's cost
    cdef int strikes              # recent steps far slower than the median
    cdef public long n_steps, n_probes, n_switches
    cdef public double secs_one, secs_all   # seconds of steps run on 1 / nmax threads

    cdef void _reset(self, int nmax) noexcept
    cdef bint _due(self) noexcept
    cdef double _cost(self, int n) noexcept
    cdef void _decide(self) noexcept
    cdef bint _steady(self) noexcept
    cdef int choose(self, int nmax) noexcept
    cdef void record(self, int nrun, double seconds, double rows) noexcept


cdef bint adaptive_on() noexcept nogil
cdef int forced_threads() noexcept nogil
