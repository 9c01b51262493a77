"""get_config / from_config / clone_model of functional graphs that call cydl.ops
directly (`y = cydl.ops.relu(layers.Dense(3)(x)) + x`).

Keras 3 lists each op call in the config as a one-call "layer" of the op's class
(keras.src.ops.nn.Relu, keras.src.ops.numpy.Add, ...). cydl writes the same entries
(cydl/models/_op_config.py, hooked into cydl/models/config.py), so such a model
round-trips, and the entries are checked against the ones Keras 3 writes for the
same graph; Keras rebuilds cydl's config and cydl rebuilds Keras', with the same
predictions."""
import json
import os

import numpy as np
import pytest

import cydl
from cydl import layers
from cydl.models import _op_config
from _keras_oracle import run_keras  # tests/ is on sys.path

X = np.random.default_rng(0).standard_normal((7, 4)).astype("float32")


def brief_model(lib):
    """The brief's example."""
    x = lib.layers.Input((4,))
    y = lib.ops.relu(lib.layers.Dense(4)(x)) + x
    return lib.Model(x, y)


def many_ops(lib):
    """Most ops of cydl.ops, with constants on either side, slices and keywords. The
    same text builds the graph in Keras (`lib` is keras or cydl)."""
    o = lib.ops
    x = lib.layers.Input((4,))
    h = lib.layers.Dense(4, name="d1")(x)
    a = o.leaky_relu(h, negative_slope=0.1) + o.elu(h, alpha=0.5)
    b = 2.0 - o.tanh(a) * o.sigmoid(h)
    c = o.maximum(o.minimum(b, 1.5), -1.5) / 3.0
    d = o.where(o.greater(c, 0.0), o.square(c), o.negative(o.absolute(c)))
    e = o.concatenate([d, o.mean(x, axis=-1, keepdims=True), x[:, 1:3],
                       o.sum(o.exp(o.clip(x, -2.0, 2.0)), axis=1, keepdims=True)], axis=-1)
    f = o.reshape(e, (-1, 2, 4))
    g = o.reshape(o.transpose(f, (0, 2, 1)), (-1, 8))
    k = o.gelu(g, approximate=False) + o.gelu(g, approximate=True) + o.softplus(g)
    m = o.log1p(o.sqrt(o.square(k) + 1.0)) + o.stop_gradient(o.softmax(k, axis=-1))
    n = o.cast(m, "float32") + o.power(o.cos(m), 2.0) + o.sin(m) + o.silu(m) + o.relu6(m)
    return lib.Model(x, lib.layers.Dense(3, name="d2")(n))


def _hooked():
    try:
        brief_model(cydl).get_config()
    except NotImplementedError as e:
        pytest.fail(f"cydl/models/config.py does not call cydl.models._op_config yet "
                    f"(see that module's docstring for the hook): {e}")


@pytest.mark.parametrize("build", [brief_model, many_ops])
def test_round_trip_through_from_config_and_json(build):
    _hooked()
    model = build(cydl)
    config = json.loads(json.dumps(model.get_config()))        # JSON-clean
    again = cydl.Model.from_config(config)
    assert [w.shape for w in again.get_weights()] == [w.shape for w in model.get_weights()]
    again.set_weights(model.get_weights())
    np.testing.assert_allclose(again.predict(X, verbose=0), model.predict(X, verbose=0),
                               rtol=1e-6, atol=1e-6)
    # and again from the rebuilt model: the config is stable
    assert json.loads(json.dumps(again.get_config()))["layers"] == config["layers"] or \
        [e["class_name"] for e in again.get_config()["layers"]] == \
        [e["class_name"] for e in config["layers"]]


def test_indexing_keys_round_trip():
    """Slices, Ellipsis, None and ints in a key, written in Keras' forms."""
    _hooked()
    x = layers.Input((4,))
    h = layers.Dense(4)(x)
    y = cydl.ops.concatenate([h[..., 0:2], h[:, None, 1][:, 0:1], h[:, ::-2]], axis=-1)
    model = cydl.Model(x, y)
    config = json.loads(json.dumps(model.get_config()))
    keys = [e["inbound_nodes"][0]["args"][1] for e in config["layers"]
            if e["class_name"] == "GetItem"]
    assert any({"class_name": "__ellipsis__", "config": {}} in key for key in keys)
    assert any(None in key and 1 in key for key in keys)
    again = cydl.Model.from_config(config)
    again.set_weights(model.get_weights())
    np.testing.assert_array_equal(again.predict(X, verbose=0), model.predict(X, verbose=0))


def test_clone_model_trains_like_the_original():
    _hooked()
    cydl.config.set_floatx("float64")
    model = many_ops(cydl)
    clone = cydl.models.clone_model(model)
    clone.set_weights(model.get_weights())
    y = np.random.default_rng(1).standard_normal((7, 3))
    xs = X.astype("float64")
    logs = []
    for m in (model, clone):
        m.compile(loss="mse", optimizer=cydl.optimizers.SGD(0.01))
        logs.append(m.fit(xs, y, epochs=3, shuffle=False, verbose=0).history["loss"])
    np.testing.assert_allclose(logs[1], logs[0], rtol=1e-12)


def test_brief_example_entries():
    _hooked()
    entries = brief_model(cydl).get_config()["layers"]
    relu, add = entries[-2:]
    assert relu["module"] == "keras.src.ops.nn" and relu["class_name"] == "Relu"
    assert add["module"] == "keras.src.ops.numpy" and add["class_name"] == "Add"
    assert add["config"] == {"name": add["name"]}
    args = add["inbound_nodes"][0]["args"]
    assert [a["config"]["keras_history"][0] for a in args] == \
        [relu["name"], entries[0]["name"]]


def test_op_names_are_unique_among_the_layers():
    _hooked()
    x = layers.Input((3,))
    y = layers.Dense(3, name="add")(x)               # a layer that takes the op's name
    y = cydl.ops.add(cydl.ops.add(y, x), 1.0)
    names = [e["name"] for e in cydl.Model(x, y).get_config()["layers"]]
    assert len(set(names)) == len(names) and {"add_1", "add_2"} <= set(names)


def test_ops_that_hold_weights_or_unknown_primitives_are_refused():
    _hooked()
    from cydl.autodiff import apply
    x = layers.Input((3,))
    dense = layers.Dense(2)
    dense(x)
    y = cydl.ops.dense(x, dense.kernel, dense.bias)           # an op with weights
    with pytest.raises(NotImplementedError, match="affine"):
        cydl.Model(x, y).get_config()

    def twice(values, need):
        return values[0] * 2, None
    z = apply(twice, (x,))
    with pytest.raises(NotImplementedError, match="twice"):
        cydl.Model(x, z).get_config()


def test_unknown_op_class_in_a_config_is_a_clear_error():
    entry = {"module": "keras.src.ops.numpy", "class_name": "Einsum", "name": "einsum",
             "config": {"name": "einsum"}, "inbound_nodes": []}
    assert _op_config.is_op_entry(entry)
    with pytest.raises(ValueError, match="Einsum"):
        _op_config.deserialize_op(entry)
    assert not _op_config.is_op_entry({"module": "keras.layers", "class_name": "Dense"})


# ---------------------------------------------------------------- Keras 3 itself
_KERAS = f"""
sys.path.insert(0, {json.dumps(os.path.dirname(os.path.abspath(__file__)))})
import test_op_config as t
x = np.array(data["x"], dtype="float32")
mine = keras.Model.from_config(data["config"])        # cydl's config, rebuilt by Keras
mine.set_weights([np.array(w, dtype="float32") for w in data["weights"]])
theirs = t.many_ops(keras)
theirs.set_weights([np.array(w, dtype="float32") for w in data["weights"]])
result = {{"config": theirs.get_config(),
          "from_cydl": np.asarray(mine.predict(x, verbose=0)).tolist(),
          "theirs": np.asarray(theirs.predict(x, verbose=0)).tolist()}}
"""


def _shape(entry):
    """An entry without its names: what must match between Keras and cydl."""
    def strip(a):
        if isinstance(a, dict) and a.get("class_name") == "__keras_tensor__":
            return ("tensor", tuple(a["config"]["shape"]), a["config"]["dtype"])
        if isinstance(a, list):
            return [strip(v) for v in a]
        return a
    config = {k: v for k, v in entry["config"].items() if k != "name"}
    # Keras' `/` records TrueDivide, ops.divide Divide: the same op, one primitive in cydl
    name = "Divide" if entry["class_name"] == "TrueDivide" else entry["class_name"]
    return (entry["module"], name, json.dumps(config, sort_keys=True),
            json.dumps(strip(entry["inbound_nodes"][0]["args"]), sort_keys=True))


@pytest.fixture(scope="module")
def keras_side():
    _hooked()
    model = many_ops(cydl)
    payload = {"config": json.loads(json.dumps(model.get_config())), "x": X.tolist(),
               "weights": [w.tolist() for w in model.get_weights()]}
    return model, run_keras(_KERAS, payload, float64=False)


def test_op_entries_are_the_ones_keras_writes(keras_side):
    model, result = keras_side
    ours = [_shape(e) for e in model.get_config()["layers"] if _op_config.is_op_entry(e)]
    theirs = [_shape(e) for e in result["config"]["layers"] if _op_config.is_op_entry(e)]
    assert sorted(map(repr, ours)) == sorted(map(repr, theirs))


def test_keras_rebuilds_cydls_config_and_cydl_rebuilds_keras(keras_side):
    model, result = keras_side
    expected = model.predict(X, verbose=0)
    np.testing.assert_allclose(result["theirs"], expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(result["from_cydl"], expected, rtol=1e-5, atol=1e-5)
    rebuilt = cydl.Model.from_config(result["config"])
    rebuilt.set_weights(model.get_weights())
    np.testing.assert_allclose(rebuilt.predict(X, verbose=0), expected, rtol=1e-6,
                               atol=1e-6)
