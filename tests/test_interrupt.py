"""Ctrl-C stops a long predict: the batch loop of Plan.predict runs in compiled code
without returning to the interpreter, so it must look for signals itself."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import cydl

# children start here: from the checkout's root, `import cydl` would find the
# unbuilt source tree instead of the installed package
_HERE = os.path.dirname(os.path.abspath(__file__))

# A predict of some seconds (6250 batches of 64 rows through 32-512-512-10) that
# prints READY just before it starts and reports where KeyboardInterrupt came from.
_CHILD = textwrap.dedent("""
    import signal, sys, time, traceback
    # Ctrl-C raises KeyboardInterrupt, as in a terminal, even when this test runs
    # under a shell that started it in the background (SIGINT then arrives ignored)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    import numpy as np
    import cydl
    from cydl import layers
    cydl.utils.set_random_seed(0)
    model = cydl.Sequential([layers.Input(shape=(32,)), layers.Dense(512, activation="relu"),
                             layers.Dense(512, activation="relu"),
                             layers.Dense(10, activation="softmax")])
    X = np.random.default_rng(0).standard_normal((400_000, 32)).astype(np.float32)
    model.predict(X[:300], batch_size=64, verbose=0)       # build everything first
    print("READY", flush=True)
    t0 = time.perf_counter()
    try:
        model.predict(X, batch_size=64, verbose=0)
        print("FINISHED %.2f" % (time.perf_counter() - t0), flush=True)
    except KeyboardInterrupt as e:
        last = traceback.extract_tb(e.__traceback__)[-1]
        print("INTERRUPTED in %s %s after %.2f s" % (last.filename, last.name,
                                                    time.perf_counter() - t0), flush=True)
""")


@pytest.mark.skipif(sys.platform == "win32", reason="os.kill(SIGINT) is POSIX")
def test_ctrl_c_interrupts_a_long_predict():
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(cydl.__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.Popen([sys.executable, "-c", _CHILD], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=_HERE)
    try:
        assert proc.stdout.readline().strip() == "READY", proc.stderr.read()
        time.sleep(0.5)                      # well inside the batch loop by now
        t0 = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        out = proc.stdout.readline()        # the child's report, before its exit
        latency = time.perf_counter() - t0
        rest, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    out += rest
    print(f"SIGINT to KeyboardInterrupt caught: {latency * 1e3:.1f} ms; child: {out.strip()}")
    assert "INTERRUPTED" in out, out + err
    assert "_fused" in out and "predict" in out, out     # raised by the batch loop itself
    # Generous bound (load on CI): the point is seconds versus the whole predict.
    assert latency < 2.0
