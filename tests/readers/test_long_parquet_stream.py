"""Long Parquet tables are streamed in blocks (two passes) and give what reading them whole gives.

The reference is a plain loop over the rows (`_reference`); the streamed
reader runs with tiny read blocks and row groups so that ids are split across
blocks, row groups and files, and interleaved.
"""

import os
import tempfile

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import readers
from readers import SequenceDataError
from readers._long_stream import rank_ids, stream_groups


def _reference(ids, order, values):
    """{id: [T, C] steps} in first-appearance order, each id's rows sorted by order (stable)."""
    rows = {}
    for r, key in enumerate(ids):
        rows.setdefault(key, []).append(r)
    out = {}
    for key, index in rows.items():
        if order is not None:
            index = sorted(index, key=lambda r: order[r])
        out[str(key)] = (np.array([values[r] for r in index]), index)
    return out


def _write(folder, ids, order, values, row_group_size, files=1) -> list:
    """The rows split into `files` Parquet files (in order), row groups of `row_group_size`."""
    table = pa.table({"id": ids, "x": values[:, 0], "y": values[:, 1],
                      **({"t": order} if order is not None else {})})
    cuts = np.linspace(0, len(ids), files + 1).astype(int)
    paths = []
    for k in range(files):
        path = os.path.join(folder, f"part{k}.parquet")
        pq.write_table(table.slice(cuts[k], cuts[k + 1] - cuts[k]), path, row_group_size=row_group_size)
        paths.append(path)
    return paths


def _check(paths, ids, order, values, *, block):
    reader = readers.ParquetSequenceReader(paths, id_column="id",
                                           order_column="t" if order is not None else None)
    want = _reference(ids, order, values)
    file_rows = np.cumsum([0] + [pq.ParquetFile(p).metadata.num_rows for p in paths])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(readers._parquet_reader, "_LONG_READ_ROWS", block)
        chunks = list(reader.chunks())
        records = list(reader)
    assert [r.key for r in records] == list(want) and len(reader) == len(want)
    assert sum(len(c) for c in chunks) == len(want)
    for record in records:
        steps, rows = want[record.key]
        np.testing.assert_array_equal(record.values, steps)
        for t in (0, len(steps) - 1):                         # where each step came from
            j = int(np.searchsorted(file_rows, rows[t], side="right")) - 1
            assert record.locate(t) == (paths[j], rows[t] - int(file_rows[j]) + 1)
    return chunks


def test_streamed_long_table_equals_reading_it_whole(tmp_path):
    # a: 12 rows across row groups and blocks, t descending; b and c interleaved;
    # d, e grouped; a comes back at the very end, so it is open the whole time.
    ids = ["a"] * 11 + ["b", "c"] * 6 + ["d"] * 4 + ["e"] * 3 + ["a"]
    rng = np.random.default_rng(0)
    order = np.concatenate([np.arange(11, 0, -1), np.repeat(np.arange(6), 2), np.arange(4),
                            np.arange(3), [0]]).astype(np.int64)
    values = rng.normal(size=(len(ids), 2))
    (tmp_path / "whole").mkdir()
    whole = _write(str(tmp_path / "whole"), ids, order, values, None)
    many = _write(str(tmp_path), ids, order, values, row_group_size=5, files=2)
    streamed = _check(many, ids, order, values, block=3)
    assert len(_check(whole, ids, order, values, block=1 << 16)) == 1    # one block: one chunk
    assert len(streamed) == 1                     # a is open until the last row: all wait for it
    ids[-1] = "f"                                 # now a closes at row 11: chunks stream out
    streamed = _check(_write(str(tmp_path), ids, order, values, 5, files=2), ids, order, values,
                      block=3)
    assert len(streamed) > 2


def test_grouped_ids_stream_with_bounded_chunks(tmp_path):
    rng = np.random.default_rng(1)
    lengths = rng.integers(1, 9, size=60)
    ids = np.repeat(np.arange(60) * 7 % 60, lengths)         # grouped, ids not sorted
    values = rng.normal(size=(len(ids), 2))
    paths = _write(str(tmp_path), ids, None, values, row_group_size=16)
    chunks = _check(paths, ids, None, values, block=10)
    # Each chunk holds at most the rows read since the last one plus one sequence.
    assert len(chunks) > 10
    assert max(int(c.offsets[-1]) for c in chunks) <= 10 + int(lengths.max())


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_streaming_matches_the_plain_reference(data):
    n = data.draw(st.integers(1, 8))
    lengths = data.draw(st.lists(st.integers(1, 6), min_size=n, max_size=n))
    ids = np.repeat(np.arange(n), lengths)
    window = data.draw(st.integers(1, len(ids)))             # 1: grouped; len(ids): any interleaving
    seed = data.draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    perm = np.concatenate([rng.permutation(np.arange(a, min(a + window, len(ids))))
                           for a in range(0, len(ids), window)])
    ids = ids[perm] * 3 + 100
    with_order = data.draw(st.booleans())
    order = rng.permutation(len(ids)).astype(np.int64) if with_order else None
    values = rng.normal(size=(len(ids), 2))
    with tempfile.TemporaryDirectory() as folder:
        paths = _write(folder, ids, order, values, row_group_size=data.draw(st.integers(1, 7)),
                       files=data.draw(st.integers(1, min(3, len(ids)))))
        _check(paths, ids, order, values, block=data.draw(st.integers(1, 9)))


def test_integer_order_column_is_sorted_as_integers(tmp_path):
    big = 2**53                                          # big and big + 1 are one float64
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"id": [1, 1, 1], "t": [big + 1, big, 5], "v": [3.0, 2.0, 1.0]}), path)
    (record,) = readers.ParquetSequenceReader(path, id_column="id", order_column="t")
    np.testing.assert_array_equal(record.values[:, 0], [1, 2, 3])


def test_errors_name_the_file_and_row_across_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(readers._parquet_reader, "_LONG_READ_ROWS", 2)
    first, second = tmp_path / "p1.parquet", tmp_path / "p2.parquet"
    pq.write_table(pa.table({"id": ["a", "a", "b"], "t": [0, 1, 0], "v": [1.0, 2.0, 3.0]}), first,
                   row_group_size=2)

    def read(ids, t):
        pq.write_table(pa.table({"id": ids, "t": pa.array(t, pa.int64()), "v": [1.0] * len(ids)}),
                       second, row_group_size=2)
        return list(readers.ParquetSequenceReader([first, second], id_column="id", order_column="t"))

    with pytest.raises(SequenceDataError, match="missing id") as info:
        read(["b", "c", None], [1, 0, 0])
    assert (info.value.source, info.value.row, info.value.column) == (str(second), 3, "id")
    with pytest.raises(SequenceDataError, match=r"repeats within id 'a' \(first at .*p1.parquet, row 2\)") \
            as info:
        read(["c", "a", "a"], [0, 1, 7])
    assert (info.value.source, info.value.row) == (str(second), 2)
    with pytest.raises(SequenceDataError, match="order value is missing") as info:
        read(["b", "c", "c"], [1, 0, None])
    assert (info.value.source, info.value.row, info.value.column) == (str(second), 3, "t")
    pq.write_table(pa.table({"id": ["a"], "t": ["x"], "v": [1.0]}), second)
    with pytest.raises(SequenceDataError, match="order column holds text"):
        list(readers.ParquetSequenceReader(second, id_column="id", order_column="t"))


def test_empty_long_table_is_an_error(tmp_path):
    path = tmp_path / "e.parquet"
    pq.write_table(pa.table({"id": pa.array([], pa.string()), "v": pa.array([], pa.float64())}), path)
    with pytest.raises(SequenceDataError, match="no rows in the long table"):
        list(readers.ParquetSequenceReader(path, id_column="id"))


def test_blocks_that_differ_from_the_first_pass_are_an_error():
    ids = pa.array(["a", "b", "a"])
    ranks = rank_ids([(ids, lambda r: ("f", r + 1))], "id")
    assert ranks.names.to_pylist() == ["a", "b"] and ranks.ready.tolist() == [2, 2]
    values = [np.arange(3.0)]
    with pytest.raises(RuntimeError, match="changed between its two reading passes"):
        list(stream_groups([(values, pa.array(["a", "a", "a"]), None)], ranks, columns=("v",),
                           locate_row=lambda g: ("f", g + 1)))
    with pytest.raises(RuntimeError, match="changed between its two reading passes"):
        list(stream_groups([(values, ids, None)] * 2, ranks, columns=("v",),
                           locate_row=lambda g: ("f", g + 1)))
