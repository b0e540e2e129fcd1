"""Per-step outcomes of a classification batch: score, predicted class, actual class.

Counting in ``Evaluation`` runs on whole numbers held in floats (exact below
2^24, float64 beyond): on CPU, float arithmetic and comparisons written into
float tensors are several times faster than bool and int64 tensor operations.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ._argmax import class_argmax
from ._inputs import Prepared

__all__ = ["Outcomes", "as_work", "step_outcomes", "work_dtype"]


def work_dtype(n: int, t: int, c: int) -> torch.dtype:
    """float32 when every count and code of an ``[N, C, T]`` batch stays below 2^24, else float64."""
    return torch.float32 if max(n, 2 * t + 1, c * c + 1) < 2 ** 24 else torch.float64


def as_work(flags: torch.Tensor, work: torch.dtype) -> torch.Tensor:
    """Bool-like flags as 0.0/1.0 in the ``work`` dtype (same shape)."""
    return torch.ne(flags, 0, out=torch.empty(flags.shape, dtype=work, device=flags.device))


@dataclass
class Outcomes:
    """Shape: values, predicted, actual ``[N, T]`` (predicted and actual are whole numbers in
    the work dtype); out_of_range bool ``[N, T]`` or None; scores ``[N, C', T]`` (C' = 2 for one column)."""

    values: torch.Tensor
    predicted: torch.Tensor
    actual: torch.Tensor
    out_of_range: torch.Tensor | None
    scores: torch.Tensor


def step_outcomes(p: Prepared, c: int, threshold: float | None, work: torch.dtype) -> Outcomes:
    """Predicted class (argmax, or ``p > threshold`` for 1 or 2 columns), actual class, and the step score.

    ``values`` is the score that decides the step (the maximum, or P(class 1)); NaN
    there means NaN somewhere in the step's scores. Class-index labels at padded
    steps may hold anything (e.g. -1): they are clamped, and ``out_of_range`` flags
    them for the caller to check at real steps only.
    """
    preds = p.predictions                                                            # [N, C, T]
    cols = preds.shape[1]
    if cols == 1:
        values = preds[:, 0, :]                                                       # [N, T] P(class 1)
        predicted = as_work(values > (0.5 if threshold is None else threshold), work)
        scores = torch.cat([1.0 - preds, preds], dim=1)                              # [N, 2, T]
    else:
        values, predicted = class_argmax(preds, work)                                # [N, T]; NaN propagates
        if threshold is not None:
            predicted = as_work(preds[:, 1, :] > threshold, work)
        scores = preds
    out_of_range = None
    if p.labels.dim() == 2:                                                          # class indices [N, T]
        out_of_range = (p.labels < 0) | (p.labels >= c)
        actual = p.labels.clamp(0, c - 1).to(work)
    elif cols == 1:
        actual = as_work(p.labels[:, 0, :] >= 0.5, work)
    else:
        actual = class_argmax(p.labels, work)[1]                                     # [N, T]
    return Outcomes(values, predicted, actual, out_of_range, scores)
