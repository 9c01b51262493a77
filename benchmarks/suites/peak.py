"""Batch 128 and 512 as a fraction of the machine's GEMM rate: achieved GFLOP/s of
the training rows over SGEMM 2048^3 through scipy's BLAS (the OpenBLAS cydl calls),
measured in the same run."""
from _harness import run
from _report import best, errors, ok, values_cell
from _workload import NETS
from suites import table

BATCHES = (128, 512)


def flop_terms(sizes):
    """GEMM FLOP of one training sample: forward, weight gradients, and the input
    gradients of every layer but the first (nobody needs the gradient of the data)."""
    pairs = list(zip(sizes[:-1], sizes[1:]))
    forward = 2 * sum(a * b for a, b in pairs)
    input_grads = 2 * sum(a * b for a, b in pairs[1:])
    return forward, forward, input_grads


def formula(sizes):
    """The derivation, written out with the numbers."""
    pairs = list(zip(sizes[:-1], sizes[1:]))
    terms = " + ".join(f"{a}·{b}" for a, b in pairs)
    later = " + ".join(f"{a}·{b}" for a, b in pairs[1:])
    f, w, x = flop_terms(sizes)
    return (f"forward 2·({terms}) = {f:,} + weight gradients, the same, {w:,} + input "
            f"gradients of layers 2-{len(pairs)} 2·({later}) = {x:,}; total {f + w + x:,} "
            f"FLOP ≈ {(f + w + x) / 1e6:.2f} MFLOP per sample")


def sgemm(ctx, threads):
    size = 512 if ctx.quick else 2048
    return run("sgemm_rate", threads=threads, size=size, windows=max(2, ctx.windows))


def main(ctx):
    sizes = NETS["mlp"]
    per_sample = sum(flop_terms(sizes))
    rows = [("mlp", b, o) for b in BATCHES for o in ("sgd", "adam")]
    if "table" not in ctx.results:          # measured here when the table did not run
        peers = table.available_peers(ctx)
        rounds = [table.measure_round(ctx, r, rows, peers) for r in range(ctx.rounds)]
        ctx.results["table"] = {row: [rd[row] for rd in rounds] for row in rows}
    rates = {t: sgemm(ctx, t) for t in ctx.peer_threads}
    peak = rates[ctx.threads]
    size = peak.get("size", 512 if ctx.quick else 2048)
    ctx.emit(f"One training sample of the MLP {'-'.join(map(str, sizes))} costs, in its "
             f"GEMMs: {formula(sizes)} (biases, activations, the loss and the optimizer "
             "update are left out: they are O(units), not O(weights)).")
    ctx.emit("")
    ctx.emit(f"SGEMM {size}³ through `scipy.linalg.blas.sgemm` (median of windows): " + ", ".join(
        f"{t} thread(s) {r['gflops']:.1f} GFLOP/s" if ok(r) else f"{t} thread(s) FAILED"
        for t, r in rates.items()) + f". Fractions below are of the {ctx.threads}-thread "
        "rate; GFLOP/s = samples/s × FLOP per sample; PyTorch and JAX at their best thread "
        "count of each round, as in the table.")
    ctx.emit("")
    if not ok(peak):
        errors(ctx, [("SGEMM", peak["error"])])
        return
    ctx.emit("| row | cydl GFLOP/s | cydl % of SGEMM | PyTorch GFLOP/s | PyTorch % "
             "| JAX GFLOP/s | JAX % |")
    ctx.emit("|---|---:|---:|---:|---:|---:|---:|")
    g = lambda v: f"{v:.1f}"  # noqa: E731
    pct = lambda v: f"{v:.0f} %"  # noqa: E731
    for row in rows:
        rs = ctx.results["table"][row]
        cells = []
        for who in ("cydl", "torch", "jax"):
            if who == "cydl":
                vals = [x["cydl"]["samples_per_s"] for x in rs if ok(x["cydl"])]
            else:
                vals = [b["samples_per_s"] for b, _ in (best(x.get(who, {})) for x in rs) if b]
            gf = [v * per_sample / 1e9 for v in vals]
            cells += [values_cell(gf, g), values_cell([v / peak["gflops"] * 100 for v in gf],
                                                       pct)]
        ctx.emit(f"| {table.row_name(*row)} | " + " | ".join(cells) + " |")
    ctx.emit("")
