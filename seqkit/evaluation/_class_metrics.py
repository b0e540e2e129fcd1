"""Classification metrics from a confusion matrix, with DL4J's undefined-value rules.

All functions take the confusion matrix ``cm`` (int64 ``[C, C]``, rows actual,
columns predicted) on the host and return float64. A per-class value that is
0/0 is NaN ("undefined"); macro averages leave NaN classes out and report
which classes they left out.
"""

from __future__ import annotations

import numpy as np

__all__ = ["AVERAGINGS", "f_beta_per_class", "macro_average", "mcc_multiclass", "mcc_per_class",
           "one_vs_all", "ratio"]

AVERAGINGS = ("macro", "micro")


def one_vs_all(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """True positives, false positives, false negatives and true negatives per class.

    Shape:
        cm: ``[C, C]``; returns four int64 ``[C]``.
    """
    tp = np.diag(cm).astype(np.int64)
    fp = cm.sum(axis=0) - tp
    fn = cm.sum(axis=1) - tp
    tn = cm.sum() - tp - fp - fn
    return tp, fp, fn, tn


def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` in float64, NaN where ``den == 0``."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den != 0, num / np.where(den != 0, den, 1.0), np.nan)


def f_beta_per_class(precision: np.ndarray, recall: np.ndarray, beta: float) -> np.ndarray:
    """``(1 + b^2) P R / (b^2 P + R)``; 0 when P or R is 0; NaN when P or R is undefined (DL4J)."""
    b2 = float(beta) ** 2
    p = np.asarray(precision, dtype=np.float64)
    r = np.asarray(recall, dtype=np.float64)
    den = b2 * p + r
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(den > 0, (1.0 + b2) * p * r / np.where(den > 0, den, 1.0), 0.0)
    return np.where(np.isnan(p) | np.isnan(r), np.nan, f)


def mcc_per_class(tp, fp, fn, tn) -> np.ndarray:
    """One-vs-all Matthews correlation ``(TP TN - FP FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN))``; NaN if 0/0."""
    tp, fp, fn, tn = (np.asarray(v, dtype=np.float64) for v in (tp, fp, fn, tn))
    den = np.sqrt((tp + fp) * (tp + fn)) * np.sqrt((tn + fp) * (tn + fn))
    return ratio(tp * tn - fp * fn, den)


def mcc_multiclass(cm: np.ndarray) -> float:
    """Multi-class Matthews correlation (Gorodkin's R_K; scikit-learn's ``matthews_corrcoef``).

    ``(c s - sum_k p_k t_k) / sqrt((s^2 - sum_k p_k^2)(s^2 - sum_k t_k^2))`` with ``c`` the
    correct count, ``s`` the total, ``t_k`` and ``p_k`` the actual and predicted counts of class k.
    Equals the binary MCC for two classes. NaN when the denominator is 0.
    """
    cm = np.asarray(cm, dtype=np.float64)
    t = cm.sum(axis=1)
    p = cm.sum(axis=0)
    c = np.trace(cm)
    s = cm.sum()
    den = np.sqrt(s * s - p @ p) * np.sqrt(s * s - t @ t)
    return float(ratio(c * s - p @ t, den))


def macro_average(per_class: np.ndarray) -> tuple[float, list[int]]:
    """Mean over defined classes, and the classes left out because they are NaN (0/0)."""
    per_class = np.asarray(per_class, dtype=np.float64)
    defined = ~np.isnan(per_class)
    excluded = np.flatnonzero(~defined).tolist()
    if not defined.any():
        return float("nan"), excluded
    return float(per_class[defined].mean()), excluded
