"""Blocks of a long CSV table: the units it is shared out in, read by byte range.

Block i of a file is its bytes `[i*B, (i+1)*B)` (B = `block_bytes`) and owns
the lines that start there, after the file's skipped header lines. A process
reads only its blocks' bytes, cut at line ends: from the first line starting
at or after `i*B` to the first line starting at or after `(i+1)*B`. (A block
in which no line starts owns nothing.) A newline inside a quoted field would
be taken for a line end, so a long table split into blocks must have none;
pyarrow then refuses the block, naming the file.

Sequences that run across blocks follow `_unit_runs`: a block also reads the
line just before its first one (the id of the row before it) and, while its
last id goes on, the lines after its end, in growing steps, into the next
files too. Row numbers for messages (rows before a block) are counted only
when a message needs them.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable

import pyarrow as pa

from ._errors import SequenceDataError, file_error
from ._sharding import Unit

__all__ = ["LongBlocks", "file_size"]

_STEP = 1 << 16              # bytes read at a time when looking for a line end, or reading on
_BOM = b"\xef\xbb\xbf"


def _open(path: str):
    try:
        return open(path, "rb")
    except OSError as exc:
        raise file_error(path, exc) from None


def file_size(path: str) -> int:
    """A file's size in bytes; a `SequenceDataError` naming a missing file."""
    try:
        return os.stat(path).st_size
    except FileNotFoundError as exc:
        raise file_error(path, exc) from None


class _Lines:
    """One open file, read by byte offset."""

    def __init__(self, path: str):
        self.path = path
        self.handle = _open(path)
        self.size = os.fstat(self.handle.fileno()).st_size

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.handle.close()
        return False

    def read(self, lo: int, hi: int) -> bytes:
        self.handle.seek(lo)
        return self.handle.read(max(hi - lo, 0))

    def line_start(self, pos: int) -> int:
        """The first line start at or after `pos` (the file size when none)."""
        if pos <= 0:
            return 0
        at = pos - 1                                  # a line starts at pos when byte pos-1 ends one
        step = 256
        while at < self.size:
            data = self.read(at, at + step)
            j = data.find(b"\n")
            if j >= 0:
                return at + j + 1
            at += len(data)
            step = min(step * 4, _STEP)
        return self.size

    def last_line(self, end: int, floor: int) -> bytes | None:
        """The last line of bytes `[floor, end)` (`end` a line start or the file end), or None."""
        if end <= floor:
            return None
        tail, lo, step = b"", end, 256
        while True:
            below = max(floor, lo - step)
            tail, lo, step = self.read(below, lo) + tail, below, min(step * 4, _STEP)
            body = tail[:-1] if tail.endswith(b"\n") else tail
            j = body.rfind(b"\n")
            if j >= 0 or lo == floor:
                return body[j + 1:].rstrip(b"\r")


def _header(path: str, skip: int) -> tuple:
    """`(body start, last skipped line or None)` of a file: where its rows begin."""
    with _Lines(path) as f:
        data = f.read(0, 256)
        while data.count(b"\n") < skip and len(data) < f.size:
            data += f.read(len(data), 4 * len(data))
    start = len(_BOM) if data.startswith(_BOM) else 0
    header = None
    for _ in range(skip):
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end
        header, start = data[start:end], min(end + 1, len(data))
    return start, header


def _rows_before(path: str, offset: int) -> Callable[[], int]:
    """A function counting the file's lines before byte `offset` (once, when first called)."""
    memo = []

    def count() -> int:
        if not memo:
            with _Lines(path) as f:
                n, at = 0, 0
                while at < offset:
                    data = f.read(at, min(at + (16 << 20), offset))
                    n += data.count(b"\n")
                    at += len(data)
                    if not data:
                        break
            memo.append(n)
        return memo[0]
    return count


class LongBlocks:
    """The blocks of a long CSV table's files, and what reading one of them involves.

    Args:
        paths: the files, in table order.
        skip: lines skipped at the top of every file.
        block_bytes: B, the block size.
        delimiter: the CSV delimiter.
        id_position: the id column's position in a line.
        check_header: `check_header(path, header)`, called for a block
            holding a file's first row, with the file's last skipped line.
    """

    def __init__(self, paths, *, skip: int, block_bytes: int, delimiter: str, id_position: int,
                 check_header: Callable):
        self.paths, self.skip, self.block_bytes = paths, skip, block_bytes
        self.delimiter, self.id_position = delimiter, id_position
        self.check_header = check_header
        self._units = None
        self._starts = {}                           # file index -> body start

    def units(self) -> list:
        """One `Unit` per block of every file (a file smaller than a block is one block)."""
        if self._units is None:
            units, self._file = [], []
            for j, path in enumerate(self.paths):
                size = file_size(path)
                for i in range(max(1, -(-size // self.block_bytes))):
                    weight = max(0, min(self.block_bytes, size - i * self.block_bytes))
                    units.append(Unit(path, i, weight, weight))
                    self._file.append(j)
            self._units = units
        return self._units

    def _start(self, j: int) -> tuple:
        if j not in self._starts:
            self._starts[j] = _header(self.paths[j], self.skip)
        return self._starts[j]

    def _id(self, line: bytes | None):
        """The id of one line (as pyarrow reads text), or None."""
        if line is None:
            return None
        fields = next(csv.reader([line.decode("utf-8", errors="replace")], delimiter=self.delimiter), [])
        return pa.scalar(fields[self.id_position], pa.string()) if len(fields) > self.id_position else None

    def _previous(self, j: int, first: int):
        """The id of the table row just before byte `first` of file j (None at the table's start)."""
        while j >= 0:
            start, _ = self._start(j)
            with _Lines(self.paths[j]) as f:
                end = first if first is not None else f.size
                line = f.last_line(end, start)
            if line is not None:
                return self._id(line)
            j, first = j - 1, None
        return None

    @staticmethod
    def _block(parse, path: str, data: bytes, offset: int):
        rows_before = _rows_before(path, offset)
        nul = data.find(b"\x00")
        if nul >= 0:
            raise SequenceDataError("NUL byte: binary data, not CSV text", source=path,
                                    row=rows_before() + data.count(b"\n", 0, nul) + 1,
                                    expected="CSV text", found="a NUL byte")
        return parse(path, data, rows_before)

    def read(self, u: int, parse: Callable):
        """`(previous id, own blocks, after)` of unit u, for `_unit_runs.unit_sequences`; None: it owns no row.

        Args:
            u: the unit (block) index.
            parse: `parse(path, data, rows_before) -> (channels, ids, order, locate)`:
                the rows of `data` (whole lines), whose first line comes after
                `rows_before()` lines of the file.
        """
        unit = self.units()[u]
        j = self._file[u]
        start, header = self._start(j)
        with _Lines(unit.source) as f:
            lo = unit.part * self.block_bytes
            hi = lo + self.block_bytes
            first = max(f.line_start(lo), start)
            end = f.size if hi >= f.size else max(f.line_start(hi), start)
            if first >= end:
                return None
            data = f.read(first, end)
        if first == start:
            self.check_header(unit.source, header)
        return (self._previous(j, first), [self._block(parse, unit.source, data, first)],
                lambda: self._after(parse, j, end))

    def _after(self, parse, j: int, pos: int):
        """Blocks of whole lines after byte `pos` of file j, through the following files, in growing steps."""
        step = min(_STEP, max(256, self.block_bytes // 8))
        while j < len(self.paths):
            path = self.paths[j]
            with _Lines(path) as f:
                while pos < f.size:
                    hi = min(pos + step, f.size)
                    data = f.read(pos, hi)
                    if hi < f.size:
                        cut = data.rfind(b"\n") + 1
                        if cut == 0:                    # one line longer than the step: read more
                            step *= 2
                            continue
                        data = data[:cut]
                    yield self._block(parse, path, data, pos)
                    pos += len(data)
                    step = min(step * 2, max(self.block_bytes, step))
            j += 1
            if j < len(self.paths):
                pos = self._start(j)[0]
