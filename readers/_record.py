"""Record: one sequence, its values, column names and key."""

from __future__ import annotations

import numpy as np

__all__ = ["Record"]


class Record:
    """One sequence: its values, column names and key.

    Iterating any `SequenceReader` yields records; a reader of your own may
    also yield them from `records()`.

    Shape:
        values: float64 `[T, C]`, T steps, C columns (in `columns` order).

    Attributes:
        values: the steps, one row per step.
        columns: the C column names.
        key: the sequence's key: its file path (one file per sequence), its id
            value (long table), its key column / `path#row` (nested Parquet),
            or what a reader of your own gave.
    """

    __slots__ = ("_chunk", "_index", "columns", "key", "values")

    def __init__(self, values: np.ndarray, columns: tuple, key: str, chunk=None, index=0):
        self.values = values
        self.columns = columns
        self.key = key
        self._chunk = chunk
        self._index = index

    def __len__(self) -> int:
        return self.values.shape[0]

    def locate(self, step: int) -> tuple:
        """`(source, row)` of a step: its file and 1-based row in it, where the reader knows them.

        A record that came from no file (built by hand, or by a reader of
        your own) gives `(key, step + 1)`: the 1-based row of `values`.
        """
        if self._chunk is None:
            return self.key, step + 1
        return self._chunk.locate(self._index, step)

    def __repr__(self) -> str:
        return f"Record(key={self.key!r}, steps={len(self)}, columns={list(self.columns)!r})"
