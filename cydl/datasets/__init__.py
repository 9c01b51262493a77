"""Data sets: digits ships with cydl; Fashion-MNIST, MNIST and California housing are
read from local files (CYDL_DATA_DIR), never downloaded."""
from cydl.datasets import california_housing, digits, fashion_mnist, mnist

__all__ = ["digits", "fashion_mnist", "mnist", "california_housing"]
