"""The issue's table: whole `fit` epochs, cydl against PyTorch eager and against JAX
jitting the whole epoch, and 1-sample latency against PyTorch's no_grad forward."""
from _harness import run
from _report import best, errors, majority, ok, ratio_cell, values_cell

ROWS = [("mlp", 32, "sgd"), ("mlp", 32, "adam"), ("mlp", 128, "sgd"), ("mlp", 128, "adam"),
        ("mlp", 512, "sgd"), ("mlp", 512, "adam"), ("deep", 32, "sgd"), ("deep", 32, "adam")]
NET_NAMES = {"mlp": "MLP 784-300-100-10", "deep": "deep 784-20x100-10"}
OPT_NAMES = {"sgd": "SGD", "adam": "Adam"}
PEERS = {"torch": "torch_train", "jax": "jax_train"}


def row_name(net, batch, opt):
    return f"{NET_NAMES[net]}, b{batch}, {OPT_NAMES[opt]}"


def train_args(ctx, net, batch, opt):
    return {"net": net, "batch": batch, "opt": opt, "windows": ctx.windows, "n": ctx.samples}


def measure_round(ctx, r, rows, peers):
    """One round: every row, each framework in its own process; the order of rows and
    of frameworks reverses every other round so that drift falls on all alike."""
    out = {}
    for net, batch, opt in (rows if r % 2 == 0 else rows[::-1]):
        args = train_args(ctx, net, batch, opt)
        jobs = [("cydl", None)] + [(p, t) for p in peers for t in ctx.peer_threads]
        got = {}
        for who, t in (jobs if r % 2 == 0 else jobs[::-1]):
            k = t or ctx.threads
            res = run("cydl_train" if who == "cydl" else PEERS[who], threads=k, **args)
            got.setdefault(who, {})[k] = res
            what = f"round {r + 1}, {row_name(net, batch, opt)}, {who} {k}T"
            ctx.log(f"{what}: {res['samples_per_s']:,.0f} samples/s" if ok(res) else
                    f"{what}: FAILED {res['error']}")
        out[(net, batch, opt)] = {"cydl": got["cydl"][ctx.threads],
                                  **{p: got[p] for p in peers}}
    return out


def measure_latency(ctx, with_torch):
    reps = 200 if ctx.quick else 5000
    rounds = []
    for r in range(ctx.rounds):
        c = run("cydl_predict1", threads=ctx.threads, windows=ctx.windows, reps=reps)
        t = {k: run("torch_predict1", threads=k, windows=ctx.windows, reps=reps)
             for k in ctx.peer_threads} if with_torch else {}
        rounds.append({"cydl": c, "torch": t})
        ctx.log(f"round {r + 1}, 1-sample latency, cydl: " +
                (f"{c['call_us']:.1f} us" if ok(c) else f"FAILED {c['error']}"))
    return rounds


def available_peers(ctx):
    m = ctx.machine
    return ([p for p in ("torch",) if m.get("torch") != "not installed"] +
            [p for p in ("jax",) if "not installed" not in (m.get("jax"), m.get("optax"))])


def main(ctx):
    peers = available_peers(ctx)
    rounds = [measure_round(ctx, r, ROWS, peers) for r in range(ctx.rounds)]
    ctx.results["table"] = {row: [rd[row] for rd in rounds] for row in ROWS}
    lat = measure_latency(ctx, "torch" in peers)
    ctx.results["latency"] = lat
    th = "/".join(str(t) for t in ctx.peer_threads)
    ctx.emit(f"Samples/s of whole `fit` epochs ({ctx.samples:,} random float32 samples, one "
             f"warm-up epoch then the median of {ctx.windows} timed epoch(s) per process), median "
             f"of {ctx.rounds} interleaved rounds [min-max of the rounds]; ratios are taken "
             f"within a round. cydl: `model.fit`, {ctx.threads} threads. PyTorch eager: "
             f"randperm, index, forward, CrossEntropyLoss, backward, step; the better of "
             f"{th} threads per round (the usual winner in parentheses). JAX/XLA: the whole "
             f"epoch jitted as one `jax.lax.scan` over the batches of a pre-shuffled epoch, "
             f"optax SGD/Adam, best of {th} threads (cores).")
    ctx.emit("")
    ctx.emit("| row | cydl | PyTorch eager | JAX/XLA (scan over the epoch) | cydl / PyTorch "
             "| cydl / JAX |")
    ctx.emit("|---|---:|---:|---:|---:|---:|")
    failures = []
    for row in ROWS:
        rs = ctx.results["table"][row]
        cydl = [x["cydl"]["samples_per_s"] for x in rs if ok(x["cydl"])]
        failures += [(f"{row_name(*row)} cydl", x["cydl"]["error"]) for x in rs
                     if not ok(x["cydl"])]
        cells, ratios = [], []
        for p in ("torch", "jax"):
            picks = [best(x[p]) if p in x else (None, None) for x in rs]
            vals = [b["samples_per_s"] for b, _ in picks if b]
            failures += [(f"{row_name(*row)} {p} {t}T", res["error"]) for x in rs
                         for t, res in x.get(p, {}).items() if not ok(res)]
            label = majority([t for _, t in picks])
            cells.append(f"{values_cell(vals)} ({label})" if vals else
                         ("not installed" if p not in peers else "FAILED"))
            ratios.append(ratio_cell([x["cydl"]["samples_per_s"] / b["samples_per_s"]
                                      for x, (b, _) in zip(rs, picks) if b and ok(x["cydl"])]))
        ctx.emit(f"| {row_name(*row)} | {values_cell(cydl)} | {cells[0]} | {cells[1]} "
                 f"| {ratios[0]} | {ratios[1]} |")
    ctx.emit("")
    errors(ctx, failures)
    emit_latency(ctx, lat)


def emit_latency(ctx, lat):
    us = lambda v: f"{v:.1f}"  # noqa: E731
    c = [x["cydl"]["call_us"] for x in lat if ok(x["cydl"])]
    picks = [best(x["torch"], "call_us", lower=True) for x in lat]
    t = [b["call_us"] for b, _ in picks if b]
    speed = [b["call_us"] / x["cydl"]["call_us"] for x, (b, _) in zip(lat, picks)
             if b and ok(x["cydl"])]
    ctx.emit("| 1-sample latency, MLP 784-300-100-10 | cydl `model(x)`, us | PyTorch `no_grad` "
             "forward, us | PyTorch / cydl |")
    ctx.emit("|---|---:|---:|---:|")
    ctx.emit(f"| float32, one (1, 784) row | {values_cell(c, us)} "
             f"| {values_cell(t, us)} ({majority([k for _, k in picks])}) "
             f"| {ratio_cell(speed)} |")
    ctx.emit("")
    errors(ctx, [("latency cydl", x["cydl"]["error"]) for x in lat if not ok(x["cydl"])])
