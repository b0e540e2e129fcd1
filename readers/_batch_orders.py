"""Batch orders: a stream of (features, labels) chunk pairs cut into the pairs of each batch.

- `in_order`: runs of `size` sequences, as they come.
- `bucketed`: windows of 50 batches, each sorted by length (less padding).
- `buffered`: a bounded shuffle. A buffer of `capacity` sequences fills; then
  a random half of it (whole batches) leaves, sorted by length within that
  half when bucketing, the batches in random order; the buffer refills. At
  the end the rest leaves the same way. Memory: the buffer, plus the chunk
  being read and the half leaving.
- `in_memory`: every sequence held; batches follow a given order (a full
  shuffle), windows of 50 batches sorted by length when bucketing.

A pair's labels chunk is None when the labels are columns of the features
chunk. Every order yields ceil(n / size) batches for n sequences, the last
one smaller (dropped with `drop_last`); only one batch is ever smaller.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from ._chunk import Chunk
from ._chunk_cursor import ChunkCursor

__all__ = ["BUCKET_WINDOW", "bucketed", "buffered", "in_memory", "in_order"]

BUCKET_WINDOW = 50           # bucket_by_length sorts windows of this many batches


def _lengths(pair: tuple, by_labels: bool) -> np.ndarray:
    """int64 `[n]`: the longer of each sequence's features and labels lengths."""
    fchunk, lchunk = pair
    length = fchunk.lengths
    return np.maximum(length, lchunk.lengths) if by_labels and lchunk is not None else length


def _take(pair: tuple, index) -> tuple:
    return tuple(None if c is None else c.take(index) for c in pair)


def _concat(pairs: list) -> tuple:
    if len(pairs) == 1:
        return pairs[0]
    return tuple(None if column[0] is None else Chunk.concat(list(column)) for column in zip(*pairs))


def _cut(n: int, size: int) -> list:
    """Index ranges `[lo, hi)` of consecutive batches over n sequences."""
    return [(lo, min(lo + size, n)) for lo in range(0, n, size)]


def in_order(pairs: Iterable[tuple], size: int, drop_last: bool) -> Iterator[tuple]:
    """Batches of `size` sequences in stream order."""
    cursor = ChunkCursor(pairs)
    while True:
        taken = cursor.take(size)
        if taken is None or (drop_last and len(taken[0]) < size):
            return
        yield taken


def _sorted_batches(pair: tuple, size: int, by_labels: bool) -> tuple:
    """`(pair sorted by length (stable), its batch ranges)`."""
    order = np.argsort(_lengths(pair, by_labels), kind="stable")
    return _take(pair, order), _cut(len(order), size)


def bucketed(pairs: Iterable[tuple], size: int, drop_last: bool, by_labels: bool) -> Iterator[tuple]:
    """Batches of `size` sequences, sorted by length within windows of `BUCKET_WINDOW` batches."""
    cursor = ChunkCursor(pairs)
    while True:
        taken = cursor.take(size * BUCKET_WINDOW)
        if taken is None:
            return
        window, ranges = _sorted_batches(taken, size, by_labels)
        if drop_last and ranges[-1][1] - ranges[-1][0] < size:
            ranges.pop()
        for lo, hi in ranges:
            yield tuple(None if c is None else c.slice(lo, hi) for c in window)


def _leave(pair: tuple, size: int, rng, bucket: bool, by_labels: bool, drop_last: bool) -> Iterator[tuple]:
    """The batches of `pair` (in random order already): sorted by length and shuffled when bucketing."""
    if bucket:
        pair, ranges = _sorted_batches(pair, size, by_labels)
    else:
        ranges = _cut(len(pair[0]), size)
    if drop_last and ranges and ranges[-1][1] - ranges[-1][0] < size:
        ranges.pop()
    if bucket:
        ranges = [ranges[i] for i in rng.permutation(len(ranges))]
    for lo, hi in ranges:
        yield tuple(None if c is None else c.slice(lo, hi) for c in pair)


def buffered(pairs: Iterable[tuple], size: int, drop_last: bool, *, capacity: int, rng,
             bucket: bool, by_labels: bool) -> Iterator[tuple]:
    """Batches from a shuffle buffer of `capacity` sequences (module docstring).

    Shape:
        memory: about `capacity` sequences (at least `size`), plus the chunk
        being read and the about `capacity / 2` leaving.
    """
    held, count = [], 0
    for pair in pairs:
        if not len(pair[0]):
            continue
        held.append(pair)
        count += len(pair[0])
        if count < max(capacity, size):
            continue
        pool = _concat(held)
        leaving = (count - capacity // 2) // size * size or count // size * size
        order = rng.permutation(count)
        out, rest = _take(pool, order[:leaving]), _take(pool, order[leaving:])
        held, count = ([rest] if count > leaving else []), count - leaving
        del pool
        yield from _leave(out, size, rng, bucket, by_labels, False)
    if held:
        pool = _concat(held)
        yield from _leave(_take(pool, rng.permutation(count)), size, rng, bucket, by_labels, drop_last)


def in_memory(pair: tuple, order: np.ndarray, size: int, drop_last: bool, *, bucket: bool,
              by_labels: bool, rng=None) -> Iterator[tuple]:
    """Batches of the sequences `order` of `pair` (every sequence held in memory).

    With `bucket`, windows of `BUCKET_WINDOW` batches of `order` are sorted by
    length; with `rng` as well, the order of the batches is shuffled.
    """
    if bucket and len(order):
        length = _lengths(pair, by_labels)
        window = size * BUCKET_WINDOW
        order = np.concatenate([part[np.argsort(length[part], kind="stable")]
                                for part in np.split(order, range(window, len(order), window))])
    batches = [order[i:i + size] for i in range(0, len(order), size)]
    if batches and drop_last and len(batches[-1]) < size:
        batches.pop()
    if bucket and rng is not None:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    for index in batches:
        yield _take(pair, index)
