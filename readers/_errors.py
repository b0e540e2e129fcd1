"""The one error type of the data side."""

from __future__ import annotations

__all__ = ["SequenceDataError", "file_error"]


class SequenceDataError(ValueError):
    """Bad sequence data, located as precisely as the data allows.

    The message is one line: it names the file (or source key), the 1-based
    row and the column where known, says what was expected and what was
    found, and may end with a hint (what to pass to read the data as meant).
    The same facts are kept as attributes so callers can act on them.

    Attributes:
        source: file path or sequence key, or None.
        row: 1-based row in that file (counting skipped header lines), or None.
        column: column name or 0-based index, or None.
        expected: what the reader expected there, or None.
        found: what it found instead, or None.
        hint: what to do about it (for example "pass classes=[...]"), or None.
    """

    def __init__(self, message: str, *, source=None, row=None, column=None,
                 expected=None, found=None, hint=None):
        where = []
        if source is not None:
            where.append(f"{source}")
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column!r}")
        text = message
        if where:
            text = f"{', '.join(where)}: {message}"
        if expected is not None or found is not None:
            text += f" (expected {expected}, found {found})"
        if hint is not None:
            text += f"; {hint}"
        super().__init__(text)
        self.source = source
        self.row = row
        self.column = column
        self.expected = expected
        self.found = found
        self.hint = hint


def file_error(path: str, exc: OSError) -> SequenceDataError:
    """The data error for an ``OSError`` raised while opening or reading ``path``: a missing file,
    or one that cannot be read (with the system's reason)."""
    if isinstance(exc, FileNotFoundError):
        return SequenceDataError("missing file", source=path, expected="an existing file", found="no such file")
    return SequenceDataError("cannot read file", source=path, expected="a readable file",
                             found=exc.strerror or str(exc))
