"""Thread-count modes compared step by step, interleaved in blocks of 20 steps.

    python benchmarks/lab/step_ab.py [--path general|fused] [--batch 32] [--load 0]
                                 [--modes fixed1,forced1] [--blocks 150]

784-300-100-10 float32 SGD training steps through the model's own runner (the
fused plan, or the graph runner with run_eagerly=True). The modes alternate every
20 steps, in an order that reverses each block, so a slow minute of this shared VM
falls on all of them alike: epoch-sized windows moved by 20 % between two runs of
the same comparison, blocks of 20 steps by 1-2 %. Modes:

* fixed1 / fixed2: `cydl.set_num_threads(n)`: n parts of work on n threads.
* default: cydl's default count (2 here), the adaptive choice included.
* forced1 / forced2: the default count's 2 parts on 1 / 2 threads, no choice
  (`_adapt.force_threads`): what the adaptive choice runs when it picks 1 thread.
  forced1 against fixed1 is what keeping results independent of the choice costs.

`--load N` starts N CPU-bound processes first (the contention benchmark's
neighbours). Prints microseconds per step: median, 10th percentile, mean.
"""
import argparse
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)         # benchmarks/: _harness
sys.path.insert(0, os.path.dirname(BENCH))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--path", choices=("general", "fused"), default="general")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--load", type=int, default=0)
    ap.add_argument("--modes", default="fixed1,forced1")
    ap.add_argument("--blocks", type=int, default=150)
    a = ap.parse_args()

    import cydl
    from cydl import layers
    from cydl._kernels import _adapt
    sys.path.insert(0, BENCH)
    from _harness import machine

    n, b = 4096, a.batch
    rng = np.random.default_rng(0)
    x, y = rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n)
    cydl.utils.set_random_seed(0)
    model = cydl.Sequential([layers.Input(shape=(784,)), layers.Dense(300, activation="relu"),
                             layers.Dense(100, activation="relu"),
                             layers.Dense(10, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer=cydl.optimizers.SGD(0.01),
                  run_eagerly=a.path == "general")
    model.fit(x, y, batch_size=b, epochs=1, verbose=0)       # builds and binds the runner
    modes = a.modes.split(",")
    times = {m: [] for m in modes}
    print("machine:", machine())
    print(f"path={a.path} batch={b} load={a.load} modes={modes} blocks={a.blocks}x20 steps")
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
            for _ in range(a.load)]
    time.sleep(0.5)
    step = 0
    try:
        for blk in range(a.blocks):
            for mode in (modes if blk % 2 == 0 else modes[::-1]):
                cydl.set_num_threads(int(mode[-1]) if mode.startswith("fixed") else None)
                _adapt.force_threads(int(mode[-1]) if mode.startswith("forced") else 0)
                runner = model._runner(train=True)     # resolves the thread count
                for _ in range(20):
                    s = (step * b) % (n - b)
                    step += 1
                    t0 = time.perf_counter()
                    runner.train(s, s + b)
                    times[mode].append(time.perf_counter() - t0)
    finally:
        _adapt.force_threads(0)
        cydl.set_num_threads(None)
        for h in hogs:
            h.kill()
            h.wait()
    base = None
    for mode in modes:
        us = np.array(times[mode][40:]) * 1e6          # the first two blocks warm up
        med = float(np.median(us))
        base = base or med
        print(f"{mode:>8}: median {med:7.1f} us  p10 {np.percentile(us, 10):7.1f}  "
              f"mean {us.mean():7.1f}  median / {modes[0]}'s: {med / base:.3f}")


if __name__ == "__main__":
    main()
