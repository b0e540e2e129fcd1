"""Chunk: many sequences in one block, stored back to back, one flat array per channel.

Readers produce chunks so that slicing, gathering and padding stay vectorised
and no step is copied to interleave channels (arrow columns arrive one
channel at a time). Iterating a reader turns each chunk into `Record`s.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ._record import Record

__all__ = ["Chunk"]

# locate(i, t) -> (source, 1-based row) of step t of sequence i in a chunk.
Locator = Callable[[int, int], tuple]


class _Derived:
    """The locator of a chunk cut from others: sequence i is sequence `where[i]` of `bases[which[i]]`.

    Slicing, gathering and joining chunks compose these index arrays instead of
    nesting closures, so a chunk cut again and again (a shuffle buffer) keeps
    a flat locator, and only the base locators its sequences still use.
    """

    __slots__ = ("bases", "which", "where")

    def __init__(self, bases: list, which: np.ndarray, where: np.ndarray):
        self.bases, self.which, self.where = bases, which, where

    @staticmethod
    def of(chunk) -> _Derived:
        """The chunk's locator as a `_Derived` (made once: the chunk keeps it)."""
        if not isinstance(chunk.locate, _Derived):
            n = len(chunk)
            chunk.locate = _Derived([chunk.locate], np.zeros(n, dtype=np.int64), np.arange(n, dtype=np.int64))
        return chunk.locate

    def take(self, index) -> _Derived:
        which, where = self.which[index], self.where[index]
        if len(self.bases) == 1:
            return _Derived(self.bases, which, where)
        used, which = np.unique(which, return_inverse=True)              # keep only the bases in use
        return _Derived([self.bases[int(b)] for b in used], which.reshape(-1), where)

    def __call__(self, i: int, t: int) -> tuple:
        return self.bases[int(self.which[i])](int(self.where[i]), t)


class Chunk:
    """A block of n sequences stored back to back, one flat array per channel.

    This is what `SequenceReader.chunks()` yields. Readers that hold their
    data column by column build chunks directly; a reader that implements
    `records()` gets them built by the base class.

    Args:
        channels: C arrays of numbers, one per column (see Shape).
        offsets: n + 1 ints: sequence i is steps `offsets[i]:offsets[i + 1]`.
        keys: the n sequence keys.
        columns: the C column names, in `channels` order.
        locate: `locate(i, t) -> (source, row)`: where step t of sequence i
            came from, for error messages. By default `(keys[i], t + 1)`:
            the key and the 1-based step.

    Shape:
        channels: C arrays `[R]`, float32 or float64; R is the total number of
            steps. Channel c of sequence i is
            `channels[c][offsets[i]:offsets[i + 1]]`.
        offsets: int64 `[n + 1]`, `offsets[0] == 0`, non-decreasing.
        lengths: int64 `[n]`, steps per sequence.

    Raises:
        ValueError: offsets, channels, keys and columns that do not fit
            together (a bug in the reader that built the chunk).
    """

    __slots__ = ("channels", "columns", "keys", "locate", "offsets")

    def __init__(self, channels: list, offsets, keys: Sequence, columns: tuple,
                 locate: Locator | None = None):
        offsets = np.asarray(offsets)
        if offsets.ndim != 1 or len(offsets) == 0 or offsets.dtype.kind not in "iu":
            raise ValueError(f"Chunk: offsets must be a 1-D integer array of n + 1 entries, got "
                             f"{offsets.dtype} of shape {offsets.shape}")
        offsets = offsets.astype(np.int64, copy=False)
        if offsets[0] != 0 or (len(offsets) > 1 and (np.diff(offsets) < 0).any()):
            raise ValueError("Chunk: offsets must start at 0 and never decrease")
        if len(keys) != len(offsets) - 1:
            raise ValueError(f"Chunk: {len(offsets) - 1} sequences (offsets) but {len(keys)} keys")
        if len(columns) != len(channels):
            raise ValueError(f"Chunk: {len(channels)} channels but {len(columns)} column names")
        for name, channel in zip(columns, channels):
            if np.ndim(channel) != 1 or len(channel) != offsets[-1]:
                raise ValueError(f"Chunk: channel {name!r} must be 1-D with {int(offsets[-1])} steps "
                                 f"(offsets[-1]), got shape {np.shape(channel)}")
        self.channels = channels
        self.offsets = offsets
        self.keys = keys
        self.columns = columns
        self.locate = locate if locate is not None else (lambda i, t: (keys[i], t + 1))

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        """int64 `[n]`: steps per sequence."""
        return np.diff(self.offsets)

    def record(self, i: int) -> Record:
        """Sequence i as a `Record` (float64 `[T, C]`)."""
        a, b = self.offsets[i], self.offsets[i + 1]
        values = np.empty((b - a, len(self.channels)), dtype=np.float64)   # [T, C]
        for c, channel in enumerate(self.channels):
            values[:, c] = channel[a:b]
        return Record(values, self.columns, self.keys[i], self, i)

    def slice(self, lo: int, hi: int) -> Chunk:
        """Sequences lo..hi-1, sharing memory with this chunk."""
        a, b = self.offsets[lo], self.offsets[hi]
        derived = _Derived.of(self)
        return Chunk([ch[a:b] for ch in self.channels], self.offsets[lo:hi + 1] - a,
                     self.keys[lo:hi], self.columns,
                     _Derived(derived.bases, derived.which[lo:hi], derived.where[lo:hi]))

    def take(self, index) -> Chunk:
        """Sequences `index` (int `[m]`, any order) gathered into a new chunk."""
        index = np.asarray(index, dtype=np.int64)
        lengths = self.lengths[index]                                    # [m]
        offsets = np.zeros(len(index) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        # Step r of the result is step r - offsets[j] of sequence index[j].
        starts = self.offsets[index]                                     # [m]
        rows = np.arange(offsets[-1]) + np.repeat(starts - offsets[:-1], lengths)  # [R']
        keys = [self.keys[i] for i in index.tolist()]
        return Chunk([np.take(ch, rows) for ch in self.channels], offsets, keys, self.columns,
                     _Derived.of(self).take(index))

    @staticmethod
    def concat(chunks: list) -> Chunk:
        """One chunk holding the sequences of `chunks` (same columns) in order (copies)."""
        if len(chunks) == 1:
            return chunks[0]
        channels = [np.concatenate(parts) for parts in zip(*(c.channels for c in chunks))]
        steps = np.cumsum([0] + [c.offsets[-1] for c in chunks])         # [k + 1]
        offsets = np.concatenate([[0]] + [c.offsets[1:] + s for c, s in zip(chunks, steps)])
        keys = [k for c in chunks for k in c.keys]
        bases, which, where, slot = [], [], [], {}
        for c in chunks:
            derived = _Derived.of(c)
            remap = np.empty(len(derived.bases), dtype=np.int64)       # its bases among all the bases
            for j, base in enumerate(derived.bases):
                if id(base) not in slot:
                    slot[id(base)] = len(bases)
                    bases.append(base)
                remap[j] = slot[id(base)]
            which.append(remap[derived.which])
            where.append(derived.where)
        locate = _Derived(bases, np.concatenate(which), np.concatenate(where))
        return Chunk(channels, offsets.astype(np.int64), keys, chunks[0].columns, locate)

    def __repr__(self) -> str:
        return f"Chunk(sequences={len(self)}, steps={int(self.offsets[-1])}, columns={len(self.columns)})"
