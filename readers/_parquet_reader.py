"""ParquetSequenceReader: nested or long Parquet data sets, streamed.

Files are found through `pyarrow.dataset` (a file, a list of files, a glob, a
directory or a hive-partitioned data set, on any filesystem pyarrow knows),
then each file is read row group by row group with `ParquetFile.iter_batches`
(pre-buffering off), a block of rows at a time, the next block decoding in a
background thread while the current one is converted and padded.
`Dataset.to_batches` is avoided because its memory grows while streaming
(apache/arrow#39808), and so is one `iter_batches` over all row groups,
which with pre-buffering on holds every row group asked for.

Nested rows become chunks block by block (`_nested`). A long table is read in
two passes, ids first (`_long_stream`), so that it streams too.
"""

from __future__ import annotations


import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ._arrow_layout import DEFAULT_KEY, special_and_data_columns
from ._columns import is_text
from ._errors import SequenceDataError
from ._hints import TEXT_IN_LONG_TABLE
from ._long import order_values, row_locator
from ._long_stream import rank_ids, stream_groups
from ._nested import channel_values, column_spec, nested_chunk
from ._parquet_files import check_file_schema, open_dataset, reading, row_group_units, unreadable
from ._prefetch import prefetch
from ._sequence_reader import SequenceReader
from ._sources import describe_source
from ._unit_runs import unit_sequences

__all__ = ["ParquetSequenceReader"]

_READ_ROWS = 512             # nested rows (sequences) per read at least; more for bigger batches
_LONG_READ_ROWS = 1 << 16    # long-table rows (steps) per read
_READ_ON_ROWS = 1 << 12      # rows per read past a unit's end, while its last sequence goes on


class ParquetSequenceReader(SequenceReader):
    """Sequences from Parquet, nested (one row per sequence) or long (one row per step).

    Layouts:
        - nested (no `id_column`): each row is a sequence. A `list<number>`
          column is one channel; a `list<list<number>>` column holds `[T][W]`
          steps, channels named `name[0]` .. `name[W-1]`; a scalar column is
          repeated at every step (for example a class label, then used with
          `SequenceBatches(label_column=..., sequence_labels=True)`). All list
          columns of a row must have the same length. The key is the
          `key_column` value, else `path#row` (1-based row in the file).
          Without `key_column=`, a file written by `write_parquet` names its
          key column in its metadata and that is used; failing that, one
          text column named `key` (not a partition key, not named in
          `columns=`) is the key, as in the bundled data sets; name it in
          `columns=` to read it as a column instead. Rows are read
          `max(batch_size, 512)` at a time, one block ahead: memory follows
          the batch (and at most one row group's column chunks).
        - long (`id_column`): one row per step, grouped by id in order of
          first appearance, sorted by `order_column` when given. Read in two
          passes: the id column alone, then every column in blocks of 65,536
          rows; each sequence is emitted once its last row has been read
          (after the sequences that appeared before it). Memory is bounded
          by how interleaved the ids are, not by the table: for rows grouped
          by id, about three blocks (the current one, the one decoding ahead,
          the one queued) plus one sequence, and a few bytes per distinct id;
          an id whose rows span the whole table keeps every later sequence
          waiting, up to the whole table.

    Args:
        source: a Parquet file, a list of files, a glob, a directory or a
            hive-partitioned directory (its partition keys are columns too;
            files in natural path order), or a URI pyarrow's filesystems know.
        id_column, order_column, key_column: column names or schema indices.
        columns: the record's columns by name or schema index; by default all
            but the id, order and key columns. Text columns may only be class
            labels (`SequenceBatches(classes=...)`).
        filesystem: a pyarrow or fsspec filesystem holding `source` (a path,
            directory or list of paths on it); by default local paths or URIs.

    Shape:
        each record's `values` are float64 `[T, C]`: T steps, C = `len(columns)`.

    A `SequenceReader`: iterating yields `Record`s, `chunks()` the same
    sequences in blocks; each iteration reads the files again.
    """

    def __init__(self, source, *, id_column=None, order_column=None, columns=None, key_column=None,
                 filesystem=None):
        if order_column is not None and id_column is None:
            raise ValueError("order_column needs id_column (it sorts the rows of each id)")
        if key_column is not None and id_column is not None:
            raise ValueError("key_column is for the nested layout; a long table's key is its id")
        self.source = source
        self.id_column = id_column
        self.order_column = order_column
        self.key_column = key_column
        self._columns_spec = None if columns is None else list(columns)
        self._dataset, self._files = open_dataset(source, filesystem)
        self._plan = None
        self._count = None
        self._units = None

    # ---- layout -------------------------------------------------------------------------
    def _field(self, spec, what: str) -> str:
        names = self._dataset.schema.names
        if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
            if -len(names) <= spec < len(names):
                return names[spec]
        elif spec in names:
            return spec
        raise SequenceDataError(f"{what} not found", source=self._files[0][0], column=spec,
                                expected=f"one of {names}", found="no such column")

    def _layout(self) -> dict:
        if self._plan is not None:
            return self._plan
        schema = self._dataset.schema
        special, names = special_and_data_columns(
            schema, self._field, id_column=self.id_column, order_column=self.order_column,
            key_column=self.key_column, columns=self._columns_spec, default_key=self._default_key(schema))
        path = self._files[0][0]
        specs = [column_spec(schema.field(n), lambda n=n: self._first_step(n), source=path)
                 for n in names]
        if self.id_column is None and all(s.kind == "scalar" for s in specs):
            raise SequenceDataError(
                "no list column for the nested layout", source=path,
                expected="list<number> columns (or id_column= for a long table)",
                found=", ".join(f"{n}: {schema.field(n).type}" for n in names))
        if self.id_column is not None:
            for s in specs:
                if s.kind != "scalar":
                    raise SequenceDataError("list column in a long table", source=path,
                                            column=s.name, expected="one number per row",
                                            found=str(schema.field(s.name).type))
        self._plan = {"specs": specs, "id": special.get("id_column"),
                      "order": special.get("order_column"), "key": special.get("key_column"),
                      "columns": tuple(c for s in specs for c in s.channels)}
        return self._plan

    def _default_key(self, schema: pa.Schema) -> bool:
        """Whether a nested table's text column named "key" is its key (see the class docstring)."""
        if schema.names.count(DEFAULT_KEY) != 1 or not is_text(schema.field(DEFAULT_KEY).type):
            return False
        if any(DEFAULT_KEY in parts for _, parts in self._files):
            return False                          # a partition key: one value per file, not per row
        # Not when it is asked for as a column.
        return self._columns_spec is None or \
            DEFAULT_KEY not in [self._field(c, "column") for c in self._columns_spec]

    def _first_step(self, name: str):
        """The first step of a `list<list>` column (its width), from the first non-empty row."""
        for path, parts in self._files:
            for batch in self._batches(path, parts, [name], _READ_ROWS):
                column = batch.column(name)
                filled = np.flatnonzero(pc.fill_null(pc.list_value_length(column), 0).to_numpy() > 0)
                if len(filled):
                    return column[int(filled[0])].as_py()[0]
        return None

    @property
    def columns(self) -> tuple:
        """The record's column (channel) names, in record order."""
        return self._layout()["columns"]

    @property
    def num_sequences(self) -> int | None:
        """The number of sequences, or None while unknown.

        Nested: the rows, from the file footers. Long: the ids, once read.

        Raises:
            SequenceDataError: a file whose footer cannot be read, naming it.
        """
        if self.id_column is None and self._count is None:
            total = 0
            for fragment in self._dataset.get_fragments():
                try:
                    total += fragment.count_rows()
                except (pa.ArrowException, OSError) as exc:
                    raise unreadable(fragment.path, exc) from None
            self._count = total
        return self._count

    def pair_keys(self, keys: list) -> list | None:
        """The keys sequences pair with labels by (see `SequenceReader.pair_keys`).

        Long table: the id values. Nested with a key column: its values.
        Nested without one (keys `path#row`): None, pair by position.
        """
        plan = self._layout()
        return list(keys) if plan["id"] is not None or plan["key"] is not None else None

    def _repr_parts(self) -> tuple:
        return self.source, {"id_column": self.id_column, "order_column": self.order_column,
                             "key_column": self.key_column, "columns": self._columns_spec}

    # ---- reading ------------------------------------------------------------------------
    def _batches(self, path: str, parts: dict, names: list, rows: int, groups=None, footer=None):
        """Record batches of one file (of up to `rows` rows) holding `names`, partition keys filled in.

        `groups`: the row groups to read (by default all); `footer`: the
        file's `FileMetaData` when already read.

        Raises:
            SequenceDataError: a file pyarrow cannot read, or whose columns
                differ from the data set's (a column missing, of another
                type, or, without `columns=`, one more), naming the file.
        """
        in_file = [n for n in names if n not in parts]
        try:
            parquet = pq.ParquetFile(self._dataset.filesystem.open_input_file(path), pre_buffer=False,
                                     metadata=footer)
        except (pa.ArrowException, OSError) as exc:
            raise unreadable(path, exc) from None
        with parquet:
            check_file_schema(path, parquet.schema_arrow, in_file, self._dataset.schema,
                              every_column=self._columns_spec is None)
            # Row group by row group, so at most one row group's column chunks are held.
            for group in range(parquet.num_row_groups) if groups is None else groups:
                batches = parquet.iter_batches(batch_size=rows, row_groups=[group], columns=in_file,
                                               use_threads=True)
                yield from self._with_partitions(reading(batches, path, group), parts, names)

    def _with_partitions(self, batches, parts: dict, names: list):
        """Record batches with the partition key columns added (constant per file)."""
        for batch in batches:
            if not parts.keys() & set(names):
                yield batch
                continue
            repeat = pa.array(np.zeros(batch.num_rows, dtype=np.int32))      # [rows] of index 0
            arrays = [batch.column(n) if n not in parts else
                      pa.array([parts[n]], self._dataset.schema.field(n).type).take(repeat)
                      for n in names]
            yield pa.RecordBatch.from_arrays(arrays, names=names)

    def _read(self, names: list, rows: int):
        """`(file index, 0-based file row of the batch's first row, batch)` over the data set."""
        for j, (path, parts) in enumerate(self._files):
            row0 = 0
            for batch in self._batches(path, parts, names, rows):
                yield j, row0, batch
                row0 += batch.num_rows

    def chunks(self, classes: dict | None = None, *, rows: int | None = None):
        """Yield `Chunk`s: one per block of nested rows, or long-table sequences as they complete.

        Args:
            classes: record column index -> class names (text labels).
            rows: the batch size the chunks are for: nested rows are read
                `max(rows, 512)` at a time, so memory follows the batch.
        """
        text = classes or {}
        if self._layout()["id"] is not None:
            yield from self._long_chunks(text)
        else:
            yield from self._nested_chunks(text, max(rows or 0, _READ_ROWS))

    def _nested_chunks(self, text: dict, rows: int):
        """One chunk per record batch of `rows` nested rows; the next batch decodes meanwhile."""
        plan = self._layout()
        needed = [s.name for s in plan["specs"]] + ([plan["key"]] if plan["key"] else [])
        for j, row0, batch in prefetch(self._read(needed, rows)):
            yield nested_chunk(batch, plan["specs"], path=self._files[j][0], row0=row0,
                               key_column=plan["key"], text=text, columns=plan["columns"])

    def _id_column(self, batch) -> pa.Array:
        """The id column of a batch, as the data set's schema types it (files may differ)."""
        ids = batch.column(self._layout()["id"])
        want = self._dataset.schema.field(self._layout()["id"]).type
        if pa.types.is_dictionary(want):
            want = want.value_type
        if pa.types.is_dictionary(ids.type):
            ids = ids.dictionary_decode()
        return ids if ids.type == want else ids.cast(want)

    def _long_chunks(self, text: dict):
        """Two passes over the long table (see `_long_stream`): ids first, then every column."""
        plan = self._layout()
        paths = [path for path, _ in self._files]
        file_rows = np.zeros(len(paths), dtype=np.int64)

        def id_blocks():
            for j, row0, batch in self._read([plan["id"]], _LONG_READ_ROWS):
                file_rows[j] = row0 + batch.num_rows
                yield self._id_column(batch), lambda r, j=j, row0=row0: (paths[j], row0 + r + 1)

        ranks = rank_ids(id_blocks(), plan["id"])
        if ranks.rows == 0:
            raise SequenceDataError("no rows in the long table", source=describe_source(self.source),
                                    expected="at least one row", found="no rows")
        self._count = len(ranks.names)
        starts = np.concatenate([[0], np.cumsum(file_rows)])                 # [files + 1]
        locate_row = row_locator(starts, paths, 1)
        needed = [s.name for s in plan["specs"]] + [plan["id"]] + ([plan["order"]] if plan["order"] else [])

        def blocks():
            for j, row0, batch in prefetch(self._read(needed, _LONG_READ_ROWS)):
                first = int(starts[j]) + row0

                def locate(r, first=first):
                    return locate_row(first + r)
                yield self._long_block(batch, text, locate)[:3]

        yield from stream_groups(blocks(), ranks, columns=plan["columns"], locate_row=locate_row,
                                 order_name=plan["order"])

    def _long_block(self, batch, text: dict, locate) -> tuple:
        """`(channels, ids, order, locate)` of a record batch of a long table's rows."""
        plan = self._layout()
        channels = [channel_values(batch.column(s.name), s, text.get(c), locate, TEXT_IN_LONG_TABLE)
                    for c, s in enumerate(plan["specs"])]
        order = None if plan["order"] is None else \
            order_values(batch.column(plan["order"]), locate, plan["order"])
        return channels, self._id_column(batch), order, locate

    # ---- sharding by unit ---------------------------------------------------------------
    def units(self) -> list:
        """One `Unit` per row group of every file, from the footers (no data is read).

        Raises:
            SequenceDataError: a file whose footer cannot be read, naming it.
        """
        if self._units is None:
            self._units = row_group_units(self._dataset.filesystem, self._files,
                                          nested=self._layout()["id"] is None)
        return self._units[0]

    def read_units(self, units, classes: dict | None = None, *, rows: int | None = None):
        """The sequences owned by `units` (indexes into `units()`), unit after unit.

        Nested: the rows of those row groups. Long table: the sequences whose
        first row is in the row group (see `_unit_runs`), reading on into
        the next row groups while the last one goes on, after a look at the
        id column of the row group before.
        """
        text = classes or {}
        self.units()
        units = [int(u) for u in units]
        plan = self._layout()
        if plan["id"] is None:
            needed = [s.name for s in plan["specs"]] + ([plan["key"]] if plan["key"] else [])
            for j, row0, batch in prefetch(self._unit_batches(units, needed, max(rows or 0, _READ_ROWS))):
                yield nested_chunk(batch, plan["specs"], path=self._files[j][0], row0=row0,
                                   key_column=plan["key"], text=text, columns=plan["columns"])
            return
        needed = [s.name for s in plan["specs"]] + [plan["id"]] + ([plan["order"]] if plan["order"] else [])
        for u in units:
            own = (self._long_block(batch, text, self._locator(j, row0))
                   for j, row0, batch in prefetch(self._unit_batches([u], needed, _LONG_READ_ROWS)))
            yield from unit_sequences(own, lambda u=u: self._read_on(u, needed, text),
                                      self._previous_id(u), columns=plan["columns"],
                                      id_name=plan["id"], order_name=plan["order"])

    def _locator(self, j: int, row0: int):
        path = self._files[j][0]

        def locate(r):
            return path, row0 + r + 1
        return locate

    def _unit_batches(self, units: list, names: list, rows: int):
        """`(file index, 0-based file row of the batch's first row, batch)` over the row groups `units`."""
        _, where, footers = self._units
        for u in units:
            j, group, row0 = where[u]
            path, parts = self._files[j]
            for batch in self._batches(path, parts, names, rows, groups=[group], footer=footers[j]):
                yield j, row0, batch
                row0 += batch.num_rows

    def _read_on(self, u: int, needed: list, text: dict):
        """Blocks of the row groups after unit u, in table order."""
        for j, row0, batch in self._unit_batches(range(u + 1, len(self._units[0])), needed, _READ_ON_ROWS):
            yield self._long_block(batch, text, self._locator(j, row0))

    def _previous_id(self, u: int):
        """The id of the table row before unit u (reading the id column of the row group before), or None."""
        id_name = self._layout()["id"]
        for before in range(u - 1, -1, -1):
            last = None
            for _, _, batch in self._unit_batches([before], [id_name], _LONG_READ_ROWS):
                if batch.num_rows:
                    last = batch
            if last is not None:
                return self._id_column(last)[last.num_rows - 1]
        return None

