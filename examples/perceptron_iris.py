"""Hands-On ML ch. 10: the Perceptron on iris, with cydl.sklearn.Perceptron.

The book's cell with scikit-learn's imports replaced by cydl's (iris ships with
cydl). cydl's Perceptron runs scikit-learn's algorithm, draw for draw, so it
learns the same weights; with scikit-learn installed they are printed side by side.
"""
import numpy as np

from cydl.datasets.iris import load_iris
from cydl.sklearn import Perceptron

iris = load_iris(as_frame=True)
X = iris.data[["petal length (cm)", "petal width (cm)"]].values
y = (iris.target == 0)  # Iris setosa

per_clf = Perceptron(random_state=42)
per_clf.fit(X, y)

X_new = [[2, 0.5], [3, 1]]
y_pred = per_clf.predict(X_new)  # predicts True and False for these 2 flowers
print(f"cydl prediction: {y_pred.tolist()}   book: [True, False]")
print(f"cydl weights: coef_ {per_clf.coef_.tolist()}, intercept_ {per_clf.intercept_.tolist()}, "
      f"{per_clf.n_iter_} epochs")
try:
    from sklearn.linear_model import Perceptron as SkPerceptron
except ImportError:
    pass
else:
    ref = SkPerceptron(random_state=42).fit(X, y)
    print(f"scikit-learn:  coef_ {ref.coef_.tolist()}, intercept_ {ref.intercept_.tolist()}, "
          f"{ref.n_iter_} epochs, prediction {ref.predict(X_new).tolist()}")
    print("same weights:", bool(np.array_equal(per_clf.coef_, ref.coef_)
                                and np.array_equal(per_clf.intercept_, ref.intercept_)))
