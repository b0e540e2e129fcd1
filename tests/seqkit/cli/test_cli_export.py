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


def test_a_model_whose_standardisation_is_only_in_an_older_data_json_is_refused(cli, trained_run, tmp_path):
    """A model saved before models carried their data description: its statistics sit in data.json
    beside it. Exporting it with standardisation would leave them out silently, so it is refused."""
    import seqkit

    net = seqkit.load(trained_run / "model.seqkit")
    net.data_description = None                                    # as an older seqkit saved it
    old = tmp_path / "old"
    old.mkdir()
    net.save(old / "model.seqkit")
    (old / "data.json").write_text('{"format": "seqkit-run-data", "version": 1, "batch": {}, "read": {}, '
                                   '"feature_columns": ["a"], "normalizer": {"mean": [0.5], "std": [2.0], '
                                   '"columns": ["a"]}}')
    result = cli("export", old / "model.seqkit", tmp_path / "m.onnx")
    assert result.code == 1
    assert "older data.json" in result.err and "--no-standardize" in result.err
    assert not (tmp_path / "m.onnx").exists()
    assert cli("export", old / "model.seqkit", tmp_path / "m.onnx", "--no-standardize").code == 0
