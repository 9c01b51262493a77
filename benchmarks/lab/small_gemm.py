"""One thread's GEMMs of a fused training step, whole (OpenBLAS packs both operands)
against cut into pieces for OpenBLAS's small-matrix kernels (cydl/_kernels/_blas.pyx).

    python benchmarks/lab/small_gemm.py [--rounds 5]

The shapes are each thread's share of the benchmark MLP 784-300-100-10 on 2
threads at batch 32, 128 and 512: the forward pass of layers 1-2 (layer 1 reads the
C-ordered input, A^T B), the folded SGD update of layer 1 (W -= lr X^T dZ, beta 1),
and layer 2's weight and input gradients. Each round times both ways, alternating,
through the kernels' own `gemm` (`_blas.gemm_into`, the same call the step makes),
best of 5 windows; prints the median over rounds of the time per call.
"""
import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from cydl._kernels import _blas


def shapes(batch):
    """(name, ta, tb, M, N, K, beta) of one of 2 threads' GEMMs at this batch."""
    return [(f"b{batch} forward 1", "T", "N", batch, 150, 784, 0.0),
            (f"b{batch} SGD update 1", "N", "N", 784, 150, batch, 1.0),
            (f"b{batch} forward 2", "N", "N", batch, 50, 300, 0.0),
            (f"b{batch} weight grad 2", "T", "N", 300, 50, batch, 0.0),
            (f"b{batch} input grad 2", "N", "T", batch, 150, 100, 0.0)]


def operands(ta, tb, m, n, k, rng):
    a = rng.standard_normal((m if ta == "N" else k) * (k if ta == "N" else m), np.float32)
    b = rng.standard_normal((k if tb == "N" else n) * (n if tb == "N" else k), np.float32)
    c = np.zeros(m * n, np.float32)
    return a, m if ta == "N" else k, b, k if tb == "N" else n, c


def time_call(ta, tb, m, n, k, beta, ops, reps):
    a, lda, b, ldb, c = ops
    best = np.inf
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(reps):
            _blas.gemm_into(ta, tb, m, n, k, -0.01 if beta else 1.0, a, lda, b, ldb, beta, c, m)
        best = min(best, (time.perf_counter() - t) / reps)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    old = _blas.set_small_tiles(True)
    print(f"{'GEMM':22s} {'op':3s} {'M x N x K':>16s} {'pieces':>9s} {'whole us':>9s} "
          f"{'pieces us':>9s} {'ratio':>6s}")
    with threadpool_limits(1, "blas"):
        for batch in (32, 128, 512):
            for name, ta, tb, m, n, k, beta in shapes(batch):
                ops = operands(ta, tb, m, n, k, rng)
                reps = max(20, int(4e8 / (2 * m * n * k)))
                times = {True: [], False: []}
                for r in range(args.rounds):
                    for on in ((True, False) if r % 2 == 0 else (False, True)):
                        _blas.set_small_tiles(on)
                        times[on].append(time_call(ta, tb, m, n, k, beta, ops, reps))
                whole, piece = np.median(times[False]), np.median(times[True])
                tile = _blas.tile_shape(ta, tb, n, k, beta == 0)
                cut = f"{tile[0]}x{tile[1]}" if tile else "one call"
                print(f"{name:22s} {ta}{tb}  {f'{m}x{n}x{k}':>16s} {cut:>9s} "
                      f"{whole * 1e6:9.1f} {piece * 1e6:9.1f} {piece / whole:6.2f}")
    _blas.set_small_tiles(old)


if __name__ == "__main__":
    main()
