"""SequenceBatches: padding against a plain-loop reference, labels, options, errors."""

import numpy as np
import pytest
from seqdata import reference_batch, unpad, write_csv, write_long_csv, write_numbered

import readers
from readers import SequenceDataError


def _pair(tmp_path, feats, labs):
    features = readers.CSVSequenceReader(write_numbered(tmp_path / "f", feats))
    labels = readers.CSVSequenceReader(write_numbered(tmp_path / "l", [np.asarray(x)[:, None] for x in labs]))
    return features, labels


def _random_pair(tmp_path, n=11, equal=False, seed=0):
    rng = np.random.default_rng(seed)
    lf = [5] * n if equal else [int(x) for x in rng.integers(1, 7, n)]
    ll = lf if equal else [int(x) for x in rng.integers(1, 7, n)]
    feats = [rng.integers(-9, 9, size=(t, 3)).astype(float) for t in lf]
    labs = [rng.integers(0, 4, size=t) for t in ll]
    return feats, labs, _pair(tmp_path, feats, labs)


@pytest.mark.parametrize("align", ["equal_length", "align_start", "align_end"])
def test_padding_matches_plain_loop_reference(tmp_path, align):
    feats, labs, (features, labels) = _random_pair(tmp_path, equal=align == "equal_length")
    batches = list(readers.SequenceBatches(features, labels, batch_size=4, num_classes=4, align=align))
    assert [len(b) for b in batches] == [4, 4, 3]
    for k, batch in enumerate(batches):
        fx, fm, lx, lm = reference_batch(feats[4 * k:4 * k + 4], labs[4 * k:4 * k + 4], align, 4)
        np.testing.assert_array_equal(batch.features, fx)
        np.testing.assert_array_equal(batch.labels, lx)
        for got, want in ((batch.features_mask, fm), (batch.labels_mask, lm)):
            if got is None:
                assert want.all()                      # None only when nothing is padded
            else:
                np.testing.assert_array_equal(got, want)
                assert got.dtype == np.float32 and not want.all()
        assert batch.keys == [features._paths[i] for i in range(4 * k, 4 * k + len(batch))]


def test_batch_helpers(tmp_path):
    _, _, (features, labels) = _random_pair(tmp_path, n=3)
    batch = next(iter(readers.SequenceBatches(features, labels, batch_size=3, num_classes=4,
                                              align="align_start")))
    assert len(batch) == 3 and batch.as_tuple()[0] is batch.features
    assert "features=[3, 3," in repr(batch)


def test_equal_length_error_names_the_sequence(tmp_path):
    features, labels = _pair(tmp_path, [np.ones((3, 1)), np.ones((2, 1))], [[0, 0, 0], [0, 0]])
    with pytest.raises(SequenceDataError, match=r"1\.csv.*align_start") as info:
        list(readers.SequenceBatches(features, labels, batch_size=2, num_classes=2))
    assert "expected 3 steps" in str(info.value) and "found 2 steps" in str(info.value)
    features, labels = _pair(tmp_path / "b", [np.ones((3, 1))], [[1]])
    with pytest.raises(SequenceDataError, match=r"labels of sequence .*0\.csv"):
        list(readers.SequenceBatches(features, labels, batch_size=1, num_classes=2))


@pytest.mark.parametrize("label, message", [
    (3, r"row 2, column '0': class index out of range \(expected an integer in \[0, 3\), found 3\)"),
    (1.5, r"row 2, column '0': class label is not an integer"),
    (-1, "class index out of range"),
])
def test_class_label_errors_name_file_and_row(tmp_path, label, message):
    features, labels = _pair(tmp_path, [np.ones((2, 1))] * 3, [[0, 1], [1, 2], [2, label]])
    with pytest.raises(SequenceDataError, match=message) as info:
        list(readers.SequenceBatches(features, labels, batch_size=2, num_classes=3))
    assert info.value.source == labels._paths[2]


def test_integral_float_labels_are_classes(tmp_path):
    (tmp_path / "l.csv").write_text("1.0\n2.00\n")
    write_csv(tmp_path / "f.csv", [[0], [0]])
    reader = readers.SequenceBatches(readers.CSVSequenceReader([tmp_path / "f.csv"]),
                                     readers.CSVSequenceReader([tmp_path / "l.csv"]),
                                     batch_size=1, num_classes=3)
    np.testing.assert_array_equal(next(iter(reader)).labels[0].argmax(axis=0), [1, 2])


def test_nan_and_inf_in_features(tmp_path):
    feats = [np.ones((3, 2)), np.array([[1.0, 2.0], [np.nan, 4.0]]), np.array([[np.inf, 1.0]])]
    features, labels = _pair(tmp_path, feats, [[0], [1], [0]])
    batches = readers.SequenceBatches(features, labels, batch_size=3, num_classes=2, align="align_end")
    with pytest.raises(SequenceDataError, match=r"1\.csv, row 2, column '0': feature value is not finite"):
        list(batches)
    kept = readers.SequenceBatches(features, labels, batch_size=3, num_classes=2, align="align_end",
                                   allow_nan=True)
    (batch,) = kept
    assert np.isnan(batch.features[1, 0, 1]) and np.isinf(batch.features[2, 0, 0])


def test_nan_in_regression_labels(tmp_path):
    write_csv(tmp_path / "f.csv", [[1, 0.5], [2, float("nan")]])
    reader = readers.CSVSequenceReader([tmp_path / "f.csv"])
    with pytest.raises(SequenceDataError, match=r"f\.csv, row 2, column '1': label value"):
        list(readers.SequenceBatches(reader, batch_size=1, label_column=1, regression=True))
    with pytest.raises(SequenceDataError, match=r"row 2, column '1': label value"):
        list(readers.SequenceBatches(reader, batch_size=1, label_column=1, regression=True,
                                     sequence_labels=True))


def test_reader_counts_differ_known_sizes(tmp_path):
    features, labels = _pair(tmp_path, [np.ones((1, 1))] * 3, [[0]] * 2)
    batches = readers.SequenceBatches(features, labels, batch_size=2, num_classes=2)
    for call in (len, iter):
        with pytest.raises(SequenceDataError, match="different numbers of sequences") as info:
            call(batches)
        assert "3 features and 2 labels" in str(info.value)


def test_reader_counts_differ_long_tables(tmp_path):
    f = write_long_csv(tmp_path / "f.csv", [np.ones((2, 1))] * 5, list("abcde"), ["v"])
    l_ = write_long_csv(tmp_path / "l.csv", [np.zeros((1, 1))] * 4, list("abcd"), ["c"])
    batches = readers.SequenceBatches(
        readers.CSVSequenceReader(f, skip_lines=1, id_column="id", order_column="t"),
        readers.CSVSequenceReader(l_, skip_lines=1, id_column="id", order_column="t"),
        batch_size=2, num_classes=2, align="align_end")
    with pytest.raises(SequenceDataError, match=r"f\.csv, row 10: key 'e' is in the features only \(expected a "
                                                 r"labels sequence with key 'e', found none\); features and "
                                                 "labels pair by key") as info:
        list(batches)
    assert (info.value.source, info.value.row) == (f, 10)


def _keys(batches):
    return [k for b in batches for k in b.keys]


def test_shuffle_is_reproducible_and_reshuffles_per_epoch(tmp_path):
    feats, labs, (features, labels) = _random_pair(tmp_path, n=20)

    def make(seed):
        return readers.SequenceBatches(features, labels, batch_size=3, num_classes=4,
                                       align="align_start", shuffle=True, seed=seed)
    a, b, c = make(1), make(1), make(2)
    first = _keys(a)
    assert first == _keys(b) and first != _keys(c)
    assert sorted(first) == sorted(features._paths)
    second = _keys(a)
    assert second != first and second == _keys(b)          # epoch 1 of both
    a.set_epoch(0)
    assert _keys(a) == first
    # Features and labels stay paired under shuffling: each example holds the features and the
    # labels of the sequence its key names.
    paths = list(features.source)
    for batch in make(3):
        examples = zip(batch.keys, unpad(batch.features, batch.features_mask),
                       unpad(batch.labels, batch.labels_mask))
        for key, x, y in examples:
            i = paths.index(key)
            np.testing.assert_array_equal(x, feats[i])
            np.testing.assert_array_equal(y.argmax(axis=1), labs[i])


@pytest.mark.parametrize("align", ["align_start", "align_end"])
@pytest.mark.parametrize("shuffle, bucket", [(True, False), (False, True), (True, True)])
def test_every_label_belongs_to_its_features_when_reordered(tmp_path, align, shuffle, bucket):
    # Sequence i: features (i, t) and labels 1000 i + t, of unrelated lengths, in two readers.
    rng = np.random.default_rng(7)
    n = 60
    lf, ll = rng.integers(1, 12, n), rng.integers(1, 12, n)
    feats = [np.column_stack([np.full(t, i), np.arange(t)]).astype(float) for i, t in enumerate(lf)]
    labs = [(1000.0 * i + np.arange(t))[:, None] for i, t in enumerate(ll)]
    features = readers.CSVSequenceReader(write_numbered(tmp_path / "f", feats))
    labels = readers.CSVSequenceReader(write_numbered(tmp_path / "l", labs))
    batches = readers.SequenceBatches(features, labels, batch_size=4, regression=True, align=align,
                                      shuffle=shuffle, bucket_by_length=bucket, seed=2)
    paths, seen = list(features.source), []
    for batch in batches:
        examples = zip(batch.keys, unpad(batch.features, batch.features_mask),
                       unpad(batch.labels, batch.labels_mask))
        for key, x, y in examples:
            i = int(x[0, 0])
            assert key == paths[i]
            np.testing.assert_array_equal(x, feats[i])
            np.testing.assert_array_equal(y, labs[i])
            seen.append(i)
    assert sorted(seen) == list(range(n)) and seen != list(range(n))     # all of them, reordered


def test_bucket_by_length_reduces_padding_and_loses_nothing(tmp_path):
    rng = np.random.default_rng(4)
    feats = [np.full((int(t), 1), i, float) for i, t in enumerate(rng.integers(1, 40, 60))]
    reader = readers.CSVSequenceReader(write_numbered(tmp_path / "f", feats))

    def padding(batches):
        return sum(b.features_mask.size - b.features_mask.sum() if b.features_mask is not None else 0
                   for b in batches)
    plain = list(readers.SequenceBatches(reader, batch_size=6, align="align_start"))
    for shuffle in (False, True):
        bucketed = list(readers.SequenceBatches(reader, batch_size=6, align="align_start",
                                                bucket_by_length=True, shuffle=shuffle, seed=0))
        assert padding(bucketed) < padding(plain) / 3
        assert sorted(_keys(bucketed)) == sorted(_keys(plain))
        for batch in bucketed:
            for seq in unpad(batch.features, batch.features_mask):
                i = int(seq[0, 0])
                np.testing.assert_array_equal(seq, feats[i])


@pytest.mark.parametrize("shuffle", [False, True])
def test_shards_are_disjoint_and_cover_everything(tmp_path, shuffle):
    _, _, (features, labels) = _random_pair(tmp_path, n=23)
    shares = []
    for rank in range(3):
        batches = readers.SequenceBatches(features, labels, batch_size=4, num_classes=4,
                                          align="align_start", shard=(rank, 3), shuffle=shuffle, seed=5)
        keys = _keys(batches)
        assert len(batches) == -(-len(keys) // 4)
        shares.append(keys)
    assert sorted(k for share in shares for k in share) == sorted(features._paths)
    assert [len(s) for s in shares] == [8, 8, 7]


def test_shard_validation_and_auto(monkeypatch, tmp_path):
    _, _, (features, _) = _random_pair(tmp_path, n=4)
    for bad in [(3, 3), (-1, 2), (0, 0), "x", (1.0, 2)]:
        with pytest.raises(ValueError):
            readers.SequenceBatches(features, batch_size=1, shard=bad)
    with pytest.raises(ValueError, match="seed"):
        readers.SequenceBatches(features, batch_size=1, shard=(0, 2), shuffle=True)
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    auto = readers.SequenceBatches(features, batch_size=1, shard="auto", align="align_start")
    assert (auto.rank, auto.world_size) == (1, 2)
    assert _keys(auto) == [features._paths[1], features._paths[3]]


def test_drop_last_and_len(tmp_path):
    _, _, (features, labels) = _random_pair(tmp_path, n=10)
    kw = {"num_classes": 4, "align": "align_start"}
    assert len(readers.SequenceBatches(features, labels, batch_size=4, **kw)) == 3
    kept = readers.SequenceBatches(features, labels, batch_size=4, drop_last=True, **kw)
    assert len(kept) == 2 and [len(b) for b in kept] == [4, 4]
    shuffled = readers.SequenceBatches(features, labels, batch_size=4, drop_last=True, shuffle=True,
                                       seed=0, bucket_by_length=True, **kw)
    assert [len(b) for b in shuffled] == [4, 4]


def test_len_unknown_for_long_tables_until_read(tmp_path):
    path = write_long_csv(tmp_path / "l.csv", [np.ones((2, 1))] * 3, list("abc"), ["v"])
    reader = readers.CSVSequenceReader(path, skip_lines=1, id_column="id", order_column="t")
    batches = readers.SequenceBatches(reader, batch_size=2)
    with pytest.raises(TypeError):
        len(batches)
    assert len(list(batches)) == 2 and len(batches) == 2


def test_sequence_labels_classification_and_regression(tmp_path):
    feats = [np.ones((3, 1)), np.ones((1, 1))]
    features, labels = _pair(tmp_path, feats, [[0, 0, 2], [1]])
    (batch,) = readers.SequenceBatches(features, labels, batch_size=2, num_classes=3,
                                       sequence_labels=True, align="align_start")
    np.testing.assert_array_equal(batch.labels, [[0, 0, 1], [0, 1, 0]])
    assert batch.labels_mask is None
    np.testing.assert_array_equal(batch.features_mask, [[1, 1, 1], [1, 0, 0]])
    (batch,) = readers.SequenceBatches(features, labels, batch_size=2, regression=True,
                                       sequence_labels=True, align="align_start")
    np.testing.assert_array_equal(batch.labels, [[2], [1]])


def test_text_labels_reader_with_classes(tmp_path):
    features = readers.CSVSequenceReader(write_numbered(tmp_path / "f", [np.ones((2, 1))] * 2))
    for i, text in enumerate([["cat", "dog"], ["bird"]]):
        write_csv(tmp_path / f"l{i}.csv", [[t] for t in text])
    labels = readers.CSVSequenceReader([tmp_path / "l0.csv", tmp_path / "l1.csv"])
    (batch,) = readers.SequenceBatches(features, labels, batch_size=2, classes=["bird", "cat", "dog"],
                                       align="align_end")
    assert batch.labels.shape == (2, 3, 2)
    np.testing.assert_array_equal(batch.labels_mask, [[1, 1], [0, 1]])
    np.testing.assert_array_equal(batch.labels[0].argmax(axis=0), [1, 2])
    assert batch.labels[1, 0, 1] == 1


def test_regression_labels_reader_uses_all_columns(tmp_path):
    features = readers.CSVSequenceReader(write_numbered(tmp_path / "f", [np.ones((3, 1))]))
    labels = readers.CSVSequenceReader(write_numbered(tmp_path / "l", [[[1.5, -2], [3, 4]]]))
    batches = readers.SequenceBatches(features, labels, batch_size=1, regression=True,
                                      align="align_end")
    (batch,) = batches
    assert batches.num_outputs == 2 and batch.labels.shape == (1, 2, 3)
    np.testing.assert_array_equal(batch.labels[0], [[0, 1.5, 3], [0, -2, 4]])
    np.testing.assert_array_equal(batch.labels_mask, [[0, 1, 1]])


def test_label_column_in_the_middle_by_negative_index(tmp_path):
    reader = readers.CSVSequenceReader(write_numbered(tmp_path / "f", [[[1, 2, 3], [4, 0, 6]]]))
    batches = readers.SequenceBatches(reader, batch_size=1, label_column=-2, num_classes=3)
    (batch,) = batches
    assert batches.feature_columns == ("0", "2") and batches.label_columns == ("1",)
    np.testing.assert_array_equal(batch.features[0], [[1, 4], [3, 6]])
    np.testing.assert_array_equal(batch.labels[0].argmax(axis=0), [2, 0])
    multi = readers.SequenceBatches(reader, batch_size=1, label_column=[0, "2"], regression=True)
    np.testing.assert_array_equal(next(iter(multi)).labels[0], [[1, 4], [3, 6]])


def test_no_labels(tmp_path):
    reader = readers.CSVSequenceReader(write_numbered(tmp_path / "f", [np.ones((2, 2)), np.ones((1, 2))]))
    (batch,) = readers.SequenceBatches(reader, batch_size=2, align="align_start")
    assert batch.labels is None and batch.labels_mask is None and batch.features.shape == (2, 2, 2)


@pytest.mark.parametrize("kwargs, message", [
    ({"batch_size": 0}, "batch_size"),
    ({"batch_size": 1, "align": "middle"}, "align"),
    ({"batch_size": 1, "label_column": 0}, "num_classes"),
    ({"batch_size": 1, "label_column": 0, "classes": ["a"], "regression": True}, "regression"),
    ({"batch_size": 1, "label_column": 0, "classes": ["a", "a"]}, "distinct"),
    ({"batch_size": 1, "label_column": 0, "classes": ["a", "b"], "num_classes": 3}, "classes"),
    ({"batch_size": 1, "sequence_labels": True}, "sequence_labels"),
    ({"batch_size": 1, "label_column": 0, "num_classes": 0}, "num_classes"),
])
def test_configuration_errors(tmp_path, kwargs, message):
    reader = readers.CSVSequenceReader(write_numbered(tmp_path / "f", [np.ones((2, 2))]))
    with pytest.raises(ValueError, match=message):
        readers.SequenceBatches(reader, **kwargs)


def test_label_column_errors(tmp_path):
    reader = readers.CSVSequenceReader(write_numbered(tmp_path / "f", [np.ones((2, 2))]))
    with pytest.raises(ValueError, match="label_column"):
        readers.SequenceBatches(reader, reader, batch_size=1, label_column=0, num_classes=2)
    with pytest.raises(ValueError, match="not a column"):
        list(readers.SequenceBatches(reader, batch_size=1, label_column="nope", num_classes=2))
    with pytest.raises(ValueError, match="out of range"):
        list(readers.SequenceBatches(reader, batch_size=1, label_column=5, num_classes=2))


def test_sequence_label_class_error_names_the_last_step(tmp_path):
    features, labels = _pair(tmp_path, [np.ones((2, 1))], [[0, 5]])
    batches = readers.SequenceBatches(features, labels, batch_size=1, num_classes=3,
                                      sequence_labels=True)
    with pytest.raises(SequenceDataError, match=r"0\.csv, row 2, column '0': class index out of range"):
        list(batches)


def test_class_names_travel_with_the_batches(tmp_path):
    (tmp_path / "t.csv").write_text("x,label\n1,up\n2,down\n3,1\n")
    text = readers.CSVSequenceReader([tmp_path / "t.csv"] * 3)
    batches = readers.SequenceBatches(text, batch_size=2, label_column="label", classes=["down", "up", "1"])
    assert batches.class_names == ["down", "up", "1"] and batches.num_classes == 3
    got = list(batches)
    assert [b.class_names for b in got] == [["down", "up", "1"]] * 2
    assert len(got[0].as_tuple()) == 4                                   # as_tuple is unchanged
    numbers = readers.CSVSequenceReader(write_numbered(tmp_path / "f", [[[1, 0], [2, 1]]] * 3))
    named = readers.SequenceBatches(numbers, batch_size=3, label_column=1, class_names=["zero", "one"],
                                    shuffle=True, seed=0)
    assert named.class_names == ["zero", "one"] and named.num_classes == 2
    (batch,) = named
    assert batch.class_names == ["zero", "one"]
    standardized = readers.Standardizer.fit(named)(named)
    assert next(iter(standardized)).class_names == ["zero", "one"]
    plain = readers.SequenceBatches(numbers, batch_size=3, label_column=1, num_classes=2)
    assert plain.class_names is None and next(iter(plain)).class_names is None
    assert readers.SequenceBatches(numbers, batch_size=3, regression=True, label_column=1).class_names is None
    assert readers.Batch(np.zeros((1, 1, 1)), None, None, None, ["k"]).class_names is None   # positional


@pytest.mark.parametrize("kwargs, message", [
    ({"classes": ["a"], "class_names": ["a"]}, "not both"),
    ({"class_names": ["a", "a"]}, "class_names must be distinct"),
    ({"class_names": []}, "class_names must be distinct and not empty"),
    ({"class_names": ["a", "b"], "num_classes": 3}, r"num_classes=3 but 2 class_names given"),
    ({"class_names": ["a"], "regression": True}, "class_names are for classification"),
    ({"num_classes": "2"}, r"num_classes must be a positive int, got '2'"),
    ({"num_classes": 2.5}, r"num_classes must be a positive int, got 2\.5"),
    ({"num_classes": True}, "num_classes must be a positive int"),
])
def test_class_name_and_num_classes_errors(tmp_path, kwargs, message):
    reader = readers.CSVSequenceReader(write_numbered(tmp_path / "f", [np.ones((2, 2))]))
    with pytest.raises(ValueError, match=message):
        readers.SequenceBatches(reader, batch_size=1, label_column=0, **kwargs)


def test_shard_auto_needs_integer_environment_variables(monkeypatch, tmp_path):
    reader = readers.CSVSequenceReader(write_numbered(tmp_path / "f", [np.ones((2, 2))]))
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(ValueError, match=r"^shard='auto' reads the environment variable WORLD_SIZE, which must be "
                                         r"an integer; got WORLD_SIZE='two'$"):
        readers.SequenceBatches(reader, batch_size=1, shard="auto")
