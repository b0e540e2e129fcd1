"""SequenceReader: the base class and protocol of every reader, built-in or your own.

A reader gives its sequences two ways: `records()`, one per sequence (the
simplest to write), and `chunks()`, many sequences back to back in flat
arrays (what `SequenceBatches`, `write_parquet` and `inspect` consume). A
subclass implements one of the two and the base class derives the other,
plus iteration, `columns`, `len()` and `repr()`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import pyarrow as pa

from ._chunk import Chunk
from ._columns import class_indices
from ._errors import SequenceDataError
from ._hints import TEXT_LABELS
from ._record import Record
from ._sources import describe_source

__all__ = ["SequenceReader", "checked_chunks", "require_reader"]

_RECORDS_PER_CHUNK = 512     # records per chunk when the consumer gives no batch size


class SequenceReader:
    """Base class of every reader: sequences as records `[T, C]` or as chunks.

    A reader is re-iterable: every call of `records()`, `chunks()` or
    `iter()` reads the data again. Each sequence has a 2-D array of values
    `[T, C]` (T steps, C columns, the same C column names for every
    sequence) and a key that names it in batches and error messages.

    Your own reader: subclass and implement `records()` only::

        class MyReader(readers.SequenceReader):
            def __init__(self, arrays, names):
                self.arrays, self.names = arrays, names

            def records(self):
                for i, values in enumerate(self.arrays):
                    yield values, self.names, f"seq{i}"     # ([T, C], C names, key)

    `records()` yields, per sequence, either a tuple `(values, columns, key)`
    or a `Record`:
        values: a 2-D array-like `[T, C]` with T >= 1: numbers (bool, int or
            float; NaN allowed, rejected later by `SequenceBatches` unless
            `allow_nan=True`), or text in a column used as class labels
            (`SequenceBatches(classes=...)`). In an object or text array,
            text that reads as a number ("1.5") is that number and None
            is NaN.
        columns: the C column names, the same for every sequence.
        key: the sequence's name (made text with `str`), not None.
    Anything else is a `SequenceDataError` naming the sequence (its key, or
    its position when the key is unknown), the row and the column where they
    apply; rows are 1-based rows of `values` (or the file rows a `Record`
    from a built-in reader points at). The base class then provides
    `chunks()` (records grouped, validated, class labels mapped),
    `columns` (read from the first record), iteration (`Record`s),
    `len()` (known once the reader has been read to the end once) and
    `repr()`. Set `self.columns = names` (in `__init__`) if reading the first
    record to learn them is costly, and `self.num_sequences = n` if the
    count is known before reading (or override either property).

    Readers that hold their data column by column (the built-in CSV and
    Parquet readers) implement `chunks()` and `columns` instead, and get
    `records()` from the base class. `pair_keys()` says how sequences pair
    with another reader's (by key unless overridden). `units()` and
    `read_units()` let `SequenceBatches` give each process only its share
    (whole files, Parquet row groups, blocks of a long CSV); a reader
    without them is shared out by sequence (every process reads it all).

    Shape:
        a record's values: `[T, C]`; a chunk: C channels `[R]` and offsets
        `[n + 1]` for n sequences of R steps in all (see `Chunk`).
    """

    # ---- what a subclass implements (one of the two) ------------------------------------
    def records(self) -> Iterator:
        """One record per sequence: `(values [T, C], columns, key)` or a `Record`.

        The base class derives records from `chunks()`, yielding `Record`s.

        Raises:
            NotImplementedError: the subclass implements neither `records()`
                nor `chunks()`.
        """
        if type(self).chunks is SequenceReader.chunks:
            raise NotImplementedError(f"{type(self).__name__} must implement records() "
                                      "(or chunks()) to be a SequenceReader")
        return (chunk.record(i) for chunk in self.chunks() for i in range(len(chunk)))

    def chunks(self, classes: dict | None = None, *, rows: int | None = None) -> Iterator[Chunk]:
        """The sequences as `Chunk`s: blocks of sequences, one flat array per column.

        Args:
            classes: record column index -> class names. That column holds
                class labels; its chunk channel holds each label's index in
                the list (labels compared as trimmed text; numbers as their
                shortest text, 1.0 as "1"). A label not in the list is a
                `SequenceDataError`.
            rows: the number of sequences the consumer takes at a time (its
                batch size), a hint for the chunk size; None for the reader's
                own choice (512 records per chunk here).

        Yields:
            `Chunk`s whose columns are `self.columns`, sequences in reader order.

        Raises:
            SequenceDataError: a bad record (see the class docstring).
            ValueError: `rows` is not a positive int or None.
            NotImplementedError: the subclass implements neither `records()`
                nor `chunks()`.
        """
        if type(self).records is SequenceReader.records:
            raise NotImplementedError(f"{type(self).__name__} must implement records() "
                                      "(or chunks()) to be a SequenceReader")
        if rows is not None and (isinstance(rows, bool) or not isinstance(rows, (int, np.integer))
                                 or rows < 1):
            raise ValueError(f"rows must be a positive int or None, got {rows!r}")
        return self._chunks_from_records(classes or {}, int(rows or _RECORDS_PER_CHUNK))

    def pair_keys(self, keys: list) -> list | None:
        """The keys this reader's sequences pair with another reader's by; None: by position.

        `SequenceBatches` pairs a features reader with a labels reader by key
        when both give pairing keys: the features sequence with pairing key
        k gets the labels sequence with pairing key k, in whatever order the
        two readers hold them, and a key on one side only is an error. When
        either reader gives None, sequence i pairs with sequence i.

        Args:
            keys: sequence keys of this reader (a chunk's `keys`).

        Returns:
            One text per key, or None. Here: the keys themselves, so a reader
            of your own pairs by the keys it yields. Override it to return
            None (pair by position), or to map keys that differ between the
            two readers (`feat_3`, `lab_3`) to the key they share (`3`).
        """
        return [str(k) for k in keys]

    # ---- sharding by unit (optional) ----------------------------------------------------
    def units(self) -> list | None:
        """The `Unit`s this reader's data splits into, in reader order; None: it does not split.

        A process that reads some units with `read_units` gets exactly the
        sequences those units own, and the units together own every
        sequence once. Here: None, so `SequenceBatches` shares this reader
        out by sequence. The built-in readers split into whole files (one
        file per sequence), Parquet row groups, and byte blocks of a long
        CSV table.
        """
        return None

    def read_units(self, units, classes: dict | None = None, *,
                   rows: int | None = None) -> Iterator[Chunk]:
        """The sequences owned by `units` (indexes into `units()`), unit after unit in that order.

        Args:
            units: unit indexes, in the order to read them.
            classes, rows: as for `chunks()`.

        Raises:
            NotImplementedError: the reader has no units (`units()` is None).
        """
        raise NotImplementedError(f"{type(self).__name__} does not split into units; "
                                  "use SequenceBatches(shard_by='sequence')")

    # ---- derived ------------------------------------------------------------------------
    @property
    def columns(self) -> tuple:
        """The C column names of every record, in `values` order (read from the first sequence).

        Raises:
            SequenceDataError: the reader holds no sequence.
        """
        given = getattr(self, "_given_columns", None)
        if given is not None:
            return given
        by_records = type(self).records is not SequenceReader.records
        source = iter(self.records() if by_records else self.chunks(rows=1))
        try:
            first = next(source, None)
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()
        if first is None:
            raise SequenceDataError("no sequences, so no column names", source=repr(self),
                                    expected="at least one sequence", found="none")
        return _unpack(first, 0, self)[1] if by_records else tuple(first.columns)

    @columns.setter
    def columns(self, names) -> None:
        """Give the column names up front (`self.columns = names` in `__init__`): no first read."""
        self._given_columns = tuple(names)

    @property
    def num_sequences(self) -> int | None:
        """The number of sequences, or None while unknown.

        Known here once `chunks()` (or iteration) has read the records to the
        end; subclasses that know it sooner override this.
        """
        given = getattr(self, "_given_count", None)
        return given if given is not None else getattr(self, "_sequences_read", None)

    @num_sequences.setter
    def num_sequences(self, n: int | None) -> None:
        """Give the count up front (`self.num_sequences = n` in `__init__`), so `len()` works at once."""
        if n is not None and (isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0):
            raise ValueError(f"num_sequences must be a non-negative int or None, got {n!r}")
        self._given_count = None if n is None else int(n)

    def __len__(self) -> int:
        """`num_sequences`; TypeError while it is unknown (before a first full read)."""
        n = self.num_sequences
        if n is None:
            raise TypeError(f"the number of sequences of {self!r} is known only after it has "
                            "been read once")
        return n

    def __iter__(self) -> Iterator[Record]:
        """`Record`s, one per sequence, in reader order (values float64 `[T, C]`)."""
        for chunk in self.chunks():
            for i in range(len(chunk)):
                yield chunk.record(i)

    def _repr_parts(self) -> tuple:
        """`(source, options)` for `repr`: the data source (or None) and the options shown.

        Options whose value is None are left out. Subclasses override this.
        """
        return None, {}

    def __repr__(self) -> str:
        source, options = self._repr_parts()
        parts = [] if source is None else [describe_source(source)]
        parts += [f"{name}={value!r}" for name, value in options.items() if value is not None]
        return f"{type(self).__name__}({', '.join(parts)})"

    # ---- records to chunks --------------------------------------------------------------
    def _chunks_from_records(self, classes: dict, rows: int) -> Iterator[Chunk]:
        """Group validated records into chunks of `rows` sequences; remember the count at the end."""
        columns, block, n = None, [], 0
        for item in self.records():
            values, names, key, locate = _unpack(item, n, self)
            if columns is None:
                columns = names
            elif names != columns:
                raise SequenceDataError("columns differ from the first sequence's", source=key,
                                        expected=list(columns), found=list(names))
            block.append((_numbers(values, names, key, locate, classes), key, locate))
            n += 1
            if len(block) == rows:
                yield _chunk(block, columns)
                block = []
        if block:
            yield _chunk(block, columns)
        self._sequences_read = n


def _unpack(item, n: int, reader) -> tuple:
    """`(values [T, C] array, columns tuple, key str, locate(t))` of one record, shape-checked."""
    if isinstance(item, Record):
        values, columns, key, locate = item.values, item.columns, item.key, item.locate
    elif isinstance(item, tuple) and len(item) == 3:
        values, columns, key = item
        locate = None
    else:
        found = f"a tuple of {len(item)}" if isinstance(item, tuple) else type(item).__name__
        raise SequenceDataError(f"sequence {n} of {reader!r} is not a record",
                                expected="(values [T, C], columns, key) or a readers.Record", found=found)
    if key is None:
        raise SequenceDataError(f"sequence {n} of {reader!r} has no key", expected="a key", found="None")
    key = str(key)
    if locate is None:
        def locate(t, key=key):
            return key, t + 1
    if isinstance(columns, (str, bytes)) or not isinstance(columns, Iterable):
        raise SequenceDataError("column names are not a list", source=key,
                                expected="a list or tuple of C names", found=repr(columns))
    columns = tuple(columns)
    try:
        values = np.asarray(values)
    except ValueError:                              # ragged nested lists
        raise SequenceDataError("values are not a 2-D array", source=key, expected="shape [T, C]",
                                found="rows of different lengths") from None
    if values.ndim != 2:
        raise SequenceDataError("values are not a 2-D array", source=key, expected="shape [T, C]",
                                found=f"shape {values.shape}")
    if values.shape[1] != len(columns):
        raise SequenceDataError("values and column names differ in number", source=key,
                                expected=f"{len(columns)} columns {list(columns)}",
                                found=f"{values.shape[1]} columns")
    if values.shape[0] == 0:
        raise SequenceDataError("empty sequence", source=key, expected="at least one step",
                                found="0 steps")
    return values, columns, key, locate


def _numbers(values: np.ndarray, columns: tuple, key: str, locate, classes: dict) -> np.ndarray:
    """float64 `[T, C]`: the record's numbers, class labels as class indices."""
    kind = values.dtype.kind
    if kind not in "biufUSO":
        raise SequenceDataError("values are not numbers", source=key, expected="numbers or text labels",
                                found=str(values.dtype))
    numeric = kind in "biuf"
    out = values.astype(np.float64) if numeric else np.empty(values.shape, dtype=np.float64)
    for c, names in classes.items():
        column = values[:, c]
        labels = pa.array(column) if numeric else pa.array(column.astype(str))
        out[:, c] = class_indices(labels, names, locate, columns[c])
    if not numeric:
        for c in range(values.shape[1]):
            if c not in classes:
                out[:, c] = _text_to_float(values[:, c], locate, columns[c])
    return out


def _text_to_float(column: np.ndarray, locate, name) -> np.ndarray:
    """float64 `[T]` of a text (or object) column whose entries read as numbers (None as NaN)."""
    try:
        return column.astype(np.float64)
    except (TypeError, ValueError):
        pass
    numbers = np.empty(len(column), dtype=np.float64)
    for t, value in enumerate(column.tolist()):     # only when numpy cannot cast: find the bad step
        try:
            numbers[t] = np.nan if value is None else float(value)
        except (TypeError, ValueError):
            source, row = locate(t)
            raise SequenceDataError("non-numeric value", source=source, row=row, column=name,
                                    expected="a number", found=repr(value), hint=TEXT_LABELS) from None
    return numbers


def _chunk(block: list, columns: tuple) -> Chunk:
    """One chunk of the records in `block`: `(values [T, C] float64, key, locate)` each."""
    lengths = [len(values) for values, _, _ in block]
    offsets = np.zeros(len(block) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    steps = np.concatenate([values for values, _, _ in block], axis=0)    # [R, C]
    channels = list(np.ascontiguousarray(steps.T))                       # C x [R]
    keys = [key for _, key, _ in block]
    locates = [locate for _, _, locate in block]
    return Chunk(channels, offsets, keys, columns, lambda i, t: locates[i](t))


def require_reader(reader, what: str) -> None:
    """Raise TypeError unless `reader` gives chunks (a `SequenceReader`, or one in all but name)."""
    if not callable(getattr(reader, "chunks", None)):
        raise TypeError(f"{what} must be a readers.SequenceReader (subclass it and implement "
                        f"records()), got {type(reader).__name__}")


def checked_chunks(reader, classes: dict | None = None, *, rows: int | None = None,
                   columns: tuple | None = None, units=None) -> Iterator[Chunk]:
    """`reader.chunks(classes, rows=rows)`, each checked to be a `Chunk` with the reader's columns.

    Args:
        reader: a `SequenceReader`.
        classes, rows: as for `SequenceReader.chunks`.
        columns: the columns every chunk must have; by default `reader.columns`.
        units: unit indexes: read `reader.read_units(units, ...)` instead.

    Raises:
        SequenceDataError: a chunk that is not a `Chunk`, or has other columns.
    """
    want = tuple(reader.columns) if columns is None else tuple(columns)
    source = reader.chunks(classes, rows=rows) if units is None else \
        reader.read_units(units, classes, rows=rows)
    for chunk in source:
        if not isinstance(chunk, Chunk):
            raise SequenceDataError(f"{reader!r}.chunks() yielded something else than a readers.Chunk",
                                    expected="a readers.Chunk", found=type(chunk).__name__)
        if tuple(chunk.columns) != want:
            raise SequenceDataError(f"{reader!r}.chunks() yielded a chunk with other columns",
                                    source=chunk.keys[0] if len(chunk) else None,
                                    expected=list(want), found=list(chunk.columns))
        yield chunk
