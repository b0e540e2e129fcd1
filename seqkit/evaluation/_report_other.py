"""Report documents for RegressionEvaluation, ROC, ROCMultiClass and EvaluationBinary."""

from __future__ import annotations

from ..reports import Document, Figure, Section, Table, Text
from ._curves import downsample
from ._provenance import provenance_section, provenance_subtitle
from ._report_labels import class_labels

__all__ = ["binary_document", "regression_document", "roc_document", "roc_multiclass_document"]

_MAX_CURVES = 10


def _document(title: str, summary: list, sections: list[Section], data: dict, provenance: dict) -> Document:
    """The document with its provenance: in ``data`` (the JSON report), in the header and as a section."""
    data["provenance"] = provenance
    return Document(title, summary, sections + [provenance_section(provenance)], data,
                    subtitle=provenance_subtitle(provenance))


def regression_document(ev, provenance: dict) -> Document:
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
    return _document("Regression evaluation", summary, sections, data, provenance)


def _curve_figures(named_curves) -> list[Figure]:
    """ROC and PR figures for ``[(label, roc, pr, auc, auprc), ...]`` (at most 10 curves drawn).

    ``roc`` is ``(fpr, tpr, thresholds)`` and ``pr`` is ``(precision, recall, thresholds)``;
    a curve whose rates are undefined (NaN: a class that never or always occurs) is left out.
    """
    roc, pr = [], []
    for label, (fpr, tpr, _), (precision, recall, _), auc, auprc in named_curves[:_MAX_CURVES]:
        if fpr.size and not (fpr != fpr).any() and not (tpr != tpr).any():
            x, y = downsample(fpr, tpr)
            roc.append({"label": f"{label} (AUC {auc:.3f})", "fpr": x, "tpr": y})
        if recall.size and not (recall != recall).any():
            x, y = downsample(recall, precision)
            pr.append({"label": f"{label} (AP {auprc:.3f})", "recall": x, "precision": y})
    return [Figure("roc", "ROC curve", {"curves": roc}), Figure("pr", "Precision-recall curve", {"curves": pr})]


def roc_document(ev, provenance: dict) -> Document:
    data = ev.to_dict()
    rows = [["AUC (ROC)", data["auc"]], ["AUPRC (average precision)", data["auprc"]],
            ["AUPRC (trapezoid)", data["auprc_trapezoid"]], ["Positives", data["positives"]],
            ["Negatives", data["negatives"]], ["Real steps", data["num_steps"]]]
    curves = [("class 1", ev.roc_curve(), ev.pr_curve(), data["auc"], data["auprc"])] if data["num_steps"] else []
    blocks = _curve_figures(curves) + [Table(["Metric", "Value"], rows)]
    if not (data["positives"] and data["negatives"]):
        blocks.append(Text("AUC is undefined: the data hold only one class.", "warning"))
    summary = [("AUC", data["auc"]), ("AUPRC", data["auprc"]), ("Positives", data["positives"]),
               ("Negatives", data["negatives"])]
    return _document("ROC evaluation", summary, [Section("ROC and precision-recall", blocks)], data, provenance)


def roc_multiclass_document(ev, provenance: dict) -> Document:
    data = ev.to_dict()
    labels, label_note = class_labels(data["class_names"])
    rows = [[i, labels[i], data["positives"][i], data["auc"][i], data["auprc"][i]] for i in range(len(labels))]
    note = "One-vs-all; \u2014 marks a class that never or always occurs." + (f" {label_note}" if label_note else "")
    table = Table(["Class", "Name", "Positives", "AUC", "AUPRC (AP)"], rows, note=note)
    curves = [(labels[c], ev.roc_curve(c), ev.pr_curve(c), data["auc"][c], data["auprc"][c])
              for c in range(len(labels))] if data["num_steps"] else []
    blocks = _curve_figures(curves) + [table]
    if len(labels) > _MAX_CURVES:
        blocks.append(Text(f"The plots show the first {_MAX_CURVES} of {len(labels)} classes.", "note"))
    summary = [("Average AUC", data["average_auc"]), ("Average AUPRC", data["average_auprc"]),
               ("Classes", data["num_classes"] or 0), ("Real steps", data["num_steps"])]
    return _document("Multi-class ROC evaluation", summary,
                     [Section("One-vs-all ROC and precision-recall", blocks)], data, provenance)


def binary_document(ev, provenance: dict) -> Document:
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
    return _document("Multi-label (binary) evaluation", summary, sections, data, provenance)
