"""Which rows each process runs in a data-parallel pass, and the sums that combine
their results (see cydl.distribution).

A global batch is cut into contiguous slices, one per process, in rank order (the
first batch % N processes get one row more). With auto_shard_dataset (every
process holds the same arrays) global batch s is rows [s B, s B + B) of the
shared order and process r runs its slice of them. With auto_shard_dataset=False
each process holds its own shard and global batch s joins every process's own
batch s of its share of B rows, in rank order. A process may have no rows in a
batch (a short last batch, fewer rows than processes): it still takes part.
"""
import json
import math

import numpy as np

from cydl import _config
from cydl.distribution import _state
from cydl.distribution._state import current, is_chief  # noqa: F401  (the loops' checks)
from cydl.models._totals import Totals, metric_state


def distribution_set():
    """Whether any distribution is set (one attribute read, for the latency-bound
    predict path; current() then says whether it spans several processes)."""
    return _state._DISTRIBUTION is not None


def split(rows, parts):
    """Offsets [0, ..., rows] of `rows` cut into `parts` contiguous slices."""
    q, extra = divmod(int(rows), parts)
    return [i * q + min(i, extra) for i in range(parts + 1)]


class Schedule:
    """The steps of one pass over this process's rows in global batches of `batch`.

    step(s) -> (lo, hi, row0, rows): this process runs rows [lo, hi) of its own
    (shuffled) order, which start at row `row0` of a global batch of `rows` rows.
    """

    def __init__(self, dist, n, batch):
        w = dist._world
        self.rank, self.size, self.batch = w.rank, w.size, int(batch)
        self.manual = not dist.auto_shard_dataset
        if self.manual:
            self.counts = [int(c) for c in w.allgather(n)]
            self.shares = np.diff(split(self.batch, self.size)).tolist()
            if any(c and not b for c, b in zip(self.counts, self.shares)):
                raise ValueError(f"batch_size={self.batch} gives processes without a share "
                                 f"of each batch ({self.size} processes): with "
                                 f"auto_shard_dataset=False, use batch_size >= {self.size}")
            self.n = sum(self.counts)
            self.steps = max([math.ceil(c / b) for c, b in zip(self.counts, self.shares)
                              if b] or [0])
            self.max_rows = max(self.shares[self.rank], 1)
        else:
            self.n = int(n)
            self.steps = math.ceil(self.n / self.batch) if self.n else 0
            self.max_rows = max(math.ceil(min(self.batch, self.n) / self.size), 1)

    def step(self, s):
        if not self.manual:
            start = s * self.batch
            rows = min(self.batch, self.n - start)
            off = split(rows, self.size)
            return start + off[self.rank], start + off[self.rank + 1], off[self.rank], rows
        lens = [max(0, min(b, c - s * b)) for c, b in zip(self.counts, self.shares)]
        lo = s * self.shares[self.rank]
        return lo, lo + lens[self.rank], sum(lens[:self.rank]), sum(lens)


class DistTotals(Totals):
    """The running sums of a pass, kept per process and summed over the processes
    whenever logs are read (every process must read them at the same points): the
    loss sum, each output's, the sample count and each metric's total and count, so
    that every process reports the same logs, those of the global batch."""

    def __init__(self, heads, world):
        super().__init__(heads)
        self.world = world
        self.metrics = [m for head in heads for m in head.metrics]
        for m in self.metrics:
            if metric_state(m) is None:
                raise ValueError(f"Metric {m.name!r} keeps state other than a running total "
                                 f"and count, which cydl cannot sum across the processes "
                                 f"of a DataParallel run")

    def _global(self):
        vec = np.array([self.loss, self.seen, *self.parts] +
                       [x for m in self.metrics for x in (m.total, m.count)], np.float64)
        self.world.allreduce(vec)
        return vec

    def _swap(self, vec):
        """Put the global sums in place (returns the local ones to restore)."""
        k = len(self.parts)
        local = (self.loss, self.seen, list(self.parts),
                 [(m.total, m.count) for m in self.metrics])
        self.loss, self.seen, self.parts = vec[0], int(vec[1]), list(vec[2:2 + k])
        for i, m in enumerate(self.metrics):
            m.total, m.count = float(vec[2 + k + 2 * i]), float(vec[3 + k + 2 * i])
        return local

    def _restore(self, local):
        self.loss, self.seen, self.parts, saved = local
        for m, (total, count) in zip(self.metrics, saved):
            m.total, m.count = total, count

    def logs(self, prefix=""):
        local = self._swap(self._global())
        try:
            return super().logs(prefix)
        finally:
            self._restore(local)

    def state(self):
        """The global sums (BackupAndRestore saves them)."""
        local = self._swap(self._global())
        try:
            return super().state()
        finally:
            self._restore(local)

    def load(self, state):
        """Continue from global sums: process 0 holds them, the others start at 0."""
        if self.world.rank == 0:
            super().load(state)


def sync_start(model, world):
    """Make every process start a fit from process 0's state: the weights (and the
    optimizer's slots), each dropout and noise layer's seed and call count, and
    cydl's random generator (so every process shuffles the same way). When the
    processes were seeded alike (the usual case) this changes nothing."""
    store = model._store
    world.bcast(store.params)
    for slot in getattr(model.optimizer, "_slots", None) or ():
        if slot is not None:
            world.bcast(slot)
    seeded = [layer for layer in _all_layers(model)
              if hasattr(layer, "_counter") and getattr(layer, "_seed", None) is not None]
    if seeded:
        buf = np.array([[layer._seed, int(layer._counter[0])] for layer in seeded], np.uint64)
        world.bcast(buf)
        for layer, (seed, count) in zip(seeded, buf.tolist()):
            layer._seed, layer._counter[0] = int(seed), count
    gen = _config.rng().bit_generator
    try:
        state = json.dumps(gen.state).encode()
    except TypeError:        # a generator whose state is not plain JSON: left as it is
        state = b""
    state = world.bcast_bytes(state)
    if state:
        gen.state = json.loads(state.decode())


def _all_layers(model):
    out, stack, seen = [], list(model._sublayers()), set()
    while stack:
        layer = stack.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        out.append(layer)
        if hasattr(layer, "_sublayers"):
            stack.extend(layer._sublayers())
    return out
