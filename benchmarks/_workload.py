"""What every training worker runs on: the networks, their data, and the timing."""
import time

import numpy as np

# layer widths, input first: the book's MLP and the deep narrow net of issue 2
NETS = {"mlp": [784, 300, 100, 10], "deep": [784] + [100] * 20 + [10]}
N_SAMPLES = 32768          # one epoch; a multiple of every batch size measured


def data(net, n=N_SAMPLES, seed=0):
    """Random float32 inputs and integer labels of the network's shape."""
    rng = np.random.default_rng(seed)
    sizes = NETS[net]
    x = rng.random((n, sizes[0]), dtype=np.float32)
    y = rng.integers(0, sizes[-1], n)
    return x, y


def windows(fn, count):
    """Run fn() (one window of work) once to warm up, then `count` times; seconds
    per window: median, min, max."""
    fn()
    times = []
    for _ in range(count):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return {"median": float(np.median(times)), "min": min(times), "max": max(times)}


def per_step(t, batch, n=N_SAMPLES):
    """Milliseconds per training step from the seconds per epoch of `windows`."""
    steps = -(-n // batch)
    return {"step_ms": t["median"] / steps * 1e3, "step_ms_min": t["min"] / steps * 1e3,
            "step_ms_max": t["max"] / steps * 1e3}
