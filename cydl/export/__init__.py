"""Export a model for inference outside cydl: `model.export("model.onnx", format="onnx")`.

The exported file holds the forward pass only, in inference form (dropout and noise
layers are the identity, BatchNormalization uses its moving statistics), as a
standalone ONNX graph that ONNX Runtime and other ONNX runtimes serve. It is built
with the `onnx` package's helpers, an optional dependency: `pip install "cydl[onnx]"`.

Example:
>>> model.export("model.onnx", format="onnx")
>>> import onnxruntime
>>> session = onnxruntime.InferenceSession("model.onnx")
>>> probabilities, = session.run(None, {session.get_inputs()[0].name: X_test[:3]})
"""

FORMATS = ("onnx",)
# Keras 3's other formats: each needs TensorFlow, OpenVINO or PyTorch's exporter
_KERAS_FORMATS = ("tf_saved_model", "openvino", "litert", "torch")


def export_model(model, filepath, format="onnx", verbose=None, input_signature=None,
                 **kwargs):
    """`model.export(...)`: write `model` as an inference artifact in `format`.

    Args:
        model: a built cydl Model (Sequential, functional or traced subclassed).
        filepath: str or pathlib.Path, the file to write.
        format: "onnx", the format cydl writes.
        verbose: print where the artifact was saved (default: yes, as Keras).
        input_signature: optional shapes of the inputs (see `export_onnx`).
        **kwargs: `opset_version` (see `export_onnx`).

    Example:
    >>> cydl.export.export_model(model, "model.onnx", format="onnx")
    """
    if format == "onnx":
        return export_onnx(model, filepath, verbose=verbose,
                           input_signature=input_signature, **kwargs)
    if format in _KERAS_FORMATS:
        raise ValueError(f"cydl cannot write format={format!r} (Keras writes it through "
                         f"its TensorFlow, OpenVINO or PyTorch backends). Supported formats "
                         f"are: {list(FORMATS)}.")
    raise ValueError(f"Unrecognized format={format!r}. Supported formats are: "
                     f"{list(FORMATS)}.")


def export_onnx(model, filepath, verbose=None, input_signature=None, opset_version=None,
                **kwargs):
    """Write `model` as an ONNX file for inference (Keras 3's `export_onnx`).

    See cydl.export._onnx.export_onnx for the details; this wrapper keeps
    `import cydl.export` free of the optional `onnx` dependency.
    """
    from cydl.export._onnx import export_onnx as _export
    return _export(model, filepath, verbose=verbose, input_signature=input_signature,
                   opset_version=opset_version, **kwargs)


__all__ = ["FORMATS", "export_model", "export_onnx"]
