"""cydl's SGD step against the GEMM floor (what BLAS alone takes for exactly the
step's GEMMs), at the run's thread count and at 1 thread, and the NumPy reference
(cydl._ops._reference, the kernels' specification, not an optimized baseline)."""
from _harness import fmt_rate, run
from _report import errors, ok, ratio_cell, values_cell
from suites.table import NET_NAMES

CONFIGS = [("mlp", 32), ("mlp", 128), ("mlp", 512), ("deep", 32)]


def main(ctx):
    thread_counts = sorted({ctx.threads, 1}, reverse=True)
    got = {c: [] for c in CONFIGS}
    for r in range(ctx.rounds):
        for net, batch in (CONFIGS if r % 2 == 0 else CONFIGS[::-1]):
            res = {}
            for t in thread_counts:
                res[("cydl", t)] = run("cydl_train", net=net, batch=batch, opt="sgd", threads=t,
                                       windows=ctx.windows, n=ctx.samples)
                res[("floor", t)] = run("gemm_floor", net=net, batch=batch, threads=t,
                                        windows=ctx.windows)
            got[(net, batch)].append(res)
            ctx.log(f"round {r + 1}, {net} b{batch} done")
    ms = lambda v: f"{v:.3f}"  # noqa: E731
    ctx.emit("SGD step times (ms, median of rounds [min-max]); the floor is the faster of "
             "numpy's and scipy's OpenBLAS, each in its faster layout, on the step's GEMMs: "
             "`X W`, `X^T dY`, and `dY W^T` except for the first layer. `x floor` is taken "
             "within a round.")
    ctx.emit("")
    head = " | ".join(f"cydl {t}T | floor {t}T | x floor {t}T" for t in thread_counts)
    ctx.emit(f"| network | batch | {head} | {thread_counts[0]}T / 1T | NumPy reference |")
    ctx.emit("|---|---:|" + "---:|" * (3 * len(thread_counts) + 2))
    failures = []
    for (net, batch), rounds in got.items():
        cells = []
        for t in thread_counts:
            pairs = [(x[("cydl", t)], x[("floor", t)]) for x in rounds]
            good = [(c, f) for c, f in pairs if ok(c) and ok(f)]
            failures += [(f"{net} b{batch} {t}T", x["error"]) for p in pairs for x in p
                         if not ok(x)]
            cells += [values_cell([c["step_ms"] for c, _ in good], ms),
                      values_cell([f["step_ms"] for _, f in good], ms),
                      ratio_cell([c["step_ms"] / f["step_ms"] for c, f in good])]
        scale = [x[("cydl", 1)]["step_ms"] / x[("cydl", thread_counts[0])]["step_ms"]
                 for x in rounds if ok(x[("cydl", 1)]) and ok(x[("cydl", thread_counts[0])])]
        ref = run("numpy_train", net=net, batch=batch, opt="sgd", threads=ctx.threads,
                  windows=ctx.windows)
        ref_cell = f"{fmt_rate(ref['samples_per_s'])} samples/s" if ok(ref) else "FAILED"
        ctx.emit(f"| {NET_NAMES[net]} | {batch} | " + " | ".join(cells) +
                 f" | {ratio_cell(scale)} | {ref_cell} |")
    ctx.emit("")
    errors(ctx, failures)
