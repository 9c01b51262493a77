"""Data sets: digits ships with cydl; Fashion-MNIST, MNIST, CIFAR-10 and California
housing are read from local files (CYDL_DATA_DIR), or downloaded as Keras does when
missing (into ~/.cydl/datasets; every file is checked against a pinned SHA-256)."""
from cydl.datasets import california_housing, cifar10, digits, fashion_mnist, mnist
from cydl.datasets import iris

__all__ = ["digits", "fashion_mnist", "mnist", "california_housing", "cifar10", "iris"]
