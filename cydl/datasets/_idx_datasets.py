"""Fashion-MNIST and MNIST from their official IDX files, as Keras returns them."""
from cydl.datasets._files import find, read_idx

_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
          "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def load_idx_dataset(subdir, path=None):
    from pathlib import Path
    d = Path(path) if path is not None else find(subdir, _FILES)
    x_train, y_train, x_test, y_test = (read_idx(d / f) for f in _FILES)
    return (x_train, y_train), (x_test, y_test)
