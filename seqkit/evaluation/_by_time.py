"""Accuracy by time-step index and by sequence length, kept as exact, mergeable counts.

Which steps make up a sequence. The evaluated steps (the evaluation mask: the
labels mask, in ``Sequential.evaluate``) are not always all of a sequence:
in a many-to-one ALIGN_END batch the labels mask holds a single 1, at the last
real step. So ``Evaluation.eval`` also takes the sequences' own extent:

* ``features_mask=`` ``[N, T]``: a step belongs to example i when its features
  mask or its evaluation mask marks it real (the union: DL4J's ALIGN_END may
  label steps before a shorter features sequence starts). The length is the
  number of such steps; step indices are counted from the first of them and
  back from the last, so a label at a sequence's last real feature step has
  index 0 from the end and index ``length - 1`` from the start, whatever the
  labels mask looks like. For ``[N, C]`` predictions (one per sequence, e.g.
  from ``LastTimeStep``) the features mask ``[N, T_f]`` gives the lengths only.
* ``lengths=`` ``[N]``: the lengths only; step indices stay on the evaluated
  steps (below).
* neither: the sequence is its evaluated steps (the behaviour before these
  arguments existed): the length is the number of evaluated steps, 1 per
  series in the many-to-one case, and with no mask at all every example has
  length T.

Step index: counted per example from its first step (``align="start"``, so
index 0 is each sequence's first real step; for ALIGN_START data this is
``t``) or back from its last step (``align="end"``, index 0 is the last real
step; the view for ALIGN_END data). Padding at either end therefore never
shifts an index. Gaps inside a sequence keep their positions. Only evaluated
steps are counted.

Length: counts are kept per exact length (correct evaluated steps, evaluated
steps, and sequences with at least one evaluated step), so any bucketing can
be applied when the figures are read and merging stays exact. The default
buckets follow the data: from the shortest length holding a sequence to the
longest, one bucket per length when there are at most 8 of them (lengths 3..10
give 3, 4, ..., 10), else at most 8 buckets of a round width (lengths 29..361
give 29-49, 50-99, ..., 350-361), or of round edges growing by a constant factor
when the longest is over 20 times the shortest (1..500 gives 1-2, 3-9, 10-29,
30-99, 100-299, 300-500).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ._inputs import bincount

__all__ = ["MAX_LENGTH_BUCKETS", "CountTable", "LengthBuckets", "StepAccuracy", "batch_counts", "bucket_lengths",
           "data_length_edges", "step_table"]

MAX_LENGTH_BUCKETS = 8


class CountTable:
    """Integer counts ``[R, L]`` that grow along L and add up exactly (the state of an accumulator)."""

    def __init__(self, rows: int):
        self.rows = rows
        self.counts: torch.Tensor | None = None                                 # int64 [R, L]

    def add(self, counts: torch.Tensor) -> None:
        """Add ``[R, L']`` counts, growing the table to ``max(L, L')``."""
        if self.counts is None:
            self.counts = counts.clone()
            return
        counts = counts.to(self.counts.device)
        size = max(self.counts.shape[1], counts.shape[1])
        if self.counts.shape[1] < size:
            grown = torch.zeros(self.rows, size, dtype=torch.long, device=self.counts.device)
            grown[:, :self.counts.shape[1]] = self.counts
            self.counts = grown
        self.counts[:, :counts.shape[1]] += counts

    def merge(self, other: "CountTable") -> None:
        if other.counts is not None:
            self.add(other.counts)

    def to(self, device: torch.device) -> None:
        if self.counts is not None:
            self.counts = self.counts.to(device)

    def numpy(self) -> np.ndarray:
        """The counts on the host, trimmed after the last column holding anything. Shape ``[R, L]``."""
        if self.counts is None:
            return np.zeros((self.rows, 0), dtype=np.int64)
        host = self.counts.cpu().numpy()
        used = np.flatnonzero(host.any(axis=0))
        return host[:, :used[-1] + 1] if used.size else host[:, :0]


@dataclass(frozen=True)
class StepAccuracy:
    """Accuracy per step index (see the module docstring for how indices are counted).

    Attributes:
        step: int64 ``[L]`` step indices 0..L-1.
        correct: int64 ``[L]`` correctly classified real steps at each index.
        total: int64 ``[L]`` real steps at each index.
        accuracy: float64 ``[L]``, NaN where ``total`` is 0.
        align: ``"start"`` or ``"end"``.
    """

    step: np.ndarray
    correct: np.ndarray
    total: np.ndarray
    accuracy: np.ndarray
    align: str


@dataclass(frozen=True)
class LengthBuckets:
    """Accuracy per bucket of sequence length ``[low, high]`` (both inclusive).

    Lengths are the sequences' own (see the module docstring): the real steps of
    their features when ``eval`` was given ``features_mask`` or ``lengths``,
    else their evaluated steps.

    Attributes:
        low, high: int64 ``[B]`` bucket bounds in steps.
        sequences: int64 ``[B]`` sequences in the bucket (those with at least one evaluated step).
        correct, total: int64 ``[B]`` correctly classified and total evaluated steps of those
            sequences (one per sequence in the many-to-one case).
        accuracy: float64 ``[B]`` step accuracy within the bucket (NaN when empty).
    """

    low: np.ndarray
    high: np.ndarray
    sequences: np.ndarray
    correct: np.ndarray
    total: np.ndarray
    accuracy: np.ndarray

    def labels(self) -> list[str]:
        """Readable bucket names, e.g. ``"4-7"`` or ``"1"``."""
        return [f"{lo}" if lo == hi else f"{lo}-{hi}" for lo, hi in zip(self.low.tolist(), self.high.tolist())]


def batch_counts(correct: torch.Tensor, weights: torch.Tensor | None, evaluated: torch.Tensor | None,
                 lengths: torch.Tensor | None, span: torch.Tensor | None = None, size: int | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One batch's contribution to the three views: by step from the start, from the end, by length.

    Works on 0.0/1.0 floats (exact whole-number sums; see ``Evaluation.eval``).

    Shape:
        correct: float ``[N, T]`` 1.0 where correct (0.0 at padding); weights: float ``[N, T]``
        1.0 at evaluated steps, or None (every step); evaluated: ``weights.sum(1)`` ``[N]``
        (None with weights); lengths: ``[N]`` whole numbers, each sequence's length (None: T
        each); span: float ``[N, T]`` 0/1, the steps of each sequence, which anchor the step
        indices (None: the evaluated steps; requires weights); size: the largest possible length
        (None: T). Returns int64 ``[2, T]`` (correct, total per index from the start), ``[2, T]``
        (the same from the end) and ``[3, size + 1]`` (correct steps, evaluated steps, sequences
        per length).
    """
    n, t = correct.shape
    device, dtype = correct.device, correct.dtype
    size = t if size is None else size
    correct_by_row = correct.sum(dim=1)                                                 # [N]
    if weights is None:
        evaluated = torch.full((n,), float(t), dtype=dtype, device=device)
        lengths = evaluated if lengths is None else lengths
        start = torch.stack([correct.sum(dim=0), torch.full((t,), float(n), dtype=dtype, device=device)])
        return start.long(), start.flip(1).long(), _length_table(correct_by_row, evaluated, lengths, size)
    lengths = evaluated if lengths is None else lengths
    anchor = weights if span is None else span                                          # [N, T] steps of each sequence
    first = anchor.argmax(dim=1)                                                        # [N] first step
    last = (t - 1) - anchor.flip(1).argmax(dim=1)                                       # [N] last step
    steps = torch.arange(t, dtype=dtype, device=device)                                 # [T]
    if device.type == "cpu" and not bool(first.any()):                                  # no leading padding
        start = torch.stack([correct.sum(dim=0), weights.sum(dim=0)]).long()
    else:
        start = _indexed(steps.unsqueeze(0) - first.to(dtype).unsqueeze(1), correct, weights)
    end = _indexed(last.to(dtype).unsqueeze(1) - steps.unsqueeze(0), correct, weights)
    return start, end, _length_table(correct_by_row, evaluated, lengths, size)


def _indexed(index: torch.Tensor, correct: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Correct and total real steps per step index, in one counting pass.

    Bin ``2 i`` counts wrong steps at index i and ``2 i + 1`` correct ones; padding goes to bin ``2 T``.

    Shape:
        index: float ``[N, T]`` whole numbers (overwritten); correct, weights: float ``[N, T]`` 0/1;
        returns int64 ``[2, T]``.
    """
    t = index.shape[1]
    index.mul_(2).add_(correct).sub_(2 * t).mul_(weights).add_(2 * t)                  # padding -> 2T
    codes = index.to(torch.int32 if index.dtype == torch.float32 else torch.int64)
    bins = bincount(codes, 2 * t + 1)[:2 * t].view(t, 2)                               # [T, 2] (wrong, correct)
    return torch.stack([bins[:, 1], bins.sum(1)])                                      # [2, T]


def _length_table(correct_by_row: torch.Tensor, evaluated: torch.Tensor, lengths: torch.Tensor,
                  size: int) -> torch.Tensor:
    """Per-length sums: correct and evaluated steps, and sequences with an evaluated step.

    Shape: float ``[N]`` each (whole numbers, ``lengths <= size``) -> int64 ``[3, size + 1]``.
    """
    steps = evaluated.long()
    per_example = torch.stack([correct_by_row.long(), steps, (steps > 0).long()])       # [3, N]
    out = torch.zeros(3, size + 1, dtype=torch.long, device=lengths.device)
    return out.index_add_(1, lengths.long(), per_example)


def data_length_edges(shortest: int, longest: int, max_buckets: int = MAX_LENGTH_BUCKETS) -> list[int]:
    """Bucket starts that follow the data's lengths ``shortest..longest`` (see the module docstring).

    At most ``max_buckets`` buckets (more only for decades past ``10**max_buckets``); the
    first starts at ``shortest`` and the last ends at ``longest``. One bucket per length
    when they fit; otherwise buckets of a round width (1, 2 or 5 times a power of ten)
    whose inner edges are multiples of it; when the longest is over 20 times the
    shortest, round edges growing by a constant factor (1, 2, 5, 10, ... or 1, 3, 10,
    30, ... or 1, 10, 100, ...) instead.
    """
    shortest, longest = max(int(shortest), 1), max(int(longest), 1)
    if longest - shortest < max_buckets:
        return list(range(shortest, longest + 1))
    if longest > 20 * shortest:
        for mantissas in ((1, 2, 5), (1, 3), (1,)):
            inner = [m * 10 ** e for e in range(len(str(longest)) + 1) for m in mantissas]
            edges = [shortest] + [x for x in inner if shortest < x <= longest]
            if len(edges) <= max_buckets:
                return edges
        return edges                                                             # decades: the coarsest there is
    width = 1
    while longest // width - shortest // width + 1 > max_buckets:
        width = width * 5 // 2 if str(width).startswith("2") else width * 2      # 1, 2, 5, 10, 20, 50, ...
    return [shortest] + list(range((shortest // width + 1) * width, longest + 1, width))


def bucket_lengths(table: np.ndarray, edges=None) -> LengthBuckets:
    """Group per-length counts ``[3, L]`` into buckets starting at ``edges`` (ascending, from >= 1).

    ``edges=None``: :func:`data_length_edges` of the shortest and longest length holding a sequence.
    """
    max_length = max(table.shape[1] - 1, 1)
    if edges is None:
        present = np.flatnonzero(table[2]) if table.shape[1] else np.zeros(0, np.int64)
        edges = data_length_edges(int(present[0]), int(present[-1])) if present.size else [1]
    edges = [int(e) for e in edges]
    if not edges or edges[0] < 1 or any(b <= a for a, b in zip(edges, edges[1:])):
        raise ValueError(f"length bucket edges must be strictly increasing integers >= 1, got {edges}")
    lows = np.asarray(edges, dtype=np.int64)
    highs = np.append(lows[1:] - 1, max(max_length, lows[-1]))
    cum = np.concatenate([np.zeros((3, 1), np.int64), np.cumsum(table, axis=1)], axis=1)  # [3, L + 1]
    hi = np.minimum(highs + 1, table.shape[1])
    lo = np.minimum(lows, table.shape[1])
    sums = cum[:, hi] - cum[:, lo]                                                         # [3, B]
    with np.errstate(divide="ignore", invalid="ignore"):
        acc = np.where(sums[1] > 0, sums[0] / np.maximum(sums[1], 1), np.nan)
    return LengthBuckets(low=lows, high=highs, sequences=sums[2], correct=sums[0], total=sums[1], accuracy=acc)


def step_table(table: np.ndarray, align: str) -> StepAccuracy:
    """A :class:`StepAccuracy` from counts ``[2, L]``."""
    correct, total = table[0], table[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        acc = np.where(total > 0, correct / np.maximum(total, 1), np.nan)
    return StepAccuracy(step=np.arange(table.shape[1], dtype=np.int64), correct=correct, total=total,
                        accuracy=acc, align=align)
