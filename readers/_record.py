"""The record type (one sequence) and the chunk (many sequences in one array).

Readers produce chunks: a block of sequences stored back to back, one flat
array per channel (as arrow columns arrive), so that slicing, gathering and
padding stay vectorised and no step is copied to interleave channels.
Iterating a reader turns each chunk into records.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["Chunk", "Record"]

# locate(i, t) -> (source, 1-based row) of step t of sequence i in a chunk.
Locator = Callable[[int, int], tuple]


class Record:
    """One sequence: its values, column names and key.

    Shape:
        values: float64 `[T, C]`, T steps, C columns (in `columns` order).

    Attributes:
        values: the steps, one row per step.
        columns: the C column names.
        key: the sequence's key: its file path (one file per sequence), its id
            value (long table), or its key column / `path#row` (nested Parquet).
    """

    __slots__ = ("values", "columns", "key", "_chunk", "_index")

    def __init__(self, values: np.ndarray, columns: tuple, key: str, chunk=None, index=0):
        self.values = values
        self.columns = columns
        self.key = key
        self._chunk = chunk
        self._index = index

    def __len__(self) -> int:
        return self.values.shape[0]

    def locate(self, step: int) -> tuple:
        """`(source, row)` of a step: the file and its 1-based row, where known."""
        if self._chunk is None:
            return self.key, None
        return self._chunk.locate(self._index, step)

    def __repr__(self) -> str:
        return f"Record(key={self.key!r}, steps={len(self)}, columns={list(self.columns)!r})"


class Chunk:
    """A block of n sequences stored back to back, one flat array per channel.

    Shape:
        channels: C arrays `[R]`, float32 or float64; R is the total number of
            steps. Channel c of sequence i is
            `channels[c][offsets[i]:offsets[i + 1]]`.
        offsets: int64 `[n + 1]`, `offsets[0] == 0`.

    Attributes:
        keys: the n sequence keys.
        columns: the C column names.
        locate: `locate(i, t) -> (source, row)` for error messages.
    """

    __slots__ = ("channels", "offsets", "keys", "columns", "locate")

    def __init__(self, channels: list, offsets: np.ndarray, keys: Sequence, columns: tuple,
                 locate: Locator):
        self.channels = channels
        self.offsets = offsets
        self.keys = keys
        self.columns = columns
        self.locate = locate

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
        parent = self.locate
        return Chunk([ch[a:b] for ch in self.channels], self.offsets[lo:hi + 1] - a,
                     self.keys[lo:hi], self.columns, lambda i, t: parent(lo + i, t))

    def take(self, index: np.ndarray) -> Chunk:
        """Sequences `index` (any order) gathered into a new chunk."""
        index = np.asarray(index, dtype=np.int64)
        lengths = self.lengths[index]                                    # [m]
        offsets = np.zeros(len(index) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        # Step r of the result is step r - offsets[j] of sequence index[j].
        starts = self.offsets[index]                                     # [m]
        rows = np.arange(offsets[-1]) + np.repeat(starts - offsets[:-1], lengths)  # [R']
        keys = [self.keys[i] for i in index.tolist()]
        parent = self.locate
        return Chunk([np.take(ch, rows) for ch in self.channels], offsets, keys, self.columns,
                     lambda i, t: parent(int(index[i]), t))

    @staticmethod
    def concat(chunks: list) -> Chunk:
        """One chunk holding the sequences of `chunks` in order (copies)."""
        if len(chunks) == 1:
            return chunks[0]
        counts = np.array([len(c) for c in chunks], dtype=np.int64)
        firsts = np.concatenate([[0], np.cumsum(counts)])                # [k + 1]
        channels = [np.concatenate(parts) for parts in zip(*(c.channels for c in chunks))]
        steps = np.cumsum([0] + [c.offsets[-1] for c in chunks])         # [k + 1]
        offsets = np.concatenate([[0]] + [c.offsets[1:] + s for c, s in zip(chunks, steps)])
        keys = [k for c in chunks for k in c.keys]
        locates = [c.locate for c in chunks]

        def locate(i, t):
            part = int(np.searchsorted(firsts, i, side="right")) - 1
            return locates[part](i - int(firsts[part]), t)

        return Chunk(channels, offsets.astype(np.int64), keys, chunks[0].columns, locate)

    def __repr__(self) -> str:
        return f"Chunk(sequences={len(self)}, steps={int(self.offsets[-1])}, columns={len(self.columns)})"
