"""What one process reads: its share of the features (and their labels) as chunk pairs.

`Sources` holds a `SequenceBatches`' features and labels readers and reads
them for one share: by sequence (everything is read, sequence i kept when
`i % parts == index`) or by unit (only the share's units are read). Labels
follow their features:

- labels as columns of the features: nothing to pair;
- two readers whose units each hold one sequence known by key (one file
  per sequence on both sides): features unit i is paired with the labels
  unit of the same key (or, pairing by position, unit i), and only those
  labels units are read. Every key is checked against the full listings,
  so a key on one side only is an error on every process;
- otherwise, by key: the labels reader is read whole and the labels of
  this share's features are taken as they come; labels of other shares
  are held until the end of the pass (memory: up to all of those labels).
"""

from __future__ import annotations

import numpy as np

from ._chunk import Chunk
from ._errors import SequenceDataError
from ._pairing import PAIRING_HINT, pair_indexed, pair_stream
from ._sequence_reader import checked_chunks

__all__ = ["Sources"]

_UNSET = object()


def _concat(chunks: list) -> Chunk:
    """All sequences of `chunks` in one chunk (an empty one for none)."""
    return Chunk.concat(chunks) if chunks else Chunk([], np.zeros(1, dtype=np.int64), [], ())


def _keep(pairs, index: int, parts: int):
    """The `(features, labels)` chunk pairs keeping sequence i when i % parts == index."""
    base = 0
    for fchunk, lchunk in pairs:
        n = len(fchunk)
        if parts == 1:
            yield fchunk, lchunk
            continue
        keep = np.arange((index - base) % parts, n, parts)
        base += n
        if len(keep):
            yield fchunk.take(keep), None if lchunk is None else lchunk.take(keep)


class _Counted:
    """The chunks of a stream, counting their sequences."""

    def __init__(self, chunks):
        self._chunks, self.total = chunks, 0

    def __iter__(self):
        for chunk in self._chunks:
            self.total += len(chunk)
            yield chunk


class Sources:
    """A features reader and an optional labels reader, read for one share.

    Args:
        features, labels: the readers (labels None when they are columns of the features).
        ftext, ltext: record column -> class names, for each reader's `chunks`.
    """

    def __init__(self, features, labels, ftext: dict, ltext: dict):
        self.features, self.labels, self.ftext, self.ltext = features, labels, ftext, ltext
        self._label_units = _UNSET

    # ---- errors and sizes ---------------------------------------------------------------
    def mismatch(self, n_features: int, n_labels: int) -> SequenceDataError:
        return SequenceDataError(
            "feature and label readers hold different numbers of sequences",
            source=f"features {self.features!r}, labels {self.labels!r}",
            expected=f"{n_features} label sequences (one per features sequence)",
            found=f"{n_features} features and {n_labels} labels sequences")

    def empty(self) -> SequenceDataError:
        return SequenceDataError("no sequences to batch", source=repr(self.features),
                                 expected="at least one sequence", found="none")

    def size(self) -> int:
        """Sequences in the data set (TypeError when unknown before reading)."""
        n = len(self.features)
        if n == 0:
            raise self.empty()
        if self.labels is not None and len(self.labels) != n:
            raise self.mismatch(n, len(self.labels))
        return n

    def pair_keys(self) -> tuple:
        """`(features pair_keys, labels pair_keys)`, or `(None, None)` to pair by position."""
        fkey = getattr(self.features, "pair_keys", None)
        lkey = getattr(self.labels, "pair_keys", None)
        if fkey is None or lkey is None or fkey([]) is None or lkey([]) is None:
            return None, None
        return fkey, lkey

    # ---- units --------------------------------------------------------------------------
    def units(self) -> list | None:
        """The features reader's units, or None when it does not split."""
        units = getattr(self.features, "units", None)
        return None if units is None else units()

    def can_split(self) -> bool:
        """Whether the features split into units and their labels can follow them."""
        if self.units() is None:
            return False
        if self.labels is None or self.label_units() is not None:
            return True
        return self.pair_keys()[0] is not None

    def label_units(self):
        """int64 `[U]`: the labels unit of each features unit, or None when they do not pair unit by unit.

        Raises:
            SequenceDataError: a key on one side only or twice on one side,
                or (by position) as many features as labels units.
        """
        if self._label_units is not _UNSET:
            return self._label_units
        funits = self.units()
        lunits = getattr(self.labels, "units", lambda: None)()
        self._label_units = None
        if funits is None or lunits is None or any(u.key is None for u in (*funits, *lunits)):
            return None
        fkey, lkey = self.pair_keys()
        if fkey is None:
            if len(funits) != len(lunits):
                raise self.mismatch(len(funits), len(lunits))
            self._label_units = np.arange(len(funits))
            return self._label_units
        where = {}
        for j, key in enumerate(lkey([u.key for u in lunits])):
            if where.setdefault(key, j) != j:
                raise _key_error(f"key {key!r} repeats in the labels, so it cannot pair", lunits[j],
                                 f"it again (first in {lunits[where[key]].source})")
        index, taken = np.empty(len(funits), dtype=np.int64), {}
        for i, key in enumerate(fkey([u.key for u in funits])):
            if key not in where:
                raise _key_error(f"key {key!r} is in the features only", funits[i], "none",
                                 f"a labels sequence with key {key!r}")
            if taken.setdefault(key, i) != i:
                raise _key_error(f"key {key!r} repeats in the features, so it cannot pair", funits[i],
                                 f"it again (first in {funits[taken[key]].source})")
            index[i] = where[key]
        if len(where) > len(taken):
            j, key = min((j, key) for key, j in where.items() if key not in taken)
            raise _key_error(f"key {key!r} is in the labels only", lunits[j], "none",
                             f"a features sequence with key {key!r}")
        self._label_units = index
        return index

    # ---- reading ------------------------------------------------------------------------
    def sequence_pairs(self, index: int, parts: int, rows: int) -> tuple:
        """`(chunk pairs, counter)` of share `index` of `parts`, by sequence: everything is read.

        `counter.total` counts the features sequences read.
        """
        features = _Counted(checked_chunks(self.features, self.ftext, rows=rows))
        if self.labels is None:
            pairs = ((chunk, None) for chunk in features)
        else:
            pairs = pair_stream(features, checked_chunks(self.labels, self.ltext, rows=rows),
                                *self.pair_keys(), self.mismatch)
        return _keep(pairs, index, parts), features

    def unit_pairs(self, units: np.ndarray, rows: int, *, whole: bool) -> tuple:
        """`(chunk pairs, counter)` of the sequences `units` own (`whole`: the share is every unit)."""
        features = _Counted(checked_chunks(self.features, self.ftext, rows=rows, units=units))
        if self.labels is None:
            return ((chunk, None) for chunk in features), features
        aligned = self.label_units()
        if aligned is not None:
            labels = checked_chunks(self.labels, self.ltext, rows=rows, units=aligned[units])
        else:
            labels = checked_chunks(self.labels, self.ltext, rows=rows)
        return pair_stream(features, labels, *self.pair_keys(), self.mismatch,
                           partial=aligned is None and not whole), features

    def all_in_memory(self, units=None, *, whole: bool = True) -> tuple:
        """`(features, labels or None)` of everything (or of `units`), paired, each in one chunk."""
        fall = _concat(list(checked_chunks(self.features, self.ftext, units=units)))
        if self.labels is None or not len(fall):
            return fall, None
        aligned = None if units is None else self.label_units()
        if aligned is not None:
            lall = _concat(list(checked_chunks(self.labels, self.ltext, units=aligned[units])))
        else:
            lall = _concat(list(checked_chunks(self.labels, self.ltext)))
        fkey, lkey = self.pair_keys()
        if fkey is not None:
            return fall, pair_indexed(fall, lall, fkey, lkey, partial=not whole and aligned is None)
        if len(fall) != len(lall):
            raise self.mismatch(len(fall), len(lall))
        return fall, lall


def _key_error(message: str, unit, found: str, expected: str = "each key once") -> SequenceDataError:
    return SequenceDataError(message, source=unit.source, expected=expected, found=found, hint=PAIRING_HINT)
