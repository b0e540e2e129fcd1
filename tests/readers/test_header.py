"""detect_header and CSVSequenceReader's header detection: missing values are data, headers never are."""

import numpy as np
import pytest
from seqdata import write_numbered

import readers
from readers import SequenceDataError


@pytest.mark.parametrize("text, header", [
    ("x,y\n1,2\n", True),
    ("id,t,label\na,0,up\n", True),                 # the second line holds a number
    ("NA,NA\n1,2\n", False),                         # missing values are data
    ("nan,NULL\n1,2\n", False),
    (" n/a ,#N/A\n1,2\n", False),
    (",\n1,2\n", False),                             # empty cells
    ("x,\n1,2\n", False),
    ("1,2\n3,4\n", False),
    ("x,y\n", False),                                # one line: it is the one step
    ("x,y\na,b\n", False),                           # no number to tell a header from text data
    ("x,y,z\n1,2\n", False),                         # widths differ
    ("up\ndown\n", False),
    ("\ufeffx,y\r\n1,2\r\n", True),                  # a byte-order mark, CRLF
    ('"a, b",c\n1,2\n', True),                       # quoted
])
def test_detect_header_rule(tmp_path, text, header):
    path = tmp_path / "d.csv"
    path.write_text(text, encoding="utf-8")
    assert readers.detect_header(path) is header
    assert readers.detect_header([path]) is header and readers.detect_header(str(tmp_path)) is header


def test_names_settle_files_without_numbers(tmp_path):
    path = tmp_path / "l.csv"
    path.write_text("id,label\na,up\nb,down\n")
    assert not readers.detect_header(path)
    assert readers.detect_header(path, names=["id"])
    assert not readers.detect_header(path, names=["id", "other"])
    path.write_text("NA,label\na,up\n")
    assert not readers.detect_header(path, names=["label"])           # a missing value is never a name
    (tmp_path / "s.tsv").write_text("a\tb\n1\t2\n")
    assert readers.detect_header(tmp_path / "s.tsv", delimiter="\t")
    assert not readers.detect_header(tmp_path / "s.tsv")


def test_detect_header_of_numbered_files_reads_only_the_first(tmp_path):
    files = write_numbered(tmp_path / "f", [np.ones((2, 2))], header=["a", "b"])
    huge = readers.NumberedFiles(files.pattern, 0, 10**9)
    assert readers.detect_header(huge)


def test_detect_header_errors(tmp_path):
    with pytest.raises(SequenceDataError, match=r"nope\.csv: missing file"):
        readers.detect_header(tmp_path / "nope.csv")
    (tmp_path / "b.csv").write_bytes(b"\0" * 1000)
    with pytest.raises(SequenceDataError, match=r"b\.csv, row 1: NUL byte"):
        readers.detect_header(tmp_path / "b.csv")
    (tmp_path / "long.csv").write_text('"' + "x" * 300_000 + "\n")
    with pytest.raises(SequenceDataError, match=r"long\.csv, row 1: not CSV text .*field larger than field limit"):
        readers.detect_header(tmp_path / "long.csv")


def test_reader_detects_a_header_when_skip_lines_is_left_out(tmp_path):
    (tmp_path / "steps.csv").write_text("id,t,x\nb,1,20\na,0,1\nb,0,10\na,1,2\n")
    reader = readers.CSVSequenceReader(tmp_path / "steps.csv", id_column="id", order_column="t")
    assert reader.columns == ("x",)
    assert [(r.key, r.values[:, 0].tolist()) for r in reader] == [("b", [10, 20]), ("a", [1, 2])]
    assert list(reader)[0].locate(0) == (str(tmp_path / "steps.csv"), 4)     # file rows count the header
    (tmp_path / "na.csv").write_text("NA,NA\n1,2\n")
    (record,) = readers.CSVSequenceReader(tmp_path / "na.csv")
    np.testing.assert_array_equal(record.values, [[np.nan, np.nan], [1, 2]])
    assert record.columns == ("0", "1")
    files = write_numbered(tmp_path / "f", [np.ones((2, 2)), np.zeros((1, 2))], header=["a", "b"])
    assert [len(r) for r in readers.CSVSequenceReader(files)] == [2, 1]
    assert readers.CSVSequenceReader(files).columns == ("a", "b")
    assert repr(readers.CSVSequenceReader(files, skip_lines=1)).endswith("skip_lines=1)")


def test_explicit_skip_lines_is_kept_and_a_header_read_as_data_is_named(tmp_path):
    (tmp_path / "h.csv").write_text("x,y\n1,2\n")
    with pytest.raises(SequenceDataError, match=r"h\.csv, row 1, column '0': non-numeric value .*found 'x'\); "
                                                r"the first line looks like a header: leave skip_lines out"):
        list(readers.CSVSequenceReader(tmp_path / "h.csv", skip_lines=0))
    with pytest.raises(SequenceDataError, match=r"column 'x': id_column not found .*; the first line looks like"):
        _ = readers.CSVSequenceReader(tmp_path / "h.csv", skip_lines=0, id_column="x").columns
    (tmp_path / "g.csv").write_text("1,2\nx,y\n")
    with pytest.raises(SequenceDataError, match=r"g\.csv, row 2, column '0': non-numeric value .*found 'x'\); "
                                                r"text class labels need"):
        list(readers.CSVSequenceReader(tmp_path / "g.csv"))
    for bad in (-1, 1.5, True, "1"):
        with pytest.raises(ValueError, match="skip_lines must be a non-negative int, or None"):
            readers.CSVSequenceReader(tmp_path / "h.csv", skip_lines=bad)
