"""The command's building blocks: standardisation, prediction rows, format and header detection."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

import readers
from seqkit.cli._data import SourceSpec, detect_format, parse_column
from seqkit.cli._errors import CliError
from seqkit.cli._predict import _rows, _schema


def _batch(values, lengths):
    """Batch of one channel, padded after each sequence's `lengths` steps."""
    n, t = len(lengths), max(lengths)
    x = np.zeros((n, 1, t), np.float32)
    mask = np.zeros((n, t), np.float32)
    for i, (row, length) in enumerate(zip(values, lengths)):
        x[i, 0, :length] = row[:length]
        mask[i, :length] = 1
    return readers.Batch(x, None, mask, None, [str(i) for i in range(n)])


def test_prediction_rows_per_step_with_mask():
    out = np.zeros((2, 3, 4), np.float32)                        # [N, C, T]
    out[0, 2, :] = 1
    out[1, 1, :] = 1
    mask = np.array([[1, 1, 1, 1], [0, 0, 1, 1]], np.float32)    # align_end padding
    cols = _rows(out, mask, 4, ["a", "b"], "classification", ["x", "y", "z"])
    assert cols["steps"] == [4, 2]
    assert cols["prediction"] == [[2, 2, 2, 2], [1, 1]]
    assert cols["label"][1] == ["y", "y"]
    table = pa.Table.from_pydict(cols, schema=_schema("classification", True, ["x", "y", "z"]))
    assert table.schema.field("probabilities").type == pa.list_(pa.list_(pa.float32()))


def test_prediction_rows_regression():
    out = np.array([[0.5, 1.5], [2.0, -1.0]], np.float32)        # [N, K]
    cols = _rows(out, None, 7, ["a", "b"], "regression", None)
    assert cols == {"key": ["a", "b"], "steps": [7, 7], "prediction": [[0.5, 1.5], [2.0, -1.0]]}
    assert _schema("regression", False, None).names == ["key", "steps", "prediction"]


def test_detect_format(tmp_path):
    assert detect_format("a/b.PARQUET") == "parquet"
    assert detect_format("x/%d.csv") == "csv"
    (tmp_path / "part-0.parquet").write_bytes(b"")
    assert detect_format(str(tmp_path)) == "parquet"
    with pytest.raises(CliError, match="--format csv\\|parquet"):
        detect_format(str(tmp_path / "data.bin"))


def test_header_detection(tmp_path):
    with_header = tmp_path / "h.csv"
    with_header.write_text("id,value,label\n1,0.5,cat\n")
    assert list(SourceSpec(str(with_header), id_column="id").reader().columns) == ["value", "label"]
    text_labels = tmp_path / "t.csv"                       # a data row with a text label: no header
    text_labels.write_text("1,0.5,cat\n1,0.7,cat\n")
    assert SourceSpec(str(text_labels), id_column=0).reader().skip_lines == 0


def test_parse_column_and_numbering_checks():
    assert parse_column("3") == 3 and parse_column("-1") == -1 and parse_column("x1") == "x1"
    with pytest.raises(CliError, match="numbered pattern"):
        SourceSpec("data.csv", start=0, end=3)
    with pytest.raises(CliError, match="must be numbered like"):
        SourceSpec("f/%d.csv", labels="labels.csv", start=0, end=3)
