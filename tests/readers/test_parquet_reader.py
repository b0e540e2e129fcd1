"""ParquetSequenceReader (nested and long layouts), partitioned data sets, write_parquet."""

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from seqdata import first_appearance, long_rows, write_long_parquet, write_nested_parquet, write_numbered

import readers
from readers import SequenceDataError


def test_nested_list_columns(tmp_path):
    seqs = [np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[5.0, 6.0]])]
    path = write_nested_parquet(tmp_path / "n.parquet", seqs, ["x", "y"])
    reader = readers.ParquetSequenceReader(path)
    assert len(reader) == 2 and reader.columns == ("x", "y")
    records = list(reader)
    for record, seq in zip(records, seqs):
        np.testing.assert_array_equal(record.values, seq)
        assert record.values.dtype == np.float64
    assert [r.key for r in records] == [f"{path}#1", f"{path}#2"]
    assert records[1].locate(0) == (path, 2)


def test_nested_grid_column_and_scalar_broadcast(tmp_path):
    grid = pa.array([[[1, 2], [3, 4], [5, 6]], [[7, 8]]], pa.list_(pa.list_(pa.int64())))
    fixed = pa.array([[[1, 2], [3, 4], [5, 6]], [[7, 8]]], pa.list_(pa.list_(pa.float32(), 2)))
    table = pa.table({"g": grid, "f": fixed, "label": pa.array([2, 0], pa.int8()),
                      "name": ["first", "second"]})
    pq.write_table(table, tmp_path / "g.parquet")
    reader = readers.ParquetSequenceReader(tmp_path / "g.parquet", key_column="name",
                                           columns=["g", "f", "label"])
    assert reader.columns == ("g[0]", "g[1]", "f[0]", "f[1]", "label")
    first, second = reader
    assert (first.key, second.key) == ("first", "second")
    np.testing.assert_array_equal(first.values, [[1, 2, 1, 2, 2], [3, 4, 3, 4, 2], [5, 6, 5, 6, 2]])
    np.testing.assert_array_equal(second.values, [[7, 8, 7, 8, 0]])
    batches = readers.SequenceBatches(reader, batch_size=2, label_column="label", num_classes=3,
                                      sequence_labels=True, align="align_start")
    (batch,) = batches
    np.testing.assert_array_equal(batch.labels, [[0, 0, 1], [1, 0, 0]])
    assert batch.labels_mask is None and batch.features.shape == (2, 4, 3)
    np.testing.assert_array_equal(batch.features_mask, [[1, 1, 1], [1, 0, 0]])


def test_text_label_column_in_nested_rows(tmp_path):
    path = write_nested_parquet(tmp_path / "t.parquet", [np.ones((2, 1)), np.ones((1, 1))], ["x"],
                                extra={"cls": ["dog", "cat"]})
    reader = readers.ParquetSequenceReader(path)
    with pytest.raises(SequenceDataError, match=r"row 1, column 'cls': column holds text"):
        list(reader)
    (batch,) = readers.SequenceBatches(reader, batch_size=2, label_column="cls",
                                       classes=["cat", "dog"], sequence_labels=True,
                                       align="align_start")
    np.testing.assert_array_equal(batch.labels, [[0, 1], [1, 0]])


def test_streams_by_record_batch_across_files_and_row_groups(tmp_path, monkeypatch):
    monkeypatch.setattr(readers._parquet_reader, "_READ_ROWS", 3)
    rng = np.random.default_rng(0)
    seqs = [rng.normal(size=(int(rng.integers(1, 5)), 2)) for _ in range(23)]
    a = write_nested_parquet(tmp_path / "a.parquet", seqs[:10], ["x", "y"], row_group_size=4)
    b = write_nested_parquet(tmp_path / "b.parquet", seqs[10:], ["x", "y"], row_group_size=5)
    reader = readers.ParquetSequenceReader([a, b])
    chunks = list(reader.chunks())
    assert max(len(c) for c in chunks) <= 3 and sum(len(c) for c in chunks) == 23
    records = list(reader)
    assert records[12].key == f"{b}#3"
    for record, seq in zip(records, seqs):
        np.testing.assert_array_equal(record.values, seq)


def _recorded(reader) -> list:
    """Make `reader` note the size of each chunk it yields, in the list returned."""
    sizes, original = [], reader.chunks

    def recording(classes=None, **hints):
        for chunk in original(classes, **hints):
            sizes.append(len(chunk))
            yield chunk
    reader.chunks = recording
    return sizes


def test_batches_pull_chunks_lazily(tmp_path, monkeypatch):
    monkeypatch.setattr(readers._parquet_reader, "_READ_ROWS", 4)
    path = write_nested_parquet(tmp_path / "n.parquet", [np.ones((3, 1))] * 40, ["x"])
    reader = readers.ParquetSequenceReader(path)
    pulled = _recorded(reader)
    first = next(iter(readers.SequenceBatches(reader, batch_size=2)))
    assert len(first) == 2 and pulled == [4]


@pytest.mark.parametrize("batch_size, read", [(2, 4), (7, 7), (9, 8)])
def test_read_size_follows_the_batch_size(tmp_path, monkeypatch, batch_size, read):
    monkeypatch.setattr(readers._parquet_reader, "_READ_ROWS", 4)           # the least rows per read
    path = write_nested_parquet(tmp_path / "n.parquet", [np.ones((2, 1))] * 40, ["x"],
                                row_group_size=8)                     # a read stops at a row group
    reader = readers.ParquetSequenceReader(path)
    sizes = _recorded(reader)
    assert sum(len(b) for b in readers.SequenceBatches(reader, batch_size=batch_size)) == 40
    assert max(sizes) == read


def test_partitioned_directory(tmp_path):
    for label in (1, 0):
        folder = tmp_path / "data" / f"label={label}"
        folder.mkdir(parents=True)
        write_nested_parquet(folder / "part-0.parquet", [np.full((2, 1), label), np.full((3, 1), label)],
                             ["x"])
    reader = readers.ParquetSequenceReader(tmp_path / "data")
    assert reader.columns == ("x", "label") and len(reader) == 4
    records = list(reader)
    assert [r.key.split("label=")[1] for r in records] == ["0/part-0.parquet#1", "0/part-0.parquet#2",
                                                          "1/part-0.parquet#1", "1/part-0.parquet#2"]
    batches = readers.SequenceBatches(reader, batch_size=4, label_column="label", num_classes=2,
                                      sequence_labels=True, align="align_end")
    (batch,) = batches
    np.testing.assert_array_equal(batch.labels.argmax(axis=1), [0, 0, 1, 1])


def test_long_parquet_layout(tmp_path):
    rng = np.random.default_rng(3)
    seqs = [rng.normal(size=(n, 2)) for n in (2, 5, 1)]
    ids = [30, 10, 20]
    rows = long_rows(seqs, ids, np.random.default_rng(7))
    path = write_long_parquet(tmp_path / "l.parquet", seqs, ids, ["u", "v"], rng=np.random.default_rng(7))
    reader = readers.ParquetSequenceReader(path, id_column="id", order_column="t")
    with pytest.raises(TypeError):
        len(reader)
    records = list(reader)
    assert len(reader) == 3 and reader.columns == ("u", "v")
    assert [r.key for r in records] == [str(i) for i in first_appearance(rows)]
    for record in records:
        np.testing.assert_array_equal(record.values, seqs[ids.index(int(record.key))])
    source, row = records[0].locate(0)
    assert source == path and 1 <= row <= 8


def test_long_parquet_over_several_files(tmp_path):
    pq.write_table(pa.table({"id": ["a", "b"], "v": [1.0, 2.0]}), tmp_path / "p1.parquet")
    pq.write_table(pa.table({"id": ["b", "a"], "v": [3.0, 4.0]}), tmp_path / "p2.parquet")
    reader = readers.ParquetSequenceReader(str(tmp_path / "p*.parquet"), id_column="id")
    a, b = reader
    np.testing.assert_array_equal(a.values[:, 0], [1, 4])
    assert b.locate(1) == (str(tmp_path / "p2.parquet"), 1)


@pytest.mark.parametrize("table, message, row, column", [
    ({"x": [[1.0, 2.0], [3.0]], "y": [[1.0, 2.0], [3.0, 4.0]]}, "list lengths differ", 2, "y"),
    ({"x": [[1.0], []]}, "empty sequence", 2, "x"),
    ({"x": [[1.0], None]}, "missing sequence", 2, "x"),
    ({"g": pa.array([[[1.0, 2.0]], [[1.0, 2.0], [3.0]]], pa.list_(pa.list_(pa.float64())))},
     "wrong number of values", 2, "g"),
])
def test_nested_errors_name_file_row_and_column(tmp_path, table, message, row, column):
    pq.write_table(pa.table(table), tmp_path / "bad.parquet")
    with pytest.raises(SequenceDataError, match=message) as info:
        list(readers.ParquetSequenceReader(tmp_path / "bad.parquet"))
    err = info.value
    assert (err.source, err.row, err.column) == (str(tmp_path / "bad.parquet"), row, column)


def test_layout_errors(tmp_path):
    with pytest.raises(SequenceDataError, match="missing file"):
        readers.ParquetSequenceReader(tmp_path / "nope.parquet")
    pq.write_table(pa.table({"id": [1], "v": [1.0]}), tmp_path / "flat.parquet")
    with pytest.raises(SequenceDataError, match="no list column"):
        _ = readers.ParquetSequenceReader(tmp_path / "flat.parquet").columns
    pq.write_table(pa.table({"id": [1], "v": [[1.0]]}), tmp_path / "l.parquet")
    with pytest.raises(SequenceDataError, match="list column in a long table"):
        _ = readers.ParquetSequenceReader(tmp_path / "l.parquet", id_column="id").columns
    with pytest.raises(SequenceDataError, match="not found"):
        _ = readers.ParquetSequenceReader(tmp_path / "l.parquet", columns=["w"]).columns
    with pytest.raises(ValueError):
        readers.ParquetSequenceReader(tmp_path / "l.parquet", order_column="v")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_write_parquet_round_trip(tmp_path, dtype):
    rng = np.random.default_rng(5)
    seqs = [rng.normal(size=(int(rng.integers(1, 6)), 3)) for _ in range(7)]
    source = readers.CSVSequenceReader(write_numbered(tmp_path / "f", seqs, header=["a", "b", "c"]),
                                       skip_lines=1)
    out = tmp_path / "nested.parquet"
    assert readers.write_parquet(source, out, dtype=dtype) == 7
    back = list(readers.ParquetSequenceReader(out))
    original = list(source)
    assert [r.key for r in back] == [r.key for r in original]
    assert all(r.columns == ("a", "b", "c") for r in back)
    for got, want in zip(back, original):
        assert got.values.dtype == np.float64
        expected = want.values.astype(dtype).astype(np.float64)
        np.testing.assert_array_equal(got.values, expected)
    with pytest.raises(ValueError):
        readers.write_parquet(source, out, dtype="int32")
    with pytest.raises(ValueError, match="key_column"):
        readers.write_parquet(source, out, key_column="a")


def test_write_parquet_reports_progress_per_block(tmp_path, monkeypatch):
    monkeypatch.setattr(readers._parquet_reader, "_READ_ROWS", 4)                # several blocks
    seqs = [np.full((i % 5 + 1, 2), float(i)) for i in range(23)]
    source = readers.ParquetSequenceReader(
        write_nested_parquet(tmp_path / "in.parquet", seqs, ["x", "y"], row_group_size=8))
    calls = []
    written = readers.write_parquet(source, tmp_path / "out.parquet", progress=calls.append)
    assert written == 23
    assert len(calls) > 1 and all(n > 0 for n in calls)                  # one call per block written
    assert sum(calls) == written                                          # increments, adding up
    totals = np.cumsum(calls)
    assert list(totals) == sorted(set(totals)) and totals[-1] == 23       # strictly increasing
    assert len(readers.ParquetSequenceReader(tmp_path / "out.parquet")) == 23


def test_write_parquet_progress_fits_a_tqdm_like_update_and_stops_on_its_error(tmp_path):
    source = readers.CSVSequenceReader(write_numbered(tmp_path / "f", [np.ones((2, 1))] * 5))

    class Bar:
        n = 0

        def update(self, k):
            self.n += k

    bar = Bar()
    assert readers.write_parquet(source, tmp_path / "a.parquet", progress=bar.update) == 5
    assert bar.n == 5
    with pytest.raises(TypeError, match="progress must be a callable"):
        readers.write_parquet(source, tmp_path / "b.parquet", progress=bar)

    def cancel(n):
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        readers.write_parquet(source, tmp_path / "c.parquet", progress=cancel)


def _keyed_table(**extra):
    return pa.table({"key": pa.array(["a", "b"]), "v": pa.array([[1.0, 2.0], [3.0]]), **extra})


def test_a_text_column_named_key_is_the_default_key_of_nested_rows(tmp_path):
    path = tmp_path / "k.parquet"
    pq.write_table(_keyed_table(label=pa.array([0, 1])), path)            # no seqkit metadata
    reader = readers.ParquetSequenceReader(path)
    assert reader.columns == ("v", "label")
    assert [r.key for r in reader] == ["a", "b"]
    batch = next(iter(readers.SequenceBatches(reader, batch_size=2, label_column="label",
                                              num_classes=2, sequence_labels=True,
                                              align="align_start")))
    assert batch.keys == ["a", "b"]
    # naming it in columns= reads it as a column (text: class labels) instead
    as_column = readers.ParquetSequenceReader(path, columns=["v", "key"])
    assert as_column.columns == ("v", "key")
    batch = next(iter(readers.SequenceBatches(as_column, batch_size=2, label_column="key",
                                              classes=["a", "b"], sequence_labels=True,
                                              align="align_start")))
    assert batch.keys == [f"{path}#1", f"{path}#2"]
    np.testing.assert_array_equal(batch.labels, [[1, 0], [0, 1]])
    # an explicit key_column wins
    pq.write_table(_keyed_table(name=pa.array(["x", "y"])), tmp_path / "n.parquet")
    named = readers.ParquetSequenceReader(tmp_path / "n.parquet", key_column="name", columns=["v"])
    assert [r.key for r in named] == ["x", "y"]
    assert readers.ParquetSequenceReader(tmp_path / "n.parquet", key_column="name").columns == ("key", "v")


@pytest.mark.parametrize("key", [pa.array([7, 8]), pa.array([[1.0], [2.0]])])
def test_a_key_column_that_is_not_text_is_not_taken_as_the_key(tmp_path, key):
    path = tmp_path / "k.parquet"
    pq.write_table(pa.table({"key": key, "v": pa.array([[1.0], [3.0]])}), path)
    reader = readers.ParquetSequenceReader(path)
    assert reader.columns == ("key", "v")
    assert [r.key for r in reader] == [f"{path}#1", f"{path}#2"]


def test_a_key_partition_is_not_taken_as_the_key(tmp_path):
    for part in ("p", "q"):
        (tmp_path / f"key={part}").mkdir()
        pq.write_table(pa.table({"v": pa.array([[1.0, 2.0]])}), tmp_path / f"key={part}" / "0.parquet")
    reader = readers.ParquetSequenceReader(tmp_path, columns=["v"])
    assert [r.key for r in reader] == [str(tmp_path / f"key={p}" / "0.parquet") + "#1" for p in "pq"]


def test_the_bundled_nested_parquet_needs_no_key_column():
    path = Path(__file__).resolve().parents[2] / "datasets" / "synthetic_control" / "test.parquet"
    reader = readers.ParquetSequenceReader(path)
    assert reader.columns == ("values", "label")
    assert next(iter(reader)).key == "test/0"


def test_streaming_holds_one_row_group_not_the_file(tmp_path):
    rng = np.random.default_rng(0)
    seqs = [rng.normal(size=(50, 2)) for _ in range(4000)]            # 3.2 MB of float64
    path = write_nested_parquet(tmp_path / "big.parquet", seqs, ["x", "y"], row_group_size=100)
    reader = readers.ParquetSequenceReader(path)
    before, peak, seen = pa.total_allocated_bytes(), 0, 0
    for batch in readers.SequenceBatches(reader, batch_size=50):
        peak = max(peak, pa.total_allocated_bytes() - before)
        seen += len(batch)
    assert seen == 4000
    assert peak < 3.2e6 / 4                                            # a few row groups, not the file


def test_long_parquet_text_column_needs_classes(tmp_path):
    pq.write_table(pa.table({"id": [1, 1], "v": [1.0, 2.0], "tag": [None, "b"]}), tmp_path / "t.parquet")
    reader = readers.ParquetSequenceReader(tmp_path / "t.parquet", id_column="id")
    with pytest.raises(SequenceDataError, match=r"t\.parquet, row 2, column 'tag': column holds text"):
        list(reader)
    batches = readers.SequenceBatches(reader, batch_size=1, label_column="tag", classes=["a", "b"])
    with pytest.raises(SequenceDataError, match=r"row 1, column 'tag': unknown class label.*found None"):
        list(batches)


def test_explicit_filesystem(tmp_path):
    import pyarrow.fs as pafs
    (tmp_path / "data" / "k=1").mkdir(parents=True)
    write_nested_parquet(tmp_path / "data" / "k=1" / "p.parquet", [np.ones((2, 1))], ["x"])
    filesystem = pafs.SubTreeFileSystem(str(tmp_path), pafs.LocalFileSystem())
    reader = readers.ParquetSequenceReader("data", filesystem=filesystem)
    (record,) = reader
    assert record.columns == ("x", "k") and record.key == "data/k=1/p.parquet#1"
    np.testing.assert_array_equal(record.values, [[1, 1], [1, 1]])
