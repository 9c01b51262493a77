"""What cutting big inference batches into row blocks costs (cydl/models/_runners.py:
the blocks let Ctrl-C through within about 0.1 s).

    python benchmarks/lab/bench_predict_blocks.py [--rounds 5] [--budgets 2.5e9]
                                              [--threads N] [--json out.json]

Cases (float32, predict(verbose=0) and evaluate(verbose=0)):

    wide      784-2000-2000-10, 20,000 rows, batch_size=20000 (the Ctrl-C test's
              network): one block per ~budget FLOPs per thread
    book      784-300-100-10 (Hands-On ML ch. 10), 60,000 rows, batch_size=60000
    book256   the same at the default batch size (256): below one block, so the
              blocked and the unblocked runs are the same code; a control
    graph     the wide network on the general path (run_eagerly=True), 10,000 rows

Each case runs unblocked (`BLOCK_FLOPS_PER_THREAD = inf`) and with each budget
(default: the library's), interleaved in one process with the order reversed every
other round (ABBA), so that drift of a shared machine falls on all alike. The
table gives each variant's median wall time, its median CPU time (the process'
CPU seconds: on a shared machine far steadier than wall time, which other
processes' load inflates), the median over rounds of its CPU time relative to the
unblocked run of the same round, and the wall milliseconds one block takes, which
bounds the wait for a Ctrl-C. The outputs are checked bit for bit against the
unblocked ones.
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

import cydl  # noqa: E402
from cydl import layers  # noqa: E402
from cydl.models import _runners  # noqa: E402


def _model(widths, n_in, eager=False):
    cydl.utils.set_random_seed(0)
    stack = [layers.Input(shape=(n_in,))]
    stack += [layers.Dense(w, activation="relu") for w in widths]
    stack.append(layers.Dense(10, activation="softmax"))
    model = cydl.Sequential(stack)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd",
                  metrics=["accuracy"], run_eagerly=eager)
    return model


def cases():
    rng = np.random.default_rng(0)
    X_wide = rng.standard_normal((20_000, 784)).astype(np.float32)
    X_book = rng.random((60_000, 784), dtype=np.float32)
    y_wide = rng.integers(0, 10, len(X_wide))
    y_book = rng.integers(0, 10, len(X_book))
    wide, book = _model([2000, 2000], 784), _model([300, 100], 784)
    graph = _model([2000, 2000], 784, eager=True)
    graph.set_weights(wide.get_weights())
    return {
        "wide": (wide, X_wide, y_wide, 20_000),
        "book": (book, X_book, y_book, 60_000),
        "book256": (book, X_book, y_book, 256),
        "graph": (graph, X_wide[:10_000], y_wide[:10_000], 10_000),
    }


def _blocks(model, n, batch):
    runner = model._runner(train=False)
    rows = runner.block_rows()
    return sum(len(_runners.row_blocks(s, min(s + batch, n), rows))
               for s in range(0, n, batch))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--budgets", default=str(_runners.BLOCK_FLOPS_PER_THREAD),
                    help="FLOPs per thread and block, comma-separated")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--cases", default="wide,book,book256,graph")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    if args.threads:
        cydl.set_num_threads(args.threads)
    budgets = [float(b) for b in args.budgets.split(",")]
    variants = [math.inf] + budgets
    all_cases = cases()
    chosen = [c for c in args.cases.split(",") if c]
    default_budget = _runners.BLOCK_FLOPS_PER_THREAD
    times = {(c, v, op): [] for c in chosen for v in variants for op in ("predict", "evaluate")}
    cpu = {key: [] for key in times}
    blocks = {}
    reference = {}
    try:
        for c in chosen:             # warm up: plans, workspaces, thread choices
            model, X, y, batch = all_cases[c]
            for v in variants:
                _runners.BLOCK_FLOPS_PER_THREAD = v
                out = model.predict(X, batch_size=batch, verbose=0)
                model.evaluate(X, y, batch_size=batch, verbose=0)
                blocks[c, v] = _blocks(model, len(X), batch)
                if v == math.inf:
                    reference[c] = out
                elif not np.array_equal(out, reference[c]):
                    raise SystemExit(f"{c}: blocked output differs from unblocked (budget {v})")
        for r in range(args.rounds):
            order = variants if r % 2 == 0 else variants[::-1]
            for c in chosen:
                model, X, y, batch = all_cases[c]
                for v in order:
                    _runners.BLOCK_FLOPS_PER_THREAD = v
                    t0, c0 = time.perf_counter(), time.process_time()
                    model.predict(X, batch_size=batch, verbose=0)
                    t1, c1 = time.perf_counter(), time.process_time()
                    model.evaluate(X, y, batch_size=batch, verbose=0)
                    t2, c2 = time.perf_counter(), time.process_time()
                    times[c, v, "predict"].append(t1 - t0)
                    times[c, v, "evaluate"].append(t2 - t1)
                    cpu[c, v, "predict"].append(c1 - c0)
                    cpu[c, v, "evaluate"].append(c2 - c1)
    finally:
        _runners.BLOCK_FLOPS_PER_THREAD = default_budget
    rows = []
    print(f"{'case':9} {'op':9} {'budget':>8} {'blocks':>7} {'wall s':>8} {'cpu s':>8} "
          f"{'cpu/whole':>10} {'ms/block':>9}")
    for c in chosen:
        for op in ("predict", "evaluate"):
            base = cpu[c, math.inf, op]
            for v in variants:
                wall, t = statistics.median(times[c, v, op]), cpu[c, v, op]
                ratio = statistics.median(a / b for a, b in zip(t, base))
                per_block = 1e3 * wall / blocks[c, v]
                label = "whole" if v == math.inf else f"{v:.1e}"
                print(f"{c:9} {op:9} {label:>8} {blocks[c, v]:7d} {wall:8.3f} "
                      f"{statistics.median(t):8.3f} {ratio:10.3f} {per_block:9.1f}")
                rows.append({"case": c, "op": op, "budget": None if v == math.inf else v,
                             "blocks": blocks[c, v], "wall_s": wall,
                             "cpu_s": statistics.median(t), "cpu_ratio": ratio,
                             "ms_per_block": per_block})
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"threads": cydl.get_num_threads() if hasattr(cydl, "get_num_threads")
                       else None, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
