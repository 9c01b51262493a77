"""cydl.datasets.iris against scikit-learn's own load_iris (the oracle)."""
import pickle

import numpy as np
import pytest

from cydl.datasets import iris


def _sk():
    return pytest.importorskip("sklearn.datasets", reason="scikit-learn is not installed")


def test_arrays_and_names_are_scikit_learns():
    ref = _sk().load_iris()
    got = iris.load_iris()
    np.testing.assert_array_equal(got.data, ref.data)
    np.testing.assert_array_equal(got.target, ref.target)
    assert got.data.dtype == ref.data.dtype and got.target.dtype == ref.target.dtype
    assert got.feature_names == ref.feature_names
    np.testing.assert_array_equal(got.target_names, ref.target_names)
    assert got.frame is None and got.filename == ref.filename
    assert "Fisher" in got.DESCR
    assert set(ref.keys()) - {"data_module"} <= set(got.keys())
    X, y = iris.load_iris(return_X_y=True)
    np.testing.assert_array_equal(X, ref.data)
    np.testing.assert_array_equal(y, ref.target)


def test_as_frame_is_scikit_learns():
    pytest.importorskip("pandas", reason="pandas is not installed")
    testing = pytest.importorskip("pandas.testing")
    ref = _sk().load_iris(as_frame=True)
    got = iris.load_iris(as_frame=True)
    testing.assert_frame_equal(got.frame, ref.frame)
    testing.assert_frame_equal(got.data, ref.data)
    testing.assert_series_equal(got.target, ref.target)
    X, y = iris.load_iris(return_X_y=True, as_frame=True)
    testing.assert_frame_equal(X, ref.data)
    # the book's cell (Hands-On ML ch. 10)
    sel = got.data[["petal length (cm)", "petal width (cm)"]].values
    assert sel.shape == (150, 2) and (got.target == 0).sum() == 50


def test_load_data_splits_every_sample_once():
    (xtr, ytr), (xte, yte) = iris.load_data(test_split=0.2, seed=1)
    assert len(xtr) == 120 and len(xte) == 30
    X, y = iris.load_arrays()
    both = np.vstack([xtr, xte])
    # the two parts hold each row of the file exactly once (rows are distinct up
    # to duplicates, so compare as sorted multisets of (features, label))
    key = np.column_stack([both, np.concatenate([ytr, yte])])
    ref = np.column_stack([X, y])
    np.testing.assert_array_equal(key[np.lexsort(key.T[::-1])], ref[np.lexsort(ref.T[::-1])])
    (a, _), _ = iris.load_data(seed=1)
    (b, _), _ = iris.load_data(seed=2)
    assert not np.array_equal(a, b)
    assert np.bincount(y).tolist() == [50, 50, 50]


@pytest.mark.parametrize("kwargs,err,match", [
    ({"test_split": 1.0}, ValueError, "test_split"),
    ({"test_split": "0.2"}, TypeError, "test_split"),
    ({"seed": -1}, ValueError, "seed")])
def test_load_data_bad_arguments(kwargs, err, match):
    with pytest.raises(err, match=match):
        iris.load_data(**kwargs)


def test_load_iris_bad_arguments_and_bunch():
    with pytest.raises(TypeError, match="as_frame"):
        iris.load_iris(as_frame="yes")
    bunch = iris.load_iris()
    with pytest.raises(AttributeError):
        bunch.nothing
    twin = pickle.loads(pickle.dumps(bunch))
    np.testing.assert_array_equal(twin.data, bunch.data)
