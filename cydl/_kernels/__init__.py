"""Private compiled kernels. Import them through :mod:`cydl._ops`, never directly.

Loading this package sets how long GNU OpenMP's idle threads spin before they sleep,
before the kernels load the runtime (libgomp reads it once, when it loads). libgomp
spins 300,000 times by default (about 3 ms) at every barrier and between parallel
regions. On a machine shared with another busy process, a spinning thread burns the
core its partner is waiting for, and a step on two threads ran up to 4x slower than
on one. cydl lowers the count to SPIN_COUNT (about 10 us): enough to bridge the gap
between two steps on a quiet machine (measured: no change in training speed), short
enough to hand the core back under load. GOMP_SPINCOUNT or OMP_WAIT_POLICY in the
environment win; so does a libgomp some other module loaded first.
"""
import os

SPIN_COUNT = "1000"


def _libgomp_loaded():
    try:
        with open("/proc/self/maps") as f:
            return any("/libgomp.so" in line for line in f)
    except OSError:
        return False


def _set_spin_count():
    """GOMP_SPINCOUNT as the runtime will read it: (value, who set it)."""
    if "GOMP_SPINCOUNT" in os.environ:
        return os.environ["GOMP_SPINCOUNT"], "GOMP_SPINCOUNT"
    if "OMP_WAIT_POLICY" in os.environ:
        return None, "OMP_WAIT_POLICY"
    if _libgomp_loaded():
        return None, "loaded before cydl"
    os.environ["GOMP_SPINCOUNT"] = SPIN_COUNT
    try:
        from cydl._kernels import _parallel  # noqa: F401  (loads libgomp, which reads it)
    except ImportError:
        pass                                # an unbuilt tree: cydl/__init__ explains
    finally:
        # child processes start with the user's environment, not cydl's setting
        del os.environ["GOMP_SPINCOUNT"]
    return SPIN_COUNT, "cydl"


SPIN = _set_spin_count()
