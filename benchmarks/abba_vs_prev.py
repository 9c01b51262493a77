"""This tree against a previous checkout, in alternating fresh processes (ABBA).

    python benchmarks/abba_vs_prev.py /work/wt-prev [--pairs 6] [--threads 2|default]
                                      [--batches 32,128]

784-300-100-10 float32, 2 fixed threads (or cydl's default count), SGD and Adam:
median samples/s of 3 epochs of 8,192 samples at each batch size after a warm-up
epoch. Each pair runs
this tree and the previous one back to back, the order alternating, and the table
gives the median of the per-pair ratios: the least noisy way to see a few percent
on this shared VM. The previous checkout is built in place (see bench_engine.py).
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np

W = r'''
import sys, time, json, numpy as np
import cydl
from cydl import layers
if sys.argv[2] != 'default':
    cydl.set_num_threads(int(sys.argv[2]))
rng = np.random.default_rng(0)
x = rng.random((8192, 784), dtype=np.float32); y = rng.integers(0, 10, 8192)
cydl.utils.set_random_seed(0)
m = cydl.Sequential([layers.Input(shape=(784,)), layers.Dense(300, activation="relu"), layers.Dense(100, activation="relu"), layers.Dense(10, activation="softmax")])
m.compile(loss="sparse_categorical_crossentropy", optimizer=sys.argv[1])
out = {}
for b in [int(v) for v in sys.argv[3].split(',')]:
    m.fit(x, y, batch_size=b, epochs=1, verbose=0)
    ts = []
    for _ in range(3):
        t0 = time.perf_counter(); m.fit(x, y, batch_size=b, epochs=1, verbose=0); ts.append(time.perf_counter() - t0)
    out[b] = 8192 / np.median(ts)
print(json.dumps(out))
'''
ap = argparse.ArgumentParser()
ap.add_argument("prev")
ap.add_argument("--pairs", type=int, default=6)
ap.add_argument("--threads", default="2", help="a fixed count, or 'default' (cydl's adaptive default)")
ap.add_argument("--batches", default="32,128")
a = ap.parse_args()
trees = {"this": os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "prev": a.prev}
res = {(t, o): [] for t in trees for o in ("sgd", "adam")}
for r in range(a.pairs):
    for opt in ("sgd", "adam"):
        order = ["this", "prev"] if r % 2 == 0 else ["prev", "this"]
        for t in order:
            env = dict(os.environ, PYTHONPATH=trees[t])
            p = subprocess.run([sys.executable, "-c", W, opt, a.threads, a.batches], env=env, cwd=os.path.dirname(os.path.abspath(__file__)), capture_output=True, text=True)
            res[(t, opt)].append(json.loads(p.stdout))
for opt in ("sgd", "adam"):
    for b in a.batches.split(","):
        cur = [d[b] for d in res[("this", opt)]]
        old = [d[b] for d in res[("prev", opt)]]
        ratios = [x / y for x, y in zip(cur, old)]
        print(f"{opt} b{b}: this {np.median(cur)/1e3:.1f}k prev {np.median(old)/1e3:.1f}k ratio median {np.median(ratios):.3f} [{min(ratios):.2f}-{max(ratios):.2f}]")
