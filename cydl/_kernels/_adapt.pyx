"""Adaptive thread count for the fused step: fall back to one thread on a busy machine.

A fused step is one OpenMP region whose phases end in barriers. When another
process takes one of the cores, the thread that lost its core holds every barrier
until the scheduler gives it a slice back, and the step runs several times slower
than on one thread. A ThreadChooser, one per plan, mode and batch-size class,
watches the time of each step and picks the thread count the steps run on: the
configured count (`nmax`, the default) or 1.

* It runs at `cur` and keeps the per-row times of the latest WIN steps.
* Every so often it *probes* the other count for PROBE_STEPS steps and at least
  50 ms (more threads: freshly woken threads need a few milliseconds before the
  scheduler spreads them over the cores, and a busy neighbour comes and goes) or
  150 ms (1 thread: the idle OpenMP threads go on spinning, taking a core from
  the neighbour and from us, for up to about 0.1 s after the last parallel
  region); only the probe's latest WIN steps count. It switches when the probe's
  median per-row time is more than MARGIN (up) or MARGIN_DOWN (down to 1 thread)
  below the median at `cur`. A probe of 1 thread that is ABORT slower than a
  steady baseline after PROBE_STEPS steps stops there (a quiet machine).
* Probes are spaced by time: the next one comes after `ratio` times the latest
  cost of a probe of that count has been spent at `cur` (and MIN_GAP steps), so
  probing costs at most about 1/ratio of the run, however slow the probed count
  is (two threads under load can be 100x slower on tiny steps). `ratio` doubles
  up to RATIO_MAX each time a probe confirms the current choice, and resets when
  the choice changes. So a neighbour that leaves is noticed within about
  RATIO_MAX probe costs (a few seconds).
* Running at nmax, two steps far slower than the median (STRAGGLER x) since the
  latest probe start a probe early (after 2 x its cost at `cur`): a neighbour that
  starts mid-run is noticed within a few dozen steps.
* A new chooser starts at the count the latest decision of any chooser in the
  process picked, so a model(x) after a fit on a busy machine starts on one thread.

The work is always cut into nmax parts (see _phases.run_step), whatever the
threads that run them, so the choice never changes a result: it changes speed only.
"""

cdef bint _ADAPTIVE = True
cdef int _LAST_BEST = 0     # the latest choice any chooser made (0: none yet)
cdef int _FORCED = 0

cdef enum:
    MIN_GAP = 16
    MAX_PROBE_STEPS = 4096

cdef double MARGIN = 0.10         # a probe must be this much faster to switch up,
cdef double MARGIN_DOWN = 0.10    # or down (a guard against noise)
cdef double PROBE_UP_SECONDS = 0.05     # probing more threads
cdef double PROBE_DOWN_SECONDS = 0.15   # probing 1 thread: the idle threads spin on
cdef double STRAGGLER = 3.0
cdef double ABORT = 0.25        # a probe of 1 thread this much slower stops early
cdef double RATIO0 = 30.0
cdef double RATIO_MAX = 100.0


cdef bint adaptive_on() noexcept nogil:
    return _ADAPTIVE


cdef int forced_threads() noexcept nogil:
    return _FORCED


def force_threads(int n):
    """Testing and measuring: run every fused step on min(n, configured) threads,
    whatever the configured count and the adaptive choice (0: stop forcing). The
    work is still cut into the configured number of parts."""
    global _FORCED
    _FORCED = n if n > 0 else 0


def set_adaptive(bint on):
    """Turn the adaptive thread count on (cydl's default thread count) or off (a
    count the user chose: every step then runs on exactly that many threads)."""
    global _ADAPTIVE
    _ADAPTIVE = on


def forget():
    """Forget the latest choice (new choosers then start at the full count)."""
    global _LAST_BEST
    _LAST_BEST = 0


def get_adaptive():
    return bool(_ADAPTIVE)


cdef double _median(const double* x, int n) noexcept:
    cdef double buf[WIN]
    cdef int i, j
    cdef double v
    if n <= 0:
        return 0.0
    for i in range(n):          # insertion sort of at most WIN values
        v = x[i]
        j = i - 1
        while j >= 0 and buf[j] > v:
            buf[j + 1] = buf[j]
            j -= 1
        buf[j + 1] = v
    if n % 2:
        return buf[n // 2]
    return 0.5 * (buf[n // 2 - 1] + buf[n // 2])


cdef class ThreadChooser:
    """Picks 1 or nmax threads for each step from measured step times.

    choose(nmax) before a step, record(threads, seconds, rows) after it. The Python
    wrappers (next_threads, observe) exist for tests and for reading the state.
    """

    def __cinit__(self):
        self._reset(0)

    cdef void _reset(self, int nmax) noexcept:
        self.nmax = nmax
        self.cur = nmax
        self.probing = 0
        self.probe_left = 0
        self.probe_n = 0
        self.probe_cost = 0.0
        self.cost_one = 0.0
        self.cost_all = 0.0
        self.win_n = 0
        self.win_i = 0
        self.since = 0.0
        self.steps_since = 0
        self.ratio = RATIO0
        self.strikes = 0
        self.med = 0.0

    cdef int choose(self, int nmax) noexcept:
        if nmax != self.nmax:
            self._reset(nmax)
            if _LAST_BEST == 1 and nmax > 1:
                self.cur = 1      # a new plan starts where the others found the machine
        if nmax <= 1:
            return 1
        if self.probing:
            return self.probing
        if self._due():
            self.probing = 1 if self.cur == nmax else nmax
            self.probe_left = PROBE_STEPS
            self.probe_n = 0
            self.probe_cost = 0.0
            return self.probing
        return self.cur

    cdef double _cost(self, int n) noexcept:
        """Seconds the latest probe of n threads took; 0 before the first one (the
        first probe of each count comes as soon as there is a baseline)."""
        return self.cost_one if n == 1 else self.cost_all

    cdef bint _due(self) noexcept:
        cdef int other = 1 if self.cur == self.nmax else self.nmax
        cdef double cost = self._cost(other)
        if self.win_n < WIN // 2:
            return False                       # no baseline yet
        if self.strikes >= 2 and self.steps_since >= 4 and self.since >= 2 * cost:
            return True                        # a straggler: look now
        return self.steps_since >= MIN_GAP and self.since >= self.ratio * cost

    cdef void record(self, int nrun, double seconds, double rows) noexcept:
        cdef double per = seconds / (rows if rows >= 1 else 1)
        self.n_steps += 1
        if nrun == 1:
            self.secs_one += seconds
        else:
            self.secs_all += seconds
        if self.probing:
            if nrun != self.probing:
                return
            self.probe_cost += seconds
            if self.probe_left < PROBE_STEPS:          # the first probe step warms up
                self.probe_t[self.probe_n % WIN] = per  # keep the latest WIN
                self.probe_n += 1
            self.probe_left -= 1
            # a probe of 1 thread that is clearly losing against steady step times
            # (a quiet machine: one thread is 1.4x+ slower from the first step) ends
            # early; with a busy neighbour the step times at nmax scatter, and the
            # probe runs its full length, past the idle threads' spinning
            if self.probing == 1 and self.probe_left <= 0 and self._steady() and \
                    _median(self.probe_t, self.probe_n if self.probe_n < WIN else WIN) > \
                    (1.0 + ABORT) * _median(self.win, self.win_n):
                self._decide()
                return
            # at least PROBE_STEPS steps and some milliseconds: threads woken for a
            # probe need the scheduler to spread them over the cores, and after a step
            # down the idle OpenMP threads keep spinning for several milliseconds
            # (GOMP_SPINCOUNT); only the latest WIN steps of a probe count
            if self.probe_left <= 0 and (self.probe_n >= MAX_PROBE_STEPS or self.probe_cost >= (
                    PROBE_UP_SECONDS if self.probing > self.cur else PROBE_DOWN_SECONDS)):
                self._decide()
            return
        if nrun != self.cur:
            return
        self.since += seconds
        self.steps_since += 1
        if self.cur > 1 and self.med > 0 and per > STRAGGLER * self.med:
            self.strikes += 1
        self.win[self.win_i] = per
        self.win_i = (self.win_i + 1) % WIN
        if self.win_n < WIN:
            self.win_n += 1
        if self.win_i % 4 == 0 and self.win_n >= WIN // 2:
            self.med = _median(self.win, self.win_n)      # refreshed every 4 steps

    cdef bint _steady(self) noexcept:
        """The recent steps at cur scatter little: the slowest eighth within 1.5x the median."""
        cdef double buf[WIN]
        cdef int i, j, n = self.win_n
        cdef double v
        if n < WIN // 2:
            return False
        for i in range(n):
            v = self.win[i]
            j = i - 1
            while j >= 0 and buf[j] > v:
                buf[j + 1] = buf[j]
                j -= 1
            buf[j + 1] = v
        return buf[(7 * n) // 8] <= 1.5 * buf[n // 2]

    cdef void _decide(self) noexcept:
        global _LAST_BEST
        cdef int n = self.probe_n if self.probe_n < WIN else WIN
        cdef double pm = _median(self.probe_t, n)
        cdef double bm = _median(self.win, self.win_n)
        cdef double margin = MARGIN if self.probing > self.cur else MARGIN_DOWN
        cdef int i
        self.n_probes += 1
        if self.probing == 1:
            self.cost_one = self.probe_cost
        else:
            self.cost_all = self.probe_cost
        if pm < bm * (1.0 - margin):
            self.cur = self.probing
            self.n_switches += 1
            self.ratio = RATIO0
            self.win_n = n
            self.win_i = n % WIN
            for i in range(n):
                self.win[i] = self.probe_t[i]
            self.med = pm
        elif self.ratio < RATIO_MAX:
            self.ratio *= 2
        _LAST_BEST = 1 if self.cur == 1 else 2
        self.probing = 0
        self.since = 0.0
        self.steps_since = 0
        self.strikes = 0

    # --------------------------------------------------------- Python side
    def next_threads(self, int nmax):
        """The thread count for the next step (what the plan calls before a step)."""
        return self.choose(nmax)

    def observe(self, int threads, double seconds, double rows=1.0):
        """Report a step's time (what the plan does after a step)."""
        self.record(threads, seconds, rows)

    def state(self):
        return {"threads": self.cur, "max_threads": self.nmax, "probing": self.probing,
                "steps": self.n_steps, "probes": self.n_probes, "switches": self.n_switches,
                "probe_every_x_cost": self.ratio, "seconds_on_1": self.secs_one,
                "seconds_on_max": self.secs_all}
