"""Where a fused training step's time goes, phase by phase, against the GEMM peak.

    python benchmarks/lab/phases.py [--batches 32,128,512] [--opts sgd,adam]
                                    [--threads 2] [--steps 400] [--net mlp]

Runs `model.fit` on the benchmark network with the plan's phase profiler on
(`Plan.set_profiling`: thread 0's clock, barrier to barrier, so a phase's time is
its slowest thread's) and prints, per phase, microseconds per step, its share of
the step, and for the GEMM phases the GFLOP/s they reach against the same
process's SGEMM 2048^3 rate at the same thread count. What is not a GEMM (the
gather, the narrow output layer, softmax and loss) is what a large batch loses to
the peak besides the GEMMs' own efficiency. The last columns are each thread's wait
at the barrier that ends the phase (`Plan.profile_waits`): the phase's time less a
thread's wait is that thread's work, so a thread that always waits shows a split
that gives it less (on the 2-core Zen 3 VM, the deep net's hidden layers at b32:
thread 0 waited 0.8 us of a 7.4 us forward and 2 of a 16 us backward, its 48 of
100 units against thread 1's 52).
"""
import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)
sys.path.insert(0, BENCH)
sys.path.insert(0, os.path.dirname(BENCH))

from _workload import NETS, data  # noqa: E402


def sgemm_rate(threads, n=2048, reps=5):
    """GFLOP/s of scipy's SGEMM (the OpenBLAS cydl calls) at `threads`."""
    from scipy.linalg.blas import sgemm
    from threadpoolctl import threadpool_limits
    a = np.asfortranarray(np.random.default_rng(0).random((n, n), dtype=np.float32))
    with threadpool_limits(threads, user_api="blas"):
        sgemm(1.0, a, a)
        best = min(_timed(lambda: sgemm(1.0, a, a)) for _ in range(reps))
    return 2 * n ** 3 / best / 1e9


def _timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def gemm_flops(sizes, batch):
    """FLOP of each GEMM phase: forward i (X W), backward i (dW, and dX above layer 0)."""
    out = {}
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        out[f"forward {i}"] = 2 * batch * a * b
        out[f"backward {i}"] = 2 * batch * a * b * (1 if i == 0 else 2)
    return out


def profile(net, batch, opt, threads, steps):
    import cydl
    sizes = NETS[net]
    x, y = data(net, batch * steps)
    cydl.set_num_threads(threads)
    model = cydl.Sequential([cydl.layers.Input((sizes[0],))] +
                            [cydl.layers.Dense(u, activation="relu") for u in sizes[1:-1]] +
                            [cydl.layers.Dense(sizes[-1], activation="softmax")])
    model.compile(opt, "sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0)        # compile, warm up
    plan = model._runners["train"].plan
    plan.set_profiling(True)
    t = _timed(lambda: model.fit(x, y, batch_size=batch, epochs=1, verbose=0))
    phases = {k: v * 1e3 for k, v in plan.profile().items()}     # us per step
    waits = {k: [w * 1e3 for w in v] for k, v in plan.profile_waits().items()}
    plan.set_profiling(False)
    return phases, waits, t / steps * 1e6


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batches", default="32,128,512")
    ap.add_argument("--opts", default="sgd,adam")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--net", default="mlp", choices=sorted(NETS))
    args = ap.parse_args()
    peak = sgemm_rate(args.threads)
    print(f"SGEMM 2048^3 at {args.threads} thread(s): {peak:.1f} GFLOP/s; net {args.net} "
          f"{NETS[args.net]}; us per step (thread 0, barrier to barrier)")
    for batch in (int(b) for b in args.batches.split(",")):
        flops = gemm_flops(NETS[args.net], batch)
        for opt in args.opts.split(","):
            phases, waits, step = profile(args.net, batch, opt, args.threads, args.steps)
            total = sum(phases.values())
            gemm_us = sum(v for k, v in phases.items() if k in flops)
            gf = sum(flops.values()) / total / 1e3
            print(f"\nbatch {batch}, {opt}: {step:.0f} us per step in fit, phases "
                  f"{total:.0f} us; GEMM FLOP over the phases' time {gf:.1f} GFLOP/s "
                  f"({gf / peak:.0%} of SGEMM); GEMM phases {gemm_us / total:.0%} of it")
            n_t = max((len(w) for w in waits.values()), default=0)
            print(f"  {'phase':12s} {'us':>9s} {'share':>6s}  {'GEMM rate':>22s}  "
                  f"waits at its barrier, us: " + " ".join(f"t{t}" for t in range(n_t)))
            for k, v in phases.items():
                rate = f"{flops[k] / v / 1e3:7.1f} GFLOP/s {flops[k] / v / 1e3 / peak:4.0%}" \
                    if k in flops else ""
                wait = " ".join(f"{w:5.1f}" for w in waits.get(k, []))
                print(f"  {k:12s} {v:9.1f} {v / total:6.1%}  {rate:>22s}  {wait}")
            if n_t > 1:
                sums = [sum(w[t] for w in waits.values()) for t in range(n_t)]
                print(f"  waits per step: " + ", ".join(f"t{t} {w:.0f} us" for t, w in
                                                        enumerate(sums)))


if __name__ == "__main__":
    main()
