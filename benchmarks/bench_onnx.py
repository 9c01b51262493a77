"""Serving latency: the book's 784-300-100-10 MLP exported with
`model.export(..., format="onnx")` and run by ONNX Runtime, against cydl's own
inference on the same model, each in its own processes.

    python benchmarks/bench_onnx.py                       # cydl's default thread count
    python benchmarks/bench_onnx.py --threads 1 --json onnx.json
    python benchmarks/bench_onnx.py --reps 5 --windows 2  # a quick check that it runs

Rows: 1 sample (ORT `session.run`, cydl `model(x)` and `predict_on_batch`), then
batches of 32 and 256 (ORT against `predict_on_batch`). ONNX Runtime gets the
thread count cydl uses (intra_op_num_threads; one inter-op thread, sequential
execution), so both use the same cores. Each row is the median of `--windows`
windows of `--reps` calls (min-max across windows), in microseconds per call; the
two sides alternate window by window so that machine noise hits both. Every
window is a fresh process that loads the saved model (cydl's .keras file, or the
.onnx file) and warms up first: in one process, ONNX Runtime's spinning thread
pool takes the core cydl's second thread needs (measured: cydl's batch of 32 then
ran 2x slower than alone). The outputs are compared first (max |difference|), so
the rows time the same work.
"""
import subprocess
import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cydl  # noqa: E402
from cydl import layers  # noqa: E402


def book_mlp():
    cydl.utils.set_random_seed(42)
    return cydl.Sequential([
        layers.Input(shape=(28, 28)), layers.Flatten(),
        layers.Dense(300, activation="relu"), layers.Dense(100, activation="relu"),
        layers.Dense(10, activation="softmax")])


def window(fn, reps):
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t0) / reps * 1e6


def compare(cases, reps, windows, tmp, threads, batch):
    """{name: [us per call, one per window]}: each window a fresh process, the cases
    alternating window by window."""
    times = {name: [] for name in cases}
    for _ in range(windows):
        for name in cases:
            out = subprocess.run(
                [sys.executable, os.path.abspath(__file__), "--time", name, "--dir", tmp,
                 "--threads", str(threads), "--batch", str(batch), "--reps", str(reps)],
                capture_output=True, text=True, check=True)
            times[name].append(float(out.stdout.strip().splitlines()[-1]))
    return times


def time_one(args):
    """One window of `--time RUNNER` in this process: load, warm up, time."""
    x = np.random.default_rng(0).random((args.batch, 28, 28), dtype=np.float32)
    if args.time == "onnxruntime":
        import onnxruntime as ort
        options = ort.SessionOptions()
        options.intra_op_num_threads = args.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        sess = ort.InferenceSession(os.path.join(args.dir, "mlp.onnx"), options,
                                    providers=["CPUExecutionProvider"])
        name = sess.get_inputs()[0].name

        def fn():
            return sess.run(None, {name: x})
    else:
        cydl.set_num_threads(args.threads)
        model = cydl.models.load_model(os.path.join(args.dir, "mlp.keras"))
        fn = (lambda: model(x)) if args.time == "cydl model(x)" else \
            (lambda: model.predict_on_batch(x))
    window(fn, max(1, args.reps // 5))          # warm-up: plans, arenas, page faults
    print(window(fn, args.reps))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for both (default: cydl's default count)")
    parser.add_argument("--reps", type=int, default=2000, help="calls per window (1 sample)")
    parser.add_argument("--windows", type=int, default=7)
    parser.add_argument("--json", default=None, help="also write the results here")
    parser.add_argument("--time", default=None, help=argparse.SUPPRESS)   # a child's job
    parser.add_argument("--dir", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.time:
        return time_one(args)
    import onnxruntime as ort
    from _harness import machine

    if args.threads:
        cydl.set_num_threads(args.threads)
    threads = cydl.get_num_threads()
    model = book_mlp()
    tmp_dir = tempfile.TemporaryDirectory()
    tmp = tmp_dir.name
    model.export(os.path.join(tmp, "mlp.onnx"), format="onnx", verbose=False)
    model.save(os.path.join(tmp, "mlp.keras"))
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    sess = ort.InferenceSession(os.path.join(tmp, "mlp.onnx"), options,
                                providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    rng = np.random.default_rng(0)
    info = {"machine": machine(), "threads": threads, "onnxruntime": ort.__version__,
            "reps": args.reps, "windows": args.windows, "rows": []}
    print(f"# {info['machine'].get('Model name', '?')}, {os.cpu_count()} CPUs, "
          f"threads {threads} (cydl and ORT intra-op), onnxruntime {ort.__version__}, "
          f"cydl {cydl.__version__}, load {os.getloadavg()[0]:.2f}; each window a fresh "
          f"process")
    print("| batch | runner | median us/call (min-max) | samples/s |\n|---|---|---|---|")
    for batch in (1, 32, 256):
        x = rng.random((batch, 28, 28), dtype=np.float32)
        diff = float(np.max(np.abs(sess.run(None, {name: x})[0] - model.predict_on_batch(x))))
        cases = ["onnxruntime", "cydl predict_on_batch"] + (["cydl model(x)"] if batch == 1
                                                             else [])
        reps = max(1, args.reps // batch) if batch > 1 else args.reps
        for case, ts in compare(cases, reps, args.windows, tmp, threads, batch).items():
            med = float(np.median(ts))
            info["rows"].append({"batch": batch, "runner": case, "median_us": med,
                                 "min_us": min(ts), "max_us": max(ts), "max_abs_diff": diff})
            print(f"| {batch} | {case} | {med:.1f} ({min(ts):.1f}-{max(ts):.1f}) | "
                  f"{batch / med * 1e6:,.0f} |", flush=True)
        print(f"|   | outputs: max abs difference {diff:.2e} | | |")
    del sess
    tmp_dir.cleanup()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(info, f, indent=1)


if __name__ == "__main__":
    main()
