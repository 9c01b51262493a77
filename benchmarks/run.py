"""The benchmark runner: prints every table and rewrites benchmarks/RESULTS.md.

    python benchmarks/run.py --prev ../wt-prev        # table peak prev book: the issue's run
    python benchmarks/run.py table peak               # chosen suites
    python benchmarks/run.py all --prev ../wt-prev    # every suite (an hour or more)
    python benchmarks/run.py --quick table            # tiny sizes: proves it runs, writes nothing

Suites:
  table         cydl vs PyTorch eager vs JAX (whole epoch in one lax.scan), 8 training rows
                and 1-sample latency
  peak          batch 128 and 512 as GFLOP/s over the same run's SGEMM 2048^3 rate
  prev          every table row against a previous checkout, fresh processes paired ABBA
  book          the book's 30-epoch Fashion-MNIST run: wall time and peak RSS vs PyTorch
  floor         the SGD step against the GEMM floor, 1 thread, the NumPy reference
  engine custom sklearn onnx distribution contention
                the scripts bench_engine.py, bench_custom.py, bench_sklearn.py,
                bench_onnx.py, bench_distribution.py, contention.py, run as they are

Every measurement runs in a fresh process (workers.py), one framework per process:
PyTorch's and cydl's OpenMP runtimes slow each other down when they share one.
"""
import argparse
import os
import shlex
import sys

from _harness import HERE, machine, wait_for_quiet
from _report import Context
from _results import machine_lines, write
from suites import book, floor, peak, prev, scripts, table

SUITES = {"table": table.main, "peak": peak.main, "prev": prev.main, "book": book.main,
          "floor": floor.main, **{name: scripts.suite(name) for name in scripts.SCRIPTS}}
TITLES = {
    "table": "Training and latency: cydl, PyTorch eager, JAX/XLA",
    "peak": "Batch 128 and 512 against the machine's SGEMM rate",
    "prev": "Against the previous commit",
    "book": "The book's ch. 10 run (Fashion-MNIST, 30 epochs)",
    "floor": "The SGD step against the GEMM floor; 1 thread; the NumPy reference",
    **{name: f"{s[0]}: {s[3]}" for name, s in scripts.SCRIPTS.items()}}
DEFAULT = ["table", "peak", "prev", "book"]


def parse(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0], epilog=__doc__.split(
        "\n", 2)[2], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("suites", nargs="*", metavar="suite",
                    help=f"any of: {', '.join(SUITES)}, all (default: {' '.join(DEFAULT)})")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 1,024-sample epochs, 1 window, 1 round, 1 book epoch; "
                         "does not write RESULTS.md unless --out is given")
    ap.add_argument("--prev", default=None,
                    help="checkout of the previous commit, built in place (prev, engine)")
    ap.add_argument("--threads", type=int, default=min(2, len(os.sched_getaffinity(0))),
                    help="cydl's threads; PyTorch and JAX try 1 and this many (default: 2)")
    ap.add_argument("--rounds", type=int, default=None, help="interleaved rounds (3)")
    ap.add_argument("--windows", type=int, default=None, help="timed epochs per process (5)")
    ap.add_argument("--samples", type=int, default=None, help="samples per epoch (32768)")
    ap.add_argument("--pairs", type=int, default=None, help="ABBA pairs of the prev suite (4)")
    ap.add_argument("--book-rounds", type=int, default=1, help="runs of the book suite")
    ap.add_argument("--out", default=None, help="the results file (benchmarks/RESULTS.md)")
    ap.add_argument("--no-write", action="store_true", help="print only")
    a = ap.parse_args(argv)
    names = a.suites or DEFAULT
    if "all" in names:
        names = list(SUITES)
    unknown = [n for n in names if n not in SUITES]
    if unknown:
        ap.error(f"unknown suite(s) {', '.join(unknown)}; choose from {', '.join(SUITES)}, all")
    a.suites = [n for n in SUITES if n in names]          # canonical order, no repeats
    small = a.quick
    a.rounds = a.rounds or (1 if small else 3)
    a.windows = a.windows or (1 if small else 5)
    a.samples = a.samples or (1024 if small else 32768)
    a.pairs = a.pairs or (1 if small else 4)
    if a.samples % 512:
        ap.error(f"--samples must be a multiple of 512 (every batch size), got {a.samples}")
    if a.threads < 1:
        ap.error(f"--threads must be at least 1, got {a.threads}")
    return a


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse(argv)
    if not args.quick:
        wait_for_quiet()
    quiet = os.getloadavg()[0] / len(os.sched_getaffinity(0)) < 0.3
    m = machine()
    command = " ".join(["python benchmarks/run.py", *(shlex.quote(a) for a in argv)])
    ctx = Context(args, m, command, quiet)
    print(f"# cydl benchmarks: {', '.join(args.suites)}\n")
    print("\n".join(machine_lines(m, ctx)) + "\n", flush=True)
    sections = {}
    for name in args.suites:
        print(f"## {name}: {TITLES[name]}\n", flush=True)
        ctx.lines = []
        SUITES[name](ctx)
        sections[name] = ctx.lines
    out = args.out or (None if args.quick else os.path.join(HERE, "RESULTS.md"))
    if out and not args.no_write:
        write(out, m, ctx, sections, list(SUITES), TITLES)
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
