"""readers.TSFileReader: the sktime/aeon .ts format, every header variant and every error."""

import numpy as np
import pytest

import readers
from readers import SequenceBatches, SequenceDataError, TSFileReader

UNIVARIATE_EQUAL = """# a comment
@problemName Tiny
@timeStamps false
@missing false
@univariate true
@equalLength true
@seriesLength 3
@classLabel true a b
@data
1,2,3:a
4,5,6:b

7,8,9:a
"""

MULTIVARIATE_UNEQUAL = """@problemName Multi
@timeStamps false
@missing true
@univariate false
@dimensions 2
@equalLength false
@classLabel true 1 2 3
@data
1,2,3:10,20,30:2
4,5:40,50:3
6:60:1
"""


def write(tmp_path, text, name="x.ts"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def records(reader):
    return [(r.values, r.key) for r in reader]


def test_univariate_equal_length_with_classes(tmp_path):
    path = write(tmp_path, UNIVARIATE_EQUAL)
    r = TSFileReader(path)
    assert r.columns == ("dim_0", "class")
    assert r.classes == ["a", "b"] and r.problem_name == "Tiny"
    assert r.dimensions == 1 and r.equal_length is True and r.series_length == 3
    assert len(r) == 3
    (chunk,) = r.chunks({1: r.classes})
    np.testing.assert_array_equal(chunk.channels[0], [1, 2, 3, 4, 5, 6, 7, 8, 9])
    np.testing.assert_array_equal(chunk.channels[1], [0, 0, 0, 1, 1, 1, 0, 0, 0])
    assert chunk.keys == [f"{path}#0", f"{path}#1", f"{path}#2"]
    assert chunk.locate(2, 0) == (path, 13)                           # the file line of series 2
    batches = SequenceBatches(r, label_column="class", classes=r.classes, sequence_labels=True, batch_size=8)
    (b,) = list(batches)
    assert b.features.shape == (3, 1, 3) and b.features_mask is None
    np.testing.assert_array_equal(b.labels, [[1, 0], [0, 1], [1, 0]])


def test_multivariate_unequal_length_pads_and_masks(tmp_path):
    r = TSFileReader(write(tmp_path, MULTIVARIATE_UNEQUAL))
    assert r.columns == ("dim_0", "dim_1", "class") and r.classes == ["1", "2", "3"]
    values = [v for v, _ in records(r)]
    np.testing.assert_array_equal(values[0], [[1, 10, 1], [2, 20, 1], [3, 30, 1]])   # index in @classLabel
    np.testing.assert_array_equal(values[1], [[4, 40, 2], [5, 50, 2]])
    np.testing.assert_array_equal(values[2], [[6, 60, 0]])
    b = next(iter(SequenceBatches(r, label_column="class", classes=r.classes, sequence_labels=True,
                                  batch_size=3, align="align_start")))
    assert b.features.shape == (3, 2, 3)
    np.testing.assert_array_equal(b.features_mask, [[1, 1, 1], [1, 1, 0], [1, 0, 0]])
    np.testing.assert_array_equal(b.features[1], [[4, 5, 0], [40, 50, 0]])
    np.testing.assert_array_equal(b.labels.argmax(1), [1, 2, 0])


def test_without_header_counts_dimensions_and_no_labels(tmp_path):
    r = TSFileReader(write(tmp_path, "@problemName none\n@classLabel false\n@data\n1,2:3,4\n5:6\n"))
    assert r.columns == ("dim_0", "dim_1") and r.classes is None and r.dimensions == 2
    np.testing.assert_array_equal(records(r)[1][0], [[5, 6]])


def test_regression_target(tmp_path):
    r = TSFileReader(write(tmp_path, "@targetLabel true\n@dimensions 1\n@data\n1,2:0.5\n3:1.5\n"))
    assert r.columns == ("dim_0", "target")
    np.testing.assert_array_equal(records(r)[0][0], [[1, 0.5], [2, 0.5]])


def test_missing_values_need_allow_nan(tmp_path):
    path = write(tmp_path, MULTIVARIATE_UNEQUAL.replace("40,50", "40,?"))
    with pytest.raises(SequenceDataError) as info:
        list(TSFileReader(path).chunks())
    assert info.value.source == path and info.value.row == 10 and info.value.column == "dim_1"
    assert "step 2" in str(info.value) and "allow_nan=True" in str(info.value)
    values = records(TSFileReader(path, allow_nan=True))[1][0]
    assert values[0, 1] == 40 and np.isnan(values[1, 1])


def test_write_parquet_and_inspect_work(tmp_path):
    r = TSFileReader(write(tmp_path, MULTIVARIATE_UNEQUAL))
    out = tmp_path / "out.parquet"
    readers.write_parquet(r, out)
    back = readers.ParquetSequenceReader(str(out))
    assert [len(v) for v, _ in records(back)] == [3, 2, 1]
    assert readers.inspect(r).sequences == 3


def test_labels_without_classes_are_indices_in_the_header_list_and_other_names_remap(tmp_path):
    r = TSFileReader(write(tmp_path, UNIVARIATE_EQUAL))
    (chunk,) = r.chunks()
    np.testing.assert_array_equal(chunk.channels[1], [0, 0, 0, 1, 1, 1, 0, 0, 0])
    (chunk,) = r.chunks({1: ["b", "a"]})
    np.testing.assert_array_equal(chunk.channels[1], [1, 1, 1, 0, 0, 0, 1, 1, 1])
    with pytest.raises(SequenceDataError, match="unknown class label") as info:
        list(r.chunks({1: ["a"]}))
    assert info.value.row == 11 and info.value.column == "class"


@pytest.mark.parametrize("text, line, column, match", [
    ("@timeStamps true\n@data\n1:a\n", 1, None, "time stamps are not supported"),
    ("@problemName x\n@colour red\n@data\n", 2, None, "unknown header line"),
    ("@univariate maybe\n@data\n1\n", 1, None, "bad @univariate line"),
    ("@seriesLength -3\n@data\n1\n", 1, None, "bad @seriesLength"),
    ("@classLabel true\n@data\n1:a\n", 1, None, "without the class names"),
    ("@problemName x\n1,2,3\n", 2, None, "data before the @data line"),
    ("@problemName x\n", None, None, "no @data line"),
])
def test_header_errors_name_file_and_line(tmp_path, text, line, column, match):
    path = write(tmp_path, text)
    with pytest.raises(SequenceDataError, match=match) as info:
        TSFileReader(path)
    assert info.value.source == path and info.value.row == line


@pytest.mark.parametrize("text, line, column, match", [
    ("@dimensions 2\n@data\n1,2:3,4\n5,6\n", 4, None, "wrong number of dimensions"),
    ("@data\n1,2:3,4\n5,6:7\n", 3, "dim_1", "dimensions of one series differ"),
    ("@equalLength true\n@data\n1,2\n3\n", 4, None, "different lengths under @equalLength"),
    ("@seriesLength 2\n@data\n1,2\n3,4,5\n", 4, None, "differs from @seriesLength"),
    ("@data\n1,2:\n", 2, "dim_1", "empty series"),
    ("@data\n1,2\n3,x\n", 3, "dim_0", "not a number"),
    ("@data\n1,2\n3,,4\n", 3, "dim_0", "not a number"),
    ("@data\n1,nan\n", 2, "dim_0", "missing value at step 2"),
    ("@classLabel true a b\n@data\n1,2:c\n", 3, "class", "unknown class label"),
    ("@classLabel true a b\n@data\n1,2\n", 3, "class", "no label after the values"),
    ("@targetLabel true\n@data\n1,2:big\n", 3, "target", "non-numeric value"),
    ("@data\n# only a comment\n", 1, None, "no series after @data"),
])
def test_data_errors_name_file_line_and_dimension(tmp_path, text, line, column, match):
    path = write(tmp_path, text)
    with pytest.raises(SequenceDataError, match=match) as info:
        list(TSFileReader(path).chunks())
    assert info.value.source == path and info.value.row == line and info.value.column == column


def test_missing_file():
    with pytest.raises(FileNotFoundError):
        TSFileReader("/no/such/file.ts")


def test_rows_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="rows"):
        list(TSFileReader(write(tmp_path, UNIVARIATE_EQUAL)).chunks(rows=0))


def test_chunks_of_rows(tmp_path):
    r = TSFileReader(write(tmp_path, MULTIVARIATE_UNEQUAL))
    assert [len(c) for c in r.chunks(rows=2)] == [2, 1]
