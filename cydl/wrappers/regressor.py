"""SKLearnRegressor: a cydl regression model as a scikit-learn estimator."""
import numpy as np

from cydl.wrappers._base import RegressorMixin, SKLBase


class SKLearnRegressor(RegressorMixin, SKLBase):
    """scikit-learn compatible regressor wrapper for cydl models (Keras 3's
    `keras.wrappers.SKLearnRegressor`).

    A 1-D `y` reaches the build function and the model as one column, and
    `predict` gives 1-D predictions back; a 2-D `y` (several targets) stays 2-D.
    Predictions are float64, as scikit-learn's regressors give them.
    `score` is R^2, as for every scikit-learn regressor.

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
    import cydl
    from cydl.wrappers import SKLearnRegressor

    def build(X, y, hidden=32):
        model = cydl.Sequential([
            cydl.layers.Input(shape=(X.shape[1],)),
            cydl.layers.Dense(hidden, activation="relu"),
            cydl.layers.Dense(y.shape[1]),
        ])
        model.compile(loss="mse", optimizer="adam")
        return model

    reg = SKLearnRegressor(build, fit_kwargs={"epochs": 50, "verbose": 0})
    reg.fit(X, y).score(X_test, y_test)
    ```
    """

    def _reverse_process_target(self, out):
        # float32 to float64 is exact; scikit-learn expects float64 from regressors
        return super()._reverse_process_target(np.asarray(out, dtype=np.float64))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.regressor_tags.poor_score = True
        # Keras 3.15 documents y of shape (n_samples, n_outputs) but refuses it; here it works
        tags.target_tags.multi_output = True
        return tags

    def _more_tags(self):       # scikit-learn < 1.6
        return {"non_deterministic": True, "poor_score": True, "multioutput": True}
