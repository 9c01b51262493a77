"""SKLearnClassifier: a cydl classifier as a scikit-learn estimator."""
import numpy as np

from cydl.wrappers._base import ClassifierMixin, SKLBase
from cydl.wrappers._targets import LabelTargets


class SKLearnClassifier(ClassifierMixin, SKLBase):
    """scikit-learn compatible classifier wrapper for cydl models (Keras 3's
    `keras.wrappers.SKLearnClassifier`).

    Labels may be of any type (strings too); `predict` gives them back. The build
    function sees `y` one-hot encoded, as in Keras (`y.shape[1]` classes); the
    model trains on the encoding its loss takes: one-hot for
    `categorical_crossentropy` (and most losses), class indices for
    `sparse_categorical_crossentropy`, and one 0/1 column when the model has a
    single output unit and there are two classes (a sigmoid with
    `binary_crossentropy`). `predict` takes the largest output (or, for one unit,
    the output above 0.5, above 0 with `from_logits=True`).

    The labels in `fit`'s (or `fit_kwargs`') `validation_data=(X_val, y_val)` are
    encoded as `y` is, and `class_weight` is keyed by label, as in scikit-learn (a
    dict, or "balanced"); it becomes per-sample weights (times any
    `sample_weight`), which every loss and encoding takes.

    Args:
        model: a compiled cydl `Model`, or a callable returning one. A `Model` is
            cloned (fresh weights, same compile settings) before each fit, unless
            `warm_start=True`. A callable gets `X=` and `y=` when it accepts them,
            and `model_kwargs`.
        warm_start: bool, defaults to `False`. Whether to go on training the model
            of the previous fit (or the given `Model`'s weights at the first fit).
        model_kwargs: dict, defaults to `None`. Keyword arguments for `model` when
            it is callable.
        fit_kwargs: dict, defaults to `None`. Keyword arguments for `model.fit`;
            those given to `fit` take precedence. `clone` keeps them.

    Attributes:
        model_: the fitted `Model`.
        history_: the `History` returned by `model.fit`.
        epoch_: the number of epochs the fitted model has trained.
        classes_: the class labels, sorted.
        n_features_in_: the number of features seen in fit.

    Example:

    ```python
    import cydl
    from cydl.wrappers import SKLearnClassifier

    def build(X, y, hidden=16):
        model = cydl.Sequential([
            cydl.layers.Input(shape=(X.shape[1],)),
            cydl.layers.Dense(hidden, activation="relu"),
            cydl.layers.Dense(y.shape[1], activation="softmax"),
        ])
        model.compile(loss="categorical_crossentropy", optimizer="adam")
        return model

    clf = SKLearnClassifier(build, model_kwargs={"hidden": 32},
                            fit_kwargs={"epochs": 20, "verbose": 0})
    clf.fit(X, y).score(X_test, y_test)
    ```
    """

    _y_checks = {}      # one column of labels, of any type

    def decision_function(self, X):
        """The model's raw outputs (probabilities or logits, one column per class,
        or one column for a one-unit binary model)."""
        return self._raw_predict(X)

    def _process_target(self, y, reset=False):
        from sklearn.utils.multiclass import type_of_target
        target_type = type_of_target(y, input_name="y", raise_unknown=True)
        if target_type not in ("binary", "multiclass"):
            raise ValueError(f"Only binary and multiclass target types are supported. "
                             f"Target type: {target_type}")
        if reset:
            encoder = LabelTargets(y)
            if len(encoder.classes_) == 1:
                raise ValueError(f"Classifier can't train when only one class is present "
                                 f"(y holds only {encoder.classes_[0]!r}).")
            self._target_encoder, self.classes_ = encoder, encoder.classes_
        return self._target_encoder.one_hot(y)

    def _fit_target(self, model, y, y_built):
        self._target_encoder.bind(model)
        return self._target_encoder.transform(y)

    def _model_fit_kwargs(self, fit_kwargs, y):
        # the model trains on encoded targets: labels elsewhere in fit's arguments
        # must be encoded the same way (left as they are, they fail in model.fit)
        kwargs = dict(fit_kwargs)
        val = kwargs.get("validation_data")
        if isinstance(val, (tuple, list)) and len(val) in (2, 3):
            y_val = np.asarray(val[1])
            if y_val.ndim == 2 and y_val.shape[1] == 1:
                y_val = y_val.ravel()
            kwargs["validation_data"] = (val[0], self._target_encoder.transform(y_val),
                                         *val[2:])
        if kwargs.get("class_weight") is not None:
            from sklearn.utils.class_weight import compute_class_weight
            weights = compute_class_weight(kwargs.pop("class_weight"), classes=self.classes_,
                                           y=y)
            per_row = weights[np.searchsorted(self.classes_, y)]
            sw = kwargs.get("sample_weight")
            kwargs["sample_weight"] = per_row if sw is None else \
                per_row * np.asarray(sw, np.float64).reshape(-1)
        return kwargs

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # a few epochs of a small network fall short of scikit-learn's score bars
        tags.classifier_tags.poor_score = True
        return tags

    def _more_tags(self):       # scikit-learn < 1.6
        return {"non_deterministic": True, "poor_score": True}
