"""write_parquet is atomic: a failure part-way leaves an existing destination as it was."""

import os

import numpy as np
import pytest

import readers
from readers import SequenceDataError


class Breaking(readers.SequenceReader):
    """`good` sequences, then an exception from the reader itself (or a bad record)."""

    def __init__(self, good, error=None):
        self.good, self.error = good, error

    def records(self):
        for i in range(self.good):
            yield np.full((2, 1), float(i)), ["x"], f"s{i}"
        if self.error is None:
            yield np.ones((0, 1)), ["x"], "broken"                  # an empty sequence: SequenceDataError
        else:
            raise self.error


@pytest.mark.parametrize("error, raised", [(None, SequenceDataError), (OSError("disk full"), OSError),
                                           (KeyboardInterrupt(), KeyboardInterrupt)])
def test_a_failure_part_way_leaves_the_destination_untouched(tmp_path, error, raised):
    target = tmp_path / "out.parquet"
    readers.write_parquet(_Good(2), target)
    before = target.read_bytes()
    with pytest.raises(raised):
        # row_group_size=1 and 600 good sequences: several row groups are written before the failure.
        readers.write_parquet(Breaking(600, error), target, row_group_size=1)
    assert target.read_bytes() == before
    assert os.listdir(tmp_path) == ["out.parquet"]                   # the temporary file is gone
    assert [r.key for r in readers.ParquetSequenceReader(target)] == ["s0", "s1"]


def test_a_failure_with_no_destination_leaves_nothing(tmp_path):
    with pytest.raises(SequenceDataError, match="broken: empty sequence"):
        readers.write_parquet(Breaking(600), tmp_path / "new.parquet", row_group_size=1)
    assert os.listdir(tmp_path) == []


def test_progress_raising_stops_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "out.parquet"
    target.write_bytes(b"old")

    def progress(n):
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError, match="stop"):
        readers.write_parquet(_Good(3), target, progress=progress)
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["out.parquet"]


def test_success_replaces_the_destination_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "out.parquet"
    target.write_bytes(b"old")
    assert readers.write_parquet(_Good(3), target) == 3
    assert os.listdir(tmp_path) == ["out.parquet"]
    assert [r.key for r in readers.ParquetSequenceReader(target)] == ["s0", "s1", "s2"]
    assert readers.write_parquet(_Good(1), str(target)) == 1          # a str path, over a Parquet file
    assert len(readers.ParquetSequenceReader(target)) == 1


class _Good(readers.SequenceReader):
    def __init__(self, n):
        self.n = n

    def records(self):
        for i in range(self.n):
            yield np.full((2, 1), float(i)), ["x"], f"s{i}"
