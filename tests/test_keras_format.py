"""`.keras` files that Keras 3 and cydl both read: cydl writes what Keras 3 writes,
and reads what Keras 3 writes.

What must hold:
* a model made and trained in cydl, saved, loads in Keras 3 and predicts the same
  (float32 tolerance), with the optimizer's state where Keras keeps it; and the
  other way round, for every layer kind cydl has (tests/keras_format_script.py
  builds the same models in both libraries; Keras runs in a subprocess);
* the file is laid out as Keras 3 lays it out (checked here without Keras, from
  the file itself);
* a reloaded cydl model trains on bit for bit (also tests/test_saving.py);
* the book's subclassed WideAndDeepModel saves without get_config;
* hostile or truncated files are clear ValueErrors and never run code.
"""
import importlib.util
import io
import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import cydl
import keras_format_script as script
from cydl import layers
from cydl.saving import _h5read, _h5write, _optimizer

HERE = os.path.dirname(os.path.abspath(__file__))


def _backend():
    """A backend Keras 3 can run on here (CYDL_KERAS_BACKEND picks one), or None."""
    if importlib.util.find_spec("keras") is None:
        return None
    chosen = os.environ.get("CYDL_KERAS_BACKEND")
    for name in [chosen] if chosen else ("torch", "jax"):   # torch starts faster here
        if importlib.util.find_spec(name) is not None:
            return name
    return None


# ---------------------------------------------------------------- cydl <-> Keras 3
@pytest.fixture(scope="module")
def exchange(tmp_path_factory):
    """Every case built in cydl and saved; then Keras loads those files and saves
    its own versions of the cases (one subprocess for all)."""
    backend = _backend()
    if backend is None:
        pytest.skip("Keras 3 with a JAX or PyTorch backend is not installed (the Keras "
                    "round trips need it: pip install keras jax)")
    folder = tmp_path_factory.mktemp("exchange")
    os.makedirs(folder / "cydl")
    ours = {}
    for name in sorted(script.CASES):
        cydl.utils.set_random_seed(1)
        model, x, _ = script.make(cydl, name)
        model.save(folder / "cydl" / f"{name}.keras")
        model.save_weights(folder / "cydl" / f"{name}.weights.h5")
        script.save_arrays(folder / "cydl" / f"{name}.npz", x, model.predict(x, verbose=0),
                           _optimizer.state_arrays(model))
        ours[name] = model
    env = dict(os.environ, KERAS_BACKEND=backend, CUDA_VISIBLE_DEVICES="",
               JAX_PLATFORMS="cpu", XLA_FLAGS="--xla_cpu_multi_thread_eigen=false",
               OMP_NUM_THREADS="1", PYTHONPATH=HERE)
    done = subprocess.run([sys.executable, os.path.join(HERE, "keras_format_script.py"),
                           str(folder)], env=env, capture_output=True, text=True, timeout=900)
    report_path = folder / "report.json"
    assert report_path.exists(), f"the Keras script failed:\n{done.stderr[-4000:]}"
    with open(report_path) as f:
        report = json.load(f)
    return folder, report, ours


def _arrays(path, prefix):
    with np.load(path) as z:
        keys = sorted((k for k in z.files if k.startswith(prefix)),
                      key=lambda k: int(k[len(prefix):]))
        return [z[k] for k in keys]


def _same_slots(ours, theirs, what):
    """cydl's names of its optimizer state against Keras' variable paths: the same
    kind of variable at each position (Keras: ".../dense_kernel_momentum")."""
    assert len(ours) == len(theirs), f"{what}: {ours} vs {theirs}"
    for a, b in zip(ours, theirs):
        kind = a.rsplit("/", 1)[-1]
        b = b.rsplit("/", 1)[-1]
        # (Keras leaves Nadam's running product unnamed: "variable", "variable_1", ...)
        assert b.endswith(kind) or (kind == "u_product" and b.startswith("variable")), \
            f"{what}: cydl's {a!r} sits where Keras has {b!r}"


def _datasets(path):
    with zipfile.ZipFile(path) as z:
        tree = _h5read.read(z.read("model.weights.h5"))
    out = {}

    def walk(node, prefix):
        for k, a in node.datasets.items():
            out[f"{prefix}/{k}"] = a
        for k, sub in node.groups.items():
            if k != "_cydl_state":
                walk(sub, f"{prefix}/{k}")
    walk(tree, "")
    return out


def _same_weights_files(ours, theirs, what):
    """Two .keras files hold the same weights and optimizer state, path by path,
    to float32 training-step precision."""
    a, b = _datasets(ours), _datasets(theirs)
    assert sorted(a) == sorted(b), f"{what}: {sorted(set(a) ^ set(b))}"
    for key in a:
        np.testing.assert_allclose(np.asarray(a[key], np.float64),
                                   np.asarray(b[key], np.float64), rtol=2e-4, atol=2e-5,
                                   err_msg=f"{what}: {key}")


def _compare_state(ours, theirs, what):
    assert len(ours) == len(theirs), f"{what}: {len(ours)} optimizer variables vs {len(theirs)}"
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert np.shape(a) == np.shape(b), f"{what}: variable {i} shapes differ"
        np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64),
                                   rtol=1e-6, atol=1e-7, err_msg=f"{what}: variable {i}")


@pytest.mark.parametrize("case", sorted(script.CASES))
def test_keras_loads_what_cydl_saves(exchange, case):
    folder, report, ours = exchange
    result = report["loaded"][case]
    assert result["ok"], f"Keras could not load cydl's {case}.keras:\n{result.get('error')}"
    assert result["optimizer"] == type(ours[case].optimizer).__name__
    theirs = _arrays(folder / "cydl" / f"{case}.keras_out.npz", "pred")
    mine = _arrays(folder / "cydl" / f"{case}.npz", "pred")
    assert len(theirs) == len(mine)
    for a, b in zip(theirs, mine):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    # the optimizer's step count and slots are where Keras looks for them
    _compare_state(_arrays(folder / "cydl" / f"{case}.npz", "opt"),
                   _arrays(folder / "cydl" / f"{case}.keras_out.npz", "opt"), case)
    _same_slots(_optimizer.state_names(ours[case]), result["names"], case)
    # cydl's .weights.h5, loaded into Keras' own model of the case
    for a, b in zip(_arrays(folder / "cydl" / f"{case}.keras_weights_out.npz", "pred"), mine):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    if case in script.DETERMINISTIC:
        # one more step in Keras from the loaded state, one more in cydl: the same
        _, x, y = script.CASES[case](cydl, script.data())
        script.step(ours[case], x, y)
        ours[case].save(folder / "cydl" / f"{case}.stepped.keras")
        _same_weights_files(folder / "cydl" / f"{case}.stepped.keras",
                            folder / "cydl" / f"{case}.keras_stepped.keras", case)


@pytest.mark.parametrize("case", sorted(script.CASES))
def test_cydl_loads_what_keras_saves(exchange, case):
    folder, report, _ = exchange
    result = report["made"][case]
    assert result["ok"], f"Keras could not make {case}:\n{result.get('error')}"
    model = cydl.models.load_model(folder / "keras" / f"{case}.keras",
                                   custom_objects=script.custom_objects(cydl))
    assert type(model.optimizer).__name__ == result["optimizer"]
    xs = _arrays(folder / "keras" / f"{case}.npz", "x")
    pred = script.outputs(model.predict(xs if len(xs) > 1 else xs[0], verbose=0))
    theirs = _arrays(folder / "keras" / f"{case}.npz", "pred")
    assert len(pred) == len(theirs)
    for a, b in zip(pred, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    _compare_state(_optimizer.state_arrays(model),
                   _arrays(folder / "keras" / f"{case}.npz", "opt"), case)
    _same_slots(_optimizer.state_names(model), result["names"], case)
    # Keras' .weights.h5, loaded into cydl's own model of the case
    cydl.utils.set_random_seed(2)
    fresh, _, _ = script.make(cydl, case)
    fresh.load_weights(folder / "keras" / f"{case}.weights.h5")
    for a, b in zip(script.outputs(fresh.predict(xs if len(xs) > 1 else xs[0], verbose=0)),
                    theirs):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    # and it trains on from there, in cydl as Keras does
    _, x, y = script.CASES[case](cydl, script.data())
    steps = int(model.optimizer.iterations.value)
    script.step(model, x, y)
    assert int(model.optimizer.iterations.value) == steps + 1
    if case in script.DETERMINISTIC:
        model.save(folder / "keras" / f"{case}.cydl_stepped.keras")
        _same_weights_files(folder / "keras" / f"{case}.cydl_stepped.keras",
                            folder / "keras" / f"{case}.stepped.keras", case)


# ---------------------------------------------------------------- the layout itself
def _mlp():
    cydl.utils.set_random_seed(0)
    model = cydl.Sequential([layers.Input(shape=(8,)), layers.Dense(16, activation="relu"),
                             layers.BatchNormalization(), layers.Dropout(0.2),
                             layers.Dense(3, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  optimizer=cydl.optimizers.Adam(0.01))
    x = np.random.default_rng(0).normal(size=(40, 8)).astype("float32")
    model.fit(x, np.arange(40) % 3, epochs=1, batch_size=10, verbose=0)
    return model, x


def _tree(path):
    with zipfile.ZipFile(path) as z:
        return _h5read.read(z.read("model.weights.h5"))


def test_the_file_is_laid_out_as_keras_lays_it_out(tmp_path):
    model, _ = _mlp()
    path = tmp_path / "m.keras"
    model.save(path)
    with zipfile.ZipFile(path) as z:
        assert z.namelist() == ["metadata.json", "config.json", "model.weights.h5"]
        assert all(i.compress_type == zipfile.ZIP_STORED for i in z.infolist())
        meta = json.loads(z.read("metadata.json"))
        config = json.loads(z.read("config.json"))
    assert meta["keras_version"].startswith("3.") and meta["cydl_version"] == cydl.__version__
    assert (config["module"], config["class_name"]) == ("keras", "Sequential")
    assert config["build_config"] == {"input_shape": [None, 8]}
    entries = config["config"]["layers"]
    assert [(e["module"], e["class_name"]) for e in entries] == [
        ("keras.layers", "InputLayer"), ("keras.layers", "Dense"),
        ("keras.layers", "BatchNormalization"), ("keras.layers", "Dropout"),
        ("keras.layers", "Dense")]
    dense = entries[1]["config"]
    assert dense["kernel_initializer"] == {"module": "keras.initializers",
                                           "class_name": "GlorotUniform",
                                           "config": {"seed": None}, "registered_name": None}
    assert dense["dtype"]["class_name"] == "DTypePolicy" and dense["activation"] == "relu"
    compiled = config["compile_config"]
    assert compiled["optimizer"]["module"] == "keras.optimizers"
    assert compiled["optimizer"]["class_name"] == "Adam"
    assert compiled["loss"] == "sparse_categorical_crossentropy"
    assert compiled["metrics"] == ["accuracy"]
    # the weights by object path; layers named by class, numbered: the second
    # Dense is layers/dense_1, whatever the layer's own name
    tree = _tree(path)
    bn = model.layers[1]
    expected = {"layers/dense": model.layers[0].weights,
                "layers/batch_normalization": bn.weights, "layers/dropout": [],
                "layers/dense_1": model.layers[3].weights}
    for where, variables in expected.items():
        group = tree.get(where).groups["vars"]
        assert group.attrs["name"] == model.get_layer(group.attrs["name"]).name
        assert sorted(group.datasets) == [str(i) for i in range(len(variables))]
        for i, v in enumerate(variables):
            np.testing.assert_array_equal(group.datasets[str(i)], v.numpy())
    assert [w.name for w in bn.weights] == ["gamma", "beta", "moving_mean", "moving_variance"]
    opt = tree.get("optimizer/vars")
    assert opt.attrs["name"] == "adam"
    assert int(opt.datasets["0"]) == int(model.optimizer.iterations.value) == 4
    assert float(opt.datasets["1"]) == 0.01
    # Keras' Adam: momentum and velocity of each trainable variable in turn
    trainable = model.trainable_weights
    assert len(opt.datasets) == 2 + 2 * len(trainable)
    for i, v in enumerate(trainable):
        assert opt.datasets[str(2 + 2 * i)].shape == v.shape
    assert not np.array_equal(opt.datasets["2"], np.zeros(trainable[0].shape))


def test_h5py_reads_the_weights_cydl_writes(tmp_path):
    h5py = pytest.importorskip("h5py", reason="h5py is not installed")
    model, _ = _mlp()
    path = tmp_path / "m.keras"
    model.save(path)
    with zipfile.ZipFile(path) as z, h5py.File(io.BytesIO(z.read("model.weights.h5"))) as f:
        np.testing.assert_array_equal(f["layers/dense/vars/0"][()], model.layers[0].kernel.numpy())
        np.testing.assert_array_equal(f["layers/dense_1/vars/1"][()], model.layers[3].bias.numpy())
        assert f["optimizer/vars/0"][()] == 4 and f["optimizer/vars/0"].shape == ()
        name = model.layers[0].name
        assert f["layers/dense/vars"].attrs["name"] in (name, name.encode())
    # and the reader takes what h5py writes, every numeric dtype and rank
    buf = io.BytesIO()
    arrays = {"f2": np.arange(3, dtype=np.float16), "f8": np.eye(2),
              "i1": np.array([-1, 2], np.int8), "u8": np.array(7, np.uint64),
              "f4": np.arange(24, dtype=np.float32).reshape(2, 3, 4)}
    with h5py.File(buf, "w") as f:
        for k, a in arrays.items():
            f[f"g/{k}"] = a
    tree = _h5read.read(buf.getvalue())
    for k, a in arrays.items():
        np.testing.assert_array_equal(tree.get("g").datasets[k], a)
        assert tree.get("g").datasets[k].dtype == a.dtype


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int8, np.uint16,
                                   np.int32, np.int64, np.uint64, bool])
@pytest.mark.parametrize("shape", [(), (0,), (5,), (2, 3), (1, 2, 3, 4)])
def test_the_hdf5_writer_and_reader_agree(dtype, shape):
    a = (np.arange(int(np.prod(shape))) % 3).astype(dtype).reshape(shape)
    root = _h5write.Group()
    root.group("a/b").children["x"] = a
    root.group("a/b").attrs["name"] = "dénse"
    tree = _h5read.read(_h5write.write(root))
    got = tree.get("a/b").datasets["x"]
    np.testing.assert_array_equal(got, a)
    assert got.shape == shape and tree.get("a/b").attrs["name"] == "dénse"
    h5py = pytest.importorskip("h5py", reason="h5py is not installed")
    with h5py.File(io.BytesIO(_h5write.write(root)), "r") as f:
        np.testing.assert_array_equal(f["a/b/x"][()], a)


def test_the_hdf5_checksum_is_hdf5s():
    # lookup3's published test vectors (lookup3.c, driver5)
    assert _h5write.lookup3(b"") == 0xDEADBEEF
    assert _h5write.lookup3(b"Four score and seven years ago") == 0x17770551
    assert _h5write.lookup3(b"Four score and seven years ago", 1) == 0xCD628161


def test_a_reloaded_functional_model_with_dropout_trains_on_bit_for_bit(tmp_path):
    cydl.utils.set_random_seed(3)
    d = script.data()
    model, x, y = script.case_wide_and_deep(cydl, d)
    model.compile(loss="mse", optimizer=cydl.optimizers.Nadam(), metrics=["mae"])
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    noisy = cydl.Sequential([layers.Input(shape=(8,)), layers.Dense(8), layers.Dropout(0.3),
                             layers.GaussianNoise(0.2), layers.Dense(1)])
    noisy.compile(loss="mse", optimizer=cydl.optimizers.SGD(0.01, momentum=0.9))
    noisy.fit(d["x8"], d["target"], epochs=2, batch_size=8, verbose=0)
    for m, xs, ys in ((model, x, y), (noisy, d["x8"], d["target"])):
        m.save(tmp_path / "m.keras")
        again = cydl.models.load_model(tmp_path / "m.keras")
        histories = []
        for twin in (m, again):
            cydl.utils.set_random_seed(7)
            histories.append(twin.fit(xs, ys, epochs=2, batch_size=8, verbose=0).history)
        assert histories[0] == histories[1]
        for a, b in zip(m.get_weights(), again.get_weights()):
            np.testing.assert_array_equal(a, b)


def test_weights_h5_files_are_keras_weights_files(tmp_path):
    model, x = _mlp()
    model.save_weights(tmp_path / "w.weights.h5")
    with open(tmp_path / "w.weights.h5", "rb") as f:
        tree = _h5read.read(f.read())
    assert sorted(tree.groups) == ["_cydl_state", "layers", "optimizer", "vars"]
    assert tree.get("layers/dense_1/vars").datasets["0"].shape == (16, 3)
    other, _ = _mlp()
    other.fit(x, np.arange(40) % 3, epochs=2, verbose=0)
    other.load_weights(tmp_path / "w.weights.h5")
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)
    # as in Keras, the compiled model's optimizer state comes along
    assert int(other.optimizer.iterations.value) == int(model.optimizer.iterations.value)


def test_loading_a_keras_file_without_h5py_says_which_extra(tmp_path, monkeypatch):
    h5py = pytest.importorskip("h5py", reason="h5py writes the Keras-like file here")
    model, x = _mlp()
    model.save(tmp_path / "ours.keras")
    # the same weights written by h5py (version-0 superblock, old-style groups): a
    # file as Keras writes it
    tree = _tree(tmp_path / "ours.keras")
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        def copy(node, group):
            for k, sub in node.groups.items():
                copy(sub, group.create_group(k))
            for k, a in node.datasets.items():
                group[k] = a
            for k, v in node.attrs.items():
                group.attrs[k] = v
        copy(tree, f)
    with zipfile.ZipFile(tmp_path / "ours.keras") as src, \
            zipfile.ZipFile(tmp_path / "theirs.keras", "w") as dst:
        for name in src.namelist():
            dst.writestr(name, buf.getvalue() if name == "model.weights.h5" else src.read(name))
    np.testing.assert_array_equal(
        cydl.models.load_model(tmp_path / "theirs.keras").predict(x, verbose=0),
        model.predict(x, verbose=0))
    monkeypatch.setitem(sys.modules, "h5py", None)          # as if not installed
    with pytest.raises(ImportError, match=r"h5py.*cydl\[h5\]"):
        cydl.models.load_model(tmp_path / "theirs.keras")
    # cydl's own files need no h5py
    again = cydl.models.load_model(tmp_path / "ours.keras")
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))


def test_a_saved_model_gets_the_usual_file_permissions(tmp_path):
    model, _ = _mlp()
    umask = os.umask(0o022)
    try:
        model.save(tmp_path / "m.keras")
    finally:
        os.umask(umask)
    assert os.stat(tmp_path / "m.keras").st_mode & 0o777 == 0o644


def test_cydl_only_objects_are_written_under_cydl_and_read_back(tmp_path):
    # a schedule Keras does not have, and an activation parameter Keras' activation
    # strings cannot carry: Keras refuses them by name, cydl reads them back
    schedule = cydl.optimizers.schedules.OneCycle(0.05, total_steps=20)
    model = cydl.Sequential([layers.Input(shape=(8,)),
                             layers.Dense(4, activation=["leaky_relu", 0.05]),
                             layers.Dense(1)])
    model.compile(loss="mse", optimizer=cydl.optimizers.SGD(schedule, momentum=0.9))
    x = np.random.default_rng(1).normal(size=(16, 8)).astype("float32")
    model.fit(x, x[:, :1], epochs=2, batch_size=4, verbose=0)
    model.save(tmp_path / "c.keras")
    with zipfile.ZipFile(tmp_path / "c.keras") as z:
        config = json.loads(z.read("config.json"))
    lr = config["compile_config"]["optimizer"]["config"]["learning_rate"]
    assert (lr["module"], lr["class_name"]) == ("cydl.optimizers.schedules", "OneCycle")
    act = config["config"]["layers"][1]["config"]["activation"]
    assert (act["module"], act["config"]) == ("cydl.activations", {"negative_slope": 0.05})
    again = cydl.models.load_model(tmp_path / "c.keras")
    assert type(again.optimizer._learning_rate) is type(schedule)
    assert again.optimizer._learning_rate.get_config() == schedule.get_config()
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))
    histories = []
    for m in (model, again):
        histories.append(m.fit(x, x[:, :1], epochs=2, batch_size=4, shuffle=False,
                               verbose=0).history)
    assert histories[0] == histories[1]
