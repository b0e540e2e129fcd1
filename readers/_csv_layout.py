"""The layout of a CSV source: its column names and positions, read from the first file's head."""

from __future__ import annotations

import csv
import io

import numpy as np

from . import _hints
from ._csv_files import load
from ._errors import SequenceDataError
from ._header import looks_like_header

__all__ = ["csv_layout", "split_line"]


def split_line(text: bytes, delimiter: str) -> list:
    """The fields of the first CSV record in `text`."""
    text = text.decode("utf-8", errors="replace")
    return next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), [])


def _position(spec, names: list, what: str, path: str, header_row, hint=None) -> int:
    """File position of a column given by name or (possibly negative) index; `hint` ends a miss."""
    n = len(names)
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
        if -n <= spec < n:
            return int(spec) % n
        raise SequenceDataError(f"{what} index out of range", source=path, row=header_row,
                                column=int(spec), expected=f"an index in [{-n}, {n})",
                                found=f"{n} columns")
    matches = [i for i, name in enumerate(names) if name == spec]
    if len(matches) != 1:
        found = "no such column" if not matches else f"{len(matches)} columns of that name"
        raise SequenceDataError(f"{what} not found", source=path, row=header_row, column=spec,
                                expected=f"one of {names}", found=found, hint=hint)
    return matches[0]


def csv_layout(path: str, *, skip_lines, delimiter: str, id_column, order_column, columns) -> dict:
    """Column names and positions of a CSV source, from its first file `path`.

    Args:
        skip_lines, delimiter, id_column, order_column: as given to
            `CSVSequenceReader`; columns: its `columns=` (a list, or None).

    Returns:
        `{"names", "header", "values", "id", "order", "skip", "header_hint"}`:
        every column name, the header line (bytes) when it named the
        columns, the record's file positions, the id and order positions (or
        None), the lines skipped, and the hint for a header read as data.

    Raises:
        SequenceDataError: an empty first file, a column not found.
        ValueError: `columns=` naming a column twice, or the id or order
            column, or leaving no column.
    """
    given = [s for s in (id_column, order_column, *(columns or [])) if isinstance(s, str)]
    skip = skip_lines
    head = load(path, 1, "head") if not skip else None              # the first two lines
    if skip is None:
        skip = int(looks_like_header(head, delimiter, given))
    # skip_lines=0 given for a file whose first line looks like a header: say so where it shows.
    header_hint = _hints.HEADER if skip_lines == 0 and looks_like_header(head, delimiter, given) else None
    body = load(path, skip, "head")
    header_row = skip or None
    first_row = split_line(body.data[body.start:], delimiter)        # may span lines if quoted
    width = len(first_row) if first_row else None
    names = None
    if body.header is not None:
        header = [name.strip() for name in split_line(body.header, delimiter)]
        if width is None or len(header) == width:
            names, width = header, len(header)
    used_header = names is not None
    if width is None:
        raise SequenceDataError("empty sequence", source=path, row=skip + 1,
                                expected="at least one row", found="no rows")
    names = names or [str(i) for i in range(width)]
    special = {}
    for what, spec in (("id_column", id_column), ("order_column", order_column)):
        if spec is not None:
            special[what] = _position(spec, names, what, path, header_row, header_hint)
    if columns is None:
        value_pos = [i for i in range(width) if i not in special.values()]
    else:
        value_pos = [_position(s, names, "column", path, header_row, header_hint) for s in columns]
    if len(set(value_pos)) != len(value_pos):
        raise ValueError(f"columns= names a column twice: {columns!r}")
    if set(value_pos) & set(special.values()):
        raise ValueError("columns= may not include the id or order column")
    if not value_pos:
        raise ValueError("no columns left to read: the file has only id/order columns")
    return {"names": names, "header": body.header if used_header else None, "values": value_pos,
            "id": special.get("id_column"), "order": special.get("order_column"), "skip": skip,
            "header_hint": header_hint}
