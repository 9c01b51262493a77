"""Run workers in fresh processes and describe the machine they ran on."""
import json
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def run(name, **kwargs):
    """One worker in its own process; its JSON result (or {"error": ...})."""
    env = dict(os.environ)
    threads = kwargs.get("threads")
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    cmd = [sys.executable, os.path.join(HERE, "workers.py"), name, json.dumps(kwargs)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=HERE)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def have_torch():
    proc = subprocess.run([sys.executable, "-c", "import torch"], capture_output=True)
    return proc.returncode == 0


def wait_for_quiet(max_wait=60, threshold=0.3):
    """Wait (up to max_wait s) until the 1-minute load average per core is low."""
    t0 = time.time()
    while time.time() - t0 < max_wait:
        if os.getloadavg()[0] / (os.cpu_count() or 1) < threshold:
            return True
        time.sleep(5)
    return False


def machine():
    info = {"python": platform.python_version(), "platform": platform.platform()}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("Model name", "CPU(s)", "L2 cache", "L3 cache", "Flags"):
                info[key.strip()] = value.strip() if key.strip() != "Flags" else \
                    " ".join(f for f in value.split() if f in ("avx2", "fma", "avx512f"))
    except OSError:
        pass
    code = ("import json, numpy, scipy, cydl; from cydl._info import config_dict; "
            "c = config_dict(); print(json.dumps({'numpy': numpy.__version__, "
            "'scipy': scipy.__version__, 'cydl': cydl.__version__, 'blas': c['blas'], "
            "'openmp': c['openmp']}))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=HERE)
    if proc.returncode == 0:
        info.update(json.loads(proc.stdout))
    proc = subprocess.run([sys.executable, "-c", "import torch; print(torch.__version__)"],
                          capture_output=True, text=True)
    info["torch"] = proc.stdout.strip() if proc.returncode == 0 else "not installed"
    return info


def fmt_rate(x):
    return f"{x / 1000:.1f}k" if x >= 1000 else f"{x:.0f}"
