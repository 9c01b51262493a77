"""compile, fit, evaluate and predict: the training API every Model has."""
import threading

import numpy as np

from cydl import _ops, graph
from cydl.autodiff import Tensor, active_tape
from cydl.layers.base import Layer
from cydl.models import _loops, _shards, _validate
from cydl.models._compile import CompileConfig
from cydl.models._store import ParamStore


class Trainer:
    """Mixed into Model: the compiled loss and optimizer, and the cached runners."""

    def _init_trainer(self):
        self.optimizer = None
        self._compile_config = None
        self._store = None
        self._runners = {}
        self._fast = None
        self._lock = threading.RLock()
        self.stop_training = False
        self.history = None
        self.compiled = False

    def _invalidate(self):
        self._runners = {}
        self._fast = None

    # ------------------------------------------------------------ weights
    def count_params(self):
        return int(sum(v.size for v in self.weights))

    def get_weights(self):
        return [v.numpy() for v in self.weights]

    def set_weights(self, weights):
        own = self.weights
        if len(weights) != len(own):
            raise ValueError(f"Model {self.name!r} expects {len(own)} weight arrays, "
                             f"received {len(weights)}")
        for var, w in zip(own, weights):          # every shape first: all or nothing
            if np.shape(w) != var.shape:
                raise ValueError(f"Model {self.name!r}: weight {var.name!r} has shape "
                                 f"{var.shape}, received {np.shape(w)}")
        for var, w in zip(own, weights):
            var.assign(w)

    def save(self, filepath, overwrite=True, include_optimizer=True):
        """Save the model to a `.keras` file: see cydl.saving.save_model. In a
        data-parallel run (cydl.distribution) every process calls it and process 0
        writes; each returns once the file is written."""
        from cydl import saving
        dist = _shards.current()
        if dist is None:
            return saving.save_model(self, filepath, overwrite, include_optimizer)
        from cydl.models._dist_eval import chief_writes
        chief_writes(self, dist, lambda: saving.save_model(self, filepath, overwrite,
                                                           include_optimizer))

    def save_weights(self, filepath, overwrite=True):
        """Save the weights to `.weights.npz` or `.weights.h5`: see cydl.saving. In a
        data-parallel run (cydl.distribution) every process calls it and process 0
        writes; each returns once the file is written."""
        from cydl import saving
        dist = _shards.current()
        if dist is None:
            return saving.save_weights(self, filepath, overwrite)
        from cydl.models._dist_eval import chief_writes
        chief_writes(self, dist, lambda: saving.save_weights(self, filepath, overwrite))

    def load_weights(self, filepath):
        """Load weights saved by save_weights() or save() into this model."""
        from cydl import saving
        saving.load_weights(self, filepath)

    def export(self, filepath, format="onnx", verbose=None, input_signature=None, **kwargs):
        """Export the forward pass for inference, as Keras 3's `Model.export`; cydl
        writes format="onnx" (`pip install "cydl[onnx]"`): see cydl.export.

        Example:
        >>> model.export("model.onnx", format="onnx")
        """
        from cydl.export import export_model
        export_model(self, filepath, format, verbose, input_signature, **kwargs)

    def _store_dtype(self):
        ws = self.weights
        return ws[0].dtype if ws else np.dtype(self.dtype)

    @property
    def _heads(self):
        return self._compile_config.heads if self._compile_config else None

    # ------------------------------------------------------------ runners
    def _current_store(self):
        if self._store is None or not self._store.is_current([self]):
            self._store = ParamStore([self])
            self._invalidate()
        return self._store

    def _runner(self, train, with_head=None):
        from cydl.models._runners import make_runner
        with self._lock:
            store = self._current_store()
            heads = self._heads if (train or with_head) else None
            if train:
                self.optimizer.build(store)
            mode = "train" if train else "eval" if heads else "predict"
            # data parallel: BatchNormalization needs the global batch's statistics
            # mid-step, which the graph runner's layer takes (see make_runner)
            parallel = train and _shards.current() is not None
            key = (mode, tuple(h._key for h in heads) if heads else None,
                   id(self.optimizer) if train else None, self._layout_key(), parallel)
            runner = self._runners.get(mode)
            if runner is None or runner._key != key:
                runner = make_runner(self, store, heads, self.optimizer if train else None,
                                     _ops.resolve_threads(), self._force_general, parallel)
                runner._key = key
                self._runners[mode] = runner
            runner.n_threads = _ops.resolve_threads()
            if mode == "predict" and runner.fused and self._fast is None and \
                    len(runner.lowered.inputs) == 1 and len(runner.lowered.outputs) == 1:
                from cydl.models._fast_predict import fast_call
                self._fast = fast_call(runner.plan, store, self.input_shape,
                                       self.output_shape, self._lock)
            return runner

    _force_general = False

    def _layout_key(self):
        return tuple((id(v), v.trainable) for v in self.trainable_weights) + \
            tuple(id(v) for v in self.non_trainable_weights)

    def __call__(self, inputs, *args, training=None, **kwargs):
        fast = self._fast
        if fast is not None and not training and not args and not kwargs:
            out = fast(inputs)      # None under a recording tape, or for what it declines
            if out is not None:
                return out
        if not training and not args and not kwargs and active_tape() is None and \
                not graph.any_symbolic(inputs) and \
                not any(type(t) is Tensor for t in graph.flatten(inputs)):
            return _loops.run_predict(self, inputs, None, 0)    # checked, in batches
        return Layer.__call__(self, inputs, *args, training=training, **kwargs)

    # ------------------------------------------------------------ training API
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1,
                jit_compile="auto", auto_scale_loss=True):
        """Configure training.

        Args:
            optimizer: name ("sgd", "adam", ...) or Optimizer instance.
            loss: name ("sparse_categorical_crossentropy", "mse", ...), a Loss, or a
                function loss_fn(y_true, y_pred) written with cydl.ops; a list or
                dict (by output name) for several outputs.
            metrics: names ("accuracy", "mae", ...) or Metric instances. With
                several outputs, as in Keras 3: a dict by output name
                ({"out_a": ["mae"], "out_b": "accuracy"}: logged as "out_a_mae",
                "out_b_accuracy") or a list with one entry per output; a list of
                another length applies to every output.
            loss_weights: a list or dict (by output name) of weights for the
                outputs' losses; the training loss is their weighted sum.
            weighted_metrics: metrics like `metrics` that take the sample weights
                (fit's `sample_weight`, or `class_weight`); logged under their own
                name, or "weighted_<name>" when a plain metric has that name.
            run_eagerly: run layer by layer on a tape instead of one compiled call
                per step. Same numbers, slower; useful for debugging custom layers.

        Example:
        >>> model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd",
        ...               metrics=["accuracy"])
        """
        optimizer = _validate.check_compile_args(optimizer, run_eagerly, steps_per_execution)
        config = CompileConfig(loss, metrics, loss_weights, weighted_metrics)
        self.optimizer, self._compile_config = optimizer, config
        self.loss = self._compile_config.loss
        self._force_general = bool(run_eagerly)
        self._invalidate()
        self.compiled = True

    def _check_compiled(self):
        if not self.compiled:
            raise RuntimeError("You must call compile() before training or evaluating")

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None,
            validation_steps=None, validation_batch_size=None, validation_freq=1):
        """Train for `epochs` passes over (x, y); returns a History.

        Args:
            x: an array, or a list/tuple/dict of arrays for several inputs.
            y: targets: an array, or a list/tuple/dict for several outputs.
            batch_size: samples per step (default 32).
            epochs: passes over the data.
            verbose: 0 silent, 1 progress bar (one line per epoch when not a
                terminal), 2 one line per epoch; "auto" is 1.
            callbacks: list of Callback.
            validation_split: fraction of the data, taken from the end, to validate on.
            validation_data: (x_val, y_val) to validate on after each epoch.
            shuffle: reshuffle the training data every epoch.
        """
        self._check_compiled()
        verbose = _validate.check_verbose(verbose, auto=1)
        return _loops.run_fit(self, x, y, batch_size, epochs, verbose, callbacks,
                              validation_split, validation_data, shuffle, class_weight,
                              sample_weight, initial_epoch, steps_per_epoch,
                              validation_batch_size, validation_freq)

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False):
        """The loss (and metrics) on (x, y): a float, or [loss, *metrics].

        Args:
            callbacks: list of Callback; their test hooks fire as in Keras
                (`on_test_begin`, `on_test_batch_begin/end`, `on_test_end`).
        """
        self._check_compiled()
        verbose = _validate.check_verbose(verbose, auto=1)
        with self._lock:      # one bound runner per model: evaluations take turns
            return _loops.run_evaluate(self, x, y, batch_size, verbose, sample_weight,
                                       return_dict, callbacks)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """The model's outputs for x, as a NumPy array (a list for several outputs).

        A small batch in the model's dtype runs as one compiled call (about 10 us
        for one row of a 784-300-100-10 MLP).

        Args:
            callbacks: list of Callback; their predict hooks fire as in Keras
                (`on_predict_batch_end` gets `{"outputs": batch_outputs}`).
        """
        verbose = _validate.check_predict_call(batch_size, verbose)
        dist = _shards.current() if _shards.distribution_set() else None
        if dist is not None:     # every process predicts a share and gets every row
            from cydl.models import _dist_eval
            return _dist_eval.predict(self, x, batch_size, 0 if verbose == "auto" else verbose,
                                      callbacks, dist)
        fast = self._fast
        no_hooks = callbacks is None or (isinstance(callbacks, (list, tuple)) and not callbacks)
        if fast is not None and (verbose == "auto" or not verbose) and no_hooks and \
                (batch_size is None or batch_size >= len(x)):
            out = fast(x, False)
            if out is not None:
                return out
        return _loops.run_predict(self, x, batch_size, 0 if verbose == "auto" else verbose,
                                  callbacks)

    def train_on_batch(self, x, y, sample_weight=None, return_dict=False):
        """One training step on exactly this batch; returns the loss (and metrics)."""
        self._check_compiled()
        _validate.check_model(self, "train_on_batch")
        logs = _loops.run_train_batch(self, x, y, sample_weight)
        return logs if return_dict else (list(logs.values()) if len(logs) > 1 else logs["loss"])

    def test_on_batch(self, x, y, sample_weight=None, return_dict=False):
        return self.evaluate(x, y, batch_size=len(_loops.first_array(x)), verbose=0,
                             sample_weight=sample_weight, return_dict=return_dict)

    def predict_on_batch(self, x):
        return self.predict(x, batch_size=len(_loops.first_array(x)), verbose=0)

    @property
    def metrics_names(self):
        return _loops.log_names(self)
