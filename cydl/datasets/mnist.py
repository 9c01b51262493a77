"""MNIST: 70,000 28x28 grayscale images of handwritten digits."""
from cydl.datasets._idx_datasets import load_idx_dataset


def load_data(path=None):
    """((x_train, y_train), (x_test, y_test)) as keras.datasets.mnist returns,
    read from `path` or an "mnist" folder under $CYDL_DATA_DIR (or ../shared/data)."""
    return load_idx_dataset("mnist", path)
