"""Text that reads as numbers: parsed by arrow, the first value that does not read named.

The in-memory readers (`from_pandas`, `from_arrow`, `from_arrays`) take text
where numbers belong when every value reads as a number ("1.5", "nan",
"-inf"; nulls are NaN), as a reader of your own does for text records.
Otherwise the error names the first value that does not read, found by
bisection with arrow casts (no Python per value).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ._columns import to_float
from ._errors import SequenceDataError
from ._hints import TEXT_LABELS

__all__ = ["text_array", "text_to_float"]


def _reads(values: pa.Array) -> bool:
    try:
        pc.cast(values, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True


def text_to_float(values, locate: Callable, name, hint: str = TEXT_LABELS) -> np.ndarray:
    """float64 `[R]`: text values `[R]` read as numbers (nulls become NaN).

    Args:
        values: an arrow text array (plain, chunked or dictionary-encoded).
        locate: `locate(r) -> (source, row)` of value r, for the message.
        name: the column, for the message.
        hint: what the message suggests (text class labels need `classes=`).

    Raises:
        SequenceDataError: "non-numeric value", naming the row and column of
            the first value that does not read as a number.
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    try:
        return to_float(pc.cast(values, pa.float64()))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    lo, hi = 0, len(values)                 # the first value that does not read is in [lo, hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _reads(values.slice(lo, mid - lo)):
            lo = mid
        else:
            hi = mid
    source, row = locate(lo)
    raise SequenceDataError("non-numeric value", source=source, row=row, column=name,
                            expected="a number", found=repr(values[lo].as_py()), hint=hint)


def text_array(values: np.ndarray) -> pa.Array:
    """An arrow text array `[R]` of a numpy text or object array `[R]`; None and NaN become null.

    Objects are made text with `str` (numpy's cast, no Python loop here).
    """
    if values.dtype.kind != "O":
        return pa.array(values.astype(str), pa.string())
    missing = np.asarray(values == None) | np.asarray(values != values)    # noqa: E711 (elementwise)
    return pa.array(values.astype(str), pa.string(), mask=missing)
