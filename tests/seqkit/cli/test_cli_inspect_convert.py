"""``seqkit inspect`` and ``seqkit convert`` on the bundled data sets."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

import readers
from conftest import SYNTHETIC, TRAIN_FEATURES, TRAIN_LABELS, VARLEN


def test_inspect_numbered_files_with_labels_table(cli):
    result = cli("inspect", TRAIN_FEATURES, "--start", "0", "--end", "449", "--labels", TRAIN_LABELS)
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[1].split() == ["sequences", "450"]
    assert "min 60, median 60, max 60" in result.out
    assert lines[lines.index("class  sequences  label steps") + 2].split() == ["0", "75", "75"]


def test_inspect_long_csv_json(cli):
    result = cli("inspect", VARLEN / "train.csv", "--id-column", "series_id", "--order-column", "t",
                 "--label-column", "label", "--json")
    assert result.code == 0, result.err
    summary = json.loads(result.out)
    assert summary["sequences"] == 320
    assert summary["columns"] == ["x", "y", "z"]
    assert summary["label_column"] == "label"
    assert summary["sequence_class_counts"] == {"0": 80, "1": 80, "2": 80, "3": 80}
    assert 20 <= summary["length_min"] <= summary["length_max"] <= 200


def test_inspect_nested_parquet_and_header_detection(cli):
    parquet = cli("inspect", SYNTHETIC / "train.parquet", "--key-column", "key", "--label-column", "label",
                  "--json")
    assert parquet.code == 0, parquet.err
    assert json.loads(parquet.out)["columns"] == ["values"]
    # varlen/test.csv has a header line: found without --skip-lines
    csv = cli("inspect", VARLEN / "test.csv", "--id-column", "series_id", "--json")
    assert csv.code == 0, csv.err
    assert json.loads(csv.out)["columns"] == ["t", "x", "y", "z", "label"]


def test_inspect_bad_column_is_a_data_error(cli):
    result = cli("inspect", VARLEN / "train.csv", "--id-column", "serial")
    assert result.code == 1
    assert "serial" in result.err and "series_id" in result.err


def _records(reader):
    return [(str(r.key), r.values) for r in reader]


def test_convert_long_csv_round_trip(cli, tmp_path):
    dest = tmp_path / "varlen.parquet"
    result = cli("convert", VARLEN / "test.csv", dest, "--id-column", "series_id", "--order-column", "t",
                 "--label-column", "label")
    assert result.code == 0, result.err
    assert "wrote 160 sequences" in result.out and str(dest) in result.out
    original = _records(readers.CSVSequenceReader(VARLEN / "test.csv", skip_lines=1,
                                                  id_column="series_id", order_column="t"))
    back = readers.ParquetSequenceReader(dest)
    assert list(back.columns) == ["x", "y", "z", "label"]
    converted = _records(back)
    assert [k for k, _ in converted] == [k for k, _ in original]
    for (_, a), (_, b) in zip(original, converted):
        np.testing.assert_array_equal(a, b)
    assert not list(tmp_path.glob("*.partial"))


def test_convert_numbered_files(cli, tmp_path):
    dest = tmp_path / "sc.parquet"
    result = cli("convert", TRAIN_FEATURES, dest, "--start", "0", "--end", "19", "--dtype", "float32",
                 "--no-progress")
    assert result.code == 0, result.err
    table = pq.read_table(dest)
    assert table.num_rows == 20
    assert table.column_names == ["0", "key"]
    assert table.column("key")[3].as_py().endswith("features/3.csv")
    expected = readers.CSVSequenceReader(readers.NumberedFiles(TRAIN_FEATURES, 3, 3))
    np.testing.assert_allclose(table.column("0")[3].as_py(), next(iter(expected)).values[:, 0], rtol=1e-6)


@pytest.mark.parametrize("dest, extra, message", [
    ("out.csv", [], "DEST must be a .parquet file"),
    ("exists.parquet", [], "exists; pass --force"),
])
def test_convert_refuses(cli, tmp_path, dest, extra, message):
    (tmp_path / "exists.parquet").write_bytes(b"x")
    result = cli("convert", VARLEN / "test.csv", tmp_path / dest, "--id-column", "series_id", *extra)
    assert result.code == 1
    assert message in result.err


def test_convert_bad_data_leaves_no_file(cli, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("id,v\n1,0.5\n1,oops\n")
    dest = tmp_path / "bad.parquet"
    result = cli("convert", bad, dest, "--id-column", "id")
    assert result.code == 1
    assert "oops" in result.err
    assert not dest.exists() and not list(tmp_path.glob("*.partial"))
