"""Features and labels pair by key, never by position (streamed, shuffled, bucketed, sharded)."""

import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from seqdata import unpad, write_csv, write_long_csv, write_long_parquet

import readers
from readers import SequenceDataError

N = 30


def _sequences(seed=0):
    """N features sequences whose every value is 100 * i (i the sequence), and their labels i."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 5, N)
    feats = [np.full((int(t), 1), 100.0 * i) for i, t in enumerate(lengths)]
    labels = [np.full((1, 1), float(i)) for i in range(N)]
    return feats, labels


def _check_paired(batches, n=N):
    """Every example's label is its own: features 100 * i, label i; each i exactly once."""
    seen = []
    for batch in batches:
        for f, y in zip(unpad(batch.features, batch.features_mask), batch.labels[:, 0]):
            assert f[0, 0] == 100 * y, (f[0, 0], y)
            seen.append(int(y))
    assert sorted(seen) == list(range(n))
    return seen


def _long_csv_pair(tmp_path, seed=0):
    feats, labels = _sequences()
    ids = [f"s{i}" for i in range(N)]
    rng = np.random.default_rng(seed)
    f = write_long_csv(tmp_path / "f.csv", feats, ids, ["x"], rng=rng)          # rows shuffled
    order = rng.permutation(N)
    lab = write_long_csv(tmp_path / "l.csv", [labels[i] for i in order], [ids[i] for i in order], ["y"])
    return (readers.CSVSequenceReader(f, id_column="id", order_column="t"),
            readers.CSVSequenceReader(lab, id_column="id", order_column="t"))


def _long_parquet_pair(tmp_path):
    feats, labels = _sequences()
    ids = [f"s{i}" for i in range(N)]
    order = np.random.default_rng(2).permutation(N)
    f = write_long_parquet(tmp_path / "f.parquet", feats, ids, ["x"])
    lab = write_long_parquet(tmp_path / "l.parquet", [labels[i] for i in order], [ids[i] for i in order], ["y"])
    return (readers.ParquetSequenceReader(f, id_column="id", order_column="t"),
            readers.ParquetSequenceReader(lab, id_column="id", order_column="t"))


def _nested_pair(tmp_path):
    feats, labels = _sequences()
    order = np.random.default_rng(3).permutation(N)

    def write(path, seqs, keys):
        pq.write_table(pa.table({"x": pa.array([s[:, 0].tolist() for s in seqs], pa.list_(pa.float64())),
                                 "name": keys}), path, row_group_size=7)
        return readers.ParquetSequenceReader(path, key_column="name")
    return (write(tmp_path / "f.parquet", feats, [f"s{i}" for i in range(N)]),
            write(tmp_path / "l.parquet", [labels[i] for i in order], [f"s{i}" for i in order]))


def _numbered_pair(tmp_path):
    """Features `f/%d.csv`, labels `l/%03d.csv` numbered from 0 and 3 (the same sequences)."""
    feats, labels = _sequences()
    os.makedirs(tmp_path / "f")
    os.makedirs(tmp_path / "l")
    for i in range(N):
        write_csv(tmp_path / "f" / f"{i}.csv", feats[i])
        write_csv(tmp_path / "l" / f"{i:03d}.csv", labels[i])
    return (readers.CSVSequenceReader(readers.NumberedFiles(str(tmp_path / "f" / "%d.csv"), 0, N - 1)),
            readers.CSVSequenceReader(readers.NumberedFiles(str(tmp_path / "l" / "%03d.csv"), 0, N - 1)))


def _directory_pair(tmp_path):
    """Features in a directory (natural order); labels by a glob over two folders: another order."""
    feats, labels = _sequences()
    for sub in ("f", "l/odd", "l/even"):
        os.makedirs(tmp_path / sub)
    for i in range(N):
        write_csv(tmp_path / "f" / f"run{i}.csv", feats[i])
        write_csv(tmp_path / "l" / ("odd" if i % 2 else "even") / f"run{i}.txt", labels[i])
    labels = readers.CSVSequenceReader(str(tmp_path / "l" / "*" / "*.txt"))
    assert [r.values[0, 0] for r in labels][:2] == [0, 2]            # even/run0, even/run2, ...
    return readers.CSVSequenceReader(str(tmp_path / "f")), labels


PAIRS = {"long CSV": _long_csv_pair, "long Parquet": _long_parquet_pair, "nested Parquet": _nested_pair,
         "numbered files": _numbered_pair, "directories": _directory_pair}


@pytest.mark.parametrize("make", PAIRS.values(), ids=PAIRS.keys())
@pytest.mark.parametrize("options", [{}, {"shuffle": True, "seed": 4}, {"bucket_by_length": True},
                                     {"batch_size": 1}], ids=["streamed", "shuffled", "bucketed", "one"])
def test_labels_in_another_order_pair_by_key(tmp_path, make, options):
    features, labels = make(tmp_path)
    kwargs = {"batch_size": 4, "regression": True, "sequence_labels": True, "align": "align_start", **options}
    batches = readers.SequenceBatches(features, labels, **kwargs)
    seen = _check_paired(batches)
    if not options:
        # Streamed batches follow the features reader's order.
        assert seen == [int(k) for k in np.concatenate([b.features[:, 0, 0] for b in batches]) // 100]


@pytest.mark.parametrize("shuffle", [False, True])
def test_shards_pair_by_key_and_cover_everything(tmp_path, shuffle):
    features, labels = _long_csv_pair(tmp_path)
    shares = []
    for rank in range(3):
        batches = readers.SequenceBatches(features, labels, batch_size=4, regression=True, sequence_labels=True,
                                          align="align_start", shard=(rank, 3), shuffle=shuffle, seed=1)
        shares.append([k for b in batches for k in b.keys])
        for batch in batches:
            for f, y in zip(unpad(batch.features, batch.features_mask), batch.labels[:, 0]):
                assert f[0, 0] == 100 * y
    assert sorted(k for share in shares for k in share) == sorted(f"s{i}" for i in range(N))
    assert [len(s) for s in shares] == [10, 10, 10]


def test_keys_in_the_same_order_wait_for_nothing(tmp_path):
    features, _ = _long_csv_pair(tmp_path)
    feats, labels = _sequences()
    ids = [r.key for r in features]                                 # the features' order
    lab = write_long_csv(tmp_path / "same.csv", [labels[int(k[1:])] for k in ids], ids, ["y"])
    labels = readers.CSVSequenceReader(lab, id_column="id", order_column="t")
    batches = readers.SequenceBatches(features, labels, batch_size=4, regression=True, sequence_labels=True,
                                      align="align_start")
    assert [k for b in batches for k in b.keys] == ids
    _check_paired(batches)


class Feats(readers.SequenceReader):
    """A reader of your own whose keys are `feat_i`; `pair_keys` maps them to `i`."""

    def __init__(self, keys):
        self._keys = keys

    def records(self):
        for k in self._keys:
            yield np.full((2, 1), 100.0 * k), ["x"], f"feat_{k}"

    def pair_keys(self, keys):
        return [k.split("_")[1] for k in keys]


class Labs(Feats):
    def records(self):
        for k in self._keys:
            yield np.full((1, 1), float(k)), ["y"], f"lab_{k}"


@pytest.mark.parametrize("shuffle", [False, True])
def test_readers_of_your_own_pair_by_the_keys_they_give(shuffle):
    batches = readers.SequenceBatches(Feats(range(N)), Labs(list(reversed(range(N)))), batch_size=4,
                                      regression=True, sequence_labels=True, align="align_start",
                                      shuffle=shuffle, seed=0)
    _check_paired(batches)
    with pytest.raises(SequenceDataError, match=r"^feat_3, row 1: key '3' is in the features only"):
        list(readers.SequenceBatches(Feats([3]), Labs([4]), batch_size=1, regression=True, shuffle=shuffle))


def test_listed_files_and_unkeyed_nested_rows_pair_by_position(tmp_path):
    feats, labels = _sequences()
    for i in range(3):
        write_csv(tmp_path / f"a{i}.csv", feats[i])
        write_csv(tmp_path / f"b{2 - i}.csv", labels[i])              # names differ: no key to pair by
    features = readers.CSVSequenceReader([tmp_path / f"a{i}.csv" for i in range(3)])
    listed = readers.CSVSequenceReader([tmp_path / f"b{2 - i}.csv" for i in range(3)])
    assert features.pair_keys(["x"]) is None and listed.pair_keys(["x"]) is None
    _check_paired(readers.SequenceBatches(features, listed, batch_size=2, regression=True, sequence_labels=True,
                                          align="align_start"), n=3)
    rows = tmp_path / "rows.parquet"
    pq.write_table(pa.table({"y": pa.array([[float(i)] for i in range(3)], pa.list_(pa.float64()))}), rows)
    nested = readers.ParquetSequenceReader(rows)                     # keys path#row: by position
    assert nested.pair_keys(["x"]) is None
    _check_paired(readers.SequenceBatches(features, nested, batch_size=2, regression=True, sequence_labels=True,
                                          align="align_start"), n=3)


def test_a_keyed_reader_with_an_unkeyed_one_pairs_by_position(tmp_path):
    features, _ = _numbered_pair(tmp_path)
    labels = readers.CSVSequenceReader([tmp_path / "l" / f"{i:03d}.csv" for i in range(N)])   # a list
    _check_paired(readers.SequenceBatches(features, labels, batch_size=7, regression=True, sequence_labels=True,
                                          align="align_start"))


@pytest.mark.parametrize("shuffle", [False, True])
def test_keys_on_one_side_only_are_named_with_their_side(tmp_path, shuffle):
    f = write_long_csv(tmp_path / "f.csv", [np.ones((1, 1))] * 3, ["a", "b", "c"], ["x"])
    lab = write_long_csv(tmp_path / "l.csv", [np.zeros((1, 1))] * 3, ["c", "b", "z"], ["y"])
    batches = readers.SequenceBatches(readers.CSVSequenceReader(f, id_column="id"),
                                      readers.CSVSequenceReader(lab, id_column="id"), batch_size=2,
                                      num_classes=2, shuffle=shuffle)
    with pytest.raises(SequenceDataError) as info:
        list(batches)
    assert str(info.value).startswith(f"{f}, row 2: key 'a' is in the features only (expected a labels sequence "
                                      "with key 'a', found none); features and labels pair by key")
    assert (info.value.source, info.value.row) == (f, 2)
    extra = write_long_csv(tmp_path / "m.csv", [np.zeros((1, 1))] * 4, ["c", "b", "a", "z"], ["y"])
    batches = readers.SequenceBatches(readers.CSVSequenceReader(f, id_column="id"),
                                      readers.CSVSequenceReader(extra, id_column="id"), batch_size=2,
                                      num_classes=2, shuffle=shuffle)
    with pytest.raises(SequenceDataError, match=r"m\.csv, row 5: key 'z' is in the labels only \(expected a "
                                                r"features sequence with key 'z', found none\)"):
        list(batches)


@pytest.mark.parametrize("shuffle", [False, True])
def test_repeated_keys_are_errors(tmp_path, shuffle):
    def nested(name, keys):
        path = tmp_path / f"{name}.parquet"
        pq.write_table(pa.table({"x": pa.array([[1.0]] * len(keys), pa.list_(pa.float64())), "key": keys}), path)
        return readers.ParquetSequenceReader(path)

    with pytest.raises(SequenceDataError, match=r"l\.parquet, row 2: key 'a' repeats in the labels, so it cannot "
                                                r"pair .*found it again \(first at .*l\.parquet, row 1\)"):
        list(readers.SequenceBatches(nested("f", ["a", "b"]), nested("l", ["a", "a"]), batch_size=2,
                                     num_classes=2, shuffle=shuffle))
    repeated_features = readers.SequenceBatches(nested("g", ["a", "a"]), nested("m", ["a", "b"]), batch_size=2,
                                                num_classes=2, shuffle=shuffle)
    # Shuffled, both readers are in memory and the repeat is named; streamed, the second 'a' finds no
    # labels sequence left.
    said = "repeats in the features" if shuffle else "is in the features only"
    with pytest.raises(SequenceDataError, match=rf"g\.parquet, row 2: key 'a' {said}"):
        list(repeated_features)


def test_files_of_one_name_in_a_glob_cannot_pair_by_name(tmp_path):
    for sub in ("x", "y"):
        os.makedirs(tmp_path / "f" / sub)
        write_csv(tmp_path / "f" / sub / "s.csv", [[1.0]])
    write_csv(tmp_path / "l0.csv", [[0.0]])
    write_csv(tmp_path / "l1.csv", [[0.0]])
    features = readers.CSVSequenceReader(str(tmp_path / "f" / "*" / "s.csv"))
    labels = readers.CSVSequenceReader(str(tmp_path / "l*.csv"))
    with pytest.raises(SequenceDataError, match=r"y/s\.csv: two files share a name, and files of a directory or "
                                                r"glob pair with labels by name .*; pass the files as a list"):
        list(readers.SequenceBatches(features, labels, batch_size=2, num_classes=2))


def test_pair_keys_must_give_one_key_per_sequence():
    class Broken(Feats):
        def pair_keys(self, keys):
            return ["k"] if keys else []

    with pytest.raises(ValueError, match="pair_keys returned 1 keys for a chunk of 3 sequences"):
        list(readers.SequenceBatches(Broken(range(3)), Labs(range(3)), batch_size=3, regression=True))


def test_kinds_of_keys_mix_numbered_files_with_a_labels_table(tmp_path):
    features, _ = _numbered_pair(tmp_path)
    _, labels = _sequences()
    order = np.random.default_rng(5).permutation(N)
    table = write_long_csv(tmp_path / "labels.csv", [labels[i] for i in order], [str(i) for i in order], ["y"])
    batches = readers.SequenceBatches(features, readers.CSVSequenceReader(table, id_column="id", order_column="t"),
                                      batch_size=8, regression=True, sequence_labels=True, align="align_start")
    _check_paired(batches)
