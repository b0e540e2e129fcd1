"""The K worst-classified sequences seen so far, by key, in bounded memory.

A sequence's badness is its error rate (wrong / evaluated steps); ties
are broken by the lower mean score the model gave the true class, then by
arrival order. Ranking runs on the device; only the batch's K candidates
reach the host (K rows of nine numbers), and only when keys are given.
"""

from __future__ import annotations

import math

import torch

__all__ = ["WorstSequences"]


def _sort_key(record: dict) -> tuple:
    score = record["mean_true_score"]
    return (-record["error_rate"], score if not math.isnan(score) else math.inf, record["order"])


def _most_frequent(classes: torch.Tensor, real: torch.Tensor, c: int) -> torch.Tensor:
    """Per row, the class at most real steps (the lowest on ties).

    Shape: classes int64 ``[N, T]`` in ``[0, c)``; real float ``[N, T]`` 0/1; returns int64 ``[N]``.
    """
    counts = torch.zeros(classes.shape[0], c, dtype=real.dtype, device=real.device)
    return counts.scatter_add_(1, classes, real).argmax(dim=1)


class WorstSequences:
    """Bounded list of the worst sequences, mergeable.

    Each record is a dict with ``key`` (str), ``steps`` (evaluated steps), ``wrong``,
    ``error_rate``, ``mean_true_score`` (mean score of the true class over evaluated
    steps), ``first_error_step`` (index from the sequence's first step, or None),
    ``length`` (the sequence's length), ``true_class`` and ``predicted_class`` (class
    indices: the actual and the predicted class at most evaluated steps, the lowest
    index on ties; for one evaluated step, that step's classes). The sequence's steps
    and length are as in :mod:`seqkit.evaluation._by_time`: from the features mask or
    lengths given to ``eval``, else the evaluated steps.
    """

    def __init__(self, k: int = 20):
        self.k = int(k)
        self.records: list[dict] = []
        self._seen = 0

    def add_batch(self, keys, scores: torch.Tensor, actual: torch.Tensor, predicted: torch.Tensor,
                  correct: torch.Tensor, weights: torch.Tensor | None, span: torch.Tensor | None = None,
                  lengths: torch.Tensor | None = None) -> None:
        """Offer one batch of sequences, from class scores and per-step outcomes.

        Shape:
            scores: ``[N, C, T]``; actual, predicted: int64 ``[N, T]`` (valid class indices);
            correct: float ``[N, T]`` 1.0 where correct (0.0 at padding); weights: float
            ``[N, T]`` 1.0 at evaluated steps, or None; span: float ``[N, T]`` 0/1, each
            sequence's steps (None: the evaluated ones); lengths: ``[N]`` (None: evaluated steps).
        """
        true_score = scores.gather(1, actual.unsqueeze(1)).squeeze(1).double()     # [N, T]
        real = weights if weights is not None else torch.ones_like(correct)         # [N, T] 0/1
        wrong = real - correct                                                      # [N, T] 0/1
        first_real = (real if span is None else span).argmax(dim=1)                 # [N] the sequence's first step
        first_wrong = wrong.argmax(dim=1)                                           # [N]
        first_error = torch.where(wrong.amax(dim=1) > 0, first_wrong - first_real, -1)  # [N]
        score_sum = torch.where(real > 0, true_score, 0.0).sum(dim=1)               # [N]
        steps = real.sum(dim=1).long()                                              # [N]
        c = scores.shape[1]
        classes = torch.stack([_most_frequent(actual, real, c), _most_frequent(predicted, real, c)])  # [2, N]
        self.add(keys, steps, wrong.sum(dim=1).long(), score_sum, first_error,
                 steps if lengths is None else lengths.long(), classes)

    def add(self, keys, steps: torch.Tensor, wrong: torch.Tensor, true_score_sum: torch.Tensor,
            first_error: torch.Tensor, lengths: torch.Tensor, classes: torch.Tensor) -> None:
        """Offer one batch's sequences.

        Shape:
            keys: N keys; steps, wrong, first_error: int64 ``[N]`` (first_error is -1 when none);
            true_score_sum: float ``[N]`` sum of the true-class score over evaluated steps;
            lengths: int64 ``[N]`` the sequences' lengths; classes: int64 ``[2, N]``, the true
            and the predicted class of each sequence.
        """
        if self.k <= 0:
            return
        stepsf = steps.double()                                                    # [N]
        rate = torch.where(steps > 0, wrong.double() / stepsf.clamp(min=1), -1.0)  # [N]; -1: no real step
        mean_true = true_score_sum.double() / stepsf.clamp(min=1)                  # [N]
        mean_true = torch.nan_to_num(mean_true, nan=float("inf"))
        order = torch.argsort(mean_true, stable=True)                              # secondary key first
        order = order[torch.argsort(-rate[order], stable=True)][:self.k]           # [K] worst first
        picked = torch.stack([order.double(), steps[order].double(), wrong[order].double(), rate[order],
                              mean_true[order], first_error[order].double(), lengths[order].double(),
                              classes[0, order].double(), classes[1, order].double()],
                             dim=1).cpu().tolist()                                                  # [K, 9]
        base = self._seen
        self._seen += len(keys)
        for index, n_steps, n_wrong, err, score, first, length, true_class, predicted_class in picked:
            if n_steps <= 0:
                continue
            i = int(index)
            self.records.append({
                "key": str(keys[i]), "steps": int(n_steps), "wrong": int(n_wrong), "error_rate": float(err),
                "mean_true_score": float(score) if math.isfinite(score) else float("nan"),
                "first_error_step": int(first) if first >= 0 else None, "length": int(length),
                "true_class": int(true_class), "predicted_class": int(predicted_class), "order": base + i})
        self._trim()

    def merge(self, other: "WorstSequences") -> None:
        """Keep the K worst of both; ``other``'s records come after this one's on ties."""
        offset = self._seen
        for rec in other.records:
            self.records.append({**rec, "order": rec["order"] + offset})
        self._seen += other._seen
        self._trim()

    def _trim(self) -> None:
        self.records.sort(key=_sort_key)
        del self.records[self.k:]

    def as_list(self) -> list[dict]:
        """The records, worst first, without the internal ordering field."""
        return [{k: v for k, v in rec.items() if k != "order"} for rec in self.records]
