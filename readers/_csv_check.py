"""Precise CSV error reports, for when pyarrow has refused a block of files.

The fast path parses many files at once and pyarrow's messages name neither
the file nor the row. This slow path walks one file at a time with Python's
`csv` module and raises the first problem with its file, row and column. It
runs only after a parse has failed.
"""

from __future__ import annotations

import csv
import io

import pyarrow.csv as pacsv

from ._errors import SequenceDataError

__all__ = ["NULL_VALUES", "blank_line_error", "csv_rows", "diagnose", "is_number"]

# Fields pyarrow reads as missing (NaN in a number column): matched exactly, spaces included.
NULL_VALUES = frozenset(pacsv.ConvertOptions().null_values)

_SPACED_NULL = ("a missing value is an empty field or a token such as NA, NaN or n/a written "
                "exactly, without spaces around it")


def is_number(text: str) -> bool:
    """Whether pyarrow's float parser accepts `text` as a number (spaces around it allowed).

    Missing-value tokens (`NULL_VALUES`) are not numbers here.
    """
    text = text.strip()
    if not text or "_" in text:         # Python accepts 1_000, pyarrow does not
        return False
    try:
        float(text)
    except ValueError:
        return False
    return True


def _parses_as_number(text: str) -> bool:
    """Whether pyarrow reads `text` in a number column: a number, or exactly a missing-value token."""
    return text in NULL_VALUES or is_number(text)


def csv_rows(text: str, path: str, first_row: int, delimiter: str):
    """`(file row, fields)` of each CSV record of `text`, quoted newlines allowed.

    Raises:
        SequenceDataError: text the csv module refuses (a NUL byte, a field
            over its size limit), naming the file and row.
    """
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise SequenceDataError("not CSV text", source=path, row=first_row + reader.line_num - 1,
                                    expected="rows of delimited text", found=str(exc)) from None
        yield first_row + reader.line_num - 1, fields


def blank_line_error(path: str, data, start: int, first_row: int) -> None:
    """Raise if a line of `data[start:]` is empty (a final newline is fine).

    Args:
        data: the file's bytes; the body (the rows after the skipped lines)
            starts at `start`.
        first_row: the file row of the body's first line.
    """
    for needle in (b"\n\n", b"\n\r\n"):
        at = data.find(needle, start)
        if at >= 0:
            row = first_row + data.count(b"\n", start, at + 1)
            raise SequenceDataError("blank line", source=path, row=row,
                                    expected="a row of values", found="an empty line")
    if data.startswith((b"\n", b"\r\n"), start):
        raise SequenceDataError("blank line", source=path, row=first_row,
                                expected="a row of values", found="an empty line")


def diagnose(path: str, body: bytes, *, first_row: int, delimiter: str, names: list,
             kinds: dict, first_file: bool, text_hint: str, header_hint: str | None = None) -> None:
    """Raise the first problem in one file's rows; return None if none is found.

    Args:
        body: the rows after the skipped header lines.
        first_row: the file row of the body's first line.
        names: every column name of the file, in file order.
        kinds: file position -> "number", "order" (not checked here: pyarrow
            infers its type), or a tuple of class names (text labels matched
            against `classes`), for the columns read.
        first_file: whether this file sets the column count (other files with
            a different count have a different feature count).
        text_hint: the hint ending a non-numeric value's message.
        header_hint: the hint for a non-numeric value in the first file's
            first row when that row looks like a header, or None.
    """
    text = body.decode("utf-8", errors="replace")
    expected = len(names)
    for index, (row, fields) in enumerate(csv_rows(text, path, first_row, delimiter)):
        if not fields:
            raise SequenceDataError("blank line", source=path, row=row,
                                    expected="a row of values", found="an empty line")
        if len(fields) != expected:
            where = names[min(len(fields), expected - 1)] if expected else None
            if index == 0 and not first_file:
                raise SequenceDataError(
                    "feature count differs between sequences", source=path, row=row,
                    column=where, expected=f"{expected} columns (as in the first file)",
                    found=f"{len(fields)} columns")
            raise SequenceDataError("wrong number of columns", source=path, row=row,
                                    column=where, expected=f"{expected} columns",
                                    found=f"{len(fields)} columns")
        for pos, kind in kinds.items():
            value = fields[pos]
            if kind == "number":
                if not _parses_as_number(value):
                    if value.strip() in NULL_VALUES:
                        hint = _SPACED_NULL
                    elif header_hint and first_file and row == first_row:
                        hint = header_hint
                    else:
                        hint = text_hint
                    raise SequenceDataError("non-numeric value", source=path, row=row, column=names[pos],
                                            expected="a number", found=repr(value), hint=hint)
            elif kind != "order" and value.strip() not in kind:
                raise SequenceDataError("unknown class label", source=path, row=row,
                                        column=names[pos], expected=f"one of {list(kind)}",
                                        found=repr(value))
    return None
