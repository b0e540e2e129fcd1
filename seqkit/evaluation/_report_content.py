"""What an :class:`Evaluation` shows: ``to_dict()`` and its report document.

Wording follows :attr:`Evaluation.many_to_one`: for many-to-one data (one
evaluated step per sequence) the report counts sequences, otherwise real
steps. Classes appear under the labels of :func:`class_labels` and sequence
keys as :func:`short_keys` (see :mod:`seqkit.evaluation._report_labels`).
"""

from __future__ import annotations

import numpy as np

from ..reports import Cell, Document, Figure, Section, Table, Text
from ._provenance import provenance_section, provenance_subtitle
from ._report_labels import class_labels, short_keys

__all__ = ["classification_dict", "classification_document"]

_MAX_STEP_ROWS = 20


def _averaging_label(ev) -> str:
    if ev.num_classes == 2 and ev.binary_positive_class is not None:
        k = ev.binary_positive_class
        return f"positive class {k} ({class_labels(ev.class_names)[0][k]})"
    return "macro average over classes with a defined value"


def classification_dict(ev) -> dict:
    """Every figure of ``ev`` as plain Python (numpy arrays become lists; NaN stays NaN)."""
    per_class = ev.per_class()
    start, end = ev.accuracy_by_step("start"), ev.accuracy_by_step("end")
    buckets = ev.accuracy_by_length()
    return {
        "type": "Evaluation",
        "num_classes": ev.num_classes,
        "class_names": ev.class_names,
        "num_steps": ev.num_steps,
        "num_sequences": ev.num_sequences,
        "many_to_one": ev.many_to_one,
        "binary_positive_class": ev.binary_positive_class,
        "decision_threshold": ev.decision_threshold,
        "averaging": _averaging_label(ev),
        "accuracy": ev.accuracy(),
        "top_n": ev.top_n,
        "top_n_accuracy": ev.top_n_accuracy(),
        "precision": ev.precision(),
        "recall": ev.recall(),
        "f1": ev.f1(),
        "matthews_correlation": ev.matthews_correlation(),
        "macro": {m: getattr(ev, m)(averaging="macro") for m in ("precision", "recall", "f1")},
        "micro": {m: getattr(ev, m)(averaging="micro") for m in ("precision", "recall", "f1")},
        "excluded_classes": {m: ev.excluded_classes(m) for m in ("precision", "recall", "f1")},
        "per_class": {k: v.tolist() for k, v in per_class.items()},
        "confusion_matrix": ev.confusion_matrix().tolist(),
        "accuracy_by_step": {a.align: {"correct": a.correct.tolist(), "total": a.total.tolist(),
                                       "accuracy": a.accuracy.tolist()} for a in (start, end)},
        "accuracy_by_length": {"low": buckets.low.tolist(), "high": buckets.high.tolist(),
                               "sequences": buckets.sequences.tolist(), "correct": buckets.correct.tolist(),
                               "total": buckets.total.tolist(), "accuracy": buckets.accuracy.tolist()},
        "worst_sequences": ev.worst_sequences(),
        "provenance": ev.stamped_provenance(),
    }


def _units(data: dict) -> tuple[str, str]:
    """("sequence", "sequences") for many-to-one data, else ("step", "steps")."""
    return ("sequence", "sequences") if data["many_to_one"] else ("step", "steps")


def _metrics_section(ev, data: dict, labels: list[str]) -> Section:
    one = _units(data)[0]
    counted = ["Sequences evaluated", data["num_sequences"]] if data["many_to_one"] else \
        ["Real steps evaluated", data["num_steps"]]
    rows = [["Accuracy", data["accuracy"]]]
    if ev.top_n > 1:
        rows.append([f"Top-{ev.top_n} accuracy", data["top_n_accuracy"]])
    rows += [["Precision", data["precision"]], ["Recall", data["recall"]], ["F1", data["f1"]],
             ["Matthews correlation (multi-class)", data["matthews_correlation"]],
             ["Macro precision", data["macro"]["precision"]], ["Macro recall", data["macro"]["recall"]],
             ["Macro F1", data["macro"]["f1"]], ["Micro F1 (= accuracy)", data["micro"]["f1"]],
             counted, ["Classes", data["num_classes"]]]
    counting = ("Each sequence counts once, by its one labelled step (many-to-one data); masked (padding) "
                "steps are left out of every figure." if data["many_to_one"] else
                "Every real step of every sequence counts once; masked (padding) steps are left out of "
                "every figure.")
    mcc = "MCC is the multi-class Matthews correlation (scikit-learn's matthews_corrcoef)"
    blocks = [Table(["Metric", "Value"], rows),
              Text(f"Precision, recall and F1 in the first rows: {data['averaging']}. Macro averages leave out "
                   "classes whose value is 0/0; micro averages pool the counts and equal accuracy here.", "note"),
              Text(counting, "note"),
              Text(f"{mcc}; top-{ev.top_n} accuracy counts a {one} as right when fewer than {ev.top_n} classes "
                   "score above the true one." if ev.top_n > 1 else f"{mcc}.", "note")]
    for metric in ("precision", "recall"):
        excluded = data["excluded_classes"][metric]
        if excluded:
            listed = ", ".join(labels[i] for i in excluded[:16]) + (" ..." if len(excluded) > 16 else "")
            blocks.append(Text(f"{len(excluded)} class(es) never predicted by the model and left out of the "
                               f"average {metric} (0/0): {listed}", "warning"))
    return Section("Metrics", blocks)


def _class_section(data: dict, labels: list[str], label_note: str) -> Section:
    pc = data["per_class"]
    many = _units(data)[1]
    rows = [[i, labels[i], pc["precision"][i], pc["recall"][i], pc["f1"][i], pc["matthews_correlation"][i],
             pc["support"][i], pc["predicted"][i]] for i in range(len(labels))]
    note = (f"Support: {many} of the class; Predicted: {many} predicted as it. \u2014 marks a value that is 0/0 "
            "(undefined)." + (f" {label_note}" if label_note else ""))
    table = Table(["Class", "Name", "Precision", "Recall", "F1", "MCC", "Support", "Predicted"], rows, note=note)
    figure = Figure("class_bars", "Precision and recall per class",
                    {"names": labels, "precision": pc["precision"], "recall": pc["recall"]})
    return Section("Per-class metrics", [figure, table])


def _confusion_section(data: dict, labels: list[str], label_note: str) -> Section:
    cm = np.asarray(data["confusion_matrix"], dtype=np.int64)
    many = _units(data)[1]
    blocks = [Figure("confusion", f"Confusion matrix of {many} (rows actual, columns predicted; colour = share "
                                  "of the row)", {"matrix": cm.tolist(), "names": labels})]
    if len(labels) <= 20:
        rows = [[f"{i} = {labels[i]}"] + cm[i].tolist() for i in range(len(labels))]
        note = "Columns are class indices." + (f" {label_note}" if label_note else "")
        blocks.append(Table(["Actual \\ predicted"] + [str(j) for j in range(len(labels))], rows, note=note))
    else:
        blocks.append(Text(f"The table is left out for {len(labels)} classes; see the JSON report.", "note"))
    return Section("Confusion matrix", blocks)


def _steps_section(ev, data: dict) -> Section | None:
    """Accuracy per step index; left out for many-to-one data, where it only repeats the lengths."""
    start, end = ev.accuracy_by_step("start"), ev.accuracy_by_step("end")
    if data["many_to_one"] or max(len(start.step), len(end.step)) <= 1:
        return None
    figure = Figure("step_accuracy", "Accuracy by time step (grey: evaluated steps at each index)",
                    {key: {"step": a.step.tolist(), "accuracy": a.accuracy.tolist(), "total": a.total.tolist()}
                     for key, a in (("start", start), ("end", end))})
    # The two views can hold different indices (a label inside the features sits at different
    # indices from the start and from the end): list the indices where either holds evaluated steps.
    size = max(len(start.step), len(end.step))
    total_start, total_end = (np.pad(a.total, (0, size - len(a.total))) for a in (start, end))
    used = np.flatnonzero((total_start > 0) | (total_end > 0))

    def cell(a, i):
        return (a.accuracy[i], int(a.total[i])) if i < len(a.step) else (float("nan"), 0)

    rows = [[int(i), *cell(start, i), *cell(end, i)] for i in used[:_MAX_STEP_ROWS]]
    note = (f"First {len(rows)} of {len(used)} step indices holding evaluated steps; the JSON report has all."
            if len(used) > len(rows) else "")
    note += (" Indices count from each sequence's first real step and back from its last, using the features "
             "mask given to eval when there is one.")
    table = Table(["Index", "Accuracy from start", "Steps", "Accuracy from end", "Steps"], rows, note=note.strip())
    return Section("Accuracy by time step", [figure, table])


def _length_section(ev, data: dict) -> Section | None:
    b = ev.accuracy_by_length()
    if int(b.sequences.sum()) == 0:
        return None
    used = np.flatnonzero(b.sequences)
    if data["many_to_one"] and int(b.high[used[-1]]) == 1:
        return Section("Accuracy by sequence length", [Text(
            "Every sequence has length 1 here: eval was given neither features_mask nor lengths, so a "
            "sequence's length is its one evaluated step. Sequential.evaluate passes the features mask.", "note")])
    keep = range(int(used[0]), int(used[-1]) + 1)
    names = b.labels()
    labels = [names[i] for i in keep]
    if data["many_to_one"]:
        headers = ["Length (real steps)", "Sequences", "Accuracy"]
        rows = [[names[i], int(b.sequences[i]), b.accuracy[i]] for i in keep]
        title = "Accuracy by sequence length"
        counted = "Each sequence counts once (its one labelled step)."
    else:
        headers = ["Length (real steps)", "Sequences", "Evaluated steps", "Accuracy"]
        rows = [[names[i], int(b.sequences[i]), int(b.total[i]), b.accuracy[i]] for i in keep]
        title = "Step accuracy by sequence length"
        counted = "Accuracy is over the evaluated steps of the bucket's sequences."
    figure = Figure("length_accuracy", title,
                    {"labels": labels, "accuracy": [float(b.accuracy[i]) for i in keep],
                     "sequences": [int(b.sequences[i]) for i in keep]})
    note = ("A sequence's length is its number of real steps, from the features mask (or the lengths) given "
            "to eval, which Sequential.evaluate passes; without them it is the number of evaluated steps. "
            f"Buckets run from the shortest length to the longest. {counted}")
    return Section("Accuracy by sequence length", [figure, Table(headers, rows, note=note)])


def _worst_section(data: dict, labels: list[str]) -> Section:
    worst = data["worst_sequences"]
    if not worst:
        return Section("Worst-classified sequences",
                       [Text("No sequence keys were passed to eval(keys=...), so no per-sequence records "
                             "were kept.", "note")])
    prefix, shown = short_keys([w["key"] for w in worst])
    keys = [Cell(s, w["key"]) if s != w["key"] else s for s, w in zip(shown, worst)]
    if data["many_to_one"]:
        headers = ["Rank", "Key", "True class", "Predicted", "True-class score", "Length"]
        rows = [[r + 1, key, labels[w["true_class"]], labels[w["predicted_class"]], w["mean_true_score"],
                 w["length"]] for r, (key, w) in enumerate(zip(keys, worst))]
        note = "Wrong sequences first, then by the lower score of the true class."
    else:
        headers = ["Rank", "Key", "True class", "Predicted", "Length", "Evaluated steps", "Wrong", "Error rate",
                   "Mean true-class score", "First error at"]
        rows = [[r + 1, key, labels[w["true_class"]], labels[w["predicted_class"]], w["length"], w["steps"],
                 w["wrong"], w["error_rate"], w["mean_true_score"], w["first_error_step"]]
                for r, (key, w) in enumerate(zip(keys, worst))]
        note = ("Ranked by error rate, then by the lower mean score of the true class. True class and Predicted: "
                "the class at most of the sequence's evaluated steps. 'First error at' counts steps from the "
                "sequence's first real step.")
    if prefix:
        note += f" Keys are shown without the folder they share: {prefix}"
    if any(isinstance(k, Cell) for k in keys):
        note += " (the HTML report shows each full key on hover; the JSON report has them all)."
    return Section("Worst-classified sequences", [Table(headers, rows, note=note)])


def classification_document(ev, provenance: dict) -> Document:
    data = classification_dict(ev)
    data["provenance"] = provenance
    labels, label_note = class_labels(ev.class_names)
    summary = [("Accuracy", data["accuracy"])]
    if ev.top_n > 1:
        summary.append((f"Top-{ev.top_n} acc.", data["top_n_accuracy"]))
    summary += [("F1", data["f1"]), ("Precision", data["precision"]), ("Recall", data["recall"]),
                ("MCC", data["matthews_correlation"]),
                ("Sequences", data["num_sequences"]) if data["many_to_one"] else ("Real steps", data["num_steps"]),
                ("Classes", data["num_classes"] or 0)]
    sections = [_metrics_section(ev, data, labels)]
    if data["num_steps"]:
        sections += [_class_section(data, labels, label_note), _confusion_section(data, labels, label_note)]
        sections += [s for s in (_steps_section(ev, data), _length_section(ev, data)) if s is not None]
        sections.append(_worst_section(data, labels))
    else:
        sections[0].blocks.append(Text("No real steps have been evaluated yet.", "warning"))
    sections += [Section("Text summary (DL4J layout)", [Text(ev.stats(), "pre")]), provenance_section(provenance)]
    return Document("Classification evaluation", summary, sections, data, subtitle=provenance_subtitle(provenance))
