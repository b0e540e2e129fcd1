"""ChunkCursor: cut a stream of chunks (or of aligned tuples of chunks) into runs of n sequences."""

from __future__ import annotations

from collections.abc import Iterable

from ._chunk import Chunk

__all__ = ["ChunkCursor"]


class ChunkCursor:
    """Cuts a stream of aligned chunk tuples into runs of n sequences.

    Each item of the stream is a tuple of chunks that hold the same number of
    sequences (sequence i of one is paired with sequence i of the others), or
    None in a place that has no chunk. Runs are sliced and joined across
    items; memory is the current item plus the run being built.

    Shape:
        items: tuples of k chunks (or None) of n_i sequences each; `take(n)`:
        a tuple of k chunks of n sequences (fewer at the end).
    """

    def __init__(self, items: Iterable[tuple]):
        self._items = iter(items)
        self._item, self._pos = None, 0

    def _current(self) -> tuple | None:
        """The item with sequences left, reading the next one when needed; None at the end."""
        while self._item is None or self._pos == _length(self._item):
            self._item, self._pos = next(self._items, None), 0
            if self._item is None:
                return None
        return self._item

    def take(self, n: int) -> tuple | None:
        """The next n sequences (fewer at the end) as one tuple of chunks; None when none are left."""
        parts = []
        while n:
            item = self._current()
            if item is None:
                break
            k = min(n, _length(item) - self._pos)
            parts.append(tuple(None if c is None else c.slice(self._pos, self._pos + k) for c in item))
            self._pos += k
            n -= k
        if not parts:
            return None
        return tuple(None if column[0] is None else Chunk.concat(list(column)) for column in zip(*parts))

    def count_rest(self) -> int:
        """Read the stream to its end; the number of sequences that were left."""
        item = self._current()
        rest = 0 if item is None else _length(item) - self._pos
        for item in self._items:
            rest += _length(item)
        self._item, self._pos = None, 0
        return rest


def _length(item: tuple) -> int:
    return next(len(c) for c in item if c is not None)
