"""The low-latency inference path of model(x) and model.predict(x).

For a small float array of the model's dtype and input shape, one compiled call
(cydl/_kernels/_predict.pyx) checks it, runs the whole network and returns the
output: no batching, no callbacks, no per-layer Python. Anything else (other
dtypes, big arrays, layout, NaN) gets None and takes the general path.
"""
from cydl import _ops as ops


def fast_call(plan, store, input_shape, output_shape, lock, max_rows=256):
    """The model's FastCall, bound to one compiled plan (None where the model has
    no fixed row size, or several inputs or outputs); invalid once the model's
    weights move. Calls from several threads take turns on the plan's workspace
    through `lock`, the model's (uncontended it costs well under a microsecond)."""
    if isinstance(output_shape, list) and len(output_shape) == 1:
        output_shape = output_shape[0]    # Model(x, [y]) answers one array, as Keras's
    if not (_one_array(input_shape) and _one_array(output_shape)):
        return None       # the general path
    sample_shape = input_shape[1:]
    if any(d is None for d in sample_shape) or len(sample_shape) > 8:
        return None
    # one call runs all the rows without a signal check: at most one row block
    # of work (see _runners.block_rows), so that Ctrl-C still lands promptly
    from cydl.autodiff import _local
    from cydl.models._runners import _NARROW, block_rows
    rows = block_rows(store.variables, ops.resolve_threads(), _NARROW)
    return ops.make_fast_call(plan, sample_shape, output_shape[1:], lock, store,
                              min(max_rows, rows) if rows > 0 else max_rows, _local)


def _one_array(shape):
    return isinstance(shape, tuple) and all(d is None or isinstance(d, int) for d in shape)
