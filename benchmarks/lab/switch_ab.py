"""Training with one of the kernels' switches on against off, in one process,
interleaved:

* `tiles`: float GEMMs cut into pieces for OpenBLAS's small-matrix kernels, against
  whole GEMMs (cydl/_kernels/_blas.pyx);
* `row_copy`: small batches' row-major copies of hidden outputs for the weight
  gradient, against A^T B on the column-major outputs (row_copy, _parts.pxd).

    python benchmarks/lab/switch_ab.py [--switch tiles] [--net mlp] [--batch 32]
                                       [--opt sgd] [--rounds 6]

Each round runs one `fit` epoch of the benchmark network each way (order alternating
between rounds, a warm-up epoch before each), with the plan's phase profiler on.
Prints samples/s, the median of the per-round ratios [min-max] and each phase's
median microseconds per step. One process, so the VM's fast and slow states fall
on both sides alike.
"""
import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))

from _workload import N_SAMPLES, NETS, data  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--switch", default="tiles", choices=["tiles", "row_copy"])
    ap.add_argument("--net", default="mlp", choices=sorted(NETS))
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--opt", default="sgd", choices=["sgd", "adam"])
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    import cydl
    from cydl import layers
    from cydl._kernels import _blas, _parts
    switch = _blas.set_small_tiles if a.switch == "tiles" else _parts.set_row_copy
    cydl.set_num_threads(a.threads)
    sizes = NETS[a.net]
    x, y = data(a.net)
    cydl.utils.set_random_seed(0)
    model = cydl.Sequential([layers.Input((sizes[0],))] +
                            [layers.Dense(s, activation="relu") for s in sizes[1:-1]] +
                            [layers.Dense(sizes[-1], activation="softmax")])
    model.compile(a.opt, "sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=a.batch, epochs=1, verbose=0)
    plan = model._runners["train"].plan
    rate, phases = {True: [], False: []}, {True: [], False: []}
    old = switch(True)
    for r in range(a.rounds):
        for on in ((True, False) if r % 2 == 0 else (False, True)):
            switch(on)
            model.fit(x, y, batch_size=a.batch, epochs=1, verbose=0)
            plan.set_profiling(True)
            t = time.perf_counter()
            model.fit(x, y, batch_size=a.batch, epochs=1, verbose=0)
            rate[on].append(N_SAMPLES / (time.perf_counter() - t))
            phases[on].append(plan.profile())
            plan.set_profiling(False)
    switch(old)
    ratios = [p / w for p, w in zip(rate[True], rate[False])]
    print(f"{a.net} b{a.batch} {a.opt}, {a.threads} threads, {a.rounds} rounds: {a.switch} on "
          f"{np.median(rate[True]) / 1e3:.1f}k samples/s, off {np.median(rate[False]) / 1e3:.1f}k;"
          f" on / off {np.median(ratios):.3f}x [{min(ratios):.3f}-{max(ratios):.3f}]")
    for on in (True, False):
        med = {k: np.median([p[k] for p in phases[on]]) * 1e3 for k in phases[on][0]}
        print(f"  {'on ' if on else 'off'} us/step: " +
              " ".join(f"{k.replace('backward ', 'b').replace('forward ', 'f')}={v:.0f}"
                       for k, v in med.items()))


if __name__ == "__main__":
    main()
