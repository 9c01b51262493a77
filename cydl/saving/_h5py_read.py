"""Reading HDF5 files that other programs wrote (Keras writes through h5py), with
h5py, the "h5" extra: cydl's own files need no h5py (see _h5read).

Soft and external links, external and virtual datasets, non-numeric data and
datasets that claim far more memory than the file stores (shape or decompression
bombs) are refused, as Keras refuses them.
"""
import io
import math

import numpy as np

from cydl.saving._h5read import BOMB_FACTOR, BOMB_FLOOR, MAX_DEPTH, MAX_OBJECTS, H5Group


def h5py_or_raise(what):
    try:
        import h5py
    except ImportError:
        raise ImportError(
            f"Reading {what} needs h5py, which cydl uses only for HDF5 files written by "
            f"other programs (such as Keras): pip install 'cydl[h5]' (or pip install "
            f"h5py)") from None
    return h5py


def read(data, what):
    """The H5Group tree of an HDF5 file's bytes, through h5py."""
    h5py = h5py_or_raise(what)
    try:
        with h5py.File(io.BytesIO(data), "r") as f:
            return _from_h5py(h5py, f, what, 0, [0])
    except (OSError, KeyError, RuntimeError) as e:
        raise ValueError(f"{what} is not a readable HDF5 file ({e})") from None


def _from_h5py(h5py, group, what, depth, count):
    if depth > MAX_DEPTH:
        raise ValueError(f"{what} is corrupt: its groups nest too deep or link in a cycle")
    node = H5Group()
    for key, value in group.attrs.items():
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, str):
            node.attrs[key] = value
    for name in group.keys():
        count[0] += 1
        if count[0] > MAX_OBJECTS:
            raise ValueError(f"{what} holds too many objects")
        link = group.get(name, getclass=True, getlink=True)
        if link is not h5py.HardLink:
            where = f"{group.name.rstrip('/')}/{name}"
            raise ValueError(f"{what} holds a {getattr(link, '__name__', link)} at {where}: "
                             f"refused (a weights file has only plain groups and arrays)")
        obj = group[name]
        if isinstance(obj, h5py.Group):
            node.groups[name] = _from_h5py(h5py, obj, what, depth + 1, count)
        elif isinstance(obj, h5py.Dataset):
            node.datasets[name] = _h5py_array(obj, what)
        else:
            raise ValueError(f"{what}: {obj.name} is neither a group nor a dataset")
    return node


def _h5py_array(ds, what):
    if ds.external or ds.is_virtual:
        raise ValueError(f"{what}: dataset {ds.name} keeps its data outside the file: "
                         f"refused")
    if ds.dtype.kind not in "biuf" or ds.dtype.fields is not None:
        raise ValueError(f"{what}: dataset {ds.name} holds {ds.dtype}, not numbers")
    declared = math.prod(ds.shape or ()) * ds.dtype.itemsize
    stored = ds.id.get_storage_size()
    if declared > BOMB_FLOOR and declared > BOMB_FACTOR * stored:
        raise ValueError(f"{what}: dataset {ds.name} declares {declared} bytes but stores "
                         f"{stored}: refused (a shape or decompression bomb)")
    return np.asarray(ds[()])
