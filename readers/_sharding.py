"""Sharding: which part of the data one process reads (a rank, or a DataLoader worker of a rank).

Two ways, chosen by `SequenceBatches(shard_by=...)`:

- by sequence: every process reads everything and keeps sequences i with
  `i % parts == index` (exact: w ranks of batch b make the batches of one
  process of batch w*b);
- by unit: the data is cut into `Unit`s (whole files, Parquet row groups,
  blocks of a long CSV) and each process reads only its units.

Units go to processes heaviest first, each to the share that is lightest so
far (ties to the lower share; the greedy "longest processing time" rule), so
shares differ by at most one unit's weight. Each share keeps its units in the
order given (the epoch's shuffled order).
"""

from __future__ import annotations

import heapq
import os
from dataclasses import dataclass

import numpy as np

__all__ = ["Unit", "parse_shard", "split_units", "worker_split"]


@dataclass(frozen=True)
class Unit:
    """A piece of a reader's data that one process reads whole.

    `SequenceReader.units()` lists them; `SequenceReader.read_units()` reads
    the sequences they own.

    Attributes:
        source: the file.
        part: the row group (Parquet) or the block (long CSV) in the file;
            None for a whole file.
        weight: its rows (Parquet), or its bytes where rows are not known
            before parsing (CSV); shares are balanced by weight.
        nbytes: about the memory its values take once read (Parquet: the
            uncompressed row group; CSV: the text), for `SequenceBatches`'
            small-data rule.
        sequences: the sequences it owns, when known before reading it (one
            file per sequence: 1; a nested Parquet row group: its rows);
            None for a block of a long table.
        key: the key of its one sequence when known before reading (one
            file per sequence: the path), else None. Features and labels
            files then pair unit by unit.
    """

    source: str
    part: int | None = None
    weight: int = 1
    nbytes: int = 0
    sequences: int | None = None
    key: str | None = None


def _environment_int(name: str, default: int) -> int:
    text = os.environ.get(name)
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"shard='auto' reads the environment variable {name}, which must be an "
                         f"integer; got {name}={text!r}") from None


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def parse_shard(shard) -> tuple:
    """`(rank, world_size)` from None, "auto" (RANK and WORLD_SIZE) or a pair.

    Raises:
        ValueError: anything else, or not `0 <= rank < world_size`.
    """
    if shard is None:
        return 0, 1
    if isinstance(shard, str) and shard == "auto":
        shard = _environment_int("RANK", 0), _environment_int("WORLD_SIZE", 1)
    try:
        rank, world = shard
    except (TypeError, ValueError):
        raise ValueError(f"shard must be (rank, world_size) or 'auto', got {shard!r}") from None
    if not (_is_int(rank) and _is_int(world)) or world < 1 or not 0 <= rank < world:
        raise ValueError(f"shard needs integers 0 <= rank < world_size, got {shard!r}")
    return int(rank), int(world)


def worker_split(worker_id, num_workers) -> tuple:
    """`(worker_id, num_workers)` checked: integers, `0 <= worker_id < num_workers`."""
    if not (_is_int(worker_id) and _is_int(num_workers)) or num_workers < 1 \
            or not 0 <= worker_id < num_workers:
        raise ValueError(f"worker_share needs integers 0 <= worker_id < num_workers, "
                         f"got ({worker_id!r}, {num_workers!r})")
    return int(worker_id), int(num_workers)


def split_units(weights: np.ndarray, order: np.ndarray, parts: int) -> list:
    """Deal units to `parts` shares, balanced by weight.

    Args:
        weights: int `[U]`, the weight of every unit.
        order: int `[m]`, the units to deal (indexes into `weights`), in the
            order each share reads them.
        parts: the number of shares.

    Returns:
        `parts` int64 arrays: the units of each share, in `order`'s order.
        The heaviest unit goes first, each to the lightest share so far
        (ties: the lower share; equal weights: `order` decides), so the
        shares' weights differ by at most the heaviest unit's.
    """
    order = np.asarray(order, dtype=np.int64)
    if parts == 1:
        return [order]
    w = np.asarray(weights, dtype=np.int64)[order]                     # [m]
    by_weight = np.argsort(-w, kind="stable")                          # heaviest first, ties in order
    loads = [(0, p) for p in range(parts)]                             # (weight so far, share)
    owner = np.empty(len(order), dtype=np.int64)                       # [m]
    for i in by_weight.tolist():                                       # one step per unit, not per row
        load, p = heapq.heappop(loads)
        owner[i] = p
        heapq.heappush(loads, (load + int(w[i]), p))
    return [order[owner == p] for p in range(parts)]
