"""Data already in memory: `readers.from_arrays` against one CSV file per sequence.

Features `[T_i, F]` and labels (one per sequence, or per step `[T_i']` /
`[T_i', K]`) written as numbered CSV files and read by `CSVSequenceReader`
give the same batches as the in-memory readers, in every alignment; plus
`write_parquet`, `inspect`, pairing by key and every error.
"""

import os

import numpy as np
import pandas as pd
import pytest
from seqdata import write_csv, write_numbered

import readers
from readers import SequenceDataError

FIELDS = ("features", "labels", "features_mask", "labels_mask")


def _same_batches(got, want, numbered: readers.NumberedFiles):
    """Equal arrays and masks; the file keys' numbers are the in-memory keys "0", "1", ..."""
    got, want = list(got), list(want)
    assert len(got) == len(want) and got
    for x, y in zip(got, want):
        for name in FIELDS:
            u, v = getattr(x, name), getattr(y, name)
            assert (u is None) == (v is None), name
            if u is not None:
                np.testing.assert_array_equal(u, v, err_msg=name)
        assert x.keys == [str(numbered.number(k)) for k in y.keys]
        assert x.class_names == y.class_names


def _data(seed, n=9, width=2, equal=False):
    rng = np.random.default_rng(seed)
    lf = [4] * n if equal else [int(t) for t in rng.integers(1, 7, n)]
    ll = lf if equal else [int(t) for t in rng.integers(1, 7, n)]
    feats = [rng.normal(size=(t, width)) for t in lf]
    steps = [rng.integers(0, 3, t) for t in ll]
    return feats, steps, rng.integers(0, 3, n)


def _numbered(tmp_path, name, sequences):
    return write_numbered(os.path.join(tmp_path, name), [np.asarray(s).reshape(len(s), -1) for s in sequences])


@pytest.mark.parametrize("align", ["equal_length", "align_start", "align_end"])
def test_per_step_labels_give_the_batches_of_numbered_files(tmp_path, align):
    feats, steps, _ = _data(0, equal=align == "equal_length")
    files_f, files_l = _numbered(tmp_path, "f", feats), _numbered(tmp_path, "l", steps)
    want = readers.SequenceBatches(readers.CSVSequenceReader(files_f), readers.CSVSequenceReader(files_l),
                                   batch_size=4, num_classes=3, align=align)
    features, labels = readers.from_arrays(feats, steps)
    got = readers.SequenceBatches(features, labels, batch_size=4, num_classes=3, align=align)
    _same_batches(got, want, files_f)
    shuffled = dict(shuffle=True, seed=3, bucket_by_length=True)
    _same_batches(readers.SequenceBatches(features, labels, batch_size=4, num_classes=3, align=align, **shuffled),
                  readers.SequenceBatches(readers.CSVSequenceReader(files_f), readers.CSVSequenceReader(files_l),
                                          batch_size=4, num_classes=3, align=align, **shuffled), files_f)


@pytest.mark.parametrize("how", [dict(sequence_labels=True, align="align_start"), dict(align="align_end")])
def test_one_label_per_sequence_gives_the_batches_of_one_line_label_files(tmp_path, how):
    feats, _, classes = _data(1)
    files_f, files_l = _numbered(tmp_path, "f", feats), _numbered(tmp_path, "l", [[c] for c in classes])
    want = readers.SequenceBatches(readers.CSVSequenceReader(files_f), readers.CSVSequenceReader(files_l),
                                   batch_size=4, num_classes=3, **how)
    features, labels = readers.from_arrays(feats, classes)
    assert labels.columns == ("label",) and len(labels) == 9
    _same_batches(readers.SequenceBatches(features, labels, batch_size=4, num_classes=3, **how), want, files_f)
    _same_batches(readers.SequenceBatches(*readers.from_arrays(feats, list(classes)), batch_size=4,
                                          num_classes=3, **how), want, files_f)


def test_text_labels_with_classes(tmp_path):
    feats, _, classes = _data(2)
    names = np.array(["walk", "run", "sit"])
    files_f = _numbered(tmp_path, "f", feats)
    files_l = write_numbered(tmp_path / "l", [[[n]] for n in names[classes]])
    for labels in (names[classes], list(names[classes]), names[classes].astype(object)):
        got = readers.SequenceBatches(*readers.from_arrays(feats, labels), batch_size=4, classes=list(names),
                                      sequence_labels=True, align="align_start")
        want = readers.SequenceBatches(readers.CSVSequenceReader(files_f), readers.CSVSequenceReader(files_l),
                                       batch_size=4, classes=list(names), sequence_labels=True,
                                       align="align_start")
        _same_batches(got, want, files_f)


def test_regression_labels_per_step_of_k_columns(tmp_path):
    feats, _, _ = _data(3)
    rng = np.random.default_rng(4)
    targets = [rng.normal(size=(int(t), 2)) for t in rng.integers(1, 7, len(feats))]
    files_f, files_l = _numbered(tmp_path, "f", feats), _numbered(tmp_path, "l", targets)
    features, labels = readers.from_arrays(feats, targets, columns=["a", "b"])
    assert features.columns == ("a", "b") and labels.columns == ("label[0]", "label[1]")
    for align in ("align_start", "align_end"):
        got = readers.SequenceBatches(features, labels, batch_size=4, regression=True, align=align)
        want = readers.SequenceBatches(readers.CSVSequenceReader(files_f), readers.CSVSequenceReader(files_l),
                                       batch_size=4, regression=True, align=align)
        _same_batches(got, want, files_f)


def test_arrays_of_equal_lengths_and_label_column():
    stacked = np.arange(2 * 3 * 2, dtype=np.float32).reshape(2, 3, 2)           # [N, T, F]
    features, labels = readers.from_arrays(stacked, np.array([[0, 1, 1], [1, 1, 0]]))    # [N, T]
    batch = next(iter(readers.SequenceBatches(features, labels, batch_size=2, num_classes=2)))
    np.testing.assert_array_equal(batch.features, stacked.transpose(0, 2, 1))
    assert batch.labels.argmax(1).tolist() == [[0, 1, 1], [1, 1, 0]] and batch.features_mask is None
    with_label = readers.from_arrays([np.array([[1.0, 0], [2.0, 1]]), np.array([[3.0, 2]])], columns=["x", "label"])
    batch = next(iter(readers.SequenceBatches(with_label, batch_size=2, label_column="label", num_classes=3,
                                              sequence_labels=True, align="align_start")))
    assert batch.labels.tolist() == [[0, 1, 0], [0, 0, 1]]
    assert next(with_label.chunks()).channels[0].dtype == np.float64
    assert next(features.chunks()).channels[0].dtype == np.float32       # float32 kept


def test_len_columns_repr_keys_and_chunks():
    features, labels = readers.from_arrays([np.ones((2, 3))] * 5, [0] * 5)
    assert len(features) == 5 and features.columns == ("0", "1", "2")
    assert repr(features) == "ArraySequenceReader(sequences: 5 sequences, columns=['0', '1', '2'])"
    assert [len(c) for c in features.chunks(rows=2)] == [2, 2, 1]
    records = list(features)
    assert [r.key for r in records] == ["0", "1", "2", "3", "4"] and records[3].locate(1) == ("sequences[3]", 2)
    assert features.pair_keys(["0"]) is None and labels.pair_keys(["0"]) is None    # by position
    keyed, keyed_labels = readers.from_arrays([np.ones((2, 1))] * 2, [0, 1], keys=["a", 7])
    assert [r.key for r in keyed] == ["a", "7"] and keyed.pair_keys(["a", "7"]) == ["a", "7"]
    assert [r.key for r in keyed_labels] == ["a", "7"]


def test_keys_pair_with_a_long_table_of_labels_in_another_order():
    feats = [np.full((t, 1), 100.0 * i) for i, t in enumerate([2, 3, 1, 2])]
    keys = ["w", "x", "y", "z"]
    table = pd.DataFrame({"id": ["z", "y", "x", "w", "x"], "label": [3, 2, 1, 0, 1]})
    labels = readers.from_pandas(table, id_column="id")
    batches = readers.SequenceBatches(readers.from_arrays(feats, keys=keys), labels, batch_size=4,
                                      num_classes=4, align="align_end")
    batch = next(iter(batches))
    assert batch.keys == keys
    for i in range(4):                         # feature values 100 * i, labels i: paired by key
        steps = np.flatnonzero(batch.labels_mask[i])
        assert batch.labels[i, :, steps].argmax(1).tolist() == [i] * len(steps)
        assert batch.features[i, 0, :len(feats[i])].tolist() == [100.0 * i] * len(feats[i])


def test_write_parquet_and_inspect(tmp_path):
    feats, _, classes = _data(5)
    files_f, files_l = _numbered(tmp_path, "f", feats), _numbered(tmp_path, "l", [[c] for c in classes])
    features, labels = readers.from_arrays(feats, classes)
    assert readers.write_parquet(features, tmp_path / "f.parquet") == 9
    back = readers.ParquetSequenceReader(tmp_path / "f.parquet")
    assert [(r.key, r.values.tolist()) for r in back] == [(r.key, r.values.tolist()) for r in features]
    got = readers.inspect(features, labels=labels).to_dict()
    want = readers.inspect(readers.CSVSequenceReader(files_f), labels=readers.CSVSequenceReader(files_l)).to_dict()
    assert got.pop("source").startswith("ArraySequenceReader(") and want.pop("source")
    assert got.pop("label_column") == "label" and want.pop("label_column") == "0"
    assert got == want


def test_nan_is_refused_unless_allowed(tmp_path):
    feats = [np.ones((2, 2)), np.array([[1.0, 2.0], [3.0, np.nan], [5.0, 6.0]])]
    features = readers.from_arrays(feats, columns=["a", "b"])
    with pytest.raises(SequenceDataError, match=r"^sequences\[1\], row 2, column 'b': feature value is not "
                                                r"finite \(pass allow_nan=True"):
        list(readers.SequenceBatches(features, batch_size=2, align="align_start"))
    files = write_numbered(tmp_path / "f", [[[1, 1], [1, 1]], [[1, 2], ["", ""], [5, 6]]])
    with pytest.raises(SequenceDataError, match=r"1\.csv, row 2, column '0': feature value is not finite"):
        list(readers.SequenceBatches(readers.CSVSequenceReader(files), batch_size=2, align="align_start"))
    batch = next(iter(readers.SequenceBatches(features, batch_size=2, align="align_start", allow_nan=True)))
    assert np.isnan(batch.features[1, 1, 1])
    keyed = readers.from_arrays(feats, keys=["p", "q"])
    with pytest.raises(SequenceDataError, match=r"^q, row 2, column '1': feature value is not finite"):
        list(readers.SequenceBatches(keyed, batch_size=2, align="align_start"))


def test_values_that_are_text():
    reader = readers.from_arrays([np.array([["1.5", "2"], ["nan", "3"]])])
    assert np.isnan(next(reader.chunks()).channels[0][1])
    bad = readers.from_arrays([np.ones((2, 2)), np.array([[1, 2], [3, "x"]], dtype=object)], columns=["a", "b"])
    with pytest.raises(SequenceDataError, match=r"^sequences\[1\], row 2, column 'b': non-numeric value "
                                                r"\(expected a number, found 'x'\); text class labels need classes="):
        list(bad)
    _, labels = readers.from_arrays([np.ones((1, 1))] * 2, ["up", "down"])
    with pytest.raises(SequenceDataError, match=r"^labels\[0\], row 1, column 'label': non-numeric value "
                                                r"\(expected a number, found 'up'\)"):
        list(readers.SequenceBatches(readers.from_arrays([np.ones((1, 1))] * 2), labels, batch_size=2,
                                     num_classes=2, sequence_labels=True))
    with pytest.raises(SequenceDataError, match=r"^labels\[1\], row 1, column 'label': unknown class label "
                                                r"\(expected one of \['up', 'left'\], found 'down'\)"):
        list(labels.chunks({0: ["up", "left"]}))


@pytest.mark.parametrize("args, kw, message", [
    (([np.ones((2, 2)), np.ones((3, 2))], [np.zeros(2), np.zeros((3, 2))]), {},
     r"^labels\[1\]: label count differs between sequences \(expected 1 columns \(as labels\[0\]\), "
     r"found 2 columns\)"),
    (([np.ones((2, 2)), np.ones((3, 2))], [np.zeros(2), [[0, 1], [1]]]), {},
     r"^labels\[1\]: values are not an array \(expected a \[T, C\] array, found rows of different lengths\)"),
    (([np.ones((2, 2)), np.ones((3, 2))], [np.zeros(2), 1]), {},
     r"^labels\[1\]: labels mix one label per sequence with per-step arrays \(expected an array of per-step "
     r"labels \(as labels\[0\]\), found a scalar\)"),
    (([np.ones((2, 2)), np.ones((3, 2))], [0, np.zeros(3)]), {},
     r"^labels\[1\]: labels mix one label per sequence with per-step arrays \(expected one label per "
     r"sequence \(as labels\[0\]\), found an array\)"),
    (([np.ones((2, 2)), np.ones((3, 2))], [0, 1, 2]), {},
     r"^labels: labels and sequences differ in number \(expected 2 labels \(one per sequence"),
    (([np.ones((2, 2)), np.ones((3, 2))], [np.zeros(2)]), {},
     r"^labels: labels and sequences differ in number .*found 1 labels\)"),
    (([np.ones((2, 2)), np.ones((3, 3))],), {},
     r"^sequences\[1\]: feature count differs between sequences \(expected 2 columns \(as sequences\[0\]\), "
     r"found 3 columns\)"),
    (([np.ones((2, 2)), np.ones(3)],), {},
     r"^sequences\[1\]: not a \[T, F\] array \(expected shape \[T, F\], found shape \(3,\)\); "
     r"one feature per step: pass x\[:, None\]"),
    (([np.ones((2, 2)), np.ones((0, 2))],), {},
     r"^sequences\[1\]: empty sequence \(expected at least one step, found 0 steps\)"),
    (([[[1.0, 2.0], [3.0]]],), {}, r"^sequences\[0\]: values are not an array .*rows of different lengths"),
    (([np.ones((2, 2), dtype=complex)],), {}, r"^sequences\[0\]: values are not numbers"),
    (([np.ones((1, 1)), np.ones((1, 1))], [np.zeros((1, 1, 1)), np.zeros((1, 1, 1))]), {},
     r"^labels\[0\]: not a \[T\] or \[T, K\] array"),
    (([],), {}, r"^sequences: no sequences"),
    ((np.ones((2, 3)),), {}, r"^sequences: sequences are not a list of \[T, F\] arrays"),
    (([np.ones((2, 2))],), {"columns": ["a"]}, r"^columns: column names do not fit the sequences \(expected 2"),
    (([np.ones((2, 2))] * 2,), {"keys": ["a"]}, r"^keys: keys and sequences differ in number \(expected 2 keys"),
    (([np.ones((2, 2))] * 2,), {"keys": ["a", None]}, r"^keys\[1\]: sequence has no key"),
    (([np.ones((2, 2))] * 3,), {"keys": ["a", 1, "1"]},
     r"^keys\[2\]: key repeats \(expected each key once, found '1' again \(first at keys\[1\]\)\)"),
])
def test_errors(args, kw, message):
    with pytest.raises(SequenceDataError, match=message):
        readers.from_arrays(*args, **kw)


def test_not_lists():
    with pytest.raises(TypeError, match="sequences must be a list"):
        readers.from_arrays(5)
    with pytest.raises(TypeError, match="labels must be a list"):
        readers.from_arrays([np.ones((1, 1))], "abc")


def test_features_and_labels_of_different_counts_never_pair_silently(tmp_path):
    labels = readers.CSVSequenceReader([write_csv(tmp_path / "l.csv", [[0]])])
    with pytest.raises(SequenceDataError, match="different numbers of sequences"):
        list(readers.SequenceBatches(readers.from_arrays([np.ones((1, 1))] * 2), labels, batch_size=2,
                                     num_classes=2, sequence_labels=True))
