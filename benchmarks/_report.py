"""What the suites share: the run's settings, the lines they report, and formatting."""
import os
import statistics

from _harness import fmt_rate


class Context:
    """One invocation of run.py: its settings, the raw results the suites leave for
    each other (`results`: peak reads the table's), and the Markdown lines of the
    suite now running (`emit` also prints them at once)."""

    def __init__(self, args, machine, command, quiet):
        self.args = args
        self.machine = machine
        self.command = command
        self.load_at_start, self.quiet = os.getloadavg()[0], quiet
        self.quick = args.quick
        self.threads = args.threads
        # the thread counts PyTorch and JAX are tried at; the best one is reported
        self.peer_threads = sorted({1, args.threads})
        self.rounds, self.windows, self.samples = args.rounds, args.windows, args.samples
        self.results = {}
        self.lines = []

    def emit(self, line=""):
        print(line, flush=True)
        self.lines.append(line)

    @staticmethod
    def log(msg):
        """Progress: printed, not written to RESULTS.md."""
        print(f"  {msg}", flush=True)


def ok(result):
    return bool(result) and "error" not in result


def best(by_threads, key="samples_per_s", lower=False):
    """The best of one round's results at several thread counts: (result, threads)."""
    good = [(r, t) for t, r in by_threads.items() if ok(r)]
    if not good:
        return None, None
    pick = min if lower else max
    return pick(good, key=lambda rt: rt[0][key])


def majority(threads):
    """The thread count that won most rounds, as a label ('1T'), or '' if none ran."""
    threads = [t for t in threads if t]
    return f"{statistics.mode(threads)}T" if threads else ""


def values_cell(values, fmt=fmt_rate):
    """Median of the rounds and [min-max], or '-' when nothing ran."""
    if not values:
        return "-"
    if len(values) == 1:
        return fmt(values[0])
    return f"{fmt(statistics.median(values))} [{fmt(min(values))}-{fmt(max(values))}]"


def ratio_cell(ratios):
    if not ratios:
        return "-"
    med = statistics.median(ratios)
    if len(ratios) == 1:
        return f"{med:.2f}x"
    return f"{med:.2f}x [{min(ratios):.2f}-{max(ratios):.2f}]"


def errors(ctx, failures):
    """Report failed measurements under a table (the first line of each error)."""
    for what, err in failures:
        ctx.emit(f"- FAILED: {what}: {err}")
    if failures:
        ctx.emit("")
