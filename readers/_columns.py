"""Arrow columns to the float64 numbers a record holds."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ._errors import SequenceDataError

__all__ = ["class_indices", "is_text", "to_float"]


def is_text(type_: pa.DataType) -> bool:
    """Whether an arrow type holds text (plain or dictionary-encoded)."""
    if pa.types.is_dictionary(type_):
        type_ = type_.value_type
    return pa.types.is_string(type_) or pa.types.is_large_string(type_)


def to_float(column) -> np.ndarray:
    """float64 or float32 `[R]` numbers of a numeric column; nulls become NaN.

    float32 stays float32 (it is cast once, when padded); other numbers
    become float64.
    """
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    if not pa.types.is_float32(column.type):
        column = pc.cast(column, pa.float64())
    if column.null_count:
        column = pc.fill_null(column, float("nan"))
    return column.to_numpy(zero_copy_only=False)


def class_indices(column, classes, locate_row, name) -> np.ndarray:
    """float64 `[R]`: the index in `classes` of each label, compared as trimmed text.

    Args:
        column: arrow array of labels (text, or numbers compared as text).
        classes: the class names; their order gives the index.
        locate_row: `locate_row(r) -> (source, row)` for messages.
        name: the column name for messages.

    Raises:
        SequenceDataError: naming the row of the first label not in `classes`.
    """
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    if not is_text(column.type):
        column = pc.cast(column, pa.string())
    names = pa.array([str(c) for c in classes], pa.string())
    index = pc.index_in(pc.utf8_trim_whitespace(column), value_set=names)
    if index.null_count:
        r = int(np.flatnonzero(index.is_null().to_numpy(zero_copy_only=False))[0])
        source, row = locate_row(r)
        raise SequenceDataError("unknown class label", source=source, row=row, column=name,
                                expected=f"one of {[str(c) for c in classes]}",
                                found=repr(column[r].as_py()))
    return index.to_numpy(zero_copy_only=False).astype(np.float64)
