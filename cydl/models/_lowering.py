"""Lowering a chain of layers into the fused whole-step kernel.

Each layer kind that the kernel knows registers here once: a function that gives
its node for the plan (kind, parameter offsets, constants), or None when this
instance needs the graph runner (an unusual axis, a regularizer, ...). The
kernel side of each kind is one forward part and one backward part (Dense in
_phases.pyx, the per-unit kinds in _nodes.pyx). Activation layers are not nodes:
the rewrite below folds each one into the node before it.
"""

from cydl import _config
from cydl._kernels import _dropout
from cydl._ops import _nodes as node_ops

_LOWER = {}
NODE_DENSE, NODE_BN, NODE_DROPOUT, NODE_PRELU, NODE_AFFINE = range(5)


def lowers(*classes):
    """Register fn(layer, store, width) -> node dict (or None) for these classes."""
    def register(fn):
        for cls in classes:
            _LOWER[cls] = fn
        return fn
    return register


def _node(kind, n_in, n_out, **fields):
    node = {"kind": kind, "n_in": n_in, "n_out": n_out, "activation": "linear",
            "alpha": None, "trainable": False, "w": -1, "b": -1, "m": -1, "v": -1,
            "eps": 0.0, "momentum": 0.0, "ka": 1.0, "kb": 0.0, "kc": 0.0, "seed": 0,
            "thr": 0, "counter": None}
    node.update(fields)
    return node


def _trainable(store, *variables):
    ids = {id(v) for v in store.trainable_variables}
    return any(v is not None and id(v) in ids for v in variables)


def _plain(*variables):
    return all(v is None or (v.regularizer is None and v.constraint is None)
               for v in variables)


def _dense(layer, store, width):
    if layer.act_name is None or not _plain(layer.kernel, layer.bias):
        return None
    return _node(NODE_DENSE, layer.kernel.shape[0], layer.units, activation=layer.act_name,
                 alpha=layer.act_alpha, trainable=_trainable(store, layer.kernel),
                 w=store.offset(layer.kernel),
                 b=store.offset(layer.bias) if layer.use_bias else -1)


def _batch_norm(layer, store, width):
    if layer.axis not in (-1, 1) or not layer.trainable or not _plain(layer.gamma, layer.beta):
        return None       # a frozen BN normalizes with its moving statistics: graph runner
    n = layer.moving_mean.shape[0]
    return _node(NODE_BN, n, n, trainable=_trainable(store, layer.gamma, layer.beta),
                 w=store.offset(layer.gamma) if layer.gamma is not None else -1,
                 b=store.offset(layer.beta) if layer.beta is not None else -1,
                 m=store.offset(layer.moving_mean), v=store.offset(layer.moving_variance),
                 eps=layer.epsilon, momentum=layer.momentum)


def _dropout_node(layer, store, width):
    if layer.noise_shape is not None or not layer.built:
        return None
    a, b, c = node_ops.dropout_coefficients(layer.rate, layer._ALPHA)
    return _node(NODE_DROPOUT, width, width, ka=a, kb=b, kc=c, seed=int(layer._seed),
                 thr=int(_dropout.keep_threshold(1.0 - layer.rate)),
                 counter=layer._counter)


def _prelu(layer, store, width):
    if layer.alpha.shape != (width,) or not _plain(layer.alpha):
        return None
    return _node(NODE_PRELU, width, width, trainable=_trainable(store, layer.alpha),
                 w=store.offset(layer.alpha))


def _normalization(layer, store, width):
    mean = getattr(layer, "adapt_mean", None)
    if layer.invert or mean is None or mean.shape != (width,) or \
            len(layer._build_shape) != 2:
        return None
    return _node(NODE_AFFINE, width, width, m=store.offset(mean),
                 v=store.offset(layer.adapt_variance), eps=_config.epsilon())


def _register_builtins():
    from cydl.layers.activations import PReLU
    from cydl.layers.dense import Dense
    from cydl.layers.normalization import BatchNormalization
    from cydl.layers.preprocessing import Normalization
    from cydl.layers.regularization import AlphaDropout, Dropout
    lowers(Dense)(_dense)
    lowers(BatchNormalization)(_batch_norm)
    lowers(Dropout, AlphaDropout)(_dropout_node)
    lowers(PReLU)(_prelu)
    lowers(Normalization)(_normalization)


def lower_chain(layers, store, n_features):
    """Plan nodes for a chain of layers, or None if some layer needs the graph runner."""
    from cydl.layers import core
    from cydl.layers.input_layer import InputLayer
    if not _LOWER:
        _register_builtins()
    if len({id(layer) for layer in layers}) != len(layers):
        return None        # a layer applied twice: its gradient is a sum the plan does not form
    nodes, width = [], n_features
    for layer in layers:
        if isinstance(layer, (InputLayer, core.Flatten, core.Reshape)) and not nodes:
            continue       # leading reshapes: the kernels read rows of the flattened input
        if type(layer) in _ACTIVATION_LAYERS:
            # rewrite: an activation layer folds into the node before it
            if not nodes or nodes[-1]["activation"] != "linear" or layer.act_name is None:
                return None
            nodes[-1]["activation"], nodes[-1]["alpha"] = layer.act_name, layer.act_alpha
            continue
        fn = _LOWER.get(type(layer))
        node = fn(layer, store, width) if fn is not None else None
        if node is None or node["n_in"] != width:
            return None
        nodes.append(node)
        width = node["n_out"]
    if not nodes or any(n["activation"] == "softmax" for n in nodes[:-1]):
        return None
    return nodes


def _activation_layers():
    from cydl.layers import core
    return (core.Activation, core.LeakyReLU, core.ReLU, core.ELU, core.Softmax)


_ACTIVATION_LAYERS = _activation_layers()
