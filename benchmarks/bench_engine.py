"""The graph engine's training speed: fused path, general path, custom layers, and the
book's two-input Wide & Deep, next to the previous commit and PyTorch eager.

    python benchmarks/bench_engine.py                    # full run (about 10 minutes)
    python benchmarks/bench_engine.py --quick            # short run (about 4 minutes)
    python benchmarks/bench_engine.py --prev /work/wt-prev --rounds 3

Every measurement runs in a fresh subprocess (`python bench_engine.py --worker NAME
JSON`), one framework per process, as in workers.py. A measurement is: build the
model, run one warm-up epoch of fit() (not timed), then time `windows` whole epochs,
each epoch one window; it reports the median and min/max samples/s over windows.
Configurations are interleaved in rounds (every configuration once per round, in
order); the table shows the median over rounds of the per-process medians, and the
min-max over all windows of all rounds. Ratios are taken within a round (same
minutes, same background load) and the median round ratio is reported.

The previous commit is a separate checkout built in place, e.g.

    git -C /work/main worktree add --detach /work/wt-prev HEAD~1
    cd /work/wt-prev && python setup.py build_ext --inplace -j 2

and its measurements run with cwd and PYTHONPATH set to that tree. Without --prev
(or if the tree does not import) those rows are skipped.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


# ======================================================================= workers
def _epochs(fit_epoch, n, windows):
    """One warm-up epoch, then `windows` timed epochs; samples/s per window."""
    fit_epoch()
    rates = []
    for _ in range(windows):
        t0 = time.perf_counter()
        fit_epoch()
        rates.append(n / (time.perf_counter() - t0))
    return {"samples_per_s": float(np.median(rates)), "min": min(rates), "max": max(rates),
            "windows": rates}


def _mnist_like(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n)


def _housing_like(n, seed=0):
    rng = np.random.default_rng(seed)
    xw = rng.standard_normal((n, 5)).astype(np.float32)
    xd = rng.standard_normal((n, 6)).astype(np.float32)
    y = rng.standard_normal((n, 1)).astype(np.float32)
    return xw, xd, y


def _cydl_info(cydl, model):
    info = {"cydl_file": os.path.dirname(cydl.__file__)}
    try:
        info["fused"] = bool(model._runner(train=True).fused)
    except Exception as e:                      # the runner API differs across commits
        info["fused"] = f"? ({type(e).__name__})"
    return info


def cydl_mlp(batch, n, windows, threads, variant="plain", opt="sgd"):
    """variant: plain (fused if the engine can), eager (compile run_eagerly=True),
    custom (a cydl.ops Scale layer after the 300-unit Dense), bn (the book's
    Flatten-BN-300-BN-100-BN-10), dropout (Dropout(0.2) after each of 2 x Dense(100))."""
    import cydl
    from cydl import layers
    cydl.set_num_threads(threads)
    cydl.utils.set_random_seed(0)
    x, y = _mnist_like(n)
    if variant in ("bn", "dropout"):
        model = _cydl_node_net(cydl, layers, variant)
        model.compile(loss="sparse_categorical_crossentropy",
                      optimizer=cydl.optimizers.SGD(0.01))
        xs = x.reshape(n, 28, 28) if variant == "bn" else x
        r = _epochs(lambda: model.fit(xs, y, batch_size=batch, epochs=1, verbose=0), n,
                    windows)
        r.update(_cydl_info(cydl, model))
        return r
    stack = [layers.Input(shape=(784,)), layers.Dense(300, activation="relu")]
    if variant == "custom":
        class Scale(cydl.layers.Layer):
            def build(self, input_shape):
                self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones")
                self.built = True

            def call(self, x):
                return cydl.ops.multiply(x, self.w)
        stack.append(Scale())
    stack += [layers.Dense(100, activation="relu"), layers.Dense(10, activation="softmax")]
    model = cydl.Sequential(stack)
    kw = {"run_eagerly": True} if variant == "eager" else {}
    optimizer = cydl.optimizers.SGD(0.01) if opt == "sgd" else cydl.optimizers.Adam(1e-3)
    model.compile(loss="sparse_categorical_crossentropy", optimizer=optimizer, **kw)
    r = _epochs(lambda: model.fit(x, y, batch_size=batch, epochs=1, verbose=0), n, windows)
    r.update(_cydl_info(cydl, model))
    return r


def _cydl_node_net(cydl, layers, variant):
    if variant == "bn":
        return cydl.Sequential([
            layers.Input(shape=(28, 28)), layers.Flatten(), layers.BatchNormalization(),
            layers.Dense(300, activation="relu"), layers.BatchNormalization(),
            layers.Dense(100, activation="relu"), layers.BatchNormalization(),
            layers.Dense(10, activation="softmax")])
    return cydl.Sequential([
        layers.Input(shape=(784,)), layers.Dense(100, activation="relu"), layers.Dropout(0.2),
        layers.Dense(100, activation="relu"), layers.Dropout(0.2),
        layers.Dense(10, activation="softmax")])


def torch_mlp(batch, n, windows, threads, variant="plain"):
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    nn = torch.nn
    if variant == "bn":      # BatchNorm1d momentum is 1 - Keras' momentum
        model = nn.Sequential(nn.BatchNorm1d(784, eps=1e-3, momentum=0.01), nn.Linear(784, 300),
                              nn.ReLU(), nn.BatchNorm1d(300, eps=1e-3, momentum=0.01),
                              nn.Linear(300, 100), nn.ReLU(),
                              nn.BatchNorm1d(100, eps=1e-3, momentum=0.01), nn.Linear(100, 10))
    elif variant == "dropout":
        model = nn.Sequential(nn.Linear(784, 100), nn.ReLU(), nn.Dropout(0.2),
                              nn.Linear(100, 100), nn.ReLU(), nn.Dropout(0.2),
                              nn.Linear(100, 10))
    else:
        model = nn.Sequential(nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(),
                              nn.Linear(100, 10))
    model.train()
    x, y = _mnist_like(n)
    X, Y = torch.from_numpy(x), torch.from_numpy(y)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = torch.nn.CrossEntropyLoss()

    def epoch():
        perm = torch.randperm(n)
        for s in range(0, n, batch):
            idx = perm[s:s + batch]
            loss = loss_fn(model(X[idx]), Y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    r = _epochs(epoch, n, windows)
    r["torch"] = torch.__version__
    return r


def cydl_widedeep(batch, n, windows, threads, opt="sgd"):
    import cydl
    from cydl import layers
    cydl.set_num_threads(threads)
    cydl.utils.set_random_seed(42)
    xw, xd, y = _housing_like(n)
    input_wide = layers.Input(shape=(5,))
    input_deep = layers.Input(shape=(6,))
    hidden1 = layers.Dense(30, activation="relu")(input_deep)
    hidden2 = layers.Dense(30, activation="relu")(hidden1)
    concat = layers.concatenate([input_wide, hidden2])
    output = layers.Dense(1)(concat)
    aux_output = layers.Dense(1)(hidden2)
    model = cydl.Model(inputs=[input_wide, input_deep], outputs=[output, aux_output])
    optimizer = cydl.optimizers.SGD(1e-3) if opt == "sgd" else cydl.optimizers.Adam(1e-3)
    model.compile(loss=("mse", "mse"), loss_weights=(0.9, 0.1), optimizer=optimizer)
    r = _epochs(lambda: model.fit((xw, xd), (y, y), batch_size=batch, epochs=1, verbose=0),
                n, windows)
    r.update(_cydl_info(cydl, model))
    return r


def torch_widedeep(batch, n, windows, threads, opt="sgd"):
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(42)

    class WideDeep(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.h1 = torch.nn.Linear(6, 30)
            self.h2 = torch.nn.Linear(30, 30)
            self.out = torch.nn.Linear(35, 1)
            self.aux = torch.nn.Linear(30, 1)

        def forward(self, xw, xd):
            h = torch.relu(self.h2(torch.relu(self.h1(xd))))
            return self.out(torch.cat([xw, h], dim=1)), self.aux(h)

    model = WideDeep()
    xw, xd, y = (torch.from_numpy(a) for a in _housing_like(n))
    optimizer = (torch.optim.SGD(model.parameters(), lr=1e-3) if opt == "sgd"
                 else torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7))
    mse = torch.nn.MSELoss()

    def epoch():
        perm = torch.randperm(n)
        for s in range(0, n, batch):
            idx = perm[s:s + batch]
            yb = y[idx]
            out, aux = model(xw[idx], xd[idx])
            loss = 0.9 * mse(out, yb) + 0.1 * mse(aux, yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    r = _epochs(epoch, n, windows)
    r["torch"] = torch.__version__
    return r


# ======================================================================= driver
def _run_worker(name, args, tree, timeout):
    env = dict(os.environ)
    env["PYTHONPATH"] = tree + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", name, json.dumps(args)]
    try:
        p = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    if p.returncode != 0:
        return {"error": p.stderr.strip() or f"exit {p.returncode}"}
    return json.loads(p.stdout.strip().splitlines()[-1])


def _machine():
    model = platform.processor()
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    try:
        import importlib.metadata as md
        torch_v = md.version("torch")
    except Exception:
        torch_v = None
    return model, torch_v


def _git(tree, *args):
    try:
        return subprocess.run(["git", "-C", tree, *args], capture_output=True,
                              text=True).stdout.strip()
    except OSError:
        return "?"


def _round_ratios(results, num, den):
    """num/den for every round in which both ran (rounds paired by number)."""
    b_ = {x["round"]: x["samples_per_s"] for x in results.get(den) or []}
    return [x["samples_per_s"] / b_[x["round"]] for x in results.get(num) or []
            if x["round"] in b_]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="short run: 4096-sample epochs, 2 windows, 3 rounds")
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--windows", type=int, default=None, help="timed epochs per process")
    ap.add_argument("--samples", type=int, default=None, help="samples per epoch")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prev", default="/work/wt-prev",
                    help="checkout of the previous commit, built in place ('' to skip)")
    ap.add_argument("--opt", default="sgd", choices=["sgd", "adam"],
                    help="Wide & Deep optimizer")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--vs-prev-only", action="store_true",
                    help="only the plain MLP, batch 32/128/512, SGD and Adam, against --prev")
    ap.add_argument("--json", default=None, help="also write every raw result here")
    ap.add_argument("--from-json", default=None,
                    help="measure nothing: print the table from a --json file")
    a = ap.parse_args()
    rounds = a.rounds or 3
    windows = a.windows or (2 if a.quick else 3)
    n = a.samples or (4096 if a.quick else 8192)
    th = a.threads

    cpu, torch_v = _machine()
    have_torch = torch_v is not None and not a.no_torch
    prev = a.prev if a.prev and os.path.isdir(os.path.join(a.prev, "cydl")) else None
    print(f"# cydl engine benchmark  ({time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())})")
    print(f"* machine: {cpu}, {os.cpu_count()} logical CPUs; threads: {th} (cydl and torch)")
    print(f"* this tree: {ROOT} @ {_git(ROOT, 'rev-parse', '--short', 'HEAD')}"
          f"{' (+ uncommitted changes)' if _git(ROOT, 'status', '--porcelain', '--untracked-files=no') else ''}")
    print(f"* previous: {prev + ' @ ' + _git(prev, 'rev-parse', '--short', 'HEAD') if prev else 'skipped'}")
    print(f"* torch: {torch_v if have_torch else 'not installed / skipped'}; "
          f"python {platform.python_version()}; numpy {np.__version__}")
    print(f"* float32; {n}-sample epochs; 1 warm-up epoch + {windows} timed epochs per process; "
          f"{rounds} interleaved rounds; each measurement in a fresh process", flush=True)

    base = {"n": n, "windows": windows, "threads": th}
    # (key, worker, args, tree)
    configs = []
    if a.vs_prev_only:
        if not prev:
            raise SystemExit("--vs-prev-only needs --prev")
        for opt in ("sgd", "adam"):
            for b in (32, 128, 512):
                for key, tree in ((f"{opt}{b}/cydl", ROOT), (f"{opt}{b}/prev", prev)):
                    configs.append((key, "cydl_mlp", {"batch": b, "opt": opt}, tree))
    for b in (32, 128) if not a.vs_prev_only else ():
        configs.append((f"mlp{b}/cydl", "cydl_mlp", {"batch": b}, ROOT))
        if prev:
            configs.append((f"mlp{b}/prev", "cydl_mlp", {"batch": b}, prev))
        if have_torch:
            configs.append((f"mlp{b}/torch", "torch_mlp", {"batch": b}, ROOT))
    for v in ("bn", "dropout") if not a.vs_prev_only else ():
        configs.append((f"{v}32/cydl", "cydl_mlp", {"batch": 32, "variant": v}, ROOT))
        if have_torch:
            configs.append((f"{v}32/torch", "torch_mlp", {"batch": 32, "variant": v}, ROOT))
    if not a.vs_prev_only:
        configs.append(("mlp32/eager", "cydl_mlp", {"batch": 32, "variant": "eager"}, ROOT))
        configs.append(("mlp32/custom", "cydl_mlp", {"batch": 32, "variant": "custom"}, ROOT))
        configs.append(("wd/cydl", "cydl_widedeep", {"batch": 32, "opt": a.opt}, ROOT))
    if have_torch and not a.vs_prev_only:
        configs.append(("wd/torch", "torch_widedeep", {"batch": 32, "opt": a.opt}, ROOT))

    results = {k: [] for k, *_ in configs}
    errors = {}
    t_start = time.time()
    if a.from_json:
        with open(a.from_json) as f:
            saved = json.load(f)
        results.update(saved["results"])
        errors = saved["errors"]
        rounds = 0
    for r in range(rounds):
        for key, worker, args, tree in configs:
            if len(errors.get(key, ())) >= 2:      # failed twice: give up on it
                continue
            res = _run_worker(worker, {**base, **args}, tree, timeout=900)
            if "error" in res:      # retried next round (a tree rebuilt mid-run recovers)
                errors.setdefault(key, []).append(res["error"])
                print(f"  round {r + 1}: {key}: FAILED (traceback below)", flush=True)
                continue
            res["round"] = r + 1
            results[key].append(res)
            extra = f" fused={res['fused']}" if "fused" in res else ""
            print(f"  round {r + 1}: {key:14s} {res['samples_per_s']:10.0f} samples/s "
                  f"(windows {res['min']:.0f}-{res['max']:.0f}){extra}", flush=True)
    print(f"  ({time.time() - t_start:.0f} s)\n")

    def cell(key):
        rs = results.get(key) or []
        if not rs:
            return None, "FAILED" if key in errors else "-"
        med = float(np.median([x["samples_per_s"] for x in rs]))
        lo = min(x["min"] for x in rs)
        hi = max(x["max"] for x in rs)
        return med, f"{med:,.0f} ({lo:,.0f}-{hi:,.0f})"

    def ratio(num, den):
        """Median over rounds of num/den within a round; and its range."""
        rs = _round_ratios(results, num, den)
        if not rs:
            return "-"
        return f"{np.median(rs):.2f}x ({min(rs):.2f}-{max(rs):.2f})"

    rows = [(f"MLP 784-300-100-10, {opt.upper()}, batch {b}: this commit vs previous",
             f"{opt}{b}/cydl", f"{opt}{b}/prev", "prev cydl")
            for opt in ("sgd", "adam") for b in (32, 128, 512)] if a.vs_prev_only else []
    rows += [
        ("MLP 784-300-100-10, SGD, batch 32: this commit vs previous",
         "mlp32/cydl", "mlp32/prev", "prev cydl"),
        ("MLP 784-300-100-10, SGD, batch 128: this commit vs previous",
         "mlp128/cydl", "mlp128/prev", "prev cydl"),
        ("MLP, batch 32: cydl (fused) vs PyTorch eager", "mlp32/cydl", "mlp32/torch", "PyTorch"),
        ("MLP, batch 128: cydl (fused) vs PyTorch eager", "mlp128/cydl", "mlp128/torch",
         "PyTorch"),
        ("Book BN model (Flatten-BN-300-BN-100-BN-10), SGD, batch 32: cydl vs PyTorch",
         "bn32/cydl", "bn32/torch", "PyTorch"),
        ("Dropout(0.2) 2x100 model, SGD, batch 32: cydl vs PyTorch", "dropout32/cydl",
         "dropout32/torch", "PyTorch"),
        ("MLP, batch 32: general path (run_eagerly=True) vs fused", "mlp32/eager",
         "mlp32/cydl", "cydl fused"),
        ("MLP + 1 custom Scale layer (general path) vs fused plain MLP", "mlp32/custom",
         "mlp32/cydl", "cydl fused"),
        ("MLP + 1 custom Scale layer vs plain MLP on the general path", "mlp32/custom",
         "mlp32/eager", "cydl general"),
        ("MLP, batch 32: general path (run_eagerly=True) vs PyTorch eager", "mlp32/eager",
         "mlp32/torch", "PyTorch"),
        ("MLP + 1 custom Scale layer vs PyTorch eager (plain MLP)", "mlp32/custom",
         "mlp32/torch", "PyTorch"),
        (f"Wide & Deep (5 wide + 6 deep, 2x Dense(30), 2 outputs, mse 0.9/0.1), {a.opt.upper()}, "
         "batch 32", "wd/cydl", "wd/torch", "PyTorch"),
    ]
    print("| configuration | cydl samples/s (min-max) | vs | other samples/s (min-max) "
          "| ratio cydl/other (round range) |")
    print("|---|---:|---|---:|---:|")
    for title, k1, k2, other in rows:
        _, c1 = cell(k1)
        _, c2 = cell(k2)
        if c2 == "-" and k2 not in results:
            continue
        extra = ""
        if k1 in ("mlp32/eager", "mlp32/custom", "wd/cydl", "bn32/cydl", "dropout32/cydl") \
                and results.get(k1):
            extra = f" [fused={results[k1][0]['fused']}]"
        print(f"| {title}{extra} | {c1} | {other} | {c2} | {ratio(k1, k2)} |")

    # targets
    print("\nTargets:")
    def verdict(num, den, target):
        rs = _round_ratios(results, num, den)
        if not rs:
            return "not measured"
        m = float(np.median(rs))
        return f"{'MET' if m >= target else 'NOT MET'} (median round ratio {m:.2f}, " \
               f"range {min(rs):.2f}-{max(rs):.2f})"
    print(f"* Wide & Deep >= 2x PyTorch: {verdict('wd/cydl', 'wd/torch', 2.0)}")
    print(f"* BN model >= 2x PyTorch: {verdict('bn32/cydl', 'bn32/torch', 2.0)}")
    print(f"* Dropout model >= 2x PyTorch: {verdict('dropout32/cydl', 'dropout32/torch', 2.0)}")
    for b in (32, 128):
        print(f"* plain MLP batch {b} no slower than the previous commit (ratio >= ~0.95 "
              "given noise): "
              f"{verdict(f'mlp{b}/cydl', f'mlp{b}/prev', 0.95)}")

    # noise
    spreads = []
    for key, rs in results.items():
        if len(rs) > 1:
            meds = [x["samples_per_s"] for x in rs]
            spreads.append((key, (max(meds) - min(meds)) / np.median(meds)))
    if spreads:
        worst = max(spreads, key=lambda s: s[1])
        print(f"\nNoise: spread of per-process medians across rounds (max-min)/median: "
              f"typical {np.median([s[1] for s in spreads]) * 100:.0f} %, worst "
              f"{worst[1] * 100:.0f} % ({worst[0]}). Shared 2-vCPU VM; compare ratios "
              "taken within a round.")
    try:
        print(f"Load average at end: {os.getloadavg()}")
    except OSError:
        pass

    for key, errs in errors.items():
        print(f"\n## {key} failed {len(errs)} time(s); last traceback:\n```\n{errs[-1][-4000:]}\n```")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"results": results, "errors": errors}, f, indent=1)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        print(json.dumps(globals()[sys.argv[2]](**json.loads(sys.argv[3]))))
    else:
        main()
