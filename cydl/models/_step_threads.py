"""The adaptive thread count of the general path (the graph runner), step by step.

The fused plan chooses inside its own step (cydl/_kernels/_adapt.pyx). A graph
runner step calls many kernels, so the choice is made once per step here, with the
same chooser, and applied as a cap on the calling thread's kernels
(`_parallel.set_step_threads`). The kernels still cut their work into as many
pieces as the configured count, so the choice changes the speed, never a result.
"""
import time

from cydl._kernels import _adapt, _parallel


class StepThreads:
    """One ThreadChooser per (mode, batch-size class), as the fused plan keeps."""

    def __init__(self):
        self._choosers = {}

    def begin(self, mode, rows, nmax):
        """Cap this thread's kernels for one step; returns what end() needs, or None
        when the count is fixed (a count the user chose, or one thread)."""
        if nmax <= 1:
            return None
        forced = _adapt.forced_count()
        ch = None
        if forced:
            n = min(forced, nmax)
        elif _adapt.get_adaptive():
            key = (mode, int(rows).bit_length())
            ch = self._choosers.get(key)
            if ch is None:
                ch = self._choosers[key] = _adapt.ThreadChooser()
            n = ch.next_threads(nmax)
        else:
            return None
        prev = _parallel.step_threads()
        _parallel.set_step_threads(n if n < nmax else 0)
        return ch, n, prev, time.perf_counter()

    def end(self, token, rows):
        if token is None:
            return
        ch, n, prev, t0 = token
        seconds = time.perf_counter() - t0
        _parallel.set_step_threads(prev)
        if ch is not None:
            ch.observe(n, seconds, rows)

    def choice(self):
        """What the chooser did, as Plan.thread_choice() reports it."""
        out = []
        for (mode, bits), ch in self._choosers.items():
            d = ch.state()
            d["mode"] = mode
            d["rows"] = f"{1 << (bits - 1)}..{(1 << bits) - 1}" if bits else "0"
            out.append(d)
        return out
