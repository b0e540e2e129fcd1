"""Text summaries in Deeplearning4j's ``stats()`` layouts.

Classification follows DL4J's ``Evaluation.stats()``: a leading empty line,
the metrics block with 4 decimals (NaN printed as ``NaN``), macro-average
exclusion notes for more than 2 classes, warnings about classes never
predicted, then the confusion matrix (up to 20 classes) with class names.
One deliberate difference: in the binary case the Precision/Recall/F1 lines
show the positive class's values, as the line under them says (DL4J prints
the macro averages there).

Regression follows ``RegressionEvaluation.stats()``: a ``Column MSE MAE RMSE
RSE PC R^2`` header, names padded to the longest + 5, values as ``%-15.5e``.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["classification_stats", "confusion_matrix_text", "fmt4", "java_e", "regression_stats",
           "binary_stats", "CONFUSION_PRINT_MAX_CLASSES"]

CONFUSION_PRINT_MAX_CLASSES = 20
_MAX_LISTED = 16
_RULE = "=================================================================="


def fmt4(x: float) -> str:
    """DL4J's ``DecimalFormat("0.0000")``, with NaN and infinities spelled as Java does."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return f"{x:.4f}"


def java_e(x: float, width: int, precision: int) -> str:
    """Java's ``%-{width}.{precision}e``."""
    if math.isnan(x):
        text = "NaN"
    elif math.isinf(x):
        text = "Infinity" if x > 0 else "-Infinity"
    else:
        text = f"{x:.{precision}e}"
    return text.ljust(width)


def _listed(classes: list[int]) -> str:
    shown = [str(c) for c in classes[:_MAX_LISTED]]
    if len(classes) > _MAX_LISTED:
        shown.append(f"... ({len(classes) - _MAX_LISTED} more)")
    return "[" + ", ".join(shown) + "]"


def _warning(classes: list[int], metric: str) -> str:
    one = len(classes) == 1
    was = "was" if one else "were"
    return (f"Warning: {len(classes)} class{'' if one else 'es'} {was} never predicted by the model and {was} "
            f"excluded from average {metric}\nClasses excluded from average {metric}: {_listed(classes)}\n")


def _excluded_note(count: int) -> str:
    return f"\t({count} class{'es' if count > 1 else ''} excluded from average)" if count else ""


def confusion_matrix_text(cm: np.ndarray, names: list[str]) -> str:
    """The confusion matrix block: column header, rule, one row per actual class with its name.

    Every cell is right-aligned in (digits of the largest count or class index) + 1 characters.
    """
    c = cm.shape[0]
    digits = len(str(max(int(cm.max(initial=0)), c, 1)))
    width = digits + 1
    lines = ["".join(str(j).rjust(width) for j in range(c)), "-" * (width * c + 1)]
    for i in range(c):
        lines.append("".join(str(int(v)).rjust(width) for v in cm[i]) + f" | {i} = {names[i]}")
    return "\n".join(lines) + "\n\nConfusion matrix format: Actual (rowClass) predicted as (columnClass) N times"


def classification_stats(ev, suppress_warnings: bool = False, include_confusion: bool | None = None) -> str:
    """``Evaluation.stats()``; see the module docstring."""
    cm = ev.confusion_matrix()
    c = cm.shape[0]
    names = ev.class_names
    tp = np.diag(cm)
    never_precision = [] if suppress_warnings else np.flatnonzero((tp == 0) & (cm.sum(axis=0) == 0)).tolist()
    never_recall = [] if suppress_warnings else np.flatnonzero((tp == 0) & (cm.sum(axis=1) == 0)).tolist()
    binary = c == 2 and ev.binary_positive_class is not None

    out = ["\n========================Evaluation Metrics========================",
           f"\n # of classes:    {c}",
           f"\n Accuracy:        {fmt4(ev.accuracy())}"]
    if ev.top_n > 1:
        out.append(f"\n Top {ev.top_n} Accuracy:  {fmt4(ev.top_n_accuracy())}")
    for label, metric, value in (("Precision:       ", "precision", ev.precision()),
                                 ("Recall:          ", "recall", ev.recall()),
                                 ("F1 Score:        ", "f1", ev.f1())):
        out.append(f"\n {label}{fmt4(value)}")
        if c > 2:
            out.append(_excluded_note(len(ev.excluded_classes(metric))))
    if binary:
        k = ev.binary_positive_class
        out.append(f"\nPrecision, recall & F1: reported for positive class (class {k} - \"{names[k]}\") only")
    else:
        out.append(f"\nPrecision, recall & F1: macro-averaged (equally weighted avg. of {c} classes)")
    if ev.decision_threshold is not None:
        out.append(f"\nBinary decision threshold: {ev.decision_threshold!r}")
    out.append("\n\n")
    if never_precision:
        out.append(_warning(never_precision, "precision"))
    if never_recall:
        out.append(_warning(never_recall, "recall"))
    if include_confusion is None:
        include_confusion = c <= CONFUSION_PRINT_MAX_CLASSES
        size_note = not include_confusion
    else:
        size_note = False
    if include_confusion:
        out.append("\n=========================Confusion Matrix=========================\n")
        out.append(confusion_matrix_text(cm, names))
    elif size_note:
        out.append(f"\n\nNote: Confusion matrix not generated due to space requirements for {c} classes.\n"
                   "Use stats(include_confusion=True) to generate anyway")
    out.append("\n" + _RULE)
    return "".join(out)


def regression_stats(ev, precision: int = 5) -> str:
    """``RegressionEvaluation.stats()``; ``"RegressionEvaluation: No Data"`` before any data."""
    if ev.num_columns is None or ev.num_columns == 0:
        return "RegressionEvaluation: No Data"
    names = ev.column_names
    label_width = max(len(s) for s in names) + 5
    col_width = precision + 10
    header = "Column".ljust(label_width) + "".join(h.ljust(col_width)
                                                   for h in ("MSE", "MAE", "RMSE", "RSE", "PC", "R^2"))
    rows = [header]
    for i, name in enumerate(names):
        values = (ev.mean_squared_error(i), ev.mean_absolute_error(i), ev.root_mean_squared_error(i),
                  ev.relative_squared_error(i), ev.pearson_correlation(i), ev.r_squared(i))
        rows.append(name.ljust(label_width) + "".join(java_e(v, col_width, precision) for v in values))
    return "\n".join(rows) + "\n"


def binary_stats(ev) -> str:
    """``EvaluationBinary.stats()``: one row per output with accuracy, F1, precision, recall and counts."""
    if ev.num_outputs is None:
        return "EvaluationBinary: No Data"
    names = ev.output_names
    width = max(max(len(s) for s in names) + 2, 7)
    head = ["Label".ljust(width)] + [h.ljust(11) for h in ("Accuracy", "F1", "Precision", "Recall")] + \
        [h.ljust(9) for h in ("Total", "TP", "TN", "FP", "FN")]
    rows = ["".join(head).rstrip()]
    counts = ev.counts()
    for i, name in enumerate(names):
        cells = [name.ljust(width)] + [fmt4(v).ljust(11) for v in (ev.accuracy(i), ev.f1(i), ev.precision(i),
                                                                    ev.recall(i))]
        tp, tn, fp, fn = (int(counts[k][i]) for k in ("tp", "tn", "fp", "fn"))
        cells += [str(v).ljust(9) for v in (tp + tn + fp + fn, tp, tn, fp, fn)]
        rows.append("".join(cells).rstrip())
    thresholds = ev.thresholds()
    if np.any(thresholds != 0.5):
        rows.append("Per-output decision thresholds: [" + ", ".join(f"{t:g}" for t in thresholds) + "]")
    return "\n".join(rows) + "\n"
