"""scikit-learn wrappers for cydl models, as Keras 3's `keras.wrappers`.

`SKLearnClassifier`, `SKLearnRegressor` and `SKLearnTransformer` take a compiled
cydl model, or a function that builds one (it gets `X=`, `y=` and `model_kwargs`),
and make it a scikit-learn estimator: `fit`, `predict`, `score`, `get_params` /
`set_params`, `clone`, `Pipeline`, `GridSearchCV(n_jobs=...)` and
`RandomizedSearchCV`. Without `warm_start` every fit starts from a freshly built
model, so the clones a search makes share no weights. Where Keras 3.15 differs
from its own documentation, cydl follows the documentation: `clone` keeps
`fit_kwargs`, `fit(**kwargs)` does not write into `fit_kwargs`, `warm_start=True`
goes on training, the sparse categorical loss and one-unit sigmoid models train,
and a regressor takes several target columns.

scikit-learn is optional: `pip install "cydl[sklearn]"`.

Example:

```python
import cydl
from cydl.wrappers import SKLearnClassifier
from sklearn.model_selection import GridSearchCV

def build(X, y, hidden=16):
    model = cydl.Sequential([
        cydl.layers.Input(shape=(X.shape[1],)),
        cydl.layers.Dense(hidden, activation="relu"),
        cydl.layers.Dense(y.shape[1], activation="softmax"),
    ])
    model.compile(loss="categorical_crossentropy", optimizer="adam")
    return model

clf = SKLearnClassifier(build, fit_kwargs={"epochs": 20, "verbose": 0})
search = GridSearchCV(clf, {"model_kwargs": [{"hidden": 8}, {"hidden": 32}]},
                      cv=3, n_jobs=2).fit(X, y)
```
"""
from cydl.wrappers.classifier import SKLearnClassifier
from cydl.wrappers.regressor import SKLearnRegressor
from cydl.wrappers.transformer import SKLearnTransformer

__all__ = ["SKLearnClassifier", "SKLearnRegressor", "SKLearnTransformer"]
