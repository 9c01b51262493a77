"""Fashion-MNIST: 70,000 28x28 grayscale images of 10 kinds of clothing."""
from cydl.datasets._idx_datasets import load_idx_dataset


def load_data(path=None):
    """((x_train, y_train), (x_test, y_test)): uint8 images (60000, 28, 28) and
    (10000, 28, 28), uint8 labels 0..9, as keras.datasets.fashion_mnist returns.

    The four official IDX .gz files are read from `path`, else from a
    "fashion-mnist" folder under $CYDL_DATA_DIR (or ../shared/data).

    Example:
    >>> (X_train, y_train), (X_test, y_test) = cydl.datasets.fashion_mnist.load_data()
    """
    return load_idx_dataset("fashion-mnist", path)
