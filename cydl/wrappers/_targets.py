"""Targets as the model trains on them, and the model's outputs back as targets."""
import numpy as np


class TargetReshaper:
    """1-D targets as one column for the model, and predictions back to 1-D (Keras'
    TargetReshaper): what regressors and transformers do."""

    def __init__(self, y):
        self.ndim_ = y.ndim

    def transform(self, y):
        return y.reshape(-1, 1) if y.ndim == 1 else y

    def inverse_transform(self, y):
        if self.ndim_ == 1 and y.ndim == 2 and y.shape[1] == 1:
            return y[:, 0]
        return y


class LabelTargets:
    """Class labels (of any type) to the encoding the model's loss takes, and the
    model's outputs back to labels.

    The build function always sees one-hot targets, as in Keras (so `y.shape[1]` is
    the number of classes). The model then trains on the encoding its loss takes:
    class indices for sparse categorical cross-entropy, one 0/1 column for a model
    with one output unit (a sigmoid binary classifier), one-hot otherwise (Keras
    3.15 one-hot encodes for every loss, which the sparse loss and a one-unit
    binary model cannot train on).
    """

    def __init__(self, y):
        from sklearn.preprocessing import LabelEncoder
        self._labels = LabelEncoder().fit(y)
        self.classes_ = self._labels.classes_
        self.mode, self.threshold = "one_hot", 0.5

    def one_hot(self, y):
        return np.eye(len(self.classes_))[self._labels.transform(y)]

    def bind(self, model):
        """Choose the encoding from the compiled model's loss and output width."""
        from cydl.losses import SparseCategoricalCrossentropy
        shape = getattr(model, "output_shape", None)
        units = shape[-1] if isinstance(shape, tuple) and shape else None
        if isinstance(model.loss, SparseCategoricalCrossentropy):
            self.mode = "sparse"
        elif units == 1 and len(self.classes_) == 2:
            self.mode = "column"
            # a one-unit model's output is a probability, or a logit under from_logits
            self.threshold = 0.0 if getattr(model.loss, "from_logits", False) else 0.5
        else:
            self.mode = "one_hot"

    def transform(self, y):
        if self.mode == "one_hot":
            return self.one_hot(y)
        idx = self._labels.transform(y)       # unseen labels: a ValueError naming them
        return idx if self.mode == "sparse" else idx.reshape(-1, 1).astype(np.float64)

    def inverse_transform(self, out):
        out = np.asarray(out)
        if out.ndim == 1 or out.shape[-1] == 1:
            idx = (out.reshape(len(out)) > self.threshold).astype(np.intp)
        else:       # probabilities or logits, one column per class: the largest wins
            idx = out.argmax(axis=-1)
        return self.classes_[idx]
