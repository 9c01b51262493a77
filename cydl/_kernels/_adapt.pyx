"""Adaptive thread count for the fused step: fall back to one thread on a busy machine.

A fused step is one OpenMP region whose phases end in barriers. When another
process takes one of the cores, the thread that lost its core holds every barrier
until the scheduler gives it a slice back, and the step runs several times slower
than on one thread. A ThreadChooser, one per plan, mode and batch-size class,
picks the thread count each step runs on: the configured count (`nmax`, the
default) or 1, from measured step times.

* It compares *mean* seconds per row, never medians: under contention most steps
  on two threads are as fast as on a quiet machine and a few wait a whole
  scheduler slice (milliseconds) at a barrier. That tail is the whole cost, and a
  median does not see it (it kept two threads at 0.6x the speed of one).
* A probe alternates blocks of the other count and the current one (other, cur,
  other, cur, ...; up to PAIRS pairs), each of at least BLOCK_STEPS steps and
  BLOCK_SECONDS. Interleaving compares the two counts under the same load, which
  moves from one scheduler period to the next. The first step of a block warms
  the threads up and is not counted. After each pair the probe ends early if the
  other count is clearly (CLEAR) slower; after the last pair it switches when the
  other count is faster by more than its margin: MARGIN_DOWN (10 %) to leave the
  full count, MARGIN_UP (2 %) to return to it. The full count is the quiet
  machine's answer; a busy machine's case for one thread is large (1.5-3x) when it
  is real. With one margin for both, a count that won by chance (one noisy probe, or
  a new chooser starting where another decided) stayed while the other was up to
  10 % faster: a quiet general path ran at 0.79x of two threads.
* Probes are spaced by their cost: the next one comes after `ratio` times the
  latest probe's seconds have been spent at `cur` (and MIN_GAP steps; the first
  probe comes after FIRST_GAP steps: it compares within itself and needs no
  baseline), so probing
  costs at most about 1/ratio of the run, however slow the probed count is (two
  threads under load can be 100x slower on tiny steps). `ratio` doubles up to
  RATIO_MAX each time a probe confirms the choice and resets when it changes: a
  neighbour that leaves is noticed within about RATIO_MAX probe costs (seconds).
* A change of load starts a probe early: when the running mean per row at `cur`
  (an exponential average over about 1/ALPHA steps) moves DRIFT times away from
  what the latest probe measured, either way, and at least EARLY times that
  probe's cost has passed. A neighbour that arrives mid-run is noticed within
  some tens of steps. Single slow steps are normal on a busy machine and start
  nothing (a probe on each of them cost a quarter of the run).
* A new chooser starts at the count the latest decision of any chooser in the
  process picked, so a model(x) after a fit on a busy machine starts on one thread.

This relies on idle OpenMP threads sleeping soon: cydl lowers GNU OpenMP's spin
count when it loads the runtime (see cydl/_kernels/__init__.py). With the default
(about 3 ms of spinning) a thread left idle by a 1-thread step keeps a core busy,
and one-thread steps measured slower than they run.

The work is always cut into nmax parts (see _phases.run_step), whatever the
threads that run them, so the choice never changes a result: it changes speed only.
"""

cdef bint _ADAPTIVE = True
cdef int _LAST_BEST = 0     # the latest choice any chooser made (0: none yet)
cdef int _FORCED = 0

cdef enum:
    FIRST_GAP = 2           # steps at cur before the first probe (cold caches)
    MIN_GAP = 16            # steps at cur between probes
    PAIRS = 3               # (other, cur) block pairs of a full probe
    BLOCK_STEPS = 4         # steps of a probe block at least, the warm-up included
                            # (BLOCK_SECONDS count without it)
    MAX_BLOCK_STEPS = 4096

cdef double BLOCK_SECONDS = 0.012   # a block spans a few scheduler slices
cdef double MARGIN_DOWN = 0.10   # nmax -> 1 when one thread is this much faster
cdef double MARGIN_UP = 0.02     # 1 -> nmax when nmax is this much faster
cdef double CLEAR = 0.3       # after a pair, the other count this much slower ends the probe
cdef double DRIFT = 2.0
cdef double ALPHA = 1.0 / 32
cdef double EARLY = 6.0
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


def forced_count():
    """The count force_threads set (0: none)."""
    return _FORCED


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
        self.block = 0
        self.last_cost = 0.0
        self.ref = 0.0
        self.since = 0.0
        self.steps_since = 0
        self.ratio = RATIO0
        self.avg_t = 0.0
        self.avg_r = 0.0

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
            self.block = 0
            self.block_steps = 0
            self.block_secs = 0.0
            self.probe_cost = 0.0
            self.sum_t[0] = self.sum_t[1] = 0.0
            self.sum_r[0] = self.sum_r[1] = 0.0
            return self.probing
        return self.cur

    cdef bint _due(self) noexcept:
        cdef double drift
        if self.ref > 0 and self.steps_since >= MIN_GAP and self.since >= EARLY * self.last_cost:
            drift = self.avg_t / (self.avg_r * self.ref)
            if drift > DRIFT or drift * DRIFT < 1.0:
                return True                    # the load changed: look now
        if self.last_cost == 0:
            return self.steps_since >= FIRST_GAP   # a probe needs no baseline: look soon
        return self.steps_since >= MIN_GAP and self.since >= self.ratio * self.last_cost

    cdef void record(self, int nrun, double seconds, double rows) noexcept:
        cdef int side, v
        if rows < 1:
            rows = 1
        self.n_steps += 1
        if nrun == 1:
            self.secs_one += seconds
        else:
            self.secs_all += seconds
        if self.probing:
            if nrun != self.probing:
                return
            self.probe_cost += seconds
            self.block_steps += 1
            side = self.block % 2                  # 0: the other count, 1: cur
            if self.block_steps == 1:              # the block's first step warms up
                return
            self.sum_t[side] += seconds
            self.sum_r[side] += rows
            self.block_secs += seconds
            if self.block_steps < BLOCK_STEPS or (self.block_secs < BLOCK_SECONDS and
                                                  self.block_steps < MAX_BLOCK_STEPS):
                return
            self.block += 1
            self.block_steps = 0
            self.block_secs = 0.0
            if self.block % 2 == 0:                # a pair is complete
                v = self._verdict(self.block >= 2 * PAIRS)
                if v != 0:
                    self._decide(v)
                    return
            self.probing = self.cur if self.block % 2 else (1 if self.cur == self.nmax
                                                             else self.nmax)
            return
        if nrun != self.cur:
            return
        self.since += seconds
        self.steps_since += 1
        self.avg_t += ALPHA * (seconds - self.avg_t)
        self.avg_r += ALPHA * (rows - self.avg_r)

    cdef int _verdict(self, bint final) noexcept:
        """+1: switch to the other count, -1: stay, 0: not clear yet. Only staying
        is decided early: a switch needs every pair (a short block can miss the
        slow tail of a busy machine and look fast)."""
        cdef double other = self.sum_t[0] / self.sum_r[0]
        cdef double cur = self.sum_t[1] / self.sum_r[1]
        if final:
            return 1 if other < cur * (1.0 - (MARGIN_DOWN if self.cur == self.nmax
                                              else MARGIN_UP)) else -1
        if other > cur * (1.0 + CLEAR):
            return -1
        return 0

    cdef void _decide(self, int verdict) noexcept:
        global _LAST_BEST
        self.n_probes += 1
        self.last_cost = self.probe_cost
        if verdict > 0:
            self.cur = 1 if self.cur == self.nmax else self.nmax
            self.n_switches += 1
            self.ratio = RATIO0
            self.ref = self.sum_t[0] / self.sum_r[0]
        else:
            if self.ratio < RATIO_MAX:
                self.ratio = min(2 * self.ratio, RATIO_MAX)
            self.ref = self.sum_t[1] / self.sum_r[1]
        _LAST_BEST = 1 if self.cur == 1 else 2
        self.probing = 0
        self.since = 0.0
        self.steps_since = 0
        self.avg_t = self.ref          # the running mean starts at what was measured
        self.avg_r = 1.0

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
