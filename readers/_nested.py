"""Nested Parquet rows (one row per sequence, list columns) to chunks, zero-copy where possible.

A `list<number>` column is one channel; a `list<list<number>>` column holds
`[T][W]` steps and gives W channels; a scalar column is repeated at every step
of its row. Offsets and flat values come straight from the arrow buffers.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ._chunk import Chunk
from ._columns import class_indices, is_text, to_float
from ._errors import SequenceDataError
from ._hints import TEXT_LABELS

__all__ = ["ColumnSpec", "channel_values", "column_spec", "nested_chunk", "type_family"]


def _is_list(type_) -> bool:
    return (pa.types.is_list(type_) or pa.types.is_large_list(type_)
            or pa.types.is_fixed_size_list(type_))


def _is_number(type_) -> bool:
    if pa.types.is_dictionary(type_):
        type_ = type_.value_type
    return (pa.types.is_integer(type_) or pa.types.is_floating(type_)
            or pa.types.is_boolean(type_) or pa.types.is_decimal(type_))


def type_family(type_: pa.DataType) -> str:
    """What a column type holds, for comparing files: "number", "text", "time", "list of number", ...

    Types of one family read the same way (int32 and float64 are both
    "number"); a file whose column is of another family than the first
    file's cannot be read with it.
    """
    if pa.types.is_dictionary(type_):
        type_ = type_.value_type
    if _is_list(type_):
        return f"list of {type_family(type_.value_type)}"
    if _is_number(type_):
        return "number"
    if is_text(type_):
        return "text"
    if pa.types.is_temporal(type_):
        return "time"
    return str(type_)


class ColumnSpec:
    """How one Parquet column becomes record channels.

    Attributes:
        name: the Parquet column.
        kind: "scalar" (one value per row), "list" (one channel) or "grid"
            (`list<list<number>>`, `width` channels).
        width: channels of a grid column (1 otherwise).
        text: whether the values are text (usable only as class labels).
    """

    __slots__ = ("kind", "name", "text", "width")

    def __init__(self, name: str, kind: str, width: int = 1, text: bool = False):
        self.name, self.kind, self.width, self.text = name, kind, width, text

    @property
    def channels(self) -> list:
        if self.kind == "grid":
            return [f"{self.name}[{k}]" for k in range(self.width)]
        return [self.name]


def column_spec(field: pa.Field, first_grid_row=None, *, source=None) -> ColumnSpec:
    """The spec of a Parquet field; `first_grid_row()` gives a grid's first step (for its width)."""
    type_ = field.type
    if not _is_list(type_):
        if _is_number(type_) or is_text(type_):
            return ColumnSpec(field.name, "scalar", text=is_text(type_))
    else:
        inner = type_.value_type
        if _is_number(inner) or is_text(inner):
            return ColumnSpec(field.name, "list", text=is_text(inner))
        if _is_list(inner) and _is_number(inner.value_type):
            if pa.types.is_fixed_size_list(inner):
                return ColumnSpec(field.name, "grid", inner.list_size)
            step = first_grid_row() if first_grid_row else None
            return ColumnSpec(field.name, "grid", len(step) if step else 1)
    raise SequenceDataError("unsupported column type", source=source, column=field.name,
                            expected="numbers, text labels, list<number> or list<list<number>>",
                            found=str(type_))


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def nested_chunk(batch, specs: list, *, path: str, row0: int, key_column, text: dict,
                 columns: tuple) -> Chunk:
    """One chunk from a record batch of nested rows.

    Args:
        batch: a `pyarrow.RecordBatch` (or Table) holding the spec columns.
        specs: the `ColumnSpec`s giving the record's channels, in order.
        path: the file, and row0 the file row index of the batch's first row,
            for keys and messages (rows are reported 1-based).
        key_column: column whose values are the keys, or None for `path#row`.
        text: record channel index -> class names, for text labels.
        columns: the record's channel names.
    """
    n = batch.num_rows
    rows = np.arange(row0 + 1, row0 + n + 1)                         # [n] 1-based file rows

    def fail(message, i, column, expected, found):
        raise SequenceDataError(message, source=path, row=int(rows[i]), column=column,
                                expected=expected, found=found)

    arrays = {s.name: _plain(batch.column(s.name)) for s in specs}
    lengths, first = None, None
    for spec in specs:
        if spec.kind == "scalar":
            continue
        array = arrays[spec.name]
        if array.null_count:
            fail("missing sequence", _first(array.is_null().to_numpy(zero_copy_only=False)),
                 spec.name, "a list", "null")
        lens = pc.list_value_length(array).to_numpy(zero_copy_only=False).astype(np.int64)  # [n]
        if lengths is None:
            lengths, first = lens, spec.name
            if n and lens.min() == 0:
                fail("empty sequence", _first(lens == 0), spec.name, "at least one step", "0 steps")
        elif (lens != lengths).any():
            i = _first(lens != lengths)
            fail("list lengths differ within a row", i, spec.name,
                 f"{lengths[i]} steps (as column {first!r})", f"{lens[i]} steps")
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])

    def locate_step(r):                                              # step r -> (path, row)
        return path, int(rows[np.searchsorted(offsets, r, side="right") - 1])

    channels, c = [], 0
    for spec in specs:
        array = arrays[spec.name]
        if spec.kind == "grid":
            channels.extend(_grid_channels(array, spec, offsets, fail))
        else:
            flat = array if spec.kind == "scalar" else array.flatten()
            locate = (lambda r: (path, int(rows[r]))) if spec.kind == "scalar" else locate_step
            channel = channel_values(flat, spec, text.get(c), locate)
            channels.append(np.repeat(channel, lengths) if spec.kind == "scalar" else channel)
        c += spec.width
    return Chunk(channels, offsets, _keys(batch, key_column, path, rows), columns,
                 lambda i, t: (path, int(rows[i])))


def channel_values(values, spec: ColumnSpec, classes, locate, hint: str = TEXT_LABELS) -> np.ndarray:
    """One channel's numbers `[R]` from arrow values `[R]` of a (flattened) column.

    Args:
        values: the arrow values.
        spec: the column's spec (its name, and whether it holds text).
        classes: the class names when the column holds class labels, else None.
        locate: `locate(r) -> (path, row)` for value r, for messages.
        hint: what the message for text without `classes` suggests.

    Returns:
        Class indices (float64) for labels, else `to_float`'s float32 / float64.

    Raises:
        SequenceDataError: text without `classes`, or a label not in `classes`.
    """
    if classes is not None:
        return class_indices(values, classes, locate, spec.name)
    if spec.text:
        _text_error(values, locate, spec.name, hint)
    return to_float(values)


def _text_error(values, locate, name, hint) -> None:
    """Raise for a text column read as numbers, at its first non-null value."""
    valid = values.is_valid().to_numpy(zero_copy_only=False)
    r = _first(valid) if valid.any() else 0
    source, row = locate(r)
    raise SequenceDataError("column holds text, not numbers", source=source, row=row, column=name,
                            expected="numbers", found=repr(values[r].as_py()) if len(values) else "text",
                            hint=hint)


def _plain(column):
    """One arrow Array (tables give chunked columns)."""
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def _grid_channels(array, spec: ColumnSpec, offsets: np.ndarray, fail) -> list:
    """The W channels `[R]` of a `list<list<number>>` column."""
    steps = array.flatten()                                           # R inner lists
    widths = pc.list_value_length(steps).fill_null(-1).to_numpy(zero_copy_only=False)  # [R]
    bad = widths != spec.width
    if bad.any():
        r = _first(bad)
        i = int(np.searchsorted(offsets, r, side="right")) - 1
        fail("step has the wrong number of values", i, spec.name,
             f"{spec.width} values per step", f"{max(int(widths[r]), 0)} values at step {r - offsets[i]}")
    flat = to_float(steps.flatten()).reshape(-1, spec.width)          # [R, W]
    return list(flat.T)


def _keys(batch, key_column, path: str, rows: np.ndarray) -> list:
    if key_column is None:
        return [f"{path}#{r}" for r in rows.tolist()]
    column = _plain(batch.column(key_column))
    if column.null_count:
        i = _first(column.is_null().to_numpy(zero_copy_only=False))
        raise SequenceDataError("missing key", source=path, row=int(rows[i]), column=key_column,
                                expected="a key value", found="null")
    return [str(k) for k in column.to_pylist()]
