"""Which workers of a study run on this machine: each searching process holds an
exclusive lock (fcntl.flock) on its own file in directory/project_name/workers/.
A file nobody holds was left by a dead process and is removed. Cheap enough to ask
at every epoch (no database query). Without fcntl (Windows) nobody is seen."""
import os
import socket

try:
    import fcntl
except ImportError:        # pragma: no cover
    fcntl = None


def _try_lock(f):
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False


class WorkerRegistry:
    """Registers this process as a worker while the `with` block runs; `others()`
    counts the other live workers on this host."""

    def __init__(self, project_dir):
        self.dir = os.path.join(project_dir, "workers")
        self.prefix = socket.gethostname() + "."
        self.name, self._file = f"{self.prefix}{os.getpid()}.lock", None

    def __enter__(self):
        if fcntl is None:
            return self
        os.makedirs(self.dir, exist_ok=True)
        # lock under a temporary name, then rename: nobody ever sees the file unlocked
        tmp = os.path.join(self.dir, f".{self.name}.tmp")
        self._file = open(tmp, "w")
        fcntl.flock(self._file, fcntl.LOCK_EX)
        os.replace(tmp, os.path.join(self.dir, self.name))
        return self

    def __exit__(self, *exc):
        if self._file is not None:
            os.remove(os.path.join(self.dir, self.name))
            self._file.close()            # releases the lock
            self._file = None

    def others(self):
        if fcntl is None or not os.path.isdir(self.dir):
            return 0
        count = 0
        for name in os.listdir(self.dir):
            if not name.startswith(self.prefix) or name == self.name:
                continue
            path = os.path.join(self.dir, name)
            try:
                with open(path, "a") as f:
                    if not _try_lock(f):
                        count += 1
                        continue
                    os.remove(path)        # held by no one: its process died
            except OSError:
                pass                        # gone meanwhile
        return count
