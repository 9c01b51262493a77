"""TensorBoard: event files for TensorBoard, written with tensorboardX (optional extra)."""
import itertools
import json
import numbers
import os
import time

import numpy as np

from cydl._checks import integer
from cydl.callbacks.base import Callback
from cydl.distribution._state import is_chief

_EXTRA = 'pip install "cydl[tensorboard]"'
# several writers may open in one directory within the same second (two fits in a
# row): the pid and a counter keep their event file names apart
_writer_ids = itertools.count()


def _tensorboardx():
    try:
        import tensorboardX
        from tensorboardX import summary
        from tensorboardX.proto import summary_pb2, tensor_pb2, tensor_shape_pb2
    except ImportError as e:
        raise ImportError(f"cydl.callbacks.TensorBoard writes its event files with the "
                          f"tensorboardX package, which is not installed ({e}). Install "
                          f"the extra: {_EXTRA} (or pip install tensorboardX)") from None
    return tensorboardX, summary, summary_pb2, tensor_pb2, tensor_shape_pb2


def _flag(value, name):
    if not isinstance(value, (bool, np.bool_, numbers.Integral)):
        raise TypeError(f"TensorBoard: `{name}` must be True or False. Received: "
                        f"{name}={value!r} of type {type(value).__name__}")
    return bool(value)


def _profile_range(profile_batch):
    """Keras' accepted forms: an int >= 0, a pair (start, stop), or "start,stop"."""
    message = (f"TensorBoard: `profile_batch` must be a non-negative integer or a pair of "
               f"non-negative integers (start, stop) with start <= stop. Received: "
               f"profile_batch={profile_batch!r}")
    value = profile_batch
    if isinstance(value, str):
        try:
            value = [int(v) for v in value.split(",")]
        except ValueError:
            raise ValueError(message) from None
        value = value[0] if len(value) == 1 else value
    if isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, bool):
        value = (int(value), int(value))
    if not isinstance(value, (tuple, list)) or len(value) != 2 or any(
            isinstance(v, bool) or not isinstance(v, (numbers.Integral, np.integer))
            for v in value):
        raise (ValueError if isinstance(profile_batch, (tuple, list, str)) else TypeError)(
            message)
    start, stop = int(value[0]), int(value[1])
    if start < 0 or stop < start:
        raise ValueError(message)
    return start, stop


def _keras_refs(x):
    """TensorBoard's graph plugin reads a layer's inputs in Keras 3's form,
    {"class_name": "__keras_tensor__", "config": {"keras_history": [name, node,
    tensor]}}; a bare [name, node, tensor] (Keras 2's form) is turned into it."""
    if isinstance(x, dict):
        if x.get("class_name") == "__keras_tensor__":
            return x
        return {k: _keras_refs(v) for k, v in x.items()}
    if isinstance(x, list) and len(x) == 3 and isinstance(x[0], str) and \
            all(isinstance(v, int) and not isinstance(v, bool) for v in x[1:]):
        return {"class_name": "__keras_tensor__", "config": {"keras_history": list(x)}}
    if isinstance(x, list):
        return [_keras_refs(v) for v in x]
    return x


def _keras_layers(config):
    """The Keras 3 form of a model config for the graph plugin (nested models too)."""
    config = dict(config)
    if isinstance(config.get("layers"), list):
        layers = []
        for entry in config["layers"]:
            entry = dict(entry)
            if "inbound_nodes" in entry:
                entry["inbound_nodes"] = [_keras_refs(n) for n in entry["inbound_nodes"]]
            if isinstance(entry.get("config"), dict):
                entry["config"] = _keras_layers(entry["config"])
            layers.append(entry)
        config["layers"] = layers
    return config


class TensorBoard(Callback):
    """Write TensorBoard logs: the losses and metrics, the learning rate, weight
    histograms and the model's structure.

    The layout is Keras': `log_dir/train` holds `epoch_loss`, `epoch_accuracy`, ...
    and `epoch_learning_rate` (step = epoch index), `log_dir/validation` holds the
    `val_` values under the same names (`epoch_loss`, ...) and, after each
    validation pass, `evaluation_loss_vs_iterations`, ... (step = optimizer
    iterations). With `update_freq="batch"` or an int N, `batch_loss`, ... are
    written every N training batches as well (step = batches since the start of
    `fit`; the values are the epoch's running means, as the batch logs hold).

    The event files are written by tensorboardX, an optional extra:
    `pip install "cydl[tensorboard]"`. View them with `tensorboard --logdir logs`
    (the `tensorboard` package). In a data-parallel run (cydl.distribution)
    process 0 writes them; the others, whose logs are the same, write nothing.

    Args:
        log_dir: the folder to write to (a str or a `pathlib.Path`); the
            `train` and `validation` folders are made inside it.
        histogram_freq: write a histogram of every weight each `histogram_freq`
            epochs (epochs 0, N, 2N, ...; tags such as `dense/kernel/histogram`).
            0 (default) writes none.
        write_graph: write the model's config at the start of `fit`: as the
            `keras` summary TensorBoard's Graphs tab draws (the layers and their
            connections, as for a Keras model) and as JSON text (Text tab,
            `model_config`). As in Keras, a subclassed model is not written.
        write_images: with `histogram_freq`, also write each kernel and bias as a
            grayscale image (scaled to its own min..max). Needs Pillow, part of
            the extra.
        write_steps_per_second: also write `epoch_steps_per_second` (and
            `batch_steps_per_second` when writing per batch).
        update_freq: "epoch" (default), "batch" (every batch) or an int N (every N
            batches). Writing per batch costs time on every step.
        profile_batch: accepted as Keras accepts it (an int >= 0, a pair or
            "start,stop"), but a no-op: cydl has no profiler to trace with, so no
            trace is written.
        embeddings_freq: accepted for Keras compatibility, a no-op: cydl has no
            `Embedding` layer to project.
        embeddings_metadata: accepted for Keras compatibility, a no-op.

    Example:

    >>> tensorboard_cb = cydl.callbacks.TensorBoard("my_logs/run_1", histogram_freq=1)
    >>> model.fit(X_train, y_train, epochs=20, validation_data=(X_valid, y_valid),
    ...           callbacks=[tensorboard_cb])
    >>> # then, in a shell: tensorboard --logdir my_logs
    """

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0,
                 embeddings_freq=0, embeddings_metadata=None):
        super().__init__()
        # fail here, before training starts, rather than at the end of the first epoch
        _tensorboardx()
        if not isinstance(log_dir, (str, os.PathLike)):
            raise TypeError(f"TensorBoard: `log_dir` must be a path (str or os.PathLike). "
                            f"Received: log_dir={log_dir!r} of type {type(log_dir).__name__}")
        self.log_dir = os.fspath(log_dir)
        if not self.log_dir:
            raise ValueError("TensorBoard: `log_dir` must not be empty. Received: log_dir=''")
        self.histogram_freq = integer(histogram_freq, "histogram_freq", low=0,
                                      owner="TensorBoard")
        self.write_graph = _flag(write_graph, "write_graph")
        self.write_images = _flag(write_images, "write_images")
        self.write_steps_per_second = _flag(write_steps_per_second, "write_steps_per_second")
        if update_freq == "batch":
            update_freq = 1
        elif isinstance(update_freq, str):
            if update_freq != "epoch":
                raise ValueError(f"TensorBoard: `update_freq` must be 'epoch', 'batch' or a "
                                 f"positive int. Received: update_freq={update_freq!r}")
        else:
            update_freq = integer(update_freq, "update_freq", low=1, owner="TensorBoard")
        self.update_freq = update_freq
        self._profile_start, self._profile_stop = _profile_range(profile_batch)
        self.embeddings_freq = integer(embeddings_freq, "embeddings_freq", low=0,
                                       owner="TensorBoard")
        if embeddings_metadata is not None and not isinstance(embeddings_metadata,
                                                              (str, dict)):
            raise TypeError(f"TensorBoard: `embeddings_metadata` must be None, a file name "
                            f"or a dict. Received: embeddings_metadata={embeddings_metadata!r}")
        self.embeddings_metadata = embeddings_metadata
        if self.write_images:
            try:
                import PIL  # noqa: F401  (tensorboardX encodes the images with Pillow)
            except ImportError:
                raise ImportError(f"TensorBoard(write_images=True) needs Pillow to encode "
                                  f"the images, which is not installed. Install the extra: "
                                  f"{_EXTRA} (or pip install pillow)") from None
        self._writers = {}
        self._global_train_batch = 0
        self._epoch_start = self._epoch_iterations = self._batch_start = None
        # Batch hooks cost time on every step, so fit calls them only for callbacks
        # that override them (CallbackList). Logging per epoch, this one does not:
        # the instance falls back to the base class's hooks.
        if self.update_freq == "epoch":
            self.on_train_batch_end = Callback.on_train_batch_end.__get__(self)
        if self.update_freq == "epoch" or not self.write_steps_per_second:
            self.on_train_batch_begin = Callback.on_train_batch_begin.__get__(self)

    # ------------------------------------------------------------ writers
    @property
    def _tb(self):
        # looked up on use (the import system caches it): a callback holding modules
        # could not be copied or pickled
        return _tensorboardx()

    def _writer(self, which):
        if which not in self._writers:
            tensorboardX = self._tb[0]
            folder = os.path.join(self.log_dir, "train" if which == "train" else "validation")
            self._writers[which] = tensorboardX.FileWriter(
                folder, filename_suffix=f".{os.getpid()}.{next(_writer_ids)}.v2")
        return self._writers[which]

    def _scalars(self, which, values, step):
        """One event holding all of `values` ({tag: number}): one write, not one per tag."""
        if not values or not is_chief():
            return
        summary_pb2 = self._tb[2]
        summary = summary_pb2.Summary(value=[
            summary_pb2.Summary.Value(tag=tag, simple_value=float(value))
            for tag, value in values.items()])
        self._writer(which).add_summary(summary, global_step=int(step))

    def _close_writers(self):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    # ------------------------------------------------------------ hooks
    def on_train_begin(self, logs=None):
        self._global_train_batch = 0
        if self.write_graph:
            self._write_model_config()

    def on_train_end(self, logs=None):
        self._close_writers()

    def on_epoch_begin(self, epoch, logs=None):
        if self.write_steps_per_second:
            self._epoch_start = time.perf_counter()
            self._epoch_iterations = self._iterations()

    def on_train_batch_begin(self, batch, logs=None):
        self._batch_start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self._global_train_batch += 1
        step = self._global_train_batch
        if step % self.update_freq:
            return
        values = {f"batch_{k}": v for k, v in (logs or {}).items() if _is_scalar(v)}
        if self.write_steps_per_second and self._batch_start is not None:
            elapsed = time.perf_counter() - self._batch_start
            if elapsed > 0:
                values["batch_steps_per_second"] = 1.0 / elapsed
        self._scalars("train", values, step)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        train = {k: v for k, v in logs.items() if not k.startswith("val_") and _is_scalar(v)}
        val = {k[4:]: v for k, v in logs.items() if k.startswith("val_") and _is_scalar(v)}
        lr = self._learning_rate()
        if lr is not None:
            train["learning_rate"] = lr       # the optimizer's, as Keras logs it
        if self.write_steps_per_second and self._epoch_start is not None:
            elapsed = time.perf_counter() - self._epoch_start
            done = self._iterations()
            if elapsed > 0 and done is not None and self._epoch_iterations is not None:
                train["steps_per_second"] = (done - self._epoch_iterations) / elapsed
        self._scalars("train", {f"epoch_{k}": v for k, v in train.items()}, epoch)
        self._scalars("validation", {f"epoch_{k}": v for k, v in val.items()}, epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._log_weights(epoch)
        # written promptly, so that a running TensorBoard shows each epoch as it ends
        for writer in self._writers.values():
            writer.flush()

    def on_test_end(self, logs=None):
        step = self._iterations()
        if step is None or not logs or not is_chief():
            return
        self._scalars("validation", {f"evaluation_{k}_vs_iterations": v
                                     for k, v in logs.items() if _is_scalar(v)}, step)
        if "train" not in self._writers:     # evaluate() outside fit: nothing closes it
            self._writers["validation"].flush()

    # ------------------------------------------------------------ contents
    def _iterations(self):
        opt = getattr(self.model, "optimizer", None)
        it = getattr(opt, "iterations", None)
        if it is None:
            return None
        return int(np.asarray(getattr(it, "value", it)))

    def _learning_rate(self):
        opt = getattr(self.model, "optimizer", None)
        if opt is None or not hasattr(opt, "learning_rate"):
            return None
        lr = opt.learning_rate
        try:
            return float(np.asarray(getattr(lr, "value", lr)))
        except (TypeError, ValueError):
            return None

    def _write_model_config(self):
        import warnings
        if not is_chief():
            return
        if not getattr(self.model, "_is_graph", True):
            return      # as Keras: a subclassed model has no layer graph to draw
        try:
            config = {"class_name": "Sequential" if type(self.model).__name__ == "Sequential"
                      else "Functional", "config": self.model.get_config()}
            text = json.dumps(config, default=_json_default)
        # as Keras: a model that does not serialize is skipped, with a warning
        except Exception as e:  # noqa: BLE001
            warnings.warn(f"TensorBoard: the model's config could not be written ({e})")
            return
        _, summary, summary_pb2, tensor_pb2, tensor_shape_pb2 = self._tb
        writer = self._writer("train")
        # the Text tab: an indented block keeps the JSON as it is in Markdown
        pretty = json.dumps(json.loads(text), indent=2)
        writer.add_summary(summary.text("model_config", "\n".join(
            "    " + line for line in pretty.splitlines())), global_step=0)
        # the Graphs tab: Keras' "graph_keras_model" summary, a string tensor of JSON
        keras_json = json.dumps({"class_name": config["class_name"],
                                 "config": _keras_layers(config["config"])},
                                default=_json_default)
        metadata = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(
            plugin_name="graph_keras_model", content=b"1"))
        tensor = tensor_pb2.TensorProto(dtype="DT_STRING",
                                        string_val=[keras_json.encode("utf-8")],
                                        tensor_shape=tensor_shape_pb2.TensorShapeProto())
        writer.add_summary(summary_pb2.Summary(value=[summary_pb2.Summary.Value(
            tag="keras", metadata=metadata, tensor=tensor)]), global_step=0)

    def _log_weights(self, epoch):
        if not is_chief():
            return
        summary = self._tb[1]
        writer = self._writer("train")
        seen = set()
        for layer in self.model.layers:
            for weight in layer.weights:
                name = getattr(weight, "path", None) or f"{layer.name}/{weight.name}"
                name = name.replace(":", "_")
                while name in seen:           # a weight shared by two layers: one tag
                    name += "_"
                seen.add(name)
                values = np.asarray(weight.numpy() if hasattr(weight, "numpy") else weight,
                                    dtype=np.float64)
                finite = values[np.isfinite(values)]
                if finite.size == 0:          # a diverged weight has no histogram to draw
                    continue
                writer.add_summary(summary.histogram(f"{name}/histogram", finite, bins=30),
                                   global_step=epoch)
                if self.write_images:
                    image = _weight_image(values)
                    if image is not None:
                        writer.add_summary(summary.image(f"{name}/image", image,
                                                         dataformats="HWC"),
                                           global_step=epoch)


def _is_scalar(value):
    return isinstance(value, (numbers.Real, np.number)) and not isinstance(value, bool)


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


def _weight_image(values):
    """A weight as an (H, W, 1) float image in [0, 1], laid out as Keras lays it out:
    a bias as one row, a kernel with its longer side across."""
    w = np.squeeze(values)
    if w.ndim == 1:
        w = w[None, :]
    elif w.ndim == 2:
        if w.shape[0] > w.shape[1]:
            w = w.T
    else:
        return None
    w = np.nan_to_num(w.astype(np.float64))
    low, high = w.min(), w.max()
    w = (w - low) / (high - low) if high > low else np.zeros_like(w)
    return w[:, :, None].astype(np.float32)
