"""CSV files to one arrow table, fast: many small files, one pyarrow parse.

Opening pyarrow once per tiny file costs about 230 us, so small files are
read as bytes, their skipped lines cut off, and up to 32 MiB of them joined
into one buffer that pyarrow parses once, on all cores. Each file's row count
(its newlines) splits the result back into files. A file over 32 MiB is
parsed by pyarrow straight from disk. When pyarrow refuses a block, a slow
pass over its files finds the exact file, row and column (`_csv_check`).
"""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from ._csv_check import blank_line_error, diagnose
from ._errors import SequenceDataError, file_error

__all__ = ["Body", "GROUP_BYTES", "load", "parse"]

GROUP_BYTES = 32 << 20       # parse about this many bytes of files in one pyarrow call
_BOM = b"\xef\xbb\xbf"
_HEAD = 1 << 16


class Body:
    """One file's rows after its skipped lines: `data[start:]`.

    Attributes:
        header: the last skipped line (bytes), or None.
        whole: whether `data` is the whole file (else only its head: the
            file is big and pyarrow reads it from disk).
        rows: rows in the body, once counted or parsed (None before).
        rows_before: None, or a function giving the file rows before the
            body's first line, for a body cut from the middle of a file
            (counted only when a message needs it).
    """

    __slots__ = ("path", "data", "start", "header", "whole", "rows", "skip_lines", "rows_before")

    def __init__(self, path, data, start, header, whole, skip_lines, rows_before=None):
        self.path, self.data, self.start, self.header = path, data, start, header
        self.whole, self.skip_lines, self.rows = whole, skip_lines, None
        self.rows_before = rows_before

    def first_row(self) -> int:
        """The 1-based file row of the body's first line."""
        return (self.skip_lines if self.rows_before is None else self.rows_before()) + 1

    @property
    def empty(self) -> bool:
        return self.whole and self.start >= len(self.data)

    @property
    def unterminated(self) -> bool:
        return len(self.data) > self.start and not self.data.endswith(b"\n")

    def count_rows(self) -> int:
        """Rows of a whole body: its newlines, plus an unterminated last line."""
        if self.rows is None:
            self.rows = self.data.count(b"\n", self.start) + self.unterminated
        return self.rows

    def text(self) -> bytes:
        """The body's bytes (reading the whole file if only its head is held)."""
        if not self.whole:
            full = load(self.path, self.skip_lines, "whole")
            return full.text()
        return self.data[self.start:] + (b"\n" if self.unterminated else b"")


def load(path: str, skip_lines: int, part: str = "auto") -> Body:
    """Read a file and cut off its first `skip_lines` lines.

    Args:
        part: "whole"; "head" (its first lines only); or "auto": whole unless
            the file is over `GROUP_BYTES`, then its head (pyarrow reads it).

    Raises:
        SequenceDataError: a missing or unreadable file, or a NUL byte in
            what was read (binary data), naming the file and row.
    """
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if part == "whole" or (part == "auto" and size <= GROUP_BYTES):
                data = handle.read()
            else:
                data = handle.read(_HEAD)
                while data.count(b"\n") <= skip_lines and len(data) < size:
                    data += handle.read(_HEAD)
    except OSError as exc:
        raise file_error(path, exc) from None
    nul = data.find(b"\x00")
    if nul >= 0:
        raise SequenceDataError("NUL byte: binary data, not CSV text", source=path,
                                row=data.count(b"\n", 0, nul) + 1, expected="CSV text",
                                found="a NUL byte")
    start = len(_BOM) if data.startswith(_BOM) else 0
    header = None
    for _ in range(skip_lines):
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end
        header, start = data[start:end], min(end + 1, len(data))
    return Body(path, data, start, header, len(data) >= size, skip_lines)


def _reader(delimiter: str, names: list, types: dict, skip_rows: int = 0, newlines_in_values=False):
    """A CSV parse of the columns `types` names; a type None is inferred by pyarrow."""
    def read(source):
        return pacsv.read_csv(
            source,
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=skip_rows, use_threads=True),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, ignore_empty_lines=False,
                                             newlines_in_values=newlines_in_values),
            convert_options=pacsv.ConvertOptions(
                column_types={n: t for n, t in types.items() if t is not None},
                include_columns=list(types), strings_can_be_null=False))
    return read


def parse(bodies: list, *, delimiter: str, names: list, types: dict, diagnosis: dict) -> pa.Table:
    """One table of the rows of `bodies`, in order, each body's `rows` set.

    Args:
        bodies: consecutive files; a body that is not `whole` comes alone.
        names: pyarrow names for every file column; types: name -> arrow type
            for the columns to parse (only those are converted; None: the
            type pyarrow infers, as for an order column).
        diagnosis: keyword arguments for `_csv_check.diagnose` (names, kinds,
            first_path, text_hint, header_hint) used to report a refused block exactly.

    Raises:
        SequenceDataError: at the first bad row, naming file, row and column;
            also for blank lines.
    """
    skip = bodies[0].skip_lines
    if all(b.empty for b in bodies):
        for b in bodies:
            b.rows = 0
        return pa.table({n: pa.array([], t or pa.null()) for n, t in types.items()})
    try:
        if len(bodies) == 1 and not bodies[0].whole:
            table = _reader(delimiter, names, types, skip)(pa.memory_map(bodies[0].path))
        else:
            pieces = [piece for b in bodies for piece in (
                (memoryview(b.data)[b.start:], b"\n") if b.unterminated else (memoryview(b.data)[b.start:],))]
            buffer = pa.py_buffer(pieces[0] if len(pieces) == 1 else b"".join(pieces))
            table = _reader(delimiter, names, types)(pa.BufferReader(buffer))
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        table = _file_by_file(bodies, delimiter, names, types, diagnosis)
    else:
        if len(bodies) == 1:
            bodies[0].rows = table.num_rows
        elif table.num_rows != sum(b.count_rows() for b in bodies):
            table = _file_by_file(bodies, delimiter, names, types, diagnosis)
    _blank_lines(table, bodies, [n for n, t in types.items() if t == pa.float64()])
    return table


def _file_by_file(bodies, delimiter, names, types, diagnosis) -> pa.Table:
    """The slow path: each file alone, quoted newlines allowed; exact errors."""
    read = _reader(delimiter, names, types, newlines_in_values=True)
    tables = []
    for b in bodies:
        if b.empty:
            b.rows = 0
            continue
        try:
            tables.append(read(pa.BufferReader(pa.py_buffer(b.text()))))
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            diagnose(b.path, b.text(), first_row=b.first_row(), delimiter=delimiter,
                     first_file=b.path == diagnosis["first_path"], names=diagnosis["names"],
                     kinds=diagnosis["kinds"], text_hint=diagnosis["text_hint"],
                     header_hint=diagnosis["header_hint"])
            raise SequenceDataError(f"pyarrow could not parse the CSV: {exc}", source=b.path) from exc
        b.rows = tables[-1].num_rows
    return pa.concat_tables(tables)


def _blank_lines(table: pa.Table, bodies: list, number_columns: list) -> None:
    """Raise for a blank line (pyarrow reads one as a row of nulls; a final newline is fine).

    Only files holding a row whose number columns are all null are searched.
    """
    columns = [table.column(n) for n in number_columns]
    if not columns or min(c.null_count for c in columns) == 0:
        return
    all_null = np.logical_and.reduce([c.is_null().to_numpy() for c in columns])   # [R]
    if not all_null.any():
        return
    starts = np.cumsum([0] + [b.rows for b in bodies])
    for j in np.unique(np.searchsorted(starts, np.flatnonzero(all_null), side="right") - 1):
        b = bodies[int(j)]
        text = b.text()
        blank_line_error(b.path, text, 0, b.first_row())
