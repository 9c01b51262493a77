"""BackupAndRestore: a fit that is killed and started again ends exactly where an
uninterrupted fit ends."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import cydl
from cydl import layers

_HERE = os.path.dirname(os.path.abspath(__file__))

# Trains a fused-path model with Dropout, BatchNormalization, Adam on a decaying
# schedule and shuffling. argv: backup_dir ("-": no BackupAndRestore), save_freq,
# output .npz, ready file ("-": none). With a ready file, the script writes it after
# 6 batches of the third epoch and then waits to be killed.
_SCRIPT = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    import cydl
    from cydl import layers

    backup, freq, out, ready = sys.argv[1:5]
    freq = freq if freq == "epoch" else int(freq)

    class Hold(cydl.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch
        def on_train_batch_end(self, batch, logs=None):
            if ready != "-" and self.epoch == 2 and batch == 5:
                with open(ready, "w") as f:
                    f.write("ready")
                time.sleep(120)

    cydl.utils.set_random_seed(7)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((600, 20)).astype(np.float32)
    y = rng.integers(0, 3, 600)
    model = cydl.Sequential([
        layers.Input(shape=(20,)), layers.Dense(32, activation="relu"), layers.Dropout(0.3),
        layers.Dense(16, activation="relu"), layers.BatchNormalization(),
        layers.Dense(3, activation="softmax")])
    schedule = cydl.optimizers.schedules.ExponentialDecay(1e-2, 10, 0.9)
    model.compile(loss="sparse_categorical_crossentropy",
                  optimizer=cydl.optimizers.Adam(schedule), metrics=["accuracy"])
    callbacks = [Hold()]
    if backup != "-":
        callbacks.insert(0, cydl.callbacks.BackupAndRestore(backup, save_freq=freq))
    history = model.fit(X, y, epochs=5, batch_size=32, shuffle=True, verbose=0,
                        validation_split=0.1, callbacks=callbacks)
    np.savez(out, *model.get_weights())
    print(json.dumps({"runner": type(model._runners["train"]).__name__,
                      "history": history.history}))
""")


def _run(args, **kwargs):
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(cydl.__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.Popen([sys.executable, "-c", _SCRIPT] + [str(a) for a in args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=_HERE, **kwargs)


def _finish(proc):
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def _weights(path):
    with np.load(path, allow_pickle=False) as z:
        return [z[k] for k in sorted(z.files, key=lambda k: int(k.split("_")[1]))]


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
@pytest.mark.parametrize("save_freq", ["epoch", 3])
def test_killed_fit_resumes_bit_for_bit(tmp_path, save_freq):
    # the reference: the same script, never interrupted, without the callback
    ref = _finish(_run(["-", save_freq, tmp_path / "ref.npz", "-"]))
    assert ref["runner"] == "PlanRunner"       # the fused whole-step kernel

    backup, ready = tmp_path / "backup", tmp_path / "ready"
    proc = _run([backup, save_freq, tmp_path / "killed.npz", ready])
    try:
        t0 = time.time()
        while not ready.exists():
            assert proc.poll() is None, proc.communicate()[1]
            assert time.time() - t0 < 300, "the script never reached epoch 3"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)      # mid-epoch, no chance to clean up
        proc.wait(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert (backup / "checkpoint.json").exists()
    assert not (tmp_path / "killed.npz").exists()

    resumed = _finish(_run([backup, save_freq, tmp_path / "resumed.npz", "-"]))
    for a, b in zip(_weights(tmp_path / "ref.npz"), _weights(tmp_path / "resumed.npz")):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    # it resumed in the third epoch: at its start (epoch backups) or after the last
    # batch backup, whose running sums make the epoch's logs whole again
    for key, values in resumed["history"].items():
        assert values == ref["history"][key][2:], key
    assert not backup.exists()                # delete_checkpoint=True, fit completed


# ---------------------------------------------------------------- in one process
class _Boom(cydl.callbacks.Callback):
    """Raises after batch `batch` of epoch `epoch`: an interruption in one process."""

    def __init__(self, epoch, batch=None):
        super().__init__()
        self.at, self.batch, self.epoch = epoch, batch, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        if self.batch is None and epoch == self.at:
            raise RuntimeError("Interrupting!")

    def on_train_batch_end(self, batch, logs=None):
        if self.batch is not None and self.epoch == self.at and batch == self.batch:
            raise RuntimeError("Interrupting!")


def _model(eager=False, optimizer="adam"):
    cydl.utils.set_random_seed(3)
    model = cydl.Sequential([layers.Input(shape=(12,)), layers.Dense(24, activation="relu"),
                             layers.Dropout(0.25), layers.Dense(4, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer=optimizer,
                  metrics=["accuracy"], run_eagerly=eager)
    return model


def _data():
    rng = np.random.default_rng(1)
    return rng.standard_normal((200, 12)).astype(np.float32), rng.integers(0, 4, 200)


@pytest.mark.parametrize("eager", [False, True])
@pytest.mark.parametrize("save_freq", ["epoch", 3])
def test_interrupted_fit_resumes_exactly(tmp_path, eager, save_freq):
    X, y = _data()
    ref = _model(eager)
    ref_history = ref.fit(X, y, epochs=4, batch_size=16, verbose=0).history

    backup = cydl.callbacks.BackupAndRestore(tmp_path / "b", save_freq=save_freq)
    model = _model(eager)
    with pytest.raises(RuntimeError, match="Interrupting"):
        model.fit(X, y, epochs=4, batch_size=16, verbose=0, callbacks=[backup, _Boom(2, 7)])
    assert model._fit_state is None
    model = _model(eager)          # as a restarted script builds it
    history = model.fit(X, y, epochs=4, batch_size=16, verbose=0, callbacks=[backup]).history
    for a, b in zip(ref.get_weights(), model.get_weights()):
        assert np.array_equal(a, b)
    assert history == {k: v[2:] for k, v in ref_history.items()}
    assert model.optimizer.iterations.numpy() == ref.optimizer.iterations.numpy()
    assert model.layers[1].steps == ref.layers[1].steps      # Dropout's call count


def test_keras_example_counts_epochs(tmp_path):
    # Keras' docstring: interrupted at epoch 4 of 10, the second fit runs 6 epochs
    X, y = _data()
    callback = cydl.callbacks.BackupAndRestore(backup_dir=tmp_path / "backup")
    model = _model(optimizer="sgd")
    with pytest.raises(RuntimeError):
        model.fit(X, y, epochs=10, batch_size=50, verbose=0,
                  callbacks=[callback, _Boom(4)])
    history = model.fit(X, y, epochs=10, batch_size=50, verbose=0, callbacks=[callback])
    assert len(history.history["loss"]) == 6


def test_no_backup_trains_from_the_start(tmp_path):
    X, y = _data()
    a = _model()
    a.fit(X, y, epochs=2, batch_size=32, verbose=0)
    b = _model()             # (seeds the generators again)
    b.fit(X, y, epochs=2, batch_size=32, verbose=0,
          callbacks=[cydl.callbacks.BackupAndRestore(tmp_path / "b")])
    for u, v in zip(a.get_weights(), b.get_weights()):
        assert np.array_equal(u, v)         # the callback changes nothing by itself
    assert not (tmp_path / "b").exists()


def test_delete_checkpoint(tmp_path):
    X, y = _data()
    kept = tmp_path / "kept"
    _model().fit(X, y, epochs=2, verbose=0, callbacks=[
        cydl.callbacks.BackupAndRestore(kept, delete_checkpoint=False)])
    names = sorted(os.listdir(kept))
    assert names[0] == "checkpoint.json" and len(names) == 2 and names[1].startswith("ckpt-")
    # a finished backup makes the next fit start at its end: nothing left to run
    model = _model()
    history = model.fit(X, y, epochs=2, verbose=0, callbacks=[
        cydl.callbacks.BackupAndRestore(kept)])
    assert history.history == {}
    assert not kept.exists()
    # another file in the folder: the callback removes its own files only
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "notes.txt").write_text("mine")
    _model().fit(X, y, epochs=1, verbose=0, callbacks=[
        cydl.callbacks.BackupAndRestore(shared)])
    assert os.listdir(shared) == ["notes.txt"]


def test_a_crash_during_a_backup_keeps_the_previous_one(tmp_path, monkeypatch):
    X, y = _data()
    backup = cydl.callbacks.BackupAndRestore(tmp_path / "b", delete_checkpoint=False)
    model = _model()
    model.fit(X, y, epochs=2, batch_size=50, verbose=0, callbacks=[backup])
    after_two = model.get_weights()
    pointer = (tmp_path / "b" / "checkpoint.json").read_text()

    def crash(self, path, overwrite=True):
        with open(path, "wb") as f:
            f.write(b"\x89HDF\r\n half a file")
        raise KeyboardInterrupt
    monkeypatch.setattr(type(model), "save_weights", crash)
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, y, epochs=3, batch_size=50, verbose=0, callbacks=[backup])
    monkeypatch.undo()
    assert (tmp_path / "b" / "checkpoint.json").read_text() == pointer
    assert len(os.listdir(tmp_path / "b")) == 2      # the unfinished folder is gone
    model = _model()
    history = model.fit(X, y, epochs=2, batch_size=50, verbose=0, callbacks=[backup])
    assert history.history == {}                      # resumed after epoch 2
    for a, b in zip(after_two, model.get_weights()):
        assert np.array_equal(a, b)


def test_other_fit_arguments_restart_the_epoch(tmp_path):
    X, y = _data()
    backup = cydl.callbacks.BackupAndRestore(tmp_path / "b", save_freq=4)
    model = _model()
    with pytest.raises(RuntimeError):
        model.fit(X, y, epochs=3, batch_size=16, verbose=0, callbacks=[backup, _Boom(1, 5)])
    with pytest.warns(UserWarning, match="Resuming at the start of epoch 2"):
        history = model.fit(X, y, epochs=3, batch_size=20, verbose=0, callbacks=[backup])
    assert len(history.history["loss"]) == 2


def test_hostile_or_foreign_backups_are_refused(tmp_path):
    X, y = _data()
    folder = tmp_path / "b"
    folder.mkdir()
    pointer = {"format": "cydl.BackupAndRestore", "version": 1, "checkpoint": "../../etc"}
    (folder / "checkpoint.json").write_text(json.dumps(pointer))
    with pytest.raises(ValueError, match="not a backup written by this callback"):
        _model().fit(X, y, epochs=1, verbose=0,
                     callbacks=[cydl.callbacks.BackupAndRestore(folder)])
    (folder / "checkpoint.json").write_text("{not json")
    with pytest.raises(ValueError, match="cannot be read"):
        _model().fit(X, y, epochs=1, verbose=0,
                     callbacks=[cydl.callbacks.BackupAndRestore(folder)])


def test_double_checkpoint_falls_back_to_the_previous_backup(tmp_path):
    X, y = _data()
    backup = cydl.callbacks.BackupAndRestore(tmp_path / "b", double_checkpoint=True,
                                             delete_checkpoint=False)
    model = _model()
    model.fit(X, y, epochs=1, batch_size=50, verbose=0, callbacks=[backup])
    model.fit(X, y, epochs=3, batch_size=50, verbose=0, callbacks=[backup])
    pointer = json.loads((tmp_path / "b" / "checkpoint.json").read_text())
    assert pointer["previous"] and len(os.listdir(tmp_path / "b")) == 3
    with open(tmp_path / "b" / pointer["checkpoint"] / "training_state.json", "w") as f:
        f.write("{damaged")
    model = _model()
    with pytest.warns(UserWarning, match="restoring the previous one"):
        history = model.fit(X, y, epochs=3, batch_size=50, verbose=0, callbacks=[backup])
    assert len(history.history["loss"]) == 1     # the previous backup: after epoch 2


@pytest.mark.parametrize("bad", [0, -3, True, "batch", 2.5, None])
def test_bad_arguments(tmp_path, bad):
    with pytest.raises(ValueError, match="save_freq"):
        cydl.callbacks.BackupAndRestore(tmp_path, save_freq=bad)


def test_batch_hook_only_with_an_integer_save_freq(tmp_path):
    # fit calls batch hooks (and builds their logs) only for callbacks that have one
    from cydl.callbacks.base import _overrides
    assert not _overrides(cydl.callbacks.BackupAndRestore(tmp_path), "on_train_batch_end")
    assert _overrides(cydl.callbacks.BackupAndRestore(tmp_path, save_freq=2),
                      "on_train_batch_end")


def test_empty_backup_dir():
    with pytest.raises(ValueError, match="backup_dir"):
        cydl.callbacks.BackupAndRestore("")


def test_save_freq_false_only_restores(tmp_path):
    X, y = _data()
    _model().fit(X, y, epochs=2, verbose=0, callbacks=[
        cydl.callbacks.BackupAndRestore(tmp_path / "b", save_freq=False,
                                        delete_checkpoint=False)])
    assert not (tmp_path / "b").exists()
