"""Data specs shared by every subcommand: where sequences are and how they become batches.

A :class:`SourceSpec` names one split of a data set (a file, a directory, a
glob, or a numbered pattern with ``start``/``end``, plus an optional second
source of labels) and the reading options; :class:`BatchSpec` holds what
``readers.SequenceBatches`` needs to turn it into padded, masked batches. The
TOML ``[data]`` table and the command-line source options both build these.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import asdict, dataclass, fields, replace

import readers

from ._errors import CliError

__all__ = ["ALIGNS", "BatchSpec", "FORMATS", "SourceSpec", "detect_format", "make_batches",
           "parse_column"]

FORMATS = ("csv", "parquet", "ts")
ALIGNS = tuple(a.value for a in readers.Align)
_PLACEHOLDER = re.compile(r"%(?:0[1-9])?d|\{\}")
_PARQUET_EXT = (".parquet", ".pq", ".parq")
_CSV_EXT = (".csv", ".tsv", ".txt", ".dat")
_TS_EXT = (".ts",)                      # the sktime/aeon format (UEA/UCR archives)
_NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$|^\s*[-+]?(nan|inf)\s*$", re.I)


def parse_column(text):
    """A column given on the command line: an integer position when it looks like one, else a name."""
    if isinstance(text, str) and re.fullmatch(r"-?\d+", text.strip()):
        return int(text)
    return text


def _by_extension(path: str) -> str | None:
    lower = path.lower()
    if lower.endswith(_PARQUET_EXT):
        return "parquet"
    if lower.endswith(_CSV_EXT):
        return "csv"
    if lower.endswith(_TS_EXT):
        return "ts"
    return None


def detect_format(path: str) -> str:
    """``"csv"``, ``"parquet"`` or ``"ts"`` from a path's extension, or from the files a directory holds.

    Raises:
        CliError: the format cannot be told; the message says to pass it.
    """
    found = _by_extension(path)
    if found is None and os.path.isdir(path):
        for _root, _dirs, files in os.walk(path):
            kinds = {_by_extension(name) for name in files if not name.startswith((".", "_"))}
            if "parquet" in kinds:
                return "parquet"
            if "csv" in kinds:
                found = "csv"
    if found is None:
        raise CliError(f"cannot tell whether {path} is CSV or Parquet from its name; "
                       f"give the format (--format csv|parquet, or format = \"csv\" in the config)")
    return found


@dataclass
class SourceSpec:
    """One split of a data set and how to read it.

    Attributes:
        path: a file, directory, glob, or numbered pattern (``%d``, ``%03d``,
            ``{}``) used with ``start`` and ``end`` (both inclusive).
        labels: a second source holding the labels (DL4J's separate label
            files), numbered like ``path`` when that is a pattern.
        start, end: the numbers of a numbered pattern.
        format: ``"csv"``, ``"parquet"`` or ``"ts"`` (one sktime/aeon ``.ts``
            file); None tells it from the path.
        skip_lines: CSV lines to skip at the top of each file; None: 1 when
            the first line of the first file looks like a header (every field
            text, and the next line has a number), else 0.
        delimiter: the CSV field separator.
        id_column, order_column: a long table's sequence id and step order columns.
        key_column: the key column of nested Parquet.
        columns: the record's columns, in order (default: all but the id,
            order and key columns).
    """

    path: str
    labels: str | None = None
    start: int | None = None
    end: int | None = None
    format: str | None = None
    skip_lines: int | None = None
    delimiter: str = ","
    id_column: str | int | None = None
    order_column: str | int | None = None
    key_column: str | int | None = None
    columns: list | None = None

    def __post_init__(self):
        numbered = bool(_PLACEHOLDER.search(self.path))
        if numbered and (self.start is None or self.end is None):
            raise CliError(f"{self.path} is a numbered pattern: give start and end (--start/--end)")
        if not numbered and (self.start is not None or self.end is not None):
            raise CliError(f"start and end are for a numbered pattern (with %d, %0Nd or {{}}); "
                           f"{self.path} has none")
        if self.labels is not None and bool(_PLACEHOLDER.search(self.labels)) != numbered:
            raise CliError(f"the labels source {self.labels} must be numbered like {self.path} "
                           f"(both patterns with the same start and end, or neither)")
        if self.format is not None and self.format not in FORMATS:
            raise CliError(f"unknown format {self.format!r}; allowed: {', '.join(FORMATS)}")

    # -- paths --------------------------------------------------------------------------------
    def relative_to(self, base: str) -> "SourceSpec":
        """This spec with relative paths taken from the folder ``base``."""
        def resolve(p):
            if p is None or "://" in p:
                return p
            return os.path.normpath(p if os.path.isabs(p) else os.path.join(base, p))
        return replace(self, path=resolve(self.path), labels=resolve(self.labels))

    def _source(self, path: str):
        if self.start is not None:
            return readers.NumberedFiles(path, self.start, self.end)
        return path

    def file_format(self) -> str:
        """The format given or detected from the path."""
        return self.format or detect_format(self.path)

    # -- readers ------------------------------------------------------------------------------
    def reader(self, columns=None):
        """The features reader (``columns`` overrides the spec's selection)."""
        return self._reader(self.path, self.columns if columns is None else columns, labels=False)

    def labels_reader(self):
        """The labels reader, or None without a labels source."""
        if self.labels is None:
            return None
        return self._reader(self.labels, None, labels=True)

    def _reader(self, path: str, columns, *, labels: bool):
        if self.start is None and not os.path.exists(path) and not re.search(r"[*?\[]", path) \
                and "://" not in path:
            raise FileNotFoundError(2, "no such file or directory", path)
        fmt = self.format or detect_format(path)
        if fmt == "ts":
            if labels or self.start is not None or columns is not None:
                raise CliError("a .ts file holds its own labels, one file per split: no labels source, "
                               "numbered pattern or columns")
            return readers.TSFileReader(path)
        source = self._source(path)
        if fmt == "parquet":
            if self.skip_lines or self.delimiter != ",":
                raise CliError("skip_lines and delimiter are CSV options; this source is Parquet")
            return readers.ParquetSequenceReader(
                source, id_column=None if labels else self.id_column,
                order_column=None if labels else self.order_column,
                key_column=None if labels else self.key_column, columns=columns)
        if self.key_column is not None and not labels:
            raise CliError("key_column is a nested Parquet option; a CSV sequence's key is its file "
                           "path, or its id with id_column")
        skip = self.skip_lines
        if skip is None:
            skip = _header_lines(source, self.delimiter)
        return readers.CSVSequenceReader(
            source, skip_lines=skip, delimiter=self.delimiter,
            id_column=None if labels else self.id_column,
            order_column=None if labels else self.order_column, columns=columns)

    def describe(self) -> str:
        """The source as one short text."""
        text = self.path
        if self.start is not None:
            text += f" [{self.start}..{self.end}]"
        if self.labels is not None:
            text += f" with labels {self.labels}"
        return text

    def to_dict(self) -> dict:
        """JSON-ready, None values left out."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict) -> "SourceSpec":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def _is_number(text: str) -> bool:
    return bool(_NUMBER.match(text))


def _header_lines(source, delimiter: str) -> int:
    """1 when the first line of the first file is a header, else 0 (see ``SourceSpec.skip_lines``)."""
    try:
        first = readers.resolve_paths(source)[0]
        with open(first, newline="", encoding="utf-8", errors="replace") as handle:
            rows = []
            for row in csv.reader(handle, delimiter=delimiter):
                rows.append(row)
                if len(rows) == 2:
                    break
    except (OSError, readers.SequenceDataError, TypeError):
        return 0                                  # the reader reports a missing file itself
    if len(rows) < 2 or not rows[0]:
        return 0
    header = all(field.strip() and not _is_number(field) for field in rows[0])
    return int(header and any(_is_number(field) for field in rows[1]))


@dataclass
class BatchSpec:
    """How records become batches (``readers.SequenceBatches`` arguments).

    Attributes:
        batch_size: sequences per batch.
        align: ``equal_length``, ``align_start`` or ``align_end``.
        num_classes: C, the classes of integer labels 0 .. C-1 (classification).
        classes: text labels: the label values in the data, their order giving
            the class index (sets C).
        class_names: names of the integer classes 0 .. C-1, for reports and
            predictions.
        regression: raw numeric labels instead of classes.
        sequence_labels: one label per sequence (its last step's), for a
            network that ends in a sequence-level output.
        label_column: the label column(s) when features and labels share one source.
        shuffle, seed: shuffle the training sequences each epoch.
        bucket_by_length: batch sequences of similar length.
        allow_nan: keep NaN/inf values instead of refusing them.
    """

    batch_size: int = 32
    align: str = "equal_length"
    num_classes: int | None = None
    classes: list | None = None
    class_names: list | None = None
    regression: bool = False
    sequence_labels: bool = False
    label_column: str | int | list | None = None
    shuffle: bool = False
    seed: int | None = None
    bucket_by_length: bool = False
    allow_nan: bool = False

    @property
    def names(self) -> list | None:
        """The class names for reports and predictions: ``classes`` or ``class_names``."""
        return self.classes or self.class_names

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict) -> "BatchSpec":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def make_batches(source: SourceSpec, spec: BatchSpec, *, labelled: bool = True, training: bool = False,
                 batch_size: int | None = None, feature_columns=None, shard=None) -> readers.SequenceBatches:
    """``readers.SequenceBatches`` for one split.

    Args:
        source, spec: the split and the batching options.
        labelled: read labels (False for prediction: features only).
        training: shuffle and bucket as the spec says (never for evaluation).
        batch_size: overrides the spec's.
        feature_columns: without labels, the columns to read as features
            (the names the model was trained on).
        shard: ``"auto"`` under torchrun: this rank's share (``SequenceBatches(shard=)``).
    """
    size = batch_size or spec.batch_size
    labels = source.labels_reader() if labelled else None
    if not labelled:
        reader = source.reader(columns=feature_columns)
        return readers.SequenceBatches(reader, batch_size=size, align=spec.align,
                                       allow_nan=spec.allow_nan, shard=shard)
    reader = source.reader()
    if isinstance(reader, readers.TSFileReader) and reader.classes is not None and labels is None \
            and spec.label_column is None and not spec.regression:
        # A .ts file's classes come from its @classLabel header; one label per series.
        spec = replace(spec, label_column="class", classes=spec.classes or reader.classes, sequence_labels=True)
    label_column = None if labels is not None else spec.label_column
    if labels is None and label_column is None:
        raise CliError(f"{source.describe()}: no labels; give a label column (label_column, "
                       f"--label-column) or a labels source (labels, --labels)")
    return readers.SequenceBatches(
        reader, labels, batch_size=size, label_column=label_column,
        num_classes=None if spec.regression else spec.num_classes,
        classes=None if spec.regression else spec.classes,
        regression=spec.regression, align=spec.align, sequence_labels=spec.sequence_labels,
        shuffle=training and spec.shuffle, seed=spec.seed,
        bucket_by_length=training and spec.bucket_by_length, allow_nan=spec.allow_nan, shard=shard)
