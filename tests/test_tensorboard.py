"""TensorBoard: the event files read back with TensorBoard's own reader hold what
History holds, under Keras' names, layout and steps."""
import json
import os
import sys

import numpy as np
import pytest

import cydl
from cydl import layers

X = np.random.default_rng(0).random((96, 6)).astype(np.float32)
Y = np.arange(96) % 3
XV = np.random.default_rng(1).random((30, 6)).astype(np.float32)
YV = np.arange(30) % 3


def _reader():
    pytest.importorskip("tensorboardX", reason="the writer extra (tensorboardX) is not "
                                               "installed: pip install \"cydl[tensorboard]\"")
    ea = pytest.importorskip(
        "tensorboard.backend.event_processing.event_accumulator",
        reason="TensorBoard's reader (the tensorboard package) is not installed")
    return ea


def _load(folder):
    ea = _reader()
    acc = ea.EventAccumulator(str(folder), size_guidance={
        ea.SCALARS: 0, ea.HISTOGRAMS: 0, ea.TENSORS: 0, ea.IMAGES: 0})
    acc.Reload()
    return acc


def _scalars(acc, tag):
    return [(e.step, e.value) for e in acc.Scalars(tag)]


def _model(lr=0.05):
    cydl.utils.set_random_seed(0)
    model = cydl.Sequential([layers.Input(shape=(6,)), layers.Dense(8, activation="relu"),
                             layers.Dense(3, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  optimizer=cydl.optimizers.SGD(lr))
    return model


def test_epoch_scalars_and_histograms_equal_history(tmp_path):
    _reader()
    model = _model(lr=0.05)
    tb = cydl.callbacks.TensorBoard(tmp_path / "logs", histogram_freq=1)
    history = model.fit(X, Y, epochs=3, batch_size=16, validation_data=(XV, YV), verbose=0,
                        callbacks=[tb])
    train, val = _load(tmp_path / "logs" / "train"), _load(tmp_path / "logs" / "validation")
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    for key, values in history.history.items():
        acc, name = (val, key[4:]) if key.startswith("val_") else (train, key)
        # event files store float32 scalars
        assert _scalars(acc, f"epoch_{name}") == \
            [(epoch, float(np.float32(v))) for epoch, v in enumerate(values)], key
    assert _scalars(train, "epoch_learning_rate") == [(e, float(np.float32(0.05)))
                                                      for e in range(3)]
    # no val_ value goes to train/, no training value to validation/
    assert not any(t.startswith("epoch_val") for t in train.Tags()["scalars"])
    assert "epoch_learning_rate" not in val.Tags()["scalars"]
    # a histogram of every weight each epoch; the last one is of the final weights
    for layer in model.layers:
        for w in layer.weights:
            tag = f"{layer.name}/{w.name}/histogram"
            events = train.Histograms(tag)
            assert [e.step for e in events] == [0, 1, 2]
            last = events[-1].histogram_value
            values = np.asarray(w.numpy(), np.float64)
            assert last.num == values.size
            assert last.min == pytest.approx(values.min()) and \
                last.max == pytest.approx(values.max())
            assert last.sum == pytest.approx(values.sum(), abs=1e-9)


def test_validation_pass_logs_evaluation_vs_iterations(tmp_path):
    _reader()
    model = _model()
    history = model.fit(X, Y, epochs=2, batch_size=16, validation_data=(XV, YV), verbose=0,
                        callbacks=[cydl.callbacks.TensorBoard(tmp_path)])
    val = _load(tmp_path / "validation")
    steps_per_epoch = int(np.ceil(len(X) / 16))
    assert _scalars(val, "evaluation_loss_vs_iterations") == [
        ((e + 1) * steps_per_epoch, float(np.float32(v)))
        for e, v in enumerate(history.history["val_loss"])]


def test_batch_logging_every_n_batches(tmp_path):
    _reader()
    model = _model()
    history = model.fit(X, Y, epochs=2, batch_size=16, verbose=0,
                        callbacks=[cydl.callbacks.TensorBoard(tmp_path, update_freq=2)])
    train = _load(tmp_path / "train")
    per_epoch = len(X) // 16                     # 6 batches, so epochs end on even steps
    events = dict(_scalars(train, "batch_loss"))
    assert sorted(events) == list(range(2, 2 * per_epoch + 1, 2))
    # batch logs are the epoch's running means: at an epoch's last batch, its loss
    for epoch, loss in enumerate(history.history["loss"]):
        assert events[(epoch + 1) * per_epoch] == float(np.float32(loss))
    assert "batch_accuracy" in train.Tags()["scalars"]


def test_update_freq_batch_logs_every_batch(tmp_path):
    _reader()
    model = _model()
    model.fit(X, Y, epochs=1, batch_size=32, verbose=0,
              callbacks=[cydl.callbacks.TensorBoard(tmp_path, update_freq="batch")])
    assert [s for s, _ in _scalars(_load(tmp_path / "train"), "batch_loss")] == [1, 2, 3]


def test_learning_rate_follows_a_schedule(tmp_path):
    _reader()
    model = _model()
    schedule = lambda epoch: 0.1 * 0.5 ** epoch  # noqa: E731
    model.fit(X, Y, epochs=3, batch_size=32, verbose=0,
              callbacks=[cydl.callbacks.LearningRateScheduler(schedule),
                         cydl.callbacks.TensorBoard(tmp_path)])
    assert _scalars(_load(tmp_path / "train"), "epoch_learning_rate") == \
        [(e, float(np.float32(schedule(e)))) for e in range(3)]


def test_model_config_as_text_and_as_keras_graph(tmp_path):
    _reader()
    from tensorboard.plugins.graph import keras_util
    cydl.utils.set_random_seed(0)
    wide, deep = cydl.Input(shape=(2,), name="wide"), cydl.Input(shape=(4,), name="deep")
    hidden = layers.Dense(5, activation="relu", name="hidden")(deep)
    concat = layers.concatenate([wide, hidden], name="concat")
    out = layers.Dense(1, name="out")(concat)
    model = cydl.Model(inputs=[wide, deep], outputs=out)
    model.compile(loss="mse", optimizer="sgd")
    model.fit([X[:, :2], X[:, 2:]], X[:, :1], epochs=1, verbose=0,
              callbacks=[cydl.callbacks.TensorBoard(tmp_path)])
    train = _load(tmp_path / "train")
    # the Text tab: the JSON of get_config(), indented as a Markdown code block
    (text_event,) = train.Tensors("model_config/text_summary")
    text = text_event.tensor_proto.string_val[0].decode()
    written = json.loads("\n".join(line[4:] for line in text.splitlines()))
    assert written["config"] == json.loads(json.dumps(model.get_config()))
    # the Graphs tab: TensorBoard's own converter finds every layer and connection
    (keras_event,) = train.Tensors("keras")
    graph = keras_util.keras_model_to_graph_def(
        json.loads(keras_event.tensor_proto.string_val[0].decode()))
    inputs = {n.name: sorted(n.input) for n in graph.node}
    scope = model.name + "/"            # the plugin puts the layers in the model's scope
    assert inputs == {scope + "wide": [], scope + "deep": [], scope + "hidden": [scope + "deep"],
                      scope + "concat": [scope + "hidden", scope + "wide"],
                      scope + "out": [scope + "concat"]}


def test_epoch_logging_leaves_the_batch_hooks_off(tmp_path):
    """Per-epoch logging must not make fit call a hook on every step."""
    _reader()
    model = _model()
    params = {"verbose": 0, "epochs": 1, "steps": 1}
    quiet = cydl.callbacks.CallbackList([cydl.callbacks.TensorBoard(tmp_path)], model, params)
    assert not quiet.wants_batch("on_train_batch_end")
    assert not quiet.wants_batch("on_train_batch_begin")
    loud = cydl.callbacks.CallbackList(
        [cydl.callbacks.TensorBoard(tmp_path, update_freq=10)], model, params)
    assert loud.wants_batch("on_train_batch_end")


def test_two_runs_in_one_folder_keep_both_files(tmp_path):
    ea = _reader()
    from tensorboard.backend.event_processing import event_file_loader
    del ea
    for _ in range(2):
        _model().fit(X, Y, epochs=1, verbose=0,
                     callbacks=[cydl.callbacks.TensorBoard(tmp_path, write_graph=False)])
    files = sorted(os.listdir(tmp_path / "train"))
    assert len(files) == 2
    for name in files:
        tags = [v.tag for e in event_file_loader.EventFileLoader(
            str(tmp_path / "train" / name)).Load() for v in e.summary.value]
        assert "epoch_loss" in tags


def test_book_arguments_are_accepted(tmp_path):
    """Hands-On ML ch. 10 passes profile_batch=(100, 200): accepted, a no-op."""
    _reader()
    tb = cydl.callbacks.TensorBoard(tmp_path, profile_batch=(100, 200))
    _model().fit(X, Y, epochs=1, verbose=0, callbacks=[tb])
    assert os.listdir(tmp_path / "train")


def test_write_images(tmp_path):
    _reader()
    pytest.importorskip("PIL", reason="Pillow is not installed")
    model = _model()
    model.fit(X, Y, epochs=1, verbose=0, callbacks=[
        cydl.callbacks.TensorBoard(tmp_path, histogram_freq=1, write_images=True)])
    train = _load(tmp_path / "train")
    kernel = model.layers[0].weights[0]
    (image,) = train.Images(f"{model.layers[0].name}/kernel/image")
    # the longer side across, as Keras draws a kernel
    assert (image.height, image.width) == tuple(sorted(kernel.shape))


@pytest.mark.parametrize("kwargs, error, match", [
    ({"update_freq": "weekly"}, ValueError, "update_freq='weekly'"),
    ({"update_freq": 0}, ValueError, "update_freq=0"),
    ({"histogram_freq": -1}, ValueError, "histogram_freq=-1"),
    ({"histogram_freq": 1.5}, TypeError, "histogram_freq=1.5"),
    ({"log_dir": 3}, TypeError, "log_dir=3"),
    ({"profile_batch": (5, 2)}, ValueError, r"profile_batch=\(5, 2\)"),
    ({"profile_batch": -1}, ValueError, "profile_batch=-1"),
    ({"write_graph": "yes"}, TypeError, "write_graph='yes'"),
    ({"embeddings_freq": -2}, ValueError, "embeddings_freq=-2"),
])
def test_bad_arguments_name_the_value(kwargs, error, match):
    pytest.importorskip("tensorboardX")
    with pytest.raises(error, match=match):
        cydl.callbacks.TensorBoard(**kwargs)


def test_missing_writer_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)     # import fails
    with pytest.raises(ImportError, match=r'pip install "cydl\[tensorboard\]"'):
        cydl.callbacks.TensorBoard("logs")
