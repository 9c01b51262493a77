"""The low-latency inference path of model(x) and model.predict(x).

For a small float array of the model's dtype and input shape, one compiled call
(cydl/_kernels/_predict.pyx) checks it, runs the whole network and returns the
output: no batching, no callbacks, no per-layer Python. Anything else (other
dtypes, big arrays, layout, NaN) gets None and takes the general path.
"""
from cydl import _ops as ops


def fast_call(plan, store, sample_shape, lock, max_rows=256):
    """The model's FastCall (None where it has no fixed row size), bound to one
    compiled plan; invalid once the model's weights move. Calls from several
    threads take turns on the plan's workspace through `lock`, the model's
    (uncontended it costs well under a microsecond)."""
    if any(d is None for d in sample_shape) or len(sample_shape) > 8:
        return None       # no fixed row size (or an odd rank): the general path
    # one call runs all the rows without a signal check: at most one row block
    # of work (see _runners.block_rows), so that Ctrl-C still lands promptly
    from cydl.models._runners import _NARROW, block_rows
    rows = block_rows(store.variables, ops.resolve_threads(), _NARROW)
    return ops.make_fast_call(plan, sample_shape, lock, store,
                              min(max_rows, rows) if rows > 0 else max_rows)
