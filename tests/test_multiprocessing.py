"""cydl in worker processes: fork after OpenMP was used must not hang (the child
runs on one thread), and spawn gives workers their own threads."""
import multiprocessing as mp

import numpy as np
import pytest

import cydl
from cydl import layers


def _train(seed):
    cydl.utils.set_random_seed(seed)
    model = cydl.Sequential([layers.Input(shape=(10,)), layers.Dense(32, activation="relu"),
                             layers.Dense(3, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    x = np.random.default_rng(seed).random((512, 10))
    model.fit(x, np.arange(512) % 3, epochs=2, verbose=0)
    return cydl.get_num_threads(), float(model.evaluate(x, np.arange(512) % 3, verbose=0))


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_workers_train_without_hanging(method):
    if method not in mp.get_all_start_methods():
        pytest.skip(f"no {method} start method here")
    with cydl.num_threads(2):
        parent_threads, parent_loss = _train(0)     # the parent's OpenMP pool is alive
    with mp.get_context(method).Pool(2) as pool:
        results = pool.map_async(_train, [0, 1]).get(timeout=120)
    assert results[0][1] == pytest.approx(parent_loss, rel=1e-4)
    if method == "fork":
        assert all(threads == 1 for threads, _ in results)
