"""1-sample `model(x)` through the compiled FastCall against the Python wrapper it
replaced, in one process, interleaved.

    python benchmarks/lab/latency_ab.py [--rounds 20] [--reps 5000]

Across processes (the `prev` suite) this VM's plateaus of +-30 % swamp a 1 us
change; in one process, round by round, they hit both sides alike. The old side is
stop 13's FastPredict (a Python class: type, dtype and shape checks, np.empty, the
lock, resolve_threads, then the compiled predict_into), re-created here around the
same kernel call, reached through the model's __call__ like the new one. That
__call__ now asks for the thread count, so the old side pays resolve_threads twice
(about 0.2 us, 1-2 % here): read the ratio as that much too high.
"""
import argparse
import time

import numpy as np

import cydl
from cydl import _ops as ops
from cydl import layers
from cydl._kernels import _predict


class _OldFastPredict:
    """Stop 13's cydl/models/_fast_predict.py, but for predict_into's new home."""

    def __init__(self, plan, store, sample_shape, n_out, lock, max_rows):
        self.plan, self.lock, self.store, self.dtype = plan, lock, store, store.dtype
        self.sample_shape, self.n_out, self.max_rows = tuple(sample_shape), n_out, max_rows

    def __call__(self, x, n_threads=None):
        if type(x) is not np.ndarray or x.dtype != self.dtype or self.store.stale \
                or x.shape[1:] != self.sample_shape:
            return None
        n = x.shape[0]
        if n == 0 or n > self.max_rows:
            return None
        out = np.empty((n, self.n_out), self.dtype)
        with self.lock:
            if _predict.predict_into(self.plan, x, out, ops.resolve_threads()) != -1:
                return None
        return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--reps", type=int, default=5000)
    args = ap.parse_args()
    model = cydl.Sequential([layers.Input(shape=(784,)), layers.Dense(300, activation="relu"),
                             layers.Dense(100, activation="relu"),
                             layers.Dense(10, activation="softmax")])
    x = np.random.default_rng(0).random((1, 784), dtype=np.float32)
    model(x)
    new = model._fast
    old = _OldFastPredict(new.plan, model._store, (784,), 10, model._lock, new.max_rows)
    np.testing.assert_array_equal(old(x), new(x, cydl.get_num_threads()))

    def timed():
        t = time.perf_counter()
        for _ in range(args.reps):
            model(x)
        return (time.perf_counter() - t) / args.reps * 1e6

    res = {"new": [], "old": []}
    for _ in range(args.rounds):
        for name, fast in (("new", new), ("old", old)):
            model._fast = fast
            res[name].append(timed())
    model._fast = new
    print(f"# {cydl.get_num_threads()} threads, {args.rounds} rounds of {args.reps} calls")
    for name, v in res.items():
        print(f"{name}: median {np.median(v):.2f} us, min {min(v):.2f} us")
    r = np.array(res["old"]) / np.array(res["new"])
    print(f"old / new, median of the rounds: {np.median(r):.3f} "
          f"[{r.min():.3f}-{r.max():.3f}]")


if __name__ == "__main__":
    main()
