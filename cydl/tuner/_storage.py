"""The Optuna storage of a study: an RDB URL or storage object as given, by default
an SQLite file in the project folder; and the project's lock file."""
import contextlib
import functools
import os
import shutil
import sqlite3
import warnings

import optuna

from cydl.tuner._study import requeue

HEARTBEAT_S = 60        # heartbeat interval; a trial silent for 3 intervals is stale


def prepare_project(directory, project_name, storage=None, overwrite=False):
    """The project folder, made; emptied first (and the study deleted) on overwrite."""
    project_dir = os.path.join(directory, project_name)
    if overwrite:
        if storage is not None:
            with contextlib.suppress(KeyError):
                optuna.delete_study(study_name=project_name,
                                    storage=make_storage(storage, project_dir))
        shutil.rmtree(project_dir, ignore_errors=True)
    os.makedirs(project_dir, exist_ok=True)
    return project_dir


def make_storage(storage, project_dir):
    """An Optuna storage: `storage` as given (an object or an RDB URL), else an SQLite
    file in the project folder. URLs get a heartbeat, so a worker that died on
    another machine leaves no trial RUNNING for ever."""
    if storage is not None and not isinstance(storage, str):
        return storage
    if storage is None:
        storage = "sqlite:///" + os.path.join(os.path.abspath(project_dir), "optuna.db")
    kwargs = {}
    path = storage[len("sqlite:///"):] if storage.startswith("sqlite:///") else ":memory:"
    if path and ":memory:" not in path and "?" not in path:
        kwargs["creator"] = functools.partial(_connect_sqlite, path)
    with warnings.catch_warnings():       # the heartbeat arguments are "experimental"
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RDBStorage(storage, engine_kwargs=kwargs,
                                          heartbeat_interval=HEARTBEAT_S,
                                          grace_period=3 * HEARTBEAT_S,
                                          heartbeat_stale_trial_callback=requeue)


def _connect_sqlite(path):
    """An SQLite connection in WAL mode with synchronous=NORMAL: a commit then costs
    microseconds instead of an fsync (milliseconds; Optuna commits a dozen times a
    trial), and readers never wait for writers. WAL needs a local file system.
    Writers still queue: wait for the lock rather than fail after sqlite's 5 s."""
    connection = sqlite3.connect(path, timeout=120, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    return connection


@contextlib.contextmanager
def project_lock(project_dir):
    """An exclusive lock on the project folder (POSIX), so that processes starting
    together create the study and its queue once."""
    try:
        import fcntl
    except ImportError:      # no advisory locks: creation still relies on the storage
        yield
        return
    os.makedirs(project_dir, exist_ok=True)
    with open(os.path.join(project_dir, ".lock"), "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def is_local_sqlite(storage):
    """Whether the storage is an SQLite file (whose claims need the lock file)."""
    url = storage if storage is None or isinstance(storage, str) else \
        getattr(storage, "url", "")
    return url is None or str(url).startswith("sqlite")
