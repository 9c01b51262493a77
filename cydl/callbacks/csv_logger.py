"""CSVLogger."""
import csv
import os

from cydl.callbacks.base import Callback
from cydl.distribution._state import is_chief


class CSVLogger(Callback):
    """Write one CSV row per epoch: the epoch number and every log value.

    In a data-parallel run (cydl.distribution) process 0 writes the file; the
    others do nothing (their logs are the same).

    Args:
        filename: the CSV file.
        separator: the field separator (default ",").
        append: add to an existing file instead of starting a new one.

    Example:
    >>> model.fit(x, y, epochs=10, callbacks=[cydl.callbacks.CSVLogger("training.csv")])
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(f"CSVLogger: `separator` must be one character. Received: "
                             f"separator={separator!r}")
        self.filename, self.sep, self.append = os.fspath(filename), separator, append
        self._file = self._writer = self._keys = None

    def on_train_begin(self, logs=None):
        self._file = self._writer = self._keys = None
        if not is_chief():
            return
        resume = self.append and os.path.exists(self.filename) and \
            os.path.getsize(self.filename) > 0
        self._keys = None
        if resume:
            with open(self.filename, newline="") as f:
                header = next(csv.reader(f, delimiter=self.sep), None)
            self._keys = header[1:] if header and header[0] == "epoch" else None
        self._file = open(self.filename, "a" if self.append else "w", newline="")

    def on_epoch_end(self, epoch, logs=None):
        if self._file is None:       # not process 0 of a data-parallel run
            return
        logs = logs or {}
        if self._keys is None:
            self._keys = sorted(logs)
            self._writer = csv.writer(self._file, delimiter=self.sep)
            self._writer.writerow(["epoch"] + self._keys)
        elif self._writer is None:
            self._writer = csv.writer(self._file, delimiter=self.sep)
        self._writer.writerow([epoch] + [logs.get(k, "NA") for k in self._keys])
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
        self._file = self._writer = None
