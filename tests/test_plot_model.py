"""model_to_dot / plot_model: every layer and connection of the model in the dot
source, the shapes when asked, a PNG when Graphviz is there, and errors that say
which piece (pydot, or Graphviz's dot) is missing."""
import importlib.util
import re
import shutil
import sys

import pytest

import cydl
from cydl import layers

needs_pydot = pytest.mark.skipif(importlib.util.find_spec("pydot") is None,
                                 reason="pydot is not installed: pip install pydot")


def _wide_and_deep():
    wide = cydl.Input(shape=(5,), name="wide_in")
    deep = cydl.Input(shape=(6,), name="deep_in")
    h1 = layers.Dense(30, activation="relu", name="hidden1")(deep)
    h2 = layers.Dense(20, activation="relu", name="hidden2")(h1)
    concat = layers.concatenate([wide, h2], name="concat")
    out = layers.Dense(1, name="output")(concat)
    return cydl.Model(inputs=[wide, deep], outputs=out)


def _names_and_edges(dot):
    """{node id: layer name} and {(source name, destination name)} from a pydot graph."""
    names = {}
    nodes = list(dot.get_nodes())
    for sub in dot.get_subgraphs():
        nodes += sub.get_nodes()
    for node in nodes:
        match = re.search(r"<b>([^<]+)</b> \(", node.get("label") or "")
        if match:
            names[node.get_name().strip('"')] = match.group(1)
    edges = {(names[e.get_source().strip('"')], names[e.get_destination().strip('"')])
             for e in dot.get_edges()}
    return names, edges


@needs_pydot
def test_functional_model_every_layer_and_connection():
    model = _wide_and_deep()
    names, edges = _names_and_edges(cydl.utils.model_to_dot(model))
    assert sorted(names.values()) == sorted(l.name for l in model.layers)
    assert edges == {("deep_in", "hidden1"), ("hidden1", "hidden2"), ("wide_in", "concat"),
                     ("hidden2", "concat"), ("concat", "output")}


@needs_pydot
def test_shapes_dtypes_activations_trainable():
    model = _wide_and_deep()
    model.get_layer("hidden2").trainable = False
    src = cydl.utils.model_to_dot(model, show_shapes=True, show_dtype=True,
                                  show_layer_activations=True, show_trainable=True).to_string()
    # the output shapes follow from the definition: units, and 5 + 20 concatenated
    expected = {"wide_in": (None, 5), "deep_in": (None, 6), "hidden1": (None, 30),
                "hidden2": (None, 20), "concat": (None, 25), "output": (None, 1)}
    assert sorted(expected) == sorted(l.name for l in model.layers)
    for name, shape in expected.items():
        assert re.search(rf"<b>{name}</b>.*?Output shape: <b>{re.escape(str(shape))}</b>", src)
    # a layer with two inputs lists both shapes
    assert "Input shape: <b>[(None, 5), (None, 20)]</b>" in src
    assert "Input shape: <b>(None, 25)</b>" in src
    assert "Output dtype: <b>float32</b>" in src
    assert "Activation: <b>relu</b>" in src
    assert src.count("<b>Non-trainable</b>") == 1 and src.count("<b>Trainable</b>") == 2
    plain = cydl.utils.model_to_dot(model).to_string()
    assert "Output shape" not in plain and "Activation" not in plain


@needs_pydot
def test_sequential_chain_and_layer_names_off():
    model = cydl.Sequential([layers.Input(shape=(28, 28)), layers.Flatten(name="flat"),
                             layers.Dense(300, activation="relu", name="d300"),
                             layers.Dense(10, activation="softmax", name="d10")])
    names, edges = _names_and_edges(cydl.utils.model_to_dot(model))
    first = model._function.inputs[0]._input_layer.name
    assert edges == {(first, "flat"), ("flat", "d300"), ("d300", "d10")}
    src = cydl.utils.model_to_dot(model, show_layer_names=False).to_string()
    assert "d300" not in src and "<b>Dense</b>" in src and "<b>Flatten</b>" in src


@needs_pydot
def test_nested_model_one_box_or_expanded():
    inner = cydl.Sequential([layers.Input(shape=(4,)), layers.Dense(3, name="inner_a"),
                             layers.Dense(2, name="inner_b")], name="inner")
    x = cydl.Input(shape=(4,), name="outer_in")
    model = cydl.Model(x, layers.Dense(1, name="head")(inner(x)))
    names, edges = _names_and_edges(cydl.utils.model_to_dot(model))
    assert edges == {("outer_in", "inner"), ("inner", "head")}
    assert "inner_a" not in names.values()
    dot = cydl.utils.model_to_dot(model, expand_nested=True)
    names, edges = _names_and_edges(dot)
    inner_in = inner._function.inputs[0]._input_layer.name
    assert edges == {("outer_in", inner_in), (inner_in, "inner_a"), ("inner_a", "inner_b"),
                     ("inner_b", "head")}
    assert len(dot.get_subgraphs()) == 1


@needs_pydot
def test_subclassed_model_is_one_box():
    class Net(cydl.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.hidden = layers.Dense(4)
            self.out = layers.Dense(1)

        def call(self, inputs):
            return self.out(self.hidden(inputs))

    model = Net(name="my_net")
    model.build((None, 3))
    names, edges = _names_and_edges(cydl.utils.model_to_dot(model, show_shapes=True))
    assert list(names.values()) == ["my_net"] and not edges


@needs_pydot
@pytest.mark.skipif(shutil.which("dot") is None,
                    reason="Graphviz's dot program is not installed (apt-get install graphviz)")
def test_plot_model_writes_a_png(tmp_path):
    target = tmp_path / "model.png"
    cydl.utils.plot_model(_wide_and_deep(), to_file=target, show_shapes=True)
    data = target.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 1000
    # no temporary file left beside it
    assert [p.name for p in tmp_path.iterdir()] == ["model.png"]
    svg = tmp_path / "model.svg"
    cydl.utils.plot_model(_wide_and_deep(), to_file=str(svg))
    assert b"<svg" in svg.read_bytes()


def test_missing_pydot_is_named(monkeypatch):
    monkeypatch.setitem(sys.modules, "pydot", None)
    with pytest.raises(ImportError, match="pydot"):
        cydl.utils.model_to_dot(_wide_and_deep())
    with pytest.raises(ImportError, match="pip install pydot"):
        cydl.utils.plot_model(_wide_and_deep())


@needs_pydot
def test_missing_dot_program_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))           # no `dot` on the PATH
    target = tmp_path / "model.png"
    with pytest.raises(ImportError, match="Graphviz's `dot` program"):
        cydl.utils.plot_model(_wide_and_deep(), to_file=target)
    assert not target.exists()
    # the dot source itself does not need Graphviz
    assert "hidden1" in cydl.utils.model_to_dot(_wide_and_deep()).to_string()


@needs_pydot
def test_bad_arguments_name_the_value(tmp_path):
    model = _wide_and_deep()
    with pytest.raises(ValueError, match="rankdir='XY'"):
        cydl.utils.model_to_dot(model, rankdir="XY")
    with pytest.raises(ValueError, match="dpi=-3"):
        cydl.utils.model_to_dot(model, dpi=-3)
    with pytest.raises(TypeError, match="show_shapes='yes'"):
        cydl.utils.model_to_dot(model, show_shapes="yes")
    with pytest.raises(TypeError, match="to_file=3"):
        cydl.utils.plot_model(model, to_file=3)
    with pytest.raises(ValueError, match="'xyz'"):
        cydl.utils.plot_model(model, to_file=tmp_path / "m.xyz")
    with pytest.raises(TypeError, match="model=42"):
        cydl.utils.model_to_dot(42)
    with pytest.raises(ValueError, match="not been built"):
        cydl.utils.model_to_dot(cydl.Sequential([layers.Dense(3)]))
