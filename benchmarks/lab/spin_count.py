"""GNU OpenMP's spin count against training speed, quiet and under load.

    python benchmarks/lab/spin_count.py [--spins runtime,1000,3000,10000] [--reps 6]
                                    [--threads 2] [--load 0]

Each configuration runs in a fresh process (GOMP_SPINCOUNT is read once, when the
runtime loads), in ABBA order over `--reps` repetitions: 784-300-100-10 float32
SGD, `--threads` fixed threads, median samples/s of 3 epochs of 8,192 samples at
batch 32 and at 128 after a warm-up epoch, and the mean 1-sample model(x) latency
over 2,000 calls. "runtime" is libgomp's own default (300,000 spins); cydl sets
1000 unless the environment has GOMP_SPINCOUNT or OMP_WAIT_POLICY. `--load N` runs
N busy processes (`while True: pass`) meanwhile.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)         # benchmarks/: _harness
ROOT = os.path.dirname(BENCH)
N = 8192


def worker(threads):
    sys.path.insert(0, ROOT)
    import cydl
    from cydl import _kernels, layers
    cydl.set_num_threads(threads)
    rng = np.random.default_rng(0)
    x = rng.random((N, 784), dtype=np.float32)
    y = rng.integers(0, 10, N)
    cydl.utils.set_random_seed(0)
    m = cydl.Sequential([layers.Input(shape=(784,)), layers.Dense(300, activation="relu"),
                         layers.Dense(100, activation="relu"),
                         layers.Dense(10, activation="softmax")])
    m.compile(loss="sparse_categorical_crossentropy", optimizer=cydl.optimizers.SGD(0.01))
    res = {"spin": _kernels.SPIN[0]}
    for b in (32, 128):
        m.fit(x, y, batch_size=b, epochs=1, verbose=0)
        ts = []
        for _ in range(3):
            t0 = time.perf_counter()
            m.fit(x, y, batch_size=b, epochs=1, verbose=0)
            ts.append(time.perf_counter() - t0)
        res[f"b{b}"] = N / float(np.median(ts))
    x1 = x[:1].copy()
    for _ in range(100):
        m(x1)
    t0 = time.perf_counter()
    for _ in range(2000):
        m(x1)
    res["lat_us"] = (time.perf_counter() - t0) / 2000 * 1e6
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker", type=int)
    ap.add_argument("--spins", default="runtime,1000,3000,10000")
    ap.add_argument("--reps", type=int, default=6)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--load", type=int, default=0)
    a = ap.parse_args()
    if a.worker:
        print(json.dumps(worker(a.worker)))
        return
    sys.path.insert(0, BENCH)
    from _harness import machine
    print("machine:", json.dumps(machine()))
    print(f"threads={a.threads} reps={a.reps} load={a.load}", flush=True)
    spins = a.spins.split(",")
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
            for _ in range(a.load)]
    res = {s: [] for s in spins}
    try:
        time.sleep(0.5)
        for r in range(a.reps):
            for s in (spins if r % 2 == 0 else spins[::-1]):
                env = {k: v for k, v in os.environ.items()
                       if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
                if s == "runtime":
                    env["GOMP_SPINCOUNT"] = "300000"     # libgomp's own default
                else:
                    env["GOMP_SPINCOUNT"] = s
                p = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker",
                                    str(a.threads)], env=env, capture_output=True, text=True,
                                   cwd=HERE, timeout=600)
                res[s].append(json.loads(p.stdout.strip().splitlines()[-1]))
    finally:
        for h in hogs:
            h.kill()
    print()
    print("| GOMP_SPINCOUNT | batch 32, samples/s | batch 128, samples/s | 1-sample model(x), us |")
    print("|---|---|---|---|")
    for s in spins:
        cells = []
        for key in ("b32", "b128", "lat_us"):
            v = [d[key] for d in res[s]]
            f = (lambda z: f"{z / 1e3:.1f}k") if key != "lat_us" else (lambda z: f"{z:.1f}")
            cells.append(f"{f(np.median(v))} [{f(min(v))}-{f(max(v))}]")
        print(f"| {s} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
