"""Long tables: rows of many sequences grouped by id, vectorised.

Shared by the CSV and Parquet readers. Rows are grouped by id in order of
first appearance (rows of one id keep their file order, or are sorted by the
order column); no Python runs per row.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ._chunk import Chunk
from ._columns import is_text, to_float
from ._errors import SequenceDataError

__all__ = ["check_ids", "group_codes", "group_long", "join_order", "order_values", "row_locator"]

_NUMBER_TEXT = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"


def row_locator(file_starts: np.ndarray, paths: list, first_rows) -> Callable:
    """Map a row of the concatenated table to `(path, 1-based row in its file)`.

    Args:
        file_starts: int64 `[k + 1]`: file j holds table rows
            `file_starts[j]:file_starts[j + 1]`.
        paths: the k file paths.
        first_rows: the file row of each file's first table row (an int for
            all, or a sequence of k ints): `skip_lines + 1` for CSV, 1 for Parquet.
    """
    def locate(g: int) -> tuple:
        j = int(np.searchsorted(file_starts, g, side="right")) - 1
        first = first_rows if isinstance(first_rows, int) else first_rows[j]
        return paths[j], first + g - int(file_starts[j])
    return locate


def check_ids(ids: pa.Array, locate_row, id_name) -> None:
    """Raise at the first missing (null or empty text) id."""
    if ids.null_count:
        g = int(np.flatnonzero(ids.is_null().to_numpy(zero_copy_only=False))[0])
        source, row = locate_row(g)
        raise SequenceDataError("missing id", source=source, row=row, column=id_name,
                                expected="an id value", found="an empty field")
    if pa.types.is_string(ids.type) or pa.types.is_large_string(ids.type):
        empty = pc.equal(pc.utf8_length(ids), 0).to_numpy(zero_copy_only=False)
        if empty.any():
            source, row = locate_row(int(np.flatnonzero(empty)[0]))
            raise SequenceDataError("missing id", source=source, row=row, column=id_name,
                                    expected="an id value", found="an empty field")


def _first_true(mask) -> int:
    return int(np.flatnonzero(np.asarray(mask))[0])


def order_values(column, locate_row, order_name) -> np.ndarray:
    """The order column as an array `[R]` that sorts as the column does.

    Integers stay int64 (exact, never through float64); timestamps and dates
    become numpy datetime64, durations timedelta64, times of day int64;
    other numbers float64 (a NaN is caught by `group_codes`).

    Args:
        column: the arrow order column.
        locate_row: `locate_row(r) -> (path, row)` for row r of `column`.
        order_name: the column name for messages.

    Raises:
        SequenceDataError: text (naming the first value that is not a
            number), a missing value in an integer or time column, or a
            type that has no order (naming the row or the type).
    """
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    type_ = column.type
    if is_text(type_):
        matches = pc.fill_null(pc.match_substring_regex(column, _NUMBER_TEXT), False)
        bad = ~matches.to_numpy(zero_copy_only=False)
        r = _first_true(bad) if bad.any() else 0
        source, row = locate_row(r)
        raise SequenceDataError("order column holds text", source=source, row=row, column=order_name,
                                expected="numbers, timestamps or dates", found=repr(column[r].as_py()))
    if pa.types.is_floating(type_) or pa.types.is_decimal(type_) or pa.types.is_boolean(type_):
        return to_float(column)
    exact = (pa.types.is_integer(type_) or pa.types.is_timestamp(type_) or pa.types.is_date(type_)
             or pa.types.is_duration(type_) or pa.types.is_time(type_) or pa.types.is_null(type_))
    if not exact:
        source, _ = locate_row(0)
        raise SequenceDataError("order column type has no order", source=source, column=order_name,
                                expected="numbers, timestamps or dates", found=str(type_))
    if column.null_count:
        source, row = locate_row(_first_true(column.is_null().to_numpy(zero_copy_only=False)))
        raise SequenceDataError("order value is missing", source=source, row=row,
                                column=order_name, expected="a number, timestamp or date",
                                found="an empty field")
    if pa.types.is_time(type_):
        return pc.cast(pc.cast(column, pa.time64("ns")), pa.int64()).to_numpy()
    return column.to_numpy(zero_copy_only=False)


def _order_kind(values: np.ndarray) -> str:
    return {"M": "timestamps or dates", "m": "durations"}.get(values.dtype.kind, "numbers")


def join_order(parts: list, order_name) -> np.ndarray:
    """One order array from per-block `(values [r], first file of the block)` parts.

    Integers and floats join as float64 when both occur; times join with times.

    Raises:
        SequenceDataError: a block whose order column holds another kind of
            value than the first block's (say numbers after timestamps).
    """
    kind = _order_kind(parts[0][0])
    for values, path in parts[1:]:
        if _order_kind(values) != kind:
            raise SequenceDataError("order column holds other values than in the first file",
                                    source=path, column=order_name, expected=kind,
                                    found=_order_kind(values))
    return parts[0][0] if len(parts) == 1 else np.concatenate([values for values, _ in parts])


def group_long(channels: list, ids: pa.Array, order: np.ndarray | None, *,
               columns: tuple, locate_row: Callable, id_name, order_name=None) -> Chunk:
    """Group the rows of a whole long table into sequences.

    Args:
        channels: C arrays `[R]`, the record columns of all R rows, in table order.
        ids: the id column, R values (any type pyarrow can dictionary-encode).
        order: numbers `[R]` (integer or float), or None to keep table order.
        columns, locate_row, order_name: as for `group_codes`.
        id_name: the id column's name, for messages.

    Returns:
        A chunk with one sequence per distinct id, in order of first
        appearance (see `group_codes`).

    Raises:
        SequenceDataError: a missing id, and the errors of `group_codes`.
    """
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    check_ids(ids, locate_row, id_name)
    encoded = ids.dictionary_encode()           # codes in order of first appearance
    return group_codes(channels, encoded.indices.to_numpy(), encoded.dictionary, order,
                       columns=columns, locate_row=locate_row, order_name=order_name)


def _sort_by_order(codes: np.ndarray, order: np.ndarray, names: pa.Array, locate_row: Callable,
                   order_name) -> np.ndarray | None:
    """The permutation `[R]` grouping rows by code, each code's rows by `order`; None if already so.

    Raises:
        SequenceDataError: a NaN or inf order value, or one repeated within an id.
    """
    if order.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(order))
        if len(bad):
            source, row = locate_row(int(bad[0]))
            raise SequenceDataError("order value is not a finite number", source=source, row=row,
                                    column=order_name, expected="a number", found=order[bad[0]])
    same = codes[1:] == codes[:-1]
    if np.all((codes[1:] > codes[:-1]) | (same & (order[1:] > order[:-1]))):
        return None                                   # grouped, strictly increasing: no repeats
    perm = np.lexsort((order, codes))                 # [R], stable
    sorted_order = order[perm]
    dup = np.flatnonzero((codes[perm[1:]] == codes[perm[:-1]]) & (sorted_order[1:] == sorted_order[:-1]))
    if len(dup):
        first, second = int(perm[dup[0]]), int(perm[dup[0] + 1])
        src1, row1 = locate_row(first)
        source, row = locate_row(second)
        raise SequenceDataError(
            f"order value repeats within id {names[int(codes[second])].as_py()!r} "
            f"(first at {src1}, row {row1})",
            source=source, row=row, column=order_name, expected="distinct order values per id",
            found=order[second])
    return perm


def group_codes(channels: list, codes: np.ndarray, names: pa.Array, order: np.ndarray | None, *,
                columns: tuple, locate_row: Callable, order_name=None) -> Chunk:
    """Group rows whose sequence is already known as a code 0..n-1 (its rank of first appearance).

    Args:
        channels: C arrays `[R]`, the record columns of the R rows, in table order.
        codes: int `[R]`: the sequence of each row; every code 0..n-1 occurs.
        names: the n id values (arrow), giving the keys (as text) and messages.
        order: numbers `[R]` (integer or float), or None to keep table order.
        columns: the C column names.
        locate_row: `locate_row(g) -> (path, row)` for row g of these R rows.
        order_name: the order column's name, for messages.

    Returns:
        A chunk with sequence i made of the rows of code i, in table order or
        sorted by `order` (stable).

    Raises:
        SequenceDataError: a missing (NaN) order value, or an order value
            repeated within one id (naming both rows).

    Shape:
        C x `[R]` + codes `[R]` -> chunk of n sequences, offsets `[n + 1]`.
    """
    n = len(names)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(codes, minlength=n), out=offsets[1:])
    if order is None:
        grouped = bool(np.all(codes[1:] >= codes[:-1]))
        perm = None if grouped else np.argsort(codes, kind="stable")   # [R]
    else:
        perm = _sort_by_order(codes, order, names, locate_row, order_name)

    if perm is not None:
        channels = [np.take(ch, perm) for ch in channels]   # C x [R], grouped
    keys = [str(k) for k in names.to_pylist()]

    def locate(i, t):
        g = int(offsets[i]) + t
        return locate_row(g if perm is None else int(perm[g]))

    return Chunk(channels, offsets, keys, columns, locate)
