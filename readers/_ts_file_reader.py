"""TSFileReader: the sktime/aeon `.ts` format (UEA and UCR archives) as a sequence reader.

A `.ts` file is a header of `@name value` lines, then `@data` and one line
per series: its dimensions separated by `:`, each a comma-separated list of
values (`?` for a missing one), then its class label (`@classLabel true`) or
regression target (`@targetLabel true`) after the last `:`. Lines that start
with `#` are comments.

The header is read when the reader is made (so `classes` is known at once);
the data once, on first use, then kept. The values of every series are
parsed in one vectorised call over the whole data section; only lines
(series) are visited in Python, never single values, except to locate an
error once one is known to exist.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pyarrow as pa

from ._chunk import Chunk
from ._columns import class_indices
from ._errors import SequenceDataError
from ._sequence_reader import SequenceReader
from ._text_numbers import text_to_float

__all__ = ["TSFileReader"]

_ROWS = 512                     # series per chunk when the consumer gives no batch size
_BOOLEAN = {"true": True, "false": False}
_KNOWN = ("problemname", "timestamps", "missing", "univariate", "dimension", "dimensions", "equallength",
          "serieslength", "classlabel", "targetlabel", "data")


class _Parsed:
    """The data section: flat values, per-series lengths, labels, and the file line of each series."""

    __slots__ = ("flat", "labels", "lengths", "lines", "targets")

    def __init__(self, flat, lengths, lines, labels, targets):
        self.flat, self.lengths, self.lines = flat, lengths, lines
        self.labels, self.targets = labels, targets


class TSFileReader(SequenceReader):
    """Sequences of one sktime/aeon `.ts` file (the UEA/UCR time-series archives' format).

    Univariate and multivariate (dimensions separated by `:`), equal and
    unequal length. Each series is one sequence whose columns are its
    dimensions, `dim_0 .. dim_{D-1}`, plus `"class"` when the file has
    class labels (the label repeated at every step) or `"target"` when it
    has regression targets. Keys are `"<path>#<n>"`, n the 0-based series
    number; a step locates as the file and the 1-based line of its series.

    Classification with one label per series::

        train = readers.TSFileReader("BasicMotions_TRAIN.ts")
        batches = readers.SequenceBatches(train, label_column="class", classes=train.classes,
                                          sequence_labels=True, batch_size=16,
                                          align="align_start")

    Args:
        path: the `.ts` file.
        allow_nan: read `?` (and NaN) values as NaN instead of raising; the
            batches then need `SequenceBatches(allow_nan=True)` too.

    Attributes:
        path: the file.
        classes: the `@classLabel` names, in header order, or None.
        problem_name: `@problemName`, or None.
        dimensions: D, the dimensions per series.
        equal_length: `@equalLength` (None when the header leaves it out).
        series_length: `@seriesLength` (None when left out).

    Shape:
        records `[T, D]` (`[T, D + 1]` with the label column).

    Raises:
        SequenceDataError (when made): a header line that is unknown or
            malformed, `@timeStamps true` (not supported), no `@data`
            line, a class label list missing from `@classLabel true`.
        SequenceDataError (when read): a series with another number of
            dimensions than `@dimensions` (or the first series), dimensions of
            one series of different lengths, a length other than
            `@seriesLength` or series of different lengths under
            `@equalLength true`, an empty series, a value that is not a
            number, `?` or NaN without `allow_nan`, a label not in the
            `@classLabel` list, a missing label. Each names the file, its
            line and the dimension (`dim_j`) or label column.
        FileNotFoundError: no such file.
    """

    def __init__(self, path, *, allow_nan: bool = False):
        self.path = os.fspath(path)
        self.allow_nan = bool(allow_nan)
        self.problem_name = None
        self.timestamps = False
        self.univariate = None
        self.dimensions = None
        self.equal_length = None
        self.series_length = None
        self.classes = None
        self.has_target = False
        with open(self.path, "rb") as handle:
            text = handle.read().decode("utf-8", errors="replace")
        self._lines = text.splitlines()
        self._data_line = self._read_header()
        self._parsed = None
        if self.univariate and self.dimensions is None:
            self.dimensions = 1
        names = [f"dim_{j}" for j in range(self._dimensions_now())]
        if self.classes is not None:
            names.append("class")
        elif self.has_target:
            names.append("target")
        self.columns = tuple(names)

    # ---- header ----------------------------------------------------------------------------
    def _fail(self, message: str, line: int | None, expected=None, found=None, column=None, hint=None):
        raise SequenceDataError(message, source=self.path, row=line, column=column, expected=expected,
                                found=found, hint=hint)

    def _read_header(self) -> int:
        """Read the `@` lines; return the 0-based index of the `@data` line."""
        for index, raw in enumerate(self._lines):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if not line.startswith("@"):
                self._fail("data before the @data line", index + 1, expected="a @name value header line",
                           found=repr(line[:40]))
            name, _, rest = line[1:].partition(" ")
            key, words = name.lower(), rest.split()
            if key not in _KNOWN:
                self._fail("unknown header line", index + 1, expected="one of @problemName, "
                           "@timeStamps, @missing, @univariate, @dimensions, @equalLength, "
                           "@seriesLength, @classLabel, @targetLabel, @data", found=repr(line[:40]))
            if key == "data":
                return index
            if key == "problemname":
                self.problem_name = rest.strip() or None
            elif key == "classlabel":
                flag = self._flag(words[:1], index, "@classLabel")
                if flag:
                    if len(words) < 2:
                        self._fail("@classLabel true without the class names", index + 1,
                                   expected="@classLabel true c1 c2 ...", found=repr(line))
                    self.classes = words[1:]
            elif key in ("serieslength", "dimension", "dimensions"):
                if len(words) != 1 or not words[0].isdigit() or int(words[0]) < 1:
                    self._fail(f"bad @{name} line", index + 1, expected=f"@{name} and a positive integer",
                               found=repr(line))
                if key == "serieslength":
                    self.series_length = int(words[0])
                else:
                    self.dimensions = int(words[0])
            else:
                flag = self._flag(words, index, f"@{name}")
                if key == "timestamps" and flag:
                    self._fail("time stamps are not supported", index + 1,
                               expected="@timeStamps false (values only)", found="@timeStamps true",
                               hint="convert the file to one without time stamps (e.g. with aeon)")
                if key == "univariate":
                    self.univariate = flag
                elif key == "equallength":
                    self.equal_length = flag
                elif key == "targetlabel":
                    self.has_target = flag
        self._fail("no @data line", None, expected="a header ending in @data", found="none")

    def _flag(self, words: list, index: int, name: str) -> bool:
        if len(words) != 1 or words[0].lower() not in _BOOLEAN:
            self._fail(f"bad {name} line", index + 1, expected=f"{name} true|false",
                       found=repr(self._lines[index].strip()))
        return _BOOLEAN[words[0].lower()]

    def _dimensions_now(self) -> int:
        """D from the header, or from the first data line (which is then parsed)."""
        if self.dimensions is not None:
            return self.dimensions
        return self._data().lengths.shape[1]

    # ---- data ------------------------------------------------------------------------------
    def _data(self) -> _Parsed:
        if self._parsed is None:
            self._parsed = self._parse()
        return self._parsed

    def _parse(self) -> _Parsed:
        labelled = self.classes is not None or self.has_target
        label_name = "class" if self.classes is not None else "target"
        parts, lines, labels = [], [], []
        dims = self.dimensions
        for index in range(self._data_line + 1, len(self._lines)):
            line = self._lines[index].strip()
            if not line or line.startswith("#"):
                continue
            fields = line.split(":")
            if labelled:
                if len(fields) < 2:
                    self._fail("no label after the values", index + 1, column=label_name,
                               expected="values:label", found=repr(line[-40:]))
                labels.append(fields.pop().strip())
            if dims is None:
                dims = len(fields)
            if len(fields) != dims:
                self._fail("wrong number of dimensions", index + 1,
                           expected=f"{dims} dimensions separated by ':'", found=len(fields))
            parts.extend(fields)
            lines.append(index + 1)
        if not lines:
            self._fail("no series after @data", self._data_line + 1, expected="at least one series",
                       found="none")
        if self.dimensions is None:
            self.dimensions = dims
        n = len(lines)
        counts = np.array([p.count(",") + 1 if p.strip() else 0 for p in parts], dtype=np.int64)
        lengths = counts.reshape(n, dims)                                   # [n, D]
        lines = np.array(lines, dtype=np.int64)
        self._check_lengths(lengths, lines)
        flat = self._values(parts, counts, lines, dims)
        targets = None
        if self.classes is not None:
            known = pa.array(labels, pa.string())
            class_indices(known, self.classes, lambda r: (self.path, int(lines[r])), "class")
        elif self.has_target:
            targets = text_to_float(pa.array(labels, pa.string()), lambda r: (self.path, int(lines[r])),
                                    "target", hint="@targetLabel values must be numbers")
        return _Parsed(flat, lengths, lines, labels if self.classes is not None else None, targets)

    def _check_lengths(self, lengths: np.ndarray, lines: np.ndarray) -> None:
        """Every dimension of a series as long as its first; the header's length rules."""
        empty = np.flatnonzero((lengths == 0).any(axis=1))
        if len(empty):
            i = int(empty[0])
            j = int(np.flatnonzero(lengths[i] == 0)[0])
            self._fail("empty series", int(lines[i]), column=f"dim_{j}", expected="at least one value",
                       found="none")
        ragged = np.flatnonzero((lengths != lengths[:, :1]).any(axis=1))
        if len(ragged):
            i = int(ragged[0])
            j = int(np.flatnonzero(lengths[i] != lengths[i, 0])[0])
            self._fail("dimensions of one series differ in length", int(lines[i]), column=f"dim_{j}",
                       expected=f"{int(lengths[i, 0])} values (as dim_0)", found=f"{int(lengths[i, j])} values")
        steps = lengths[:, 0]
        if self.series_length is not None and self.equal_length is not False:
            bad = np.flatnonzero(steps != self.series_length)
            if len(bad):
                i = int(bad[0])
                self._fail("series length differs from @seriesLength", int(lines[i]),
                           expected=f"{self.series_length} values", found=f"{int(steps[i])} values")
        if self.equal_length:
            bad = np.flatnonzero(steps != steps[0])
            if len(bad):
                i = int(bad[0])
                self._fail("series of different lengths under @equalLength true", int(lines[i]),
                           expected=f"{int(steps[0])} values (as the first series)",
                           found=f"{int(steps[i])} values")

    def _values(self, parts: list, counts: np.ndarray, lines: np.ndarray, dims: int) -> np.ndarray:
        """float64 `[sum of counts]`: every value, series after series, dimension after dimension."""
        text = ",".join(parts).replace("?", "nan")
        total = int(counts.sum())
        flat = None
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            try:
                flat = np.fromstring(text, dtype=np.float64, sep=",")
            except (ValueError, DeprecationWarning):
                pass
        if flat is None or len(flat) != total:
            self._locate_bad_value(parts, lines, dims)
        if not self.allow_nan:
            bad = np.flatnonzero(~np.isfinite(flat))
            if len(bad):
                self._locate_missing(int(bad[0]), counts, lines, dims)
        return flat

    def _locate_bad_value(self, parts: list, lines: np.ndarray, dims: int) -> None:
        """Raise for the first value that is not a number (only called once one is known to exist)."""
        for p, part in enumerate(parts):
            for value in part.split(","):
                word = value.strip()
                if word == "?":
                    continue
                try:
                    float(word)
                except ValueError:
                    self._fail("not a number", int(lines[p // dims]), column=f"dim_{p % dims}",
                               expected="a number or ?", found=repr(word))
        self._fail("values could not be read", None, expected="comma-separated numbers", found="other text")

    def _locate_missing(self, position: int, counts: np.ndarray, lines: np.ndarray, dims: int) -> None:
        part = int(np.searchsorted(np.cumsum(counts), position, side="right"))
        step = position - int(counts[:part].sum())
        self._fail(f"missing value at step {step + 1}", int(lines[part // dims]), column=f"dim_{part % dims}",
                   expected="a number", found="? (or NaN)", hint="pass allow_nan=True to read it as NaN")

    # ---- the SequenceReader protocol -------------------------------------------------------
    @property
    def num_sequences(self) -> int:
        """The number of series in the file (parses the data on first use)."""
        return len(self._data().lines)

    def chunks(self, classes: dict | None = None, *, rows: int | None = None):
        """The series as `Chunk`s of `rows` series (512 by default), in file order.

        Args:
            classes: column index -> class names; for the `"class"` column,
                each label becomes its index in those names. Without them,
                its index in `self.classes` (the `@classLabel` list).
            rows: series per chunk.

        Raises:
            SequenceDataError: a label not in `classes`; see the class docstring.
        """
        if rows is not None and (isinstance(rows, bool) or not isinstance(rows, (int, np.integer)) or rows < 1):
            raise ValueError(f"rows must be a positive int or None, got {rows!r}")
        data = self._data()
        dims = self.dimensions
        steps = data.lengths[:, 0]                                         # [n]
        n = len(steps)
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(steps, out=offsets[1:])
        total = int(offsets[-1])
        series = np.repeat(np.arange(n), steps)                            # [R]: the series of each step
        local = np.arange(total) - offsets[:-1][series]                    # [R]: step within it
        base = dims * offsets[:-1][series] + local                         # [R]: dim_0's flat index
        channels = [data.flat[base + j * steps[series]] for j in range(dims)]
        label = self._label_channel(data, series, (classes or {}).get(dims))
        if label is not None:
            channels.append(label)
        keys = [f"{self.path}#{i}" for i in range(n)]
        whole = Chunk(channels, offsets, keys, self.columns, lambda i, t: (self.path, int(data.lines[i])))
        size = int(rows or _ROWS)
        for lo in range(0, n, size):
            yield whole.slice(lo, min(lo + size, n))

    def _label_channel(self, data: _Parsed, series: np.ndarray, names):
        """float64 `[R]`: the label of each step's series (class index or number), or None."""
        if data.targets is not None:
            return data.targets[series]
        if data.labels is None:
            return None
        per_series = class_indices(pa.array(data.labels, pa.string()), self.classes if names is None else names,
                                   lambda r: (self.path, int(data.lines[r])), "class")
        return per_series[series]

    def _repr_parts(self) -> tuple:
        return self.path, {"allow_nan": self.allow_nan or None}
