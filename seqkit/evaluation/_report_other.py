"""Report documents for RegressionEvaluation, ROC, ROCMultiClass and EvaluationBinary."""

from __future__ import annotations

from ..reports._document import Document, Figure, Section, Table, Text
from ._curves import downsample

__all__ = ["binary_document", "regression_document", "roc_document", "roc_multiclass_document"]

_MAX_CURVES = 10


def regression_document(ev) -> Document:
    data = ev.to_dict()
    pc = data["per_column"]
    avg = data["average"]
    rows = [[name, int(pc["count"][i]), pc["mse"][i], pc["mae"][i], pc["rmse"][i], pc["rse"][i], pc["pearson"][i],
             pc["r2"][i], pc["mean_label"][i], pc["mean_prediction"][i]] for i, name in enumerate(data["column_names"])]
    table = Table(["Column", "Steps", "MSE", "MAE", "RMSE", "RSE", "Pearson", "R\u00b2", "Mean label",
                   "Mean prediction"], rows,
                  note="RSE = SSE / sum (y - mean y)^2; R\u00b2 = 1 - RSE; \u2014 marks an undefined value.")
    summary = [("Average MSE", avg["mse"]), ("Average MAE", avg["mae"]), ("Average RMSE", avg["rmse"]),
               ("Average R\u00b2", avg["r2"]), ("Average Pearson", avg["pearson"]),
               ("Columns", data["num_columns"] or 0)]
    sections = [Section("Per-column metrics", [table]),
                Section("Text summary (DL4J layout)", [Text(ev.stats(), "pre")])]
    return Document("Regression evaluation", summary, sections, data)


def _curve_figures(named_curves) -> list[Figure]:
    """ROC and PR figures for ``[(label, Curve), ...]`` (at most 10 curves drawn)."""
    roc, pr = [], []
    for label, curve in named_curves[:_MAX_CURVES]:
        if curve.positives and curve.negatives:
            fpr, tpr, _ = curve.roc()
            x, y = downsample(fpr, tpr)
            roc.append({"label": f"{label} (AUC {curve.auc():.3f})", "fpr": x, "tpr": y})
        if curve.positives:
            precision, recall, _ = curve.pr()
            x, y = downsample(recall, precision)
            pr.append({"label": f"{label} (AP {curve.auprc():.3f})", "recall": x, "precision": y})
    return [Figure("roc", "ROC curve", {"curves": roc}), Figure("pr", "Precision-recall curve", {"curves": pr})]


def roc_document(ev) -> Document:
    data = ev.to_dict()
    rows = [["AUC (ROC)", data["auc"]], ["AUPRC (average precision)", data["auprc"]],
            ["AUPRC (trapezoid)", data["auprc_trapezoid"]], ["Positives", data["positives"]],
            ["Negatives", data["negatives"]], ["Real steps", data["num_steps"]]]
    blocks = _curve_figures([("class 1", ev._curve())]) + [Table(["Metric", "Value"], rows)]
    if not (data["positives"] and data["negatives"]):
        blocks.append(Text("AUC is undefined: the data hold only one class.", "warning"))
    summary = [("AUC", data["auc"]), ("AUPRC", data["auprc"]), ("Positives", data["positives"]),
               ("Negatives", data["negatives"])]
    return Document("ROC evaluation", summary, [Section("ROC and precision-recall", blocks)], data)


def roc_multiclass_document(ev) -> Document:
    data = ev.to_dict()
    names = data["class_names"]
    rows = [[i, names[i], data["positives"][i], data["auc"][i], data["auprc"][i]] for i in range(len(names))]
    table = Table(["Class", "Name", "Positives", "AUC", "AUPRC (AP)"], rows,
                  note="One-vs-all; \u2014 marks a class that never or always occurs.")
    figures = _curve_figures([(names[c], ev._curve(c)) for c in range(len(names))])
    blocks = figures + [table]
    if len(names) > _MAX_CURVES:
        blocks.append(Text(f"The plots show the first {_MAX_CURVES} of {len(names)} classes.", "note"))
    summary = [("Average AUC", data["average_auc"]), ("Average AUPRC", data["average_auprc"]),
               ("Classes", data["num_classes"] or 0), ("Real steps", data["num_steps"])]
    return Document("Multi-class ROC evaluation", summary, [Section("One-vs-all ROC and precision-recall", blocks)],
                    data)


def binary_document(ev) -> Document:
    data = ev.to_dict()
    po, counts = data["per_output"], data["counts"]
    rows = [[name, data["thresholds"][i], po["accuracy"][i], po["precision"][i], po["recall"][i], po["f1"][i],
             po["matthews_correlation"][i], counts["tp"][i], counts["fp"][i], counts["tn"][i], counts["fn"][i]]
            for i, name in enumerate(data["output_names"])]
    table = Table(["Output", "Threshold", "Accuracy", "Precision", "Recall", "F1", "MCC", "TP", "FP", "TN", "FN"],
                  rows)
    avg = data["average"]
    summary = [("Average accuracy", avg["accuracy"]), ("Average precision", avg["precision"]),
               ("Average recall", avg["recall"]), ("Average F1", avg["f1"]), ("Outputs", data["num_outputs"] or 0)]
    figure = Figure("class_bars", "Precision and recall per output",
                    {"names": data["output_names"], "precision": po["precision"], "recall": po["recall"]})
    sections = [Section("Per-output metrics", [figure, table]),
                Section("Text summary", [Text(ev.stats(), "pre")])]
    return Document("Multi-label (binary) evaluation", summary, sections, data)
