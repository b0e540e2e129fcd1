"""``seqkit predict --out predictions.csv``: a flat CSV with the same predictions as the Parquet file."""

from __future__ import annotations

import numpy as np
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from conftest import TEST_FEATURES
from seqkit.cli._predict import _rows
from seqkit.cli._prediction_csv import csv_table


def test_predict_csv_matches_parquet(cli, trained_run, tmp_path):
    args = ["predict", trained_run / "model.seqkit", TEST_FEATURES, "--start", "0", "--end", "9"]
    csv, parquet = tmp_path / "predictions.csv", tmp_path / "predictions.parquet"
    result = cli(*args, "--out", csv)
    assert result.code == 0, result.err
    assert f"wrote 10 predictions to {csv}" in result.out
    assert cli(*args, "--out", parquet).code == 0
    flat = pa_csv.read_csv(csv).to_pylist()
    nested = pq.read_table(parquet).to_pylist()
    names = ["normal", "cyclic", "up", "down", "shift up", "shift down"]
    assert list(flat[0]) == ["key", "steps", "prediction", "label"] + [f"probability_{n}" for n in names]
    assert len(flat) == 10
    for row, ref in zip(flat, nested):
        assert (row["key"], row["steps"], row["prediction"], row["label"]) == \
            (ref["key"], ref["steps"], ref["prediction"], ref["label"])
        np.testing.assert_allclose([row[f"probability_{n}"] for n in names], ref["probabilities"], rtol=1e-6)
    assert not list(tmp_path.glob("*.partial"))


def test_predict_refuses_other_suffixes(cli, trained_run, tmp_path):
    result = cli("predict", trained_run / "model.seqkit", TEST_FEATURES, "--start", "0", "--end", "9",
                 "--out", tmp_path / "predictions.txt")
    assert result.code == 1
    assert "--out must be a .parquet or .csv file" in result.err


def test_csv_rows_per_step_and_regression():
    out = np.zeros((2, 3, 4), np.float32)                        # [N, C, T]
    out[0, 2, :] = 1
    out[1, 1, :] = 1
    mask = np.array([[1, 1, 1, 1], [0, 0, 1, 1]], np.float32)    # align_end padding
    table = csv_table(_rows(out, mask, 4, ["a", "b"], "classification", ["x", "y", "z"]), "classification",
                      True, 3, ["x", "y", "z"])
    assert table.column_names == ["key", "step", "prediction", "label", "probability_x", "probability_y",
                                  "probability_z"]
    assert table.column("key").to_pylist() == ["a"] * 4 + ["b"] * 2
    assert table.column("step").to_pylist() == [0, 1, 2, 3, 0, 1]
    assert table.column("label").to_pylist() == ["z"] * 4 + ["y"] * 2
    regression = csv_table(_rows(np.array([[0.5, 1.5]], np.float32), None, 7, ["a"], "regression", None),
                           "regression", False, 2, None)
    assert regression.to_pylist() == [{"key": "a", "steps": 7, "prediction_0": 0.5, "prediction_1": 1.5}]
    one = csv_table(_rows(np.array([[0.5]], np.float32), None, 7, ["a"], "regression", None),
                    "regression", False, 1, None)
    assert one.column_names == ["key", "steps", "prediction"]
