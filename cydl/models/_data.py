"""Checking and converting what users pass to fit, evaluate and predict.

Everything is checked here, in Python, before any kernel runs: wrong types, shapes,
NaN/inf, empty arrays, mismatched lengths and labels out of range all raise a
ValueError or TypeError that names the offending value.
"""
import numpy as np

from cydl import _ops as ops
from cydl._checks import as_array

_KEEP = (np.dtype(np.uint8), np.dtype(np.float32), np.dtype(np.float64))


def _name_dtype(a, name):
    if a.dtype.kind not in "biuf":
        raise TypeError(f"`{name}` must be numeric. Received an array of dtype {a.dtype}")


def _check_range(a, name, dtype):
    """A ValueError if a's finite values do not fit in `dtype`: a float64 value beyond
    float32's range becomes inf when the kernels cast each batch, and then NaN
    weights, without any error. Two reductions, no temporary array."""
    dtype = np.dtype(dtype)
    if a.dtype.kind != "f" or a.dtype.itemsize <= dtype.itemsize or a.size == 0:
        return
    top = np.finfo(dtype).max
    if a.max() <= top and a.min() >= -top:
        return
    flat = a.reshape(-1)
    over = np.isfinite(flat) & (np.abs(flat) > top)
    if not over.any():
        return          # NaN or inf: the caller's finiteness check names it
    i = int(np.argmax(over))
    raise ValueError(f"`{name}` holds {float(flat[i])!r} (at flat index {i}), which overflows "
                     f"{dtype.name}, the model's dtype (largest finite {dtype.name}: {top:g}). "
                     f"Rescale the data, or build the model in float64 "
                     f"(cydl.config.set_floatx('float64') or dtype='float64')")


def _at(name, a, flat):
    """The element at flat index `flat` as the user indexes it: x[3, 1] (row 3, column 1)."""
    return f"{name}[{', '.join(map(str, np.unravel_index(flat, a.shape)))}]"


def as_features(x, name, sample_shape, dtype):
    """x as a C-ordered array the kernels read directly (uint8, float32 or float64;
    other dtypes are cast to `dtype` once), checked against the model's input."""
    if x is None:
        raise ValueError(f"`{name}` is required")
    if isinstance(x, (list, tuple)) and len(x) and hasattr(x[0], "shape") \
            and np.ndim(x[0]) > 1:
        raise ValueError(f"`{name}` must be a single array for this model")
    a = as_array(x, name)
    _name_dtype(a, name)
    if a.ndim == 0:
        raise ValueError(f"`{name}` must have a batch axis. Received a scalar")
    if a.shape[0] == 0:
        raise ValueError(f"`{name}` is empty (shape {a.shape}); it needs at least one sample")
    check_sample_shape(a, name, sample_shape)
    if a.dtype not in _KEEP:
        _check_range(a, name, dtype)
        a = a.astype(dtype)
    a = np.ascontiguousarray(a)
    bad = ops.first_nonfinite(a)
    if bad >= 0:
        raise ValueError(f"`{name}` contains NaN or inf (first at {_at(name, a, bad)}: "
                         f"{a.reshape(-1)[bad]})")
    # float64 stays float64 here and the kernels cast each batch: check the range now
    _check_range(a, name, dtype)
    return a


def check_sample_shape(a, name, sample_shape):
    if sample_shape is None:
        return
    if a.ndim == 1 and len(sample_shape) == 1:
        raise ValueError(f"Input has incompatible shape: expected (None, {sample_shape[0]}), "
                         f"found {a.shape} in `{name}`. Use x.reshape(-1, 1) for one feature")
    if len(a.shape[1:]) != len(sample_shape) or any(
            s is not None and s != d for s, d in zip(sample_shape, a.shape[1:])):
        raise ValueError(f"Input has incompatible shape: expected (None, "
                         f"{', '.join(map(str, sample_shape))}), found {a.shape} in `{name}`")


def check_lengths(x, y, sw):
    n = x.shape[0]
    for arr, name in ((y, "y"), (sw, "sample_weight")):
        if arr is not None and np.ndim(arr) == 0:
            raise ValueError(f"`{name}` must be an array with one entry per sample ({n} "
                             f"samples in x). Received a scalar: {name}={arr!r}")
        if arr is not None and np.shape(arr)[0] != n:
            raise ValueError(f"Data cardinality is ambiguous: x sizes: {n}, {name} sizes: "
                             f"{np.shape(arr)[0]}. Make sure all arrays contain the same "
                             f"number of samples.")


def as_labels(y, n_classes):
    """Sparse class labels as int32, each in [0, n_classes)."""
    a = as_array(y, "y")
    _name_dtype(a, "y")
    if a.ndim > 2 or (a.ndim == 2 and a.shape[1] != 1):
        raise ValueError(f"Sparse labels must have shape (n,) or (n, 1). Received {a.shape}")
    if a.dtype.kind == "f" and ops.first_nonfinite(a) >= 0:
        raise ValueError("`y` contains NaN or inf")
    try:
        labels, bad = ops.labels_to_int32(a, n_classes)
    except ValueError as e:
        raise ValueError(f"`y` must hold integer class labels: {e}") from None
    if bad >= 0:
        raise ValueError(f"Received a label value of {a.reshape(-1)[bad]} (at index {bad}) "
                         f"which is outside the valid range of [0, {n_classes}). The "
                         f"model's last layer has {n_classes} units.")
    return labels


def as_targets(y, out_shape, dtype):
    """Dense targets as a C-ordered (n, units) array of the model dtype."""
    a = as_array(y, "y")
    _name_dtype(a, "y")
    units = out_shape[-1]
    if a.ndim == 1 and units == 1:
        a = a.reshape(-1, 1)
    if a.ndim != 2 or a.shape[1] != units:
        raise ValueError(f"`y` has shape {a.shape} but the model's output has shape "
                         f"(None, {units})")
    bad = ops.first_nonfinite(a)
    if bad >= 0:
        raise ValueError(f"`y` contains NaN or inf (first at {_at('y', a, bad)}: "
                         f"{a.reshape(-1)[bad]})")
    _check_range(a, "y", dtype)
    return np.ascontiguousarray(a, dtype=dtype)


def as_sample_weight(sw, n, dtype, class_weight=None, labels=None):
    if class_weight is not None:
        if labels is None:
            raise ValueError("class_weight needs integer class labels")
        table = np.ones(int(labels.max()) + 1)
        for k, w in dict(class_weight).items():
            if 0 <= int(k) < table.size:
                table[int(k)] = w
        cw = table[labels]
    if sw is not None:
        a = as_array(sw, "sample_weight")
        _name_dtype(a, "sample_weight")
        a = a.reshape(-1)
        bad = ops.first_nonfinite(a)
        if a.shape[0] != n or bad >= 0 or (a < 0).any():
            if a.shape[0] == n:
                bad = bad if bad >= 0 else int(np.argmax(a < 0))
                detail = f" Received sample_weight[{bad}]={a[bad].item()!r}"
            else:
                detail = f" Received {a.shape[0]} weights for {n} samples"
            raise ValueError("`sample_weight` must hold one finite, non-negative weight per "
                             "sample." + detail)
        _check_range(a, "sample_weight", dtype)
        if class_weight is not None:
            sw = a.astype(np.float64) * cw
    if class_weight is not None and sw is None:
        sw = cw
    if sw is None:
        return None
    return np.ascontiguousarray(np.asarray(sw, dtype=dtype).reshape(-1))
