"""Exact ROC and precision-recall curves from every (score, label) pair.

Scores are sorted once, descending; one curve point per distinct score
(tied scores enter together). Areas:

* ``auc``: trapezoidal area under the ROC curve (ties give a diagonal
  segment) - the probability that a random positive outscores a random
  negative, ties counting half. Equals scikit-learn's ``roc_auc_score``.
* ``average_precision`` (the default AUPRC): ``sum_k (R_k - R_{k-1}) P_k``
  over the distinct thresholds, i.e. the step-wise area without
  interpolation. Equals scikit-learn's ``average_precision_score``.
* ``trapezoid`` AUPRC: linear interpolation between the PR points starting
  at (recall 0, precision 1); equals ``sklearn.metrics.auc(recall,
  precision)`` on ``precision_recall_curve``. It is optimistic, hence not
  the default.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Curve", "binary_curve", "downsample"]

_trapezoid = getattr(np, "trapezoid", None) or np.trapz


class Curve:
    """Cumulative counts at each distinct threshold, from the highest score down.

    Shape:
        thresholds, tp, fp: ``[K]`` for K distinct scores (float64, int64, int64).
    """

    def __init__(self, scores: np.ndarray, positive: np.ndarray):
        order = np.argsort(-scores, kind="stable")
        s = scores[order]
        y = positive[order].astype(np.int64)
        last = np.r_[np.flatnonzero(np.diff(s)), s.size - 1] if s.size else np.zeros(0, np.int64)
        self.thresholds = s[last].astype(np.float64)
        self.tp = np.cumsum(y)[last] if s.size else np.zeros(0, np.int64)
        self.fp = (last + 1) - self.tp
        self.positives = int(self.tp[-1]) if s.size else 0
        self.negatives = int(self.fp[-1]) if s.size else 0

    def roc(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(fpr, tpr, thresholds), starting at (0, 0) with threshold +inf; NaN rates when a class is absent."""
        tp = np.r_[0, self.tp].astype(np.float64)
        fp = np.r_[0, self.fp].astype(np.float64)
        tpr = tp / self.positives if self.positives else np.full_like(tp, np.nan)
        fpr = fp / self.negatives if self.negatives else np.full_like(fp, np.nan)
        return fpr, tpr, np.r_[np.inf, self.thresholds]

    def pr(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(precision, recall, thresholds) by decreasing threshold, starting at (1, 0) with threshold +inf."""
        predicted = (self.tp + self.fp).astype(np.float64)
        precision = np.r_[1.0, self.tp / np.maximum(predicted, 1)]
        recall = (np.r_[0, self.tp] / self.positives) if self.positives else np.full(self.tp.size + 1, np.nan)
        return precision, recall, np.r_[np.inf, self.thresholds]

    def auc(self) -> float:
        if not (self.positives and self.negatives):
            return float("nan")
        fpr, tpr, _ = self.roc()
        return float(_trapezoid(tpr, fpr))

    def auprc(self, method: str = "average_precision") -> float:
        if method not in ("average_precision", "trapezoid"):
            raise ValueError(f"auprc: method must be 'average_precision' or 'trapezoid', got {method!r}")
        if not self.positives:
            return float("nan")
        precision, recall, _ = self.pr()
        if method == "trapezoid":
            return float(_trapezoid(precision, recall))
        return float(np.sum(np.diff(recall) * precision[1:]))


def binary_curve(scores: np.ndarray, positive: np.ndarray) -> Curve:
    return Curve(np.asarray(scores), np.asarray(positive, dtype=bool))


def downsample(x: np.ndarray, y: np.ndarray, limit: int = 1500) -> tuple[list, list]:
    """At most ``limit`` evenly spaced points (ends kept), as lists, for plotting."""
    if x.size <= limit:
        return x.tolist(), y.tolist()
    keep = np.unique(np.linspace(0, x.size - 1, limit).round().astype(np.int64))
    return x[keep].tolist(), y[keep].tolist()
