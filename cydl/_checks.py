"""Argument checks for hyperparameters: one message style for every constructor.

A leaf module (it imports nothing of cydl) so optimizers, schedules,
initializers, regularizers, constraints, activations, layers and callbacks can
all use it. NumPy scalars count as numbers; bool does not, because True passed
as a rate or a size is almost always a mistake (an argument shifted by one).
"""
import math
import numbers

import numpy as np


def is_number(value):
    return isinstance(value, (numbers.Real, np.floating, np.integer)) and \
        not isinstance(value, (bool, np.bool_))


def number(value, name, low=None, high=None, low_open=False, high_open=False,
           allow_none=False, owner=None):
    """value as a finite Python float inside the given bounds.

    A non-number (str, bool, None unless allow_none) is a TypeError; NaN, inf or a
    value out of bounds is a ValueError. Both name the argument and the value.
    """
    if value is None and allow_none:
        return None
    where = f"{owner}: " if owner else ""
    if not is_number(value):
        raise TypeError(f"{where}`{name}` must be a number{_range(low, high, low_open, high_open)}"
                        f". Received: {name}={value!r} of type {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v) or (low is not None and (v <= low if low_open else v < low)) \
            or (high is not None and (v >= high if high_open else v > high)):
        raise ValueError(f"{where}`{name}` must be a finite number"
                         f"{_range(low, high, low_open, high_open)}. Received: {name}={value!r}")
    return v


def integer(value, name, low=None, allow_none=False, owner=None):
    """value as a Python int >= low (NumPy integers accepted; bool and floats not)."""
    if value is None and allow_none:
        return None
    where = f"{owner}: " if owner else ""
    bound = f" >= {low}" if low is not None else ""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral,
                                                                     np.integer)):
        raise TypeError(f"{where}`{name}` must be an int{bound}. Received: {name}={value!r} "
                        f"of type {type(value).__name__}")
    if low is not None and value < low:
        raise ValueError(f"{where}`{name}` must be an int{bound}. Received: {name}={value!r}")
    return int(value)


def _range(low, high, low_open, high_open):
    if low is None and high is None:
        return ""
    if high is None:
        return f" {'>' if low_open else '>='} {low:g}"
    if low is None:
        return f" {'<' if high_open else '<='} {high:g}"
    return f" in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"


def _is_frame_like(x):
    """pandas Series/DataFrame (and look-alikes): to_numpy plus a dtype or dtypes."""
    return not isinstance(x, np.ndarray) and hasattr(x, "to_numpy") and \
        (hasattr(x, "dtypes") or hasattr(x, "dtype"))


def as_array(x, name):
    """x as a NumPy array, sharing memory where NumPy or pandas allow it.

    pandas objects go through NumPy's array protocol: pandas 3 hands back read-only
    views, which cydl reads in place. Nullable columns (Int64, Float64, boolean)
    become float64 with their missing values as NaN, which the callers' finiteness
    checks then report. Columns that are not numeric are named in a TypeError.
    """
    if isinstance(x, np.ndarray) or not _is_frame_like(x):
        return np.asarray(x)
    a = np.asarray(x)
    if a.dtype.kind in "biuf":
        return a
    dtypes = x.dtypes.items() if hasattr(x, "dtypes") and hasattr(x.dtypes, "items") \
        else [(getattr(x, "name", None), x.dtype)]
    bad = [(col, str(dt)) for col, dt in dtypes if getattr(dt, "kind", "O") not in "biuf"]
    if bad:
        cols = ", ".join(f"{col!r} ({dt})" for col, dt in bad[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        raise TypeError(f"`{name}` must be numeric. Non-numeric column(s): {cols}{more}. "
                        f"Encode them first (e.g. one-hot) or drop them")
    # numeric, but nullable or mixed: one float64 array, missing values as NaN
    return x.to_numpy(dtype=np.float64, na_value=np.nan)
