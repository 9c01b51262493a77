"""Hostile and broken `.keras` files: each is a clear ValueError, nothing in them
runs, nothing named in them is imported, and a model is never half loaded."""
import base64
import io
import json
import marshal
import sys
import zipfile

import numpy as np
import pytest

import cydl
from cydl import layers
from cydl.saving import _h5read, _h5write

X = np.random.default_rng(0).normal(size=(10, 8)).astype("float32")
RAN = []          # what the planted code appends to, were it ever run


def _model():
    cydl.utils.set_random_seed(0)
    model = cydl.Sequential([layers.Input(shape=(8,)), layers.Dense(4, activation="relu"),
                             layers.Dense(2)])
    model.compile(loss="mse", optimizer="adam")
    model.fit(X, X[:, :2], epochs=1, verbose=0)
    return model


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "good.keras"
    _model().save(path)
    return path


def _members(path):
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def _write(path, members):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def _with_config(saved, tmp_path, edit):
    members = _members(saved)
    config = json.loads(members["config.json"])
    edit(config)
    members["config.json"] = json.dumps(config)
    return _write(tmp_path / "edited.keras", members)


@pytest.mark.parametrize("missing", ["config.json", "model.weights.h5"])
def test_a_zip_missing_a_member(saved, tmp_path, missing):
    members = _members(saved)
    del members[missing]
    with pytest.raises(ValueError, match=f"lacks.*{missing}"):
        cydl.models.load_model(_write(tmp_path / "m.keras", members))


@pytest.mark.parametrize("cut", [0.1, 0.5, 0.9, 0.999])
def test_truncated_files(saved, tmp_path, cut):
    data = saved.read_bytes()
    (tmp_path / "cut.keras").write_bytes(data[:int(len(data) * cut)])
    with pytest.raises(ValueError):
        cydl.models.load_model(tmp_path / "cut.keras")
    # a zip whose weights member is cut short
    members = _members(saved)
    h5 = members["model.weights.h5"]
    members["model.weights.h5"] = h5[:int(len(h5) * cut)]
    with pytest.raises(ValueError, match="model.weights.h5"):
        cydl.models.load_model(_write(tmp_path / "short.keras", members))


def test_not_a_zip_and_not_json(saved, tmp_path):
    (tmp_path / "junk.keras").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a .keras file"):
        cydl.models.load_model(tmp_path / "junk.keras")
    members = _members(saved)
    members["config.json"] = b"{not json"
    with pytest.raises(ValueError, match="config.json is not valid JSON"):
        cydl.models.load_model(_write(tmp_path / "j.keras", members))
    members["config.json"] = b"[1, 2]"
    with pytest.raises(ValueError, match="does not describe a model"):
        cydl.models.load_model(_write(tmp_path / "j.keras", members))


def test_an_unknown_keras_class_is_named(saved, tmp_path):
    def edit(config):
        config["config"]["layers"][1]["class_name"] = "Conv2D"
    with pytest.raises(ValueError, match="Keras layer 'Conv2D'.*cydl does not have"):
        cydl.models.load_model(_with_config(saved, tmp_path, edit))


@pytest.mark.parametrize("module, name", [("os", "system"), ("cydl_evil_module", "Boom"),
                                          ("subprocess", "Popen"), (None, "eval")])
def test_a_module_path_in_the_file_is_never_imported(saved, tmp_path, module, name):
    for where in ("top", "layer", "initializer", "loss"):
        def edit(config):
            spec = {"module": module, "class_name": name, "config": {"command": "touch x"},
                    "registered_name": None}
            if where == "top":
                config.update(spec)
            elif where == "layer":
                config["config"]["layers"][1].update(spec)
            elif where == "initializer":
                config["config"]["layers"][1]["config"]["kernel_initializer"] = spec
            else:
                config["compile_config"]["loss"] = spec
        with pytest.raises(ValueError, match=f"{name}.*never imports"):
            cydl.models.load_model(_with_config(saved, tmp_path, edit))
    assert "cydl_evil_module" not in sys.modules


def _planted_lambda():
    RAN.append("ran")
    return 0


def test_a_marshalled_lambda_is_refused_in_any_mode(saved, tmp_path):
    # what Keras writes for a lambda: its bytecode, which keras loads with
    # safe_mode=False; cydl never does
    code = base64.b64encode(marshal.dumps(_planted_lambda.__code__)).decode()
    lam = {"class_name": "__lambda__", "config": {"value": [code, None, None]}}

    def edit(config):
        config["config"]["layers"][1] = {
            "module": "keras.layers", "class_name": "Lambda",
            "config": {"name": "lam", "function": lam, "arguments": {}},
            "registered_name": None}
    path = _with_config(saved, tmp_path, edit)
    for safe_mode in (True, False):
        with pytest.raises(ValueError, match="Python code.*never runs"):
            cydl.models.load_model(path, safe_mode=safe_mode)
    assert RAN == []


def test_weights_of_the_wrong_shape_load_nothing(saved, tmp_path):
    members = _members(saved)
    tree = _h5read.read(members["model.weights.h5"])
    root = _h5write.Group()

    def copy(node, group):
        for k, sub in node.groups.items():
            copy(sub, group.group(k))
        group.children.update(node.datasets)
        group.attrs.update(node.attrs)
    copy(tree, root)
    root.group("layers/dense_1/vars").children["0"] = np.zeros((4, 3), np.float32)
    members["model.weights.h5"] = _h5write.write(root)
    with pytest.raises(ValueError, match=r"kernel.*\(4, 2\).*\(4, 3\)"):
        cydl.models.load_model(_write(tmp_path / "shape.keras", members))
    # too few arrays for a layer
    del root.group("layers/dense/vars").children["1"]
    root.group("layers/dense_1/vars").children["0"] = np.zeros((4, 2), np.float32)
    members["model.weights.h5"] = _h5write.write(root)
    with pytest.raises(ValueError, match="1 arrays.*2 variables"):
        cydl.models.load_model(_write(tmp_path / "few.keras", members))
    # load_weights checks everything before it assigns anything
    model = _model()
    before = model.get_weights()
    (tmp_path / "w.weights.h5").write_bytes(members["model.weights.h5"])
    with pytest.raises(ValueError):
        model.load_weights(tmp_path / "w.weights.h5")
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_links_and_bombs_in_the_hdf5_are_refused(saved, tmp_path):
    h5py = pytest.importorskip("h5py", reason="h5py writes the hostile files")
    members = _members(saved)
    tree = _h5read.read(members["model.weights.h5"])

    def rebuild(extra):
        buf = io.BytesIO()
        with h5py.File(buf, "w") as f:
            def copy(node, group):
                for k, sub in node.groups.items():
                    copy(sub, group.create_group(k))
                for k, a in node.datasets.items():
                    group[k] = a
            copy(tree, f)
            extra(f)
        members["model.weights.h5"] = buf.getvalue()
        return _write(tmp_path / "h.keras", members)

    def soft(f):
        f["layers/evil"] = h5py.SoftLink("/layers/dense")

    def external(f):
        f["layers/evil"] = h5py.ExternalLink("/etc/passwd", "/")

    def bomb(f):
        # 8 GiB declared, almost nothing stored
        f.create_dataset("layers/bomb", shape=(2 ** 31,), dtype="float32", chunks=(2 ** 20,),
                         compression="gzip")
    with pytest.raises(ValueError, match="SoftLink"):
        cydl.models.load_model(rebuild(soft))
    with pytest.raises(ValueError, match="ExternalLink"):
        cydl.models.load_model(rebuild(external))
    with pytest.raises(ValueError, match="bomb"):
        cydl.models.load_model(rebuild(bomb))


def test_a_graph_with_a_dangling_or_cyclic_reference(tmp_path):
    inputs = layers.Input(shape=(8,))
    model = cydl.Model(inputs, layers.Dense(2)(layers.Dense(3)(inputs)))
    model.save(tmp_path / "f.keras")

    def dangling(config):
        node = config["config"]["layers"][1]["inbound_nodes"][0]
        node["args"][0]["config"]["keras_history"] = ["nowhere", 0, 0]

    def cycle(config):
        entries = config["config"]["layers"]
        first = entries[1]["inbound_nodes"][0]["args"][0]["config"]
        first["keras_history"] = [entries[2]["name"], 0, 0]
    with pytest.raises(ValueError, match="unknown layer 'nowhere'"):
        cydl.models.load_model(_with_config(tmp_path / "f.keras", tmp_path, dangling))
    with pytest.raises(ValueError, match="cycle"):
        cydl.models.load_model(_with_config(tmp_path / "f.keras", tmp_path, cycle))


def test_unsupported_keras_settings_are_named(saved, tmp_path):
    def renorm(config):
        config["config"]["layers"][1] = {
            "module": "keras.layers", "class_name": "BatchNormalization",
            "config": {"name": "bn", "renorm": True}, "registered_name": None}

    def ema(config):
        config["compile_config"]["optimizer"]["config"]["use_ema"] = True
    with pytest.raises(ValueError, match="renorm=True"):
        cydl.models.load_model(_with_config(saved, tmp_path, renorm))
    with pytest.raises(ValueError, match="use_ema"):
        cydl.models.load_model(_with_config(saved, tmp_path, ema))
    # compile=False skips the compile arguments altogether
    assert not cydl.models.load_model(_with_config(saved, tmp_path, ema), compile=False).compiled
