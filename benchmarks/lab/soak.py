"""Soak: many training steps and predict calls in one process; RSS and step time stay flat.

    python benchmarks/lab/soak.py [--steps 50000] [--calls 100000] [--batch 32] [--threads N]

784-300-100-10 float32 MLP, SGD, at cydl's default (adaptive) thread count unless
--threads is given. Training runs `--steps` steps as model.fit epochs over 8,192
samples; then `--calls` one-sample model(x) calls, every 10th one through
model.predict instead. RSS (VmRSS from /proc/self/status) and the time per step or
per call are sampled in 10 windows of each phase. Flat means: every window's RSS
within 5% of the first window's (after warm-up), and the step time of the last
windows not drifting above the first ones beyond the machine's noise (the median
of the last three windows against the median of the first three is printed).
"""
import argparse
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)


def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def report(name, unit, rows):
    rss = [r[1] for r in rows]
    t = [r[2] for r in rows]
    base = rss[0]
    dev = max(abs(x - base) / base for x in rss)
    drift = np.median(t[-3:]) / np.median(t[:3])
    print(f"\n{name}: window | done | RSS MB | {unit} (median of the window's sub-windows)")
    for i, (done, r, tt) in enumerate(rows):
        print(f"  {i:2d} | {done:7d} | {r:7.1f} | {tt:8.2f}")
    print(f"  RSS: first {base:.1f} MB, min {min(rss):.1f}, max {max(rss):.1f}, "
          f"max deviation {dev * 100:.1f}% -> {'flat (within 5%)' if dev <= 0.05 else 'NOT flat'}")
    print(f"  {unit}: min {min(t):.2f}, median {np.median(t):.2f}, max {max(t):.2f}; "
          f"last-3 / first-3 windows = {drift:.2f}")
    return dev, drift


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=50000)
    ap.add_argument("--calls", type=int, default=100000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--windows", type=int, default=10)
    a = ap.parse_args()

    import cydl
    from cydl import layers
    if a.threads:
        cydl.set_num_threads(a.threads)
    n = 8192
    rng = np.random.default_rng(0)
    x = rng.random((n, 784), dtype=np.float32)
    y = rng.integers(0, 10, n)
    cydl.utils.set_random_seed(0)
    model = cydl.Sequential([layers.Input(shape=(784,)), layers.Dense(300, activation="relu"),
                             layers.Dense(100, activation="relu"),
                             layers.Dense(10, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer=cydl.optimizers.SGD(0.01))
    print(f"cydl {cydl.__version__}, threads {cydl.get_num_threads()} "
          f"({'set' if a.threads else 'default, adaptive'}), cpus {os.cpu_count()}, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"RSS at start: {rss_mb():.1f} MB")

    # -------- training: windows of whole epochs; step time = window time / steps
    per_epoch = -(-n // a.batch)
    model.fit(x, y, batch_size=a.batch, epochs=1, verbose=0)       # warm-up
    per_window = max(1, -(-a.steps // (per_epoch * a.windows)))   # at least --steps in all
    rows, done, t_all = [], 0, time.perf_counter()
    for w in range(a.windows):
        subs = []
        for _ in range(per_window):
            t0 = time.perf_counter()
            model.fit(x, y, batch_size=a.batch, epochs=1, verbose=0)
            subs.append((time.perf_counter() - t0) / per_epoch * 1e6)
            done += per_epoch
        rows.append((done, rss_mb(), float(np.median(subs))))
    train_s = time.perf_counter() - t_all
    print(f"\ntrained {done} steps of batch {a.batch} in {train_s:.1f} s")
    dev_t, drift_t = report("training", "us/step", rows)

    # -------- predict: 1-sample model(x), every 10th call model.predict
    x1 = x[:1].copy()
    for _ in range(1000):
        model(x1)
    per_window = a.calls // a.windows
    rows, done, t_all = [], 0, time.perf_counter()
    for w in range(a.windows):
        subs = []
        for s in range(10):
            t0 = time.perf_counter()
            for i in range(per_window // 10):
                if i % 10 == 9:
                    model.predict(x1, verbose=0)
                else:
                    model(x1)
            subs.append((time.perf_counter() - t0) / (per_window // 10) * 1e6)
            done += per_window // 10
        rows.append((done, rss_mb(), float(np.median(subs))))
    pred_s = time.perf_counter() - t_all
    print(f"\n{done} predict calls in {pred_s:.1f} s")
    dev_p, drift_p = report("predict", "us/call", rows)

    for r in model._runners.values():
        if getattr(r, "fused", False):
            for d in r.plan.thread_choice():
                print(f"  adaptive {d['mode']}[{d['rows']} rows]: now {d['threads']} threads, "
                      f"{d['steps']} steps, {d['probes']} probes, {d['switches']} switches")
    print(f"\nsummary: RSS max deviation train {dev_t * 100:.1f}%, predict {dev_p * 100:.1f}%; "
          f"time drift (last/first windows) train {drift_t:.2f}, predict {drift_p:.2f}")


if __name__ == "__main__":
    main()
