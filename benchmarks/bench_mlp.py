"""Training throughput of 784-300-100-10 (ReLU, softmax CE, SGD) at batch 32, 128
and 512, on 1 and 2 threads: cydl (model.fit) next to PyTorch eager (when
installed), the NumPy reference (cydl._ops._reference) and the GEMM-only floor.

    python benchmarks/bench_mlp.py [--windows 7] [--no-numpy]

Samples/s are medians over repeated windows; "x floor" is cydl's step time over
the GEMM floor's (the faster of numpy's and scipy's OpenBLAS on exactly the step's
GEMMs, at the same thread count).
"""
import argparse

from _harness import fmt_rate, have_torch, machine, run, wait_for_quiet


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--windows", type=int, default=7)
    ap.add_argument("--no-numpy", action="store_true")
    args = ap.parse_args()
    wait_for_quiet()
    m = machine()
    print(f"# {m.get('Model name', '?')}, {m.get('CPU(s)', '?')} CPUs; cydl {m.get('cydl')}, "
          f"numpy {m.get('numpy')}, scipy {m.get('scipy')}, torch {m.get('torch')}")
    print(f"# BLAS: {m.get('blas')}")
    torch = have_torch()
    print("| batch | threads | cydl samples/s | step ms | GEMM floor ms | x floor "
          "| PyTorch samples/s | cydl / PyTorch | NumPy ref samples/s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for batch in (32, 128, 512):
        for threads in (1, 2):
            c = run("cydl_train", net="mlp", batch=batch, opt="sgd", threads=threads,
                    windows=args.windows)
            f = run("gemm_floor", net="mlp", batch=batch, threads=threads, windows=args.windows)
            t = run("torch_train", net="mlp", batch=batch, opt="sgd", threads=threads,
                    windows=args.windows) if torch else {}
            n = {} if args.no_numpy else run("numpy_train", net="mlp", batch=batch, opt="sgd",
                                             threads=threads)
            ratio = c["step_ms"] / f["step_ms"]
            tr = f"{c['samples_per_s'] / t['samples_per_s']:.2f}x" if "samples_per_s" in t else "-"
            print(f"| {batch} | {threads} | {fmt_rate(c['samples_per_s'])} | {c['step_ms']:.3f} "
                  f"| {f['step_ms']:.3f} | {ratio:.2f} "
                  f"| {fmt_rate(t['samples_per_s']) if 'samples_per_s' in t else '-'} | {tr} "
                  f"| {fmt_rate(n['samples_per_s']) if 'samples_per_s' in n else '-'} |",
                  flush=True)


if __name__ == "__main__":
    main()
