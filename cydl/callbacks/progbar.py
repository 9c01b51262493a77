"""Progress output: a live bar in a terminal, one plain line per epoch elsewhere."""
import logging
import sys
import time

from cydl.callbacks.base import Callback
from cydl.distribution._state import current, is_chief

_logger = logging.getLogger("cydl")


def _fmt_time(seconds):
    return f"{seconds:.0f}s" if seconds >= 1 else f"{seconds * 1e3:.0f}ms"


def _fmt_step(seconds):
    if seconds >= 1:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


def format_logs(logs):
    """'loss: 0.4123 - accuracy: 0.8512 - val_loss: ...' with loss first."""
    keys = sorted(logs, key=lambda k: (k.startswith("val_"), k.removeprefix("val_") != "loss"))
    return " - ".join(f"{k}: {logs[k]:.4f}" for k in keys if isinstance(logs[k], (int, float)))


class ProgbarLogger(Callback):
    """Prints training progress (fit adds it when verbose > 0).

    verbose=1 draws a bar that updates in place when the output is a terminal; in
    a file or CI log it prints one line per epoch, with no control characters.
    verbose=2 always prints one line per epoch. With `use_logging=True` the lines
    go to the "cydl" logger at INFO level instead of a stream.

    Args:
        verbose: 1 or 2.
        stream: where to write (default sys.stdout).
        use_logging: send lines through Python logging.
    """

    def __init__(self, verbose=1, stream=None, use_logging=False):
        super().__init__()
        if isinstance(verbose, bool) or verbose not in (0, 1, 2):
            raise ValueError(f"ProgbarLogger: `verbose` must be 0, 1 or 2. Received: "
                             f"verbose={verbose!r}")
        self.verbose = verbose
        self.stream = stream
        self.use_logging = use_logging
        self._last_draw = 0.0

    def set_params(self, params):
        super().set_params(params)
        # In a data-parallel run the batch logs are sums over the processes, made at
        # each step for a callback that wants them: a bar that is never redrawn (not
        # a terminal, or not process 0) does not ask for them.
        if current() is not None and not (self._live() and is_chief()):
            self.on_train_batch_end = Callback.on_train_batch_end.__get__(self)
        else:
            self.__dict__.pop("on_train_batch_end", None)

    def _out(self):
        return self.stream if self.stream is not None else sys.stdout

    def _live(self):
        return (self.verbose == 1 and not self.use_logging
                and getattr(self._out(), "isatty", lambda: False)())

    def _write_line(self, text):
        if not is_chief():       # a data-parallel run prints from process 0 only
            return
        if self.use_logging:
            _logger.info(text)
        else:
            out = self._out()
            out.write(text + "\n")
            out.flush()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()
        self._steps = self.params.get("steps")
        if self.params.get("epochs"):
            self._write_line(f"Epoch {epoch + 1}/{self.params['epochs']}")

    def _bar(self, step, logs, final):
        total = self._steps or step
        elapsed = time.perf_counter() - self._epoch_start
        per_step = elapsed / max(step, 1)
        width = 20
        done = int(width * step / max(total, 1))
        bar = "━" * done + (" " if done < width else "")
        bar = bar.ljust(width)
        text = f"{step}/{total} {bar} {_fmt_time(elapsed)} {_fmt_step(per_step)}"
        if logs:
            text += " - " + format_logs(logs)
        return text

    def on_train_batch_end(self, batch, logs=None):
        if not self._live() or not is_chief():
            return
        now = time.perf_counter()
        if now - self._last_draw < 0.1:
            return
        self._last_draw = now
        out = self._out()
        out.write("\r" + self._bar(batch + 1, logs, False) + "\x1b[K")
        out.flush()

    def on_epoch_end(self, epoch, logs=None):
        steps = self._steps or 0
        elapsed = time.perf_counter() - self._epoch_start
        if self.verbose == 2 or not self._live():
            text = f"{steps}/{steps} - {_fmt_time(elapsed)} - {_fmt_step(elapsed / max(steps, 1))}"
            if logs:
                text += " - " + format_logs(logs)
            self._write_line(text)
        elif is_chief():
            out = self._out()
            out.write("\r" + self._bar(steps, logs, True) + "\x1b[K\n")
            out.flush()


class EvalProgbar:
    """The one-line summary evaluate() and predict() print when verbose."""

    def __init__(self, verbose):
        self.verbose = verbose
        self.start = time.perf_counter()

    def done(self, steps, logs=None):
        if not self.verbose or not is_chief():
            return
        elapsed = time.perf_counter() - self.start
        text = f"{steps}/{steps} - {_fmt_time(elapsed)} - {_fmt_step(elapsed / max(steps, 1))}"
        if logs:
            text += " - " + format_logs(logs)
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
