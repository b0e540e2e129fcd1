"""NumberedFiles patterns and source resolution (directories, globs, lists)."""

import numpy as np
import pytest

import readers
from readers import resolve_paths
from seqdata import write_csv


@pytest.mark.parametrize("pattern, start, end, expected", [
    ("data/%d.csv", 0, 2, ["data/0.csv", "data/1.csv", "data/2.csv"]),
    ("data/%07d.csv", 8, 9, ["data/0000008.csv", "data/0000009.csv"]),
    ("%03d", 99, 101, ["099", "100", "101"]),
    ("%d", 5, 5, ["5"]),
    ("x_{}.txt", 1, 2, ["x_1.txt", "x_2.txt"]),
])
def test_numbered_files_valid(pattern, start, end, expected):
    files = readers.NumberedFiles(pattern, start, end)
    assert list(files) == expected
    assert len(files) == end - start + 1          # both bounds inclusive
    assert files[0] == expected[0] and files[-1] == expected[-1]
    assert files[:2] == expected[:2]


@pytest.mark.parametrize("pattern", [
    "data/%5d.csv", "%+5d", "%-5d", "%011d", "%101d", "%0505d", "%00d", "%s.csv",
    "no_placeholder.csv", "%d_%d.csv", "{}_{}.csv", "%d_{}.csv", "50%_%d.csv", "{0}.csv", "{:03d}",
])
def test_numbered_files_invalid_pattern(pattern):
    with pytest.raises(ValueError, match="pattern"):
        readers.NumberedFiles(pattern, 0, 1)


@pytest.mark.parametrize("start, end", [(2, 1), (-1, 3), (0.0, 2), (True, 2)])
def test_numbered_files_invalid_range(start, end):
    with pytest.raises(ValueError):
        readers.NumberedFiles("%d.csv", start, end)


def test_numbered_files_index_errors():
    files = readers.NumberedFiles("%d", 0, 1)
    with pytest.raises(IndexError):
        files[2]
    assert "NumberedFiles('%d', 0, 1)" == repr(files)


def test_missing_numbered_file_names_the_path(tmp_path):
    write_csv(tmp_path / "0.csv", [[1.0]])
    reader = readers.CSVSequenceReader(readers.NumberedFiles(str(tmp_path / "%d.csv"), 0, 1))
    with pytest.raises(readers.SequenceDataError, match=r"1\.csv.*missing file") as info:
        list(reader)
    assert info.value.source == str(tmp_path / "1.csv")
    assert isinstance(info.value, ValueError)


def test_directory_natural_order_and_hidden_files(tmp_path):
    for i in (10, 2, 1):
        write_csv(tmp_path / f"{i}.csv", [[i]])
    (tmp_path / ".hidden").write_text("x\n")
    (tmp_path / "_meta").write_text("x\n")
    (tmp_path / "sub").mkdir()
    keys = [r.key for r in readers.CSVSequenceReader(tmp_path)]
    assert keys == [str(tmp_path / f"{i}.csv") for i in (1, 2, 10)]


def test_glob_and_list_sources(tmp_path):
    for i in range(3):
        write_csv(tmp_path / f"s{i}.csv", [[i, i]])
    write_csv(tmp_path / "other.txt", [[9, 9]])
    by_glob = readers.CSVSequenceReader(str(tmp_path / "s*.csv"))
    assert [r.values[0, 0] for r in by_glob] == [0, 1, 2]
    listed = [tmp_path / "s2.csv", tmp_path / "s0.csv"]
    assert [r.values[0, 0] for r in readers.CSVSequenceReader(listed)] == [2, 0]


def test_empty_sources_are_errors(tmp_path):
    with pytest.raises(readers.SequenceDataError, match="no file"):
        resolve_paths(str(tmp_path / "*.csv"))
    with pytest.raises(readers.SequenceDataError, match="no data files"):
        resolve_paths(tmp_path)
    with pytest.raises(readers.SequenceDataError):
        resolve_paths([])
    with pytest.raises(TypeError):
        resolve_paths(3)


def test_reader_len_and_reiteration(tmp_path):
    files = readers.NumberedFiles(str(tmp_path / "%d.csv"), 0, 2)
    for i in range(3):
        write_csv(tmp_path / f"{i}.csv", [[i], [i + 1]])
    reader = readers.CSVSequenceReader(files)
    assert len(reader) == 3
    first = [r.values.copy() for r in reader]
    write_csv(tmp_path / "1.csv", [[7]])                 # each iteration reads again
    second = [r.values for r in reader]
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(second[1], [[7]])


def test_resolve_paths_is_public_and_gives_the_reading_order(tmp_path):
    assert "resolve_paths" in readers.__all__
    for i in (10, 2, 1):
        write_csv(tmp_path / f"{i}.csv", [[i]])
    (tmp_path / "_meta").write_text("x\n")
    want = [str(tmp_path / f"{i}.csv") for i in (1, 2, 10)]
    assert resolve_paths(tmp_path) == want                          # a directory
    assert resolve_paths(str(tmp_path / "*.csv")) == want           # a glob
    assert [r.key for r in readers.CSVSequenceReader(tmp_path)] == want
    numbered = readers.NumberedFiles(str(tmp_path / "%d.csv"), 1, 2)
    assert resolve_paths(numbered) == want[:2]
    # a list, a NumberedFiles or one path is returned as named: existence is the reader's check
    assert resolve_paths([tmp_path / "missing.csv"]) == [str(tmp_path / "missing.csv")]
    assert resolve_paths(tmp_path / "missing.csv") == [str(tmp_path / "missing.csv")]


def test_numbered_files_give_back_the_number_of_a_path(tmp_path):
    files = readers.NumberedFiles(str(tmp_path / "f_%03d.csv"), 0, 10**9)       # paths built lazily
    assert files.number(files[7]) == 7 and files.number(files.path(123456)) == 123456
    assert readers.NumberedFiles("{}.csv", 5, 9).number("12.csv") == 12
    for bad in ("f_007.txt", str(tmp_path / "f_x.csv"), str(tmp_path / "g_007.csv")):
        with pytest.raises(ValueError, match="is not a path of NumberedFiles"):
            files.number(bad)
