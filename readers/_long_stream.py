"""A long table streamed in blocks of rows, in two passes.

Pass 1 (`rank_ids`) reads only the id column, block by block, and learns
each id's rank of first appearance and its last row. Pass 2 (`stream_groups`)
reads the same blocks with every column and emits each sequence as soon as
its last row has been read, in order of first appearance: a completed
sequence waits while an earlier one is still open (head of line).

Memory: pass 1 keeps each block's distinct ids (for data grouped by id,
about one per sequence: a few bytes each). Pass 2 keeps the rows of the
sequences read but not yet emitted: for data grouped by id, about one block
(the rows read since the last emission and the one sequence that runs past
the block's end); for interleaved ids, up to everything between an id's
first and last row. No Python runs per row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from ._chunk import Chunk
from ._long import check_ids, group_codes

__all__ = ["IdRanks", "rank_ids", "stream_groups"]


@dataclass
class IdRanks:
    """What pass 1 learns from the id column.

    Attributes:
        names: arrow array `[n]`: the distinct ids in order of first appearance.
        block_codes: per block, int64 `[k]`: the rank of each entry of the
            block's own `dictionary_encode()` dictionary.
        ready: int64 `[n]`: sequences 0..i are complete once table rows
            0..ready[i] have been read (the running maximum of each id's last row).
        rows: rows in the table.
    """

    names: pa.Array
    block_codes: list
    ready: np.ndarray
    rows: int


def _plain(ids) -> pa.Array:
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    return ids.dictionary_decode() if pa.types.is_dictionary(ids.type) else ids


def _last_rows(codes: np.ndarray, n: int) -> np.ndarray:
    """int64 `[n]`: the last position of each code 0..n-1 in `codes` `[R]`."""
    if np.all(codes[1:] >= codes[:-1]):                       # grouped: no scatter needed
        return np.cumsum(np.bincount(codes, minlength=n)) - 1
    last = np.full(n, -1, dtype=np.int64)
    np.maximum.at(last, codes, np.arange(len(codes)))
    return last


def rank_ids(blocks: Iterable, id_name) -> IdRanks:
    """Pass 1: rank the ids of a long table by first appearance, block by block.

    Args:
        blocks: `(ids, locate_row)` per block, in table order: `ids` the arrow
            id column of the block's rows, `locate_row(r) -> (path, row)` for
            its row r.
        id_name: the id column's name, for messages.

    Raises:
        SequenceDataError: a missing id (null or empty text), naming its row.
    """
    dictionaries, lasts, rows = [], [], 0
    for ids, locate_row in blocks:
        ids = _plain(ids)
        check_ids(ids, locate_row, id_name)
        encoded = ids.dictionary_encode()                     # local codes, first appearance
        codes = encoded.indices.to_numpy()                    # [r]
        dictionaries.append(encoded.dictionary)
        lasts.append(_last_rows(codes, len(encoded.dictionary)) + rows)
        rows += len(ids)
    if not dictionaries:
        return IdRanks(pa.array([]), [], np.zeros(0, dtype=np.int64), 0)
    # Each block's dictionary lists its ids in first-appearance order, and the
    # blocks are in table order, so encoding them back to back ranks the ids.
    encoded = pa.concat_arrays(dictionaries).dictionary_encode()
    ranks = encoded.indices.to_numpy().astype(np.int64)      # [sum k]
    n = len(encoded.dictionary)
    last = np.full(n, -1, dtype=np.int64)
    np.maximum.at(last, ranks, np.concatenate(lasts))
    block_codes = np.split(ranks, np.cumsum([len(d) for d in dictionaries])[:-1])
    return IdRanks(encoded.dictionary, block_codes, np.maximum.accumulate(last), rows)


class _Rows:
    """Rows of a long table held until their sequences are complete.

    Shape:
        codes int64 `[R]` (sequence rank), channels C x `[R]`, order `[R]` or
        None, at int64 `[R]` (table row, for messages).
    """

    __slots__ = ("at", "channels", "codes", "order")

    def __init__(self, codes, channels, order, at):
        self.codes, self.channels, self.order, self.at = codes, channels, order, at

    def pick(self, index) -> _Rows:
        """The rows `index` (a slice or a boolean mask)."""
        return _Rows(self.codes[index], [ch[index] for ch in self.channels],
                     None if self.order is None else self.order[index], self.at[index])

    def split(self, below: int) -> tuple:
        """`(rows of sequences < below, the others)`; views when the first part is a prefix."""
        mask = self.codes < below                             # [R]
        k = int(np.count_nonzero(mask))
        if k == len(mask):
            return self, None
        if k == 0:
            return None, self
        if mask[:k].all():                                     # grouped data: a prefix
            return self.pick(slice(0, k)), self.pick(slice(k, None))
        return self.pick(mask), self.pick(~mask)

    @staticmethod
    def concat(parts: list) -> _Rows:
        if len(parts) == 1:
            return parts[0]
        return _Rows(np.concatenate([p.codes for p in parts]),
                     [np.concatenate(chs) for chs in zip(*(p.channels for p in parts))],
                     None if parts[0].order is None else np.concatenate([p.order for p in parts]),
                     np.concatenate([p.at for p in parts]))


def stream_groups(blocks: Iterable, ranks: IdRanks, *, columns: tuple, locate_row: Callable,
                  order_name=None) -> Iterator[Chunk]:
    """Pass 2: group the rows of the same blocks into sequences as they complete.

    Args:
        blocks: `(channels, ids, order)` per block, the blocks of pass 1 in the
            same order: C arrays `[r]` of record values, the arrow ids `[r]`,
            and the order numbers `[r]` (or None).
        ranks: what pass 1 learnt.
        columns: the C column names.
        locate_row: `locate_row(g) -> (path, row)` for table row g.
        order_name: the order column's name, for messages.

    Yields:
        Chunks of consecutive sequences in order of first appearance, each
        sequence's rows in table order or sorted by `order` (stable): the
        same sequences as `group_long` over the whole table.

    Raises:
        SequenceDataError: as `group_codes`.
        RuntimeError: the blocks differ from pass 1's (the data changed).
    """
    held, done, rows = [], 0, 0
    for b, (channels, ids, order) in enumerate(blocks):
        encoded = _plain(ids).dictionary_encode()
        if b >= len(ranks.block_codes) or len(encoded.dictionary) != len(ranks.block_codes[b]):
            raise RuntimeError("the long table changed between its two reading passes")
        codes = ranks.block_codes[b][encoded.indices.to_numpy()]          # [r] ranks
        held.append(_Rows(codes, channels, order, np.arange(rows, rows + len(codes))))
        rows += len(codes)
        complete = int(np.searchsorted(ranks.ready, rows))   # sequences whose rows are all read
        if complete == done:
            continue
        out, keep = [], []
        for part in held:
            first, rest = part.split(complete)
            out += [first] if first is not None else []
            keep += [rest] if rest is not None else []
        held, ready = keep, _Rows.concat(out)
        at = ready.at
        yield group_codes(ready.channels, ready.codes - done, ranks.names[done:complete],
                          ready.order, columns=columns, order_name=order_name,
                          locate_row=lambda g, at=at: locate_row(int(at[g])))
        done = complete
    if rows != ranks.rows or done != len(ranks.names):
        raise RuntimeError("the long table changed between its two reading passes")
