"""The check that opens every data-parallel call: all processes make the same call
(fit, evaluate, predict, train_on_batch, save) with the same sizes.

Without it, a process that passes other arrays, another batch size or epoch count,
or that skips a call, sends the others into mismatched collectives: MPI errors
about truncated messages, wrong results that look right, or a silent hang. Here
each process posts its call and sizes in one small Allgather and every process
compares the same table, so all of them raise the same error naming the values.

A call that some processes never make cannot be told from a slow process: the
wait prints a warning after WARN_AFTER seconds and raises a TimeoutError after
CYDL_DIST_TIMEOUT seconds when that variable is set. A process that reaches the
end of its script takes part as "the end of the script" (an exit hook), so the
common mistake `if rank == 0: model.predict(x)` fails at once with the reason.
"""
import atexit
import os
import sys
import time

import numpy as np

CALLS = ("fit", "evaluate", "predict", "train_on_batch", "save", "the end of the script")
SLOTS = 16          # the most sizes a call compares (one message size for all calls)
WARN_AFTER = 60.0   # seconds


def agree(world, call, sizes, own=None):
    """Raise the same error on every process unless all called `call` with equal
    `sizes` (a dict of numbers, in a fixed order per call). `own` is a number each
    process reports without comparison; returns every process's `own`."""
    if world.size == 1:
        return np.array([own], np.float64)
    if _ENDED:
        raise RuntimeError(f"DataParallel: process {_ENDED[0]} has ended its script: "
                           f"{_name(call)} cannot run without it")
    if len(sizes) > SLOTS:
        raise AssertionError(f"agree: more than {SLOTS} sizes")
    vec = np.zeros(SLOTS + 2)
    vec[0] = CALLS.index(call)
    vec[1] = np.nan if own is None else own
    vec[2:2 + len(sizes)] = [float(v) for v in sizes.values()]
    table = _gather(world, vec, call)
    kinds = table[:, 0].astype(int)
    if np.any(kinds != kinds[0]):
        ended = [r for r, k in enumerate(kinds) if k == len(CALLS) - 1]
        if ended and kinds[world.rank] != len(CALLS) - 1:
            _ENDED[:] = ended      # no collective can reach it any more, at exit neither
        made = ", ".join(f"process {r}: {_name(CALLS[k])}" for r, k in enumerate(kinds))
        raise RuntimeError(f"DataParallel: the processes are not making the same call "
                           f"({made}). Every process must make the same fit, evaluate, "
                           f"predict, train_on_batch and save calls, in the same order "
                           f"(not under `if rank == 0:`)")
    differ = [(name, table[:, 2 + i]) for i, name in enumerate(sizes)
              if np.any(table[:, 2 + i] != table[0, 2 + i])]
    if differ:
        detail = "; ".join(f"{name}: {_ints(col)}" for name, col in differ)
        raise ValueError(f"DataParallel: the processes called {call}() with different "
                         f"arguments ({detail}, by process). Every process must pass the "
                         f"same arguments, and with auto_shard_dataset=True the same arrays")
    return table[:, 1]


def _name(call):
    return call if call.startswith("the ") else f"{call}()"


def _ints(col):
    return [int(v) if float(v).is_integer() else float(v) for v in col]


def _gather(world, vec, call):
    """Every process's `vec`, waiting patiently: a warning after WARN_AFTER seconds,
    a TimeoutError after CYDL_DIST_TIMEOUT seconds (if set)."""
    table = np.empty((world.size, vec.size))
    req = world.comm.Iallgather(vec, table)
    # at exit a process waits silently, as MPI_Finalize would: the others may still
    # have work of their own to finish
    limit = None if call == CALLS[-1] else _timeout()
    start, pause, warned = time.monotonic(), 0.0, call == CALLS[-1]
    while not req.Test():
        waited = time.monotonic() - start
        if limit is not None and waited > limit:
            raise TimeoutError(f"DataParallel: process {world.rank} waited {limit:g} s "
                               f"(CYDL_DIST_TIMEOUT) in {_name(call)} for the other "
                               f"processes to make the same call")
        if not warned and waited > WARN_AFTER:
            warned = True
            sys.stderr.write(f"cydl.distribution: process {world.rank} has waited "
                             f"{WARN_AFTER:g} s in {_name(call)} for the other processes "
                             f"to make the same call. Every process must make the same "
                             f"calls: one made on some processes only waits forever "
                             f"(set CYDL_DIST_TIMEOUT=seconds to stop instead)\n")
            sys.stderr.flush()
        time.sleep(pause)      # a late process costs at most ~2x its lateness
        pause = min(2 * pause + 1e-5, 0.05)
    return table


def _timeout():
    value = os.environ.get("CYDL_DIST_TIMEOUT", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError(f"CYDL_DIST_TIMEOUT must be a number of seconds. Received: "
                         f"{value!r}") from None
    return seconds if seconds > 0 else None


_HOOKED = []
_ENDED = []         # the processes that ended while this one made a call


def hook_exit(world):
    """Register, once, the exit hook that meets the other processes' checks."""
    if world.size > 1 and not _HOOKED:
        _HOOKED.append(world)
        atexit.register(_at_exit, world)


def _at_exit(world):
    MPI = world._MPI
    if MPI.Is_finalized() or _ENDED:     # finalized by the script; or a process is gone
        return
    try:
        agree(world, CALLS[-1], {})
    except (RuntimeError, ValueError):
        # another process waits in a call this one never makes: it raises with the
        # reason and ends the job; this one goes on to MPI_Finalize
        pass
