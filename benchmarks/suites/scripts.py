"""The suites that keep their own script: run as a subprocess, its output printed as it
comes and recorded (Markdown tables as tables, everything else verbatim)."""
import os
import subprocess
import sys

from _harness import HERE, ROOT

# suite: (script, arguments of a full run, arguments of a --quick run, what it measures)
SCRIPTS = {
    "engine": ("bench_engine.py", [], ["--quick", "--rounds", "1", "--windows", "1",
                                       "--samples", "1024", "--prev", ""],
               "the graph engine: BN, dropout, Wide & Deep, the general path vs PyTorch"),
    "custom": ("bench_custom.py", [], ["--rounds", "1", "--windows", "1", "--samples", "1024"],
               "custom cydl.ops layers lowered into the plan, vs built-in and PyTorch"),
    "sklearn": ("bench_sklearn.py", [], ["--tiny"],
                "cydl.sklearn's estimators vs scikit-learn's, same settings"),
    "onnx": ("bench_onnx.py", [], ["--reps", "5", "--windows", "2"],
             "serving: the exported ONNX model in ONNX Runtime vs cydl's own inference"),
    "distribution": ("bench_distribution.py", [], ["--quick"],
                     "data-parallel training over MPI: cost, Allreduce, a scaling model"),
    "contention": ("contention.py", ["--rounds", "3", "--windows", "3"],
                   ["--rounds", "1", "--windows", "1", "--loads", "0"],
                   "training and latency with 0, 1 and 2 busy neighbour processes"),
}


def _markdown(lines):
    """Headings and consecutive table rows stay Markdown; other output goes in text blocks."""
    out, block = [], []

    def flush():
        while block and not block[-1]:
            block.pop()
        if block:
            out.extend(["```text", *block, "```", ""])
            block.clear()
    for i, line in enumerate(lines):
        if line.startswith("#"):                  # the script's headings, under the suite's
            flush()
            out += ["#### " + line.lstrip("# ").strip(), ""]
        elif line.lstrip().startswith("|"):
            flush()
            out.append(line.strip())
            if i + 1 == len(lines) or not lines[i + 1].lstrip().startswith("|"):
                out.append("")
        elif line.strip() or block:
            block.append(line.rstrip())
    flush()
    return out


def suite(name):
    script, full, quick, _ = SCRIPTS[name]

    def main(ctx):
        extra = list(quick if ctx.quick else full)
        if name == "engine" and not ctx.quick:
            extra += ["--prev", os.path.abspath(ctx.args.prev) if ctx.args.prev else ""]
        cmd = [sys.executable, os.path.join(HERE, script), *extra]
        env = dict(os.environ)
        env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH")
                                    else "")
        shown = " ".join(["python", f"benchmarks/{script}", *(a or "''" for a in extra)])
        ctx.log(f"$ {shown}")
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, env=env, cwd=HERE)
        lines = []
        for line in proc.stdout:
            print("  | " + line.rstrip(), flush=True)
            lines.append(line.rstrip("\n"))
        code = proc.wait()
        print(flush=True)
        ctx.lines += [f"`{shown}`", ""] + _markdown(lines)
        if code:
            ctx.lines += [f"- FAILED: the script exited with code {code}", ""]
    return main
