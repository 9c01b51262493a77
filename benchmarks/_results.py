"""benchmarks/RESULTS.md: the latest run at the top, rewritten suite by suite; the
recorded history below it, kept as it is."""
import os
import re

START = "<!-- run.py: latest run -->"
END = "<!-- run.py: end of latest run -->"
SUITE = re.compile(r"<!-- suite: (\w+) -->\n(.*?)<!-- suite end -->\n", re.S)
HEADER = [
    "# cydl benchmark results", "",
    "`python benchmarks/run.py [suite ...]` rewrites the part between the two markers below: "
    "the machine of its latest invocation, then one section per suite, each stamped with the "
    "run it comes from (a suite that was not run again keeps its section from an earlier "
    "run). Everything after the second marker is the recorded history, kept as it is. "
    "benchmarks/README.md says what each suite measures and how.", ""]


def machine_lines(m, ctx):
    cores = "?"
    if m.get("Core(s) per socket", "").isdigit() and m.get("Socket(s)", "").isdigit():
        cores = int(m["Core(s) per socket"]) * int(m["Socket(s)"])
    return [
        f"- date: {m.get('date')}; commit {m.get('commit')}; command: `{ctx.command}`",
        f"- CPU: {m.get('Model name', '?')}: {cores} cores, {m.get('CPU(s)', '?')} hardware "
        f"threads ({m.get('Thread(s) per core', '?')} per core), {m.get('cpus_usable')} usable "
        f"here; L2 {m.get('L2 cache', '?')}, L3 {m.get('L3 cache', '?')}; {m.get('Flags', '')}",
        f"- {m.get('platform')}, Python {m.get('python')}",
        f"- cydl {m.get('cydl')} (OpenMP {'on' if m.get('openmp') else 'off'}; SIMD variant "
        f"{m.get('simd', '?')} of {', '.join(m.get('simd_available') or ['?'])}); numpy "
        f"{m.get('numpy')}, scipy {m.get('scipy')}, torch {m.get('torch')}, jax {m.get('jax')} "
        f"(jaxlib {m.get('jaxlib')}), optax {m.get('optax')}",
        f"- BLAS (scipy.linalg.cython_blas, what cydl calls): {m.get('blas')}",
        f"- threads: cydl {ctx.threads} (`cydl.set_num_threads`); PyTorch and JAX at "
        f"{' and '.join(map(str, ctx.peer_threads))}, the better one reported",
        f"- load average at start {ctx.load_at_start:.2f} ({'quiet' if ctx.quiet else 'busy'} "
        "by the 1-minute average per core); one framework per process throughout"]


def stamp(m, ctx):
    return (f"*Run {m.get('date')}, commit {m.get('commit')}, {m.get('Model name', '?')} "
            f"({m.get('cpus_usable')} usable CPUs), cydl {ctx.threads} threads: "
            f"`{ctx.command}`.*")


def _parse(text):
    """The suite sections of the latest run, and the history after it."""
    if START not in text or END not in text:
        return {}, text.strip()          # a file from before run.py: all of it is history
    latest, history = text.split(START, 1)[1].split(END, 1)
    return {name: body for name, body in SUITE.findall(latest)}, history.strip()


def write(path, machine, ctx, sections, order, titles):
    """Rewrite `path`: this invocation's machine, its suites' `sections` (name: lines),
    the other suites' sections from the file as they were, then the history."""
    text = open(path).read() if os.path.exists(path) else ""
    kept, history = _parse(text)
    for name, lines in sections.items():
        kept[name] = "\n".join([f"### {titles[name]}", "", stamp(machine, ctx), "",
                                *lines]).rstrip() + "\n\n"
    out = HEADER + [START, "## Latest run", "", *machine_lines(machine, ctx), ""]
    for name in order:
        if name in kept:
            out += [f"<!-- suite: {name} -->", kept[name].rstrip("\n") + "\n",
                    "<!-- suite end -->"]
    out += [END, "", history, ""]
    with open(path, "w") as f:
        f.write("\n".join(out))
