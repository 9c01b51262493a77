"""initialize(): join the MPI job this process was launched in (or stay alone)."""
import sys
import time

from cydl.distribution import _world

_WORLD = None
_THREADS = None        # (threads, "share" | "user") set by initialize, for show_config


def initialize(job_addresses=None, num_processes=None, process_id=None):
    """Set up the processes of a data-parallel run, as Keras' `initialize`.

    Under an MPI launcher (`mpiexec -n 4 python train.py`, or with a host file
    across machines) this joins the job through mpi4py, and each process takes its
    share of its machine's cores as its default thread count (the cores divided
    by the processes on that machine; `cydl.set_num_threads` or OMP_NUM_THREADS
    still decide when set). Without a launcher it does nothing and the script runs
    as one process. Calling it again returns at once. `DataParallel()` calls it.

    Args:
        job_addresses: accepted for Keras' signature and unused: the MPI launcher
            connects the processes.
        num_processes: if given, the process count the run must have.
        process_id: if given, the rank this process must have.

    Example:

    >>> cydl.distribution.initialize()          # mpiexec -n 4 python train.py
    >>> cydl.distribution.list_devices()
    ['cpu:0', 'cpu:1', 'cpu:2', 'cpu:3']
    """
    global _WORLD
    if job_addresses is not None and not isinstance(job_addresses, str):
        raise TypeError(f"job_addresses must be a string or None. Received: "
                        f"job_addresses={job_addresses!r}")
    if _WORLD is None:
        _WORLD = _make_world()
    for name, value, have in (("num_processes", num_processes, _WORLD.size),
                              ("process_id", process_id, _WORLD.rank)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative int. Received: {name}={value!r}")
        if value != have:
            how = "launch the script with `mpiexec -n N python script.py`" if \
                _WORLD.comm is None else "the MPI launcher decides it"
            raise ValueError(f"initialize({name}={value}): this process has {name}={have} "
                             f"({how})")
    return None


def world():
    """The World (initialized on first use)."""
    if _WORLD is None:
        initialize()
    return _WORLD


def _make_world():
    where = _world.launched()
    if where is None or where[1] == 1:
        return _world.World()
    MPI = _world.mpi()
    w = _world.World(MPI.COMM_WORLD)
    if w.size > 1:
        _set_threads(w)
        _abort_on_uncaught(w)
    return w


def _set_threads(w):
    """Each process's default: its share of the machine's cores (an explicit
    set_num_threads or OMP_NUM_THREADS is kept)."""
    global _THREADS
    from cydl import _config
    if _config._N_THREADS is not None or _config._env_threads() is not None:
        _THREADS = (_config.get_num_threads(), "user")
        return
    share = w.thread_share(_config._available_cpus())
    _config.set_num_threads(share)
    _THREADS = (share, "share")


def _abort_on_uncaught(w):
    """An uncaught exception on one process ends the whole job: print it, then
    MPI_Abort. Otherwise the process would wait in MPI_Finalize at exit, and the
    others in their next collective, forever. (A process killed by a signal ends
    the job through the launcher, mpiexec.)"""
    previous = sys.excepthook

    def hook(kind, value, tb):
        previous(kind, value, tb)
        sys.stderr.write(f"cydl.distribution: process {w.rank} of {w.size} stopped on "
                         f"an uncaught {kind.__name__}; aborting the MPI job\n")
        sys.stdout.flush()
        sys.stderr.flush()
        # the launcher forwards output asynchronously and MPI_Abort kills at once: a
        # moment's pause lets the reason reach the terminal
        time.sleep(0.5)
        w.comm.Abort(1)

    sys.excepthook = hook
