"""from_arrays: sequences held as numpy arrays (and their labels) as readers.

The arrays are checked and stored column by column (one flat array per
column, with offsets) when the readers are made, so every iteration hands
out zero-copy chunks; text columns stay text until `chunks()` knows whether
they are class labels.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyarrow as pa

from ._chunk import Chunk
from ._columns import class_indices
from ._errors import SequenceDataError
from ._sequence_reader import SequenceReader
from ._text_numbers import text_array, text_to_float

__all__ = ["ArraySequenceReader", "from_arrays"]

_ROWS = 512             # sequences per chunk when the consumer gives no batch size
_KINDS = "biufUSO"      # numbers, or text (class labels, or text that reads as numbers)


class ArraySequenceReader(SequenceReader):
    """Sequences stored as flat columns in memory (made by `readers.from_arrays`).

    Args:
        channels: C arrays `[R]`: numbers (float32 kept, others float64) or text.
        offsets: int64 `[n + 1]`: sequence i is steps `offsets[i]:offsets[i + 1]`.
        columns: the C column names.
        keys: the n keys (text); `keyed` says whether they were given (pair by
            key) or are positions "0", "1", ... (pair by position).
        sources: how messages name sequence i: its key when keyed, else
            `"{what}[i]"`.

    Shape:
        channels C x `[R]`, offsets `[n + 1]`; records `[T_i, C]`.
    """

    def __init__(self, channels: list, offsets: np.ndarray, columns: tuple, keys: list, *,
                 keyed: bool, what: str):
        self._channels = channels
        self._offsets = offsets
        self._keys = keys
        self._keyed = keyed
        self._what = what
        self.columns = columns
        self.num_sequences = len(offsets) - 1

    def pair_keys(self, keys: list) -> list | None:
        """The keys given to `from_arrays(keys=...)`; None without them (pair by position)."""
        return list(keys) if self._keyed else None

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self._what}: {self.num_sequences} sequences, "
                f"columns={list(self.columns)!r})")

    def _source(self, i: int) -> str:
        return self._keys[i] if self._keyed else f"{self._what}[{i}]"

    def _locate_step(self, r: int) -> tuple:
        """`(source, 1-based row)` of flat step r."""
        i = int(np.searchsorted(self._offsets, r, side="right")) - 1
        return self._source(i), int(r - self._offsets[i]) + 1

    def chunks(self, classes: dict | None = None, *, rows: int | None = None):
        """Yield `Chunk`s of `rows` sequences (512 by default), sharing the stored columns.

        Args:
            classes: record column index -> class names (text labels).
            rows: sequences per chunk.

        Raises:
            SequenceDataError: text in a column not given `classes` that
                does not read as a number, or a label not in `classes`,
                naming the sequence, the 1-based step and the column.
        """
        text = classes or {}
        channels = []
        for c, channel in enumerate(self._channels):
            name = self.columns[c]
            if c in text:
                values = pa.array(channel) if channel.dtype.kind in "biuf" else text_array(channel)
                channels.append(class_indices(values, text[c], self._locate_step, name))
            elif channel.dtype.kind not in "biuf":
                channels.append(text_to_float(text_array(channel), self._locate_step, name))
            else:
                channels.append(channel)
        whole = Chunk(channels, self._offsets, self._keys, self.columns,
                      lambda i, t: (self._source(i), t + 1))
        size = int(rows or _ROWS)
        for lo in range(0, len(whole), size):
            yield whole.slice(lo, min(lo + size, len(whole)))


def _fail(message: str, source: str, expected, found, hint=None):
    raise SequenceDataError(message, source=source, expected=expected, found=found, hint=hint)


def _as_array(item, source: str) -> np.ndarray:
    try:
        values = np.asarray(item)
    except ValueError:                                    # ragged nested lists
        _fail("values are not an array", source, "a [T, C] array", "rows of different lengths")
    if values.dtype.kind not in _KINDS:
        _fail("values are not numbers", source, "numbers, or text class labels", str(values.dtype))
    return values


def _stored(values: np.ndarray) -> np.ndarray:
    """A column as stored: float32 kept, other numbers float64, text as it is."""
    if values.dtype.kind == "f" and values.dtype.itemsize == 4:
        return np.ascontiguousarray(values)
    if values.dtype.kind in "biuf":
        return values.astype(np.float64)
    return values


def _steps(items: list, what: str, one_d: bool) -> tuple:
    """`(channels C x [R], offsets [n + 1], width)` of per-sequence arrays `[T_i, C]` (`[T_i]` if `one_d`).

    One check per sequence (its shape and kind); the steps are joined column
    by column, with no Python per step.
    """
    arrays, width = [], None
    for i, item in enumerate(items):
        source = f"{what}[{i}]"
        values = _as_array(item, source)
        if values.ndim == 1 and one_d:
            values = values[:, None]                                   # [T] -> [T, 1]
        if values.ndim != 2:
            shapes = "[T] or [T, K]" if one_d else "[T, F]"
            found = "a scalar" if values.ndim == 0 else f"shape {values.shape}"
            hint = "one feature per step: pass x[:, None] ([T, 1])" if values.ndim == 1 else None
            _fail(f"not a {shapes} array", source, f"shape {shapes}", found, hint)
        if values.shape[0] == 0:
            _fail("empty sequence", source, "at least one step", "0 steps")
        if width is None:
            width = values.shape[1]
        elif values.shape[1] != width:
            noun = "label" if one_d else "feature"
            _fail(f"{noun} count differs between sequences", source,
                  f"{width} columns (as {what}[0])", f"{values.shape[1]} columns")
        arrays.append(values)
    offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
    np.cumsum([len(a) for a in arrays], out=offsets[1:])
    channels = [_stored(np.concatenate([a[:, c] for a in arrays])) for c in range(width)]
    return channels, offsets, width


def _sequence_list(sequences) -> list:
    if isinstance(sequences, np.ndarray):
        if sequences.ndim != 3:
            raise SequenceDataError("sequences are not a list of [T, F] arrays", source="sequences",
                                    expected="a list of [T_i, F] arrays, or an array [N, T, F]",
                                    found=f"an array of shape {sequences.shape}")
        return list(sequences)
    if isinstance(sequences, (str, bytes)) or not isinstance(sequences, Iterable):
        raise TypeError(f"sequences must be a list of [T, F] arrays, got {type(sequences).__name__}")
    return list(sequences)


def _keys(keys, n: int) -> list | None:
    if keys is None:
        return None
    keys = list(keys)
    if len(keys) != n:
        raise SequenceDataError("keys and sequences differ in number", source="keys",
                                expected=f"{n} keys (one per sequence)", found=f"{len(keys)} keys")
    seen = {}
    for i, key in enumerate(keys):
        if key is None:
            raise SequenceDataError("sequence has no key", source=f"keys[{i}]", expected="a key",
                                    found="None")
        if str(key) in seen:
            raise SequenceDataError("key repeats", source=f"keys[{i}]", expected="each key once",
                                    found=f"{str(key)!r} again (first at keys[{seen[str(key)]}])")
        seen[str(key)] = i
    return list(seen)


def _is_scalar(item) -> bool:
    """One label (a number or a text), not an array of labels."""
    if isinstance(item, np.ndarray):
        return item.ndim == 0
    return isinstance(item, (str, bytes)) or not isinstance(item, Iterable)


def _labels_reader(labels, n: int, keys: list | None, shown: list) -> ArraySequenceReader:
    """The labels reader: one step per sequence (a 1-D list of N labels) or per-step arrays."""
    if isinstance(labels, np.ndarray) and labels.ndim:
        items = labels if labels.ndim == 1 else list(labels)
        per_sequence = labels.ndim == 1
    else:
        if isinstance(labels, (str, bytes)) or not isinstance(labels, Iterable):
            raise TypeError(f"labels must be a list or array, got {type(labels).__name__}")
        items = list(labels)
        scalar = [_is_scalar(item) for item in items]
        per_sequence = all(scalar)
        if not per_sequence and any(scalar):
            i = scalar.index(not scalar[0])
            first = "one label per sequence" if scalar[0] else "an array of per-step labels"
            _fail("labels mix one label per sequence with per-step arrays", f"labels[{i}]",
                  f"{first} (as labels[0])", "an array" if scalar[0] else "a scalar")
    if len(items) != n:
        raise SequenceDataError(
            "labels and sequences differ in number", source="labels",
            expected=f"{n} labels (one per sequence, or one [T_i] / [T_i, K] array per sequence)",
            found=f"{len(items)} labels")
    if per_sequence:
        values = _as_array(items, "labels")                            # [N]
        channels, offsets = [_stored(values)], np.arange(n + 1, dtype=np.int64)
        width = 1
    else:
        channels, offsets, width = _steps(items, "labels", one_d=True)
    names = ("label",) if width == 1 else tuple(f"label[{k}]" for k in range(width))
    return ArraySequenceReader(channels, offsets, names, shown, keyed=keys is not None, what="labels")


def from_arrays(sequences, labels=None, *, columns=None, keys=None):
    """Readers of sequences (and labels) held as arrays in memory.

    Args:
        sequences: N arrays `[T_i, F]` (a list, or an array `[N, T, F]`),
            any T_i >= 1, the same F: numbers (NaN passes through, and
            `SequenceBatches` rejects it unless `allow_nan=True`), or text
            that reads as numbers, or text class labels (with `classes=`).
        labels: optional, either one label per sequence, a 1-D list or array
            of N class indices, class names (text, with `classes=`) or
            numbers (regression): a labels reader of one step per sequence;
            or per-step labels, N arrays `[T_i']` or `[T_i', K]` (a list, or
            an array `[N, T', ...]`), their lengths free (as labels files
            are: `align="align_start"` / `"align_end"`), the same K.
        columns: the F feature names; by default "0", "1", ... .
        keys: N keys naming the sequences (made text), in `Batch.keys` and
            messages, and pairing the readers with other readers by key.
            By default the keys are "0", "1", ... and the readers pair by
            position (with each other, or with any other reader).

    Returns:
        Without labels, the features reader. With labels, a pair
        `(features, labels)` for `SequenceBatches(features, labels, ...)`:
        the labels reader's column is "label" (K = 1) or "label[0]" ..
        "label[K-1]". One label per sequence is its one step: use
        `sequence_labels=True` (labels `[N, C]`) or `align="align_end"` (the
        label at the last feature step), as with one-line labels files.
        Both readers hold flat copies of the values (float32 kept, other
        numbers as float64); `len()` works at once.

    Raises:
        SequenceDataError: naming the sequence (`sequences[i]`, `labels[i]`)
            and, when read, the 1-based step and the column: an entry that
            is not `[T, F]` (or `[T]` / `[T, K]` labels), ragged nested
            lists, an empty sequence, a feature or label count that differs
            from the first entry's, labels mixing scalars and arrays, label
            or key counts other than N, a key None or repeated, text that
            is neither a number nor (with `classes=`) a class.
        TypeError: `sequences` or `labels` is not a list or array.
    """
    items = _sequence_list(sequences)
    if not items:
        raise SequenceDataError("no sequences", source="sequences", expected="at least one [T, F] array",
                                found="none")
    channels, offsets, width = _steps(items, "sequences", one_d=False)
    if columns is None:
        names = tuple(str(c) for c in range(width))
    else:
        names = tuple(str(c) for c in columns)
        if len(names) != width or len(set(names)) != len(names):
            raise SequenceDataError("column names do not fit the sequences", source="columns",
                                    expected=f"{width} distinct names (one per feature)",
                                    found=list(names))
    given = _keys(keys, len(items))
    shown = given if given is not None else [str(i) for i in range(len(items))]
    features = ArraySequenceReader(channels, offsets, names, shown, keyed=given is not None,
                                   what="sequences")
    if labels is None:
        return features
    return features, _labels_reader(labels, len(items), given, shown)
