"""pandas objects as data: pandas 3 hands out read-only views (copy-on-write), nullable
dtypes and string columns. cydl reads the views in place, turns missing values into
NaN and names whatever it cannot use."""
import numpy as np
import pytest

import cydl
from cydl import layers

pd = pytest.importorskip("pandas", reason="pandas is not installed")


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(96, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    return pd.DataFrame(X, columns=list("abcd")), pd.Series(y, name="label"), X, y


def _classifier(seed=0):
    cydl.utils.set_random_seed(seed)
    m = cydl.Sequential([layers.Input(shape=(4,)), layers.Dense(8, activation="relu"),
                         layers.Dense(2, activation="softmax")])
    m.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
    return m


def test_dataframe_and_series_train_like_the_arrays(data):
    df, s, X, y = data
    a, b = _classifier(), _classifier()
    ha = a.fit(df, s, epochs=3, batch_size=16, verbose=0, validation_data=(df, s),
               shuffle=False)
    hb = b.fit(X, y, epochs=3, batch_size=16, verbose=0, validation_data=(X, y),
               shuffle=False)
    assert ha.history == hb.history
    np.testing.assert_array_equal(a.predict(df, verbose=0), b.predict(X, verbose=0))
    np.testing.assert_array_equal(a(df.iloc[:5]), b(X[:5]))
    assert a.evaluate(df, s, verbose=0) == b.evaluate(X, y, verbose=0)


def test_read_only_views_are_read_in_place(data):
    df, s, _, _ = data
    col = df["a"]
    view = np.asarray(col)
    if view.flags.writeable:
        pytest.skip("this pandas hands out writeable arrays (pandas < 3 without CoW)")
    m = cydl.Sequential([layers.Input(shape=(1,)), layers.Dense(1)])
    m.compile(loss="mse", optimizer="sgd")
    before = view.copy()
    m.fit(df[["a"]], col, epochs=1, verbose=0, sample_weight=pd.Series(np.ones(len(col))))
    m.evaluate(df[["a"]], col, verbose=0)
    np.testing.assert_array_equal(view, before)          # nothing wrote into pandas' data
    from cydl.models import _data
    # a 1-D float64 Series is used as it is: no copy
    assert np.shares_memory(_data.as_features(col, "x", None, "float64"), view)


def test_one_column_dataframe_as_regression_target(data):
    df, _, X, _ = data
    runs = []
    for target in (df[["a"]], X[:, :1]):
        cydl.utils.set_random_seed(1)
        m = cydl.Sequential([layers.Input(shape=(4,)), layers.Dense(1)])
        m.compile(loss="mse", optimizer="sgd")
        runs.append(m.fit(df, target, epochs=2, verbose=0, shuffle=False).history["loss"])
    assert runs[0] == runs[1]


def test_nullable_dtypes_are_numbers_and_missing_values_are_named(data):
    df, s, X, y = data
    m = _classifier()
    ref = _classifier()
    h = m.fit(df.astype("Float64"), s.astype("Int64"), epochs=1, verbose=0, shuffle=False)
    assert h.history == ref.fit(X, y, epochs=1, verbose=0, shuffle=False).history
    holes = df.astype("Float64")
    holes.iloc[3, 1] = pd.NA
    w = m.get_weights()
    with pytest.raises(ValueError, match=r"x\[3, 1\]"):
        m.fit(holes, s, verbose=0)
    labels = s.astype("Int64")
    labels.iloc[7] = pd.NA
    with pytest.raises(ValueError, match="NaN"):
        m.fit(df, labels, verbose=0)
    for a, b in zip(w, m.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_string_columns_are_named(data):
    df, s, _, _ = data
    m = _classifier()
    with pytest.raises(TypeError, match=r"'city' \(str"):
        m.fit(df.assign(city="Paris"), s, verbose=0)
    with pytest.raises(TypeError, match="numeric"):
        m.fit(df, s.map({0: "no", 1: "yes"}), verbose=0)


def test_normalization_adapts_to_a_dataframe(data):
    df, _, X, _ = data
    a, b = layers.Normalization(), layers.Normalization()
    a.adapt(df)
    b.adapt(X)
    np.testing.assert_allclose(a(X[:3]), b(X[:3]))
    np.testing.assert_allclose(cydl.utils.to_categorical(pd.Series([0, 2, 1])),
                               np.eye(3)[[0, 2, 1]])
