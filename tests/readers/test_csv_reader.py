"""CSVSequenceReader: both layouts, columns, quoting, the fast multi-file parse, errors."""

import numpy as np
import pytest

import readers
from readers import SequenceDataError
from seqdata import first_appearance, long_rows, write_csv, write_long_csv, write_numbered


def test_header_names_and_positional_names(tmp_path):
    files = write_numbered(tmp_path / "h", [[[1, 2], [3, 4]]], header=["a", "b"])
    assert readers.CSVSequenceReader(files, skip_lines=1).columns == ("a", "b")
    plain = write_numbered(tmp_path / "p", [[[1, 2]]])
    assert readers.CSVSequenceReader(plain).columns == ("0", "1")
    # A skipped line that does not match the rows' width is not a header.
    write_csv(tmp_path / "c.csv", [[1, 2]], extra_lines=["# a comment"])
    assert readers.CSVSequenceReader([tmp_path / "c.csv"], skip_lines=1).columns == ("0", "1")


def test_columns_select_and_order_by_name_or_position(tmp_path):
    files = write_numbered(tmp_path / "f", [[[1, 2, 3], [4, 5, 6]]], header=["a", "b", "c"])
    reader = readers.CSVSequenceReader(files, skip_lines=1, columns=["c", 0])
    (record,) = reader
    assert record.columns == ("c", "a")
    np.testing.assert_array_equal(record.values, [[3, 1], [6, 4]])
    assert record.values.dtype == np.float64 and record.values.shape == (2, 2)
    (last,) = readers.CSVSequenceReader(files, skip_lines=1, columns=[-1])
    np.testing.assert_array_equal(last.values, [[3], [6]])


def test_column_selection_errors(tmp_path):
    files = write_numbered(tmp_path / "f", [[[1, 2]]], header=["a", "b"])
    with pytest.raises(SequenceDataError, match="not found") as info:
        _ = readers.CSVSequenceReader(files, skip_lines=1, columns=["zzz"]).columns
    assert info.value.source == files[0] and info.value.row == 1
    with pytest.raises(SequenceDataError, match="out of range"):
        _ = readers.CSVSequenceReader(files, skip_lines=1, columns=[5]).columns
    with pytest.raises(ValueError, match="twice"):
        _ = readers.CSVSequenceReader(files, skip_lines=1, columns=["a", 0]).columns
    with pytest.raises(ValueError, match="id or order"):
        _ = readers.CSVSequenceReader(files, skip_lines=1, id_column="a", columns=["a"]).columns


@pytest.mark.parametrize("bad", [dict(skip_lines=-1), dict(delimiter=";;"), dict(delimiter='"'),
                                 dict(order_column="t")])
def test_invalid_arguments(tmp_path, bad):
    with pytest.raises(ValueError):
        readers.CSVSequenceReader([tmp_path / "x.csv"], **bad)


def test_quoted_fields_tabs_crlf_and_bom(tmp_path):
    (tmp_path / "q.csv").write_bytes(b'\xef\xbb\xbf"x","y"\r\n"1.5",2\r\n3,"4e1"\r\n')
    (record,) = readers.CSVSequenceReader([tmp_path / "q.csv"], skip_lines=1)
    assert record.columns == ("x", "y")
    np.testing.assert_array_equal(record.values, [[1.5, 2], [3, 40]])
    (tmp_path / "t.tsv").write_text("1\t2\n 3 \t4\n")
    (tab,) = readers.CSVSequenceReader([tmp_path / "t.tsv"], delimiter="\t")
    np.testing.assert_array_equal(tab.values, [[1, 2], [3, 4]])


def test_quoted_text_labels_with_delimiters(tmp_path):
    (tmp_path / "0.csv").write_text('label,v\n"up, fast",1\ndown,2\n')
    reader = readers.CSVSequenceReader([tmp_path / "0.csv"], skip_lines=1)
    (batch,) = readers.SequenceBatches(reader, batch_size=1, label_column="label",
                                       classes=["down", "up, fast"])
    np.testing.assert_array_equal(batch.labels[0].argmax(axis=0), [1, 0])


def test_empty_fields_and_nan_read_as_nan(tmp_path):
    (tmp_path / "n.csv").write_text("1,\nNaN,2\n")
    (record,) = readers.CSVSequenceReader([tmp_path / "n.csv"])
    assert np.isnan(record.values[0, 1]) and np.isnan(record.values[1, 0])


def test_locate_names_file_and_row(tmp_path):
    files = write_numbered(tmp_path / "f", [[[1], [2], [3]]], header=["v"])
    (record,) = readers.CSVSequenceReader(files, skip_lines=1)
    assert record.locate(2) == (files[0], 4)


def test_many_files_are_parsed_in_groups(tmp_path, monkeypatch):
    monkeypatch.setattr(readers._csv_files, "GROUP_BYTES", 200)
    rng = np.random.default_rng(1)
    seqs = [rng.integers(0, 100, size=(int(rng.integers(1, 9)), 3)) for _ in range(40)]
    files = write_numbered(tmp_path / "f", seqs, header=["a", "b", "c"])
    records = list(readers.CSVSequenceReader(files, skip_lines=1))
    assert [r.key for r in records] == list(files)
    for record, seq in zip(records, seqs):
        np.testing.assert_array_equal(record.values, seq)


def test_big_file_is_parsed_from_disk(tmp_path, monkeypatch):
    monkeypatch.setattr(readers._csv_files, "GROUP_BYTES", 64)
    rows = np.arange(300, dtype=float).reshape(100, 3)
    write_csv(tmp_path / "big.csv", rows, header=["a", "b", "c"])
    write_csv(tmp_path / "small.csv", rows[:2], header=["a", "b", "c"])
    records = list(readers.CSVSequenceReader([tmp_path / "small.csv", tmp_path / "big.csv"],
                                             skip_lines=1))
    np.testing.assert_array_equal(records[1].values, rows)
    np.testing.assert_array_equal(records[0].values, rows[:2])


# ---- long tables ---------------------------------------------------------------------------

def test_long_table_groups_by_first_appearance_and_sorts_by_order(tmp_path):
    rng = np.random.default_rng(0)
    seqs = [rng.integers(0, 50, size=(n, 2)) for n in (3, 1, 4)]
    ids = ["b", "c", "a"]
    rows = long_rows(seqs, ids, rng)
    write_csv(tmp_path / "long.csv", [(r[0], str(r[1]), *r[2:]) for r in rows], ["id", "t", "x", "y"])
    reader = readers.CSVSequenceReader(tmp_path / "long.csv", skip_lines=1, id_column="id",
                                       order_column="t")
    with pytest.raises(TypeError):
        len(reader)                                      # unknown before the first read
    records = list(reader)
    assert len(reader) == 3
    order = first_appearance(rows)
    assert [r.key for r in records] == order
    for record in records:
        assert record.columns == ("x", "y")
        np.testing.assert_array_equal(record.values, seqs[ids.index(record.key)])


def test_long_table_without_order_keeps_file_order(tmp_path):
    write_csv(tmp_path / "l.csv", [["7", 1], ["3", 2], ["7", 3], ["3", 4]], ["id", "v"])
    records = list(readers.CSVSequenceReader(tmp_path / "l.csv", skip_lines=1, id_column=0))
    assert [r.key for r in records] == ["7", "3"]
    np.testing.assert_array_equal(records[0].values[:, 0], [1, 3])
    assert records[1].locate(1) == (str(tmp_path / "l.csv"), 5)


def test_many_csv_files_form_one_long_table(tmp_path, monkeypatch):
    monkeypatch.setattr(readers._csv_files, "GROUP_BYTES", 40)
    write_csv(tmp_path / "part1.csv", [["a", 0, 1.0], ["b", 0, 2.0]], ["id", "t", "v"])
    write_csv(tmp_path / "part2.csv", [["a", 1, 3.0], ["c", 0, 4.0], ["b", 1, 5.0]], ["id", "t", "v"])
    reader = readers.CSVSequenceReader(str(tmp_path / "part*.csv"), skip_lines=1, id_column="id",
                                       order_column="t")
    records = {r.key: r for r in reader}
    assert list(records) == ["a", "b", "c"]
    np.testing.assert_array_equal(records["a"].values[:, 0], [1, 3])
    np.testing.assert_array_equal(records["b"].values[:, 0], [2, 5])
    assert records["b"].locate(1) == (str(tmp_path / "part2.csv"), 4)


def test_long_table_errors_name_file_and_row(tmp_path):
    path = write_csv(tmp_path / "d.csv", [["a", 1, 0], ["a", 2, 0], ["a", 1, 0]], ["id", "t", "v"])
    with pytest.raises(SequenceDataError, match=r"d\.csv, row 4, column 't'.*repeats") as info:
        list(readers.CSVSequenceReader(path, skip_lines=1, id_column="id", order_column="t"))
    assert info.value.row == 4
    path = write_csv(tmp_path / "e.csv", [["a", 1, 0], ["", 2, 0]], ["id", "t", "v"])
    with pytest.raises(SequenceDataError, match=r"row 3, column 'id'.*missing id"):
        list(readers.CSVSequenceReader(path, skip_lines=1, id_column="id"))
    path = write_csv(tmp_path / "o.csv", [["a", "", 0]], ["id", "t", "v"])
    with pytest.raises(SequenceDataError, match=r"row 2, column 't'.*order value"):
        list(readers.CSVSequenceReader(path, skip_lines=1, id_column="id", order_column="t"))


def test_long_table_with_text_label_column(tmp_path):
    write_long_csv(tmp_path / "l.csv", [[[1.0, 0], [2.0, 0]]], ["s"], ["v", "w"])
    reader = readers.CSVSequenceReader(tmp_path / "l.csv", skip_lines=1, id_column="id",
                                       order_column="t", columns=["w", "v"])
    assert [r.key for r in reader] == ["s"] and reader.columns == ("w", "v")


# ---- errors -------------------------------------------------------------------------------

def _forty_files(tmp_path, bad_index, bad_text):
    files = write_numbered(tmp_path / "f", [np.full((3, 2), i) for i in range(40)], header=["a", "b"])
    lines = open(files[bad_index]).read().splitlines()
    lines[2] = bad_text                                   # the file's row 3
    (tmp_path / "f" / f"{bad_index}.csv").write_text("\n".join(lines) + "\n")
    return files


@pytest.mark.parametrize("bad_text, message, column", [
    ("1,2,3", "wrong number of columns", "b"),
    ("1", "wrong number of columns", "b"),
    ("1,abc", "non-numeric value", "b"),
    ("1_0,2", "non-numeric value", "a"),
])
def test_row_errors_name_file_row_and_column(tmp_path, bad_text, message, column):
    files = _forty_files(tmp_path, 37, bad_text)
    with pytest.raises(SequenceDataError, match=message) as info:
        list(readers.CSVSequenceReader(files, skip_lines=1))
    err = info.value
    assert (err.source, err.row, err.column) == (files[37], 3, column)
    assert files[37] in str(err) and "row 3" in str(err) and "expected" in str(err)


def test_blank_line_is_an_error_but_a_final_newline_is_not(tmp_path):
    (tmp_path / "ok.csv").write_text("1,2\n3,4\n")
    assert len(next(iter(readers.CSVSequenceReader([tmp_path / "ok.csv"])))) == 2
    (tmp_path / "0.csv").write_text("h\n1\n2\n\n3\n")
    with pytest.raises(SequenceDataError, match=r"0\.csv, row 4: blank line"):
        list(readers.CSVSequenceReader([tmp_path / "0.csv"], skip_lines=1))
    (tmp_path / "1.csv").write_text("1,2\n3,4\n\n")
    with pytest.raises(SequenceDataError, match=r"row 3: blank line"):
        list(readers.CSVSequenceReader([tmp_path / "1.csv"]))


def test_empty_sequence(tmp_path):
    write_csv(tmp_path / "0.csv", [[1, 2]], ["a", "b"])
    write_csv(tmp_path / "1.csv", [], ["a", "b"])
    with pytest.raises(SequenceDataError, match=r"1\.csv, row 2: empty sequence"):
        list(readers.CSVSequenceReader(readers.NumberedFiles(str(tmp_path / "%d.csv"), 0, 1),
                                       skip_lines=1))


def test_feature_count_differs_between_files(tmp_path):
    write_csv(tmp_path / "0.csv", [[1, 2], [3, 4]])
    write_csv(tmp_path / "1.csv", [[1, 2, 3], [4, 5, 6]])
    with pytest.raises(SequenceDataError, match=r"1\.csv, row 1.*feature count differs") as info:
        list(readers.CSVSequenceReader(readers.NumberedFiles(str(tmp_path / "%d.csv"), 0, 1)))
    assert "expected 2 columns" in str(info.value) and "found 3 columns" in str(info.value)


def test_header_differs_between_files(tmp_path):
    write_csv(tmp_path / "0.csv", [[1, 2]], ["a", "b"])
    write_csv(tmp_path / "1.csv", [[1, 2]], ["b", "a"])
    with pytest.raises(SequenceDataError, match=r"1\.csv, row 1: header differs"):
        list(readers.CSVSequenceReader(readers.NumberedFiles(str(tmp_path / "%d.csv"), 0, 1),
                                       skip_lines=1))


def test_unknown_text_label(tmp_path):
    write_csv(tmp_path / "0.csv", [["up", 1], ["sideways", 2]], ["label", "v"])
    reader = readers.CSVSequenceReader([tmp_path / "0.csv"], skip_lines=1)
    batches = readers.SequenceBatches(reader, batch_size=1, label_column=0, classes=["up", "down"])
    with pytest.raises(SequenceDataError, match=r"0\.csv, row 3, column 'label': unknown class"):
        list(batches)


def test_quoted_newlines_fall_back_to_file_by_file_parsing(tmp_path):
    (tmp_path / "0.csv").write_text('label,v\n"two\nlines",1\nz,2\n')
    (tmp_path / "1.csv").write_text('label,v\nz,3\n')
    reader = readers.CSVSequenceReader(readers.NumberedFiles(str(tmp_path / "%d.csv"), 0, 1),
                                       skip_lines=1)
    batches = readers.SequenceBatches(reader, batch_size=2, label_column="label",
                                      classes=["z", "two\nlines"], align="align_start")
    (batch,) = batches
    np.testing.assert_array_equal(batch.features[:, 0, :], [[1, 2], [3, 0]])
    np.testing.assert_array_equal(batch.labels[0].argmax(axis=0), [1, 0])
