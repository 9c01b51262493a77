"""OpenMP facts for the Python side, and the per-thread cap on a step's threads."""

cdef extern from *:
    """
    /* One per calling thread: two Python threads running steps at once each keep
       their own. 0: no cap. */
    static __thread int cydl_step_cap = 0;
    """
    int cydl_step_cap


cdef int run_threads(int parts) noexcept nogil:
    """Threads that run a kernel's `parts` pieces of work: all of them, unless the
    calling thread capped its step (set_step_threads). The pieces stay the same
    (they come from the configured thread count), so a cap changes the speed and
    never a result: a thread runs several pieces one after the other."""
    cdef int cap = cydl_step_cap
    if cap <= 0 or parts <= cap:
        return parts
    return cap


def set_step_threads(int n):
    """Cap the threads of every kernel this Python thread calls (0: no cap).
    The general path's adaptive thread count (cydl.models._runners) sets it per step."""
    global cydl_step_cap
    cydl_step_cap = n if n > 0 else 0


def step_threads():
    return cydl_step_cap


def openmp_enabled():
    """True when the kernels were compiled with OpenMP."""
    return bool(CYDL_OPENMP)


def openmp_max_threads():
    """omp_get_max_threads(): the runtime's default team size (1 without OpenMP)."""
    return omp_get_max_threads()

