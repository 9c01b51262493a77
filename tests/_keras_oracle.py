"""Keras 3 itself as a test oracle: code run in a subprocess with KERAS_BACKEND set
before Keras is imported (torch, else jax), results back as JSON."""
import importlib.util
import json
import os
import subprocess
import sys

import pytest


def run_keras(code, payload, float64=True):
    """Run `code` under Keras 3 (float64 unless told) in a subprocess, KERAS_BACKEND set
    before Keras is imported; `payload` is in scope as `data`; the code sets `result`."""
    if importlib.util.find_spec("keras") is None:
        pytest.skip("Keras 3 is the oracle of these tests: pip install keras torch (or jax)")
    backend = next((b for b in ("torch", "jax") if importlib.util.find_spec(b)), None)
    if backend is None:
        pytest.skip("the Keras oracle needs a backend: pip install torch (or jax)")
    prelude = ("import json, sys\nimport numpy as np\nimport keras\n"
               "if int(keras.__version__.split('.')[0]) < 3: sys.exit(3)\n"
               + ("if keras.backend.backend() == 'jax':\n"
                  "    import jax; jax.config.update('jax_enable_x64', True)\n"
                  "keras.config.set_floatx('float64')\n" if float64 else "")
               + f"data = json.loads({json.dumps(json.dumps(payload))})\n")
    # the child imports the cydl this process imported (installed, or built in place)
    import cydl
    here = os.path.dirname(os.path.dirname(os.path.abspath(cydl.__file__)))
    env = dict(os.environ, KERAS_BACKEND=backend, CUDA_VISIBLE_DEVICES="",
               PYTHONPATH=os.pathsep.join([here] + [p for p in [os.environ.get(
                   "PYTHONPATH")] if p]))
    # run from tests/: from the repository root, `import cydl` in the child would find
    # the source folder (unbuilt in a fresh clone) before the installed package
    proc = subprocess.run([sys.executable, "-c", prelude + code + "\nprint(json.dumps(result))"],
                          env=env, capture_output=True, text=True, timeout=600,
                          cwd=os.path.dirname(os.path.abspath(__file__)))
    if proc.returncode == 3:
        pytest.skip("the installed Keras is older than 3: the oracle is Keras 3")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])
