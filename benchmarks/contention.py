"""Training and 1-sample latency with CPU-bound neighbours: 0, 1 and 2 busy processes.

    python benchmarks/contention.py [--rounds 3] [--windows 5] [--no-torch]

For each round and each load (quiet, 1 busy process, 2 busy processes: plain
`python -c "while True: pass"`, not pinned), cydl at its default thread count
(adaptive), cydl fixed at 1 and at 2 threads run in one process, interleaved epoch
by epoch in rotating order, so that the three see the same load at nearly the same
moments (`--fresh-processes`: each in its own process, as stop 8 measured); PyTorch
eager at 1 and 2 threads runs in its own processes when torch is installed. Each
measures, in order: 784-300-100-10 float32 SGD training at batch 32 and
128 (epochs of 8,192 samples through model.fit / the eager loop; median of
`--windows` epochs after a warm-up epoch), the same at batch 32 with an l2(1e-4)
penalty on every kernel (the book's l2 model: fused in cydl, weight decay 2e-4 in
PyTorch) and on cydl's general path (run_eagerly=True: the graph runner, which a
custom layer needs; PyTorch's column repeats its plain batch-32 number), then
1-sample inference latency (model(x); median over windows of 1,000 calls of the
mean per call).

Within a round, the configurations of one load run back to back, so their ratios
compare like with like. The table gives medians over rounds and [min-max].
Targets checked: default >= 0.9x the best fixed cydl thread count under load;
default within 3% of 2 threads when quiet; default 1-sample latency under load
<= 3x the quiet one.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
N = 8192
SIZES = [784, 300, 100, 10]
BATCHES = [32, 128]


# ------------------------------------------------------------------ worker side
def _data():
    rng = np.random.default_rng(0)
    return rng.random((N, SIZES[0]), dtype=np.float32), rng.integers(0, SIZES[-1], N)


def _windows(fn, windows, budget=20.0):
    """Median seconds of fn() over `windows` calls after a warm-up call; stops early
    (after at least one) once `budget` seconds are spent: 2 threads under load can
    be 30x slower."""
    t_start = time.perf_counter()
    fn()                                   # warm-up
    out = []
    for _ in range(windows):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
        if t0 - t_start > budget:
            break
    return float(np.median(out))


def _latency(call, windows, reps=1000):
    call()
    per = []
    for _ in range(max(windows, 5)):
        t0 = time.perf_counter()
        for _ in range(reps):
            call()
        per.append((time.perf_counter() - t0) / reps)
    return float(np.median(per)) * 1e6


def _mlp(cydl, eager=False, **kw):
    """784-300-100-10, SGD(0.01), seed 0; kw go to every Dense (e.g. a regularizer)."""
    from cydl import layers
    cydl.utils.set_random_seed(0)
    m = cydl.Sequential([layers.Input(shape=(SIZES[0],))] +
                        [layers.Dense(s, activation="relu", **kw) for s in SIZES[1:-1]] +
                        [layers.Dense(SIZES[-1], activation="softmax", **kw)])
    m.compile(loss="sparse_categorical_crossentropy", optimizer=cydl.optimizers.SGD(0.01),
              run_eagerly=eager)
    return m


def worker_cydl(threads, windows):
    sys.path.insert(0, ROOT)
    import cydl
    if threads:
        cydl.set_num_threads(threads)
    x, y = _data()
    model = _mlp(cydl)
    res = {"threads": cydl.get_num_threads()}
    for b in BATCHES:
        t = _windows(lambda: model.fit(x, y, batch_size=b, epochs=1, verbose=0), windows)
        res[f"b{b}"] = N / t
    # the book's l2 model (fused: the update applies the penalty), and the plain MLP on
    # the general path (the graph runner, which a custom layer needs)
    extra = []
    for key, kw, eager in (("l2_b32", {"kernel_regularizer": cydl.regularizers.l2(1e-4)},
                            False), ("general_b32", {}, True)):
        m = _mlp(cydl, eager, **kw)
        t = _windows(lambda: m.fit(x, y, batch_size=32, epochs=1, verbose=0), windows)
        res[key] = N / t
        extra.append(m)
    x1 = x[:1].copy()
    res["lat_us"] = _latency(lambda: model(x1), windows)
    res["choice"] = [f"{d['mode']}[{d['rows']}]: {d['threads']}T, {d['probes']} probes, "
                     f"{d['switches']} switches, {d['seconds_on_1']:.2f}s on 1T / "
                     f"{d['seconds_on_max']:.2f}s on {d['max_threads']}T"
                     for m in [model] + extra for r in m._runners.values()
                     for d in r.thread_choice()]
    return res


def worker_cydl_interleaved(windows):
    """cydl's default, 1 and 2 threads in one process, epoch by epoch in rotating
    order: the three see the same load at nearly the same moments. (The default's
    choosers keep their state across the fixed-count epochs, which never consult
    them.)"""
    sys.path.insert(0, ROOT)
    import cydl
    x, y = _data()
    counts = [None, 1, 2]

    plain = _mlp(cydl)
    runs = [(f"b{b}", plain, b) for b in BATCHES] + [
        ("l2_b32", _mlp(cydl, kernel_regularizer=cydl.regularizers.l2(1e-4)), 32),
        ("general_b32", _mlp(cydl, eager=True), 32)]
    res = {th: {"threads": th or cydl.get_num_threads()} for th in counts}
    for key, model, b in runs:
        times = {th: [] for th in counts}
        for w in range(windows + 1):              # round 0 warms every count up
            for th in counts[w % 3:] + counts[:w % 3]:
                with cydl.num_threads(th):
                    t0 = time.perf_counter()
                    model.fit(x, y, batch_size=b, epochs=1, verbose=0)
                    if w:
                        times[th].append(time.perf_counter() - t0)
        for th in counts:
            res[th][key] = N / float(np.median(times[th]))
    x1 = x[:1].copy()
    lat = {th: [] for th in counts}
    for w in range(max(windows, 5) + 1):
        for th in counts[w % 3:] + counts[:w % 3]:
            with cydl.num_threads(th):
                plain(x1)
                t0 = time.perf_counter()
                for _ in range(1000):
                    plain(x1)
                if w:
                    lat[th].append((time.perf_counter() - t0) / 1000)
    for th in counts:
        res[th]["lat_us"] = float(np.median(lat[th])) * 1e6
    res[None]["choice"] = [
        f"{d['mode']}[{d['rows']}]: {d['threads']}T, {d['probes']} probes, "
        f"{d['switches']} switches, {d['seconds_on_1']:.2f}s on 1T / "
        f"{d['seconds_on_max']:.2f}s on {d['max_threads']}T"
        for m in [plain] + [m for key, m, _ in runs if key in ("l2_b32", "general_b32")]
        for r in m._runners.values()
        for d in r.thread_choice()]
    return {str(th): v for th, v in res.items()}


def worker_torch(threads, windows):
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    mods = []
    for a, b in zip(SIZES[:-2], SIZES[1:-1]):
        mods += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    mods.append(torch.nn.Linear(SIZES[-2], SIZES[-1]))
    model = torch.nn.Sequential(*mods)
    x, y = _data()
    X, Y = torch.from_numpy(x), torch.from_numpy(y)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = torch.nn.CrossEntropyLoss()
    res = {"threads": threads}
    # l2_b32: the same penalty as cydl's l2(1e-4) on the kernels, as weight decay 2e-4
    weights = [m.weight for m in model if hasattr(m, "weight")]
    decay = torch.optim.SGD([{"params": weights, "weight_decay": 2e-4},
                             {"params": [m.bias for m in model if hasattr(m, "bias")]}], lr=0.01)
    runs = [(b, f"b{b}", opt, None) for b in BATCHES] + [(32, "l2_b32", decay, None)]
    for bs, key, opt_k, after in runs:
        def epoch():
            perm = torch.randperm(N)
            for s in range(0, N, bs):
                idx = perm[s:s + bs]
                loss = loss_fn(model(X[idx]), Y[idx])
                opt_k.zero_grad(set_to_none=True)
                loss.backward()
                opt_k.step()
                if after is not None:
                    after()
        res[key] = N / _windows(epoch, windows)
    res["general_b32"] = res["b32"]        # PyTorch eager has one path
    pred = torch.nn.Sequential(model, torch.nn.Softmax(dim=-1))
    x1 = X[:1].clone()

    def call():
        with torch.no_grad():
            pred(x1)
    res["lat_us"] = _latency(call, windows)
    return res


# ------------------------------------------------------------------ driver side
def run_worker(kind, threads, windows):
    env = dict(os.environ)
    env.pop("OMP_NUM_THREADS", None)       # the default must be cydl's own choice
    cmd = [sys.executable, os.path.abspath(__file__), "--worker",
           json.dumps({"kind": kind, "threads": threads, "windows": windows})]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=HERE, timeout=600)
    if p.returncode != 0:
        return {"error": (p.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def start_hogs(n):
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def stop_hogs(hogs):
    for h in hogs:
        h.kill()
        h.wait()


def have_torch():
    return subprocess.run([sys.executable, "-c", "import torch"],
                          capture_output=True).returncode == 0


def med(xs):
    xs = [x for x in xs if x is not None]
    return (float(np.median(xs)), min(xs), max(xs)) if xs else (float("nan"),) * 3


def fmt(m, unit=""):
    v, lo, hi = m
    if v != v:
        return "-"
    if unit == "k":
        return f"{v / 1e3:.1f}k [{lo / 1e3:.1f}-{hi / 1e3:.1f}]"
    if unit == "x":
        return f"{v:.2f} [{lo:.2f}-{hi:.2f}]"
    return f"{v:.1f} [{lo:.1f}-{hi:.1f}]"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--windows", type=int, default=5)
    ap.add_argument("--loads", default="0,1,2")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--fresh-processes", action="store_true",
                    help="each cydl configuration in its own process (default: the three "
                         "cydl configurations interleaved epoch by epoch in one process)")
    a = ap.parse_args()
    if a.worker:
        w = json.loads(a.worker)
        if w["kind"] == "cydl-interleaved":
            print(json.dumps(worker_cydl_interleaved(w["windows"])))
            return
        fn = worker_cydl if w["kind"] == "cydl" else worker_torch
        print(json.dumps(fn(w["threads"], w["windows"])))
        return

    sys.path.insert(0, HERE)
    from _harness import machine
    info = machine()
    info["cpus_usable"] = len(os.sched_getaffinity(0))
    torch_ok = have_torch() and not a.no_torch
    configs = [("cydl", None), ("cydl", 1), ("cydl", 2)] if a.fresh_processes else \
        [("cydl-interleaved", None)]
    if torch_ok:
        configs += [("torch", 1), ("torch", 2)]
    loads = [int(s) for s in a.loads.split(",")]
    print("machine:", json.dumps(info))
    print(f"rounds={a.rounds} windows={a.windows} epoch={N} samples; loads={loads}; "
          f"torch={'yes' if torch_ok else 'not installed'}", flush=True)
    res = {}                               # (load, kind, threads) -> list of dicts per round
    for r in range(a.rounds):
        for load in loads:
            hogs = start_hogs(load)
            time.sleep(0.5)
            try:
                order = configs if r % 2 == 0 else configs[::-1]   # interleave both ways
                for kind, th in order:
                    out = run_worker(kind, th, a.windows)
                    if kind == "cydl-interleaved":
                        for key, th_out in (("None", None), ("1", 1), ("2", 2)):
                            got = out.get(key, out)      # an error dict has no keys
                            res.setdefault((load, "cydl", th_out), []).append(got)
                            print(f"round {r} load {load} cydl {th_out or 'default'} "
                                  f"(interleaved): {json.dumps(got)}", flush=True)
                        continue
                    res.setdefault((load, kind, th), []).append(out)
                    print(f"round {r} load {load} {kind} {th or 'default'}: {json.dumps(out)}",
                          flush=True)
            finally:
                stop_hogs(hogs)

    def col(load, kind, th, key):
        return [d.get(key) for d in res.get((load, kind, th), [])]

    def ratio_rounds(load, key, num, den_fn):
        out = []
        for i in range(a.rounds):
            try:
                n = res[(load, "cydl", num)][i][key]
                d = den_fn(i)
                out.append(n / d)
            except (KeyError, IndexError, TypeError, ZeroDivisionError):
                pass
        return out

    print()
    print("| load | metric | cydl default | cydl 1T | cydl 2T | default / best fixed | "
          "default / 2T | torch 1T | torch 2T |")
    print("|---|---|---|---|---|---|---|---|---|")
    checks = []
    for load in loads:
        for key in [f"b{b}" for b in BATCHES] + ["l2_b32", "general_b32", "lat_us"]:
            lat = key == "lat_us"
            unit = "" if lat else "k"
            name = ("1-sample model(x), us" if lat else
                    "train batch 32, l2 model, samples/s" if key == "l2_b32" else
                    "train batch 32, general path (run_eagerly), samples/s"
                    if key == "general_b32" else f"train batch {key[1:]}, samples/s")

            def best_fixed(i, key=key, lat=lat):
                v = [res[(load, "cydl", t)][i][key] for t in (1, 2)]
                return min(v) if lat else max(v)
            r_best = ratio_rounds(load, key, None, best_fixed)
            r_2t = ratio_rounds(load, key, None, lambda i, key=key: res[(load, "cydl", 2)][i][key])
            if lat:      # report as speed ratios, >1 is better for the default
                r_best = [1 / x for x in r_best]
                r_2t = [1 / x for x in r_2t]
            row = [f"{load} busy", name,
                   fmt(med(col(load, "cydl", None, key)), unit),
                   fmt(med(col(load, "cydl", 1, key)), unit),
                   fmt(med(col(load, "cydl", 2, key)), unit),
                   fmt(med(r_best), "x"), fmt(med(r_2t), "x")]
            for th in (1, 2):
                row.append(fmt(med(col(load, "torch", th, key)), unit) if torch_ok else "-")
            print("| " + " | ".join(row) + " |")
            if not lat and load > 0:
                checks.append((f"load {load} {name}: default >= 0.9x best fixed",
                               med(r_best)[0] >= 0.9, med(r_best)[0]))
            if not lat and load == 0:
                checks.append((f"quiet {name}: default within 3% of 2T",
                               med(r_2t)[0] >= 0.97, med(r_2t)[0]))
    if 0 in loads:
        q = med(col(0, "cydl", None, "lat_us"))[0]
        for load in loads:
            if load > 0:
                v = med(col(load, "cydl", None, "lat_us"))[0]
                checks.append((f"load {load} 1-sample latency <= 3x quiet ({v:.1f} vs {q:.1f} us)",
                               v <= 3 * q, v / q))
    print()
    print("speed ratios: >1 means the default is faster (latency ratios inverted so).")
    for name, ok, v in checks:
        print(f"- [{'ok' if ok else 'MISS'}] {name}: {v:.2f}")
    print()
    print("adaptive state at the end of the default runs (last round):")
    for load in loads:
        runs = res.get((load, "cydl", None), [])
        if runs and "choice" in runs[-1]:
            print(f"- load {load}: " + "; ".join(runs[-1]["choice"]))


if __name__ == "__main__":
    main()
