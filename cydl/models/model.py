"""Model: layers plus compile, fit, evaluate and predict."""
import numpy as np

from cydl import _ops as ops
from cydl.layers.base import Layer, unique_name
from cydl.layers.input_layer import InputLayer, KerasTensor
from cydl.models import _loops, _validate
from cydl.models._engine import final_activation, make_runner
from cydl.models._fast_predict import FastPredict
from cydl.models._head import Head
from cydl.models._store import ParamStore


class Model(Layer):
    """A stack of layers that trains: compile, fit, evaluate, predict.

    Build one with cydl.Sequential, or functionally from an Input:

    Args:
        inputs: a KerasTensor from cydl.Input (functional API).
        outputs: the KerasTensor of the last layer's output.
        name: the model's name.

    Example:
    >>> inputs = cydl.Input(shape=(8,))
    >>> hidden = cydl.layers.Dense(30, activation="relu")(inputs)
    >>> outputs = cydl.layers.Dense(1)(hidden)
    >>> model = cydl.Model(inputs=inputs, outputs=outputs)
    """

    def __init__(self, inputs=None, outputs=None, name=None, **kwargs):
        super().__init__(name=name or unique_name(self._default_name()), **kwargs)
        self._layers = []
        self._input_layer = None
        self._head = None
        self.optimizer = None
        self._store = None
        self._runners = {}
        self._fast = None
        self.stop_training = False
        self.history = None
        self.compiled = False
        if inputs is not None or outputs is not None:
            self._init_functional(inputs, outputs)

    def _default_name(self):
        return "functional" if type(self) is Model else type(self).__name__.lower()

    def _init_functional(self, inputs, outputs):
        if isinstance(inputs, (list, tuple)):
            if len(inputs) != 1:
                raise NotImplementedError("models with several inputs are not supported yet")
            inputs = inputs[0]
        if isinstance(outputs, (list, tuple)):
            if len(outputs) != 1:
                raise NotImplementedError("models with several outputs are not supported yet")
            outputs = outputs[0]
        if not isinstance(inputs, KerasTensor) or not isinstance(outputs, KerasTensor):
            raise TypeError("inputs and outputs must come from cydl.Input and layer calls")
        chain, node = [], outputs
        while node._inputs:
            if len(node._inputs) != 1:
                raise NotImplementedError("only chains of single-input layers are supported")
            chain.append(node._layer)
            node = node._inputs[0]
        if node is not inputs:
            raise ValueError("outputs do not depend on the given inputs")
        self._input_layer = inputs._layer
        self._layers = chain[::-1]
        self._build_from_input()

    # ------------------------------------------------------------ structure
    @property
    def layers(self):
        return list(self._layers)

    def _compute_layers(self):
        return [layer for layer in self._layers if not isinstance(layer, InputLayer)]

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)
        for layer in self._layers:
            layer.trainable = value

    @property
    def trainable_weights(self):
        if not self.trainable:
            return []
        return _unique(v for layer in self._layers for v in layer.trainable_weights)

    @property
    def non_trainable_weights(self):
        if not self.trainable:
            return self.weights
        return _unique(v for layer in self._layers for v in layer.non_trainable_weights)

    @property
    def weights(self):
        return _unique(v for layer in self._layers for v in layer.weights)

    def get_layer(self, name=None, index=None):
        """A layer by name or by index in `layers`."""
        if index is not None:
            return self._layers[index]
        for layer in self._layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name!r}. Existing layers are: "
                         f"{[layer.name for layer in self._layers]}")

    def count_params(self):
        return int(sum(v.size for v in self.weights))

    def _sample_shape(self):
        return tuple(self.input_shape[1:]) if self.input_shape is not None else None

    def _build_from_input(self):
        if self._input_layer is not None:
            self._ensure_built((1,) + tuple(self._input_layer.sample_shape))

    def _ensure_built(self, input_shape):
        if self.built:
            return
        shape = (None,) + tuple(input_shape[1:])
        self.input_shape = shape
        for layer in self._layers:
            layer._maybe_build((1,) + tuple(shape[1:]))
            shape = layer.compute_output_shape(shape)
        self.output_shape = shape
        self.built = True

    def build(self, input_shape):
        self._ensure_built(tuple(input_shape))

    def _final_activation(self):
        return final_activation(self._compute_layers())

    def _store_dtype(self):
        ws = self.weights
        return ws[0].dtype if ws else np.dtype(self.dtype)

    # ------------------------------------------------------------ running
    def _runner(self, train, with_head=None):
        layers = self._compute_layers()
        if self._store is None or not self._store.is_current(layers):
            self._store = ParamStore(layers)
            self._runners = {}
            self._fast = None
        head = self._head if (train or with_head) else None
        if train:
            self.optimizer.build(self._store)
        key = ("train" if train else "eval" if head else "predict",
               head._key if head else None, id(self.optimizer) if train else None,
               self._layout_key())
        runner = self._runners.get(key[0])
        if runner is None or runner._key != key:
            runner = make_runner(self, self._store, head, self.optimizer if train else None,
                                 ops.resolve_threads(), self._force_layer_path)
            runner._key = key
            self._runners[key[0]] = runner
        runner.n_threads = ops.resolve_threads()
        if not train and head is None and runner.fused and self._fast is None:
            self._fast = FastPredict(runner.plan, self._store, self.input_shape[1:],
                                     self.output_shape[-1])
        return runner

    _force_layer_path = False

    def _layout_key(self):
        return tuple((id(layer), layer.trainable) for layer in self._layers)

    def call(self, inputs, training=None):
        h = inputs
        for layer in self._compute_layers():
            h = layer.call(h, training=training)
        return h

    def __call__(self, inputs, training=False):
        if not training and self._fast is not None:
            out = self._fast(inputs)
            if out is not None:
                return out if len(self.output_shape) == 2 else \
                    out.reshape((out.shape[0],) + tuple(self.output_shape[1:]))
        if isinstance(inputs, KerasTensor):
            return Layer.__call__(self, inputs)
        if training:
            return Layer.__call__(self, inputs, training=True)
        return _loops.run_predict(self, inputs, None, 0)

    # ------------------------------------------------------------ training API
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1,
                jit_compile="auto", auto_scale_loss=True):
        """Configure training.

        Args:
            optimizer: name ("sgd", "adam", ...) or Optimizer instance.
            loss: name ("sparse_categorical_crossentropy", "mse", ...), loss function
                or Loss instance.
            metrics: list of names ("accuracy", "mae", ...) or Metric instances.
            run_eagerly: run layer by layer (one call per layer and op) instead of
                one compiled call per step. Same numbers, slower; useful for
                debugging custom layers.

        Example:
        >>> model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd",
        ...               metrics=["accuracy"])
        """
        if loss_weights is not None or weighted_metrics is not None:
            raise NotImplementedError("loss_weights and weighted_metrics are not supported yet")
        self.optimizer = _validate.check_compile_args(optimizer, run_eagerly,
                                                      steps_per_execution)
        self._head = Head(loss, metrics)
        self._force_layer_path = bool(run_eagerly)
        self.loss = self._head.loss
        self._runners = {}
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
            x, y: arrays of inputs and targets.
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
        """The loss (and metrics) on (x, y): a float, or [loss, *metrics]."""
        self._check_compiled()
        verbose = _validate.check_verbose(verbose, auto=1)
        return _loops.run_evaluate(self, x, y, batch_size, verbose, sample_weight, return_dict)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """The model's outputs for x, as a NumPy array (no compile needed).

        A small batch in the model's dtype runs as one compiled call (about 10 us
        for one row of a 784-300-100-10 MLP).
        """
        verbose = _validate.check_predict_call(batch_size, verbose)
        if self._fast is not None and (verbose == "auto" or not verbose) and \
                (batch_size is None or batch_size >= len(x)):
            out = self._fast(x)
            if out is not None:
                return out if len(self.output_shape) == 2 else \
                    out.reshape((out.shape[0],) + tuple(self.output_shape[1:]))
        return _loops.run_predict(self, x, batch_size, 0 if verbose == "auto" else verbose)

    def train_on_batch(self, x, y, sample_weight=None, return_dict=False):
        """One training step on exactly this batch; returns the loss (and metrics)."""
        self._check_compiled()
        _validate.check_model(self, "train_on_batch")
        X, labels, Y, sw = _loops.prepare_xy(self, x, y, sample_weight)
        runner = self._runner(train=True)
        runner.bind(X, labels, Y, sw, batch=X.shape[0])
        runner.set_order(None)
        totals = _loops._Totals(self._head)
        totals.add(runner, runner.train(0, X.shape[0]), 0, X.shape[0])
        logs = totals.logs()
        return logs if return_dict else (list(logs.values()) if len(logs) > 1 else logs["loss"])

    def test_on_batch(self, x, y, sample_weight=None, return_dict=False):
        return self.evaluate(x, y, batch_size=len(x), verbose=0, sample_weight=sample_weight,
                             return_dict=return_dict)

    def predict_on_batch(self, x):
        return self.predict(x, batch_size=len(x), verbose=0)

    @property
    def metrics_names(self):
        return ["loss"] + [m.name for m in (self._head.metrics if self._head else [])]

    # ------------------------------------------------------------ weights, summary
    def get_weights(self):
        return [v.numpy() for v in self.weights]

    def set_weights(self, weights):
        own = self.weights
        if len(weights) != len(own):
            raise ValueError(f"Model {self.name!r} expects {len(own)} weight arrays, "
                             f"received {len(weights)}")
        for var, w in zip(own, weights):
            var.assign(w)

    def summary(self, line_length=None, positions=None, print_fn=None, **kwargs):
        """Print a table of the layers, output shapes and parameter counts."""
        from cydl.models.summary import print_summary
        print_summary(self, line_length, print_fn)

    def get_config(self):
        return {"name": self.name, "layers": [
            {"class_name": type(layer).__name__, "config": layer.get_config()}
            for layer in self._layers]}


def _unique(variables):
    seen, out = set(), []
    for v in variables:
        if id(v) not in seen:
            seen.add(id(v))
            out.append(v)
    return out
