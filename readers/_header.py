"""detect_header: whether a CSV source's first line names its columns.

`CSVSequenceReader` uses it when `skip_lines` is left out, and the `seqkit`
command line uses the same rule, so a file reads the same way everywhere.
"""

from __future__ import annotations

from ._csv_check import NULL_VALUES, csv_rows, is_number
from ._csv_files import load
from ._sources import source_paths

__all__ = ["detect_header", "looks_like_header"]

_MISSING = frozenset(token.lower() for token in NULL_VALUES)   # "", "na", "nan", "null", "n/a", ...


def _is_value(field: str) -> bool:
    """A field that reads as data: a number, an empty field or a missing-value token (NA, NaN, ...)."""
    field = field.strip()
    return field.lower() in _MISSING or is_number(field)


def detect_header(source, *, delimiter: str = ",", names=()) -> bool:
    """Whether the first line of a CSV source's first file is a header.

    It is a header when either
      - every field is text that does not read as data (not a number, not
        empty, not a missing-value token such as `NA`, `NaN`, `null`, `n/a`),
        and the second line has as many fields, at least one of them a
        number; or
      - `names` are given, every one of them is a field of the first line,
        and no field of it is empty or a missing-value token.
    A file of one line has no header by the first rule (that line is its one
    step). A line of missing values (`NA,NA`) is data, never a header.

    Args:
        source: what `CSVSequenceReader` takes: a `NumberedFiles`, a path, a
            directory, a glob or a list of paths (the first file is read,
            its first 64 KiB or so).
        delimiter: the field separator.
        names: column names the caller expects in the header (an id or order
            column, `columns=`), which settle files whose rows hold no number.

    Returns:
        True when the first line is a header (`skip_lines=1`), else False.

    Raises:
        SequenceDataError: the first file is missing or unreadable, or holds
            binary data (a NUL byte).
    """
    path = source_paths(source)[0]
    return looks_like_header(load(path, 1, "head"), delimiter, names)


def looks_like_header(body, delimiter: str, names=()) -> bool:
    """`detect_header` for a file already loaded (`_csv_files.load`, any `skip_lines`).

    Args:
        body: the loaded file (its `data` holds at least its first two lines, if it has them).
    """
    data = body.data[3:] if body.data.startswith(b"\xef\xbb\xbf") else body.data
    text = data.decode("utf-8", errors="replace")
    rows = []
    for _, fields in csv_rows(text, body.path, 1, delimiter):
        rows.append(fields)
        if len(rows) == 2:
            break
    if not rows or not rows[0]:
        return False
    first = [field.strip() for field in rows[0]]
    missing = any(field.lower() in _MISSING for field in first)
    wanted = [str(n).strip() for n in names]
    if wanted and not missing and all(n in first for n in wanted):
        return True
    if any(_is_value(field) for field in first) or len(rows) < 2:
        return False
    second = rows[1]
    return len(second) == len(first) and any(is_number(field) for field in second)
