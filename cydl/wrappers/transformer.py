"""SKLearnTransformer: a trained cydl model's outputs as a scikit-learn transformer."""
from cydl.wrappers._base import SKLBase, TransformerMixin


class SKLearnTransformer(TransformerMixin, SKLBase):
    """scikit-learn compatible transformer wrapper for cydl models (Keras 3's
    `keras.wrappers.SKLearnTransformer`): `fit` trains the model on (X, y) and
    `transform` returns its outputs, e.g. an embedding for the next step of a
    `Pipeline`. ("Transformer" in scikit-learn's sense, not the architecture.)

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
        n_features_in_: the number of features seen in fit.

    Example:

    ```python
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from cydl.wrappers import SKLearnTransformer

    # build(X, y) returns a compiled model whose outputs are the features wanted
    pipe = make_pipeline(SKLearnTransformer(build, fit_kwargs={"epochs": 10}),
                         LogisticRegression())
    pipe.fit(X, y)
    ```
    """

    def transform(self, X):
        """The model's outputs for X.

        Args:
            X: array-like, shape=(n_samples, n_features).

        Returns:
            An array of shape (n_samples, n_outputs).
        """
        return self._raw_predict(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = []      # outputs are in the model's dtype
        # the model is trained on (X, y): fit without y is refused with scikit-learn's error
        tags.target_tags.required = True
        tags.target_tags.multi_output = True
        return tags

    def _more_tags(self):       # scikit-learn < 1.6
        return {"non_deterministic": True, "preserves_dtype": [], "requires_y": True}
