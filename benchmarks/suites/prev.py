"""Every row of the table, this tree against the previous commit (a second checkout,
built in place), in fresh processes paired ABBA: the least noisy way to see a few
percent on a shared machine."""
import os
import subprocess
import sys

from _harness import HERE, ROOT, commit, run
from _report import errors, ok, ratio_cell, values_cell
from suites import table


def _check_tree(prev):
    """Why `prev` cannot be measured, or None. Its cydl must import from that tree
    (not fall back to this one or to an installed copy)."""
    if not prev:
        return "no previous checkout given (--prev PATH)"
    if not os.path.isdir(os.path.join(prev, "cydl")):
        return f"{prev} has no cydl/ folder"
    env = dict(os.environ, PYTHONPATH=prev)
    p = subprocess.run([sys.executable, "-c", "import os, cydl; print(os.path.realpath("
                        "os.path.dirname(cydl.__file__)))"], capture_output=True, text=True,
                       env=env, cwd=HERE)
    if p.returncode != 0:
        tail = p.stderr.strip().splitlines()[-1:] or ["?"]
        return f"cydl does not import from {prev} (not built in place?): {tail[0]}"
    if p.stdout.strip() != os.path.realpath(os.path.join(prev, "cydl")):
        return f"PYTHONPATH={prev} imports cydl from {p.stdout.strip()}"
    return None


def _one(ctx, row, tree):
    if row == "latency":
        return run("cydl_predict1", tree=tree, threads=ctx.threads, windows=ctx.windows,
                   reps=200 if ctx.quick else 5000)
    return run("cydl_train", tree=tree, threads=ctx.threads, **table.train_args(ctx, *row))


def _check_file(res, tree):
    """A result whose cydl came from another tree is an error, not a number."""
    want = os.path.realpath(os.path.join(tree, "cydl"))
    if ok(res) and os.path.realpath(res.get("cydl_file", "")) != want:
        return {"error": f"ran cydl from {res.get('cydl_file')}, not {want}"}
    return res


def main(ctx):
    prev = os.path.abspath(ctx.args.prev) if ctx.args.prev else None
    why = _check_tree(prev)
    if why:
        ctx.emit(f"Skipped: {why}. Make one with `git worktree add --detach ../wt-prev HEAD~1` "
                 "and `python setup.py build_ext --inplace` in it.")
        ctx.emit("")
        return
    pairs = ctx.args.pairs
    rows = list(table.ROWS) + ["latency"]
    got = {(row, tree): [] for row in rows for tree in ("this", "prev")}
    trees = {"this": ROOT, "prev": prev}
    for p in range(pairs):
        for row in rows:
            for tree in (("this", "prev") if p % 2 == 0 else ("prev", "this")):
                res = _check_file(_one(ctx, row, trees[tree]), trees[tree])
                got[(row, tree)].append(res)
                ctx.log(f"pair {p + 1}, {row if row == 'latency' else table.row_name(*row)}, "
                        f"{tree}: " + (f"{res.get('samples_per_s', res.get('call_us')):,.1f}"
                                       if ok(res) else f"FAILED {res['error']}"))
    ctx.emit(f"This tree ({commit(ROOT)}) against the previous checkout {prev} "
             f"({commit(prev)}): {pairs} pair(s) of fresh processes per row, the two in "
             f"alternating order (ABBA); cydl at {ctx.threads} threads, the table's workload. "
             "Ratio: median of the per-pair ratios [min-max]; above 1 means this tree is "
             "faster.")
    ctx.emit("")
    ctx.emit("| row | this tree | previous | this / previous |")
    ctx.emit("|---|---:|---:|---:|")
    failures = []
    for row in rows:
        key = "call_us" if row == "latency" else "samples_per_s"
        a, b = got[(row, "this")], got[(row, "prev")]
        name = ("1-sample `model(x)` latency, us" if row == "latency" else
                f"{table.row_name(*row)}, samples/s")
        ratios = [(y[key] / x[key]) if row == "latency" else (x[key] / y[key])
                  for x, y in zip(a, b) if ok(x) and ok(y)]
        fmt = (lambda v: f"{v:.1f}") if row == "latency" else None
        cells = [values_cell([x[key] for x in side if ok(x)], *([fmt] if fmt else []))
                 for side in (a, b)]
        ctx.emit(f"| {name} | {cells[0]} | {cells[1]} | {ratio_cell(ratios)} |")
        failures += [(f"{name} {t}", x["error"]) for t, side in (("this", a), ("prev", b))
                     for x in side if not ok(x)]
    ctx.emit("")
    errors(ctx, failures)
