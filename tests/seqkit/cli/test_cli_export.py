"""``seqkit export``: the written ONNX program, given raw features, predicts what ``seqkit predict`` does."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

import readers
from conftest import TEST_FEATURES

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")


def test_export_onnx_gives_the_predictions_of_predict(cli, trained_run, tmp_path):
    model = trained_run / "model.seqkit"
    out = tmp_path / "model.onnx"
    result = cli("export", model, out)
    assert result.code == 0, result.err
    assert f"wrote {out}" in result.out
    assert "inside the program (give raw features)" in result.out        # the tiny run standardises
    predictions = tmp_path / "p.parquet"
    assert cli("predict", model, TEST_FEATURES, "--start", "0", "--end", "9", "--out", predictions).code == 0
    expected = np.array(pq.read_table(predictions).column("probabilities").to_pylist())   # [10, 6]

    reader = readers.CSVSequenceReader(readers.NumberedFiles(TEST_FEATURES, 0, 9))
    batch = next(iter(readers.SequenceBatches(reader, batch_size=10, align="align_end")))
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    mask = batch.features_mask                         # equal lengths: no mask, every step real
    mask = np.ones(batch.features[:, 0].shape, np.float32) if mask is None else mask
    got = session.run(["output"], {"features": batch.features, "mask": mask})[0]
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_export_without_standardisation_and_pt2(cli, trained_run, tmp_path):
    result = cli("export", trained_run / "model.seqkit", tmp_path / "m.pt2", "--no-standardize")
    assert result.code == 0, result.err
    assert "not inside (give standardised features)" in result.out
    assert (tmp_path / "m.pt2").stat().st_size > 0


def test_export_refuses_other_suffixes(cli, trained_run, tmp_path):
    result = cli("export", trained_run / "model.seqkit", tmp_path / "m.zip")
    assert result.code == 1
    assert "OUT must end in .onnx or .pt2" in result.err
    assert not list(tmp_path.iterdir())
