"""Hands-On ML ch. 10: the book's scikit-learn MLPRegressor pipeline on California
housing, with cydl.sklearn.MLPRegressor in place of scikit-learn's.

The book's split (train_test_split(random_state=42), then again for validation),
StandardScaler, MLPRegressor(hidden_layer_sizes=[50, 50, 50], random_state=42),
defaults otherwise (adam, up to 200 epochs, early stop on the training loss). The
same pipeline with scikit-learn's own MLPRegressor runs in the same process for the
fit time and RMSE beside it. Needs scikit-learn, and cal_housing.data.gz
(CYDL_DATA_DIR/california-housing or ../shared/data).
"""
import time

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPRegressor as SkMLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import cydl
from cydl.sklearn import MLPRegressor

# what fetch_california_housing() returns: the same features, target and row order
X, y = cydl.datasets.california_housing.load_arrays()
X_train_full, X_test, y_train_full, y_test = train_test_split(X, y, random_state=42)
X_train, X_valid, y_train, y_valid = train_test_split(
    X_train_full, y_train_full, random_state=42)

results = {}
for name, cls in (("cydl", MLPRegressor), ("scikit-learn", SkMLPRegressor)):
    mlp_reg = cls(hidden_layer_sizes=[50, 50, 50], random_state=42)
    pipeline = make_pipeline(StandardScaler(), mlp_reg)
    t0 = time.perf_counter()
    pipeline.fit(X_train, y_train)
    seconds = time.perf_counter() - t0
    y_pred = pipeline.predict(X_valid)
    rmse = float(np.sqrt(np.mean((y_valid - y_pred) ** 2)))
    results[name] = (rmse, seconds, mlp_reg.n_iter_)

for name, (rmse, seconds, n_iter) in results.items():
    print(f"{name:13s} valid RMSE {rmse:.4f}   fit {seconds:6.2f} s ({n_iter} epochs)")
print("book (scikit-learn): valid RMSE 0.5053")
print(f"fit time, scikit-learn / cydl: {results['scikit-learn'][1] / results['cydl'][1]:.2f}x")
