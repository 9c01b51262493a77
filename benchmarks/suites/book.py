"""The book's run (Hands-On ML ch. 10, examples/fashion_mnist_ch10.py's model):
Fashion-MNIST, 784-300-100-10, SGD, batch 32, 30 epochs with validation each epoch;
wall time and peak RSS, cydl against PyTorch eager, in one run."""
import os

from _harness import ROOT, run
from _report import best, errors, ok, values_cell

FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def data_dir():
    """The folder holding fashion-mnist/ (CYDL_DATA_DIR, else ../shared/data next to
    the checkout), or None: the suite never downloads."""
    for base in (os.environ.get("CYDL_DATA_DIR"),
                 os.path.join(os.path.dirname(ROOT), "shared", "data")):
        if base and all(os.path.exists(os.path.join(base, "fashion-mnist", f)) for f in FILES):
            return os.path.abspath(base)
    return None


def main(ctx):
    base = data_dir()
    if base is None:
        ctx.emit("Skipped: the Fashion-MNIST files are not in $CYDL_DATA_DIR/fashion-mnist "
                 "nor in ../shared/data/fashion-mnist.")
        ctx.emit("")
        return
    os.environ["CYDL_DATA_DIR"] = base          # the workers read it; nothing downloads
    epochs = 1 if ctx.quick else 30
    with_torch = ctx.machine.get("torch") != "not installed"
    runs = []
    for r in range(ctx.args.book_rounds):
        jobs = [("cydl", ctx.threads)] + ([("torch", t) for t in ctx.peer_threads]
                                          if with_torch else [])
        got = {}
        for who, t in (jobs if r % 2 == 0 else jobs[::-1]):
            got[(who, t)] = run(f"{who}_ch10", threads=t, epochs=epochs)
            res = got[(who, t)]
            ctx.log(f"round {r + 1}, {who} {t}T: " + (f"{res['wall_s']:.1f} s" if ok(res)
                                                      else f"FAILED {res['error']}"))
        runs.append(got)
    ctx.emit(f"{epochs} epoch(s) of 55,000 images (the book's float64 `/ 255.` data), batch 32, "
             "SGD(0.01), validation on 5,000 images each epoch; fresh process each; "
             f"{ctx.args.book_rounds} round(s), median [min-max]. Wall time is the training "
             "loop (`fit`, or PyTorch's epochs with the same validation pass); peak RSS is the "
             "whole process' (ru_maxrss: data loading included), then the RSS training "
             "started from and the peak during training.")
    ctx.emit("")
    ctx.emit("| | training wall time, s | test accuracy | peak RSS, MB | RSS before training, "
             "MB | peak during training, MB |")
    ctx.emit("|---|---:|---:|---:|---:|---:|")
    f0, f1, f2, f4 = (lambda v: f"{v:.0f}"), (lambda v: f"{v:.1f}"), (lambda v: f"{v:.2f}"), \
        (lambda v: f"{v:.4f}")
    for who, t in runs[0]:
        rs = [g[(who, t)] for g in runs if ok(g[(who, t)])]
        name = f"cydl, {t} threads" if who == "cydl" else f"PyTorch eager, {t} thread(s)"
        cells = [values_cell([x[k] for x in rs], f) for k, f in
                 (("wall_s", f1), ("test_accuracy", f4), ("peak_rss_mb", f0),
                  ("rss_before_fit_mb", f0), ("peak_rss_during_fit_mb", f0))]
        ctx.emit(f"| {name} | " + " | ".join(cells) + " |")
    ctx.emit("")
    if with_torch:
        ratios = []
        for g in runs:
            c = g[("cydl", ctx.threads)]
            b, _ = best({t: g[("torch", t)] for t in ctx.peer_threads}, "wall_s", lower=True)
            if ok(c) and b:
                ratios.append((c["wall_s"] / b["wall_s"], c["peak_rss_mb"] / b["peak_rss_mb"]))
        if ratios:
            ctx.emit(f"cydl / PyTorch's best: wall time {values_cell([r[0] for r in ratios], f2)}"
                     f", peak RSS {values_cell([r[1] for r in ratios], f2)}.")
            ctx.emit("")
    errors(ctx, [(f"{who} {t}T", g[(who, t)]["error"]) for g in runs for who, t in g
                 if not ok(g[(who, t)])])
