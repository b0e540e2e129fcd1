"""Data already in memory: `readers.from_pandas` and `readers.from_arrow` against the file readers.

The same data written to CSV and Parquet and read by `CSVSequenceReader` /
`ParquetSequenceReader` gives the same batches (features, labels, masks,
keys) as the in-memory readers: long tables (ids out of order, the order
column shuffled) and one row per sequence (list cells); plus `write_parquet`,
`inspect` and every error, named by row and column as the file readers name them.
"""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from seqdata import write_csv

import readers
from readers import SequenceDataError

FIELDS = ("features", "labels", "features_mask", "labels_mask")


def _same_batches(a, b):
    """Two batch lists equal in every array, mask and key."""
    a, b = list(a), list(b)
    assert len(a) == len(b) and a
    for x, y in zip(a, b):
        for name in FIELDS:
            u, v = getattr(x, name), getattr(y, name)
            assert (u is None) == (v is None), name
            if u is not None:
                np.testing.assert_array_equal(u, v, err_msg=name)
        assert list(x.keys) == list(y.keys)
        assert x.class_names == y.class_names


def _long_frame(seed, n=7, names=("x0", "x1"), label=False, lengths=None):
    """A long table: ids s0.. in a shuffled order, rows shuffled, order column t shuffled."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 6, n) if lengths is None else lengths
    rows = []
    for i in rng.permutation(n):
        klass = int(rng.integers(0, 3))
        for t in range(int(lengths[i])):
            values = [float(v) for v in rng.normal(size=len(names))]
            rows.append([f"s{i}", int(t * 10 + 3), *values] + ([klass] if label else []))
    rows = [rows[k] for k in rng.permutation(len(rows))]
    columns = ["id", "t", *names] + (["label"] if label else [])
    return pd.DataFrame(rows, columns=columns)


def _files(tmp_path, df, stem):
    """The frame as a long CSV table and a long Parquet table."""
    csv = write_csv(tmp_path / f"{stem}.csv", [[str(v) if isinstance(v, str) else v for v in row]
                                               for row in df.itertuples(index=False)], list(df.columns))
    parquet = str(tmp_path / f"{stem}.parquet")
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), parquet)
    return csv, parquet


def _long_readers(tmp_path, df, stem, **kw):
    csv, parquet = _files(tmp_path, df, stem)
    return {"pandas": readers.from_pandas(df, id_column="id", **kw),
            "arrow": readers.from_arrow(pa.Table.from_pandas(df), id_column="id", **kw),
            "csv": readers.CSVSequenceReader(csv, id_column="id", **kw),
            "parquet": readers.ParquetSequenceReader(parquet, id_column="id", **kw)}


@pytest.mark.parametrize("align", ["align_start", "align_end"])
def test_long_tables_give_the_batches_of_the_file_readers(tmp_path, align):
    frame = _long_frame(0)
    feats = _long_readers(tmp_path, frame, "f", order_column="t")
    labs = _long_readers(tmp_path, _long_frame(1, names=("y",)).assign(
        y=lambda d: (d.index % 3).astype(float)), "l", order_column="t")
    got = {kind: list(readers.SequenceBatches(feats[kind], labs[kind], batch_size=3, num_classes=3,
                                              align=align))
           for kind in feats}
    assert got["pandas"][0].keys == list(dict.fromkeys(frame["id"]))[:3]     # first appearance
    for kind in ("pandas", "arrow", "parquet"):
        _same_batches(got[kind], got["csv"])
    assert got["pandas"][0].labels_mask is not None                    # labels of other lengths


def test_long_table_label_column_sequence_labels_shuffled(tmp_path):
    df = _long_frame(2, n=11, label=True)
    kinds = _long_readers(tmp_path, df, "f", order_column="t")
    got = {kind: list(readers.SequenceBatches(r, batch_size=4, label_column="label", num_classes=3,
                                              sequence_labels=True, align="align_start", shuffle=True,
                                              seed=5))
           for kind, r in kinds.items()}
    for kind in ("pandas", "arrow", "parquet"):
        _same_batches(got[kind], got["csv"])
    assert got["pandas"][0].labels.shape[1:] == (3,)


def test_long_table_without_order_column_keeps_frame_order(tmp_path):
    df = _long_frame(3)
    kinds = _long_readers(tmp_path, df, "f")
    want = [(r.key, r.values.tolist()) for r in kinds["csv"]]
    for kind in ("pandas", "arrow", "parquet"):
        assert [(r.key, r.values.tolist()) for r in kinds[kind]] == want
    assert want[0][0] == df["id"].iloc[0]
    reader = kinds["pandas"]
    assert len(reader) == 7 and reader.columns == ("t", "x0", "x1")     # the count without a read
    assert repr(reader) == "TableSequenceReader(DataFrame[%d rows], id_column='id')" % len(df)


def test_long_table_of_integer_ids_and_time_order(tmp_path):
    df = pd.DataFrame({"id": [7, 3, 7, 3], "when": pd.to_datetime(["2024-01-03", "2024-01-02",
                                                                   "2024-01-01", "2024-01-01"]),
                       "x": [1.0, 2.0, 3.0, 4.0]})
    reader = readers.from_pandas(df, id_column="id", order_column="when")
    assert [(r.key, r.values[:, 0].tolist()) for r in reader] == [("7", [3.0, 1.0]), ("3", [4.0, 2.0])]
    path = write_csv(tmp_path / "t.csv", [["7", "2024-01-03", 1], ["3", "2024-01-02", 2],
                                          ["7", "2024-01-01", 3], ["3", "2024-01-01", 4]], ["id", "when", "x"])
    csv = readers.CSVSequenceReader(path, id_column="id", order_column="when")
    assert [(r.key, r.values.tolist()) for r in csv] == [(r.key, r.values.tolist()) for r in reader]


def _nested_frame(seed, n=6):
    """One row per sequence: list cells x, 2-D array cells g [T, 2], a class label and a key."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 6, n)
    return pd.DataFrame({
        "key": [f"k{i}" for i in rng.permutation(n)],
        "x": [list(rng.normal(size=t)) for t in lengths],
        "g": [rng.normal(size=(t, 2)) for t in lengths],
        "label": rng.integers(0, 3, n),
    })


def _nested_parquet(path, df):
    table = pa.table({"key": df["key"].tolist(), "x": pa.array(df["x"].tolist(), pa.list_(pa.float64())),
                      "g": pa.array([g.tolist() for g in df["g"]], pa.list_(pa.list_(pa.float64()))),
                      "label": pa.array(df["label"], pa.int64())})
    pq.write_table(table, path)
    return str(path)


def test_list_cells_give_the_batches_of_nested_parquet(tmp_path):
    df = _nested_frame(0)
    path = _nested_parquet(tmp_path / "n.parquet", df)
    kinds = {"pandas": readers.from_pandas(df),
             "arrow": readers.from_arrow(pq.read_table(path)),              # list<list<double>> cells
             "parquet": readers.ParquetSequenceReader(path)}
    assert kinds["pandas"].columns == ("x", "g[0]", "g[1]", "label") == kinds["parquet"].columns
    got = {kind: list(readers.SequenceBatches(r, batch_size=4, label_column="label", num_classes=3,
                                              sequence_labels=True, align="align_start"))
           for kind, r in kinds.items()}
    _same_batches(got["pandas"], got["parquet"])
    _same_batches(got["arrow"], got["parquet"])
    assert got["pandas"][0].keys == df["key"].tolist()[:4]                  # the text "key" column


@pytest.mark.parametrize("align", ["align_start", "align_end"])
def test_list_cell_labels_pair_by_key_column(tmp_path, align):
    feats = _nested_frame(1)
    rng = np.random.default_rng(9)
    order = rng.permutation(len(feats))
    labs = pd.DataFrame({"name": feats["key"].iloc[order].tolist(),
                         "y": [list(rng.integers(0, 3, int(t)).astype(float)) for t in rng.integers(1, 6, 6)]})
    path = str(tmp_path / "l.parquet")
    pq.write_table(pa.table({"name": labs["name"].tolist(),
                             "y": pa.array(labs["y"].tolist(), pa.list_(pa.float64()))}), path)
    features = readers.ParquetSequenceReader(_nested_parquet(tmp_path / "n.parquet", feats),
                                             columns=["x", "g"])
    want = readers.SequenceBatches(features, readers.ParquetSequenceReader(path, key_column="name"),
                                   batch_size=4, num_classes=3, align=align)
    got = readers.SequenceBatches(readers.from_pandas(feats, columns=["x", "g"]),
                                  readers.from_pandas(labs, key_column="name"), batch_size=4,
                                  num_classes=3, align=align)
    _same_batches(got, want)


def test_nested_keys_without_key_column_pair_by_position():
    df = pd.DataFrame({"x": [[1.0, 2.0], [3.0]]})
    reader = readers.from_pandas(df)
    assert [r.key for r in reader] == ["DataFrame#1", "DataFrame#2"]
    assert reader.pair_keys(["DataFrame#1"]) is None and len(reader) == 2
    labels = readers.from_pandas(pd.DataFrame({"y": [[1.0], [0.0]]}))
    batch = next(iter(readers.SequenceBatches(reader, labels, batch_size=2, num_classes=2, align="align_end")))
    assert batch.labels[0, :, 1].tolist() == [0, 1] and batch.labels[1, :, 0].tolist() == [1, 0]
    assert batch.labels_mask.tolist() == [[0, 1], [1, 0]]                 # each label at its last step


def test_text_cells_read_as_numbers_or_class_labels():
    df = pd.DataFrame({"id": ["a", "a", "b"], "x": ["1.5", "nan", "-2"], "label": ["up", "down", "up"]})
    reader = readers.from_pandas(df, id_column="id")
    batch = next(iter(readers.SequenceBatches(reader, batch_size=2, label_column="label",
                                              classes=["up", "down"], align="align_start", allow_nan=True)))
    assert np.isnan(batch.features[0, 0, 1]) and batch.features[:, 0, 0].tolist() == [1.5, -2.0]
    assert batch.labels.argmax(1).tolist() == [[0, 1], [0, 0]]
    nested = readers.from_pandas(pd.DataFrame({"x": [["1", "2"], ["3"]], "c": [["a", "b"], ["b"]]}))
    chunk = next(nested.chunks({1: ["a", "b"]}))
    assert [ch.tolist() for ch in chunk.channels] == [[1.0, 2.0, 3.0], [0.0, 1.0, 1.0]]


def test_from_arrow_takes_record_batches_and_the_write_parquet_key():
    df = _long_frame(4)
    table = pa.Table.from_pandas(df, preserve_index=False)
    want = [(r.key, r.values.tolist()) for r in readers.from_arrow(table, id_column="id", order_column="t")]
    batches = table.to_batches(max_chunksize=5)
    assert len(batches) > 1
    for source in (batches, pa.RecordBatch.from_pandas(df, preserve_index=False)):
        got = readers.from_arrow(source, id_column=0, order_column="t")
        assert [(r.key, r.values.tolist()) for r in got] == want


def test_write_parquet_and_inspect_on_memory_readers(tmp_path):
    df = _long_frame(5, label=True)
    csv, _ = _files(tmp_path, df, "f")
    memory = readers.from_pandas(df, id_column="id", order_column="t")
    path = tmp_path / "out.parquet"
    assert readers.write_parquet(memory, path) == 7
    back = readers.ParquetSequenceReader(path)
    assert [(r.key, r.values.tolist()) for r in back] == [(r.key, r.values.tolist()) for r in memory]
    again = readers.from_arrow(pq.read_table(path))                     # the key named in the metadata
    assert [r.key for r in again] == [r.key for r in memory]
    file = readers.CSVSequenceReader(csv, id_column="id", order_column="t")
    got = readers.inspect(memory, label_column="label").to_dict()
    want = readers.inspect(file, label_column="label").to_dict()
    assert got.pop("source").startswith("TableSequenceReader(DataFrame[") and want.pop("source")
    assert got == want
    nested = readers.from_pandas(_nested_frame(2))
    assert readers.inspect(nested, label_column="label").sequences == 6
    readers.write_parquet(nested, tmp_path / "n.parquet")
    assert [r.key for r in readers.ParquetSequenceReader(tmp_path / "n.parquet")] == [r.key for r in nested]


def test_nan_is_refused_as_by_the_file_readers(tmp_path):
    df = _long_frame(6, n=3, lengths=[2, 3, 2])
    df.loc[4, "x1"] = np.nan
    csv = write_csv(tmp_path / "f.csv", [["" if isinstance(v, float) and np.isnan(v) else v for v in row]
                                         for row in df.astype(object).itertuples(index=False)], list(df.columns))
    for reader, row in ((readers.from_pandas(df, id_column="id", order_column="t"), 5),
                        (readers.from_arrow(pa.Table.from_pandas(df), id_column="id", order_column="t"), 5),
                        (readers.CSVSequenceReader(csv, id_column="id", order_column="t"), 6)):
        with pytest.raises(SequenceDataError, match="feature value is not finite") as caught:
            list(readers.SequenceBatches(reader, batch_size=2, align="align_start"))
        assert (caught.value.row, caught.value.column) == (row, "x1")
        list(readers.SequenceBatches(reader, batch_size=2, align="align_start", allow_nan=True))
    assert "f.csv, row 6, column 'x1': feature value is not finite" in str(caught.value)
    with pytest.raises(SequenceDataError, match=r"^DataFrame, row 5, column 'x1': feature value is not finite"):
        list(readers.SequenceBatches(readers.from_pandas(df, id_column="id", order_column="t"), batch_size=2,
                                     align="align_start"))


def test_non_numeric_cell_is_named_by_row_and_column_as_in_csv(tmp_path):
    df = pd.DataFrame({"id": ["a", "a", "b", "b"], "x": [1.0, 2.0, "abc", 4.0]})
    csv = write_csv(tmp_path / "s.csv", [["a", 1.0], ["a", 2.0], ["b", "abc"], ["b", 4.0]], ["id", "x"])
    with pytest.raises(SequenceDataError) as file_error:
        list(readers.CSVSequenceReader(csv, id_column="id"))
    for reader in (readers.from_pandas(df, id_column="id"),
                   readers.from_arrow(pa.table({"id": df["id"], "x": ["1", "2", "abc", "4"]}), id_column="id")):
        with pytest.raises(SequenceDataError, match="non-numeric value") as caught:
            list(reader)
        error = caught.value
        assert (error.row, error.column, error.found) == (3, "x", "'abc'")
        assert error.row == file_error.value.row - 1 and error.found == file_error.value.found  # header line
        assert error.hint == file_error.value.hint                       # choose columns=, or classes=
    with pytest.raises(SequenceDataError, match=r"^DataFrame, row 2, column 'x': non-numeric value "
                                                r"\(expected a number, found 'b'\)"):
        list(readers.from_pandas(pd.DataFrame({"x": [[1.0, 2.0], [3.0, "b"]]})))
    with pytest.raises(SequenceDataError, match=r"^DataFrame, row 2, column 'g': non-numeric value"):
        readers.from_pandas(pd.DataFrame({"g": [np.ones((2, 2)), np.array([["1", "x"]])]}))
    with pytest.raises(SequenceDataError, match=r"^DataFrame, row 1, column 'label': non-numeric value "
                                                r".*text class labels need classes="):
        list(readers.from_pandas(pd.DataFrame({"x": [[1.0]], "label": ["up"]})))


@pytest.mark.parametrize("make, message", [
    (lambda: readers.from_pandas(pd.DataFrame({"x": [1.0]}), id_column="id"),
     r"^DataFrame, column 'id': id_column not found \(expected one of \['x'\], found no such column\)"),
    (lambda: readers.from_arrow(pa.table({"x": [1.0]}), id_column="id"),
     r"^Table, column 'id': id_column not found"),
    (lambda: readers.from_pandas(pd.DataFrame({"x": [1.0]}), columns=["y"]),
     r"^DataFrame, column 'y': column not found"),
    (lambda: readers.from_pandas(pd.DataFrame({"x": [1.0], "y": [2.0]})),
     r"^DataFrame: neither an id column nor list cells \(expected id_column= .*readers\.from_arrays"),
    (lambda: readers.from_arrow(pa.table({"x": [1.0]})),
     r"^Table: no list column for the nested layout .*; pass id_column="),
    (lambda: readers.from_pandas(pd.DataFrame({"id": ["a"], "x": [[1.0]]}), id_column="id"),
     r"^DataFrame, column 'x': list column in a long table"),
    (lambda: readers.from_pandas(pd.DataFrame({"x": [[1.0], 5.0]})),
     r"^DataFrame, row 2, column 'x': cell is not a sequence \(expected a list or array of steps"),
    (lambda: readers.from_pandas(pd.DataFrame({"g": [np.ones((2, 2)), np.ones((1, 3))]})),
     r"^DataFrame, row 2, column 'g': step has the wrong number of values \(expected 2 values per step"),
    (lambda: readers.from_pandas(pd.DataFrame({"g": [np.ones((2, 2)), np.ones(3)]})),
     r"^DataFrame, row 2, column 'g': cell is not a sequence \(expected a 2-D array"),
    (lambda: readers.from_pandas(pd.DataFrame({"g": [np.ones((2, 2)), [[1.0, 2.0], [3.0]]]})),
     r"^DataFrame, row 2, column 'g': cell is not a sequence \(expected a 2-D array of steps, "
     r"found rows of different lengths\)"),
    (lambda: readers.from_arrow(pa.table({"x": [[1.0]], "s": [{"a": 1}]})),
     r"^Table, column 's': unsupported column type"),
    (lambda: readers.from_arrow([pa.record_batch({"x": [[1.0]]}), pa.record_batch({"y": [[1.0]]})]),
     r"^record batch 1: record batch schema differs from the first batch's"),
])
def test_errors_when_made(make, message):
    with pytest.raises(SequenceDataError, match=message):
        make()


@pytest.mark.parametrize("df, kw, message", [
    (pd.DataFrame({"id": ["a", None, "a"], "x": [1.0, 2.0, 3.0]}), {"id_column": "id"},
     r"^DataFrame, row 2, column 'id': missing id \(expected an id value, found an empty field\)"),
    (pd.DataFrame({"id": ["a", "b", "a"], "t": [1, 1, 1], "x": [1.0, 2.0, 3.0]}),
     {"id_column": "id", "order_column": "t"},
     r"^DataFrame, row 3, column 't': order value repeats within id 'a' \(first at DataFrame, row 1\)"),
    (pd.DataFrame({"id": ["a", "a"], "t": [1.0, np.nan], "x": [1.0, 2.0]}),
     {"id_column": "id", "order_column": "t"}, r"^DataFrame, row 2, column 't': order value is not a finite"),
    (pd.DataFrame({"id": ["a", "a"], "t": ["1", "soon"], "x": [1.0, 2.0]}),
     {"id_column": "id", "order_column": "t"}, r"^DataFrame, row 2, column 't': order column holds text"),
    (pd.DataFrame({"id": pd.Series([], dtype=str), "x": pd.Series([], dtype=float)}), {"id_column": "id"},
     r"^DataFrame: no rows in the long table"),
    (pd.DataFrame({"x": [[1.0, 2.0], [3.0]], "y": [[1.0, 2.0], [3.0, 4.0]]}), {},
     r"^DataFrame, row 2, column 'y': list lengths differ within a row \(expected 1 steps \(as column 'x'\)"),
    (pd.DataFrame({"x": [[1.0], None]}), {}, r"^DataFrame, row 2, column 'x': missing sequence"),
    (pd.DataFrame({"x": [[1.0], []]}), {}, r"^DataFrame, row 2, column 'x': empty sequence"),
])
def test_errors_when_read(df, kw, message):
    reader = readers.from_pandas(df, **kw)
    with pytest.raises(SequenceDataError, match=message):
        list(reader)


def test_unknown_class_label_names_the_row():
    df = pd.DataFrame({"id": ["a", "a", "b"], "x": [1.0, 2.0, 3.0], "label": ["up", "sideways", "up"]})
    with pytest.raises(SequenceDataError, match=r"^DataFrame, row 2, column 'label': unknown class label "
                                                r"\(expected one of \['up', 'down'\], found 'sideways'\)"):
        list(readers.SequenceBatches(readers.from_pandas(df, id_column="id"), batch_size=2,
                                     label_column="label", classes=["up", "down"], align="align_start"))


def test_configuration_mistakes():
    df = pd.DataFrame({"id": ["a"], "t": [0], "x": [1.0]})
    with pytest.raises(TypeError, match="pandas.DataFrame"):
        readers.from_pandas({"x": [1.0]})
    with pytest.raises(TypeError, match="pyarrow.Table"):
        readers.from_arrow(df)
    with pytest.raises(TypeError, match="pyarrow.Table"):
        readers.from_arrow([])
    with pytest.raises(ValueError, match="order_column needs id_column"):
        readers.from_pandas(pd.DataFrame({"x": [[1.0]], "t": [0]}), order_column="t")
    with pytest.raises(ValueError, match="key_column is for the nested layout"):
        readers.from_pandas(df, id_column="id", key_column="x")
    with pytest.raises(ValueError, match="may not include the id"):
        readers.from_pandas(df, id_column="id", columns=["id", "x"])
    with pytest.raises(ValueError, match="names a column twice"):
        readers.from_pandas(df, id_column="id", columns=["x", "x"])
    with pytest.raises(ValueError, match="no columns left to read"):
        readers.from_arrow(pa.table({"id": ["a"], "t": [0]}), id_column="id", order_column="t")
    with pytest.raises(ValueError, match="must differ as text"):
        readers.from_pandas(pd.DataFrame([[1.0, 2.0]], columns=[1, "1"]))


def test_columns_by_label_or_position():
    df = pd.DataFrame([["a", 1.0, 2.0], ["a", 3.0, 4.0]], columns=[5, 7, 9])
    reader = readers.from_pandas(df, id_column=5, columns=[9, 1])         # label 9; position 1 (label 7)
    assert reader.columns == ("9", "7") and [r.values.tolist() for r in reader] == [[[2.0, 1.0], [4.0, 3.0]]]
