"""The files cydl wrote before 0.2 (a zip of JSON and .npy arrays) still load, for
one release, with a FutureWarning: the migration path to the Keras 3 format.

The fixtures in tests/data were written by that version's saver (see
tests/data/make_legacy_fixtures.py) with what the models predicted, and their
weights after one more seeded epoch of training."""
import os
import zipfile

import numpy as np
import pytest

import cydl
from cydl import layers

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


class LegacyScaled(cydl.Model):
    """The subclassed model of the fixtures (same code as when they were written)."""

    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.hidden = layers.Dense(units, activation="relu")
        self.out = layers.Dense(1)

    def call(self, inputs):
        return self.out(self.hidden(inputs))

    def get_config(self):
        return {"units": self.units, "name": self.name}


def _fixture(name):
    with np.load(os.path.join(DATA, f"legacy_v1_{name}.npz")) as z:
        xs = [z[k] for k in sorted(k for k in z.files if k.startswith("x"))]
        after = [z[f"after{i}"] for i in range(sum(k.startswith("after") for k in z.files))]
        return (xs if len(xs) > 1 else xs[0]), z["y"], z["pred"], after


@pytest.mark.parametrize("name", ["sequential", "functional", "subclassed"])
def test_files_of_cydl_before_0_2_load_and_train_on(tmp_path, name):
    path = os.path.join(DATA, f"legacy_v1_{name}.keras")
    with zipfile.ZipFile(path) as z:
        assert "model.weights.npz" in z.namelist()          # the old format indeed
    x, y, pred, after = _fixture(name)
    with pytest.warns(FutureWarning, match="save it again"):
        model = cydl.models.load_model(path, custom_objects={"LegacyScaled": LegacyScaled})
    np.testing.assert_allclose(model.predict(x, verbose=0), pred, rtol=1e-6, atol=1e-6)
    assert model.compiled and int(model.optimizer.iterations.value) > 0
    # the optimizer state came back: one more epoch lands where the original did.
    # Not bit for bit: the kernels changed since the fixtures were made (float32
    # Adam now keeps its moments in float32), and Adam's steps on near-zero
    # gradients amplify rounding. So the yardstick is the failure this guards
    # against: the same epoch from a zeroed optimizer state (lost slots and step
    # count) must land at least 50x farther away.
    def one_epoch(m):
        cydl.utils.set_random_seed(7)
        m.fit(x, y, epochs=1, verbose=0)
        return max(float(np.abs(a - b).max()) for a, b in zip(m.get_weights(), after))

    lost = cydl.models.load_model(path, custom_objects={"LegacyScaled": LegacyScaled})
    for state in lost.optimizer._state_arrays():
        state[...] = 0
    err, err_lost = one_epoch(model), one_epoch(lost)
    assert err_lost > 1e-4 and err <= err_lost / 50, (err, err_lost)
    # saving it again writes the Keras format, which loads without a warning
    model.save(tmp_path / "new.keras")
    with zipfile.ZipFile(tmp_path / "new.keras") as z:
        assert "model.weights.h5" in z.namelist()
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        again = cydl.models.load_model(tmp_path / "new.keras",
                                       custom_objects={"LegacyScaled": LegacyScaled})
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))


def test_old_flat_weights_h5_files_still_load(tmp_path):
    h5py = pytest.importorskip("h5py", reason="h5py writes the old-style file")
    x, _, pred, _ = _fixture("sequential")
    with pytest.warns(FutureWarning):
        model = cydl.models.load_model(os.path.join(DATA, "legacy_v1_sequential.keras"))
    # what cydl < 0.2's save_weights wrote: w00000, w00001, ... at the root
    with h5py.File(tmp_path / "old.weights.h5", "w") as f:
        for i, w in enumerate(model.get_weights()):
            f[f"w{i:05d}"] = w
        f.attrs["format"] = "cydl.keras"
    fresh = cydl.models.clone_model(model)
    with pytest.warns(FutureWarning):
        fresh.load_weights(tmp_path / "old.weights.h5")
    np.testing.assert_allclose(fresh.predict(x, verbose=0), pred, rtol=1e-6, atol=1e-6)
