"""ROC (binary) and ROCMultiClass (one-vs-all): exact curves and areas from every real step's score.

Exact mode only: every real step's score is kept (on the data's device until
a figure is read), so areas need no threshold binning and merging is exact.
Memory: ``ROC`` keeps one score (the predictions' dtype, 4 bytes for float32)
and 1 byte per real step; ``ROCMultiClass`` keeps C scores and an 8-byte class
index per real step (10M steps x 10 classes in float32: about 480 MB).
Selecting the real steps reads one count back from the device per call.
See ``seqkit.evaluation._curves`` for the exact definitions of AUC and AUPRC.
"""

from __future__ import annotations

import numpy as np
import torch

from ._curves import Curve
from ._inputs import check_no_nan, prepare
from ._reportable import Reportable

__all__ = ["ROC", "ROCMultiClass"]


class _ScoreStore(Reportable):
    """Real-step scores and labels, kept as a list of per-call tensors."""

    _where = "ROC"

    def __init__(self):
        super().__init__()
        self._scores: list[torch.Tensor] = []
        self._labels: list[torch.Tensor] = []
        self._host: tuple[np.ndarray, np.ndarray] | None = None
        self._curves: dict = {}

    def _check(self, p, check_range: int) -> None:
        """One combined check (one host read) for NaN scores and out-of-range class indices at real steps."""
        nan = torch.isnan(p.predictions).any(dim=1)                                   # [N, T]
        bad = ((p.labels < 0) | (p.labels >= check_range)) if p.labels.dim() == 2 else torch.zeros_like(nan)
        if p.real is not None:
            nan, bad = nan & p.real, bad & p.real
        n_nan, n_bad = torch.stack([nan.sum(), bad.sum()]).tolist()
        if n_nan:
            check_no_nan(nan, None, p.time_series, "predictions", f"{self._where}.eval")
        if n_bad:
            first = bad.nonzero()[0].tolist()
            raise ValueError(f"{self._where}.eval: {n_bad} class-index labels at real steps are outside "
                             f"[0, {check_range}); the first is at example {first[0]}"
                             + (f", step {first[1]}" if p.time_series else ""))

    def _store(self, scores: torch.Tensor, labels: torch.Tensor, real: torch.Tensor | None) -> None:
        """Keep the real steps. Shape: scores ``[N, T]`` or ``[N, T, C]``; labels and real ``[N, T]``."""
        if real is None:
            scores, labels = scores.reshape(-1, *scores.shape[2:]), labels.reshape(-1)
        else:
            scores, labels = scores[real], labels[real]
        if labels.numel():
            self._scores.append(scores.detach().clone())
            self._labels.append(labels.detach().clone())
            self._host = None
            self._curves = {}

    def _arrays(self) -> tuple[np.ndarray, np.ndarray]:
        if self._host is None:
            if self._scores:
                self._host = (torch.cat([s.cpu() for s in self._scores]).numpy(),
                              torch.cat([y.cpu() for y in self._labels]).numpy())
            else:
                self._host = (np.zeros((0,), np.float32), np.zeros((0,), np.int64))
        return self._host

    def _merge_store(self, other: "_ScoreStore") -> None:
        self.merge_provenance(other)
        self._scores += other._scores
        self._labels += other._labels
        self._host = None
        self._curves = {}

    @property
    def num_steps(self) -> int:
        """Real steps evaluated."""
        return int(sum(y.numel() for y in self._labels))


class ROC(_ScoreStore):
    """Exact ROC and precision-recall analysis of a binary classifier over real steps.

    Shape:
        eval: predictions ``[N, 1(, T)]`` (P(class 1)) or ``[N, 2(, T)]`` (column 1 is used);
        labels the same shape (0/1, or one-hot), or int class indices ``[N(, T)]`` in {0, 1};
        mask ``[N, T]`` (``[N]`` for 2-D input), nonzero = real step.
    """

    _where = "ROC"

    def eval(self, labels, predictions, mask=None) -> "ROC":
        """Add one batch. Returns ``self``.

        Raises:
            ValueError: not 1 or 2 columns, bad shapes, NaN scores or labels outside {0, 1} at real steps.
        """
        p = prepare(labels, predictions, mask, "ROC.eval", index_labels=True)
        cols = p.predictions.shape[1]
        if cols not in (1, 2):
            raise ValueError(f"ROC.eval: predictions must have 1 column (P(class 1)) or 2 columns, got {cols}; "
                             "use ROCMultiClass for more classes")
        self._check(p, 2)
        score = p.predictions[:, cols - 1, :]                                          # [N, T]
        positive = (p.labels == 1) if p.labels.dim() == 2 else p.labels[:, cols - 1, :] >= 0.5
        self._store(score, positive, p.real)
        return self

    eval_time_series = eval

    def merge(self, other: "ROC") -> "ROC":
        """Add ``other``'s scores (exact). Returns ``self``."""
        if not isinstance(other, ROC):
            raise ValueError(f"ROC.merge: expected a ROC, got {type(other).__name__}")
        self._merge_store(other)
        return self

    def _curve(self) -> Curve:
        if "binary" not in self._curves:
            scores, positive = self._arrays()
            self._curves["binary"] = Curve(scores.astype(np.float64), positive.astype(bool))
        return self._curves["binary"]

    @property
    def num_positives(self) -> int:
        return self._curve().positives

    @property
    def num_negatives(self) -> int:
        return self._curve().negatives

    def auc(self) -> float:
        """Exact area under the ROC curve (scikit-learn's ``roc_auc_score``); NaN without both classes."""
        return self._curve().auc()

    def auprc(self, method: str = "average_precision") -> float:
        """Area under the precision-recall curve: ``"average_precision"`` (step-wise, default) or ``"trapezoid"``."""
        return self._curve().auprc(method)

    def roc_curve(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(fpr, tpr, thresholds) by decreasing threshold, from (0, 0) at threshold +inf."""
        return self._curve().roc()

    def pr_curve(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(precision, recall, thresholds) by decreasing threshold, from (1, 0) at threshold +inf."""
        return self._curve().pr()

    def to_dict(self) -> dict:
        return {"type": "ROC", "num_steps": self.num_steps, "positives": self.num_positives,
                "negatives": self.num_negatives, "auc": self.auc(), "auprc": self.auprc(),
                "auprc_trapezoid": self.auprc("trapezoid"), "provenance": self.stamped_provenance()}

    def _report_document(self, provenance):
        from ._report_other import roc_document
        return roc_document(self, provenance)

    def __repr__(self) -> str:
        return f"ROC(steps={self.num_steps}, auc={self.auc():.4f})"


class ROCMultiClass(_ScoreStore):
    """One-vs-all exact ROC and precision-recall analysis for C >= 2 classes.

    Args:
        labels: optional class names (fixes C).

    Shape:
        eval: predictions ``[N, C(, T)]``; labels one-hot of the same shape or int class
        indices ``[N(, T)]``; mask ``[N, T]`` (``[N]`` for 2-D input).
    """

    _where = "ROCMultiClass"

    def __init__(self, labels=None):
        super().__init__()
        self._names = None if labels is None else [str(x) for x in labels]
        self._num_classes = None if labels is None else len(self._names)

    def eval(self, labels, predictions, mask=None) -> "ROCMultiClass":
        """Add one batch. Returns ``self``.

        Raises:
            ValueError: fewer than 2 columns, a class count that changed, bad shapes, NaN
                scores or class indices out of range at real steps.
        """
        p = prepare(labels, predictions, mask, "ROCMultiClass.eval", index_labels=True)
        cols = p.predictions.shape[1]
        if cols < 2 or (self._num_classes is not None and cols != self._num_classes):
            want = ">= 2" if self._num_classes is None else str(self._num_classes)
            raise ValueError(f"ROCMultiClass.eval: predictions must have {want} class columns, got {cols}")
        self._check(p, cols)
        actual = p.labels if p.labels.dim() == 2 else p.labels.max(dim=1).indices        # [N, T]
        self._num_classes = cols
        self._store(p.predictions.permute(0, 2, 1), actual.long(), p.real)               # [N, T, C]
        return self

    eval_time_series = eval

    def merge(self, other: "ROCMultiClass") -> "ROCMultiClass":
        """Add ``other``'s scores (exact). Returns ``self``."""
        if not isinstance(other, ROCMultiClass):
            raise ValueError(f"ROCMultiClass.merge: expected a ROCMultiClass, got {type(other).__name__}")
        if other._num_classes is not None:
            if self._num_classes is not None and other._num_classes != self._num_classes:
                raise ValueError(f"ROCMultiClass.merge: class counts differ ({self._num_classes} vs "
                                 f"{other._num_classes})")
            self._num_classes = other._num_classes
        if self._names is None and other._names is not None:
            self._names = list(other._names)
        self._merge_store(other)
        return self

    @property
    def num_classes(self) -> int | None:
        return self._num_classes

    @property
    def class_names(self) -> list[str]:
        return list(self._names) if self._names is not None else [str(i) for i in range(self._num_classes or 0)]

    def _class(self, cls) -> int:
        names = self.class_names
        if isinstance(cls, str):
            if cls not in names:
                raise ValueError(f"ROCMultiClass: unknown class name {cls!r}; classes are {names}")
            return names.index(cls)
        if isinstance(cls, (bool, float)) or int(cls) != cls or not 0 <= int(cls) < len(names):
            raise ValueError(f"ROCMultiClass: class must be an index in [0, {len(names)}) or a name, got {cls!r}")
        return int(cls)

    def _curve(self, cls) -> Curve:
        c = self._class(cls)
        if c not in self._curves:
            scores, actual = self._arrays()
            column = scores[:, c] if scores.ndim == 2 else scores
            self._curves[c] = Curve(column.astype(np.float64), actual == c)
        return self._curves[c]

    def auc(self, cls) -> float:
        """Exact one-vs-all ROC AUC of class ``cls`` (index or name); NaN if it never or always occurs."""
        return self._curve(cls).auc()

    def auprc(self, cls, method: str = "average_precision") -> float:
        """One-vs-all area under the PR curve of ``cls`` (see :meth:`ROC.auprc`)."""
        return self._curve(cls).auprc(method)

    def roc_curve(self, cls):
        return self._curve(cls).roc()

    def pr_curve(self, cls):
        return self._curve(cls).pr()

    def _per_class(self, fn) -> np.ndarray:
        return np.array([fn(c) for c in range(self._num_classes or 0)], dtype=np.float64)

    def average_auc(self) -> float:
        """Mean one-vs-all AUC over classes where it is defined."""
        values = self._per_class(self.auc)
        return float(np.nanmean(values)) if np.any(~np.isnan(values)) else float("nan")

    def average_auprc(self, method: str = "average_precision") -> float:
        """Mean one-vs-all AUPRC over classes where it is defined."""
        values = self._per_class(lambda c: self.auprc(c, method))
        return float(np.nanmean(values)) if np.any(~np.isnan(values)) else float("nan")

    def to_dict(self) -> dict:
        counts = [self._curve(c).positives for c in range(self._num_classes or 0)]
        return {"type": "ROCMultiClass", "num_steps": self.num_steps, "num_classes": self._num_classes,
                "class_names": self.class_names, "positives": counts, "auc": self._per_class(self.auc).tolist(),
                "auprc": self._per_class(self.auprc).tolist(), "average_auc": self.average_auc(),
                "average_auprc": self.average_auprc(), "provenance": self.stamped_provenance()}

    def _report_document(self, provenance):
        from ._report_other import roc_multiclass_document
        return roc_multiclass_document(self, provenance)

    def __repr__(self) -> str:
        return f"ROCMultiClass(num_classes={self._num_classes}, steps={self.num_steps})"

