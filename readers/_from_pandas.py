"""from_pandas: a DataFrame in memory as a reader (long table, or one row per sequence in list cells).

The DataFrame's columns are converted to arrow once, when the reader is made
(numbers without a copy where arrow allows), and read by the same reader as
`from_arrow`. Object columns are looked at as pandas infers them: numbers,
text (class labels, or numbers when every value reads as one), list or 1-D
array cells (one sequence per row), 2-D array cells `[T, W]` (W channels).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ._errors import SequenceDataError
from ._sequence_reader import SequenceReader
from ._table_reader import TableSequenceReader
from ._text_numbers import text_array, text_to_float

__all__ = ["from_pandas"]

_SOURCE = "DataFrame"
_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError, ValueError)


def from_pandas(df, *, id_column=None, order_column=None, columns=None, key_column=None) -> SequenceReader:
    """A reader of sequences in a `pandas.DataFrame`.

    Two layouts, as in Parquet (see `from_arrow` for the rules):

    - long table (`id_column=`): one row per step, like
      `CSVSequenceReader(path, id_column=..., order_column=...)`: sequences
      in order of first appearance of their id, each id's rows in frame order
      or sorted by `order_column=`. The key is the id value as text.
    - one row per sequence (no `id_column`): cells that are lists or 1-D
      arrays `[T]` (one channel each) or 2-D arrays `[T, W]` (W channels
      `name[0]` ..), all of one row's the same length T; a scalar column is
      repeated at every step of its row (a label for `sequence_labels=True`).
      The key is the `key_column=` value, else a text column named "key",
      else `DataFrame#row`, pairing with labels by position.

    A DataFrame with neither an id column nor list cells is an error saying
    what to pass. The index is not read (`df.reset_index()` makes it a
    column). Columns are named by their labels as text.

    Args:
        df: a `pandas.DataFrame`.
        id_column, order_column, key_column: column labels (or positions,
            when no column has that label).
        columns: the record's columns by label (or position), in the order
            wanted; by default every column but the id, order and key columns.

    Returns:
        A `SequenceReader` holding the converted columns; `len()` works at once.

    Raises:
        SequenceDataError: naming "DataFrame", the 1-based row (row r is
            `df.iloc[r - 1]`) and the column: a column not found, a cell that
            is neither a list nor an array among list cells, 2-D cells of
            different widths, and, when read, the errors of the file readers
            (a missing id, a non-numeric value, ...).
        TypeError: `df` is not a DataFrame.
        ValueError: column labels that are the same as text.
    """
    import pandas as pd          # deferred: pandas is needed only for DataFrame input

    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"from_pandas takes a pandas.DataFrame, got {type(df).__name__}")
    labels = list(df.columns)
    names = [str(label) for label in labels]
    if len(set(names)) != len(names):
        raise ValueError(f"DataFrame column labels must differ as text, got {labels!r}")
    special = {what: _position(spec, labels, what) for what, spec in
               (("id_column", id_column), ("order_column", order_column), ("key_column", key_column))
               if spec is not None}
    wanted = None if columns is None else [_position(s, labels, "column") for s in columns]
    keep = set(special.values()) | set(range(len(labels)) if wanted is None else wanted)
    if id_column is None and key_column is None and "key" in names:
        keep.add(names.index("key"))          # may be the default key (see from_arrow)
    keep = sorted(keep)
    arrays = [_arrow_column(df.iloc[:, p], names[p], pd) for p in keep]
    table = pa.Table.from_arrays(arrays, names=[names[p] for p in keep])
    pick = {what: names[p] for what, p in special.items()}
    if id_column is None and not any(_is_list(a.type) for a in arrays):
        raise SequenceDataError("neither an id column nor list cells", source=_SOURCE,
                                expected="id_column= (a long table: one row per step) or list/array cells "
                                         "(one row per sequence)",
                                found=f"columns {names} of scalars",
                                hint="for one DataFrame per sequence use readers.from_arrays("
                                     "[f.to_numpy() for f in frames], columns=list(frames[0].columns))")
    return TableSequenceReader(table, id_column=pick.get("id_column"), order_column=pick.get("order_column"),
                               key_column=pick.get("key_column"),
                               columns=None if wanted is None else [names[p] for p in wanted],
                               source=_SOURCE)


def _is_list(type_) -> bool:
    return pa.types.is_list(type_) or pa.types.is_large_list(type_) or pa.types.is_fixed_size_list(type_)


def _position(spec, labels: list, what: str) -> int:
    """The position of a column given by label, or by position when no column has that label."""
    try:
        matches = [i for i, label in enumerate(labels) if label == spec]
    except (TypeError, ValueError):
        matches = []
    if matches:                               # labels differ as text, so at most one matches
        return matches[0]
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool) \
            and -len(labels) <= spec < len(labels):
        return int(spec) % len(labels)
    raise SequenceDataError(f"{what} not found", source=_SOURCE, column=spec, expected=f"one of {labels}",
                            found="no such column")


def _arrow_column(series, name: str, pd) -> pa.Array:
    """One DataFrame column as an arrow array: numbers, text, lists or lists of steps."""
    if series.dtype != object:
        return pa.array(series, from_pandas=True)            # numbers, bools, times, categories
    kind = pd.api.types.infer_dtype(series, skipna=True)
    if kind in ("string", "empty"):
        return pa.array(series, pa.string(), from_pandas=True)
    if kind in ("integer", "floating", "mixed-integer-float", "boolean", "decimal"):
        try:
            return pa.array(series, from_pandas=True)
        except _ARROW_ERRORS:
            pass
    values = series.to_numpy()                                # [n] cells
    missing = series.isna().to_numpy()
    filled = np.flatnonzero(~missing)
    first = values[filled[0]] if len(filled) else None
    if isinstance(first, np.ndarray) and first.ndim == 2:
        return _grid_column(values, missing, name)
    if isinstance(first, (list, tuple, np.ndarray)):
        try:
            return pa.array(series, from_pandas=True)
        except _ARROW_ERRORS:
            return _text_list_column(values, missing, name)
    return text_array(values)                                 # text and numbers mixed: read as text


def _not_a_list(row: int, name: str, cell, expected: str):
    found = f"array of shape {cell.shape}" if isinstance(cell, np.ndarray) else repr(cell)
    return SequenceDataError("cell is not a sequence", source=_SOURCE, row=row + 1, column=name,
                             expected=expected, found=found)


def _cells(values: np.ndarray, missing: np.ndarray, name: str, ndim: int) -> list:
    """The non-missing cells as arrays of `ndim` dimensions (one check per cell, i.e. per sequence)."""
    cells = []
    for i in np.flatnonzero(~missing).tolist():
        cell = values[i]
        if not isinstance(cell, (list, tuple, np.ndarray)):
            raise _not_a_list(i, name, cell, "a list or array of steps (as in the first filled row)")
        try:
            cell = np.asarray(cell) if ndim == 2 else np.asarray(cell, dtype=object)
        except ValueError:
            raise SequenceDataError("cell is not a sequence", source=_SOURCE, row=i + 1, column=name,
                                    expected=f"a {ndim}-D array of steps", found="rows of different lengths") \
                from None
        if cell.ndim != ndim:
            raise _not_a_list(i, name, cell, f"a {ndim}-D array of steps (as in the first filled row)")
        cells.append(cell)
    return cells


def _offsets(values: np.ndarray, missing: np.ndarray, cells: list) -> pa.Array:
    lengths = np.zeros(len(values), dtype=np.int64)
    lengths[~missing] = [len(c) for c in cells]
    offsets = np.zeros(len(values) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return pa.array(offsets)


def _grid_column(values: np.ndarray, missing: np.ndarray, name: str) -> pa.Array:
    """Cells of 2-D arrays `[T_i, W]` as a `list<fixed_size_list<W>>` column (W channels)."""
    cells = _cells(values, missing, name, 2)
    width = cells[0].shape[1]
    rows = np.flatnonzero(~missing)
    for i, cell in zip(rows.tolist(), cells):
        if cell.shape[1] != width:
            raise SequenceDataError("step has the wrong number of values", source=_SOURCE, row=i + 1,
                                    column=name, expected=f"{width} values per step (as in row {rows[0] + 1})",
                                    found=f"{cell.shape[1]} values")
    for k, (i, cell) in enumerate(zip(rows.tolist(), cells)):
        if cell.dtype.kind not in "biuf":                     # text that may read as numbers
            numbers = text_to_float(text_array(cell.reshape(-1).astype(object)),
                                    lambda r, i=i: (_SOURCE, i + 1), name)
            cells[k] = numbers.reshape(cell.shape)
    flat = np.concatenate(cells, axis=0).astype(np.float64, copy=False)            # [R, W]
    steps = pa.FixedSizeListArray.from_arrays(pa.array(flat.reshape(-1)), width)
    return pa.LargeListArray.from_arrays(_offsets(values, missing, cells), steps,
                                         mask=pa.array(missing))


def _text_list_column(values: np.ndarray, missing: np.ndarray, name: str) -> pa.Array:
    """List cells arrow cannot take as numbers or text (mixed kinds) as lists of text."""
    cells = _cells(values, missing, name, 1)
    flat = np.concatenate(cells) if cells else np.zeros(0, dtype=object)
    return pa.LargeListArray.from_arrays(_offsets(values, missing, cells), text_array(flat.astype(object)),
                                         mask=pa.array(missing))
