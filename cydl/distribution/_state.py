"""The distribution in effect, as the engine and the layers see it.

A leaf module (no MPI, no cydl imports), read by the training loops once per call
of fit/evaluate/predict, and by BatchNormalization and Dropout inside a
data-parallel training step (see StepContext).
"""
import threading

_DISTRIBUTION = None     # what set_distribution() set (a DataParallel), or None
_local = threading.local()     # .step: this thread's data-parallel training step


def step():
    """The data-parallel training step this thread runs now (a StepContext), or
    None: a layer called anywhere else (another thread, a custom loop) runs as
    in one process."""
    return getattr(_local, "step", None)


def current():
    """The DataParallel in effect when it spans several processes, else None: with
    one process (no mpiexec, or `mpiexec -n 1`) everything runs as without one."""
    dist = _DISTRIBUTION
    return dist if dist is not None and dist._world.size > 1 else None


def is_chief():
    """Whether this process writes files and prints progress: always, except on
    the processes other than 0 of a data-parallel run."""
    dist = current()
    return dist is None or dist._world.rank == 0


class StepContext:
    """What a layer needs to know inside a data-parallel training step on the graph
    runner: this process holds rows [row0, row0 + rows) of the global batch (no
    rows at all when `phantom`: it runs one stand-in row that weighs nothing, so
    that it still takes part in every collective), and `allreduce` sums a float64
    array over all processes, in place.

    Example (the graph runner):

    >>> with StepContext(world, row0=64, phantom=False):
    ...     outputs = model(x, training=True)
    """

    def __init__(self, world, row0, phantom):
        self.world, self.row0, self.phantom = world, int(row0), bool(phantom)

    def allreduce(self, buf):
        self.world.allreduce(buf)

    def __enter__(self):
        self._outer, _local.step = step(), self
        return self

    def __exit__(self, *exc):
        _local.step = self._outer
