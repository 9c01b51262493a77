"""Process-wide settings: thread count, default float type and the global RNG.

A leaf module: the ops tier and the API both read it; it imports nothing of cydl.
"""
import contextlib
import math
import os
import random
import sys

import numpy as np

_FLOATX = "float32"
_N_THREADS = None      # None: resolved from the environment on each call
_FORKED = False        # True in a child created by fork(): see _after_fork
_RNG = np.random.default_rng()
_SEED = None
_ALLOWED_FLOATX = ("float32", "float64")


def floatx():
    """The default float type of new layers: 'float32' unless set_floatx changed it."""
    return _FLOATX


def set_floatx(value):
    """Set the default float type of layers created afterwards.

    Args:
        value: 'float32' (the default) or 'float64'.

    Example:
    >>> cydl.config.set_floatx("float64")
    """
    global _FLOATX
    # np.dtype(None) is float64: None would silently switch every new layer to it
    value = np.dtype(value).name if isinstance(value, (type, np.dtype)) else value
    if value not in _ALLOWED_FLOATX:
        raise ValueError(f"Unknown floatx type: {value!r}. cydl supports "
                         f"{', '.join(_ALLOWED_FLOATX)}.")
    _FLOATX = value


def epsilon():
    """The fuzz factor Keras uses to clip probabilities (1e-7)."""
    return 1e-7


_CPUS = None


def _available_cpus():
    """CPUs this process may use (affinity, capped by a cgroup quota); read once."""
    global _CPUS
    if _CPUS is None:
        _CPUS = _count_cpus()
    return _CPUS


def _count_cpus():
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    try:   # a cgroup v2 CPU quota caps the useful threads below the affinity mask
        with open("/sys/fs/cgroup/cpu.max") as f:
            quota, period = f.read().split()[:2]
        if quota != "max":
            n = min(n, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, n)


_OPENMP = None


def _openmp_enabled():
    global _OPENMP
    if _OPENMP is None:
        from cydl._kernels._parallel import openmp_enabled
        _OPENMP = bool(openmp_enabled())
    return _OPENMP


def _after_fork():
    """GNU OpenMP's thread pool does not survive fork(): a forked child that opens a
    parallel region with more than one thread hangs. Children therefore run the
    kernels on one thread (correct, just slower); use multiprocessing's "spawn" or
    "forkserver" start method for multi-threaded workers."""
    global _FORKED, _N_THREADS
    _FORKED = True
    _N_THREADS = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def _in_worker():
    """True in a multiprocessing (or joblib/loky) worker process: there, many
    processes share the CPUs, and one inner thread each is the right default."""
    mp = sys.modules.get("multiprocessing")
    return mp is not None and mp.parent_process() is not None


_OMP_BASE = None      # omp_get_max_threads() when cydl first asked
_OMP_MAX = None       # the runtime's omp_get_max_threads, looked up once


def _omp_cap():
    """A thread limit set on the OpenMP runtime after cydl loaded it (what
    threadpoolctl.threadpool_limits does, through omp_set_num_threads), else None."""
    global _OMP_BASE, _OMP_MAX
    if _OMP_MAX is None:      # every kernel call asks: no import statement per call
        from cydl._kernels._parallel import openmp_max_threads
        _OMP_MAX = openmp_max_threads
    n = _OMP_MAX()
    if _OMP_BASE is None:
        _OMP_BASE = n
    return n if n < _OMP_BASE else None


_ADAPTIVE_ENV = os.environ.get("CYDL_ADAPTIVE_THREADS", "1").strip().lower() not in (
    "0", "false", "no", "off")
_ADAPTIVE = None      # what the kernels were last told (see _sync_adaptive)


def _sync_adaptive(on):
    """Tell the fused step whether its thread count is cydl's default (adaptive: it
    may run a step on one thread when that is faster, e.g. on a busy machine) or a
    count the user chose (every step runs on exactly that many)."""
    global _ADAPTIVE
    if on != _ADAPTIVE:
        from cydl._kernels._adapt import set_adaptive
        set_adaptive(on)
        _ADAPTIVE = on


def get_num_threads():
    """Threads the kernels use: set_num_threads(), else OMP_NUM_THREADS, else 1 in a
    worker process (multiprocessing, joblib), else the CPUs this process may run on
    (affinity and cgroup quota). Capped by an OpenMP limit set later on the runtime
    (threadpoolctl.threadpool_limits). Always 1 without OpenMP, and 1 in a process
    created by fork() (see _after_fork).

    Only the last default, all available CPUs, is adaptive: the fused training and
    prediction steps then fall back to one thread while that is faster (another
    process competing for the cores), and probe the full count again from time to
    time. Results do not change with that choice (the work is split the same way).
    CYDL_ADAPTIVE_THREADS=0 turns it off."""
    if not _openmp_enabled() or _FORKED:
        _sync_adaptive(False)      # one thread: nothing to choose
        return 1
    auto = False
    if _N_THREADS is not None:
        n = _N_THREADS
    else:
        n, auto = _default_threads()
    cap = _omp_cap()
    if cap is not None and cap < n:
        n = cap
    _sync_adaptive(auto and n > 1)
    return n


_DEFAULT = (b"", 0, False)   # (OMP_NUM_THREADS as last read, the default, adaptive)


def _default_threads():
    """The default count and whether it is adaptive, re-derived only when
    OMP_NUM_THREADS changes. Every kernel call of the general path asks (about 12
    per step): the full derivation cost 0.9 us a call, 20-30 us a step (5 %)."""
    global _DEFAULT
    raw = _env_raw()
    if raw == _DEFAULT[0]:
        return _DEFAULT[1], _DEFAULT[2]
    auto = False
    n = _env_threads()
    if n is None:
        if _in_worker():
            n = 1
        else:
            n = _available_cpus()
            auto = _ADAPTIVE_ENV
    _DEFAULT = (raw, n, auto)
    return n, auto


# os.environ.get on a missing name costs about 0.6 us (a KeyError inside it); the
# mapping's own dict is read directly where CPython has one (what os.environ.get
# reads too), else through os.environ.
_ENV_DICT = getattr(os.environ, "_data", None)
_ENV_KEY = b"OMP_NUM_THREADS" if isinstance(_ENV_DICT, dict) and all(
    isinstance(k, bytes) for k in list(_ENV_DICT)[:1]) else None


def _env_raw():
    if _ENV_KEY is not None:
        return _ENV_DICT.get(_ENV_KEY)
    return os.environ.get("OMP_NUM_THREADS")


def _env_threads():
    env = (os.environ.get("OMP_NUM_THREADS") or "").split(",")[0].strip()
    try:
        n = int(env)
    except ValueError:
        return None
    return n if n > 0 else None


def set_num_threads(n):
    """Set the threads every kernel uses.

    Args:
        n: a positive count (every fused step then runs on exactly n threads);
            -1 for every available CPU; None to go back to the default
            (OMP_NUM_THREADS, else 1 in a worker process, else all available CPUs,
            with the adaptive fallback to one thread: see get_num_threads).

    Example:
    >>> cydl.set_num_threads(2)
    """
    global _N_THREADS
    if n is None:
        _N_THREADS = None
        return
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"n must be an int. Received: n={n!r}")
    if n == -1:
        n = _available_cpus()
    if n < 1:
        raise ValueError(f"n must be a positive int or -1. Received: n={n}")
    if _FORKED and n > 1:
        import warnings
        warnings.warn("cydl runs on one thread in a process created by fork(): OpenMP's "
                      "thread pool does not survive fork. Start workers with the 'spawn' "
                      "or 'forkserver' method to use more threads.", RuntimeWarning, 2)
    _N_THREADS = int(n)


@contextlib.contextmanager
def num_threads(n):
    """Context manager: the kernels use `n` threads inside the block.

    Example:
    >>> with cydl.num_threads(1):
    ...     model.fit(x, y)
    """
    global _N_THREADS
    old = _N_THREADS
    set_num_threads(n)
    try:
        yield
    finally:
        _N_THREADS = old


def rng():
    """The global generator behind initializers, shuffling and dropout seeds."""
    return _RNG


def set_random_seed(seed):
    """Seed Python's `random`, NumPy's global RNG and cydl's own generator.

    With the same seed and thread count, training repeats bit for bit.

    Args:
        seed: a non-negative int.

    Example:
    >>> cydl.utils.set_random_seed(42)
    """
    global _RNG, _SEED
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int. Received: seed={seed!r}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    _RNG = np.random.default_rng(seed)
    _SEED = seed

