"""Evaluation: masked classification metrics over steps or examples, accumulated on the device."""

from __future__ import annotations

import math

import numpy as np
import torch

from . import _class_metrics as cm_metrics
from ._by_time import CountTable, LengthBuckets, StepAccuracy, batch_counts, bucket_lengths, step_table
from ._inputs import Extent, as_tensor, bincount, check_no_nan, prepare, sequence_extent
from ._outcomes import as_work, step_outcomes, work_dtype
from ._reportable import Reportable
from ._worst import WorstSequences

__all__ = ["Evaluation"]

_WHERE = "Evaluation.eval"


class Evaluation(Reportable):
    """Classification metrics for one-hot (or class-index) labels and class scores, with masks.

    Every real step of every sequence is one classified item: predicted class
    ``argmax`` of the scores (single-column output: ``p > decision_threshold``,
    0.5 by default), actual class ``argmax`` of the one-hot labels. Counts live
    on the predictions' device (CUDA included) and are read back only when a
    metric is asked for; each ``eval`` reads back one small vector (the NaN,
    bad-label and real-step counts), plus K rows when ``keys`` are given.

    Beyond the DL4J figures it keeps accuracy by step index and by sequence
    length (:meth:`accuracy_by_step`, :meth:`accuracy_by_length`) and the worst
    sequences by key. Those views treat each ``eval`` call's rows as whole
    sequences, so feed whole sequences (not TBPTT segments) when you read them;
    every other figure is the same however the data are split.

    Many-to-one data: when every sequence (row) evaluated so far had exactly one
    evaluated step (``[N, C]`` predictions, or a labels mask with one 1 per
    row), each classified item is a sequence: :attr:`many_to_one` is True and
    the report counts sequences, not steps. The rule reads the counts, so it
    holds after ``merge`` and ``all_reduce_evaluation`` too. A sequence's
    length and the step it starts and ends at come from ``eval``'s
    ``features_mask`` (or ``lengths``), which ``Sequential.evaluate`` passes;
    without them, from the evaluated steps, which is wrong for many-to-one data
    (a labels mask with one 1 per sequence makes every length 1); see
    :mod:`seqkit.evaluation._by_time`.

    Args:
        num_classes: C; inferred from the first ``eval`` when None (a single
            output column means 2 classes).
        labels: class names, one per class (sets ``num_classes``).
        binary_positive_class: with 2 classes, precision, recall, F-scores
            report this class (DL4J's default, 1); None for macro averages.
        top_n: ``top_n_accuracy`` counts a step as correct when fewer than
            ``top_n`` classes score strictly above the true class.
        decision_threshold: for 1 output column (P(class 1)) or 2 columns
            (threshold on column 1); None means 0.5 for one column, argmax for two.
        worst_k: how many worst-classified sequences to keep when ``eval`` gets keys.

    Shape:
        eval: labels ``[N, C]`` / ``[N, C, T]`` one-hot, or int class indices ``[N]`` / ``[N, T]``;
        predictions ``[N, C]`` / ``[N, C, T]``; mask ``[N, T]`` (``[N]`` for 2-D input);
        features_mask ``[N, T]`` (``[N, T_f]`` for 2-D input); lengths ``[N]``.

    Rules (DL4J's, except where noted):
        * masked steps (mask value 0) are skipped; any nonzero mask value is a real step;
        * an all-masked call changes nothing; NaN predictions at real steps raise ``ValueError``;
        * a per-class value that is 0/0 is NaN and is left out of macro averages
          (:meth:`excluded_classes` says which);
        * with 2 classes and ``binary_positive_class`` set, ``precision()``,
          ``recall()``, ``f1()`` and ``f_beta()`` report that class; otherwise macro
          averages; ``averaging="micro"`` pools the counts (equal to accuracy);
        * ``matthews_correlation()`` defaults to the multi-class coefficient
          (scikit-learn's ``matthews_corrcoef``; the binary MCC for 2 classes);
          ``"macro"`` and ``"micro"`` average or pool the one-vs-all coefficients.
    """

    def __init__(self, num_classes: int | None = None, labels=None, *, binary_positive_class: int | None = 1,
                 top_n: int = 1, decision_threshold: float | None = None, worst_k: int = 20):
        if labels is not None:
            labels = [str(name) for name in labels]
            if num_classes is not None and num_classes != len(labels):
                raise ValueError(f"Evaluation: num_classes={num_classes} but {len(labels)} class names were given")
            num_classes = len(labels)
        if num_classes is not None and (int(num_classes) != num_classes or num_classes < 2):
            raise ValueError(f"Evaluation: num_classes must be an integer >= 2, got {num_classes!r}")
        if binary_positive_class not in (None, 0, 1):
            raise ValueError(f"Evaluation: binary_positive_class must be 0, 1 or None, got {binary_positive_class!r}")
        if int(top_n) != top_n or top_n < 1:
            raise ValueError(f"Evaluation: top_n must be an integer >= 1, got {top_n!r}")
        if decision_threshold is not None and not 0.0 <= float(decision_threshold) <= 1.0:
            raise ValueError(f"Evaluation: decision_threshold must be in [0, 1], got {decision_threshold!r}")
        if int(worst_k) != worst_k or worst_k < 0:
            raise ValueError(f"Evaluation: worst_k must be an integer >= 0, got {worst_k!r}")
        super().__init__()
        self._num_classes = None if num_classes is None else int(num_classes)
        self._names = labels
        self.binary_positive_class = binary_positive_class
        self.top_n = int(top_n)
        self.decision_threshold = None if decision_threshold is None else float(decision_threshold)
        self._device: torch.device | None = None
        self._cm: torch.Tensor | None = None            # int64 [C*C + 1]; the last bin collects padding
        self._top_n_hits: torch.Tensor | None = None    # int64 []
        self._by_start = CountTable(2)                  # [2, L]: correct, total per step from the start
        self._by_end = CountTable(2)                    # [2, L]: same, counted back from the last real step
        self._by_length = CountTable(3)                 # [3, L + 1]: correct, total steps, sequences per length
        self._worst = WorstSequences(worst_k)
        self._host_cm: np.ndarray | None = None

    # ------------------------------------------------------------------ accumulation

    def eval(self, labels, predictions, mask=None, keys=None, *, features_mask=None,
             lengths=None) -> "Evaluation":
        """Add one batch. Returns ``self``.

        Args:
            labels: one-hot ``[N, C(, T)]`` (single column: 0/1) or int class indices ``[N(, T)]``.
            predictions: class scores ``[N, C(, T)]``, numpy or torch, any device.
            mask: the evaluation mask ``[N, T]`` (``[N]`` for 2-D input); nonzero = a step that
                is evaluated (DL4J: the labels mask). None: every step, or, for ``[N, C, T]``
                predictions with ``features_mask``, the steps that mask marks real.
            keys: optional N sequence keys; the worst-classified sequences are kept by key.
            features_mask: optional features mask ``[N, T]`` (nonzero = real): where each
                sequence lies, for :meth:`accuracy_by_length` and :meth:`accuracy_by_step`.
                A sequence's steps are those its features mask or ``mask`` marks real; its
                length is their count, and step indices count from the first of them and
                back from the last (so with a many-to-one ALIGN_END labels mask, the label
                at the last real feature step is index 0 from the end and ``length - 1``
                from the start). For ``[N, C]`` predictions (one per sequence, e.g. from a
                ``LastTimeStep`` network) it may have any T and gives the lengths only.
                Every other figure ignores it.
            lengths: optional ``[N]`` sequence lengths (whole numbers, at least the evaluated
                steps of their row), for :meth:`accuracy_by_length` only; the step views stay
                on ``mask``. Give ``features_mask`` or ``lengths``, not both. Without either,
                the length is the number of evaluated steps (all T without a mask).

        Shape:
            see the class docstring.

        Raises:
            ValueError: bad shapes, a class count that differs from earlier calls, a
                class index out of range at a real step, NaN predictions at a real step,
                a ``decision_threshold`` with more than 2 columns, ``len(keys) != N``,
                both ``features_mask`` and ``lengths``, lengths that are not whole numbers
                at least as large as their row's evaluated steps.
        """
        if mask is None and features_mask is not None:
            predictions = as_tensor(predictions, "predictions", _WHERE)
            if predictions.dim() == 3 and lengths is None:
                mask = features_mask                                                  # evaluate the real steps
        p = prepare(labels, predictions, mask, _WHERE, index_labels=True, device=self._device)
        preds = p.predictions                                                         # [N, C, T]
        n, cols, t = preds.shape
        c = 2 if cols == 1 else cols
        self._check_classes(c)
        if self.decision_threshold is not None and cols > 2:
            raise ValueError(f"{_WHERE}: decision_threshold applies to 1 or 2 output columns, got {cols}")
        if keys is not None and len(keys) != n:
            raise ValueError(f"{_WHERE}: got {len(keys)} keys for {n} examples")
        work = work_dtype(n, t, c)
        weights = None if p.mask is None else p.mask.to(work)                        # [N, T] 1.0 at real steps
        o = step_outcomes(p, c, self.decision_threshold, work)
        values, predicted, actual, scores = o.values, o.predicted, o.actual, o.scores
        evaluated = weights.sum(dim=1) if weights is not None else None               # [N] evaluated steps
        extent = sequence_extent(features_mask, lengths, p, weights, work, _WHERE)
        n_real, size = self._check_batch(values, o.out_of_range, p, evaluated, extent)
        if n_real == 0:
            return self                                                               # all masked: no-op

        correct = torch.eq(actual, predicted, out=torch.empty_like(actual))          # [N, T] 1.0 / 0.0
        code = actual * c + predicted                                                 # [N, T] cell of the matrix
        if weights is not None:
            correct.mul_(weights)
            code.sub_(c * c).mul_(weights).add_(c * c)                                # padding -> bin C*C
        self._ensure_state(preds.device, c)
        self._cm += bincount(code.to(torch.int32 if work == torch.float32 else torch.int64), c * c + 1)
        actual_index = actual.long() if self.top_n > 1 or keys is not None else None
        if self.top_n > 1:
            true_score = scores.gather(1, actual_index.unsqueeze(1))                 # [N, 1, T]
            hits = as_work((scores > true_score).sum(dim=1) < self.top_n, work)      # [N, T]
            self._top_n_hits += (hits.mul_(weights) if weights is not None else hits).sum().long()
        for table, counts in zip((self._by_start, self._by_end, self._by_length),
                                 batch_counts(correct, weights, evaluated, extent.lengths, extent.span, size)):
            table.add(counts)
        if keys is not None:
            self._worst.add_batch(keys, scores, actual_index, predicted.long(), correct, weights, extent.span,
                                  extent.lengths)
        self._host_cm = None
        return self

    eval_time_series = eval

    def _check_classes(self, c: int) -> None:
        if self._num_classes is not None and c != self._num_classes:
            raise ValueError(f"{_WHERE}: predictions have {c} classes but this evaluation has "
                             f"{self._num_classes}")

    def _check_batch(self, values, out_of_range, p, evaluated, extent: Extent) -> tuple[int, int | None]:
        """Raise on NaN scores, out-of-range labels at real steps or bad given lengths.

        Returns the real-step count and the largest sequence length possible in the batch.
        One host read: the sum of the step scores (finite unless some step, real or padded,
        holds NaN or infinity; only then are the real steps searched), the bad-label count,
        the real-step count and, with given lengths, the count of bad ones and the largest.
        """
        bad = out_of_range if out_of_range is not None else torch.zeros((), dtype=torch.bool, device=values.device)
        if p.mask is not None and out_of_range is not None:
            bad = bad & p.real
        total = evaluated.double().sum() if evaluated is not None else torch.tensor(
            float(values.numel()), dtype=torch.float64, device=values.device)
        reads = [values.sum().double(), bad.sum().double(), total]
        bad_lengths = None
        if extent.given and values.shape[0]:
            given = extent.lengths                                                      # float64 [N]
            steps = evaluated.double() if evaluated is not None else torch.full_like(given, values.shape[1])
            bad_lengths = (given < steps) | (given != given.floor()) | torch.isinf(given)  # [N]
            reads += [bad_lengths.sum().double(), given.max()]
        score_sum, n_bad, n_real, *more = torch.stack(reads).tolist()
        if not math.isfinite(score_sum):
            check_no_nan(torch.isnan(values), p.real, p.time_series, "predictions", _WHERE)
        if n_bad:
            first = bad.nonzero()[0].tolist()
            c = max(2, p.predictions.shape[1])
            raise ValueError(f"{_WHERE}: {int(n_bad)} class-index labels at real steps are outside [0, {c}); "
                             f"the first is at example {first[0]}" + (f", step {first[1]}" if p.time_series else ""))
        if not extent.given:
            return int(n_real), extent.size
        if not more:
            return int(n_real), 0
        n_bad_lengths, largest = more
        if n_bad_lengths:
            first = int(bad_lengths.nonzero()[0, 0])
            raise ValueError(f"{_WHERE}: {int(n_bad_lengths)} lengths are not whole numbers at least as large as "
                             f"the number of evaluated steps of their example; the first is example {first} "
                             f"(length {float(extent.lengths[first]):g})")
        return int(n_real), int(largest)

    def _ensure_state(self, device: torch.device, c: int) -> None:
        if self._cm is None:
            self._device = device
            self._num_classes = c
            self._cm = torch.zeros(c * c + 1, dtype=torch.long, device=device)
            self._top_n_hits = torch.zeros((), dtype=torch.long, device=device)

    # ------------------------------------------------------------------ merging

    def merge(self, other: "Evaluation") -> "Evaluation":
        """Add ``other``'s counts to this evaluation (exact). Returns ``self``.

        Raises:
            ValueError: different class counts or ``top_n``.
        """
        if not isinstance(other, Evaluation):
            raise ValueError(f"Evaluation.merge: expected an Evaluation, got {type(other).__name__}")
        if self.top_n != other.top_n:
            raise ValueError(f"Evaluation.merge: top_n differs ({self.top_n} vs {other.top_n})")
        self.merge_provenance(other)
        if other._num_classes is not None:
            self._check_classes(other._num_classes)
            if self._names is None and other._names is not None:
                self._names = list(other._names)
        if other._cm is None:
            if self._num_classes is None:
                self._num_classes = other._num_classes
            return self
        self._ensure_state(other._device, other._num_classes)
        self._cm += other._cm.to(self._device)
        self._top_n_hits += other._top_n_hits.to(self._device)
        for mine, theirs in ((self._by_start, other._by_start), (self._by_end, other._by_end),
                             (self._by_length, other._by_length)):
            mine.merge(theirs)
        self._worst.merge(other._worst)
        self._host_cm = None
        return self

    # ------------------------------------------------------------------ basic figures

    @property
    def num_classes(self) -> int | None:
        """C, or None before the first ``eval`` when it was not given."""
        return self._num_classes

    @property
    def class_names(self) -> list[str]:
        """Class names (``"0"``, ``"1"``, ... unless given)."""
        if self._names is not None:
            return list(self._names)
        return [str(i) for i in range(self._num_classes or 0)]

    def confusion_matrix(self) -> np.ndarray:
        """Counts of real steps, rows actual class, columns predicted class. Shape int64 ``[C, C]``."""
        if self._host_cm is None:
            c = self._num_classes or 0
            if self._cm is None:
                self._host_cm = np.zeros((c, c), dtype=np.int64)
            else:
                self._host_cm = self._cm[:c * c].cpu().numpy().reshape(c, c)
        return self._host_cm.copy()

    @property
    def num_steps(self) -> int:
        """Real steps (examples, for 2-D input) evaluated so far."""
        return int(self.confusion_matrix().sum())

    @property
    def num_sequences(self) -> int:
        """Sequences (rows of the ``eval`` calls) with at least one evaluated step."""
        table = self._by_length.numpy()
        return int(table[2].sum())

    @property
    def many_to_one(self) -> bool:
        """True when every evaluated sequence had exactly one evaluated step (one label per sequence).

        That is ``num_steps == num_sequences > 0``: ``[N, C]`` predictions, or ``[N, C, T]`` with a
        labels mask holding one 1 per row (many-to-one ALIGN_END data). Reports then count
        sequences instead of steps. False before any data and for per-step labels.
        """
        n = self.num_sequences
        return n > 0 and n == self.num_steps

    def accuracy(self) -> float:
        """Correct real steps / real steps; NaN before any data."""
        cm = self.confusion_matrix()
        return float(cm_metrics.ratio(np.trace(cm), cm.sum()))

    def top_n_accuracy(self) -> float:
        """Share of real steps whose true class is within the ``top_n`` highest scores (ties count as in)."""
        if self.top_n == 1:
            return self.accuracy()
        hits = 0 if self._top_n_hits is None else int(self._top_n_hits)
        return float(cm_metrics.ratio(hits, self.num_steps))

    # ------------------------------------------------------------------ per-class metrics

    def _class_index(self, cls) -> int:
        c = self._num_classes or 0
        if isinstance(cls, str):
            names = self.class_names
            if cls not in names:
                raise ValueError(f"Evaluation: unknown class name {cls!r}; classes are {names}")
            return names.index(cls)
        if isinstance(cls, (bool, float)) or int(cls) != cls or not 0 <= int(cls) < c:
            raise ValueError(f"Evaluation: class must be an index in [0, {c}) or a class name, got {cls!r}")
        return int(cls)

    def _mode(self, averaging, allowed=cm_metrics.AVERAGINGS) -> str:
        if averaging is None:
            return "binary" if self._num_classes == 2 and self.binary_positive_class is not None else "macro"
        if averaging not in allowed:
            raise ValueError(f"Evaluation: averaging must be one of {list(allowed)} or None, got {averaging!r}")
        return averaging

    def _pick(self, per_class: np.ndarray, micro: float, cls, averaging) -> float:
        if cls is not None:
            return float(per_class[self._class_index(cls)])
        mode = self._mode(averaging)
        if mode == "binary":
            return float(per_class[self.binary_positive_class])
        return cm_metrics.macro_average(per_class)[0] if mode == "macro" else float(micro)

    def _precision_recall(self):
        tp, fp, fn, _ = cm_metrics.one_vs_all(self.confusion_matrix())
        return (cm_metrics.ratio(tp, tp + fp), cm_metrics.ratio(tp, tp + fn),
                cm_metrics.ratio(tp.sum(), tp.sum() + fp.sum()), cm_metrics.ratio(tp.sum(), tp.sum() + fn.sum()))

    def precision(self, cls=None, averaging: str | None = None) -> float:
        """TP / (TP + FP) of class ``cls`` (index or name), or averaged (see the class docstring)."""
        per_class, _, micro, _ = self._precision_recall()
        return self._pick(per_class, micro, cls, averaging)

    def recall(self, cls=None, averaging: str | None = None) -> float:
        """TP / (TP + FN) of class ``cls``, or averaged (see the class docstring)."""
        _, per_class, _, micro = self._precision_recall()
        return self._pick(per_class, micro, cls, averaging)

    def f_beta(self, beta: float, cls=None, averaging: str | None = None) -> float:
        """``(1 + b^2) P R / (b^2 P + R)`` of class ``cls``, or averaged; 0 when P or R is 0."""
        if not beta > 0:
            raise ValueError(f"Evaluation.f_beta: beta must be > 0, got {beta!r}")
        p, r, micro_p, micro_r = self._precision_recall()
        micro = cm_metrics.f_beta_per_class(np.array([micro_p]), np.array([micro_r]), beta)[0]
        return self._pick(cm_metrics.f_beta_per_class(p, r, beta), micro, cls, averaging)

    def f1(self, cls=None, averaging: str | None = None) -> float:
        """F1 of class ``cls``, or averaged (see :meth:`f_beta`)."""
        return self.f_beta(1.0, cls, averaging)

    def matthews_correlation(self, cls=None, averaging: str | None = None) -> float:
        """Matthews correlation: one-vs-all for ``cls``; else ``"multiclass"`` (default), ``"macro"`` or ``"micro"``.

        ``"multiclass"`` is the R_K statistic (scikit-learn's ``matthews_corrcoef``);
        ``"macro"`` averages the defined one-vs-all values; ``"micro"`` computes one
        coefficient from the pooled one-vs-all counts. NaN when undefined.
        """
        cm = self.confusion_matrix()
        tp, fp, fn, tn = cm_metrics.one_vs_all(cm)
        if cls is not None:
            return float(cm_metrics.mcc_per_class(tp, fp, fn, tn)[self._class_index(cls)])
        mode = "multiclass" if averaging is None else self._mode(averaging, (*cm_metrics.AVERAGINGS, "multiclass"))
        if mode == "multiclass":
            return cm_metrics.mcc_multiclass(cm)
        if mode == "macro":
            return cm_metrics.macro_average(cm_metrics.mcc_per_class(tp, fp, fn, tn))[0]
        return float(cm_metrics.mcc_per_class(tp.sum(), fp.sum(), fn.sum(), tn.sum()))

    def per_class(self) -> dict[str, np.ndarray]:
        """Per-class arrays ``[C]``: precision, recall, f1, matthews_correlation, support, predicted."""
        cm = self.confusion_matrix()
        tp, fp, fn, tn = cm_metrics.one_vs_all(cm)
        p, r = cm_metrics.ratio(tp, tp + fp), cm_metrics.ratio(tp, tp + fn)
        return {"precision": p, "recall": r, "f1": cm_metrics.f_beta_per_class(p, r, 1.0),
                "matthews_correlation": cm_metrics.mcc_per_class(tp, fp, fn, tn),
                "support": cm.sum(axis=1), "predicted": cm.sum(axis=0)}

    def excluded_classes(self, metric: str = "precision") -> list[int]:
        """Classes left out of the macro average of ``metric`` because their value is 0/0.

        ``metric``: ``"precision"``, ``"recall"``, ``"f1"`` (also for any F-beta) or
        ``"matthews_correlation"``.
        """
        table = self.per_class()
        key = "f1" if metric in ("f1", "f_beta") else metric
        if key not in ("precision", "recall", "f1", "matthews_correlation"):
            raise ValueError("Evaluation.excluded_classes: metric must be one of ['precision', 'recall', 'f1', "
                             f"'f_beta', 'matthews_correlation'], got {metric!r}")
        return cm_metrics.macro_average(table[key])[1]

    # ------------------------------------------------------------------ sequence views

    def accuracy_by_step(self, align: str = "start") -> StepAccuracy:
        """Accuracy per step index from each sequence's first real step (``"start"``) or last (``"end"``).

        The first and last steps are those of the features mask given to ``eval`` (so
        a many-to-one label at the last real feature step is index 0 from the end),
        else of the evaluated steps. Only evaluated steps are counted.
        """
        if align not in ("start", "end"):
            raise ValueError(f"Evaluation.accuracy_by_step: align must be 'start' or 'end', got {align!r}")
        return step_table((self._by_start if align == "start" else self._by_end).numpy(), align)

    def accuracy_by_length(self, edges=None) -> LengthBuckets:
        """Step accuracy of sequences grouped by length (real steps) into buckets starting at ``edges``.

        ``edges`` defaults to at most 8 buckets that follow the data, from the shortest length to the
        longest (see :mod:`seqkit.evaluation._by_time`); bucket i holds lengths ``[edges[i], edges[i+1])``.
        Lengths come from the ``features_mask`` or ``lengths`` given to ``eval`` (``Sequential.evaluate``
        passes the batch's features mask); without them, a sequence's length is its number of evaluated
        steps, which is 1 for every series of many-to-one data.
        """
        return bucket_lengths(self._by_length.numpy(), edges)

    def worst_sequences(self) -> list[dict]:
        """The worst-classified sequences given keys, worst first (see ``seqkit.evaluation._worst``)."""
        return self._worst.as_list()

    # ------------------------------------------------------------------ output

    def stats(self, suppress_warnings: bool = False, include_confusion: bool | None = None) -> str:
        """DL4J's text summary (metrics, warnings, confusion matrix up to 20 classes)."""
        from ._stats_format import classification_stats
        return classification_stats(self, suppress_warnings, include_confusion)

    def to_dict(self) -> dict:
        """Every figure as plain Python values (NaN where undefined), e.g. for JSON."""
        from ._report_content import classification_dict
        return classification_dict(self)

    def _report_document(self, provenance):
        from ._report_content import classification_document
        return classification_document(self, provenance)

    def __repr__(self) -> str:
        return (f"Evaluation(num_classes={self._num_classes}, steps={self.num_steps}, "
                f"accuracy={self.accuracy():.4f})")
