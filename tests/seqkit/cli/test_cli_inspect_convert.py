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


def test_convert_with_a_labels_source_writes_the_label_column(cli, tmp_path):
    """DL4J's separate label files (one label per series) become a column `label`, at every step."""
    dest = tmp_path / "sc.parquet"
    result = cli("convert", TRAIN_FEATURES, dest, "--start", "0", "--end", "19", "--labels", TRAIN_LABELS,
                 "--no-progress")
    assert result.code == 0, result.err
    table = pq.read_table(dest)
    assert table.column_names == ["0", "label", "key"]
    rows = table.to_pylist()
    for i in (0, 7, 19):
        expected = float(open(TRAIN_LABELS % i).read().split()[0])
        assert rows[i]["label"] == [expected] * 60 and len(rows[i]["0"]) == 60
    # read back as sequence labels, it is the same data set as the two numbered sources
    converted = readers.SequenceBatches(readers.ParquetSequenceReader(dest), batch_size=20, num_classes=6,
                                        label_column="label", sequence_labels=True)
    original = readers.SequenceBatches(
        readers.CSVSequenceReader(readers.NumberedFiles(TRAIN_FEATURES, 0, 19)),
        readers.CSVSequenceReader(readers.NumberedFiles(TRAIN_LABELS, 0, 19)),
        batch_size=20, num_classes=6, align="align_end", sequence_labels=True)
    a, b = next(iter(converted)), next(iter(original))
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.features, b.features)


def test_convert_text_labels_with_classes(cli, tmp_path):
    data = tmp_path / "animals.csv"
    data.write_text("id,v,label\n1,0.5,cat\n1,0.7,dog\n2,0.1,bird\n")
    dest = tmp_path / "animals.parquet"
    result = cli("convert", data, dest, "--id-column", "id", "--label-column", "label",
                 "--classes", "dog,cat,bird")
    assert result.code == 0, result.err
    assert "column 'label' holds class indices: 0 = dog, 1 = cat, 2 = bird" in result.out
    assert pq.read_table(dest).column("label").to_pylist() == [[1.0, 0.0], [2.0]]


def test_convert_labels_of_other_lengths_is_one_line(cli, tmp_path):
    (tmp_path / "f").mkdir()
    (tmp_path / "l").mkdir()
    for i in range(2):
        (tmp_path / "f" / f"{i}.csv").write_text("1\n2\n3\n")
        (tmp_path / "l" / f"{i}.csv").write_text("0\n1\n" if i else "0\n")
    result = cli("convert", tmp_path / "f" / "%d.csv", tmp_path / "x.parquet", "--start", "0", "--end", "1",
                 "--labels", tmp_path / "l" / "%d.csv")
    assert result.code == 1
    assert result.err.count("\n") == 1 and "labels and features differ in length" in result.err
    assert "1.csv" in result.err and "3 steps" in result.err
    assert not (tmp_path / "x.parquet").exists() and not list(tmp_path.glob("*.partial"))


@pytest.mark.parametrize("extra, message", [
    (["--classes", "a,b"], "--classes names the classes of a label column: give --label-column or --labels"),
    (["--labels", "other.csv", "--label-column", "label"], "give --labels (a second source) or --label-column"),
    (["--classes", "a,a", "--label-column", "label"], "the class names must be distinct"),
])
def test_convert_label_option_mistakes(cli, tmp_path, extra, message):
    result = cli("convert", VARLEN / "test.csv", tmp_path / "x.parquet", "--id-column", "series_id", *extra)
    assert result.code in (1, 2)
    assert message in result.err


def test_inspect_lists_numeric_classes_in_numeric_order(cli, tmp_path):
    data = tmp_path / "twelve.csv"
    data.write_text("id,v,label\n" + "".join(f"{i},0.5,{i}\n" for i in range(12)))
    result = cli("inspect", data, "--id-column", "id", "--label-column", "label")
    assert result.code == 0, result.err
    table = result.out.split("-----  ---------  -----------\n")[1].splitlines()
    assert [row.split()[0] for row in table] == [str(i) for i in range(12)]


def test_inspect_honours_classes_order(cli, tmp_path):
    data = tmp_path / "animals.csv"
    data.write_text("id,v,label\n1,0.5,cat\n1,0.7,dog\n2,0.1,bird\n3,0.2,cat\n")
    result = cli("inspect", data, "--id-column", "id", "--label-column", "label", "--classes", "dog,cat,bird,fish")
    assert result.code == 0, result.err
    table = result.out.split("-----  ---------  -----------\n")[1].splitlines()
    assert [row.split() for row in table] == [["dog", "1", "1"], ["cat", "1", "2"], ["bird", "1", "1"],
                                              ["fish", "0", "0"]]
    assert "classes         4" in result.out
