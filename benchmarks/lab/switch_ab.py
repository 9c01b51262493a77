"""Training with one of the kernels' switches on against off, in one process,
interleaved:

* `tiles`: float GEMMs cut into pieces for OpenBLAS's small-matrix kernels, against
  whole GEMMs (cydl/_kernels/_blas.pyx);
* `row_copy`: small batches' row-major copies of hidden outputs for the weight
  gradient, against A^T B on the column-major outputs (row_copy, _parts.pxd);
* `row_split`: packed GEMMs of large batches split by rows where every thread then
  packs less, against units always (fwd_rows and dw_rows, _parts.pxd);
* `fold_hidden`: plain SGD's update folded into the weight-gradient GEMM of every
  Dense layer that can (folds_hidden, _parts.pxd), against the lowest one's only;
* `parts`: every phase cut into twice as many parts as threads (the threads take
  them in turn), against one part per thread: what finer parts cost on a quiet
  machine, the price of letting a faster core take more of them.

    python benchmarks/lab/switch_ab.py [--switch tiles] [--net mlp] [--batch 32]
                                       [--opt sgd] [--rounds 6] [--steps 0]

Each round runs one `fit` epoch of the benchmark network each way (order alternating
between rounds, a warm-up epoch before each), with the plan's phase profiler on.
Prints samples/s, the median of the per-round ratios [min-max] and each phase's
median microseconds per step. One process, so the VM's fast and slow states fall
on both sides alike.

With `--steps K`, a round is instead one `fit` of K steps each way (a random slice of
the data, no warm-up, no profiler), so that hundreds of rounds fit in a minute and
the two sides of a round share the VM's state more closely; it then also prints the
10th percentiles of the times per step, the least disturbed rounds.
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
    ap.add_argument("--switch", default="tiles", choices=["tiles", "row_copy", "row_split", "fold_hidden", "parts"])
    ap.add_argument("--net", default="mlp", choices=sorted(NETS))
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--opt", default="sgd", choices=["sgd", "adam"])
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=0, help="short rounds of this many steps")
    a = ap.parse_args()
    import cydl
    from cydl import layers
    from cydl._kernels import _blas, _parts
    switch = {"tiles": _blas.set_small_tiles, "row_copy": _parts.set_row_copy,
              "row_split": _parts.set_row_splits, "fold_hidden": _parts.set_fold_hidden,
              "parts": _finer_parts(cydl, a.threads)}[a.switch]
    cydl.set_num_threads(a.threads)
    sizes = NETS[a.net]
    x, y = data(a.net)
    cydl.utils.set_random_seed(0)
    model = cydl.Sequential([layers.Input((sizes[0],))] +
                            [layers.Dense(s, activation="relu") for s in sizes[1:-1]] +
                            [layers.Dense(sizes[-1], activation="softmax")])
    model.compile(a.opt, "sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=a.batch, epochs=1, verbose=0)
    if a.steps:
        return short_rounds(a, model, x, y, switch)
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


def _finer_parts(cydl, threads):
    """A switch: on, 2 x threads parts run on `threads` threads (the count the kernels
    cut the work for is set_num_threads'; force_threads caps the threads that run)."""
    from cydl._kernels import _adapt
    state = [False]

    def switch(on):
        old, state[0] = state[0], on
        cydl.set_num_threads(2 * threads if on else threads)
        _adapt.force_threads(threads if on else 0)
        return old
    return switch


def short_rounds(a, model, x, y, switch):
    n = a.batch * a.steps
    rng = np.random.default_rng(0)
    per_step = {True: [], False: []}
    old = switch(True)
    for r in range(a.rounds):
        start = int(rng.integers(0, len(x) - n + 1))
        xs, ys = x[start:start + n], y[start:start + n]
        for on in ((True, False) if r % 2 == 0 else (False, True)):
            switch(on)
            t = time.perf_counter()
            model.fit(xs, ys, batch_size=a.batch, epochs=1, verbose=0)
            per_step[on].append((time.perf_counter() - t) / a.steps * 1e6)
    switch(old)
    on, off = np.array(per_step[True]), np.array(per_step[False])
    ratios = off / on
    q = np.percentile(ratios, [25, 50, 75])
    p_on, p_off = np.percentile(on, 10), np.percentile(off, 10)
    print(f"{a.net} b{a.batch} {a.opt}, {a.threads} threads, {a.rounds} rounds of {a.steps} "
          f"steps: {a.switch} on {np.median(on):.0f} us/step, off {np.median(off):.0f}; "
          f"speed on / off {q[1]:.3f}x [quartiles {q[0]:.3f}-{q[2]:.3f}]; 10th percentiles "
          f"{p_on:.0f} and {p_off:.0f} us/step ({p_off / p_on:.3f}x)")


if __name__ == "__main__":
    main()
