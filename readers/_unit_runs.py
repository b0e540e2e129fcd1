"""The sequences one unit of a long table owns: runs of one id, by the first-row rule.

A long table read unit by unit (Parquet row groups, blocks of a CSV file) is
cut into runs: consecutive rows with the same id. A run belongs to the unit
holding its first row. So a unit skips its leading rows when they continue
the run of the row just before it (the owner of that run reads them), and
reads on past its own end, into the following units, while its last run goes
on. Every run is read once, by one process, whichever processes read the
other units.

This needs each id's rows to be contiguous in table order (files in order,
then rows): a table grouped by id. An id that comes back after another id
within what one unit reads (its rows, the rows it reads on, and the id of
the row before it) is a `SequenceDataError`; one that comes back further
away, in a unit read by another process, is not seen. Rows of one run are sorted by the order column when
there is one. No Python runs per row: runs are found with one comparison of
neighbouring ids per block.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ._chunk import Chunk
from ._errors import SequenceDataError
from ._long import check_ids, group_codes, join_order

__all__ = ["unit_sequences"]

# A block: (channels C x [r], ids arrow [r], order [r] or None, locate(r) -> (path, row)).


def _plain(ids) -> pa.Array:
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    return ids.dictionary_decode() if pa.types.is_dictionary(ids.type) else ids


def _same_prefix(ids: pa.Array, value: pa.Scalar) -> int:
    """How many leading entries of `ids` equal `value`."""
    same = pc.equal(ids, value).to_numpy(zero_copy_only=False)      # [r]
    return len(same) if same.all() else int(np.argmin(same))


class _Piece:
    """Rows `lo:hi` of one block."""

    __slots__ = ("channels", "order", "locate", "lo", "n")

    def __init__(self, channels, order, locate, lo: int, hi: int):
        self.channels = [ch[lo:hi] for ch in channels]
        self.order = None if order is None else order[lo:hi]
        self.locate, self.lo, self.n = locate, lo, hi - lo


class _Runs:
    """Rows read so far, cut into runs; complete runs leave as chunks."""

    def __init__(self, columns: tuple, id_name, order_name):
        self.columns, self.id_name, self.order_name = columns, id_name, order_name
        self.current = None          # id of the open run (pa.Scalar), None before any row
        self.pending = []            # its pieces
        self.closed = []             # ids of finished runs (arrow arrays), to catch an id coming back

    def _check_new(self, new: pa.Array, starts: np.ndarray, first: int, locate) -> None:
        """Raise when a run id of `new` (runs `first`.. of the block) repeats or comes back."""
        if not len(new):
            return
        seen = list(self.closed)
        if self.current is not None:
            seen.append(self._one(self.current, new.type))
        again = np.zeros(len(new), dtype=bool)
        if seen:
            values = pa.concat_arrays(seen) if len(seen) > 1 else seen[0]
            again |= pc.is_in(new, value_set=values).to_numpy(zero_copy_only=False)
        codes = new.dictionary_encode().indices.to_numpy()              # first appearance order
        again[1:] |= np.maximum.accumulate(codes)[:-1] >= codes[1:]
        if again.any():
            j = int(np.flatnonzero(again)[0])
            source, row = locate(int(starts[first + j]))
            raise SequenceDataError(
                f"id {new[j].as_py()!r} comes back after other ids: sharding by unit needs each "
                "id's rows together (a table grouped by id)", source=source, row=row,
                column=self.id_name, expected="each id's rows in one run", found="a second run",
                hint="group the rows by id (sort the table by id), or use shard_by='sequence'")

    @staticmethod
    def _one(value: pa.Scalar, id_type) -> pa.Array:
        return pa.array([value.as_py()], id_type)

    def add(self, channels, ids: pa.Array, order, locate) -> Chunk | None:
        """Take a block of the unit's own rows; the runs it completes, as a chunk (or None)."""
        r = len(ids)
        if r == 0:
            return None
        change = pc.not_equal(ids.slice(1), ids.slice(0, r - 1)).to_numpy(zero_copy_only=False)
        starts = np.concatenate([[0], np.flatnonzero(change) + 1]).astype(np.int64)   # [k] run starts
        k = len(starts)
        run_ids = ids.take(pa.array(starts))                                # [k]
        current = self.current
        continues = current is not None and run_ids[0].equals(current)
        first = 1 if continues else 0
        self._check_new(run_ids.slice(first), starts, first, locate)
        if continues and k == 1:                          # the open run goes on through the block
            self.pending.append(_Piece(channels, order, locate, 0, r))
            return None
        # Finished now: the open run (joined by block run 0 when it continues), block runs .. k-2.
        last = int(starts[-1])
        done = self.pending + [_Piece(channels, order, locate, 0, last)]
        names = ([self._one(current, ids.type)] if current is not None else []) + \
            [run_ids.slice(first, k - 1 - first)]
        block = np.repeat(np.arange(k - 1, dtype=np.int64), np.diff(starts))    # [last] block run
        if current is not None and not continues:
            block += 1                                    # code 0 is the open run
        codes = np.concatenate([np.zeros(sum(p.n for p in self.pending), dtype=np.int64), block])
        self.closed += names
        self.current, self.pending = run_ids[k - 1], [_Piece(channels, order, locate, last, r)]
        return self._chunk(done, codes, pa.concat_arrays(names))

    def extend(self, channels, order, locate, k: int) -> None:
        """Rows `0:k` of a block read on past the unit: they continue the open run."""
        if k:
            self.pending.append(_Piece(channels, order, locate, 0, k))

    def close(self, id_type) -> Chunk | None:
        """The open run, finished."""
        if self.current is None:
            return None
        done, self.pending = self.pending, []
        chunk = self._chunk(done, np.zeros(sum(p.n for p in done), dtype=np.int64),
                            self._one(self.current, id_type))
        self.current = None
        return chunk

    def _chunk(self, pieces: list, codes: np.ndarray, names: pa.Array) -> Chunk | None:
        pieces = [p for p in pieces if p.n]
        if not len(names) or not pieces:
            return None
        channels = [np.concatenate(parts) if len(parts) > 1 else parts[0]
                    for parts in zip(*(p.channels for p in pieces))]
        order = None
        if pieces[0].order is not None:
            try:
                order = join_order([(p.order, None) for p in pieces], self.order_name)
            except SequenceDataError:                      # again, naming the files (rows counted for that)
                join_order([(p.order, p.locate(p.lo)[0]) for p in pieces], self.order_name)
                raise
        starts = np.cumsum([0] + [p.n for p in pieces])                  # [pieces + 1]
        where = [(p.locate, p.lo) for p in pieces]                       # not the pieces: not their values

        def locate_row(g):
            j = int(np.searchsorted(starts, g, side="right")) - 1
            locate, lo = where[j]
            return locate(lo + g - int(starts[j]))

        return group_codes(channels, codes, names, order, columns=self.columns,
                           locate_row=locate_row, order_name=self.order_name)


def _shifted(locate, lo: int):
    def shifted(r):
        return locate(lo + r)
    return shifted


def unit_sequences(own: Iterable, after: Callable[[], Iterable], previous, *, columns: tuple,
                   id_name, order_name=None) -> Iterator[Chunk]:
    """The sequences one unit of a long table owns (module docstring), as chunks.

    Args:
        own: the unit's rows, in blocks `(channels, ids, order, locate)`:
            C arrays `[r]` of record values, the arrow ids `[r]`, the order
            values `[r]` (or None), and `locate(r) -> (path, row)`.
        after: called (at most once, only when the unit's last run may go
            on) for the blocks after the unit, in table order, read lazily.
        previous: the id (`pa.Scalar`) of the table row just before the
            unit, or None for the table's first unit.
        columns, id_name, order_name: the record's column names and the
            id and order column names, for chunks and messages.

    Yields:
        Chunks of sequences in order of first row, each sequence's rows in
        table order or sorted by the order column (stable).

    Raises:
        SequenceDataError: a missing id; an id coming back after another
            within what the unit reads; the errors of `group_codes`.
    """
    runs = _Runs(columns, id_name, order_name)
    skipping, id_type = previous is not None, None
    for channels, ids, order, locate in own:
        ids = _plain(ids)
        check_ids(ids, locate, id_name)
        id_type = ids.type
        lo = 0
        if skipping:
            lo = _same_prefix(ids, previous)
            if lo == len(ids):
                continue
            skipping = False
            runs.closed.append(pa.array([previous.as_py()], ids.type))    # it may not come back
        if lo:
            channels = [ch[lo:] for ch in channels]
            order = None if order is None else order[lo:]
            ids = ids.slice(lo)
            locate = _shifted(locate, lo)
        chunk = runs.add(channels, ids, order, locate)
        if chunk is not None:
            yield chunk
    if runs.current is not None:
        source = iter(after())
        try:
            for channels, ids, order, locate in source:
                ids = _plain(ids)
                check_ids(ids, locate, id_name)
                k = _same_prefix(ids, runs.current)
                runs.extend(channels, order, locate, k)
                if k < len(ids):
                    break
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()
        chunk = runs.close(id_type)
        if chunk is not None:
            yield chunk
