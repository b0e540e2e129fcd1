"""A reader of your own: subclass readers.SequenceReader, implement records(), use it everywhere."""

import numpy as np
import pytest
from seqdata import reference_batch, unpad, write_csv, write_numbered

import readers
from readers import SequenceDataError


class ArrayReader(readers.SequenceReader):
    """The simplest reader: sequences kept in memory; only `records()` is written."""

    def __init__(self, arrays, names, keys=None):
        self.arrays, self.names = arrays, names
        self.keys = keys if keys is not None else [f"s{i}" for i in range(len(arrays))]

    def records(self):
        for key, values in zip(self.keys, self.arrays):
            yield values, self.names, key


class ItemsReader(readers.SequenceReader):
    """Yields whatever it is given, as records (for the error cases)."""

    def __init__(self, items):
        self.items = items

    def records(self):
        yield from self.items


def _data(n=11, seed=0, equal=False):
    rng = np.random.default_rng(seed)
    lf = [5] * n if equal else [int(x) for x in rng.integers(1, 7, n)]
    ll = lf if equal else [int(x) for x in rng.integers(1, 7, n)]
    feats = [rng.integers(-9, 9, size=(t, 3)).astype(float) for t in lf]
    labs = [rng.integers(0, 4, size=t) for t in ll]
    return feats, labs


def test_records_only_reader_iterates_and_knows_its_columns_len_and_repr():
    feats, _ = _data(n=3)
    reader = ArrayReader(feats, ["a", "b", "c"])
    assert isinstance(reader, readers.SequenceReader)
    assert reader.columns == ("a", "b", "c") and repr(reader) == "ArrayReader()"
    assert reader.num_sequences is None
    with pytest.raises(TypeError, match=r"ArrayReader\(\) is known only after it has been read once"):
        len(reader)
    records = list(reader)
    assert all(isinstance(r, readers.Record) for r in records)
    assert [r.key for r in records] == ["s0", "s1", "s2"] and len(reader) == 3
    for record, values in zip(records, feats):
        np.testing.assert_array_equal(record.values, values)
        assert record.values.dtype == np.float64 and record.columns == ("a", "b", "c")
    assert records[1].locate(2) == ("s1", 3)                      # the 1-based row of values
    chunks = list(reader.chunks(rows=2))
    assert [len(c) for c in chunks] == [2, 1] and isinstance(chunks[0], readers.Chunk)


@pytest.mark.parametrize("align", ["equal_length", "align_start", "align_end"])
@pytest.mark.parametrize("batch_size", [4, 11])
def test_features_and_labels_readers_in_sequence_batches(align, batch_size):
    feats, labs = _data(equal=align == "equal_length")
    features = ArrayReader(feats, ["a", "b", "c"])
    labels = ArrayReader([np.asarray(x)[:, None] for x in labs], ["class"])
    batches = readers.SequenceBatches(features, labels, batch_size=batch_size, num_classes=4, align=align)
    assert batches.feature_columns == ("a", "b", "c") and batches.label_columns == ("class",)
    got = list(batches)
    assert sum(len(b) for b in got) == 11
    for k, batch in enumerate(got):
        part = slice(batch_size * k, batch_size * k + len(batch))
        fx, fm, lx, lm = reference_batch(feats[part], labs[part], align, 4)
        np.testing.assert_array_equal(batch.features, fx)
        np.testing.assert_array_equal(batch.labels, lx)
        for mask, want in ((batch.features_mask, fm), (batch.labels_mask, lm)):
            np.testing.assert_array_equal(np.ones_like(want) if mask is None else mask, want)
        assert batch.keys == [f"s{i}" for i in range(11)[part]]


def test_shuffled_and_bucketed_labels_stay_with_their_features():
    rng = np.random.default_rng(3)
    n = 40
    feats = [np.full((int(t), 1), i, float) for i, t in enumerate(rng.integers(1, 9, n))]
    labs = [1000.0 * i + np.arange(int(t))[:, None] for i, t in enumerate(rng.integers(1, 9, n))]
    batches = readers.SequenceBatches(ArrayReader(feats, ["i"]), ArrayReader(labs, ["y"]), batch_size=3,
                                      regression=True, align="align_start", shuffle=True,
                                      bucket_by_length=True, seed=1)
    seen = []
    for batch in batches:
        for key, f, y in zip(batch.keys, unpad(batch.features, batch.features_mask),
                             unpad(batch.labels, batch.labels_mask)):
            i = int(f[0, 0])
            assert key == f"s{i}"
            np.testing.assert_array_equal(y, labs[i])
            seen.append(i)
    assert sorted(seen) == list(range(n)) and seen != list(range(n))


def test_shards_of_a_custom_reader_are_disjoint_and_cover_everything():
    feats, labs = _data(n=9)
    shares = []
    for rank in range(2):
        batches = readers.SequenceBatches(ArrayReader(feats, ["a", "b", "c"]),
                                          ArrayReader([np.asarray(x)[:, None] for x in labs], ["class"]),
                                          batch_size=2, num_classes=4, align="align_end", shard=(rank, 2))
        shares.append([k for b in batches for k in b.keys])
    assert shares == [[f"s{i}" for i in range(0, 9, 2)], [f"s{i}" for i in range(1, 9, 2)]]


def test_single_reader_with_text_class_labels():
    arrays = [np.array([[1.5, "up"], [2.0, "down"]], dtype=object), np.array([["3", " up "]])]
    reader = ArrayReader(arrays, ["x", "move"])
    (batch,) = readers.SequenceBatches(reader, batch_size=2, label_column="move", classes=["down", "up"],
                                       align="align_start")
    np.testing.assert_array_equal(batch.features[:, 0], [[1.5, 2.0], [3.0, 0.0]])
    np.testing.assert_array_equal(batch.labels.argmax(axis=1)[:, 0], [1, 1])
    assert batch.labels[0, 0, 1] == 1.0                           # "down" is class 0
    with pytest.raises(SequenceDataError, match=r"s0, row 2, column 'move': unknown class label"):
        list(readers.SequenceBatches(reader, batch_size=2, label_column="move", classes=["up"],
                                     align="align_start"))


def test_numeric_class_labels_matched_as_text():
    reader = ArrayReader([np.array([[0.5, 1.0], [0.1, 0.0]])], ["x", "c"])
    (batch,) = readers.SequenceBatches(reader, batch_size=1, label_column="c", classes=["1", "0"])
    np.testing.assert_array_equal(batch.labels[0].argmax(axis=0), [0, 1])


def test_write_parquet_and_read_back(tmp_path):
    feats, _ = _data(n=5)
    reader = ArrayReader(feats, ["a", "b", "c"], keys=[f"k{i}" for i in range(5)])
    sizes = []
    assert readers.write_parquet(reader, tmp_path / "o.parquet", progress=sizes.append) == 5
    assert sum(sizes) == 5
    back = list(readers.ParquetSequenceReader(tmp_path / "o.parquet"))
    assert [r.key for r in back] == [f"k{i}" for i in range(5)]
    for record, values in zip(back, feats):
        assert record.columns == ("a", "b", "c")
        np.testing.assert_array_equal(record.values, values)


def test_inspect_with_a_label_column_and_with_a_labels_reader():
    arrays = [np.array([[1.0, 0], [np.nan, 1]]), np.array([[2.0, 1]]), np.array([[3.0, 2]] * 3)]
    reader = ArrayReader(arrays, ["x", "label"])
    summary = readers.inspect(reader, label_column="label")
    assert (summary.sequences, summary.steps, summary.nan_count) == (3, 6, 1)
    assert summary.columns == ["x"] and summary.label_column == "label"
    assert summary.class_counts == {0: 1, 1: 2, 2: 3}
    assert summary.sequence_class_counts == {1: 2, 2: 1}
    assert summary.source == "ArrayReader()"
    labels = ArrayReader([np.array([["b"]]), np.array([["a"]]), np.array([["b"]])], ["name"])
    summary = readers.inspect(ArrayReader(arrays, ["x", "y"]), labels=labels, classes=["a", "b"])
    assert summary.label_column == "name" and summary.sequence_class_counts == {"a": 1, "b": 2}


def test_a_reader_passing_on_records_of_a_builtin_reader_keeps_their_file_rows(tmp_path):
    files = write_numbered(tmp_path / "f", [np.ones((2, 1)), np.array([[1.0], [np.nan]]), np.ones((3, 1))])
    csv = readers.CSVSequenceReader(files)

    class Longer(readers.SequenceReader):
        """Keeps the sequences of at least two steps."""

        def records(self):
            return (r for r in csv if len(r) >= 2)

    assert [r.key for r in Longer()] == list(files)
    with pytest.raises(SequenceDataError, match=r"1\.csv, row 2, column '0': feature value is not finite"):
        list(readers.SequenceBatches(Longer(), batch_size=3, align="align_start"))


def test_builtin_readers_are_sequence_readers_with_records(tmp_path):
    write_csv(tmp_path / "a.csv", [[1, 2], [3, 4]])
    csv = readers.CSVSequenceReader([tmp_path / "a.csv"])
    assert isinstance(csv, readers.SequenceReader)
    (record,) = csv.records()
    assert isinstance(record, readers.Record) and record.locate(1) == (str(tmp_path / "a.csv"), 2)
    readers.write_parquet(csv, tmp_path / "a.parquet")
    assert isinstance(readers.ParquetSequenceReader(tmp_path / "a.parquet"), readers.SequenceReader)


class BlockReader(readers.SequenceReader):
    """A reader that implements `chunks()` only: two sequences per chunk, columns from the first chunk."""

    def __init__(self, n):
        self.n = n

    def chunks(self, classes=None, *, rows=None):
        for start in range(0, self.n, 2):
            keys = [f"b{i}" for i in range(start, min(start + 2, self.n))]
            lengths = [i % 3 + 1 for i in range(start, start + len(keys))]
            offsets = np.concatenate([[0], np.cumsum(lengths)])
            values = np.concatenate([np.full(t, start + j, float) for j, t in enumerate(lengths)])
            yield readers.Chunk([values, values * 10], offsets, keys, ("v", "w"))


def test_chunks_only_reader_gets_records_columns_and_batches():
    reader = BlockReader(5)
    assert reader.columns == ("v", "w")
    records = list(reader.records())
    assert [r.key for r in records] == [f"b{i}" for i in range(5)]
    np.testing.assert_array_equal(records[2].values, [[2, 20], [2, 20], [2, 20]])
    assert records[4].locate(1) == ("b4", 2)                     # the default locate
    batches = list(readers.SequenceBatches(reader, batch_size=2, align="align_start", label_column="w",
                                           regression=True, shuffle=True, seed=0))
    assert sorted(k for b in batches for k in b.keys) == [f"b{i}" for i in range(5)]
    with pytest.raises(TypeError, match="known only after"):
        len(reader)                                              # a chunks() reader says when it knows


def test_columns_and_count_given_up_front():
    reads = []

    class Counted(readers.SequenceReader):
        def __init__(self):
            self.columns = ["x"]
            self.num_sequences = 2

        def records(self):
            for i in range(2):
                reads.append(i)
                yield np.ones((1, 1)), ["x"], i

    reader = Counted()
    assert reader.columns == ("x",) and len(reader) == 2 and reads == []
    assert len(readers.SequenceBatches(reader, batch_size=1)) == 2
    assert [r.key for r in reader] == ["0", "1"]                  # keys become text
    reader.num_sequences = None
    assert reader.num_sequences == 2                              # known from the read
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="num_sequences"):
            reader.num_sequences = bad


class PositionalReader(ArrayReader):
    """An `ArrayReader` whose sequences pair by position (`pair_keys` gives None)."""

    def pair_keys(self, keys):
        return None


def test_counts_of_custom_readers_compared_when_one_runs_out():
    features = PositionalReader([np.ones((1, 1))] * 3, ["x"])
    labels = PositionalReader([np.zeros((1, 1))] * 2, ["c"], keys=["other0", "other1"])
    for shuffle in (False, True):
        with pytest.raises(SequenceDataError, match="3 features and 2 labels"):
            list(readers.SequenceBatches(features, labels, batch_size=2, num_classes=2, shuffle=shuffle))
    # By key (the default for a reader of your own), the extra sequence is named.
    features, labels = ArrayReader([np.ones((1, 1))] * 3, ["x"]), ArrayReader([np.zeros((1, 1))] * 2, ["c"])
    for shuffle in (False, True):
        with pytest.raises(SequenceDataError, match=r"^s2, row 1: key 's2' is in the features only"):
            list(readers.SequenceBatches(features, labels, batch_size=2, num_classes=2, shuffle=shuffle))


_GOOD = (np.ones((2, 1)), ["x"], "k")


@pytest.mark.parametrize("items, message", [
    ([[np.ones((2, 1)), ["x"], "k"]], r"sequence 0 of ItemsReader\(\) is not a record .*found list"),
    ([_GOOD, (np.ones((2, 1)), ["x"])], r"sequence 1 of ItemsReader\(\) is not a record .*found a tuple of 2"),
    ([(np.ones((2, 1)), ["x"], None)], r"sequence 0 of ItemsReader\(\) has no key"),
    ([(np.ones((2, 1)), "x", "k")], r"k: column names are not a list"),
    ([(np.ones((2, 1)), 7, "k")], r"k: column names are not a list"),
    ([(np.ones(2), ["x"], "k")], r"k: values are not a 2-D array \(expected shape \[T, C\], found shape \(2,\)\)"),
    ([(np.ones((2, 1, 1)), ["x"], "k")], r"values are not a 2-D array"),
    ([([[1, 2], [3]], ["x", "y"], "k")], r"k: values are not a 2-D array .*rows of different lengths"),
    ([(np.ones((2, 2)), ["x"], "k")], r"k: values and column names differ in number \(expected 1 columns"),
    ([(np.ones((0, 1)), ["x"], "k")], r"k: empty sequence \(expected at least one step, found 0 steps\)"),
    ([_GOOD, (np.ones((2, 1)), ["y"], "k2")], r"k2: columns differ from the first sequence's"),
    ([(np.array([["1"], ["abc"]]), ["x"], "k")], r"k, row 2, column 'x': non-numeric value .*'abc'"),
    ([(np.array([[1.0], [{}]], dtype=object), ["x"], "k")], r"k, row 2, column 'x': non-numeric value .*\{\}"),
    ([(np.ones((2, 1), dtype=complex), ["x"], "k")], r"k: values are not numbers .*complex128"),
])
def test_bad_records_are_sequence_data_errors(items, message):
    for use in (list, lambda r: list(readers.SequenceBatches(r, batch_size=4, align="align_start")),
                lambda r: readers.inspect(r)):
        with pytest.raises(SequenceDataError, match=message):
            use(ItemsReader(items))


def test_write_parquet_reports_bad_records(tmp_path):
    with pytest.raises(SequenceDataError, match="empty sequence"):
        readers.write_parquet(ItemsReader([_GOOD, (np.ones((0, 1)), ["x"], "e")]), tmp_path / "o.parquet")


def test_object_values_numbers_as_text_and_none_as_nan():
    class Number:
        def __float__(self):
            return 2.5

    values = np.array([["1.5", None], [Number(), 3]], dtype=object)
    (record,) = ItemsReader([(values, ["x", "y"], "k")])
    np.testing.assert_array_equal(record.values, [[1.5, np.nan], [2.5, 3.0]])
    assert readers.inspect(ItemsReader([(values, ["x", "y"], "k")])).nan_count == 1

    class Odd:
        def __float__(self):
            raise ValueError("no")

    with pytest.raises(SequenceDataError, match=r"row 1, column 'x': non-numeric value"):
        list(ItemsReader([(np.array([[Odd()]], dtype=object), ["x"], "k")]))


def test_a_reader_with_no_records_has_no_columns():
    reader = ItemsReader([])
    assert list(reader) == [] and len(reader) == 0
    with pytest.raises(SequenceDataError, match=r"ItemsReader\(\): no sequences, so no column names"):
        _ = reader.columns


def test_a_reader_implementing_nothing_says_so():
    class Nothing(readers.SequenceReader):
        pass

    for call in (lambda r: r.records(), lambda r: r.chunks(), list):
        with pytest.raises(NotImplementedError, match=r"Nothing must implement records\(\)"):
            call(Nothing())


def test_rows_hint_must_be_positive():
    reader = ArrayReader([np.ones((1, 1))], ["x"])
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="rows must be a positive int"):
            reader.chunks(rows=bad)


def test_things_that_are_not_readers_are_refused(tmp_path):
    records = [readers.Record(np.ones((1, 1)), ("x",), "k")]
    good = ArrayReader([np.ones((1, 1))], ["x"])
    with pytest.raises(TypeError, match="features must be a readers.SequenceReader .* got list"):
        readers.SequenceBatches(records, batch_size=1)
    with pytest.raises(TypeError, match="labels must be a readers.SequenceReader"):
        readers.SequenceBatches(good, records, batch_size=1, regression=True)
    with pytest.raises(TypeError, match="reader must be a readers.SequenceReader"):
        readers.write_parquet(records, tmp_path / "o.parquet")
    with pytest.raises(TypeError, match="reader must be a readers.SequenceReader"):
        readers.inspect(records)
    with pytest.raises(TypeError, match="labels must be a readers.SequenceReader"):
        readers.inspect(good, labels=records)


class BadChunks(readers.SequenceReader):
    columns = ("x",)

    def __init__(self, chunks):
        self.given = chunks

    def chunks(self, classes=None, *, rows=None):
        yield from self.given


def test_chunks_that_are_not_chunks_or_have_other_columns_are_errors(tmp_path):
    other = readers.Chunk([np.ones(2)], [0, 2], ["k"], ("y",))
    for chunks, message in (([object()], r"yielded something else than a readers.Chunk .*found object"),
                            ([other], r"k: .*yielded a chunk with other columns \(expected \['x'\]")):
        for use in (lambda r: list(readers.SequenceBatches(r, batch_size=1)),
                    lambda r: list(readers.SequenceBatches(r, batch_size=1, shuffle=True)),
                    readers.inspect, lambda r: readers.write_parquet(r, tmp_path / "o.parquet")):
            with pytest.raises(SequenceDataError, match=message):
                use(BadChunks(chunks))


@pytest.mark.parametrize("args, message", [
    (([np.ones(2)], [[0, 2]], ["k"], ("x",)), "offsets must be a 1-D integer array"),
    (([np.ones(2)], [], [], ("x",)), "offsets must be a 1-D integer array"),
    (([np.ones(2)], [0.0, 2.0], ["k"], ("x",)), "offsets must be a 1-D integer array"),
    (([np.ones(2)], [1, 2], ["k"], ("x",)), "offsets must start at 0 and never decrease"),
    (([np.ones(2)], [0, 2, 1], ["k", "j"], ("x",)), "offsets must start at 0 and never decrease"),
    (([np.ones(2)], [0, 2], ["k", "j"], ("x",)), "1 sequences .offsets. but 2 keys"),
    (([np.ones(2)], [0, 2], ["k"], ("x", "y")), "1 channels but 2 column names"),
    (([np.ones(3)], [0, 2], ["k"], ("x",)), r"channel 'x' must be 1-D with 2 steps"),
    (([np.ones((2, 1))], [0, 2], ["k"], ("x",)), r"channel 'x' must be 1-D with 2 steps"),
])
def test_chunk_checks_its_parts(args, message):
    with pytest.raises(ValueError, match=message):
        readers.Chunk(*args)
