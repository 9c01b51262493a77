"""What logging callbacks add to a training run: the book's Fashion-MNIST job with no
callback, with ModelCheckpoint saving every epoch, and with TensorBoard logging.

    python benchmarks/lab/bench_callbacks_overhead.py [--epochs 30] [--samples 55000]
                                                  [--rounds 3] [--variants ...]
                                                  [--json results.json]

Hands-On ML ch. 10: 784-300-100-10 (relu, relu, softmax), SGD, batch 32,
validation on the last 5,000 training images, `fit(verbose=0)`. The variants run
interleaved in one process, their order reversed every other round (ABBA), each
from the same seed and a fresh model, so that drift of the shared machine falls on
all of them alike. The table gives each variant's median time and the median over
rounds of its time relative to the no-callback run of the same round; the target
is under 5% added.

Variants: none, checkpoint (ModelCheckpoint("ckpt.keras") every epoch),
tensorboard (TensorBoard(log_dir), Keras' defaults: per-epoch scalars and the
model config), tensorboard_hist (histogram_freq=1 as well) and tensorboard_batch
(update_freq="batch"). The default set is the first three. TensorBoard needs the
extra (`pip install "cydl[tensorboard]"`); its one-time import (tensorboardX, and
torch if installed) is done before timing and reported apart.

Without the Fashion-MNIST files (CYDL_DATA_DIR or ../shared/data, else a
download), or with --synthetic, random data of the same shape is used.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

import cydl  # noqa: E402
from cydl import layers  # noqa: E402

ALL_VARIANTS = ("none", "checkpoint", "tensorboard", "tensorboard_hist", "tensorboard_batch")


def load(samples, synthetic):
    if not synthetic:
        try:
            (x_full, y_full), _ = cydl.datasets.fashion_mnist.load_data()
            x_train, y_train = x_full[:-5000] / 255.0, y_full[:-5000]
            x_valid, y_valid = x_full[-5000:] / 255.0, y_full[-5000:]
            return x_train[:samples], y_train[:samples], x_valid, y_valid, "Fashion-MNIST"
        except FileNotFoundError as e:
            print(f"Fashion-MNIST not available, using random data ({e})", file=sys.stderr)
    rng = np.random.default_rng(0)
    n = min(samples, 55000)
    return (rng.random((n, 28, 28)), rng.integers(0, 10, n),
            rng.random((5000, 28, 28)), rng.integers(0, 10, 5000), "random")


def make_model():
    cydl.utils.set_random_seed(42)
    model = cydl.Sequential([
        layers.Input(shape=(28, 28)),
        layers.Flatten(),
        layers.Dense(300, activation="relu"),
        layers.Dense(100, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd",
                  metrics=["accuracy"])
    return model


def callbacks_for(variant, folder, run):
    cb = cydl.callbacks
    if variant == "none":
        return []
    if variant == "checkpoint":
        return [cb.ModelCheckpoint(os.path.join(folder, "ckpt.keras"))]
    log_dir = os.path.join(folder, "logs", f"{variant}_{run}")
    if variant == "tensorboard":
        return [cb.TensorBoard(log_dir)]
    if variant == "tensorboard_hist":
        return [cb.TensorBoard(log_dir, histogram_freq=1)]
    if variant == "tensorboard_batch":
        return [cb.TensorBoard(log_dir, update_freq="batch")]
    raise ValueError(f"unknown variant {variant!r}; choose from {', '.join(ALL_VARIANTS)}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--samples", type=int, default=55000,
                    help="training samples (the book uses all 55,000)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--variants", default="none,checkpoint,tensorboard",
                    help=f"comma-separated, from {','.join(ALL_VARIANTS)}")
    ap.add_argument("--synthetic", action="store_true", help="random data, no files needed")
    ap.add_argument("--json", help="also write the results to this JSON file")
    args = ap.parse_args(argv)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    if "none" not in variants:
        variants.insert(0, "none")
    for v in variants:
        if v not in ALL_VARIANTS:
            ap.error(f"unknown variant {v!r}; choose from {', '.join(ALL_VARIANTS)}")
    if args.epochs < 1 or args.samples < 32 or args.rounds < 1:
        ap.error("--epochs and --rounds must be >= 1, --samples >= 32")

    x, y, xv, yv, source = load(args.samples, args.synthetic)
    folder = tempfile.mkdtemp(prefix="cydl-bench-callbacks-")
    try:
        import_s = None
        if any(v.startswith("tensorboard") for v in variants):
            t0 = time.perf_counter()
            cydl.callbacks.TensorBoard(os.path.join(folder, "probe"))   # imports the writer
            import_s = time.perf_counter() - t0
        # warm-up: kernels, workspaces and the first save/log outside the timings
        for v in variants:
            make_model().fit(x[:2048], y[:2048], epochs=1, verbose=0,
                             validation_data=(xv[:512], yv[:512]),
                             callbacks=callbacks_for(v, folder, "warmup"))
        times = {v: [] for v in variants}
        for r in range(args.rounds):
            order = variants if r % 2 == 0 else variants[::-1]
            for v in order:
                model = make_model()
                cbs = callbacks_for(v, folder, r)
                t0 = time.perf_counter()
                model.fit(x, y, epochs=args.epochs, validation_data=(xv, yv), verbose=0,
                          callbacks=cbs)
                times[v].append(time.perf_counter() - t0)
                print(f"round {r + 1}/{args.rounds} {v:18s} {times[v][-1]:7.2f} s",
                      file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    base = np.array(times["none"])
    results = {"data": source, "epochs": args.epochs, "samples": len(x),
               "rounds": args.rounds, "tensorboard_import_s": import_s, "variants": {}}
    print(f"\n{source}: {len(x)} samples, {args.epochs} epochs, {args.rounds} rounds "
          f"(interleaved, ABBA)")
    print(f"{'variant':18s} {'median s':>9s} {'added':>8s}  target < 5%")
    for v in variants:
        t = np.array(times[v])
        added = float(np.median(t / base - 1.0)) * 100
        results["variants"][v] = {"times_s": t.tolist(), "median_s": float(np.median(t)),
                                  "added_percent": added}
        verdict = "" if v == "none" else ("ok" if added < 5 else "OVER")
        print(f"{v:18s} {np.median(t):9.2f} {added:+7.1f}%  {verdict}")
    if import_s is not None:
        print(f"(TensorBoard's one-time writer import, not in the timings: {import_s:.2f} s)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == "__main__":
    main()
