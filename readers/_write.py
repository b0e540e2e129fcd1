"""write_parquet: any reader to the nested Parquet layout."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ._sequence_reader import checked_chunks, require_reader

__all__ = ["write_parquet"]


def _list_column(values: np.ndarray, offsets: np.ndarray) -> pa.Array:
    """A `list<float>` array of n sequences from `[R]` values and `[n + 1]` offsets."""
    if offsets[-1] >= 2**31:
        raise ValueError("a chunk of over 2**31 steps does not fit a Parquet list column")
    return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), pa.array(values))


def write_parquet(reader, path, *, dtype="float64", key_column: str = "key",
                  compression: str = "zstd", row_group_size: int = 4096,
                  progress: Callable[[int], object] | None = None) -> int:
    """Write every sequence of `reader` to one Parquet file in the nested layout.

    One row per sequence: one `list<dtype>` column per record column (same
    names) and a text key column. The file's metadata names the key column,
    so `ParquetSequenceReader(path)` reads back the same records: values equal
    exactly (float64), keys and column names the same. Writing streams chunk by
    chunk.

    Writing is atomic: the rows go to a temporary file in the same folder,
    which is flushed to disk and then renamed over `path`. If anything fails
    part-way (a bad record, a full disk, an interrupt), an existing file at
    `path` is left as it was and the temporary file is removed.

    Args:
        reader: any `SequenceReader` (`CSVSequenceReader`,
            `ParquetSequenceReader`, or a reader of your own).
        path: the file to write.
        dtype: "float64" (exact) or "float32" (half the size, rounded).
        key_column: name of the key column.
        compression: Parquet codec.
        row_group_size: sequences per row group.
        progress: called after each block of sequences is written, with the
            number of sequences in that block (not the running total): the
            calls add up to the return value. A tqdm bar's `update` fits:
            `write_parquet(reader, path, progress=bar.update)`. It is not
            called for a reader with no sequences; an exception it raises
            stops the writing and is raised to the caller.

    Returns:
        The number of sequences written.

    Shape:
        each record `[T, C]` becomes one row: C `list<dtype>` cells of T
        values, and its key.
    """
    require_reader(reader, "reader")
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be a callable taking a number of sequences (e.g. a tqdm "
                        f"bar's update), got {type(progress).__name__}")
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    names = tuple(reader.columns)
    columns = [str(c) for c in names]
    if key_column in columns:
        raise ValueError(f"key_column {key_column!r} is also a record column; choose another name")
    value_type = pa.float64() if dtype == np.float64 else pa.float32()
    fields = [pa.field(c, pa.list_(value_type)) for c in columns] + [pa.field(key_column, pa.string())]
    meta = {b"seqkit": json.dumps({"layout": "nested", "key_column": key_column}).encode()}
    schema = pa.schema(fields, metadata=meta)
    path = os.fspath(path)
    folder, name = os.path.split(os.path.abspath(path))
    temporary = os.path.join(folder, f".{name}.{uuid.uuid4().hex[:12]}.tmp")
    written = 0
    try:
        with pq.ParquetWriter(temporary, schema, compression=compression) as writer:
            for chunk in checked_chunks(reader, columns=names):
                arrays = [_list_column(ch.astype(dtype, copy=False), chunk.offsets) for ch in chunk.channels]
                arrays.append(pa.array([str(k) for k in chunk.keys], pa.string()))
                writer.write_table(pa.Table.from_arrays(arrays, schema=schema), row_group_size=row_group_size)
                written += len(chunk)
                if progress is not None and len(chunk):
                    progress(len(chunk))
        _flush_to_disk(temporary)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.remove(temporary)
        except FileNotFoundError:
            pass
        raise
    _flush_to_disk(folder)                     # the rename itself
    return written


def _flush_to_disk(path: str) -> None:
    """fsync a file, or a folder (its entries); folders that cannot be opened are skipped."""
    try:
        handle = os.open(path, os.O_RDONLY)
    except OSError:
        if os.path.isdir(path):
            return                             # some platforms cannot open a folder
        raise
    try:
        os.fsync(handle)
    except OSError:
        if not os.path.isdir(path):
            raise
    finally:
        os.close(handle)
