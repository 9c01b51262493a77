"""What making inference thread-safe costs: the lock around the fused plan's
workspace, against calling the plan directly, and 4 Python threads predicting at
once against the same work done serially.

    python benchmarks/lab/bench_inference_threads.py

784-300-100-10 MLP, float32. Medians of repeated windows; one process.
"""
import os
import threading
import time

import numpy as np

import cydl
from cydl import layers
from cydl._kernels import _predict


def _median_us(fn, reps, windows=7):
    out = []
    for _ in range(windows):
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        out.append((time.perf_counter() - t0) / reps * 1e6)
    return float(np.median(out)), min(out), max(out)


def main():
    cydl.utils.set_random_seed(0)
    model = cydl.Sequential([layers.Input(shape=(784,)), layers.Dense(300, activation="relu"),
                             layers.Dense(100, activation="relu"),
                             layers.Dense(10, activation="softmax")])
    x1 = np.random.default_rng(0).random((1, 784), dtype=np.float32)
    model(x1)                                  # builds the fast path
    fast = model._fast
    out = np.empty((1, 10), np.float32)
    threads = cydl.get_num_threads()
    print(f"# machine: {os.cpu_count()} CPUs, cydl threads {threads}, load {os.getloadavg()}")
    locked = _median_us(lambda: model(x1), 3000)
    direct = _median_us(lambda: _predict.predict_into(fast.plan, x1, out, threads), 3000)
    print("| 1-sample inference | median us (min-max) |\n|---|---|")
    print(f"| model(x), lock held per call | {locked[0]:.2f} ({locked[1]:.2f}-{locked[2]:.2f}) |")
    print(f"| the plan called directly, no lock | {direct[0]:.2f} ({direct[1]:.2f}-{direct[2]:.2f}) |")
    print(f"lock + Python checks cost: {locked[0] - direct[0]:.2f} us per call")

    xb = np.random.default_rng(1).random((1000, 784), dtype=np.float32)
    calls = 40

    def serial():
        for _ in range(calls):
            model.predict(xb, verbose=0)

    def concurrent():
        ts = [threading.Thread(target=lambda: [model.predict(xb, verbose=0)
                                               for _ in range(calls // 4)]) for _ in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    s = _median_us(serial, 1, 5)
    c = _median_us(concurrent, 1, 5)
    print(f"\n| 40 x predict(1000 rows) | ms (min-max) |\n|---|---|")
    print(f"| one thread | {s[0] / 1e3:.1f} ({s[1] / 1e3:.1f}-{s[2] / 1e3:.1f}) |")
    print(f"| 4 Python threads, 10 calls each | {c[0] / 1e3:.1f} ({c[1] / 1e3:.1f}-{c[2] / 1e3:.1f}) |")
    print("The kernels already use every core, so calls that take turns lose nothing: "
          "per-thread workspaces would only add memory.")


if __name__ == "__main__":
    main()
