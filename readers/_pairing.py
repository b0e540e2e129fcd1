"""Pairing features with labels: by key when both readers give pairing keys, else by position.

`SequenceReader.pair_keys` gives each sequence's pairing key (an id value, a
key column value, a file's number or name) or None for a reader whose
sequences pair by position. By key, the labels sequence with the features
sequence's key is found with one dict lookup per sequence, whatever the
order of the two readers; streaming, labels read ahead of their features
wait in a dict until their features come (none wait when both readers hold
the keys in the same order).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import numpy as np

from ._chunk import Chunk
from ._chunk_cursor import ChunkCursor
from ._errors import SequenceDataError

__all__ = ["PAIRING_HINT", "pair_indexed", "pair_stream"]

PAIRING_HINT = ("features and labels pair by key (id, key column, NumberedFiles number or file name); "
                "a list of files pairs by position")


def _no_partner(side: str, key: str, chunk: Chunk, i: int) -> SequenceDataError:
    """Sequence i of `chunk` (of the `side` reader) has a key the other reader lacks."""
    other = "labels" if side == "features" else "features"
    source, row = chunk.locate(i, 0)
    return SequenceDataError(f"key {key!r} is in the {side} only", source=source, row=row,
                             expected=f"a {other} sequence with key {key!r}", found="none",
                             hint=PAIRING_HINT)


def _repeated(side: str, key: str, chunk: Chunk, i: int, first: Chunk, j: int) -> SequenceDataError:
    """Sequence i of `chunk` repeats the key of sequence j of `first` (same reader)."""
    source, row = chunk.locate(i, 0)
    first_source, first_row = first.locate(j, 0)
    return SequenceDataError(f"key {key!r} repeats in the {side}, so it cannot pair",
                             source=source, row=row, expected="each key once",
                             found=f"it again (first at {first_source}, row {first_row})", hint=PAIRING_HINT)


def _keys(pair_keys: Callable, chunk: Chunk) -> list:
    keys = pair_keys(chunk.keys)
    if keys is None or len(keys) != len(chunk):
        raise ValueError(f"pair_keys returned {'None' if keys is None else len(keys)} keys for a chunk "
                         f"of {len(chunk)} sequences; it must return one key per sequence every time, "
                         "or None every time")
    return keys


def pair_indexed(fall: Chunk, lall: Chunk, fkey: Callable, lkey: Callable, *, partial: bool = False) -> Chunk:
    """The labels `lall` reordered so that sequence i pairs with features sequence i by key.

    Args:
        fall, lall: every features and labels sequence, in reader order.
        fkey, lkey: the readers' `pair_keys`.
        partial: `fall` is a share of the features, so labels without
            features here are other shares' (no error).

    Raises:
        SequenceDataError: a key in one reader only, or twice in one reader,
            naming the sequence.

    Shape:
        fall: N sequences, lall: M sequences -> a chunk of N labels sequences
        (M == N once every key has its partner); `lall` itself when already
        in step.
    """
    fkeys, lkeys = _keys(fkey, fall), _keys(lkey, lall)
    where = {}
    for j, key in enumerate(lkeys):
        first = where.setdefault(key, j)
        if first != j:
            raise _repeated("labels", key, lall, j, lall, first)
    index = np.empty(len(fkeys), dtype=np.int64)                         # [N] labels row per features row
    taken = {}
    for i, key in enumerate(fkeys):
        j = where.get(key)
        if j is None:
            raise _no_partner("features", key, fall, i)
        first = taken.setdefault(key, i)
        if first != i:
            raise _repeated("features", key, fall, i, fall, first)
        index[i] = j
    if len(lkeys) > len(fkeys) and not partial:
        for j, key in enumerate(lkeys):
            if key not in taken:
                raise _no_partner("labels", key, lall, j)
    if np.array_equal(index, np.arange(len(index))):
        return lall
    return lall.take(index)


class _Waiting:
    """Labels sequences read ahead, by pairing key, until their features come."""

    def __init__(self):
        self.where = {}          # key -> (block number, row in block)
        self.blocks = {}         # block number -> [chunk, sequences not yet taken]
        self._next = 0

    def hold(self, chunk: Chunk, keys: list) -> None:
        b, self._next = self._next, self._next + 1
        self.blocks[b] = [chunk, len(chunk)]
        for j, key in enumerate(keys):
            if key in self.where:
                fb, fj = self.where[key]
                raise _repeated("labels", key, chunk, j, self.blocks[fb][0], fj)
            self.where[key] = (b, j)

    def take(self, places: list) -> Chunk:
        """The held sequences at `places` (`(block, row)` each), in that order, released."""
        blocks = np.array([b for b, _ in places], dtype=np.int64)       # [n]
        rows = np.array([j for _, j in places], dtype=np.int64)         # [n]
        if (blocks == blocks[0]).all():
            out = self.blocks[int(blocks[0])][0].take(rows)
        else:
            parts, order = [], []
            for b in np.unique(blocks).tolist():
                sel = np.flatnonzero(blocks == b)
                parts.append(self.blocks[b][0].take(rows[sel]))
                order.append(sel)
            joined = Chunk.concat(parts)
            out = joined.take(np.argsort(np.concatenate(order), kind="stable"))
        for b, count in zip(*np.unique(blocks, return_counts=True)):
            entry = self.blocks[int(b)]
            entry[1] -= int(count)
            if entry[1] == 0:
                del self.blocks[int(b)]
        return out

    def first(self) -> tuple:
        """`(key, chunk, row in chunk)` of the first labels sequence still waiting."""
        key, (b, j) = next(iter(self.where.items()))
        return key, self.blocks[b][0], j


def pair_stream(fchunks: Iterable[Chunk], lchunks: Iterable[Chunk], fkey: Callable | None,
                lkey: Callable | None, mismatch: Callable, *, partial: bool = False) -> Iterator[tuple]:
    """`(features chunk, labels chunk)` pairs holding the same sequences, in features order.

    Args:
        fchunks, lchunks: the two readers' chunks.
        fkey, lkey: the readers' `pair_keys`, or None (both) to pair by position.
        mismatch: `mismatch(n_features, n_labels)` -> the error for readers
            of different sizes (by position).
        partial: the features are one share of a reader's (by key only):
            labels whose features are not in it belong to other shares, so
            they are no error (they are held until the end, then dropped).

    Raises:
        SequenceDataError: by key, a key in one reader only or twice in the
            labels (naming the sequence, when the stream reaches it); by
            position, readers of different sizes (at the end of the shorter).

    Shape:
        each pair: two chunks of the same n sequences, n the features chunk's.
    """
    fchunks = (c for c in fchunks if len(c))
    labels = ChunkCursor((c,) for c in lchunks)
    if fkey is None:
        yield from _by_position(fchunks, labels, mismatch)
        return
    waiting = _Waiting()
    for fchunk in fchunks:
        fkeys = _keys(fkey, fchunk)
        if not waiting.where:                                   # in step so far: try the same keys
            taken = labels.take(len(fchunk))
            if taken is not None:
                lkeys = _keys(lkey, taken[0])
                if lkeys == fkeys:
                    yield fchunk, taken[0]
                    continue
                waiting.hold(taken[0], lkeys)
        places = []
        for i, key in enumerate(fkeys):
            while key not in waiting.where:
                more = labels.take(max(len(fchunk), 64))
                if more is None:
                    raise _no_partner("features", key, fchunk, i)
                waiting.hold(more[0], _keys(lkey, more[0]))
            places.append(waiting.where.pop(key))
        yield fchunk, waiting.take(places)
    if partial:
        return
    if waiting.where:
        raise _no_partner("labels", *waiting.first())
    more = labels.take(1)
    if more is not None:
        raise _no_partner("labels", _keys(lkey, more[0])[0], more[0], 0)


def _by_position(fchunks, labels: ChunkCursor, mismatch: Callable) -> Iterator[tuple]:
    """Sequence i of the features with sequence i of the labels."""
    n = 0
    for fchunk in fchunks:
        taken = labels.take(len(fchunk))
        got = 0 if taken is None else len(taken[0])
        if got < len(fchunk):
            rest = sum(len(c) for c in fchunks)
            raise mismatch(n + len(fchunk) + rest, n + got)
        n += len(fchunk)
        yield fchunk, taken[0]
    rest = labels.count_rest()
    if rest:
        raise mismatch(n, n + rest)
