"""SIMD variants of the optimizer update (cydl/_kernels/_vec_update.h), A/B.

    python benchmarks/lab/simd_update.py [--part update|train|both] [--rounds 7]
        [--reps 200] [--epochs 2] [--samples 8192] [--threads 1]

* update: the fused update alone over 266,610 float32 parameters (the book MLP
  784-300-100-10), Adam and plain SGD, each variant of this CPU in turn in one
  process (`_optim.set_simd`), the order reversed every round.
* train: Adam, batch 32 training of that MLP, samples/s of `--epochs` timed epochs
  on random data after one warm-up epoch, in a fresh process per (round, variant)
  with CYDL_SIMD forced, the variants alternating.

This VM is shared and noisy: prints the median and the range over the rounds.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, ROOT)
N_PARAMS = 784 * 300 + 300 + 300 * 100 + 100 + 100 * 10 + 10    # 266,610


def time_update(kind, variant, reps, threads):
    """Microseconds per update step, the median over `reps` steps."""
    from cydl import _ops as ops
    from cydl._kernels import _optim
    _optim.set_simd(variant)
    rng = np.random.default_rng(0)
    p, g = rng.standard_normal((2, N_PARAMS), dtype=np.float32)
    slots = [np.zeros(N_PARAMS, np.float32), np.full(N_PARAMS, 0.01, np.float32)]
    rule = ops.UpdateRule()
    rule.configure(ops.OPTIMIZER_KINDS[kind])
    rule.set_step(1e-6, 1e-6)       # tiny steps: the values stay normal for all reps
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        ops.optimizer_step(rule, p, g, slots, n_threads=threads)
        out.append(time.perf_counter() - t0)
    return 1e6 * float(np.median(out))


def train_child(epochs, samples, threads):
    """Samples/s of Adam b32 training in this process (CYDL_SIMD set by the parent)."""
    import cydl
    from cydl import layers
    from cydl._kernels import _optim
    cydl.set_num_threads(threads)
    rng = np.random.default_rng(0)
    x, y = rng.random((samples, 784), dtype=np.float32), rng.integers(0, 10, samples)
    cydl.utils.set_random_seed(0)
    model = cydl.Sequential([layers.Input(shape=(784,)), layers.Dense(300, activation="relu"),
                             layers.Dense(100, activation="relu"),
                             layers.Dense(10, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer=cydl.optimizers.Adam())
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)        # warm-up: plan, caches
    t0 = time.perf_counter()
    model.fit(x, y, batch_size=32, epochs=epochs, verbose=0)
    rate = epochs * samples / (time.perf_counter() - t0)
    print(json.dumps({"variant": _optim.simd_variant(), "samples_per_s": rate}))


def summary(name, values, unit):
    v = np.asarray(values)
    print(f"  {name:24s} median {np.median(v):10.1f} {unit}  range [{v.min():.1f}, "
          f"{v.max():.1f}]  (n={v.size})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--part", choices=("update", "train", "both"), default="both")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--samples", type=int, default=8192)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        return train_child(a.epochs, a.samples, a.threads)
    from cydl._kernels import _optim
    variants = _optim.simd_available()
    print(f"variants on this CPU: {variants}; {N_PARAMS} float32 params, "
          f"threads={a.threads}, rounds={a.rounds}")
    if a.part in ("update", "both"):
        res = {(k, v): [] for k in ("adam", "sgd") for v in variants}
        for r in range(a.rounds):
            for v in (variants if r % 2 == 0 else variants[::-1]):
                for k in ("adam", "sgd"):
                    res[k, v].append(time_update(k, v, a.reps, a.threads))
        print("update alone (median us/step per round):")
        for (k, v), vals in res.items():
            summary(f"{k} {v}", vals, "us")
    if a.part in ("train", "both"):
        rates = {v: [] for v in variants}
        for r in range(a.rounds):
            for v in (variants if r % 2 == 0 else variants[::-1]):
                out = subprocess.run(
                    [sys.executable, __file__, "--child", "--epochs", str(a.epochs),
                     "--samples", str(a.samples), "--threads", str(a.threads)],
                    env={**os.environ, "CYDL_SIMD": v, "PYTHONPATH": ROOT},
                    capture_output=True, text=True, check=True)
                got = json.loads(out.stdout.strip().splitlines()[-1])
                assert got["variant"] == v, got
                rates[v].append(got["samples_per_s"])
        print("Adam b32 training of 784-300-100-10 (samples/s per fresh process):")
        for v, vals in rates.items():
            summary(v, vals, "samples/s")


if __name__ == "__main__":
    main()
