"""Is a worker alive? A RUNNING trial records its process ("host:pid:start time"); on
this host a process is checked directly (the pid gone, a zombie, or a reused pid all
count as dead), other hosts' through the trial's heartbeat in the storage, recorded
by a daemon thread while the trial runs."""
import contextlib
import os
import socket
import threading


def _start_time(pid):
    """The process's start time (Linux /proc), to tell a reused pid apart; "" elsewhere."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return "Z" if fields[0] in "ZX" else fields[19]
    except (OSError, IndexError):
        return ""


def worker_tag():
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_start_time(pid)}"


def alive_here(tag):
    """None when the tag is another host's; else whether that process still runs."""
    host, pid, start = tag.rsplit(":", 2)
    if host != socket.gethostname():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    now = _start_time(pid)
    return now != "Z" and (not start or now in ("", start))


@contextlib.contextmanager
def heartbeat(storage, trial_id):
    """Record the trial's heartbeat from a daemon thread while the block runs."""
    interval = getattr(storage, "get_heartbeat_interval", lambda: None)()
    if not interval:
        yield
        return
    stop = threading.Event()

    def beat():
        while True:
            storage.record_heartbeat(trial_id)
            if stop.wait(interval):
                return

    thread = threading.Thread(target=beat, name="cydl-tuner-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
