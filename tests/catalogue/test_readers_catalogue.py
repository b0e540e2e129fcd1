"""The readers' catalogue of hostile inputs: one row per input, each a one-line fix away.

A row is a `Case`: a name, a factory that writes the hostile files into a
fresh folder and returns what the call needs, the call, the exception type
the call must raise (or None: it must succeed) and a regex that must match
the exception's message (or, for None, the text the call returns). Every
error must be one line: no newline, no pyarrow or csv-module traceback text.

Add a case by adding a row; a factory of more than a line or two goes in the
helpers above the table.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import readers
from readers import SequenceDataError


@dataclass
class Case:
    name: str
    make: Callable[[Path], object]          # writes the files into a folder, returns the call's argument
    call: Callable[[object], object]        # what a user does with them
    error: type | None                      # the exception it must raise; None: it must succeed
    match: str                              # regex searched in the message (or in str(result))
    after: Callable[[object], None] | None = None   # extra checks once the call has raised


# ---- factories ------------------------------------------------------------------------------
def _text(path: Path, text) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(path)


def _files(folder: Path, texts: dict) -> Path:
    """`folder/name` for each `name: text`; returns the folder."""
    for name, text in texts.items():
        _text(folder / name, text)
    return folder


def _parquet(path: Path, columns: dict, **kwargs) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path, **kwargs)
    return str(path)


def _nested(path: Path, rows: list, **extra) -> str:
    """Nested Parquet: one `list<double>` column "x" (one row per sequence) plus `extra` columns."""
    return _parquet(path, {"x": pa.array(rows, pa.list_(pa.float64())), **extra})


def _long_csv(path: Path, ids: list, column="v") -> str:
    """A long CSV table with a header: id, t, and one value column; one step per id."""
    return _text(path, f"id,t,{column}\n" + "".join(f"{i},0,{n}\n" for n, i in enumerate(ids)))


def _pair(d: Path, feature_ids: list, label_ids: list):
    return (readers.CSVSequenceReader(_long_csv(d / "f.csv", feature_ids), id_column="id", order_column="t"),
            readers.CSVSequenceReader(_long_csv(d / "l.csv", label_ids, "label"), id_column="id",
                                      order_column="t"))


def _batches(pair, **kwargs) -> list:
    options = {"batch_size": 2, "num_classes": 8, **kwargs}
    return list(readers.SequenceBatches(*pair, **options))


def _paired_values(pair, **kwargs) -> str:
    """`key=feature/label` per example, e.g. "a=0/0 b=1/1", to show which label each key got."""
    out = []
    for batch in readers.SequenceBatches(*pair, batch_size=2, regression=True, **kwargs):
        out += [f"{k}={f:g}/{y:g}" for k, f, y in zip(batch.keys, batch.features[:, 0, 0],
                                                        batch.labels[:, 0, 0])]
    return " ".join(sorted(out))


def _corrupt(path: str, how: str) -> str:
    data = bytearray(Path(path).read_bytes())
    if how == "truncate":
        data = data[:len(data) // 2]
    else:                                            # garble the footer length
        data[-8:-4] = b"\xff\xff\xff\x7f"
    Path(path).write_bytes(bytes(data))
    return path


def _corrupt_page(path: Path) -> str:
    """A Parquet file whose footer is sound (it counts its rows) but whose first data page is garbage."""
    _parquet(path, {"x": pa.array([[float(i)] * 50 for i in range(100)], pa.list_(pa.float64()))})
    data = bytearray(path.read_bytes())
    data[30:70] = b"\xde\xad\xbe\xef" * 10
    path.write_bytes(bytes(data))
    return str(path)


def _long_parquet_dir(d: Path) -> list:
    """`p/0.parquet` and `p/1.parquet`, two files of one long table; their paths."""
    return [_parquet(d / "p" / f"{i}.parquet", {"id": [name], "v": [float(i)]}) for i, name in enumerate("ab")]


def _two_parquet(d: Path, second: dict) -> Path:
    _parquet(d / "p" / "0.parquet", {"x": pa.array([[1.0, 2.0]], pa.list_(pa.float64()))})
    _parquet(d / "p" / "1.parquet", second)
    return d / "p"


class _FailingReader(readers.SequenceReader):
    """Two good sequences, then a bad record (an empty sequence) in the next chunk."""

    def records(self):
        yield np.ones((2, 1)), ["x"], "a"
        yield np.ones((2, 1)), ["x"], "b"
        yield np.ones((0, 1)), ["x"], "broken"


class _Nothing(readers.SequenceReader):
    """A reader of your own that names its columns up front and holds no sequence."""

    def __init__(self):
        self.columns = ("x",)

    def records(self):
        return iter(())


def _write_over(d: Path):
    target = _text(d / "out.parquet", b"precious")
    readers.write_parquet(_FailingReader(), target, row_group_size=1)


def _untouched(d: Path) -> None:
    assert (d / "out.parquet").read_bytes() == b"precious"
    assert sorted(os.listdir(d)) == ["out.parquet"]          # no temporary file left behind


def _records(reader) -> str:
    return " ".join(f"{r.key}:{r.values.tolist()}" for r in reader)


def _env(name: str, value: str, call: Callable):
    with mock.patch.dict(os.environ, {name: value}):
        return call()


_STEPS = "id,t,x\nb,1,20\na,0,1\nb,0,10\na,1,2\n"
_NS = "id,t,x\na,1700000000000000002,2\na,1700000000000000001,1\n"
_TIMES = "id,t,x\na,2024-01-02T00:00:00,2\na,2024-01-01T00:00:00,1\nb,2024-01-01,5\n"
_F = readers.CSVSequenceReader

# ---- the catalogue ----------------------------------------------------------------------------
CASES = [
    # 1. Features and labels pair by key, never by position.
    Case("long tables in other orders pair by id",
         lambda d: _pair(d, ["a", "b", "c"], ["c", "b", "a"]),
         lambda p: _paired_values(p, align="align_start"), None, r"^a=0/2 b=1/1 c=2/0$"),
    Case("long tables in other orders pair by id when shuffled",
         lambda d: _pair(d, ["a", "b", "c"], ["c", "b", "a"]),
         lambda p: _paired_values(p, align="align_start", shuffle=True, seed=1), None, r"^a=0/2 b=1/1 c=2/0$"),
    Case("an id in the features only",
         lambda d: _pair(d, ["a", "b", "c"], ["b", "a"]), _batches,
         SequenceDataError, r"f\.csv, row 4: key 'c' is in the features only \(expected a labels sequence with "
                            r"key 'c', found none\); features and labels pair by key"),
    Case("an id in the labels only (shuffled)",
         lambda d: _pair(d, ["a", "b"], ["b", "z", "a"]), lambda p: _batches(p, shuffle=True),
         SequenceDataError, r"l\.csv, row 3: key 'z' is in the labels only \(expected a features sequence with "
                            r"key 'z'"),
    Case("numbered files whose numbers differ",
         lambda d: (_F(readers.NumberedFiles(_files(d / "f", {"0.csv": "1\n", "1.csv": "2\n"}) / "%d.csv", 0, 1)),
                    _F(readers.NumberedFiles(_files(d / "l", {"001.csv": "0\n", "002.csv": "1\n"}) / "%03d.csv",
                                             1, 2))),
         _batches, SequenceDataError, r"f/0\.csv, row 1: key '0' is in the features only"),
    Case("directories whose file names differ",
         lambda d: (_F(_files(d / "f", {"a.csv": "1\n", "b.csv": "2\n"})),
                    _F(_files(d / "l", {"b.csv": "20\n", "c.csv": "30\n"}))),
         _batches, SequenceDataError, r"f/a\.csv, row 1: key 'a' is in the features only"),
    Case("a glob with two files of one name",
         lambda d: (_F(str(_files(d / "f", {"x/s.csv": "1\n", "y/s.csv": "2\n"}) / "*" / "s.csv")),
                    _F(str(_files(d / "l", {"s.csv": "0\n", "t.csv": "1\n"}) / "*.csv"))),
         _batches, SequenceDataError, r"y/s\.csv: two files share a name.*found 's', also the name of .*x/s\.csv"),
    Case("a key repeated in nested labels",
         lambda d: (readers.ParquetSequenceReader(_nested(d / "f.parquet", [[1.0], [2.0]], key=["a", "b"])),
                    readers.ParquetSequenceReader(_nested(d / "l.parquet", [[0.0], [1.0]], key=["a", "a"]))),
         _batches, SequenceDataError, r"l\.parquet, row 2: key 'a' repeats in the labels, so it cannot pair "
                                      r".*first at .*l\.parquet, row 1"),
    # 2. write_parquet is atomic.
    Case("write_parquet failing part-way over an existing file",
         lambda d: d, _write_over, SequenceDataError, r"broken: empty sequence", after=_untouched),
    # 3. Header detection: missing values are data; a header is never read as data.
    Case("a headerless first row of NA", lambda d: _text(d / "na.csv", "NA,NA\n1,2\n"),
         lambda p: _records(_F(p)), None, r"na\.csv:\[\[nan, nan\], \[1\.0, 2\.0\]\]$"),
    Case("a headerless first row of empty cells", lambda d: _text(d / "e.csv", ",\n1,2\n"),
         lambda p: _records(_F(p)), None, r"e\.csv:\[\[nan, nan\], \[1\.0, 2\.0\]\]$"),
    Case("a long table with a header, skip_lines left out", lambda d: _text(d / "steps.csv", _STEPS),
         lambda p: _records(_F(p, id_column="id", order_column="t")), None,
         r"^b:\[\[10\.0\], \[20\.0\]\] a:\[\[1\.0\], \[2\.0\]\]$"),
    Case("text labels under a header, named", lambda d: _text(d / "l.csv", "id,label\na,up\nb,down\n"),
         lambda p: _F(p, id_column="id").columns, None, r"^\('label',\)$"),
    Case("a header with skip_lines=0", lambda d: _text(d / "steps.csv", _STEPS),
         lambda p: _F(p, skip_lines=0, id_column="id").columns, SequenceDataError,
         r"steps\.csv, column 'id': id_column not found .*; the first line looks like a header"),
    Case("a header read as data with skip_lines=0", lambda d: _text(d / "h.csv", "x,y\n1,2\n"),
         lambda p: list(_F(p, skip_lines=0)), SequenceDataError,
         r"h\.csv, row 1, column '0': non-numeric value \(expected a number, found 'x'\); the first line "
         r"looks like a header"),
    # 4. One clear SequenceDataError line, naming file, row, column, expected and found.
    Case("nanosecond integer order values stay exact", lambda d: _text(d / "ns.csv", _NS),
         lambda p: _records(_F(p, id_column="id", order_column="t")), None, r"^a:\[\[1\.0\], \[2\.0\]\]$"),
    Case("timestamp and date order values in CSV", lambda d: _text(d / "ts.csv", _TIMES),
         lambda p: _records(_F(p, id_column="id", order_column="t")), None, r"^a:\[\[1\.0\], \[2\.0\]\] b:"),
    Case("timestamp order column in Parquet",
         lambda d: _parquet(d / "ts.parquet", {"id": ["a", "a"], "t": pa.array([2, 1], pa.timestamp("ms")),
                                               "x": [2.0, 1.0]}),
         lambda p: _records(readers.ParquetSequenceReader(p, id_column="id", order_column="t")), None,
         r"^a:\[\[1\.0\], \[2\.0\]\]$"),
    Case("a repeated timestamp", lambda d: _text(d / "ts.csv", "id,t,x\na,2024-01-01,1\na,2024-01-01,2\n"),
         lambda p: list(_F(p, id_column="id", order_column="t")), SequenceDataError,
         r"ts\.csv, row 3, column 't': order value repeats within id 'a' .*found 2024-01-01"),
    Case("text in an order column", lambda d: _text(d / "o.csv", "id,t,x\na,0,1\na,soon,2\n"),
         lambda p: list(_F(p, id_column="id", order_column="t")), SequenceDataError,
         r"o\.csv, row 3, column 't': order column holds text \(expected numbers, timestamps or dates, "
         r"found 'soon'\)"),
    Case("300 KB of NUL bytes", lambda d: _text(d / "nul.csv", b"\0" * 300_000),
         lambda p: list(_F(p)), SequenceDataError,
         r"nul\.csv, row 1: NUL byte: binary data, not CSV text \(expected CSV text, found a NUL byte\)"),
    Case("NUL bytes in a later row", lambda d: _text(d / "nul.csv", b"1,2\n3,\0\n"),
         lambda p: list(_F(p)), SequenceDataError, r"nul\.csv, row 2: NUL byte"),
    Case("a cell ' n/a '", lambda d: _text(d / "na.csv", "a,b\n1,2\n3, n/a \n"),
         lambda p: list(_F(p)), SequenceDataError,
         r"na\.csv, row 3, column 'b': non-numeric value \(expected a number, found ' n/a '\); a missing "
         r"value is an empty field or a token such as NA"),
    Case("a truncated Parquet file in a directory",
         lambda d: _corrupt(str(_two_parquet(d, {"x": pa.array([[3.0]], pa.list_(pa.float64()))}) / "1.parquet"),
                            "truncate"),
         lambda p: list(readers.ParquetSequenceReader(os.path.dirname(p))), SequenceDataError,
         r"p/1\.parquet: cannot read the Parquet file \(truncated or corrupt\?\) \(expected a Parquet file, "
         r"found Parquet magic bytes not found"),
    Case("a garbled footer in a glob, counted",
         lambda d: _corrupt(str(_two_parquet(d, {"x": pa.array([[3.0]], pa.list_(pa.float64()))}) / "1.parquet"),
                            "garble"),
         lambda p: len(readers.ParquetSequenceReader(os.path.join(os.path.dirname(p), "*.parquet"))),
         SequenceDataError, r"p/1\.parquet: cannot read the Parquet file"),
    Case("a garbled footer in a glob, read",
         lambda d: _corrupt(str(_two_parquet(d, {"x": pa.array([[3.0]], pa.list_(pa.float64()))}) / "1.parquet"),
                            "garble"),
         lambda p: list(readers.ParquetSequenceReader(os.path.join(os.path.dirname(p), "*.parquet"))),
         SequenceDataError, r"p/1\.parquet: cannot read the Parquet file"),
    Case("a truncated file in a long-table directory",
         lambda d: _corrupt(_long_parquet_dir(d)[1], "truncate"),
         lambda p: list(readers.ParquetSequenceReader(os.path.dirname(p), id_column="id")), SequenceDataError,
         r"p/1\.parquet: cannot read the Parquet file \(truncated or corrupt\?\)"),
    Case("a corrupt data page", lambda d: _corrupt_page(d / "c.parquet"),
         lambda p: list(readers.SequenceBatches(readers.ParquetSequenceReader(p), batch_size=2)),
         SequenceDataError, r"c\.parquet: cannot read row group 0 of the Parquet file \(corrupt\?\) "
                            r"\(expected a Parquet file, found "),
    Case("a first Parquet file that is not Parquet",
         lambda d: [_text(d / "0.parquet", "x\n1\n"), _nested(d / "1.parquet", [[1.0]])],
         readers.ParquetSequenceReader, SequenceDataError,
         r"0\.parquet: cannot read the Parquet file \(truncated or corrupt\?\) \(expected a Parquet file, found "),
    Case("a directory without Parquet files", lambda d: _files(d / "empty", {".hidden": "x"}),
         readers.ParquetSequenceReader, SequenceDataError,
         r"empty'?: no Parquet files \(expected at least one file, found none\)"),
    Case("a later file without a column",
         lambda d: _two_parquet(d, {"y": pa.array([[3.0]], pa.list_(pa.float64()))}),
         lambda p: list(readers.ParquetSequenceReader(p)), SequenceDataError,
         r"p/1\.parquet, column 'x': column missing from file \(expected columns \['x'\], found \['y'\]\)"),
    Case("a later file with another column type",
         lambda d: _two_parquet(d, {"x": pa.array([["a"]], pa.list_(pa.string()))}),
         lambda p: list(readers.ParquetSequenceReader(p)), SequenceDataError,
         r"p/1\.parquet, column 'x': column type differs from the data set's \(its first file's\) "
         r"\(expected list of number .*, found list of text"),
    Case("a later long-table file with text ids",
         lambda d: [_parquet(d / "0.parquet", {"id": [1, 1], "v": [1.0, 2.0]}),
                    _parquet(d / "1.parquet", {"id": ["b"], "v": [3.0]})],
         lambda p: list(readers.ParquetSequenceReader(p, id_column="id")), SequenceDataError,
         r"1\.parquet, column 'id': column type differs .*expected number .*found text"),
    Case("a later file in a glob with an extra column",
         lambda d: _two_parquet(d, {"x": pa.array([[3.0]], pa.list_(pa.float64())),
                                    "y": pa.array([[4.0]], pa.list_(pa.float64()))}),
         lambda p: list(readers.ParquetSequenceReader(str(p / "*.parquet"))), SequenceDataError,
         r"p/1\.parquet, column 'y': column not in the data set's first file .*columns=\[\.\.\.\]"),
    Case("a later CSV file with an extra column",
         lambda d: _files(d / "c", {"0.csv": "1,2\n", "1.csv": "1,2,3\n"}),
         lambda p: list(_F(str(p / "*.csv"))), SequenceDataError,
         r"c/1\.csv, row 1, column '1': feature count differs between sequences"),
    Case("an empty Parquet data set", lambda d: _nested(d / "empty.parquet", []),
         lambda p: list(readers.SequenceBatches(readers.ParquetSequenceReader(p), batch_size=2)),
         SequenceDataError, r"ParquetSequenceReader\('.*empty\.parquet'\): no sequences to batch"),
    Case("an empty Parquet data set, shuffled", lambda d: _nested(d / "empty.parquet", []),
         lambda p: list(readers.SequenceBatches(readers.ParquetSequenceReader(p), batch_size=2, shuffle=True)),
         SequenceDataError, r"empty\.parquet'\): no sequences to batch"),
    Case("an empty Parquet data set, counted", lambda d: _nested(d / "empty.parquet", []),
         lambda p: len(readers.SequenceBatches(readers.ParquetSequenceReader(p), batch_size=2)),
         SequenceDataError, r"empty\.parquet'\): no sequences to batch"),
    Case("a reader of your own with no sequences", lambda d: _Nothing(),
         lambda r: list(readers.SequenceBatches(r, batch_size=2)), SequenceDataError,
         r"^_Nothing\(\): no sequences to batch \(expected at least one sequence, found none\)$"),
    Case("a reader of your own with no sequences, shuffled", lambda d: _Nothing(),
         lambda r: list(readers.SequenceBatches(r, batch_size=2, shuffle=True)), SequenceDataError,
         r"^_Nothing\(\): no sequences to batch"),
    Case("NumberedFiles up to 10**9, CSV",
         lambda d: readers.NumberedFiles(_files(d, {"0.csv": "1\n", "1.csv": "2\n"}) / "%d.csv", 0, 10**9),
         lambda n: list(readers.SequenceBatches(_F(n), batch_size=2)), SequenceDataError,
         r"/2\.csv: missing file"),
    Case("NumberedFiles up to 10**9, Parquet",
         lambda d: readers.NumberedFiles(os.path.join(os.path.dirname(_nested(d / "0.parquet", [[1.0]])),
                                                      "%d.parquet"), 0, 10**9),
         lambda n: readers.ParquetSequenceReader(n), SequenceDataError, r"/1\.parquet: missing file"),
    Case("RANK that is not an integer", lambda d: _text(d / "a.csv", "1\n"),
         lambda p: _env("RANK", "x", lambda: readers.SequenceBatches(_F(p), batch_size=1, shard="auto")),
         ValueError, r"^shard='auto' reads the environment variable RANK, which must be an integer; got RANK='x'$"),
    Case("num_classes as text", lambda d: _text(d / "a.csv", "1,0\n"),
         lambda p: readers.SequenceBatches(_F(p), batch_size=1, label_column=1, num_classes="2"),
         ValueError, r"^num_classes must be a positive int, got '2'$"),
    Case("num_classes as a float", lambda d: _text(d / "a.csv", "1,0\n"),
         lambda p: readers.SequenceBatches(_F(p), batch_size=1, label_column=1, num_classes=2.5),
         ValueError, r"^num_classes must be a positive int, got 2\.5$"),
    # 5. Hints: what to pass to read the data as it was meant.
    Case("text labels without classes, CSV", lambda d: _text(d / "s.csv", "x,label\n1,up\n2,down\n"),
         lambda p: _batches((_F(p),), label_column="label", num_classes=2), SequenceDataError,
         r"s\.csv, row 2, column 'label': non-numeric value \(expected a number, found 'up'\); text class "
         r"labels need classes=\[\.\.\.\] \(--classes a,b,c\)$"),
    Case("text labels without classes, Parquet",
         lambda d: _nested(d / "t.parquet", [[1.0], [2.0]], cls=["dog", "cat"]),
         lambda p: _batches((readers.ParquetSequenceReader(p),), label_column="cls", num_classes=2,
                            sequence_labels=True),
         SequenceDataError, r"t\.parquet, row 1, column 'cls': column holds text, not numbers .*; text class "
                            r"labels need classes=\[\.\.\.\] \(--classes a,b,c\)$"),
    Case("class labels numbered from 1",
         lambda d: _text(d / "s.csv", "x,label\n1,1\n2,3\n"),
         lambda p: _batches((_F(p),), label_column="label", num_classes=3), SequenceDataError,
         r"s\.csv, row 3, column 'label': class index out of range \(expected an integer in \[0, 3\), found 3\); "
         r"class indices are 0-based; for labels numbered 1\.\.3 pass classes=\['1', '2', '3'\] "
         r"\(--classes 1,2,3\)"),
    Case("one label per sequence under equal_length",
         lambda d: (_F(readers.NumberedFiles(_files(d / "f", {"0.csv": "1\n2\n3\n"}) / "%d.csv", 0, 0)),
                    _F(readers.NumberedFiles(_files(d / "l", {"0.csv": "1\n"}) / "%d.csv", 0, 0))),
         _batches, SequenceDataError,
         r"l/0\.csv, row 1: labels of sequence .* differ in length .*\(expected 3 steps, found 1 steps\); one "
         r"label per sequence: pass sequence_labels=True \(--sequence-labels\)"),
    Case("a leftover text column in a long CSV table",
         lambda d: _text(d / "s.csv", "id,t,x,name\na,0,1,alpha\na,1,2,alpha\n"),
         lambda p: list(_F(p, id_column="id", order_column="t")), SequenceDataError,
         r"s\.csv, row 2, column 'name': non-numeric value .*; a text column that is not a feature: choose "
         r"the columns to read with columns=\[\.\.\.\] \(--columns\)"),
    Case("a leftover text column in a long Parquet table",
         lambda d: _parquet(d / "s.parquet", {"id": ["a", "a"], "x": [1.0, 2.0], "name": ["p", "q"]}),
         lambda p: list(readers.ParquetSequenceReader(p, id_column="id")), SequenceDataError,
         r"s\.parquet, row 1, column 'name': column holds text, not numbers .*columns=\[\.\.\.\] \(--columns\)"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_hostile_input(case, tmp_path):
    argument = case.make(tmp_path)
    if case.error is None:
        result = str(case.call(argument))
        assert re.search(case.match, result), f"{case.name}: {result!r} does not match {case.match!r}"
        return
    with pytest.raises(case.error) as info:
        case.call(argument)
    message = str(info.value)
    assert type(info.value) is case.error, f"{case.name}: raised {type(info.value).__name__}: {message}"
    assert re.search(case.match, message), f"{case.name}: {message!r} does not match {case.match!r}"
    assert "\n" not in message and "Traceback" not in message, f"{case.name}: not one line: {message!r}"
    if case.after is not None:
        case.after(argument)


def test_every_case_has_a_distinct_name():
    names = [c.name for c in CASES]
    assert len(set(names)) == len(names)
