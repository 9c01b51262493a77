"""One measurement per process: `python benchmarks/workers.py NAME JSON-ARGS`.

Each worker prints one JSON object. Every framework runs in its own process, so
that torch's OpenMP runtime and cydl's never alternate on the same cores.
Timings are medians over repeated windows, with min and max.
"""
import ctypes
import glob
import json
import os
import sys
import time

import numpy as np

from _jax_workers import jax_train  # noqa: F401  (a worker: jax is imported inside)
from _workload import N_SAMPLES, NETS
from _workload import data as _data
from _workload import per_step as _per_step
from _workload import windows as _windows


def _numpy_blas():
    lib = glob.glob(os.path.join(os.path.dirname(np.__file__), "..", "numpy.libs",
                                 "libscipy_openblas*.so"))
    return ctypes.CDLL(lib[0]) if lib else None


def _set_numpy_threads(n):
    lib = _numpy_blas()
    if lib is not None:
        for name in ("scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_",
                     "openblas_set_num_threads"):
            if hasattr(lib, name):
                getattr(lib, name)(n)
                return


def _set_scipy_threads(n):
    """Threads of scipy's OpenBLAS: the copy that cydl calls through cython_blas."""
    import scipy.linalg.cython_blas as cb
    lib = ctypes.CDLL(cb.__file__)
    for name in ("scipy_openblas_set_num_threads", "openblas_set_num_threads"):
        if hasattr(lib, name):
            getattr(lib, name)(n)
            return


# --------------------------------------------------------------------- training
def cydl_train(net, batch, opt, threads, windows=7, n=N_SAMPLES):
    import cydl
    from cydl import layers
    cydl.set_num_threads(threads)
    sizes = NETS[net]
    x, y = _data(net, n)
    cydl.utils.set_random_seed(0)
    model = cydl.Sequential([layers.Input(shape=(sizes[0],))] +
                            [layers.Dense(s, activation="relu") for s in sizes[1:-1]] +
                            [layers.Dense(sizes[-1], activation="softmax")])
    optimizer = cydl.optimizers.SGD(0.01) if opt == "sgd" else cydl.optimizers.Adam(1e-3)
    model.compile(loss="sparse_categorical_crossentropy", optimizer=optimizer)
    t = _windows(lambda: model.fit(x, y, batch_size=batch, epochs=1, verbose=0), windows)
    return {"samples_per_s": n / t["median"], **_per_step(t, batch, n), **_cydl_info(model)}


def _cydl_info(model):
    """Which checkout's cydl ran (the previous commit's rows must not run this one),
    and whether the step took the fused path."""
    import cydl
    info = {"cydl_file": os.path.dirname(cydl.__file__)}
    try:
        info["fused"] = bool(model._runner(train=True).fused)
    except Exception as e:                      # the runner API differs across commits
        info["fused"] = f"? ({type(e).__name__})"
    return info


def torch_train(net, batch, opt, threads, windows=7, fused=False, n=N_SAMPLES):
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    sizes = NETS[net]
    mods = []
    for a, b in zip(sizes[:-2], sizes[1:-1]):
        mods += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    mods.append(torch.nn.Linear(sizes[-2], sizes[-1]))
    model = torch.nn.Sequential(*mods)
    x, y = _data(net, n)
    X, Y = torch.from_numpy(x), torch.from_numpy(y)
    if opt == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7,
                                     **({"fused": True} if fused else {}))
    loss_fn = torch.nn.CrossEntropyLoss()

    def epoch():
        perm = torch.randperm(n)
        for start in range(0, n, batch):
            idx = perm[start:start + batch]
            loss = loss_fn(model(X[idx]), Y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

    t = _windows(epoch, windows)
    return {"samples_per_s": n / t["median"], **_per_step(t, batch, n),
            "torch": torch.__version__}


def numpy_train(net, batch, opt, threads, windows=3):
    """The same step written with cydl._ops._reference, the NumPy twin of the kernels."""
    import cydl
    from cydl._ops import _reference as ref
    _set_numpy_threads(threads)
    sizes = NETS[net]
    x, y = _data(net)
    rng = np.random.default_rng(0)
    Ws = [np.asfortranarray(rng.uniform(-1, 1, (a, b)).astype(np.float32) * np.sqrt(6 / (a + b)))
          for a, b in zip(sizes[:-1], sizes[1:])]
    bs = [np.zeros(b, np.float32) for b in sizes[1:]]
    params = np.concatenate([np.concatenate([w.ravel("F"), b]) for w, b in zip(Ws, bs)])
    rule = cydl._ops.UpdateRule()
    rule.configure(cydl._ops.OPTIMIZER_KINDS[opt], beta1=0.9, beta2=0.999, eps=1e-7)
    rule.set_step(0.01 if opt == "sgd" else 1e-3, 1e-3)
    slots = [np.zeros_like(params), np.zeros_like(params)] if opt == "adam" else []
    n_steps = max(8, 4096 // batch)

    def window():
        grads = []
        for s in range(n_steps):
            start = (s * batch) % (N_SAMPLES - batch)
            xb, yb = x[start:start + batch], y[start:start + batch]
            acts = [xb]
            for i, (W, b) in enumerate(zip(Ws, bs)):
                acts.append(ref.dense_forward(acts[-1], W, b,
                                              "relu" if i < len(Ws) - 1 else "linear"))
            _, g = ref.loss_forward_backward("sparse_softmax_ce", acts[-1], yb)
            grads = []
            for i in range(len(Ws) - 1, -1, -1):
                dW, db, g = ref.dense_backward(g, acts[i], Ws[i], acts[i + 1], None,
                                               "relu" if i < len(Ws) - 1 else "linear",
                                               need_dX=i > 0)
                grads = [dW.ravel("F"), db] + grads
            ref.optimizer_step(rule, params, np.concatenate(grads), slots)

    t = _windows(window, windows)
    step = t["median"] / n_steps
    return {"samples_per_s": batch / step, "step_ms": step * 1e3}


def gemm_floor(net, batch, threads, windows=7):
    """BLAS time for exactly the step's GEMMs: forward X W, backward X^T dY, and
    dY W^T except for the first layer (whose input needs no gradient), with numpy's
    and scipy's OpenBLAS at `threads` threads, each in the faster of row-major and
    column-major layout (no Python copies: outputs are preallocated)."""
    from scipy.linalg import blas as sb
    sizes = NETS[net]
    shapes = list(zip(sizes[:-1], sizes[1:]))
    reps = max(4, 20000 // batch)
    _set_numpy_threads(threads)
    _set_scipy_threads(threads)
    big = np.ones((512, 512), np.float32, order="F")   # OpenBLAS is slow until warmed
    big @ big
    sb.sgemm(1.0, big, big)
    result = {}
    for order in ("C", "F"):
        r = _gemm_floor_layout(shapes, batch, order, reps, windows)
        for k, v in r.items():
            result[f"{k}_{order}"] = v
    result["numpy_step_ms"] = min(result["numpy_step_ms_C"], result["numpy_step_ms_F"])
    result["scipy_step_ms"] = min(result["scipy_step_ms_C"], result["scipy_step_ms_F"])
    result["step_ms"] = min(result["numpy_step_ms"], result["scipy_step_ms"])
    return result


def sgemm_rate(threads, size=2048, windows=5):
    """GFLOP/s of one size^3 float32 GEMM through scipy.linalg.blas.sgemm (scipy's
    OpenBLAS, the one cydl calls) at `threads` threads, output preallocated."""
    from scipy.linalg import blas as sb
    _set_scipy_threads(threads)
    rng = np.random.default_rng(0)
    a = np.asfortranarray(rng.random((size, size), dtype=np.float32))
    b = np.asfortranarray(rng.random((size, size), dtype=np.float32))
    c = np.empty((size, size), np.float32, order="F")
    reps = max(1, int(2e10 // (2 * size ** 3)))        # ~20 GFLOP per window

    def window():
        for _ in range(reps):
            sb.sgemm(1.0, a, b, c=c, overwrite_c=1)
    t = _windows(window, windows)
    flop = 2.0 * size ** 3 * reps
    return {"gflops": flop / t["median"] / 1e9, "gflops_best": flop / t["min"] / 1e9,
            "size": size, "threads": threads}


def _gemm_floor_layout(shapes, batch, order, reps, windows):
    from scipy.linalg import blas as sb
    rng = np.random.default_rng(0)
    Xs = [np.asarray(rng.random((batch, a), dtype=np.float32), order=order) for a, _ in shapes]
    Ws = [np.asarray(rng.random((a, b), dtype=np.float32), order=order) for a, b in shapes]
    dYs = [np.asarray(rng.random((batch, b), dtype=np.float32), order=order) for _, b in shapes]
    outY = [np.empty((batch, b), np.float32, order=order) for _, b in shapes]
    outW = [np.empty((a, b), np.float32, order=order) for a, b in shapes]
    outX = [np.empty((batch, a), np.float32, order=order) for a, _ in shapes]
    if order == "C":    # f2py wants Fortran order: hand it the transposes (views)
        Xs_f, Ws_f, dYs_f = [a.T for a in Xs], [a.T for a in Ws], [a.T for a in dYs]

    def numpy_step():
        for _ in range(reps):
            for i in range(len(shapes)):
                np.matmul(Xs[i], Ws[i], out=outY[i])
                np.matmul(Xs[i].T, dYs[i], out=outW[i])
                if i:
                    np.matmul(dYs[i], Ws[i].T, out=outX[i])

    def scipy_step_f():
        for _ in range(reps):
            for i in range(len(shapes)):
                sb.sgemm(1.0, Xs[i], Ws[i], c=outY[i], overwrite_c=1)
                sb.sgemm(1.0, Xs[i], dYs[i], trans_a=1, c=outW[i], overwrite_c=1)
                if i:
                    sb.sgemm(1.0, dYs[i], Ws[i], trans_b=1, c=outX[i], overwrite_c=1)

    def scipy_step_c():
        # row-major C = A B is column-major C^T = B^T A^T
        for _ in range(reps):
            for i in range(len(shapes)):
                sb.sgemm(1.0, Ws_f[i], Xs_f[i], c=outY[i].T, overwrite_c=1)
                sb.sgemm(1.0, dYs_f[i], Xs_f[i], trans_b=1, c=outW[i].T, overwrite_c=1)
                if i:
                    sb.sgemm(1.0, Ws_f[i], dYs_f[i], trans_a=1, c=outX[i].T, overwrite_c=1)

    tn = _windows(numpy_step, windows)
    ts = _windows(scipy_step_c if order == "C" else scipy_step_f, windows)
    return {"numpy_step_ms": tn["median"] / reps * 1e3, "scipy_step_ms": ts["median"] / reps * 1e3}


# --------------------------------------------------------------------- inference
def cydl_predict1(threads, windows=7, reps=5000):
    import cydl
    from cydl import layers
    cydl.set_num_threads(threads)
    model = cydl.Sequential([layers.Input(shape=(784,)), layers.Dense(300, activation="relu"),
                             layers.Dense(100, activation="relu"),
                             layers.Dense(10, activation="softmax")])
    x = np.random.default_rng(0).random((1, 784), dtype=np.float32)

    def call():
        for _ in range(reps):
            model(x)

    def predict():
        for _ in range(reps):
            model.predict(x, verbose=0)

    tc, tp = _windows(call, windows), _windows(predict, windows)
    return {"call_us": tc["median"] / reps * 1e6, "predict_us": tp["median"] / reps * 1e6,
            "call_us_min": tc["min"] / reps * 1e6,
            "cydl_file": os.path.dirname(cydl.__file__)}


def torch_predict1(threads, windows=7, reps=5000):
    import torch
    torch.set_num_threads(threads)
    model = torch.nn.Sequential(torch.nn.Linear(784, 300), torch.nn.ReLU(),
                                torch.nn.Linear(300, 100), torch.nn.ReLU(),
                                torch.nn.Linear(100, 10), torch.nn.Softmax(dim=-1))
    x = torch.rand(1, 784)

    def call():
        with torch.no_grad():
            for _ in range(reps):
                model(x)

    t = _windows(call, windows)
    return {"call_us": t["median"] / reps * 1e6}


def gemv_floor(threads, windows=7, reps=5000):
    _set_numpy_threads(threads)
    rng = np.random.default_rng(0)
    Ws = [rng.random((a, b), dtype=np.float32) for a, b in ((784, 300), (300, 100), (100, 10))]
    x = rng.random(784, dtype=np.float32)

    def call():
        for _ in range(reps):
            h = x
            for W in Ws:
                h = h @ W

    t = _windows(call, windows)
    return {"call_us": t["median"] / reps * 1e6}


def cydl_predict_bulk(threads, windows=7, n=20000):
    import cydl
    from cydl import layers
    cydl.set_num_threads(threads)
    model = cydl.Sequential([layers.Input(shape=(784,)), layers.Dense(300, activation="relu"),
                             layers.Dense(100, activation="relu"),
                             layers.Dense(10, activation="softmax")])
    x = np.random.default_rng(0).random((n, 784), dtype=np.float32)
    t = _windows(lambda: model.predict(x, verbose=0), windows)
    return {"samples_per_s": n / t["median"]}


def torch_predict_bulk(threads, windows=7, n=20000):
    import torch
    torch.set_num_threads(threads)
    model = torch.nn.Sequential(torch.nn.Linear(784, 300), torch.nn.ReLU(),
                                torch.nn.Linear(300, 100), torch.nn.ReLU(),
                                torch.nn.Linear(100, 10), torch.nn.Softmax(dim=-1))
    x = torch.rand(n, 784)

    def run():
        with torch.no_grad():
            model(x)

    t = _windows(run, windows)
    return {"samples_per_s": n / t["median"]}


# --------------------------------------------------------------------- the book's run
def _fashion():
    import cydl
    (x, y), (xt, yt) = cydl.datasets.fashion_mnist.load_data()
    return x, y, xt, yt


def _status_mb(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak():
    """Make VmHWM (peak RSS) start again from the current RSS."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def _memory(before_fit):
    """Peak RSS of the whole process, the RSS training started from, and the peak
    reached while training (VmHWM was reset just before it)."""
    import resource
    return {"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "rss_before_fit_mb": before_fit, "peak_rss_during_fit_mb": _status_mb("VmHWM:")}


def cydl_ch10(threads, epochs=30):
    import cydl
    from cydl import layers
    cydl.set_num_threads(threads)
    x, y, xt, yt = _fashion()
    X_train, y_train = x[:-5000] / 255.0, y[:-5000]
    X_valid, y_valid = x[-5000:] / 255.0, y[-5000:]
    cydl.utils.set_random_seed(42)
    model = cydl.Sequential([layers.Input(shape=(28, 28)), layers.Flatten(),
                             layers.Dense(300, activation="relu"),
                             layers.Dense(100, activation="relu"),
                             layers.Dense(10, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
    before = _status_mb("VmRSS:")
    _reset_peak()
    t0 = time.perf_counter()
    model.fit(X_train, y_train, epochs=epochs, validation_data=(X_valid, y_valid), verbose=0)
    wall = time.perf_counter() - t0
    mem = _memory(before)
    acc = model.evaluate(xt / 255.0, yt, verbose=0)[1]
    return {"wall_s": wall, "test_accuracy": float(acc), "epochs": epochs, **mem,
            "threads": threads}


def torch_ch10(threads, epochs=30):
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(42)
    x, y, xt, yt = _fashion()
    X_train = torch.from_numpy((x[:-5000] / 255.0).astype(np.float32))
    y_train = torch.from_numpy(y[:-5000].astype(np.int64))
    X_valid = torch.from_numpy((x[-5000:] / 255.0).astype(np.float32))
    y_valid = torch.from_numpy(y[-5000:].astype(np.int64))
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 300), torch.nn.ReLU(),
                                torch.nn.Linear(300, 100), torch.nn.ReLU(),
                                torch.nn.Linear(100, 10))
    for m in model:
        if isinstance(m, torch.nn.Linear):    # Keras' initialization, for a like-for-like run
            torch.nn.init.xavier_uniform_(m.weight)
            torch.nn.init.zeros_(m.bias)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = torch.nn.CrossEntropyLoss()
    n = len(X_train)
    before = _status_mb("VmRSS:")
    _reset_peak()
    t0 = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(n)
        model.train()
        for start in range(0, n, 32):
            idx = perm[start:start + 32]
            loss = loss_fn(model(X_train[idx]), y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            loss_fn(model(X_valid), y_valid).item()
    wall = time.perf_counter() - t0
    mem = _memory(before)
    with torch.no_grad():
        acc = (model(torch.from_numpy((xt / 255.0).astype(np.float32))).argmax(1).numpy()
               == yt).mean()
    return {"wall_s": wall, "test_accuracy": float(acc), "epochs": epochs, **mem,
            "threads": threads}


if __name__ == "__main__":
    name, args = sys.argv[1], json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    print(json.dumps(globals()[name](**args)))
