"""Order columns: integers exact (never through float64), timestamps and dates in time order."""

import datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import readers
from readers import SequenceDataError

BIG = 1_700_000_000_000_000_000          # nanoseconds since 1970: neighbours collide as float64


def _read(reader) -> list:
    return [(r.key, r.values[:, 0].tolist()) for r in reader]


def test_nanosecond_integers_sort_exactly_in_csv(tmp_path):
    rows = [("a", BIG + 3, 3), ("a", BIG + 1, 1), ("b", BIG, 9), ("a", BIG + 2, 2)]
    (tmp_path / "ns.csv").write_text("id,t,x\n" + "".join(f"{i},{t},{x}\n" for i, t, x in rows))
    reader = readers.CSVSequenceReader(tmp_path / "ns.csv", id_column="id", order_column="t")
    assert _read(reader) == [("a", [1, 2, 3]), ("b", [9])]
    (tmp_path / "dup.csv").write_text(f"id,t,x\na,{BIG + 1},1\na,{BIG + 1},2\n")
    with pytest.raises(SequenceDataError,
                       match=rf"dup\.csv, row 3, column 't': order value repeats .*found {BIG + 1}\)"):
        list(readers.CSVSequenceReader(tmp_path / "dup.csv", id_column="id", order_column="t"))


@pytest.mark.parametrize("type_", [pa.int64(), pa.uint64(), pa.timestamp("ns"), pa.timestamp("s", tz="UTC"),
                                   pa.date32(), pa.duration("ms"), pa.time64("us")])
def test_parquet_order_columns_of_every_orderable_type(tmp_path, type_):
    base = {pa.types.is_date(type_): datetime.date(2024, 1, 1)}.get(True, 10**6)
    if pa.types.is_date(type_):
        t = [base + datetime.timedelta(days=d) for d in (2, 0, 1)]
    else:
        t = [base + 2, base, base + 1]
    path = tmp_path / "o.parquet"
    pq.write_table(pa.table({"id": ["a"] * 3, "t": pa.array(t, type_), "x": [2.0, 0.0, 1.0]}), path)
    assert _read(readers.ParquetSequenceReader(path, id_column="id", order_column="t")) == [("a", [0, 1, 2])]


def test_csv_timestamps_and_dates(tmp_path):
    (tmp_path / "t.csv").write_text("id,t,x\na,2024-01-02T00:00:01,2\na,2024-01-02T00:00:00,1\n"
                                    "b,2024-03-01,5\nb,2024-02-01,4\n")
    reader = readers.CSVSequenceReader(tmp_path / "t.csv", id_column="id", order_column="t")
    assert _read(reader) == [("a", [1, 2]), ("b", [4, 5])]


def test_missing_and_text_order_values_name_their_row(tmp_path):
    (tmp_path / "m.csv").write_text("id,t,x\na,1,1\na,,2\n")
    with pytest.raises(SequenceDataError, match=r"m\.csv, row 3, column 't': order value is missing"):
        list(readers.CSVSequenceReader(tmp_path / "m.csv", id_column="id", order_column="t"))
    (tmp_path / "x.csv").write_text("id,t,x\na,1,1\na,2,2\na,later,3\n")
    with pytest.raises(SequenceDataError, match=r"x\.csv, row 4, column 't': order column holds text .*'later'"):
        list(readers.CSVSequenceReader(tmp_path / "x.csv", id_column="id", order_column="t"))
    path = tmp_path / "s.parquet"
    pq.write_table(pa.table({"id": ["a", "a"], "t": ["1", "b"], "x": [1.0, 2.0]}), path)
    with pytest.raises(SequenceDataError, match=r"s\.parquet, row 2, column 't': order column holds text .*'b'"):
        list(readers.ParquetSequenceReader(path, id_column="id", order_column="t"))
    path = tmp_path / "l.parquet"
    pq.write_table(pa.table({"id": ["a"], "t": pa.array([[1]], pa.list_(pa.int64())), "x": [1.0]}), path)
    with pytest.raises(SequenceDataError, match=r"l\.parquet, column 't': order column type has no order .*list"):
        list(readers.ParquetSequenceReader(path, id_column="id", order_column="t"))


def test_order_values_of_another_kind_in_a_later_csv_block(tmp_path, monkeypatch):
    monkeypatch.setattr(readers._csv_files, "GROUP_BYTES", 1)              # one file per parse
    (tmp_path / "0.csv").write_text("id,t,x\na,1,1\n")
    (tmp_path / "1.csv").write_text("id,t,x\na,2024-01-01,2\n")
    with pytest.raises(SequenceDataError, match=r"1\.csv, column 't': order column holds other values than in "
                                                r"the first file \(expected numbers, found timestamps or dates\)"):
        list(readers.CSVSequenceReader(str(tmp_path / "*.csv"), id_column="id", order_column="t"))
    (tmp_path / "1.csv").write_text("id,t,x\na,1.5,2\n")                    # ints then floats: float64
    reader = readers.CSVSequenceReader(str(tmp_path / "*.csv"), id_column="id", order_column="t")
    assert _read(reader) == [("a", [1, 2])]

