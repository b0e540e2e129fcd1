"""Where sequences come from: numbered file patterns, paths, directories, globs."""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Sequence

from ._errors import SequenceDataError

__all__ = ["NumberedFiles", "describe_source", "file_pair_key", "natural_key", "resolve_paths",
           "source_paths"]

# DL4J accepts `%d` and `%0Nd` with one digit N; `{}` is the Python spelling.
_PLACEHOLDER = re.compile(r"%(?:0[1-9])?d|\{\}")
_GLOB_CHARS = re.compile(r"[*?\[]")


class NumberedFiles(Sequence):
    """File paths numbered from `start` to `end`, both inclusive.

    DL4J's `NumberedFileInputSplit`: `NumberedFiles("data/%d.csv", 0, 449)`
    gives `data/0.csv` ... `data/449.csv`, in ascending order.

    Args:
        pattern: a path with exactly one placeholder: `%d`, `%0Nd` (N one digit,
            1-9, zero-padded to N places: `%03d` gives `007`) or `{}`. Any other
            `%`, `{` or `}` makes the pattern invalid, as do the widths DL4J
            rejects (`%5d`, `%+5d`, `%-5d`, `%011d`, `%101d`, `%0505d`).
        start, end: non-negative integers, `start <= end`.

    Raises:
        ValueError: at construction, for an invalid pattern or range.

    Existence is not checked here, and paths are built only when asked for
    (a huge range costs nothing); a reader that opens a missing file raises
    `SequenceDataError` naming its path.
    """

    def __init__(self, pattern, start: int, end: int):
        pattern = os.fspath(pattern)
        found = _PLACEHOLDER.findall(pattern)
        rest = "".join(_PLACEHOLDER.split(pattern))
        if len(found) != 1 or any(ch in rest for ch in "%{}"):
            raise ValueError(
                f"invalid NumberedFiles pattern {pattern!r}: it needs exactly one "
                "placeholder, `%d`, `%0Nd` with N in 1..9 (e.g. `%03d`) or `{}`, "
                "and no other `%`, `{` or `}`")
        for name, value in (("start", start), ("end", end)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"NumberedFiles {name} must be a non-negative int, got {value!r}")
        if end < start:
            raise ValueError(f"NumberedFiles end ({end}) is before start ({start}); both are inclusive")
        self.pattern = pattern
        self.start = start
        self.end = end
        self._prefix, self._suffix = _PLACEHOLDER.split(pattern, maxsplit=1)
        spec = found[0]
        self._width = int(spec[1:-1]) if spec.startswith("%0") else 0

    def path(self, number: int) -> str:
        """The path for one number (no range check)."""
        return f"{self._prefix}{number:0{self._width}d}{self._suffix}" if self._width else \
            f"{self._prefix}{number}{self._suffix}"

    def __len__(self) -> int:
        return self.end - self.start + 1

    def number(self, path: str) -> int:
        """The number in one of this pattern's paths: the inverse of `path` (`007` gives 7).

        Raises:
            ValueError: `path` is not one of this pattern's paths.
        """
        path = os.fspath(path)
        digits = path[len(self._prefix):len(path) - len(self._suffix)]
        if not (path.startswith(self._prefix) and path.endswith(self._suffix) and digits.isdigit()):
            raise ValueError(f"{path!r} is not a path of {self!r}")
        return int(digits)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"NumberedFiles index {index} out of range for {n} files")
        return self.path(self.start + index)

    def __iter__(self):
        return (self.path(i) for i in range(self.start, self.end + 1))

    def __repr__(self) -> str:
        return f"NumberedFiles({self.pattern!r}, {self.start}, {self.end})"


def natural_key(text: str):
    """Sort key that orders `2.csv` before `10.csv`."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def _listdir(path: str) -> list[str]:
    names = [n for n in os.listdir(path) if not n.startswith((".", "_"))]
    files = [os.path.join(path, n) for n in names if os.path.isfile(os.path.join(path, n))]
    return sorted(files, key=natural_key)


def source_paths(source):
    """The files of a source, as `resolve_paths`, but a `NumberedFiles` as it is (paths built lazily)."""
    return source if isinstance(source, NumberedFiles) else resolve_paths(source)


def _stem(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


def file_pair_key(source):
    """How a one-file-per-sequence source's keys (its paths) pair with labels, or None.

    `NumberedFiles`: a path's number as plain text (`%03d` and `%d` patterns
    pair). A directory or glob: the file name without its extension. A list
    of paths or one path: None (they pair in the order given).

    Returns:
        A function path -> pairing key, or None.
    """
    if isinstance(source, NumberedFiles):
        return lambda path: str(source.number(path))
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if os.path.isdir(path) or (_GLOB_CHARS.search(path) and not os.path.exists(path)):
            return _stem
    return None


def resolve_paths(source) -> list[str]:
    """The files a source names, in the order a reader reads them.

    This is how `CSVSequenceReader` resolves its `source` (a
    `ParquetSequenceReader` lists directories through `pyarrow.dataset`
    instead), so a script can look at the files before reading them, for
    example to tell whether the first line is a header:

        first = readers.resolve_paths("data/*.csv")[0]

    Only directories and globs touch the filesystem; a `NumberedFiles`, a
    list or a single path is returned as named, without checking that the
    files exist (a reader reports a missing file when it opens it).

    Args:
        source: `NumberedFiles` (its order); a list or tuple of paths (as
            given); a directory (its regular files whose names do not start
            with `.` or `_`, in natural order); a glob such as `data/*.csv`
            (natural order); or one file path.

    Raises:
        SequenceDataError: when a directory or glob names no file.
        TypeError: for a source of another type.

    Returns:
        A new list of path strings (never empty).
    """
    if isinstance(source, NumberedFiles):
        return list(source)
    if isinstance(source, (list, tuple)):
        paths = [os.fspath(p) for p in source]
        if not paths:
            raise SequenceDataError("no files to read", expected="at least one path",
                                    found="an empty list")
        return paths
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if os.path.isdir(path):
            files = _listdir(path)
            if not files:
                raise SequenceDataError("directory holds no data files", source=path,
                                        expected="at least one file", found="none")
            return files
        if _GLOB_CHARS.search(path) and not os.path.exists(path):
            files = sorted((p for p in glob.glob(path) if os.path.isfile(p)), key=natural_key)
            if not files:
                raise SequenceDataError("glob matches no file", source=path,
                                        expected="at least one file", found="none")
            return files
        return [path]
    raise TypeError(f"a source is NumberedFiles, a path, a directory, a glob or a list of paths; "
                    f"got {type(source).__name__}")


def describe_source(source) -> str:
    """A short text for messages and reprs."""
    if isinstance(source, (list, tuple)):
        if len(source) <= 2:
            return repr([os.fspath(p) for p in source])
        return f"[{os.fspath(source[0])!r}, ... {len(source)} files]"
    if isinstance(source, os.PathLike):
        return repr(os.fspath(source))
    return repr(source)
