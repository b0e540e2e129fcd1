"""CSVSequenceReader: CSV files to sequences, parsed by pyarrow.

Two layouts. Without `id_column` every file is one sequence, one row per step
(DL4J's `CSVSequenceRecordReader`). With `id_column` the files form one long
table, one row per step, grouped by id.

Reading goes through `_csv_files`: many small files are parsed by pyarrow in
one call, so there is no per-file or per-row Python on the fast path.
"""

from __future__ import annotations

import csv
import io

import numpy as np
import pyarrow as pa

from . import _csv_files, _hints
from ._chunk import Chunk
from ._columns import class_indices
from ._csv_files import load, parse
from ._errors import SequenceDataError
from ._header import looks_like_header
from ._long import group_long, join_order, order_values, row_locator
from ._sequence_reader import SequenceReader
from ._sources import NumberedFiles, describe_source, file_pair_key, source_paths

__all__ = ["CSVSequenceReader"]


def _join(arrays: list) -> np.ndarray:
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)


def _split_line(text: bytes, delimiter: str) -> list:
    """The fields of the first CSV record in `text`."""
    text = text.decode("utf-8", errors="replace")
    return next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), [])


def _position(spec, names: list, what: str, path: str, header_row, hint=None) -> int:
    """File position of a column given by name or (possibly negative) index; `hint` ends a miss."""
    n = len(names)
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
        if -n <= spec < n:
            return int(spec) % n
        raise SequenceDataError(f"{what} index out of range", source=path, row=header_row,
                                column=int(spec), expected=f"an index in [{-n}, {n})",
                                found=f"{n} columns")
    matches = [i for i, name in enumerate(names) if name == spec]
    if len(matches) != 1:
        found = "no such column" if not matches else f"{len(matches)} columns of that name"
        raise SequenceDataError(f"{what} not found", source=path, row=header_row, column=spec,
                                expected=f"one of {names}", found=found, hint=hint)
    return matches[0]


class CSVSequenceReader(SequenceReader):
    """Sequences from CSV files; parsing is done by pyarrow.

    Layouts:
        - no `id_column`: each file is one sequence, one row per step. `source`
          is a `NumberedFiles`, a list of paths, a directory (natural order:
          `2.csv` before `10.csv`) or a glob. The key is the file path; it
          pairs with labels by the file's number (`NumberedFiles`) or its
          name without extension (directory, glob), and listed files pair
          in the order listed (see `SequenceBatches`).
        - `id_column`: one long table in one or many files, one row per step.
          Rows are grouped by id in order of first appearance and kept in file
          order, or sorted by `order_column` (integers exactly, as int64;
          timestamps and dates in time order; other numbers as float64).
          The key is the id value (text).
          The whole table is read into memory (about 8 bytes per value):
          unlike Parquet, CSV cannot give the id column alone without
          parsing every byte, so a streamed two-pass read would parse the
          text twice. Convert a long table bigger than memory to Parquet.

    Args:
        source: see Layouts.
        skip_lines: lines to skip at the top of every file; None (the
            default): 1 when the first file's first line is a header, by
            `readers.detect_header`'s rule (the id, order and `columns=`
            names given count as evidence), else 0. When at least one is
            skipped and the last skipped line has as many fields as the
            rows, it names the columns; otherwise columns are named
            "0", "1", ... by position.
        delimiter: one character.
        id_column, order_column: name or 0-based file position.
        columns: the record's columns, by name or file position, in the order
            wanted; by default every column but the id and order columns.

    Quoted fields work. A blank line (other than one final newline) is an
    error, as are missing files, empty files (no id_column), binary files
    (a NUL byte), rows with a different column count and non-numeric values.
    Empty fields and the missing-value tokens (`NA`, `NaN`, `null`, `n/a`,
    ..., written exactly) read as NaN, which `SequenceBatches` rejects
    unless `allow_nan=True`.

    A `SequenceReader`: iterating yields `Record`s, `chunks()` the same
    sequences in blocks; each iteration reads the files again.

    Shape:
        each record's `values` are float64 `[T, C]`: T steps, C = `len(columns)`.
    """

    def __init__(self, source, *, skip_lines: int | None = None, delimiter: str = ",", id_column=None,
                 order_column=None, columns=None):
        if skip_lines is not None and (isinstance(skip_lines, bool) or not isinstance(skip_lines, int)
                                       or skip_lines < 0):
            raise ValueError(f"skip_lines must be a non-negative int, or None to detect a header, "
                             f"got {skip_lines!r}")
        if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in "\"\r\n":
            raise ValueError(f"delimiter must be one character other than a quote or newline, "
                             f"got {delimiter!r}")
        if order_column is not None and id_column is None:
            raise ValueError("order_column needs id_column (it sorts the rows of each id)")
        self.source = source
        self.skip_lines = skip_lines
        self.delimiter = delimiter
        self.id_column = id_column
        self.order_column = order_column
        self._columns_spec = None if columns is None else list(columns)
        self._paths = source_paths(source)        # a NumberedFiles builds its paths lazily
        self._plan = None
        self._names_checked = False
        self._count = None if id_column is not None else len(self._paths)

    # ---- layout -------------------------------------------------------------------------
    def _layout(self) -> dict:
        """Column names and positions, from the first file (read once)."""
        if self._plan is not None:
            return self._plan
        path = self._paths[0]
        given = [s for s in (self.id_column, self.order_column, *(self._columns_spec or []))
                 if isinstance(s, str)]
        skip = self.skip_lines
        head = load(path, 1, "head") if not skip else None              # the first two lines
        if skip is None:
            skip = int(looks_like_header(head, self.delimiter, given))
        # skip_lines=0 given for a file whose first line looks like a header: say so where it shows.
        header_hint = _hints.HEADER if self.skip_lines == 0 and looks_like_header(
            head, self.delimiter, given) else None
        body = load(path, skip, "head")
        header_row = skip or None
        first_row = _split_line(body.data[body.start:], self.delimiter)    # may span lines if quoted
        width = len(first_row) if first_row else None
        names = None
        if body.header is not None:
            header = [name.strip() for name in _split_line(body.header, self.delimiter)]
            if width is None or len(header) == width:
                names, width = header, len(header)
        used_header = names is not None
        if width is None:
            raise SequenceDataError("empty sequence", source=path, row=skip + 1,
                                    expected="at least one row", found="no rows")
        names = names or [str(i) for i in range(width)]
        special = {}
        for what, spec in (("id_column", self.id_column), ("order_column", self.order_column)):
            if spec is not None:
                special[what] = _position(spec, names, what, path, header_row, header_hint)
        if self._columns_spec is None:
            value_pos = [i for i in range(width) if i not in special.values()]
        else:
            value_pos = [_position(s, names, "column", path, header_row, header_hint)
                         for s in self._columns_spec]
        if len(set(value_pos)) != len(value_pos):
            raise ValueError(f"columns= names a column twice: {self._columns_spec!r}")
        if set(value_pos) & set(special.values()):
            raise ValueError("columns= may not include the id or order column")
        if not value_pos:
            raise ValueError("no columns left to read: the file has only id/order columns")
        self._plan = {"names": names, "header": body.header if used_header else None,
                      "values": value_pos, "id": special.get("id_column"),
                      "order": special.get("order_column"), "skip": skip,
                      "header_hint": header_hint}
        return self._plan

    @property
    def columns(self) -> tuple:
        """The record's column names, in record order."""
        plan = self._layout()
        return tuple(plan["names"][p] for p in plan["values"])

    @property
    def num_sequences(self) -> int | None:
        """The number of sequences, or None while unknown.

        One file per sequence: the files. Long table: the ids, once read.
        """
        return self._count

    def pair_keys(self, keys: list) -> list | None:
        """The keys sequences pair with labels by (see `SequenceReader.pair_keys`).

        Long table: the id values. One file per sequence: the file's number
        for a `NumberedFiles`, its name without extension for a directory
        or glob; None (pair by position) for files listed or one file.

        Raises:
            SequenceDataError: two files of a directory or glob with the same
                name (without extension).
        """
        if self.id_column is not None:
            return list(keys)
        key_of = file_pair_key(self.source)
        if key_of is None:
            return None
        if not self._names_checked and not isinstance(self._paths, NumberedFiles):
            _check_unique_names(self._paths, key_of)            # once: the paths are known up front
        self._names_checked = True
        return [key_of(k) for k in keys]

    def _repr_parts(self) -> tuple:
        return self.source, {"skip_lines": self.skip_lines, "id_column": self.id_column,
                             "order_column": self.order_column, "columns": self._columns_spec}

    # ---- reading ------------------------------------------------------------------------
    def _groups(self):
        """Bodies of consecutive files, about `_csv_files.GROUP_BYTES` at a time (a big file alone)."""
        group, size = [], 0
        plan = self._layout()
        for path in self._paths:
            body = load(path, plan["skip"])
            if plan["header"] is not None and body.header != plan["header"]:
                self._check_header(body)
            if not body.whole:
                if group:
                    yield group
                yield [body]
                group, size = [], 0
                continue
            group.append(body)
            size += len(body.data)
            if size >= _csv_files.GROUP_BYTES:
                yield group
                group, size = [], 0
        if group:
            yield group

    def _check_header(self, body) -> None:
        plan = self._layout()
        found = [n.strip() for n in _split_line(body.header or b"", self.delimiter)]
        if found != plan["names"]:
            raise SequenceDataError("header differs from the first file's", source=body.path,
                                    row=plan["skip"], expected=plan["names"], found=found)

    def _kinds(self, text: dict) -> dict:
        """File position -> "number", "order" or the class names, for every column parsed but the id."""
        plan = self._layout()
        kinds = {p: "number" for p in plan["values"]}
        for index, classes in text.items():
            kinds[plan["values"][index]] = tuple(classes)
        if plan["order"] is not None:
            kinds[plan["order"]] = "order"          # its type is inferred: int64 stays exact
        return kinds

    def _parse(self, bodies: list, kinds: dict) -> pa.Table:
        """One table of the rows of `bodies`, in order; exact errors on failure."""
        plan = self._layout()
        names = [f"c{i}" for i in range(len(plan["names"]))]
        types = {names[p]: pa.float64() if k == "number" else None if k == "order" else pa.string()
                 for p, k in kinds.items()}
        if plan["id"] is not None:
            types[names[plan["id"]]] = pa.string()
        hint = _hints.TEXT_IN_LONG_TABLE if plan["id"] is not None else _hints.TEXT_LABELS
        return parse(bodies, delimiter=self.delimiter, names=names, types=types,
                     diagnosis={"names": plan["names"], "kinds": kinds, "first_path": self._paths[0],
                                "text_hint": hint, "header_hint": plan["header_hint"]})

    def _channels(self, table: pa.Table, text: dict, locate_row) -> list:
        """C float64 arrays `[R]`, the record columns; text labels become class indices."""
        plan = self._layout()
        channels = []
        for j, pos in enumerate(plan["values"]):
            column = table.column(f"c{pos}")
            if j in text:
                channels.append(class_indices(column, text[j], locate_row, plan["names"][pos]))
            else:
                channels.append(column.to_numpy())   # nulls become NaN
        return channels

    def chunks(self, classes: dict | None = None, *, rows: int | None = None):
        """Yield `Chunk`s: blocks of files (one chunk per block), or the whole long table.

        Args:
            classes: record column index -> class names (text labels).
            rows: the batch size the chunks are for; unused (CSV is read in
                blocks of bytes, see `_groups`).
        """
        text = classes or {}
        kinds = self._kinds(text)
        plan = self._layout()
        columns = self.columns
        if plan["id"] is not None:
            yield self._long_table(kinds, text, columns)
            return
        first_row = plan["skip"] + 1
        for bodies in self._groups():
            for b in bodies:
                if b.empty:
                    raise SequenceDataError("empty sequence", source=b.path, row=first_row,
                                            expected="at least one row", found="no rows")
            table = self._parse(bodies, kinds)
            paths = [b.path for b in bodies]
            offsets = np.zeros(len(bodies) + 1, dtype=np.int64)
            np.cumsum([b.rows for b in bodies], out=offsets[1:])
            locate_row = row_locator(offsets, paths, first_row)
            yield Chunk(self._channels(table, text, locate_row), offsets, paths, columns,
                        lambda i, t, paths=paths: (paths[i], first_row + t))

    def _long_table(self, kinds: dict, text: dict, columns: tuple) -> Chunk:
        plan = self._layout()
        first_row = plan["skip"] + 1
        parts, ids, order, paths, rows = [], [], [], [], []
        for bodies in self._groups():
            table = self._parse(bodies, kinds)
            starts = np.zeros(len(bodies) + 1, dtype=np.int64)
            np.cumsum([b.rows for b in bodies], out=starts[1:])
            locate_row = row_locator(starts, [b.path for b in bodies], first_row)
            parts.append(self._channels(table, text, locate_row))
            ids.extend(table.column(f"c{plan['id']}").chunks)
            if plan["order"] is not None:
                order.append((order_values(table.column(f"c{plan['order']}"), locate_row,
                                           plan["names"][plan["order"]]), bodies[0].path))
            paths.extend(b.path for b in bodies)
            rows.extend(b.rows for b in bodies)
        starts = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(rows, out=starts[1:])
        if starts[-1] == 0:
            raise SequenceDataError("no rows in the long table", source=describe_source(self.source),
                                    expected="at least one row", found="no rows")
        names = plan["names"]
        order_name = None if plan["order"] is None else names[plan["order"]]
        chunk = group_long(
            [_join(list(ch)) for ch in zip(*parts)], pa.chunked_array(ids, type=pa.string()),
            join_order(order, order_name) if order else None, columns=columns,
            locate_row=row_locator(starts, paths, first_row),
            id_name=names[plan["id"]], order_name=order_name)
        self._count = len(chunk)
        return chunk


def _check_unique_names(paths, key_of) -> None:
    """Raise when two files share a pairing name (files then cannot pair with labels by name)."""
    seen = {}
    for path in paths:
        name = key_of(path)
        if name in seen:
            raise SequenceDataError(
                "two files share a name, and files of a directory or glob pair with labels by name",
                source=path, expected="file names (without extension) that differ",
                found=f"{name!r}, also the name of {seen[name]}",
                hint="pass the files as a list to pair them in the order listed")
        seen[name] = path
