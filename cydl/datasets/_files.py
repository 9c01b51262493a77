"""Finding data files: locally first, else downloaded (see _download: pinned SHA-256s)."""
import gzip
import os
from pathlib import Path

import numpy as np


def search_dirs():
    """CYDL_DATA_DIR, then ../shared/data from the working directory and from the
    source checkout, then cydl's download cache ~/.cydl/datasets, then
    ~/.keras/datasets."""
    dirs = []
    env = os.environ.get("CYDL_DATA_DIR")
    if env:
        dirs.append(Path(env))
    dirs.append(Path.cwd().parent / "shared" / "data")
    dirs.append(Path.cwd() / "shared" / "data")
    dirs.append(Path(__file__).resolve().parents[3] / "shared" / "data")
    dirs.append(Path.home() / ".cydl" / "datasets")
    dirs.append(Path.home() / ".keras" / "datasets")
    return dirs


def find(subdir, names, download=True):
    """The directory holding all of `names` (under `subdir` of a search dir). When
    none has them all, the missing ones are downloaded (if cydl has a source with a
    pinned SHA-256 for each) into $CYDL_DATA_DIR/subdir or ~/.cydl/datasets/subdir."""
    tried = []
    for base in search_dirs():
        d = base / subdir
        tried.append(str(d))
        if all((d / n).exists() for n in names):
            return d
    why = "cydl has no download source for them"
    if download:
        from cydl.datasets import _download
        try:
            return _download.fetch_missing(subdir, list(names))
        except LookupError as e:
            why = str(e)
        except (OSError, ValueError) as e:      # offline, HTTP error, bad checksum
            why = f"downloading failed: {e}"
    raise FileNotFoundError(
        f"Could not find {', '.join(names)} ({why}). Put the files in a folder named "
        f"{subdir!r} under $CYDL_DATA_DIR. Looked in: {'; '.join(tried)}")


def read_idx(path):
    """An IDX file (gzipped) as a NumPy array: big-endian header, then uint8 data."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic = int.from_bytes(raw[:4], "big")
    if magic >> 8 != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file (magic {magic:#x})")
    ndim = magic & 0xFF
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: header says {dims}, found {data.size} values")
    return data.reshape(dims).copy()
