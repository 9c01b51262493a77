"""Does scipy's BLAS give the same numbers when a GEMM is cut into two calls?

    OPENBLAS_NUM_THREADS=1 python benchmarks/lab/blas_partition.py [--shapes 400]

Random shapes (M < 300, K < 1200, N < 700), float32 and float64: C = A B in one
call against the same product cut in two at an 8-aligned column (two calls on
the two column blocks of B) or row (two calls on the two row blocks of A). Counts
the shapes where any element differs. Why it matters: the adaptive thread count
runs the configured number of parts even on one thread (cydl/_kernels/_adapt.pyx),
because merging them into one GEMM would change results.
"""
import argparse

import numpy as np
from scipy.linalg import blas


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shapes", type=int, default=400)
    a = ap.parse_args()
    rng = np.random.default_rng(1)
    differ = {"columns": 0, "rows": 0}
    for i in range(a.shapes):
        m, k, n = (int(rng.integers(9, 300)), int(rng.integers(1, 1200)),
                   int(rng.integers(9, 700)))
        dt = np.float32 if i % 2 == 0 else np.float64
        gemm = blas.sgemm if dt == np.float32 else blas.dgemm
        A = np.asfortranarray(rng.standard_normal((m, k)).astype(dt))
        B = np.asfortranarray(rng.standard_normal((k, n)).astype(dt))
        full = gemm(1.0, A, B)
        c = max(8, int(rng.integers(1, n)) // 8 * 8)
        if not (np.array_equal(full[:, :c], gemm(1.0, A, B[:, :c])) and
                np.array_equal(full[:, c:], gemm(1.0, A, B[:, c:]))):
            differ["columns"] += 1
        r = max(8, int(rng.integers(1, m)) // 8 * 8)
        if not (np.array_equal(full[:r], gemm(1.0, A[:r], B)) and
                np.array_equal(full[r:], gemm(1.0, A[r:], B))):
            differ["rows"] += 1
    try:
        import ctypes
        import scipy.linalg.cython_blas as cb
        cfg = ctypes.CDLL(cb.__file__).scipy_openblas_get_config
        cfg.restype = ctypes.c_char_p
        print("BLAS:", cfg().decode())
    except (OSError, AttributeError):
        print("BLAS: unknown")
    for how, count in differ.items():
        print(f"split by {how}: {count} of {a.shapes} shapes give different numbers")


if __name__ == "__main__":
    main()
