"""from_arrow: a pyarrow Table (or record batches) in memory as a reader, long or nested.

The same layouts as `ParquetSequenceReader`, from a table already in memory:
a long table (one row per step, `id_column=`, `order_column=`) is grouped by
`_long.group_long`, as a long CSV table is; nested rows (one row per
sequence, list columns) become chunks by `_nested.nested_chunk`, block by
block, as nested Parquet rows do. `from_pandas` converts a DataFrame to a
table and reads it with the same reader.
"""

from __future__ import annotations


import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ._arrow_layout import DEFAULT_KEY, special_and_data_columns
from ._columns import class_indices, is_text, to_float
from ._errors import SequenceDataError
from ._hints import TEXT_IN_LONG_TABLE, TEXT_LABELS
from ._long import group_long, order_values
from ._nested import ColumnSpec, column_spec, nested_chunk
from ._sequence_reader import SequenceReader
from ._text_numbers import text_to_float

__all__ = ["TableSequenceReader", "from_arrow"]

_ROWS = 512                   # nested rows (sequences) per chunk at least

_NESTED_OR_LONG = ("pass id_column= for a long table (one row per step), or hold each sequence in "
                   "list cells (one row per sequence)")


class TableSequenceReader(SequenceReader):
    """Sequences of an arrow table held in memory: long (one row per step) or nested (one row per sequence).

    Made by `readers.from_arrow` and `readers.from_pandas`; the layouts,
    keys and errors are those of `ParquetSequenceReader`, with rows counted
    from 1 in the table and `source` ("Table" or "DataFrame") in place of
    the file. A text column where numbers belong is read as numbers when
    every value reads as one; otherwise the error names the first value
    that does not.

    Args:
        table: a `pyarrow.Table`.
        id_column, order_column, key_column, columns: column names or
            schema indices, as for `ParquetSequenceReader`.
        source: how messages and `repr` name the table.
    """

    def __init__(self, table: pa.Table, *, id_column=None, order_column=None, columns=None,
                 key_column=None, source: str = "Table"):
        if order_column is not None and id_column is None:
            raise ValueError("order_column needs id_column (it sorts the rows of each id)")
        if key_column is not None and id_column is not None:
            raise ValueError("key_column is for the nested layout; a long table's key is its id")
        self.table = table.combine_chunks()
        self.source = source
        self.id_column = id_column
        self.order_column = order_column
        self.key_column = key_column
        self._columns_spec = None if columns is None else list(columns)
        self._plan = self._layout()
        self._count = None if self._plan["id"] is not None else table.num_rows

    # ---- layout -------------------------------------------------------------------------
    def _field(self, spec, what: str) -> str:
        names = self.table.schema.names
        if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
            if -len(names) <= spec < len(names):
                return names[spec]
        elif spec in names:
            return spec
        raise SequenceDataError(f"{what} not found", source=self.source, column=spec,
                                expected=f"one of {names}", found="no such column")

    def _layout(self) -> dict:
        schema = self.table.schema
        special, names = special_and_data_columns(
            schema, self._field, id_column=self.id_column, order_column=self.order_column,
            key_column=self.key_column, columns=self._columns_spec, default_key=self._default_key(schema))
        specs = [column_spec(schema.field(n), lambda n=n: self._first_step(n), source=self.source)
                 for n in names]
        if self.id_column is None and all(s.kind == "scalar" for s in specs):
            raise SequenceDataError(
                "no list column for the nested layout", source=self.source,
                expected="list<number> columns (or id_column= for a long table)",
                found=", ".join(f"{n}: {schema.field(n).type}" for n in names), hint=_NESTED_OR_LONG)
        if self.id_column is not None:
            for s in specs:
                if s.kind != "scalar":
                    raise SequenceDataError("list column in a long table", source=self.source,
                                            column=s.name, expected="one number per row",
                                            found=str(schema.field(s.name).type))
        return {"specs": specs, "id": special.get("id_column"), "order": special.get("order_column"),
                "key": special.get("key_column"), "columns": tuple(c for s in specs for c in s.channels)}

    def _default_key(self, schema: pa.Schema) -> bool:
        """Whether a nested table's text column named "key" is its key (not when asked for as a column)."""
        if schema.names.count(DEFAULT_KEY) != 1 or not is_text(schema.field(DEFAULT_KEY).type):
            return False
        return self._columns_spec is None or \
            DEFAULT_KEY not in [self._field(c, "column") for c in self._columns_spec]

    def _first_step(self, name: str):
        """The first step of a `list<list>` column (its width), from the first non-empty row."""
        column = self.table.column(name)
        filled = np.flatnonzero(pc.fill_null(pc.list_value_length(column), 0).to_numpy() > 0)
        return column[int(filled[0])].as_py()[0] if len(filled) else None

    @property
    def columns(self) -> tuple:
        """The record's column (channel) names, in record order."""
        return self._plan["columns"]

    @property
    def num_sequences(self) -> int | None:
        """Nested: the rows. Long: the distinct ids (counted once, vectorised)."""
        if self._count is None:
            self._count = pc.count_distinct(self._ids(), mode="only_valid").as_py()
        return self._count

    def pair_keys(self, keys: list) -> list | None:
        """Long table: the id values; nested with a key column: its values; otherwise None (by position)."""
        return list(keys) if self._plan["id"] is not None or self._plan["key"] is not None else None

    def __repr__(self) -> str:
        options = {"id_column": self.id_column, "order_column": self.order_column,
                   "key_column": self.key_column, "columns": self._columns_spec}
        parts = [f"{self.source}[{self.table.num_rows} rows]"]
        parts += [f"{k}={v!r}" for k, v in options.items() if v is not None]
        return f"{type(self).__name__}({', '.join(parts)})"

    # ---- reading ------------------------------------------------------------------------
    def _ids(self) -> pa.Array:
        ids = self.table.column(self._plan["id"]).combine_chunks()
        return ids.dictionary_decode() if pa.types.is_dictionary(ids.type) else ids

    def _locate(self, first: int = 0):
        """`locate(r) -> (source, 1-based table row)` for row r of a block starting at table row `first`."""
        source = self.source

        def locate(r):
            return source, first + int(r) + 1
        return locate

    def chunks(self, classes: dict | None = None, *, rows: int | None = None):
        """Yield `Chunk`s: the whole long table grouped by id, or nested rows `max(rows, 512)` at a time.

        Args:
            classes: record column index -> class names (text labels).
            rows: the batch size the chunks are for (nested rows per chunk, at least 512).
        """
        text = classes or {}
        if self._plan["id"] is not None:
            yield self._long_chunk(text)
            return
        size = max(rows or 0, _ROWS)
        for first in range(0, self.table.num_rows, size):
            batch = self.table.slice(first, size)
            batch, specs = self._text_as_numbers(batch, text, first)
            yield nested_chunk(batch, specs, path=self.source, row0=first, key_column=self._plan["key"],
                               text=text, columns=self._plan["columns"])

    def _long_chunk(self, text: dict):
        plan = self._plan
        if self.table.num_rows == 0:
            raise SequenceDataError("no rows in the long table", source=self.source,
                                    expected="at least one row", found="no rows")
        locate = self._locate()
        channels = []
        for c, spec in enumerate(plan["specs"]):
            column = self.table.column(spec.name)
            if c in text:
                channels.append(class_indices(column, text[c], locate, spec.name))
            elif spec.text:
                channels.append(text_to_float(column, locate, spec.name, TEXT_IN_LONG_TABLE))
            else:
                channels.append(to_float(column))
        order = None if plan["order"] is None else \
            order_values(self.table.column(plan["order"]), locate, plan["order"])
        chunk = group_long(channels, self._ids(), order, columns=plan["columns"], locate_row=locate,
                           id_name=plan["id"], order_name=plan["order"])
        self._count = len(chunk)
        return chunk

    def _text_as_numbers(self, batch: pa.Table, text: dict, first: int) -> tuple:
        """`(batch, specs)` with the text columns not used as class labels read as numbers."""
        specs, c = list(self._plan["specs"]), 0
        for s, spec in enumerate(self._plan["specs"]):
            column = batch.column(spec.name).combine_chunks() if spec.text and c not in text else None
            if column is not None and not column.null_count:           # a null list: nested_chunk says so
                batch = batch.set_column(batch.schema.get_field_index(spec.name), spec.name,
                                         _numbers(column, spec, self._locate(first)))
                specs[s] = ColumnSpec(spec.name, spec.kind, spec.width, text=False)
            c += spec.width
        return batch, specs


def _numbers(column: pa.Array, spec: ColumnSpec, locate) -> pa.Array:
    """A text scalar or list column as float64 numbers (the same lists)."""
    if spec.kind == "scalar":
        return pa.array(text_to_float(column, locate, spec.name, TEXT_LABELS))
    lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False).astype(np.int64)   # [n]
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])

    def locate_value(r):                                         # value r -> its row
        return locate(int(np.searchsorted(offsets, r, side="right")) - 1)
    values = text_to_float(column.flatten(), locate_value, spec.name, TEXT_LABELS)
    return pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(values))


def from_arrow(table, *, id_column=None, order_column=None, columns=None, key_column=None) -> SequenceReader:
    """A reader of sequences in a `pyarrow.Table` (or record batches) already in memory.

    The layouts of `ParquetSequenceReader`, with the same rules and errors:

    - long table (`id_column=`): one row per step; sequences in order of
      first appearance of their id, each id's rows in table order or sorted
      by `order_column=` (integers exactly; timestamps, dates and durations
      in time order). The key is the id value as text; labels pair with it
      by id.
    - nested (no `id_column`): one row per sequence. A `list<number>`
      column is one channel, a `list<list<number>>` column `[T][W]` gives W
      channels `name[0]` .. `name[W-1]`, a scalar column is repeated at every
      step of its row (a label for `sequence_labels=True`). The key is the
      `key_column=` value; without it, the column the table's seqkit
      metadata names (a table read from `write_parquet`'s file), else a text
      column named "key"; else `Table#row` (1-based), pairing by position.

    Text columns are class labels (`SequenceBatches(classes=...)`), or
    numbers when every value reads as one. Nulls in number columns are NaN,
    which `SequenceBatches` rejects unless `allow_nan=True`.

    Args:
        table: a `pyarrow.Table`, a `pyarrow.RecordBatch` or a list of record
            batches of one schema (rows counted across them).
        id_column, order_column, key_column: column names or schema indices.
        columns: the record's columns by name or schema index, in the order
            wanted; by default all but the id, order and key columns.

    Returns:
        A `SequenceReader`. It holds the table (no copy when each column is
        one contiguous array) and reads it again on each iteration; `len()`
        works at once.

    Raises:
        SequenceDataError: a column not found, no list column without
            `id_column`, a list column in a long table, an unsupported
            column type, or record batches of different schemas; when read,
            the errors of the Parquet layouts, naming the 1-based table row
            and the column ("Table, row 3, column 'x': ...").
        TypeError: `table` is not a table, a record batch or a list of them.
    """
    return TableSequenceReader(_table(table), id_column=id_column, order_column=order_column,
                               columns=columns, key_column=key_column, source="Table")


def _table(table) -> pa.Table:
    if isinstance(table, pa.Table):
        return table
    if isinstance(table, pa.RecordBatch):
        return pa.Table.from_batches([table])
    if isinstance(table, (list, tuple)) and table and all(isinstance(b, pa.RecordBatch) for b in table):
        first = table[0].schema
        for i, batch in enumerate(table):
            if not batch.schema.equals(first):
                raise SequenceDataError("record batch schema differs from the first batch's",
                                        source=f"record batch {i}", expected=str(first).replace("\n", "; "),
                                        found=str(batch.schema).replace("\n", "; "))
        return pa.Table.from_batches(list(table))
    raise TypeError(f"from_arrow takes a pyarrow.Table, a RecordBatch or a non-empty list of RecordBatches, "
                    f"got {type(table).__name__}")
