cdef class ThreadChooser:
    cdef public int nmax          # the configured thread count (parts of the work)
    cdef public int cur           # threads the steps run on now: 1 or nmax
    cdef public int probing       # threads of the block under way during a probe, 0: none
    cdef int block                # blocks of the probe done (even: `other`, odd: `cur`)
    cdef long block_steps         # steps of the block under way
    cdef double block_secs        # seconds of the block under way
    cdef double sum_t[2]          # the probe's seconds on [other, cur], warm-ups left out
    cdef double sum_r[2]          # the rows of those steps
    cdef double probe_cost        # seconds the probe under way took so far
    cdef double last_cost         # seconds the latest probe took
    cdef double ref               # seconds per row at cur, measured by the latest probe
    cdef double since             # seconds run at cur since the latest probe
    cdef long steps_since
    cdef double ratio             # probe again after ratio x the latest probe's cost
    cdef double avg_t, avg_r      # running means of seconds and rows per step at cur
    cdef public long n_steps, n_probes, n_switches
    cdef public double secs_one, secs_all   # seconds of steps run on 1 / nmax threads

    cdef void _reset(self, int nmax) noexcept
    cdef bint _due(self) noexcept
    cdef void _decide(self, int verdict) noexcept
    cdef int _verdict(self, bint final) noexcept
    cdef int choose(self, int nmax) noexcept
    cdef void record(self, int nrun, double seconds, double rows) noexcept


cdef bint adaptive_on() noexcept nogil
cdef int forced_threads() noexcept nogil
