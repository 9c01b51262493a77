"""Data-parallel training over MPI (cydl.distribution): what it costs and how it scales.

    python benchmarks/bench_distribution.py                # full run (a few minutes)
    python benchmarks/bench_distribution.py --quick        # small sizes: proves it runs
    python benchmarks/bench_distribution.py --json out.json --latency-us 5,50

Three parts, every measurement in fresh processes (`--worker NAME JSON`):

1. This machine: the book's MLP (784-300-100-10, float32, random Fashion-MNIST-shaped
   data, SGD) trained by 2 processes x 1 thread (`mpiexec -n 2`) against 1 process x
   2 threads, at batch 128 and 512 (the global batch): samples/s, and the time each
   step spends in the gradient Allreduce (its wall time on process 0, waiting for
   the other process included). Rounds alternate the two.
2. An Allreduce microbenchmark (2 processes, float32, in place, as fit runs it) over
   the flat gradient buffers of the book's models: the MLP (266,610 parameters),
   Wide & Deep (ch. 10) and the deep narrow net (20 x Dense(100) + Dense(10)); plus
   one 8-byte Allreduce, the latency.
3. A scaling model for N machines: a ring Allreduce takes
   2 (N - 1) / N * bytes / bandwidth + 2 (N - 1) * latency, against the compute of
   one step at a per-process batch b, t(b) = a + c b (a line fitted to one process's
   measured step times at several batches, on --compute-threads threads). With no
   overlap of the reduction and the backward pass (cydl reduces after it: see the
   README), the efficiency is t(b) / (t(b) + Allreduce); the table gives, for 2, 8
   and 32 machines on 10 and 100 Gb/s links, the smallest per-process batch that
   keeps it at 90 % or more, for each assumed latency (default 5 and 50 us: a
   tuned RDMA fabric and plain TCP; --latency-us measured uses part 2's).
"""
import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


# ======================================================================= workers
def _model(name):
    import cydl
    from cydl import layers
    cydl.utils.set_random_seed(0)
    if name == "wide_deep":
        wide, deep = layers.Input(shape=[5]), layers.Input(shape=[6])
        h1 = layers.Dense(30, activation="relu")(deep)
        h2 = layers.Dense(30, activation="relu")(h1)
        out = layers.Dense(1)(layers.concatenate([wide, h2]))
        model = cydl.Model([wide, deep], [out, layers.Dense(1)(h2)])
        model.compile(loss="mse", optimizer="sgd")
        return model
    widths = [784, 300, 100, 10] if name == "mlp" else [100] * 21 + [10]
    model = cydl.Sequential([layers.Input(shape=(widths[0],))] +
                            [layers.Dense(w, activation="relu") for w in widths[1:-1]] +
                            [layers.Dense(widths[-1], activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    return model


def _data(name, n, seed=0):
    rng = np.random.default_rng(seed)
    if name == "wide_deep":
        y = rng.standard_normal((n, 1)).astype(np.float32)
        return (rng.standard_normal((n, 5)).astype(np.float32),
                rng.standard_normal((n, 6)).astype(np.float32)), (y, y)
    width = 784 if name == "mlp" else 100
    return rng.random((n, width), dtype=np.float32), rng.integers(0, 10, n)


def worker_train(args):
    """fit throughput of the MLP under the distribution in effect (mpiexec or not)."""
    import cydl
    cydl.set_num_threads(args["threads"])
    dist = cydl.distribution.DataParallel()
    cydl.distribution.set_distribution(dist)
    world = dist._world
    spent = {"seconds": 0.0, "calls": 0}
    reduce = world.allreduce

    def timed(buf):
        t0 = time.perf_counter()
        reduce(buf)
        if buf.size > 1000:            # the gradient, not the logs' sums
            spent["seconds"] += time.perf_counter() - t0
            spent["calls"] += 1
    world.allreduce = timed
    model = _model("mlp")
    x, y = _data("mlp", args["n"])
    model.fit(x, y, batch_size=args["batch"], epochs=1, verbose=0, shuffle=True)   # warm-up
    rates, per_step = [], []
    for _ in range(args["epochs"]):
        spent.update(seconds=0.0, calls=0)
        t0 = time.perf_counter()
        model.fit(x, y, batch_size=args["batch"], epochs=1, verbose=0, shuffle=True)
        rates.append(args["n"] / (time.perf_counter() - t0))
        per_step.append(spent["seconds"] / max(spent["calls"], 1))
    return {"samples_per_s": float(np.median(rates)), "min": min(rates), "max": max(rates),
            "allreduce_us_per_step": 1e6 * float(np.median(per_step)),
            "processes": dist.num_processes}


def worker_allreduce(args):
    """Median seconds of an in-place float32 Allreduce of each size."""
    import cydl
    dist = cydl.distribution.DataParallel()
    world = dist._world
    out = {}
    for size in args["sizes"]:
        buf = np.ones(size, np.float32)
        for _ in range(3):
            world.allreduce(buf)
        times = []
        for _ in range(args["reps"]):
            world.barrier()
            t0 = time.perf_counter()
            world.allreduce(buf)
            times.append(time.perf_counter() - t0)
        out[str(size)] = float(np.median(times))
    return out


def worker_compute(args):
    """Seconds per training step of one process at each batch (no distribution)."""
    import cydl
    cydl.set_num_threads(args["threads"])
    model = _model(args["model"])
    out = {}
    for batch in args["batches"]:
        n = batch * args["steps"]
        x, y = _data(args["model"], n)
        model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
            times.append((time.perf_counter() - t0) / args["steps"])
        out[str(batch)] = float(np.median(times))
    out["params"] = int(model.count_params())
    return out


WORKERS = {"train": worker_train, "allreduce": worker_allreduce, "compute": worker_compute}


# ======================================================================= driver
def _run(name, args, processes=None, threads=None):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([ROOT] + ([env["PYTHONPATH"]]
                                                  if env.get("PYTHONPATH") else []))
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", name, json.dumps(args)]
    if processes:
        cmd = [shutil.which("mpiexec") or "mpiexec", "-n", str(processes)] + cmd
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=HERE, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def ring_seconds(n, nbytes, gbit_per_s, latency_s):
    """A ring Allreduce of nbytes over n machines."""
    return 2 * (n - 1) / n * nbytes / (gbit_per_s * 1e9 / 8) + 2 * (n - 1) * latency_s


def min_batch(fit, t_reduce, efficiency=0.9):
    """The smallest per-process batch b with t(b) / (t(b) + t_reduce) >= efficiency,
    t(b) = a + c b; None when the line does not grow."""
    a, c = fit
    if c <= 0:
        return None
    need = efficiency / (1 - efficiency) * t_reduce
    return max(1, math.ceil((need - a) / c))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--worker", nargs=2, metavar=("NAME", "JSON"))
    p.add_argument("--quick", action="store_true")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--compute-threads", type=int, default=1)
    p.add_argument("--latency-us", default="5,50")
    p.add_argument("--json")
    a = p.parse_args()
    if a.worker:
        result = WORKERS[a.worker[0]](json.loads(a.worker[1]))
        if int(os.environ.get("PMI_RANK", os.environ.get("OMPI_COMM_WORLD_RANK", "0"))) == 0:
            print(json.dumps(result))
        return
    quick = a.quick
    rounds = 1 if quick else a.rounds
    report = {"train": {}, "allreduce": {}, "compute": {}, "scaling": []}

    print("## 1. This machine: 784-300-100-10, float32, SGD\n")
    print("| batch | 1 process x 2 threads | 2 processes x 1 thread | Allreduce per step |")
    print("|---|---|---|---|")
    n = 4096 if quick else 32768
    for batch in (128, 512):
        rows = {"one": [], "two": [], "ar": []}
        for _ in range(rounds):
            one = _run("train", {"n": n, "batch": batch, "threads": 2, "epochs": 1 if quick
                                 else 3})
            two = _run("train", {"n": n, "batch": batch, "threads": 1, "epochs": 1 if quick
                                 else 3}, processes=2)
            rows["one"].append(one["samples_per_s"])
            rows["two"].append(two["samples_per_s"])
            rows["ar"].append(two["allreduce_us_per_step"])
        med = {k: float(np.median(v)) for k, v in rows.items()}
        report["train"][batch] = med
        print(f"| {batch} | {med['one']:,.0f} samples/s | {med['two']:,.0f} samples/s "
              f"({med['two'] / med['one']:.2f}x) | {med['ar']:.0f} us |")

    print("\n## 2. Allreduce of the flat gradient buffer (2 processes, float32, in place)\n")
    models = ("mlp",) if quick else ("mlp", "wide_deep", "deep")
    batches = [32, 128] if quick else [16, 32, 64, 128, 256, 512]
    for m in models:
        report["compute"][m] = _run("compute", {"model": m, "batches": batches,
                                                "steps": 4 if quick else 40,
                                                "threads": a.compute_threads},
                                    threads=a.compute_threads)
    sizes = [1] + [report["compute"][m]["params"] for m in models]
    times = _run("allreduce", {"sizes": sizes, "reps": 20 if quick else 500}, processes=2)
    report["allreduce"] = times
    print("| buffer | bytes | median |")
    print("|---|---|---|")
    for label, size in zip(["latency (1 value)"] + list(models), sizes):
        print(f"| {label} | {4 * size:,} | {1e6 * times[str(size)]:.1f} us |")

    print(f"\n## 3. Scaling model: the smallest per-process batch for >= 90 % efficiency "
          f"(compute on {a.compute_threads} thread(s) per process)\n")
    latencies = [("measured", times["1"])] if a.latency_us == "measured" else \
        [(f"{v} us", float(v) * 1e-6) for v in a.latency_us.split(",")]
    print("| model | latency | link | 2 machines | 8 machines | 32 machines |")
    print("|---|---|---|---|---|---|")
    for m in models:
        c = report["compute"][m]
        bs = np.array(batches, float)
        ts = np.array([c[str(b)] for b in batches])
        slope, intercept = np.polyfit(bs, ts, 1)
        nbytes = 4 * c["params"]
        for lname, lat in latencies:
            for gbit in (10, 100):
                cells = []
                for machines in (2, 8, 32):
                    t = ring_seconds(machines, nbytes, gbit, lat)
                    b = min_batch((intercept, slope), t)
                    report["scaling"].append({"model": m, "latency_s": lat, "gbit": gbit,
                                              "machines": machines, "allreduce_s": t,
                                              "per_process_batch": b})
                    cells.append("-" if b is None else f"{b:,} ({1e6 * t:.0f} us)")
                print(f"| {m} | {lname} | {gbit} Gb/s | " + " | ".join(cells) + " |")
    print("\n(each cell: per-process batch (Allreduce time per step); compute per step "
          "t(b) = a + c b fitted to the measured steps)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
