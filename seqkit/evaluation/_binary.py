"""EvaluationBinary: independent binary decisions per output column (multi-label), with per-output masks."""

from __future__ import annotations

import numpy as np
import torch

from . import _class_metrics as cm_metrics
from ._inputs import check_no_nan, prepare
from ._reportable import Reportable

__all__ = ["EvaluationBinary"]

_WHERE = "EvaluationBinary.eval"


class EvaluationBinary(Reportable):
    """Per-output confusion counts for K independent yes/no outputs (e.g. sigmoid multi-label heads).

    Output k is predicted positive where ``prediction > threshold[k]`` and is
    actually positive where ``label >= 0.5`` (labels are 0/1). Counts are int64
    on the data's device.

    Args:
        decision_threshold: one threshold for every output, or a sequence of K.
        labels: optional output names (fixes K).

    Shape:
        eval: labels and predictions ``[N, K]`` or ``[N, K, T]``; mask ``[N, T]`` or per
        output ``[N, K, T]`` (``[N]`` / ``[N, K]`` for 2-D input); nonzero = real.
    """

    def __init__(self, decision_threshold=0.5, labels=None):
        super().__init__()
        thresholds = np.atleast_1d(np.asarray(decision_threshold, dtype=np.float64))
        if thresholds.ndim != 1 or thresholds.size == 0 or np.isnan(thresholds).any():
            raise ValueError(f"EvaluationBinary: decision_threshold must be a number or a 1-D sequence, got "
                             f"{decision_threshold!r}")
        self._names = None if labels is None else [str(x) for x in labels]
        if self._names is not None and thresholds.size not in (1, len(self._names)):
            raise ValueError(f"EvaluationBinary: {thresholds.size} thresholds for {len(self._names)} outputs")
        self._thresholds = thresholds
        self._counts: torch.Tensor | None = None          # int64 [4, K]: tp, fp, tn, fn

    def eval(self, labels, predictions, mask=None) -> "EvaluationBinary":
        """Add one batch. Returns ``self``.

        Raises:
            ValueError: bad shapes, an output count that differs from earlier calls, the
                thresholds or the names, NaN predictions at real steps.
        """
        device = None if self._counts is None else self._counts.device
        p = prepare(labels, predictions, mask, _WHERE, per_output_mask=True, device=device)
        preds = p.predictions                                                      # [N, K, T]
        k = preds.shape[1]
        if self._thresholds.size not in (1, k):
            raise ValueError(f"{_WHERE}: {self._thresholds.size} thresholds for {k} outputs")
        expected = self.num_outputs
        if expected is not None and k != expected:
            raise ValueError(f"{_WHERE}: got {k} outputs but this evaluation has {expected}")
        real = p.real
        if real is not None and real.dim() == 2:
            real = real.unsqueeze(1)                                               # [N, 1, T]
        nan = torch.isnan(preds)
        if real is not None:
            nan = nan & real
        if bool(nan.any()):
            check_no_nan(nan.any(dim=1), None, p.time_series, "predictions", _WHERE)
        thr = torch.as_tensor(self._thresholds, dtype=preds.dtype, device=preds.device)
        predicted = preds > thr.reshape(-1, 1) if thr.numel() > 1 else preds > thr     # [N, K, T]
        actual = p.labels >= 0.5
        if real is None:
            real = torch.ones_like(predicted)
        cells = torch.stack([predicted & actual, predicted & ~actual, ~predicted & ~actual,
                             ~predicted & actual]) & real                          # [4, N, K, T]
        batch = cells.sum(dim=(1, 3))                                              # [4, K]
        self._counts = batch if self._counts is None else self._counts + batch
        return self

    eval_time_series = eval

    def merge(self, other: "EvaluationBinary") -> "EvaluationBinary":
        """Add ``other``'s counts (exact). Returns ``self``."""
        if not isinstance(other, EvaluationBinary):
            raise ValueError(f"EvaluationBinary.merge: expected an EvaluationBinary, got {type(other).__name__}")
        self.merge_provenance(other)
        if other._counts is None:
            return self
        if self._counts is not None and other._counts.shape != self._counts.shape:
            raise ValueError(f"EvaluationBinary.merge: output counts differ ({self.num_outputs} vs "
                             f"{other.num_outputs})")
        if self._names is None and other._names is not None:
            self._names = list(other._names)
        theirs = other._counts.to(self._counts.device) if self._counts is not None else other._counts.clone()
        self._counts = theirs if self._counts is None else self._counts + theirs
        return self

    # ------------------------------------------------------------------ figures

    @property
    def num_outputs(self) -> int | None:
        if self._counts is not None:
            return self._counts.shape[1]
        if self._names is not None:
            return len(self._names)
        return None if self._thresholds.size == 1 else self._thresholds.size

    @property
    def output_names(self) -> list[str]:
        return list(self._names) if self._names is not None else [str(i) for i in range(self.num_outputs or 0)]

    def thresholds(self) -> np.ndarray:
        """Decision threshold per output, float64 ``[K]``."""
        return np.broadcast_to(self._thresholds, (self.num_outputs or self._thresholds.size,)).copy()

    def counts(self) -> dict[str, np.ndarray]:
        """int64 ``[K]`` arrays ``tp``, ``fp``, ``tn``, ``fn``."""
        host = np.zeros((4, self.num_outputs or 0), np.int64) if self._counts is None else self._counts.cpu().numpy()
        return dict(zip(("tp", "fp", "tn", "fn"), host))

    def per_output(self) -> dict[str, np.ndarray]:
        """float64 ``[K]`` arrays: accuracy, precision, recall, f1, matthews_correlation (NaN when 0/0)."""
        c = self.counts()
        tp, fp, tn, fn = c["tp"], c["fp"], c["tn"], c["fn"]
        precision, recall = cm_metrics.ratio(tp, tp + fp), cm_metrics.ratio(tp, tp + fn)
        return {"accuracy": cm_metrics.ratio(tp + tn, tp + fp + tn + fn), "precision": precision, "recall": recall,
                "f1": cm_metrics.f_beta_per_class(precision, recall, 1.0),
                "matthews_correlation": cm_metrics.mcc_per_class(tp, fp, fn, tn)}

    def _output(self, output) -> int:
        names = self.output_names
        if isinstance(output, str):
            if output not in names:
                raise ValueError(f"EvaluationBinary: unknown output {output!r}; outputs are {names}")
            return names.index(output)
        if isinstance(output, (bool, float)) or int(output) != output or not 0 <= int(output) < len(names):
            raise ValueError(f"EvaluationBinary: output must be an index in [0, {len(names)}) or a name, "
                             f"got {output!r}")
        return int(output)

    def accuracy(self, output) -> float:
        return float(self.per_output()["accuracy"][self._output(output)])

    def precision(self, output) -> float:
        return float(self.per_output()["precision"][self._output(output)])

    def recall(self, output) -> float:
        return float(self.per_output()["recall"][self._output(output)])

    def f1(self, output) -> float:
        return float(self.per_output()["f1"][self._output(output)])

    def matthews_correlation(self, output) -> float:
        return float(self.per_output()["matthews_correlation"][self._output(output)])

    def _average(self, key: str) -> float:
        return cm_metrics.macro_average(self.per_output()[key])[0]

    def average_accuracy(self) -> float:
        """Mean over outputs with a defined value (this and the other ``average_*`` are macro averages)."""
        return self._average("accuracy")

    def average_precision(self) -> float:
        """Macro-averaged precision over outputs (not the ranking "average precision"; see ``ROC.auprc``)."""
        return self._average("precision")

    def average_recall(self) -> float:
        return self._average("recall")

    def average_f1(self) -> float:
        return self._average("f1")

    # ------------------------------------------------------------------ output

    def stats(self) -> str:
        """One row per output: accuracy, F1, precision, recall and the four counts."""
        from ._stats_format import binary_stats
        return binary_stats(self)

    def to_dict(self) -> dict:
        return {"type": "EvaluationBinary", "num_outputs": self.num_outputs, "output_names": self.output_names,
                "thresholds": self.thresholds().tolist(),
                "counts": {k: v.tolist() for k, v in self.counts().items()},
                "per_output": {k: v.tolist() for k, v in self.per_output().items()},
                "average": {k: self._average(k) for k in ("accuracy", "precision", "recall", "f1")},
                "provenance": self.stamped_provenance()}

    def _report_document(self, provenance):
        from ._report_other import binary_document
        return binary_document(self, provenance)

    def __repr__(self) -> str:
        return f"EvaluationBinary(outputs={self.num_outputs})"
