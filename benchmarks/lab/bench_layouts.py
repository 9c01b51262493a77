"""The per-op activation kernels on operands of different memory orders.

    python benchmarks/lab/bench_layouts.py [--threads 2] [--reps 2000]

Under a tape a column-major weight (a view of the flat buffer) meets a row-major
gradient from NumPy. The kernels take each operand's own strides, so mixed orders
run a strided loop instead of copying one operand to the other's order. This
compares, for `activation_backward` (tanh and relu) and `activation_forward`, per call:

* same order (both F, both C): the vectorized contiguous loop;
* mixed (dA C, A F): the strided loop, no copy;
* copy-then-contiguous: what the alternative fix would cost (np.asfortranarray of
  the C operand, then the contiguous loop).
"""
import argparse
import os
import platform
import time

import numpy as np


def _best_us(fn, reps, windows=5):
    fn()
    best = float("inf")
    for _ in range(windows):
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        best = min(best, (time.perf_counter() - t0) / reps)
    return best * 1e6


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=2000)
    a = ap.parse_args()
    import cydl
    from cydl import _ops
    cydl.set_num_threads(a.threads)
    print(f"# activation kernels by operand layout ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})")
    print(f"* {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, "
          f"threads {a.threads}, float32, best of 5 windows of {a.reps} calls, microseconds")
    print("\n| op | shape | F,F | C,C | mixed (strided) | copy + contiguous | mixed / copy |")
    print("|---|---|---:|---:|---:|---:|---:|")
    rng = np.random.default_rng(0)
    for act in ("tanh", "relu"):
        for shape in ((32, 100), (32, 300), (256, 300), (784, 300)):
            z = rng.standard_normal(shape).astype(np.float32)
            zf, zc = np.asfortranarray(z), np.ascontiguousarray(z)
            af = _ops.activation_forward(zf, act)
            ac = np.ascontiguousarray(af)
            g = rng.standard_normal(shape).astype(np.float32)
            gf, gc = np.asfortranarray(g), np.ascontiguousarray(g)
            ff = _best_us(lambda: _ops.activation_backward(gf, af, None, act), a.reps)
            cc = _best_us(lambda: _ops.activation_backward(gc, ac, None, act), a.reps)
            mixed = _best_us(lambda: _ops.activation_backward(gc, af, None, act), a.reps)
            copy = _best_us(lambda: _ops.activation_backward(np.asfortranarray(gc), af, None,
                                                             act), a.reps)
            print(f"| backward {act} | {shape} | {ff:.1f} | {cc:.1f} | {mixed:.1f} | "
                  f"{copy:.1f} | {mixed / copy:.2f} |")
        z = rng.standard_normal((32, 300)).astype(np.float32)
        zs = np.asfortranarray(rng.standard_normal((64, 300)).astype(np.float32))[::2]
        f1 = _best_us(lambda: _ops.activation_forward(np.asfortranarray(z), act), a.reps)
        f2 = _best_us(lambda: _ops.activation_forward(zs, act), a.reps)
        f3 = _best_us(lambda: _ops.activation_forward(np.asfortranarray(zs), act), a.reps)
        print(f"| forward {act}, strided rows | (32, 300) | {f1:.1f} | - | {f2:.1f} | "
              f"{f3:.1f} | {f2 / f3:.2f} |")


if __name__ == "__main__":
    main()
