"""Parquet files: finding them, opening them, and errors that name the file.

pyarrow's own errors for a truncated file, a corrupt footer or page, or a
later file whose columns differ from the first one's name no file (or only
inside a long message); here each becomes one `SequenceDataError` line
naming the file (and the column, where one is at fault).
"""

from __future__ import annotations

import os
import re

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from ._errors import SequenceDataError
from ._nested import type_family
from ._sharding import Unit
from ._sources import NumberedFiles, describe_source, natural_key, resolve_paths

__all__ = ["check_file_schema", "open_dataset", "reading", "row_group_units", "unreadable"]

_ARROW_SOURCE = re.compile(r"source '([^']*)': (.*)")   # pyarrow names a file it cannot open so


def unreadable(path, exc: Exception) -> SequenceDataError:
    """The error for a file pyarrow cannot read (truncated, corrupt footer, not Parquet)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    named = _ARROW_SOURCE.search(text)
    reason = named.group(2) if named else text
    return SequenceDataError("cannot read the Parquet file (truncated or corrupt?)",
                             source=named.group(1) if named and path is None else path,
                             expected="a Parquet file", found=reason)


def _existing(files: NumberedFiles) -> list:
    """The paths of numbered files, checked one by one: the first missing one is an error."""
    paths = []
    for path in files:
        if not os.path.isfile(path):
            raise SequenceDataError("missing file", source=path, expected="an existing file",
                                    found=f"no such file (numbered {files.start} to {files.end})")
        paths.append(path)
    return paths


def open_dataset(source, filesystem=None):
    """`(dataset, [(path, partition_keys)])` in reading order.

    A `NumberedFiles` source is checked file by file, so a huge range stops
    at its first missing file instead of listing every path.

    Raises:
        SequenceDataError: a missing file, a file pyarrow cannot open (named),
            a source that is not a Parquet data set, or no file at all.
    """
    listed = isinstance(source, (list, tuple))
    if filesystem is not None:                # paths on that filesystem, as given
        directory = not listed
        source = [os.fspath(p) for p in source] if listed else os.fspath(source)
    elif isinstance(source, NumberedFiles):
        directory, source = False, _existing(source)
    else:
        directory = isinstance(source, (str, os.PathLike)) and (
            os.path.isdir(source) or "://" in os.fspath(source))
        source = os.fspath(source) if directory else resolve_paths(source)
    try:
        dataset = ds.dataset(source, format="parquet", filesystem=filesystem,
                             partitioning="hive" if directory else None)
    except FileNotFoundError as exc:
        missing = str(exc).split(":")[-1].strip() or describe_source(source)
        raise SequenceDataError("missing file", source=missing, expected="an existing file",
                                found="no such file") from None
    except (pa.ArrowException, OSError) as exc:
        if _ARROW_SOURCE.search(str(exc)):
            raise unreadable(None, exc) from None
        raise SequenceDataError(f"not a Parquet data set: {exc}", source=describe_source(source)) from None
    files = [(f.path, ds.get_partition_keys(f.partition_expression)) for f in dataset.get_fragments()]
    if directory:
        files.sort(key=lambda f: natural_key(f[0]))
    if not files:
        raise SequenceDataError("no Parquet files", source=describe_source(source),
                                expected="at least one file", found="none")
    return dataset, files


def check_file_schema(path: str, schema: pa.Schema, in_file: list, want: pa.Schema, *,
                      every_column: bool) -> None:
    """Raise unless a file's `schema` holds `in_file` with the data set's types.

    Args:
        path: the file, for messages.
        schema: the file's arrow schema.
        in_file: the columns to be read from it.
        want: the data set's schema (from its first file).
        every_column: whether every column is read (no `columns=`): then
            a column the data set's schema lacks is an error too.

    Raises:
        SequenceDataError: a column missing, of another type family
            (`type_family`), or (with `every_column`) one more.
    """
    missing = set(in_file) - set(schema.names)
    if missing:
        raise SequenceDataError("column missing from file", source=path, column=min(missing),
                                expected=f"columns {in_file}", found=schema.names)
    for name in in_file:
        expected, found = type_family(want.field(name).type), type_family(schema.field(name).type)
        if expected != found:
            raise SequenceDataError(
                "column type differs from the data set's (its first file's)", source=path,
                column=name, expected=f"{expected} ({want.field(name).type})",
                found=f"{found} ({schema.field(name).type})")
    if every_column:
        extra = [n for n in schema.names if n not in want.names]
        if extra:
            raise SequenceDataError(
                "column not in the data set's first file", source=path, column=extra[0],
                expected=f"the columns {want.names}", found=f"also {extra}",
                hint="choose the columns to read with columns=[...] (--columns)")


def reading(batches, path: str, group: int):
    """The record batches of one row group; a read error names the file and row group."""
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except (pa.ArrowException, OSError) as exc:
            error = unreadable(path, exc)
            raise SequenceDataError(f"cannot read row group {group} of the Parquet file (corrupt?)",
                                    source=path, expected="a Parquet file", found=error.found) from None
        yield batch


def row_group_units(filesystem, files: list, *, nested: bool) -> tuple:
    """`(units, where, footers)`: one `Unit` per row group of every file (footers only), and where it is.

    Args:
        filesystem: the data set's filesystem.
        files: `[(path, partition keys)]` in reading order.
        nested: whether a row is a sequence (then a unit's `sequences` are its rows).

    Returns:
        The units in reading order; per unit `(file index, row group,
        0-based file row of its first row)`; and each file's footer
        (`FileMetaData`), so that reading a unit need not parse it again.

    Raises:
        SequenceDataError: a file whose footer cannot be read, naming it.
    """
    units, where, footers = [], [], []
    for j, (path, _) in enumerate(files):
        try:
            with filesystem.open_input_file(path) as handle:
                meta = pq.ParquetFile(handle).metadata
        except (pa.ArrowException, OSError) as exc:
            raise unreadable(path, exc) from None
        footers.append(meta)
        row0 = 0
        for g in range(meta.num_row_groups):
            group = meta.row_group(g)
            units.append(Unit(path, g, group.num_rows, group.total_byte_size,
                              group.num_rows if nested else None))
            where.append((j, g, row0))
            row0 += group.num_rows
    return units, where, footers
