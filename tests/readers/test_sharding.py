"""Sharding by unit: each process reads only its files, row groups or CSV blocks; every sequence once."""

import builtins
import os

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

import readers
from readers import SequenceDataError

from seqdata import long_rows, write_csv, write_long_csv, write_nested_parquet, write_numbered


# ---- spies: what a process reads -------------------------------------------------------------
class _File:
    """A binary file that records the byte ranges read from it."""

    def __init__(self, handle, path, reads):
        self._h, self._path, self._reads = handle, os.fspath(path), reads
        self.closed = False

    def read(self, n=-1):
        at = self._h.tell()
        data = self._h.read(n)
        if data:
            self._reads.append((self._path, at, at + len(data)))
        return data

    def seek(self, pos, whence=0):
        return self._h.seek(pos, whence)

    def tell(self):
        return self._h.tell()

    def fileno(self):
        return self._h.fileno()

    def readable(self):
        return True

    def seekable(self):
        return True

    def writable(self):
        return False

    def close(self):
        self.closed = True
        self._h.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@pytest.fixture
def csv_reads(monkeypatch, tmp_path):
    """`(path, lo, hi)` of every read of a file under tmp_path through `open` (the CSV readers' reads)."""
    reads, real = [], builtins.open

    def spy(file, mode="r", *args, **kwargs):
        handle = real(file, mode, *args, **kwargs)
        if isinstance(file, (str, os.PathLike)) and os.fspath(file).startswith(str(tmp_path)) and mode == "rb":
            return _File(handle, file, reads)
        return handle
    monkeypatch.setattr(builtins, "open", spy)
    return reads


class _Recording(pafs.FileSystemHandler):
    """The local filesystem, recording the byte ranges read from files (for ParquetSequenceReader)."""

    def __init__(self, reads):
        self.fs, self.reads = pafs.LocalFileSystem(), reads

    def __eq__(self, other):
        return isinstance(other, _Recording) and other.reads is self.reads

    def __ne__(self, other):
        return not self == other

    def get_type_name(self):
        return "recording"

    def normalize_path(self, path):
        return self.fs.normalize_path(path)

    def get_file_info(self, paths):
        return self.fs.get_file_info(paths)

    def get_file_info_selector(self, selector):
        return self.fs.get_file_info(selector)

    def create_dir(self, path, recursive):
        self.fs.create_dir(path, recursive=recursive)

    def delete_dir(self, path):
        self.fs.delete_dir(path)

    def delete_dir_contents(self, path, missing_dir_ok=False):
        self.fs.delete_dir_contents(path, missing_dir_ok=missing_dir_ok)

    def delete_root_dir_contents(self):
        raise NotImplementedError

    def delete_file(self, path):
        self.fs.delete_file(path)

    def move(self, src, dest):
        self.fs.move(src, dest)

    def copy_file(self, src, dest):
        self.fs.copy_file(src, dest)

    def open_input_stream(self, path):
        return pa.PythonFile(_File(open(path, "rb"), path, self.reads), mode="r")

    def open_input_file(self, path):
        return pa.PythonFile(_File(open(path, "rb"), path, self.reads), mode="r")

    def open_output_stream(self, path, metadata):
        return self.fs.open_output_stream(path, metadata=metadata)

    def open_append_stream(self, path, metadata):
        return self.fs.open_append_stream(path, metadata=metadata)


def _row_groups_read(path, reads) -> dict:
    """Row group -> the columns whose bytes were read (the footer's read, to the file's end, left out)."""
    meta = pq.ParquetFile(path).metadata
    size = os.path.getsize(path)
    touched = {}
    for _, lo, hi in reads:
        if hi == size:
            continue
        for g in range(meta.num_row_groups):
            for c in range(meta.num_columns):
                col = meta.row_group(g).column(c)
                start = min(o for o in (col.dictionary_page_offset, col.data_page_offset) if o is not None)
                if lo < start + col.total_compressed_size and start < hi:
                    touched.setdefault(g, set()).add(col.path_in_schema)
    return touched


# ---- data ------------------------------------------------------------------------------------
def _sequences(n=41, seed=0, longest=12):
    """Sequences `[T, 2]`: channel 0 is the sequence's index (to check pairing), channel 1 noise."""
    rng = np.random.default_rng(seed)
    return [np.column_stack([np.full(t, i, dtype=float), rng.normal(size=t)])
            for i, t in enumerate(rng.integers(1, longest, n))]


def _long_parquet(path, sequences, row_group_size, ids=None):
    ids = ids or [f"s{i}" for i in range(len(sequences))]
    rows = long_rows(sequences, ids)
    table = pa.table({"id": [r[0] for r in rows], "t": [r[1] for r in rows],
                      "a": [float(r[2]) for r in rows], "b": [float(r[3]) for r in rows]})
    pq.write_table(table, path, row_group_size=row_group_size)
    return os.fspath(path)


def _check(batches_list, sequences, key_index):
    """Every sequence exactly once over all shares, each with its own values; the keys per share."""
    shares = []
    for batches in batches_list:
        keys = []
        for batch in batches:
            for i, key in enumerate(batch.keys):
                seq = sequences[key_index(key)]
                np.testing.assert_array_equal(batch.features[i, :, :len(seq)], seq.T.astype(np.float32))
            keys += batch.keys
        shares.append(keys)
    every = [k for share in shares for k in share]
    assert len(every) == len(set(every)) == len(sequences)
    return shares


# ---- shares ----------------------------------------------------------------------------------
@pytest.mark.parametrize("world", [2, 3])
def test_numbered_csv_ranks_open_only_their_files(tmp_path, csv_reads, world):
    seqs = _sequences()
    files = write_numbered(tmp_path / "f", seqs, header=["i", "x"])
    shares = []
    for rank in range(world):
        csv_reads.clear()
        batches = readers.SequenceBatches(readers.CSVSequenceReader(files), batch_size=4, align="align_start",
                                          shard=(rank, world), shard_by="unit")
        assert batches.sharding == "unit"
        mine = {u.source for u in batches.share()}
        got = list(batches)
        assert {p for p, _, _ in csv_reads} <= mine | {files[0]}      # the first file's head: the columns
        assert {p for p, _, _ in csv_reads} >= mine
        assert len(batches) == len(got)
        shares.append(got)
    keys = _check(shares, seqs, lambda k: int(os.path.basename(k)[:-4]))
    sizes = [sum(os.path.getsize(k) for k in share) for share in keys]
    assert max(sizes) - min(sizes) <= max(os.path.getsize(p) for p in files)     # balanced by bytes


@pytest.mark.parametrize("world", [2, 3])
def test_long_csv_ranks_read_only_their_blocks(tmp_path, csv_reads, world):
    seqs = _sequences(n=200, longest=10)
    path = write_long_csv(tmp_path / "long.csv", seqs, [f"s{i}" for i in range(len(seqs))], ["i", "x"])
    text = open(path, "rb").read()
    size, block, header = len(text), 2048, text.index(b"\n") + 1
    longest = max(len(line) for line in text.splitlines()) * 10 + 10        # bytes of the longest sequence
    shares = []
    for rank in range(world):
        reader = readers.CSVSequenceReader(path, id_column="id", order_column="t", block_bytes=block)
        batches = readers.SequenceBatches(reader, batch_size=4, align="align_start", shard=(rank, world),
                                          shard_by="unit")
        blocks = [(u.part * block, min((u.part + 1) * block, size)) for u in batches.share()]
        with pytest.raises(TypeError, match="long table"):
            len(batches)
        csv_reads.clear()
        shares.append(list(batches))
        read, mine = np.zeros(size, dtype=bool), np.zeros(size, dtype=bool)
        for _, lo, hi in csv_reads:
            read[lo:hi] = True
        for lo, hi in blocks:
            mine[lo:hi] = True
        mine[:header] = read[:header] = False                     # the header line, read to skip it
        outside = read & ~mine
        # Besides its blocks a rank reads only around their edges: a line before (the id before the
        # block), and past the end while its last sequence goes on (in steps of block_bytes / 8).
        assert outside.sum() <= len(blocks) * (3 * 256 + 2 * longest)
        assert mine.sum() == (mine & read).sum() and read.sum() < (1 / world + 0.3) * size
    _check(shares, seqs, lambda k: int(k[1:]))
    assert reader.units()[0].part == 0 and len(reader.units()) == -(-size // block)


@pytest.mark.parametrize("world", [2, 3])
def test_long_parquet_ranks_read_only_their_row_groups(tmp_path, world):
    seqs = _sequences(longest=10)
    path = _long_parquet(tmp_path / "long.parquet", seqs, row_group_size=16)
    shares = []
    for rank in range(world):
        reads = []
        fs = pafs.PyFileSystem(_Recording(reads))
        reader = readers.ParquetSequenceReader(path, id_column="id", order_column="t", filesystem=fs)
        batches = readers.SequenceBatches(reader, batch_size=4, align="align_start", shard=(rank, world),
                                          shard_by="unit")
        own = {u.part for u in batches.share()}
        reads.clear()
        shares.append(list(batches))
        touched = _row_groups_read(path, reads)
        values = {g for g, cols in touched.items() if cols & {"a", "b"}}
        assert own <= values <= own | {g + 1 for g in own}                 # reading on past a group's end
        assert set(touched) <= own | {g + 1 for g in own} | {g - 1 for g in own}   # the id before a group
        assert all(touched[g] == {"id"} for g in set(touched) - values)
    _check(shares, seqs, lambda k: int(k[1:]))


@pytest.mark.parametrize("world", [2, 3])
def test_nested_parquet_ranks_read_only_their_row_groups_balanced_by_rows(tmp_path, world):
    seqs = _sequences(n=45)
    path = write_nested_parquet(tmp_path / "n.parquet", seqs, ["i", "x"], row_group_size=7)
    shares = []
    for rank in range(world):
        reads = []
        reader = readers.ParquetSequenceReader(path, filesystem=pafs.PyFileSystem(_Recording(reads)))
        batches = readers.SequenceBatches(reader, batch_size=4, align="align_start", shard=(rank, world),
                                          shard_by="unit")
        own = {u.part for u in batches.share()}
        reads.clear()
        got = list(batches)
        assert set(_row_groups_read(path, reads)) == own
        assert len(batches) == len(got)
        shares.append(got)
    keys = _check(shares, seqs, lambda k: int(k.split("#")[1]) - 1)
    rows = [len(k) for k in keys]
    assert max(rows) - min(rows) <= 7


def test_shares_hold_for_every_epoch_and_the_unit_order_changes_with_the_epoch(tmp_path):
    seqs = _sequences(n=60)
    path = write_nested_parquet(tmp_path / "n.parquet", seqs, ["i", "x"], row_group_size=3)
    ranks = [readers.SequenceBatches(readers.ParquetSequenceReader(path), batch_size=4, align="align_start",
                                     shard=(r, 3), shard_by="unit", shuffle=True, seed=2) for r in range(3)]
    orders = []
    for _ in range(3):
        shares = [[k for b in batches for k in b.keys] for batches in ranks]
        every = [k for s in shares for k in s]
        assert len(every) == len(set(every)) == 60
        orders.append(shares[0])
    assert orders[0] != orders[1] != orders[2]
    again = readers.SequenceBatches(readers.ParquetSequenceReader(path), batch_size=4, align="align_start",
                                    shard=(0, 3), shard_by="unit", shuffle=True, seed=2)
    again.set_epoch(1)
    assert [k for b in again for k in b.keys] == orders[1]


def test_ids_running_across_many_units_and_files(tmp_path):
    # Few long sequences: each runs through several CSV blocks, row groups and even into the next file.
    seqs = _sequences(n=7, longest=200)
    ids = [f"s{i}" for i in range(len(seqs))]
    rows = long_rows(seqs, ids)
    half = len(rows) // 2 + 3                                          # cut inside a sequence
    head = ["id", "t", "i", "x"]
    csv_paths = [write_csv(tmp_path / "a.csv", [(str(r[0]), str(r[1]), *r[2:]) for r in rows[:half]], head),
                 write_csv(tmp_path / "b.csv", [(str(r[0]), str(r[1]), *r[2:]) for r in rows[half:]], head)]
    for world in (1, 2, 3):
        shares = [readers.SequenceBatches(
            readers.CSVSequenceReader(csv_paths, id_column="id", order_column="t", block_bytes=300),
            batch_size=2, align="align_start", shard=(r, world), shard_by="unit") for r in range(world)]
        _check(shares, seqs, lambda k: int(k[1:]))
    table = pa.table({"id": [r[0] for r in rows], "t": [r[1] for r in rows],
                      "i": [float(r[2]) for r in rows], "x": [float(r[3]) for r in rows]})
    pq.write_table(table.slice(0, half), tmp_path / "p1.parquet", row_group_size=50)
    pq.write_table(table.slice(half), tmp_path / "p2.parquet", row_group_size=50)
    parts = [str(tmp_path / "p1.parquet"), str(tmp_path / "p2.parquet")]
    for world in (1, 2, 3):
        shares = [readers.SequenceBatches(readers.ParquetSequenceReader(parts, id_column="id", order_column="t"),
                                          batch_size=2, align="align_start", shard=(r, world), shard_by="unit")
                  for r in range(world)]
        _check(shares, seqs, lambda k: int(k[1:]))


def test_order_column_sorts_a_sequence_split_between_units(tmp_path):
    # Rows of each id together but out of order: sorted by t even when the id runs across blocks.
    seqs = _sequences(n=9, longest=60)
    rng = np.random.default_rng(1)
    rows = []
    for i, seq in enumerate(seqs):
        steps = [(f"s{i}", t, *seq[t]) for t in range(len(seq))]
        rows += [steps[k] for k in rng.permutation(len(steps))]
    path = write_csv(tmp_path / "o.csv", [(r[0], str(r[1]), *r[2:]) for r in rows], ["id", "t", "i", "x"])
    shares = [readers.SequenceBatches(readers.CSVSequenceReader(path, id_column="id", order_column="t",
                                                                block_bytes=200),
                                      batch_size=3, align="align_start", shard=(r, 2), shard_by="unit")
              for r in range(2)]
    _check(shares, seqs, lambda k: int(k[1:]))


def test_an_id_coming_back_within_a_unit_is_an_error(tmp_path):
    path = write_csv(tmp_path / "bad.csv", [("a", 1, 1.0), ("b", 1, 2.0), ("a", 2, 3.0)], ["id", "t", "v"])
    batches = readers.SequenceBatches(readers.CSVSequenceReader(path, id_column="id", order_column="t"),
                                      batch_size=2, align="align_start", shard_by="unit")
    with pytest.raises(SequenceDataError, match=r"row 4, column 'id': id 'a' comes back after other ids") as err:
        list(batches)
    assert "shard_by='sequence'" in str(err.value)
    # ... also when the id comes back in a later block of the rows one unit reads, or while reading on.
    rows = [("a", t, 1.0) for t in range(30)] + [("b", 0, 1.0), ("a", 99, 1.0)]
    path = write_csv(tmp_path / "bad2.csv", rows, ["id", "t", "v"])
    with pytest.raises(SequenceDataError, match="comes back"):
        list(readers.SequenceBatches(readers.CSVSequenceReader(path, id_column="id", block_bytes=40),
                                     batch_size=2, align="align_start", shard_by="unit"))
    table = pa.table({"id": ["a", "b", "b", "a", "c"], "v": [1.0, 2.0, 3.0, 4.0, 5.0]})
    pq.write_table(table, tmp_path / "bad.parquet", row_group_size=4)
    with pytest.raises(SequenceDataError, match="comes back"):
        list(readers.SequenceBatches(readers.ParquetSequenceReader(tmp_path / "bad.parquet", id_column="id"),
                                     batch_size=2, align="align_start", shard_by="unit"))
    # Sharding by sequence reads such a table whole, grouping its ids.
    got = list(readers.SequenceBatches(readers.ParquetSequenceReader(tmp_path / "bad.parquet", id_column="id"),
                                       batch_size=2, align="align_start"))
    assert got[0].keys == ["a", "b"] and got[1].keys == ["c"]


# ---- labels following their features ---------------------------------------------------------
@pytest.mark.parametrize("shuffle", [False, True])
def test_numbered_labels_files_follow_their_features_files(tmp_path, csv_reads, shuffle):
    seqs = _sequences()
    feats = write_numbered(tmp_path / "f", seqs)
    labels_dir = tmp_path / "l"
    os.makedirs(labels_dir)
    for i in range(len(seqs)):
        write_csv(labels_dir / f"{i:03d}.csv", [[i % 3]])
    labels = readers.NumberedFiles(str(labels_dir / "%03d.csv"), 0, len(seqs) - 1)
    shares = []
    for rank in range(3):
        batches = readers.SequenceBatches(readers.CSVSequenceReader(feats), readers.CSVSequenceReader(labels),
                                          batch_size=4, num_classes=3, align="align_end", sequence_labels=True,
                                          shard=(rank, 3), shard_by="unit", shuffle=shuffle, seed=4)
        mine = {int(os.path.basename(u.source)[:-4]) for u in batches.share()}
        csv_reads.clear()
        got = list(batches)
        read = {p for p, _, _ in csv_reads}
        assert {p for p in read if "/l/" in p} == {labels[i] for i in mine}
        for batch in got:
            index = [int(os.path.basename(k)[:-4]) for k in batch.keys]
            assert list(batch.labels.argmax(1)) == [i % 3 for i in index]
        shares.append(got)
    _check(shares, seqs, lambda k: int(os.path.basename(k)[:-4]))


def test_labels_files_with_a_key_on_one_side_only_are_an_error_on_every_rank(tmp_path):
    seqs = _sequences(n=5)
    feats = write_numbered(tmp_path / "f", seqs)
    labels = write_numbered(tmp_path / "l", [np.array([[0.0]])] * 6)
    for rank in range(2):
        batches = readers.SequenceBatches(readers.CSVSequenceReader(feats), readers.CSVSequenceReader(labels),
                                          batch_size=2, num_classes=2, sequence_labels=True, align="align_end",
                                          shard=(rank, 2), shard_by="unit")
        with pytest.raises(SequenceDataError, match=r"l/5.csv: key '5' is in the labels only"):
            list(batches)
    short = readers.NumberedFiles(str(tmp_path / "l" / "%d.csv"), 1, 5)
    with pytest.raises(SequenceDataError, match=r"f/0.csv: key '0' is in the features only"):
        list(readers.SequenceBatches(readers.CSVSequenceReader(feats), readers.CSVSequenceReader(short),
                                     batch_size=2, num_classes=2, sequence_labels=True, align="align_end",
                                     shard_by="unit"))
    paths = [str(tmp_path / "l" / f"{i}.csv") for i in range(5)]
    globbed = readers.CSVSequenceReader(str(tmp_path / "l" / "*.csv"))          # pairs by file name
    with pytest.raises(SequenceDataError, match="labels only"):
        list(readers.SequenceBatches(readers.CSVSequenceReader(feats), globbed, batch_size=2, num_classes=2,
                                     sequence_labels=True, align="align_end", shard_by="unit"))
    # Listed files pair by position, unit i with unit i; different counts are an error.
    listed = [str(tmp_path / "f" / f"{i}.csv") for i in range(5)]
    ok = readers.SequenceBatches(readers.CSVSequenceReader(listed), readers.CSVSequenceReader(paths),
                                 batch_size=2, num_classes=2, sequence_labels=True, align="align_end",
                                 shard=(1, 2), shard_by="unit")
    assert sorted(k for b in ok for k in b.keys) == sorted(u.source for u in ok.share())
    with pytest.raises(SequenceDataError, match="different numbers of sequences"):
        list(readers.SequenceBatches(readers.CSVSequenceReader(listed), readers.CSVSequenceReader(paths[:4]),
                                     batch_size=2, num_classes=2, sequence_labels=True, align="align_end",
                                     shard_by="unit"))


def test_repeated_label_and_feature_keys_among_units(tmp_path):
    seqs = _sequences(n=3)
    a, b = tmp_path / "a", tmp_path / "b"
    write_numbered(a, seqs)
    write_numbered(b, seqs)
    for folder in (a, b):
        os.rename(folder / "2.csv", folder / "2.txt")
    os.makedirs(tmp_path / "c")
    for name in ("0.csv", "1.csv", "1.txt"):
        write_csv(tmp_path / "c" / name, [[1]])

    class Keyed(readers.CSVSequenceReader):
        def pair_keys(self, keys):                  # file names with their extension cut: 1.csv and 1.txt meet
            return [os.path.basename(k).split(".")[0] for k in keys]

    feats = Keyed([str(a / "0.csv"), str(a / "1.csv"), str(a / "2.txt")])
    labels = Keyed(str(tmp_path / "c"))
    with pytest.raises(SequenceDataError, match="key '1' repeats in the labels"):
        list(readers.SequenceBatches(feats, labels, batch_size=2, num_classes=2, sequence_labels=True,
                                     align="align_end", shard_by="unit"))
    feats = Keyed([str(a / "0.csv"), str(a / "1.csv"), str(b / "1.csv")])
    labels = Keyed([str(tmp_path / "c" / "0.csv"), str(tmp_path / "c" / "1.csv")])
    with pytest.raises(SequenceDataError, match="key '1' repeats in the features"):
        list(readers.SequenceBatches(feats, labels, batch_size=2, num_classes=2, sequence_labels=True,
                                     align="align_end", shard_by="unit"))


@pytest.mark.parametrize("shuffle_buffer", [None, 4])
def test_labels_of_a_table_by_key_are_read_whole_and_matched(tmp_path, shuffle_buffer):
    seqs = _sequences(n=23)
    feats = write_numbered(tmp_path / "f", seqs)
    order = np.random.default_rng(0).permutation(len(seqs))
    table = pa.table({"id": [str(i) for i in order], "label": [float(i % 3) for i in order]})
    pq.write_table(table, tmp_path / "labels.parquet", row_group_size=5)
    shares = []
    for rank in range(3):
        batches = readers.SequenceBatches(
            readers.CSVSequenceReader(feats), readers.ParquetSequenceReader(tmp_path / "labels.parquet",
                                                                            id_column="id"),
            batch_size=4, num_classes=3, sequence_labels=True, align="align_start", shard=(rank, 3),
            shard_by="unit", shuffle=True, seed=1, shuffle_buffer=shuffle_buffer)
        assert batches.shuffle_mode == ("full" if shuffle_buffer is None else "buffer")
        got = list(batches)
        for batch in got:
            index = [int(os.path.basename(k)[:-4]) for k in batch.keys]
            assert list(batch.labels.argmax(1)) == [i % 3 for i in index]
        shares.append(got)
    _check(shares, seqs, lambda k: int(os.path.basename(k)[:-4]))
    missing = pa.table({"id": [str(i) for i in range(22)], "label": [0.0] * 22})
    pq.write_table(missing, tmp_path / "missing.parquet")
    with pytest.raises(SequenceDataError, match="key '22' is in the features only"):
        for rank in range(3):
            list(readers.SequenceBatches(readers.CSVSequenceReader(feats),
                                         readers.ParquetSequenceReader(tmp_path / "missing.parquet", id_column="id"),
                                         batch_size=4, num_classes=3, sequence_labels=True, align="align_start",
                                         shard=(rank, 3), shard_by="unit"))


# ---- a reader of your own ----------------------------------------------------------------------
class _Blocks(readers.SequenceReader):
    """Sequences in blocks of 5, each block a unit."""

    def __init__(self, n):
        self.n = n

    def records(self):
        for i in range(self.n):
            yield np.full((i % 4 + 1, 1), float(i)), ["v"], f"k{i}"

    def units(self):
        return [readers.Unit(f"block{b}", b, weight=5, sequences=min(5, self.n - 5 * b))
                for b in range(-(-self.n // 5))]

    def read_units(self, units, classes=None, *, rows=None):
        for u in units:
            chunks = list(self.chunks(classes))
            every = readers.Chunk.concat(chunks)
            yield every.slice(5 * u, min(5 * u + 5, self.n))


def test_a_reader_of_your_own_with_units():
    shares = []
    for rank in range(2):
        batches = readers.SequenceBatches(_Blocks(23), batch_size=3, align="align_start", shard=(rank, 2),
                                          shard_by="unit")
        assert len(batches) == len(list(batches))
        shares.append([k for b in batches for k in b.keys])
    assert sorted(shares[0] + shares[1]) == sorted(f"k{i}" for i in range(23))
    assert not set(shares[0]) & set(shares[1])

    class NoUnits(readers.SequenceReader):
        def records(self):
            yield np.ones((2, 1)), ["v"], "a"
    with pytest.raises(NotImplementedError, match="does not split into units"):
        list(NoUnits().read_units([0]))
    assert NoUnits().units() is None
    with pytest.raises(ValueError, match="does not split into units"):
        _ = readers.SequenceBatches(NoUnits(), batch_size=1, shard_by="unit").sharding
    assert readers.SequenceBatches(NoUnits(), batch_size=1).sharding == "sequence"


# ---- units of the built-in readers --------------------------------------------------------------
def test_units_of_the_built_in_readers(tmp_path):
    seqs = _sequences(n=6)
    files = write_numbered(tmp_path / "f", seqs)
    units = readers.CSVSequenceReader(files).units()
    assert [u.key for u in units] == list(files) and all(u.sequences == 1 for u in units)
    assert units[0].weight == os.path.getsize(files[0]) and units[0].part is None
    with pytest.raises(SequenceDataError, match="6.csv: missing file"):
        readers.CSVSequenceReader(readers.NumberedFiles(str(tmp_path / "f" / "%d.csv"), 0, 9)).units()
    path = write_nested_parquet(tmp_path / "n.parquet", seqs, ["i", "x"], row_group_size=4)
    units = readers.ParquetSequenceReader(path).units()
    assert [(u.part, u.weight, u.sequences) for u in units] == [(0, 4, 4), (1, 2, 2)]
    assert all(u.nbytes > 0 and u.source == path for u in units)
    long_path = _long_parquet(tmp_path / "l.parquet", seqs, row_group_size=5)
    assert all(u.sequences is None for u in readers.ParquetSequenceReader(long_path, id_column="id").units())
    with open(tmp_path / "broken.parquet", "wb") as handle:
        handle.write(b"PAR1 not really")
    reader = readers.ParquetSequenceReader([path, str(tmp_path / "broken.parquet")], columns=["i"])
    with pytest.raises(SequenceDataError, match="broken.parquet: cannot read the Parquet file"):
        reader.units()
    with pytest.raises(ValueError, match="block_bytes must be a positive int"):
        readers.CSVSequenceReader(path, id_column="id", block_bytes=0)


def test_long_csv_blocks_check_headers_and_report_rows_of_the_file(tmp_path):
    head = ["id", "t", "v"]
    rows = [(f"s{i // 3}", str(i % 3), float(i)) for i in range(60)]
    a = write_csv(tmp_path / "a.csv", rows, head)
    b = write_csv(tmp_path / "b.csv", rows, ["id", "t", "w"])
    with pytest.raises(SequenceDataError, match="b.csv, row 1: header differs"):
        list(readers.SequenceBatches(readers.CSVSequenceReader([a, b], id_column="id", block_bytes=100),
                                     batch_size=2, align="align_start", shard_by="unit"))
    bad = rows[:40] + [("s13", "1", "oops")] + rows[41:]
    c = write_csv(tmp_path / "c.csv", bad, head)
    with pytest.raises(SequenceDataError, match=r"c.csv, row 42, column 'v': non-numeric value"):
        list(readers.SequenceBatches(readers.CSVSequenceReader(c, id_column="id", block_bytes=100),
                                     batch_size=2, align="align_start", shard_by="unit"))
    text = open(a, "rb").read()
    cut = text.index(b"s15")
    with open(tmp_path / "nul.csv", "wb") as handle:
        handle.write(text[:cut] + b"\x00" + text[cut + 1:])
    with pytest.raises(SequenceDataError, match=r"nul.csv, row 47: NUL byte"):
        list(readers.SequenceBatches(readers.CSVSequenceReader(tmp_path / "nul.csv", id_column="id",
                                                               block_bytes=100, skip_lines=1),
                                     batch_size=2, align="align_start", shard_by="unit"))
    with pytest.raises(SequenceDataError, match="missing file"):
        readers.CSVSequenceReader([a, str(tmp_path / "gone.csv")], id_column="id").units()
    # Blocks smaller than a line own nothing; the sequences still come once each, with a blank first file.
    empty = write_csv(tmp_path / "empty.csv", [], head)
    got = list(readers.SequenceBatches(readers.CSVSequenceReader([empty, a], id_column="id", order_column="t",
                                                                 block_bytes=7),
                                       batch_size=50, align="align_start", shard_by="unit"))
    assert [k for batch in got for k in batch.keys] == [f"s{i}" for i in range(20)]


def test_errors_while_reading_blocks(tmp_path):
    head = ["id", "t", "v"]
    rows = [("a", str(t), 1.0) for t in range(20)]
    path = write_csv(tmp_path / "a.csv", rows + [("", "0", 1.0)], head)
    with pytest.raises(SequenceDataError, match=r"a.csv, row 22, column 'id': missing id"):
        list(readers.SequenceBatches(readers.CSVSequenceReader(path, id_column="id", block_bytes=50),
                                     batch_size=2, align="align_start", shard_by="unit"))
    # Order values of one sequence that differ in kind between the blocks it runs through.
    mixed = rows + [("a", f"2020-01-{d:02d}", 1.0) for d in range(1, 25)]
    path = write_csv(tmp_path / "mixed.csv", mixed, head)
    block = open(path, "rb").read().index(b"2020") - 2             # the dates begin a block
    with pytest.raises(SequenceDataError, match=r"mixed.csv, column 't': order column holds other values"):
        list(readers.SequenceBatches(readers.CSVSequenceReader(path, id_column="id", order_column="t",
                                                               block_bytes=block),
                                     batch_size=2, align="align_start", shard_by="unit"))
    # A file gone (or unreadable) between listing the units and reading them.
    path = write_csv(tmp_path / "gone.csv", rows, head)
    reader = readers.CSVSequenceReader(path, id_column="id", block_bytes=50)
    batches = readers.SequenceBatches(reader, batch_size=2, align="align_start", shard_by="unit")
    assert batches.sharding == "unit"
    os.remove(path)
    with pytest.raises(SequenceDataError, match="gone.csv: missing file"):
        list(batches)
    os.makedirs(path)
    with pytest.raises(SequenceDataError, match="gone.csv: cannot read file"):
        list(batches)


def test_a_partitioned_data_set_shares_out_its_files_row_groups(tmp_path):
    for label in (1, 0):
        folder = tmp_path / "data" / f"label={label}"
        folder.mkdir(parents=True)
        write_nested_parquet(folder / "part-0.parquet", [np.full((2, 1), label)] * 5, ["x"], row_group_size=2)
    seen = []
    for rank in range(2):
        batches = readers.SequenceBatches(readers.ParquetSequenceReader(tmp_path / "data"), batch_size=4,
                                          label_column="label", num_classes=2, sequence_labels=True,
                                          align="align_end", shard=(rank, 2), shard_by="unit")
        assert len(batches.share()) == 3
        for batch in batches:
            np.testing.assert_array_equal(batch.labels.argmax(axis=1), batch.features[:, 0, 0])
            seen += batch.keys
    assert len(seen) == len(set(seen)) == 10
