"""Run workers in fresh processes and describe the machine they ran on."""
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from importlib import metadata

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def run(name, tree=ROOT, timeout=None, **kwargs):
    """One worker of workers.py in its own process; its JSON result (or {"error": ...}).

    `tree` is the checkout whose cydl the worker imports (PYTHONPATH); the worker
    code itself is always this tree's.
    """
    env = dict(os.environ)
    threads = kwargs.get("threads")
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    env["PYTHONPATH"] = tree + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    cmd = [sys.executable, os.path.join(HERE, "workers.py"), name, json.dumps(kwargs)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=HERE,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"{name}: timed out after {timeout} s"}
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"
        return {"error": f"{name}: {tail}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def have(module):
    """Whether `module` imports, asked of a fresh process (importing torch here would
    bring its OpenMP runtime into the driver)."""
    proc = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True)
    return proc.returncode == 0


def have_torch():
    return have("torch")


def wait_for_quiet(max_wait=60, threshold=0.3):
    """Wait (up to max_wait s) until the 1-minute load average per core is low."""
    t0 = time.time()
    while time.time() - t0 < max_wait:
        if os.getloadavg()[0] / (os.cpu_count() or 1) < threshold:
            return True
        time.sleep(5)
    return False


def git(tree, *args):
    try:
        return subprocess.run(["git", "-C", tree, *args], capture_output=True,
                              text=True).stdout.strip() or "?"
    except OSError:
        return "?"


def commit(tree=ROOT):
    """Short commit of a checkout, marked when tracked files have uncommitted changes."""
    dirty = git(tree, "status", "--porcelain", "--untracked-files=no") not in ("", "?")
    return git(tree, "rev-parse", "--short", "HEAD") + (" (+ uncommitted changes)" if dirty else "")


def _version(dist):
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine():
    info = {"python": platform.python_version(), "platform": platform.platform(),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": commit(), "cpus_usable": len(os.sched_getaffinity(0))}
    keys = ("Model name", "CPU(s)", "Core(s) per socket", "Socket(s)", "Thread(s) per core",
            "L2 cache", "L3 cache", "Flags")
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            key, _, value = line.partition(":")
            if key.strip() in keys:
                info[key.strip()] = value.strip() if key.strip() != "Flags" else \
                    " ".join(f for f in value.split() if f in ("avx2", "fma", "avx512f"))
    except OSError:
        pass
    code = ("import json, numpy, scipy, cydl; from cydl._info import config_dict; "
            "c = config_dict(); print(json.dumps({'numpy': numpy.__version__, "
            "'scipy': scipy.__version__, 'cydl': cydl.__version__, 'blas': c['blas'], "
            "'openmp': c['openmp'], 'simd': c['simd'], "
            "'simd_available': list(c['simd_available'])}))")
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=HERE,
                          env=env)
    if proc.returncode == 0:
        info.update(json.loads(proc.stdout))
    for dist in ("torch", "jax", "jaxlib", "optax"):
        info[dist] = _version(dist)
    return info


def fmt_rate(x):
    return f"{x / 1000:.1f}k" if x >= 1000 else f"{x:.0f}"
