"""CSVSequenceReader: CSV files to sequences, parsed by pyarrow.

Two layouts. Without `id_column` every file is one sequence, one row per step
(DL4J's `CSVSequenceRecordReader`). With `id_column` the files form one long
table, one row per step, grouped by id.

Reading goes through `_csv_files`: many small files are parsed by pyarrow in
one call, so there is no per-file or per-row Python on the fast path.
"""

from __future__ import annotations


import numpy as np
import pyarrow as pa

from . import _csv_files, _hints
from ._chunk import Chunk
from ._columns import class_indices
from ._csv_blocks import LongBlocks, file_size
from ._csv_files import Body, load, parse
from ._csv_layout import csv_layout, split_line
from ._errors import SequenceDataError
from ._long import group_long, join_order, order_values, row_locator
from ._sequence_reader import SequenceReader
from ._sharding import Unit
from ._sources import NumberedFiles, describe_source, file_pair_key, source_paths
from ._unit_runs import unit_sequences

__all__ = ["CSVSequenceReader"]


def _join(arrays: list) -> np.ndarray:
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)


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
        block_bytes: with `id_column`, the size of the blocks (byte ranges
            cut at line ends) a long table is shared out in between
            processes (`SequenceBatches(shard_by="unit")`); 32 MiB by default.

    Sharding (`units()`): one file per sequence splits into its files; a long
    table into blocks of `block_bytes` of each file. A sequence belongs to
    the block holding its first row, whose reader reads on into the next
    blocks while the id goes on, so each id's rows must be together (grouped
    by id), and no quoted field may hold a newline.

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
                 order_column=None, columns=None, block_bytes: int | None = None):
        if skip_lines is not None and (isinstance(skip_lines, bool) or not isinstance(skip_lines, int)
                                       or skip_lines < 0):
            raise ValueError(f"skip_lines must be a non-negative int, or None to detect a header, "
                             f"got {skip_lines!r}")
        if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in "\"\r\n":
            raise ValueError(f"delimiter must be one character other than a quote or newline, "
                             f"got {delimiter!r}")
        if order_column is not None and id_column is None:
            raise ValueError("order_column needs id_column (it sorts the rows of each id)")
        if block_bytes is not None and (isinstance(block_bytes, bool) or not isinstance(block_bytes, int)
                                        or block_bytes < 1):
            raise ValueError(f"block_bytes must be a positive int or None, got {block_bytes!r}")
        self.block_bytes = block_bytes or _csv_files.GROUP_BYTES
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
        self._units = None
        self._long_blocks = None

    # ---- layout -------------------------------------------------------------------------
    def _layout(self) -> dict:
        """Column names and positions, from the first file (read once; see `_csv_layout`)."""
        if self._plan is None:
            self._plan = csv_layout(self._paths[0], skip_lines=self.skip_lines, delimiter=self.delimiter,
                                    id_column=self.id_column, order_column=self.order_column,
                                    columns=self._columns_spec)
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
    def _groups(self, paths=None):
        """Bodies of consecutive files, about `_csv_files.GROUP_BYTES` at a time (a big file alone)."""
        group, size = [], 0
        plan = self._layout()
        for path in self._paths if paths is None else paths:
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
        found = [n.strip() for n in split_line(body.header or b"", self.delimiter)]
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
        yield from self._file_chunks(None, kinds, text, columns)

    def _file_chunks(self, paths, kinds: dict, text: dict, columns: tuple):
        """One chunk per block of files (all files, or `paths`), one sequence per file."""
        plan = self._layout()
        first_row = plan["skip"] + 1
        for bodies in self._groups(paths):
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

    # ---- sharding by unit ---------------------------------------------------------------
    def units(self) -> list:
        """The `Unit`s of the data: its files (one file per sequence) or its blocks (long table).

        Raises:
            SequenceDataError: a missing file.
        """
        if self._units is None:
            if self.id_column is None:
                units = []
                for path in self._paths:
                    size = file_size(path)
                    units.append(Unit(path, None, size, size, 1, path))
                self._units = units
            else:
                self._units = self._blocks().units()
        return self._units

    def _blocks(self) -> LongBlocks:
        plan = self._layout()
        if self._long_blocks is None:
            self._long_blocks = LongBlocks(
                self._paths, skip=plan["skip"], block_bytes=self.block_bytes, delimiter=self.delimiter,
                id_position=plan["id"], check_header=self._check_file_header)
        return self._long_blocks

    def _check_file_header(self, path: str, header) -> None:
        plan = self._layout()
        if plan["header"] is not None and header != plan["header"]:
            self._check_header(Body(path, b"", 0, header, True, plan["skip"]))

    def read_units(self, units, classes: dict | None = None, *, rows: int | None = None):
        """The sequences owned by `units` (indexes into `units()`), unit after unit.

        One file per sequence: those files, read as `chunks()` reads them.
        Long table: each block's sequences (the block rule in the class
        docstring), grouped as `chunks()` groups them.
        """
        text = classes or {}
        kinds = self._kinds(text)
        plan = self._layout()
        columns = self.columns
        every = self.units()
        picked = [every[int(u)] for u in units]
        if plan["id"] is None:
            if picked:
                yield from self._file_chunks([unit.source for unit in picked], kinds, text, columns)
            return
        blocks, parse = self._blocks(), self._block_parser(kinds, text)
        names = plan["names"]
        for u in units:
            reading = blocks.read(int(u), parse)
            if reading is not None:
                previous, own, after = reading
                yield from unit_sequences(own, after, previous, columns=columns, id_name=names[plan["id"]],
                                          order_name=None if plan["order"] is None else names[plan["order"]])

    def _block_parser(self, kinds: dict, text: dict):
        """`parse(path, data, rows_before)`: the rows of a block of whole lines, as `_unit_runs` takes them."""
        plan = self._layout()

        def parse_block(path, data, rows_before):
            table = self._parse([Body(path, data, 0, None, True, plan["skip"], rows_before)], kinds)

            def locate(r):
                return path, rows_before() + 1 + r
            order = None
            if plan["order"] is not None:
                order = order_values(table.column(f"c{plan['order']}"), locate, plan["names"][plan["order"]])
            return self._channels(table, text, locate), table.column(f"c{plan['id']}"), order, locate
        return parse_block

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
