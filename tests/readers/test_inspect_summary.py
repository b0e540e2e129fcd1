"""inspect: the data set summary."""

import json

import numpy as np
import pytest

import readers
from seqdata import write_csv, write_long_csv, write_numbered


def test_summary_of_a_labelled_long_table(tmp_path):
    seqs = [np.array([[1.0, 0], [np.nan, 0], [3.0, 0]]), np.array([[1.0, 2]]), np.array([[5.0, 1], [6.0, 1]])]
    path = write_long_csv(tmp_path / "l.csv", seqs, ["a", "b", "c"], ["x", "label"])
    reader = readers.CSVSequenceReader(path, skip_lines=1, id_column="id", order_column="t")
    summary = readers.inspect(reader, label_column="label")
    assert (summary.sequences, summary.steps) == (3, 6)
    assert (summary.length_min, summary.length_median, summary.length_max) == (1, 2.0, 3)
    assert summary.columns == ["x"] and summary.label_column == "label"
    assert summary.nan_count == 1
    assert summary.class_counts == {0: 3, 1: 2, 2: 1}
    assert summary.sequence_class_counts == {0: 1, 1: 1, 2: 1}
    text = str(summary)
    assert "sequences: 3" in text and "min 1, median 2, max 3" in text and "NaN/inf:   1" in text
    assert json.loads(json.dumps(summary.to_dict()))["class_counts"] == {"0": 3, "1": 2, "2": 1}


def test_summary_with_a_labels_reader_and_class_names(tmp_path):
    features = readers.CSVSequenceReader(write_numbered(tmp_path / "f", [np.ones((4, 2)), np.ones((2, 2))]))
    for i, label in enumerate(["up", "down"]):
        write_csv(tmp_path / f"l{i}.csv", [[label]])
    labels = readers.CSVSequenceReader([tmp_path / "l0.csv", tmp_path / "l1.csv"])
    summary = readers.inspect(features, labels=labels, classes=["down", "up"])
    assert summary.columns == ["0", "1"] and summary.label_column == "0"
    assert summary.sequence_class_counts == {"down": 1, "up": 1}
    assert "down: 1, up: 1" in str(summary)


def test_summary_without_labels(tmp_path):
    reader = readers.CSVSequenceReader(write_numbered(tmp_path / "f", [np.ones((3, 1))]))
    summary = readers.inspect(reader)
    assert summary.class_counts == {} and "labels:" not in str(summary)
    with pytest.raises(ValueError):
        readers.inspect(reader, label_column=0, labels=reader)


def test_write_parquet_from_a_long_table_keeps_id_keys(tmp_path):
    path = write_long_csv(tmp_path / "l.csv", [np.ones((2, 1)), np.zeros((1, 1))], ["p", "q"], ["v"])
    reader = readers.CSVSequenceReader(path, skip_lines=1, id_column="id", order_column="t")
    readers.write_parquet(reader, tmp_path / "n.parquet")
    back = list(readers.ParquetSequenceReader(tmp_path / "n.parquet"))
    assert [r.key for r in back] == ["p", "q"]
    np.testing.assert_array_equal(back[0].values, [[1], [1]])
