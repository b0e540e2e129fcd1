"""ParquetSequenceReader: nested or long Parquet data sets, streamed by row group.

Files are found through `pyarrow.dataset` (a file, a list of files, a glob, a
directory or a hive-partitioned data set, on any filesystem pyarrow knows),
then each file is read with `ParquetFile.iter_batches`, so memory stays
bounded by a row group; `Dataset.to_batches` is avoided because its memory
grows while streaming (apache/arrow#39808).
"""

from __future__ import annotations

import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from ._columns import class_indices, is_text, to_float
from ._errors import SequenceDataError
from ._long import group_long, row_locator
from ._nested import column_spec, nested_chunk
from ._sources import describe_source, natural_key, resolve_paths

__all__ = ["ParquetSequenceReader"]

_READ_ROWS = 2048            # nested rows (sequences) per record batch


def _open_dataset(source):
    """`(dataset, [(path, partition_keys)])` in reading order."""
    directory = isinstance(source, (str, os.PathLike)) and (
        os.path.isdir(source) or "://" in os.fspath(source))
    try:
        if directory:
            dataset = ds.dataset(os.fspath(source), format="parquet", partitioning="hive")
        else:
            dataset = ds.dataset(resolve_paths(source), format="parquet")
    except FileNotFoundError as exc:
        missing = str(exc).split(":")[-1].strip() or describe_source(source)
        raise SequenceDataError("missing file", source=missing, expected="an existing file",
                                found="no such file") from None
    except pa.ArrowInvalid as exc:
        raise SequenceDataError(f"not a Parquet data set: {exc}", source=describe_source(source)) from None
    files = [(f.path, ds.get_partition_keys(f.partition_expression)) for f in dataset.get_fragments()]
    if directory:
        files.sort(key=lambda f: natural_key(f[0]))
    if not files:
        raise SequenceDataError("no Parquet files", source=describe_source(source),
                                expected="at least one file", found="none")
    return dataset, files


class ParquetSequenceReader:
    """Sequences from Parquet, nested (one row per sequence) or long (one row per step).

    Layouts:
        - nested (no `id_column`): each row is a sequence. A `list<number>`
          column is one channel; a `list<list<number>>` column holds `[T][W]`
          steps, channels named `name[0]` .. `name[W-1]`; a scalar column is
          repeated at every step (for example a class label, then used with
          `SequenceBatches(label_column=..., sequence_labels=True)`). All list
          columns of a row must have the same length. The key is the
          `key_column` value, else `path#row` (1-based row in the file); a
          file written by `write_parquet` names its key column in its
          metadata and that is used by default. Rows stream by record batch
          of 2048 sequences: memory is bounded by a row group.
        - long (`id_column`): one row per step, grouped by id in order of
          first appearance, sorted by `order_column` when given. The whole
          table (selected columns) is read into memory.

    Args:
        source: a Parquet file, a list of files, a glob, a directory or a
            hive-partitioned directory (its partition keys are columns too;
            files in natural path order), or a URI pyarrow's filesystems know.
        id_column, order_column, key_column: column names or schema indices.
        columns: the record's columns by name or schema index; by default all
            but the id, order and key columns. Text columns may only be class
            labels (`SequenceBatches(classes=...)`).

    Iterating yields `Record`s; each iteration reads the files again.
    """

    def __init__(self, source, *, id_column=None, order_column=None, columns=None, key_column=None):
        if order_column is not None and id_column is None:
            raise ValueError("order_column needs id_column (it sorts the rows of each id)")
        if key_column is not None and id_column is not None:
            raise ValueError("key_column is for the nested layout; a long table's key is its id")
        self.source = source
        self.id_column = id_column
        self.order_column = order_column
        self.key_column = key_column
        self._columns_spec = None if columns is None else list(columns)
        self._dataset, self._files = _open_dataset(source)
        self._plan = None
        self._count = None

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
        special = {}
        for what, spec in (("id_column", self.id_column), ("order_column", self.order_column),
                           ("key_column", self.key_column)):
            if spec is not None:
                special[what] = self._field(spec, what)
        if self.id_column is None and self.key_column is None:
            meta = json.loads((schema.metadata or {}).get(b"seqkit", b"{}"))
            if meta.get("key_column") in schema.names:
                special["key_column"] = meta["key_column"]
        if self._columns_spec is None:
            names = [n for n in schema.names if n not in special.values()]
        else:
            names = [self._field(s, "column") for s in self._columns_spec]
            if len(set(names)) != len(names):
                raise ValueError(f"columns= names a column twice: {self._columns_spec!r}")
            if set(names) & set(special.values()):
                raise ValueError("columns= may not include the id, order or key column")
        if not names:
            raise ValueError("no columns left to read")
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
                    raise SequenceDataError("list column in a long table", source=path, column=s.name,
                                            expected="one number per row", found=str(schema.field(s.name).type))
        self._plan = {"specs": specs, "id": special.get("id_column"),
                      "order": special.get("order_column"), "key": special.get("key_column"),
                      "columns": tuple(c for s in specs for c in s.channels)}
        return self._plan

    def _first_step(self, name: str):
        """The first step of a `list<list>` column (its width), from the first non-empty row."""
        for path, parts in self._files:
            for batch in self._batches(path, parts, [name]):
                for row in batch.column(name).to_pylist():
                    if row:
                        return row[0]
        return None

    @property
    def columns(self) -> tuple:
        """The record's column (channel) names, in record order."""
        return self._layout()["columns"]

    def __len__(self) -> int:
        if self.id_column is None:
            if self._count is None:
                self._count = self._dataset.count_rows()
            return self._count
        if self._count is None:
            raise TypeError("the number of sequences of a long table is known only after it has "
                            "been read once")
        return self._count

    def __iter__(self):
        for chunk in self._chunks():
            for i in range(len(chunk)):
                yield chunk.record(i)

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in (
            ("id_column", self.id_column), ("order_column", self.order_column),
            ("key_column", self.key_column), ("columns", self._columns_spec)) if v is not None)
        return f"ParquetSequenceReader({describe_source(self.source)}{extra})"

    # ---- reading ------------------------------------------------------------------------
    def _batches(self, path: str, parts: dict, names: list, rows: int | None = None):
        """Record batches of one file (of `rows` rows) holding `names`, partition keys filled in."""
        in_file = [n for n in names if n not in parts]
        filesystem = self._dataset.filesystem
        if isinstance(filesystem, pafs.LocalFileSystem):     # memory-mapped: no read copy
            opened = pq.ParquetFile(path, memory_map=True)
        else:
            opened = pq.ParquetFile(filesystem.open_input_file(path))
        with opened as parquet:
            missing = set(in_file) - set(parquet.schema_arrow.names)
            if missing:
                raise SequenceDataError("column missing from file", source=path, column=sorted(missing)[0],
                                        expected=f"columns {in_file}", found=parquet.schema_arrow.names)
            for batch in parquet.iter_batches(batch_size=rows or _READ_ROWS, columns=in_file,
                                              use_threads=True):
                if not parts.keys() & set(names):
                    yield batch
                    continue
                arrays = [batch.column(n) if n not in parts else
                          pa.array([parts[n]] * batch.num_rows, self._dataset.schema.field(n).type)
                          for n in names]
                yield pa.RecordBatch.from_arrays(arrays, names=names)

    def _chunks(self, text: dict | None = None):
        """Yield `Chunk`s. `text` maps record column index -> class names (text labels)."""
        text = text or {}
        plan = self._layout()
        if plan["id"] is not None:
            yield self._long_table(text)
            return
        needed = [s.name for s in plan["specs"]] + ([plan["key"]] if plan["key"] else [])
        for path, parts in self._files:
            row0 = 0
            for batch in self._batches(path, parts, needed):
                yield nested_chunk(batch, plan["specs"], path=path, row0=row0, key_column=plan["key"],
                                   text=text, columns=plan["columns"])
                row0 += batch.num_rows

    def _long_table(self, text: dict):
        plan = self._layout()
        names = [s.name for s in plan["specs"]]
        needed = names + [plan["id"]] + ([plan["order"]] if plan["order"] else [])
        tables, paths = [], []
        for path, parts in self._files:
            batches = list(self._batches(path, parts, needed, rows=1 << 20))
            tables.append(pa.Table.from_batches(batches, schema=batches[0].schema) if batches
                          else None)
            paths.append(path)
        starts = np.zeros(len(tables) + 1, dtype=np.int64)
        np.cumsum([t.num_rows if t is not None else 0 for t in tables], out=starts[1:])
        if starts[-1] == 0:
            raise SequenceDataError("no rows in the long table", source=describe_source(self.source),
                                    expected="at least one row", found="no rows")
        table = pa.concat_tables([t for t in tables if t is not None])
        locate_row = row_locator(starts, paths, 1)
        channels = []
        for c, spec in enumerate(plan["specs"]):
            column = table.column(spec.name)
            if c in text:
                channels.append(class_indices(column, text[c], locate_row, spec.name))
            elif spec.text:
                raise SequenceDataError("column holds text, not numbers", source=paths[0], row=1,
                                        column=spec.name, expected="numbers (or classes= for labels)",
                                        found=str(column.type))
            else:
                channels.append(to_float(column))
        order = None
        if plan["order"] is not None:
            column = table.column(plan["order"])
            if is_text(column.type):
                raise SequenceDataError("order column holds text", source=paths[0], column=plan["order"],
                                        expected="numbers", found=str(column.type))
            order = to_float(column).astype(np.float64, copy=False)
        ids = table.column(plan["id"]).combine_chunks()
        if pa.types.is_dictionary(ids.type):
            ids = ids.dictionary_decode()
        chunk = group_long(channels, ids, order, columns=plan["columns"], locate_row=locate_row,
                           id_name=plan["id"], order_name=plan["order"])
        self._count = len(chunk)
        return chunk
