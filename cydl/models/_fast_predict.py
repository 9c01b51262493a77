"""The low-latency inference path of model(x) and model.predict(x).

Calls from several threads take turns on the plan's workspace (a lock: uncontended it
costs well under a microsecond, against ~10 us for the call itself).

For a small float array of the model's dtype and input shape, one compiled call
runs the whole network: no batching, no callbacks, no per-layer Python. Anything
else (other dtypes, big arrays, layout) returns None and takes the general path.
"""
import numpy as np

from cydl import _ops as ops


class FastPredict:
    """Bound to one compiled plan; invalid once the model's weights move."""

    def __init__(self, plan, store, sample_shape, n_out, lock, max_rows=256):
        self.plan = plan
        self.lock = lock        # the plan's workspace serves one call at a time
        self.store = store
        self.dtype = store.dtype
        self.sample_shape = tuple(sample_shape)
        self.n_features = int(np.prod(sample_shape))
        self.n_out = n_out
        # one call runs all the rows without a signal check: at most one row block
        # of work (see _runners.block_rows), so that Ctrl-C still lands promptly
        from cydl.models._runners import _NARROW, block_rows
        rows = block_rows(store.variables, ops.resolve_threads(), _NARROW)
        self.max_rows = min(max_rows, rows) if rows > 0 else max_rows
        self.run = plan.predict_into
        plan.ensure_batch(max_rows)

    def __call__(self, x):
        if type(x) is not np.ndarray or x.dtype != self.dtype or self.store.stale \
                or x.shape[1:] != self.sample_shape:
            return None
        n = x.shape[0]
        if n == 0 or n > self.max_rows:
            return None
        out = np.empty((n, self.n_out), self.dtype)
        with self.lock:
            # -1: done; otherwise a NaN/inf (the general path raises the detailed
            # error) or a layout the general path handles
            if self.run(x, out, ops.resolve_threads()) != -1:
                return None
        return out
