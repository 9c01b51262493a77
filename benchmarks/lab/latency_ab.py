"""1-sample `model(x)` A/B in one process, interleaved: today's `__call__` against
stop 14's (--part call), or the prediction's threads on cydl's own team against an
OpenMP region (--part team).

    python benchmarks/lab/latency_ab.py [--part call|team] [--rounds 20] [--reps 5000]

Across processes (the `prev` suite) this VM's plateaus of +-30 % swamp a 1 us
change; in one process, round by round, they hit both sides alike.

Stop 14's `Trainer.__call__` asked Python for the recording tape and the thread
count (`resolve_threads`, about 0.3 us), then called the compiled FastCall and
reshaped N-d outputs. Today FastCall reads the tape and a memo of the thread count
itself (cydl/_kernels/_predict.pyx) and `__call__` only forwards x. The old side
is re-created below around the same FastCall, so it also pays the new checks
(about 0.1 us): read the ratio as that much too low. (Stop 14 measured its
FastCall against stop 13's Python FastPredict the same way: 1.12-1.15x.)

--part team switches `_phases.set_team` between rounds: the same parts, so the
same numbers (checked), run by the team's workers (_team.h) or by libgomp's.
"""
import argparse
import time

import numpy as np

import cydl
from cydl import _ops as ops
from cydl import layers
from cydl._kernels import _phases
from cydl.autodiff import active_tape


def _stop14_call(model, inputs, *args, training=None, **kwargs):
    """Stop 14's Trainer.__call__, fast path only."""
    fast = model._fast
    if not training and fast is not None and not args and not kwargs and \
            active_tape() is None:
        out = fast(inputs, ops.resolve_threads())
        if out is not None:
            return out if len(model.output_shape) == 2 else \
                out.reshape((out.shape[0],) + tuple(model.output_shape[1:]))
    raise AssertionError("the fast path declined")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--reps", type=int, default=5000)
    ap.add_argument("--part", choices=("call", "team"), default="call")
    args = ap.parse_args()
    model = cydl.Sequential([layers.Input(shape=(784,)), layers.Dense(300, activation="relu"),
                             layers.Dense(100, activation="relu"),
                             layers.Dense(10, activation="softmax")])
    x = np.random.default_rng(0).random((1, 784), dtype=np.float32)
    model(x)
    np.testing.assert_array_equal(_stop14_call(model, x), model(x))

    def timed(call):
        t = time.perf_counter()
        for _ in range(args.reps):
            call(x)
        return (time.perf_counter() - t) / args.reps * 1e6

    call = lambda v: model(v)       # noqa: E731 (one frame, as the old side's)
    if args.part == "call":
        sides = {"new": (True, call), "old": (True, lambda v: _stop14_call(model, v))}
    else:
        sides = {"new": (True, call), "old": (False, call)}
        _phases.set_team(False)
        want = model(x)
        _phases.set_team(True)
        np.testing.assert_array_equal(model(x), want)
    res = {"new": [], "old": []}
    for _ in range(args.rounds):
        for name, (team, fn) in sides.items():
            _phases.set_team(team)
            fn(x)
            res[name].append(timed(fn))
    _phases.set_team(True)
    print(f"# {cydl.get_num_threads()} threads, {args.rounds} rounds of {args.reps} calls")
    for name, v in res.items():
        print(f"{name}: median {np.median(v):.2f} us, min {min(v):.2f} us")
    r = np.array(res["old"]) / np.array(res["new"])
    print(f"old / new, median of the rounds: {np.median(r):.3f} "
          f"[{r.min():.3f}-{r.max():.3f}]")


if __name__ == "__main__":
    main()
