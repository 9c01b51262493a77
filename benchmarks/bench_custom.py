"""Custom layers written with cydl.ops, next to the built-in model and PyTorch eager.

    python benchmarks/bench_custom.py                 # 3 rounds, 8192-sample epochs
    python benchmarks/bench_custom.py --rounds 5 --threads 2

Models (float32, SGD(0.01), sparse categorical cross-entropy, batch 32 by default):

* builtin: Dense(300, relu) - Dense(100, relu) - Dense(10, softmax) on 784 inputs;
* custom:  the same with the middle Dense replaced by a custom layer whose call is
  `relu(matmul(x, w) + b)`;
* gate:    builtin plus a custom gate layer `x * sigmoid(x @ w + b)` (100 x 100)
  after the 100-unit layer;
* custom/graph: `custom` with run_eagerly=True, i.e. every op on the tape (what a
  custom layer cost before custom layers were lowered into the plan).

PyTorch runs the same three models, its custom layers as nn.Modules with the same
expressions. Each measurement runs in a fresh process: one warm-up epoch of fit(),
then `windows` timed epochs; configurations are interleaved in rounds and ratios are
taken within a round (same minutes, same background load).
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
sys.path.insert(0, HERE)
from bench_engine import _epochs, _git, _machine, _mnist_like  # noqa: E402


def cydl_model(variant, batch, n, windows, threads):
    import cydl
    from cydl import layers, ops
    cydl.set_num_threads(threads)
    cydl.utils.set_random_seed(0)

    class MyDense(cydl.layers.Layer):
        def __init__(self, units, **kw):
            super().__init__(**kw)
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                     initializer="glorot_uniform")
            self.b = self.add_weight(shape=(self.units,), initializer="zeros")

        def call(self, x):
            return ops.relu(ops.matmul(x, self.w) + self.b)

    class Gate(cydl.layers.Layer):
        def build(self, input_shape):
            n_in = input_shape[-1]
            self.w = self.add_weight(shape=(n_in, n_in), initializer="glorot_uniform")
            self.b = self.add_weight(shape=(n_in,), initializer="zeros")

        def call(self, x):
            return x * ops.sigmoid(ops.matmul(x, self.w) + self.b)

    mid = MyDense(100) if variant.startswith("custom") else layers.Dense(100, activation="relu")
    stack = [layers.Input(shape=(784,)), layers.Dense(300, activation="relu"), mid]
    if variant == "gate":
        stack.append(Gate())
    model = cydl.Sequential(stack + [layers.Dense(10, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer=cydl.optimizers.SGD(0.01),
                  run_eagerly=variant == "custom/graph")
    x, y = _mnist_like(n)
    r = _epochs(lambda: model.fit(x, y, batch_size=batch, epochs=1, verbose=0), n, windows)
    r["fused"] = bool(model._runner(train=True).fused)
    return r


def torch_model(variant, batch, n, windows, threads):
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    nn = torch.nn

    class MyDense(nn.Module):
        def __init__(self, n_in, units):
            super().__init__()
            self.w = nn.Parameter(torch.empty(n_in, units))
            self.b = nn.Parameter(torch.zeros(units))
            nn.init.xavier_uniform_(self.w)

        def forward(self, x):
            return torch.relu(x @ self.w + self.b)

    class Gate(nn.Module):
        def __init__(self, n_in):
            super().__init__()
            self.w = nn.Parameter(torch.empty(n_in, n_in))
            self.b = nn.Parameter(torch.zeros(n_in))
            nn.init.xavier_uniform_(self.w)

        def forward(self, x):
            return x * torch.sigmoid(x @ self.w + self.b)

    mid = [MyDense(300, 100)] if variant == "custom" else [nn.Linear(300, 100), nn.ReLU()]
    mods = [nn.Linear(784, 300), nn.ReLU()] + mid + ([Gate(100)] if variant == "gate" else [])
    model = nn.Sequential(*mods, nn.Linear(100, 10))
    x, y = _mnist_like(n)
    X, Y = torch.from_numpy(x), torch.from_numpy(y)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()

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


def _worker(name, args):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", name,
                        json.dumps(args)], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=900)
    if p.returncode != 0:
        return {"error": p.stderr.strip()[-2000:]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--windows", type=int, default=3)
    ap.add_argument("--samples", type=int, default=8192)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-torch", action="store_true")
    a = ap.parse_args()
    cpu, torch_v = _machine()
    have_torch = torch_v is not None and not a.no_torch
    print(f"# custom layers  ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})")
    print(f"* machine: {cpu}, {os.cpu_count()} logical CPUs; threads {a.threads}; "
          f"tree {_git(ROOT, 'rev-parse', '--short', 'HEAD')}; torch {torch_v}")
    print(f"* float32, SGD, batch {a.batch}; {a.samples}-sample epochs; 1 warm-up + "
          f"{a.windows} timed epochs per process; {a.rounds} interleaved rounds", flush=True)
    base = {"batch": a.batch, "n": a.samples, "windows": a.windows, "threads": a.threads}
    configs = [(f"{v}/cydl", "cydl_model", v) for v in ("builtin", "custom", "gate",
                                                       "custom/graph")]
    if have_torch:
        configs += [(f"{v}/torch", "torch_model", v) for v in ("builtin", "custom", "gate")]
    results = {k: {} for k, _, _ in configs}
    for r in range(a.rounds):
        for key, worker, variant in configs:
            res = _worker(worker, dict(base, variant=variant))
            if "error" in res:
                print(f"  round {r + 1}: {key}: FAILED\n{res['error']}", flush=True)
                continue
            results[key][r] = res["samples_per_s"]
            fused = f" fused={res['fused']}" if "fused" in res else ""
            print(f"  round {r + 1}: {key:20s} {res['samples_per_s']:9.0f} samples/s{fused}",
                  flush=True)

    def med(key):
        v = list(results.get(key, {}).values())
        return f"{np.median(v):,.0f}" if v else "-"

    def ratio(k1, k2):
        rs = [results[k1][r] / results[k2][r] for r in results.get(k1, {})
              if r in results.get(k2, {})]
        return f"{np.median(rs):.2f}x ({min(rs):.2f}-{max(rs):.2f})" if rs else "-"

    print("\n| model | cydl samples/s | PyTorch samples/s | cydl / built-in cydl | "
          "cydl / PyTorch |")
    print("|---|---:|---:|---:|---:|")
    for v in ("builtin", "custom", "gate", "custom/graph"):
        tk = f"{v.split('/')[0]}/torch" if v != "custom/graph" else "custom/torch"
        print(f"| {v} | {med(v + '/cydl')} | {med(tk)} | "
              f"{ratio(v + '/cydl', 'builtin/cydl')} | {ratio(v + '/cydl', tk)} |")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        print(json.dumps(globals()[sys.argv[2]](**json.loads(sys.argv[3]))))
    else:
        main()
