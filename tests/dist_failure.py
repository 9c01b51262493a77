"""Failures of a data-parallel run, for tests/test_distribution.py.

    [mpiexec -n 2] python dist_failure.py SCENARIO BACKUP_DIR OUT

    kill    process 1 kills itself (SIGKILL) in the middle of epoch 2, after a
            BackupAndRestore backup (every 3 batches): the job must end, not hang.
    raise   process 1 raises in the middle of epoch 2: the job must end, not hang.
    resume  the same fit, run to the end: with the backup the killed run left, it
            resumes from it; each process saves its weights and History to OUT.
"""
import os
import signal
import sys

import numpy as np

import cydl
from dist_train import mlp, mlp_data

SCENARIO, BACKUP, OUT = sys.argv[1], sys.argv[2], sys.argv[3]
cydl.config.set_floatx("float64")
cydl.set_num_threads(1)


class Fail(cydl.callbacks.Callback):
    """On process 1, in epoch 2 after `after` batches: SIGKILL, or an exception."""

    def __init__(self, how, rank, after=5):
        super().__init__()
        self.how, self.rank, self.after, self.epoch = how, rank, after, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.rank == 1 and self.epoch == 1 and batch + 1 == self.after:
            if self.how == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            raise RuntimeError("process 1 fails on purpose")


def main():
    dist = cydl.distribution.DataParallel()
    cydl.distribution.set_distribution(dist)
    X, y = mlp_data()
    model = mlp()
    model.compile(loss="sparse_categorical_crossentropy",
                  optimizer=cydl.optimizers.Adam(0.01), metrics=["accuracy"])
    callbacks = [cydl.callbacks.BackupAndRestore(BACKUP, save_freq=3)]
    if SCENARIO != "resume":
        callbacks.insert(0, Fail(SCENARIO, dist.process_id))
    history = model.fit(X[:201], y[:201], batch_size=25, epochs=3, shuffle=True,
                        callbacks=callbacks, verbose=0)
    os.makedirs(OUT, exist_ok=True)
    np.savez(os.path.join(OUT, f"rank{dist.process_id}.npz"),
             weights=np.concatenate([w.ravel() for w in model.get_weights()]),
             history=np.array(list(history.history.values())))


if __name__ == "__main__":
    main()
