"""Phase profile of the book's ch. 11 BatchNormalization model (784 inputs, BN, Dense
300 relu, BN, Dense 100 relu, BN, Dense 10 softmax; SGD) on random data.

    PYTHONPATH=. python benchmarks/lab/bn_phases.py BATCH [THREADS]

Prints microseconds per step in each phase (f0 is the input's BatchNormalization),
three epochs. Showed: summing the input BN's 784 strided columns 16 side by side
took its forward phase from 29-35 us to 16-19 us at batch 32 (whole step 0.91-0.94x
the time, fresh processes alternating with the previous commit); the hidden BN's
statistics so, 20 -> 13 us (43 -> 31 at batch 128).
"""
import sys
import time

import numpy as np

import cydl
from cydl import layers


def book_bn_model():
    cydl.utils.set_random_seed(0)
    model = cydl.Sequential([
        layers.Input((784,)), layers.BatchNormalization(),
        layers.Dense(300, activation="relu"), layers.BatchNormalization(),
        layers.Dense(100, activation="relu"), layers.BatchNormalization(),
        layers.Dense(10, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy")
    return model


def main():
    batch = int(sys.argv[1]) if len(sys.argv) > 1 else 32
    cydl.set_num_threads(int(sys.argv[2]) if len(sys.argv) > 2 else 2)
    rng = np.random.default_rng(0)
    x, y = rng.random((32768, 784), dtype=np.float32), rng.integers(0, 10, 32768)
    model = book_bn_model()
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
    plan = model._runners["train"].plan
    for _ in range(3):
        plan.set_profiling(True)
        t = time.perf_counter()
        model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
        dt = time.perf_counter() - t
        prof = plan.profile()
        plan.set_profiling(False)
        print(f"batch {batch}: {dt / (len(x) // batch) * 1e6:.0f} us/step | " +
              " ".join(f"{k.replace('backward ', 'b').replace('forward ', 'f')}={v * 1e3:.0f}"
                       for k, v in prof.items()))


if __name__ == "__main__":
    main()
