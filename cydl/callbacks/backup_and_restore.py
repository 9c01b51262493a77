"""BackupAndRestore."""
import json
import os
import random
import re
import shutil
import tempfile
import warnings

import numpy as np

from cydl import _config
from cydl.callbacks.base import Callback
from cydl.distribution._state import current, is_chief

_POINTER = "checkpoint.json"
_WEIGHTS = "latest.weights.h5"
_STATE = "training_state.json"
_ORDER = "order.npy"
_FORMAT = "cydl.BackupAndRestore"
_VERSION = 1
_PREFIX = "ckpt-"
_NAME = re.compile(r"^ckpt-[A-Za-z0-9_]+$")     # what a pointer may name: no paths


class BackupAndRestore(Callback):
    """Back up the training state so that an interrupted `fit` resumes where the
    last backup left off.

    As in Keras, the callback saves a backup in `backup_dir` at the end of every
    epoch (or every `save_freq` batches) and, when `fit` starts again with the
    callback and finds a backup, restores it and resumes from the epoch it was
    taken in; a `fit` that completes deletes the backup. Rerun the same script
    after a crash, a kill or a preemption, and training goes on.

    cydl backs up everything the coming steps depend on, so a resumed run ends
    with exactly the weights of an uninterrupted run with the same seed and thread
    count: the weights (BatchNormalization's moving statistics too), the
    optimizer's slots and step count (and so a schedule's position) and its
    learning rate, each Dropout and noise layer's seed and call count, the random
    generators (cydl's, NumPy's global one and Python's) and the row order, so the
    next epochs shuffle as they would have, and the epoch's position. Unlike
    Keras, which restarts the epoch of a mid-epoch backup, a backup taken with an
    integer `save_freq` resumes at the next batch of that epoch, with the epoch's
    running loss and metrics, so its logs are those of the uninterrupted epoch.

    A backup is a folder `backup_dir/ckpt-*` (the weights as `save_weights`
    writes them, JSON and a NumPy array; nothing pickled), and `checkpoint.json`
    names the current one. A new backup is written in full before
    `checkpoint.json` is replaced (atomically) to name it, so a crash during a
    backup leaves the previous one in use.

    Things the backup does not hold, as in Keras: other callbacks' own state
    (EarlyStopping's patience count, ReduceLROnPlateau's) and changes that
    callbacks after this one in the list make in `on_epoch_end` (put this
    callback last when such a callback changes the optimizer). In a data-parallel
    run (cydl.distribution) process 0 writes the backup and every process reads
    it, so `backup_dir` must be on a file system they all share. If `fit` is called
    with other data, batch size or shuffling than the backed-up run, the backup's
    weights and epoch are restored and the epoch starts over, with a warning.

    Args:
        backup_dir: the folder for the backup (created if needed). Give each
            training run its own: another run or callback must not use it.
        save_freq: "epoch" (back up at the end of each epoch), an integer (every
            that many batches, counted across epochs as Keras does), or False
            (never back up; only restore).
        double_checkpoint: also keep the previous backup, and fall back to it when
            the latest cannot be read (e.g. a damaged disk).
        delete_checkpoint: delete the backup (this callback's files, and the
            folder when nothing else is in it) when `fit` completes.

    Example:

    >>> callback = cydl.callbacks.BackupAndRestore(backup_dir="/tmp/backup")
    >>> model.fit(x, y, epochs=10, callbacks=[callback])   # killed during epoch 5
    >>> model.fit(x, y, epochs=10, callbacks=[callback])   # resumes in epoch 5
    """

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False,
                 delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise ValueError("Empty `backup_dir` argument passed")
        if save_freq is not False and save_freq != "epoch" and (
                isinstance(save_freq, bool) or not isinstance(save_freq, (int, np.integer))
                or save_freq < 1):
            raise ValueError(f"Invalid value for argument `save_freq`. Received: "
                             f"save_freq={save_freq!r}. Expected either 'epoch', a positive "
                             f"integer or False.")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq if save_freq in ("epoch", False) else int(save_freq)
        self.double_checkpoint = bool(double_checkpoint)
        self.delete_checkpoint = bool(delete_checkpoint)
        self._batches_since_save = 0
        if isinstance(self.save_freq, int) and self.save_freq is not False:
            # only then a batch hook: fit skips the per-step call (and its logs)
            # for callbacks that do not override one
            self.on_train_batch_end = self._on_train_batch_end

    # ------------------------------------------------------------ hooks
    def on_train_begin(self, logs=None):
        self._batches_since_save = 0
        try:
            self._restore()
        finally:
            _barrier()     # every process has read the backup before 0 writes anew

    def _restore(self):
        state = self._fit_state()
        pointer = self._read_pointer()
        if pointer is None:
            return
        names = [pointer["checkpoint"]] + ([pointer["previous"]] if pointer.get("previous")
                                           else [])
        for i, name in enumerate(names):
            try:
                saved = self._load(os.path.join(self.backup_dir, name))
                break
            except (OSError, ValueError) as e:
                if i + 1 == len(names):
                    raise
                warnings.warn(f"BackupAndRestore: the latest backup cannot be read ({e}); "
                              f"restoring the previous one", stacklevel=2)
        self._resume(state, saved)

    def _on_train_batch_end(self, batch, logs=None):
        self._batches_since_save += 1
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            state = self._fit_state()
            self._save(state.epoch, batch + 1, state)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch + 1, 0, self._fit_state())

    def on_train_end(self, logs=None):
        if self.delete_checkpoint:
            _barrier()
            if is_chief():
                self._delete_all()

    # ------------------------------------------------------------ saving
    def _fit_state(self):
        state = getattr(self.model, "_fit_state", None)
        if state is None:
            raise RuntimeError("BackupAndRestore works inside Model.fit only")
        return state

    def _save(self, epoch, step, state):
        # mid-epoch: the epoch's running sums, for its logs (in a data-parallel run,
        # sums over every process: each takes part, process 0 writes)
        totals = state.totals.state() if step else None
        if not is_chief():
            return
        os.makedirs(self.backup_dir, exist_ok=True)
        old = self._read_pointer(quiet=True)
        folder = tempfile.mkdtemp(prefix=_PREFIX, dir=self.backup_dir)
        try:
            self.model.save_weights(os.path.join(folder, _WEIGHTS))
            training = {
                "format": _FORMAT, "version": _VERSION, "epoch": int(epoch),
                "step": int(step), "n": state.n, "steps": state.steps,
                "batch_size": state.batch_size, "shuffle": state.shuffle,
                "totals": totals,
                "rng": _to_json(_config.rng().bit_generator.state),
                "numpy_rng": _to_json(np.random.get_state(legacy=False)),
                "python_rng": _to_json(random.getstate()),
            }
            _write(os.path.join(folder, _STATE), json.dumps(training).encode())
            if state.order is not None:
                _write(os.path.join(folder, _ORDER), _npy_bytes(state.order))
            _fsync_dir(folder)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        pointer = {"format": _FORMAT, "version": _VERSION,
                   "checkpoint": os.path.basename(folder),
                   "previous": old["checkpoint"] if old and self.double_checkpoint else None}
        # the switch: until this rename the previous backup is the one in use
        _write(os.path.join(self.backup_dir, _POINTER), json.dumps(pointer).encode(),
               atomic=True)
        keep = {pointer["checkpoint"], pointer["previous"]}
        self._delete_folders(keep)

    def _delete_folders(self, keep):
        """Backup folders other than `keep` (older backups, or ones a crash left
        unfinished)."""
        try:
            entries = os.listdir(self.backup_dir)
        except FileNotFoundError:
            return
        for name in entries:
            path = os.path.join(self.backup_dir, name)
            if name not in keep and _NAME.match(name) and os.path.isdir(path) and \
                    not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)

    def _delete_all(self):
        if not os.path.isdir(self.backup_dir):
            return
        self._delete_folders(set())
        for name in os.listdir(self.backup_dir):
            if name == _POINTER or (name.startswith("." + _POINTER + ".") and
                                    name.endswith(".tmp")):
                os.remove(os.path.join(self.backup_dir, name))
        try:
            os.rmdir(self.backup_dir)      # only when nothing else is in it
        except OSError:
            pass

    # ------------------------------------------------------------ restoring
    def _read_pointer(self, quiet=False):
        path = os.path.join(self.backup_dir, _POINTER)
        try:
            with open(path, "rb") as f:
                pointer = json.loads(f.read(1 << 16).decode())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            if quiet:
                return None
            raise ValueError(f"BackupAndRestore: {path!r} cannot be read ({e})") from None
        ok = isinstance(pointer, dict) and pointer.get("format") == _FORMAT and \
            isinstance(pointer.get("checkpoint"), str) and \
            _NAME.match(pointer["checkpoint"]) and \
            (pointer.get("previous") is None or (isinstance(pointer["previous"], str) and
                                                 _NAME.match(pointer["previous"])))
        if not ok:
            if quiet:
                return None
            raise ValueError(f"BackupAndRestore: {path!r} is not a backup written by this "
                             f"callback (give each training run its own backup_dir)")
        return pointer

    def _load(self, folder):
        """The backed-up training state of `folder`, after loading its weights into
        the model. ValueError or OSError when it is damaged."""
        with open(os.path.join(folder, _STATE), "rb") as f:
            data = f.read(1 << 26)
        try:
            saved = json.loads(data.decode())
        except ValueError as e:
            raise ValueError(f"BackupAndRestore: {folder!r}: {_STATE} is not JSON "
                             f"({e})") from None
        _check_state(saved, folder)
        order = None
        if os.path.exists(os.path.join(folder, _ORDER)):
            order = np.load(os.path.join(folder, _ORDER), allow_pickle=False)
            if order.dtype != np.int64 or order.shape != (saved["n"],) or \
                    not np.array_equal(np.sort(order), np.arange(saved["n"])):
                raise ValueError(f"BackupAndRestore: {folder!r}: the saved row order is "
                                 f"not a permutation of the {saved['n']} rows")
        saved["order"] = order
        # last: the model changes only when everything else could be read
        self.model.load_weights(os.path.join(folder, _WEIGHTS))
        return saved

    def _resume(self, state, saved):
        _set_rng_state(saved)
        same = (saved["n"], saved["steps"], saved["batch_size"], saved["shuffle"]) == \
            (state.n, state.steps, state.batch_size, state.shuffle)
        if not same:
            warnings.warn(
                f"BackupAndRestore: the backup in {self.backup_dir!r} was taken with "
                f"{saved['n']} samples, {saved['steps']} steps of {saved['batch_size']} "
                f"per epoch and shuffle={saved['shuffle']}; this fit has {state.n}, "
                f"{state.steps} of {state.batch_size} and shuffle={state.shuffle}. Resuming "
                f"at the start of epoch {saved['epoch'] + 1} with the backed-up weights.",
                stacklevel=3)
            state.resume = {"epoch": saved["epoch"], "step": 0, "order": None,
                            "totals": None}
            return
        state.resume = {"epoch": saved["epoch"], "step": saved["step"],
                        "order": saved["order"], "totals": saved["totals"]}


# ---------------------------------------------------------------- helpers
def _barrier():
    dist = current()
    if dist is not None:
        dist._world.barrier()


def _check_state(saved, folder):
    def bad(what):
        return ValueError(f"BackupAndRestore: {folder!r}: {_STATE} {what}")
    if not isinstance(saved, dict) or saved.get("format") != _FORMAT:
        raise bad("is not a backup written by this callback")
    if saved.get("version") != _VERSION:
        raise bad(f"has version {saved.get('version')!r}; this cydl reads {_VERSION}")
    for key in ("epoch", "step", "n", "steps", "batch_size"):
        value = saved.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise bad(f"has {key}={value!r}, not a count")
    if not isinstance(saved.get("shuffle"), bool):
        raise bad("lacks `shuffle`")
    totals = saved.get("totals")
    if totals is not None and not (
            isinstance(totals, dict) and isinstance(totals.get("parts"), list) and
            isinstance(totals.get("metrics"), list) and
            isinstance(totals.get("loss"), (int, float)) and
            isinstance(totals.get("seen"), int)):
        raise bad("has malformed running sums")


def _set_rng_state(saved):
    """The random generators as they were at the backup."""
    gen = _config.rng().bit_generator
    try:
        state = _from_json(saved.get("rng"))
        if not isinstance(state, dict) or state.get("bit_generator") != type(gen).__name__:
            raise ValueError("another kind of generator")
        gen.state = state
    except (TypeError, ValueError, KeyError) as e:
        warnings.warn(f"BackupAndRestore: the backup's generator state cannot be restored "
                      f"({e}); the next epochs shuffle differently", stacklevel=4)
    try:
        np.random.set_state(_from_json(saved.get("numpy_rng")))
        state = _from_json(saved.get("python_rng"))
        random.setstate((state[0], tuple(state[1]), state[2]))
    except (TypeError, ValueError, IndexError, KeyError):
        pass          # user code's generators: cydl itself draws only from its own


def _to_json(value):
    """A generator state as JSON values (arrays tagged)."""
    if isinstance(value, dict):
        return {str(k): _to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return {"__array__": value.tolist(), "dtype": value.dtype.str}
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def _from_json(value):
    if isinstance(value, dict):
        if set(value) == {"__array__", "dtype"}:
            dtype = np.dtype(value["dtype"])
            if dtype.kind not in "iuf":
                raise ValueError(f"a generator state array of dtype {dtype}")
            return np.array(value["__array__"], dtype)
        return {k: _from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    return value


def _npy_bytes(array):
    import io
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array, np.int64), allow_pickle=False)
    return buf.getvalue()


def _write(path, data, atomic=False):
    """Write bytes and flush them to disk; atomic: through a temporary file renamed
    over `path`, so that a reader sees the old file or the new one, whole."""
    if not atomic:
        with open(path, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        return
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".",
                               suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_dir(folder)


def _fsync_dir(folder):
    """Make a folder's new entries durable (POSIX; a no-op where folders cannot be
    opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
