"""cydl.distribution misused: processes that pass different arrays or arguments,
make different calls, or skip a call get a clear error instead of MPI's
truncated-message errors, wrong results or a silent hang; save then load on
every process reads the file just written. The scripts run under `mpiexec -n 2`
(tests/dist_misuse.py); the oracle for the fit that follows the errors is the same
fit run by one process alone.
"""
import json

import numpy as np
import pytest

from cydl.distribution import _agree
from test_distribution import ATOL, RTOL, _mpiexec, _ok, _run


def _results(out):
    return [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]


def test_misused_processes_get_the_same_clear_error_and_stay_in_step(tmp_path):
    _mpiexec()
    _ok(_run("dist_misuse.py", "misuse", tmp_path, processes=2))
    two = _results(tmp_path)
    for key, kind, words in [
            ("fit_rows", "ValueError", "fit() with different arguments (rows: [50, 40]"),
            ("fit_epochs", "ValueError", "(epochs: [1, 2]"),
            ("evaluate_rows", "ValueError", "evaluate() with different arguments (rows"),
            ("predict_rows", "ValueError", "predict() with different arguments (rows"),
            ("train_on_batch_rows", "ValueError", "train_on_batch() with different"),
            ("other_call", "RuntimeError", "process 0: evaluate(), process 1: predict()")]:
        for r in (0, 1):     # every process raises the same error, none hangs
            assert two[r][key][0] == kind and words in two[r][key][1], (r, key, two[r][key])
    # then a correct fit runs on both as one process alone runs it
    assert two[0]["fit"] == two[1]["fit"] and two[0]["fit"][0] == "ok"
    np.testing.assert_allclose(two[0]["fit"][1], two[0]["fit_alone"][1], rtol=RTOL,
                               atol=ATOL)
    # a load right after a save (process 0 slow to write) reads the new file
    for r in (0, 1):
        for key in ("load_0", "load_1", "load_weights_0", "load_weights_1"):
            assert two[r][key][0] == "ok", (r, key, two[r][key])
            assert np.all(np.asarray(two[r][key][1]) == 0), (r, key)
    # process 1 ended its script while process 0 called fit: an error, not a hang,
    # and the next call fails at once
    assert two[0]["ended"][0] == "RuntimeError"
    assert "process 1: the end of the script" in two[0]["ended"][1]
    assert two[0]["after_end"] == ["RuntimeError", "DataParallel: process 1 has ended "
                                   "its script: predict() cannot run without it"]


def test_a_call_the_others_are_late_for_stops_after_cydl_dist_timeout(tmp_path, monkeypatch):
    _mpiexec()
    monkeypatch.setenv("CYDL_DIST_TIMEOUT", "1")
    proc = _run("dist_misuse.py", "timeout", tmp_path, processes=2)
    assert proc.returncode != 0 and not (tmp_path / "rank0.json").exists()
    assert (tmp_path / "timeout0.txt").read_text() == (
        "DataParallel: process 0 waited 1 s (CYDL_DIST_TIMEOUT) in predict() for the "
        "other processes to make the same call")


def test_cydl_dist_timeout_is_checked(monkeypatch):
    monkeypatch.setenv("CYDL_DIST_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="CYDL_DIST_TIMEOUT.*'soon'"):
        _agree._timeout()
    monkeypatch.setenv("CYDL_DIST_TIMEOUT", "2.5")
    assert _agree._timeout() == 2.5
    monkeypatch.delenv("CYDL_DIST_TIMEOUT")
    assert _agree._timeout() is None
