"""CIFAR-10: 60,000 32x32 colour images in 10 classes, from the official binary files."""
import os
import tarfile
from pathlib import Path

import numpy as np

from cydl.datasets import _files

CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
               "ship", "truck")

_SUBDIR = "cifar-10"
_ARCHIVE = "cifar-10-binary.tar.gz"
_FOLDER = "cifar-10-batches-bin"            # what the archive holds
_TRAIN = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
_TEST = "test_batch.bin"
_RECORD = 1 + 3 * 32 * 32                  # a label byte, then R, G and B planes
_WHERE = (f"Put {_ARCHIVE} (https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz), or "
          f"the {_FOLDER}/ folder it unpacks to, in a folder named {_SUBDIR!r} under "
          f"$CYDL_DATA_DIR, or pass its path to load_data(path=...). cydl reads the binary "
          f"version only: the Python version (cifar-10-python.tar.gz) is pickled and cydl "
          f"never unpickles")


def _bin_folder(d):
    """`d` or d/cifar-10-batches-bin when it holds all six .bin files, else None."""
    for folder in (d, d / _FOLDER):
        if all((folder / n).is_file() for n in _TRAIN + (_TEST,)):
            return folder
    return None


def _locate(path):
    """("dir", folder) or ("tar", archive) for an explicit path, or None."""
    p = Path(path)
    if p.is_file():
        return "tar", p
    if p.is_dir():
        folder = _bin_folder(p)
        if folder is not None:
            return "dir", folder
        if (p / _ARCHIVE).is_file():
            return "tar", p / _ARCHIVE
    return None


def _records(data, name):
    """(images (n, 32, 32, 3), labels (n,)) from a file of 3073-byte records."""
    if not data or len(data) % _RECORD:
        raise ValueError(f"{name}: {len(data)} bytes is not a whole number of "
                         f"{_RECORD}-byte CIFAR-10 records (1 label byte + 3072 pixel "
                         f"bytes); is it the binary version?")
    raw = np.frombuffer(data, np.uint8).reshape(-1, _RECORD)
    labels = raw[:, 0]
    if labels.max() > 9:
        bad = int(np.flatnonzero(labels > 9)[0])
        raise ValueError(f"{name}: record {bad} has the label {int(labels[bad])}; CIFAR-10 "
                         f"labels are 0..9")
    # each record stores the red plane, then green, then blue (row-major 32x32
    # each): channel-major, turned into Keras' channels-last (H, W, C), one copy
    images = np.ascontiguousarray(raw[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    return images, labels


def _read_all(kind, where):
    names = _TRAIN + (_TEST,)
    if kind == "dir":
        return {n: (where / n).read_bytes() for n in names}
    try:
        tar = tarfile.open(where, "r:*")
    except tarfile.TarError as e:
        raise ValueError(f"{where} is not a readable tar archive ({e}). {_WHERE}") from None
    out = {}
    with tar:
        members = {m.name.lstrip("./"): m for m in tar.getmembers()}
        for n in names:
            # only the six files are read, never extracted: no path in the
            # archive reaches the file system
            m = members.get(f"{_FOLDER}/{n}") or members.get(n)
            if m is None or not m.isfile():
                raise ValueError(f"{where} has no {_FOLDER}/{n}: it is not "
                                 f"{_ARCHIVE}. {_WHERE}")
            out[n] = tar.extractfile(m).read()
    return out


def load_data(path=None):
    """((x_train, y_train), (x_test, y_test)) as keras.datasets.cifar10 returns them:
    uint8 images (50000, 32, 32, 3) and (10000, 32, 32, 3), channels last, and uint8
    labels (50000, 1) and (10000, 1) with values 0..9 (names in `CLASS_NAMES`).

    cydl reads the official *binary* distribution (cifar-10-binary.tar.gz:
    data_batch_1.bin ... data_batch_5.bin and test_batch.bin, each record a label
    byte and 3072 pixel bytes), either the archive itself or its unpacked
    cifar-10-batches-bin/ folder. Without `path` it looks in a "cifar-10" folder
    under $CYDL_DATA_DIR (or ../shared/data, or ~/.cydl/datasets); if the files are
    not there it downloads the archive (170 MB, checked against its pinned
    SHA-256) into that cache, as Keras does.

    Args:
        path: optional: the archive, the cifar-10-batches-bin/ folder, or a folder
            holding either.

    Example:

    >>> (X_train, y_train), (X_test, y_test) = cydl.datasets.cifar10.load_data()
    >>> X_train.shape, y_train.shape
    ((50000, 32, 32, 3), (50000, 1))
    """
    if path is not None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"`path` must be a file or folder path. Received: path={path!r} "
                            f"of type {type(path).__name__}")
        found = _locate(path)
        if found is None:
            raise FileNotFoundError(f"No CIFAR-10 binary files at path={os.fspath(path)!r}. "
                                    f"{_WHERE}")
    else:
        found = None
        for base in _files.search_dirs():
            folder = _bin_folder(base / _SUBDIR)
            if folder is not None:
                found = ("dir", folder)
                break
        if found is None:
            try:
                found = ("tar", _files.find(_SUBDIR, [_ARCHIVE]) / _ARCHIVE)
            except FileNotFoundError as e:
                raise FileNotFoundError(
                    f"CIFAR-10: {e}. The unpacked {_FOLDER}/ folder works as well. cydl "
                    f"reads the binary version only: the Python version "
                    f"(cifar-10-python.tar.gz) is pickled and cydl never unpickles") from None
    data = _read_all(*found)
    parts = [_records(data[n], n) for n in _TRAIN]
    x_train = np.concatenate([p[0] for p in parts])
    y_train = np.concatenate([p[1] for p in parts]).reshape(-1, 1)
    x_test, y_test = _records(data[_TEST], _TEST)
    return (x_train, y_train), (x_test, y_test.reshape(-1, 1).copy())
