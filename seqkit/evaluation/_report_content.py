"""What an :class:`Evaluation` shows: ``to_dict()`` and its report document."""

from __future__ import annotations

import numpy as np

from ..reports._document import Document, Figure, Section, Table, Text

__all__ = ["classification_dict", "classification_document"]

_MAX_STEP_ROWS = 20


def _averaging_label(ev) -> str:
    if ev.num_classes == 2 and ev.binary_positive_class is not None:
        k = ev.binary_positive_class
        return f"positive class {k} ({ev.class_names[k]})"
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
    }


def _metrics_section(ev, data: dict) -> Section:
    rows = [["Accuracy", data["accuracy"]]]
    if ev.top_n > 1:
        rows.append([f"Top-{ev.top_n} accuracy", data["top_n_accuracy"]])
    rows += [["Precision", data["precision"]], ["Recall", data["recall"]], ["F1", data["f1"]],
             ["Matthews correlation (multi-class)", data["matthews_correlation"]],
             ["Macro precision", data["macro"]["precision"]], ["Macro recall", data["macro"]["recall"]],
             ["Macro F1", data["macro"]["f1"]], ["Micro F1 (= accuracy)", data["micro"]["f1"]],
             ["Real steps evaluated", data["num_steps"]], ["Classes", data["num_classes"]]]
    blocks = [Table(["Metric", "Value"], rows),
              Text(f"Precision, recall and F1 in the first rows: {data['averaging']}. Macro averages leave out "
                   "classes whose value is 0/0; micro averages pool the counts and equal accuracy here.", "note"),
              Text("Every real step of every sequence counts once; masked (padding) steps are left out of "
                   "every figure.", "note"),
              Text("MCC is the multi-class Matthews correlation (scikit-learn's matthews_corrcoef); "
                   f"top-{ev.top_n} accuracy counts a step as right when fewer than {ev.top_n} classes "
                   "score above the true one." if ev.top_n > 1 else
                   "MCC is the multi-class Matthews correlation (scikit-learn's matthews_corrcoef).", "note")]
    names = ev.class_names
    for metric in ("precision", "recall"):
        excluded = data["excluded_classes"][metric]
        if excluded:
            listed = ", ".join(names[i] for i in excluded[:16]) + (" ..." if len(excluded) > 16 else "")
            blocks.append(Text(f"{len(excluded)} class(es) never predicted by the model and left out of the "
                               f"average {metric} (0/0): {listed}", "warning"))
    return Section("Metrics", blocks)


def _class_section(ev, data: dict) -> Section:
    pc = data["per_class"]
    names = ev.class_names
    rows = [[i, names[i], pc["precision"][i], pc["recall"][i], pc["f1"][i], pc["matthews_correlation"][i],
             pc["support"][i], pc["predicted"][i]] for i in range(len(names))]
    table = Table(["Class", "Name", "Precision", "Recall", "F1", "MCC", "Support", "Predicted"], rows,
                  note="\u2014 marks a value that is 0/0 (undefined).")
    figure = Figure("class_bars", "Precision and recall per class",
                    {"names": names, "precision": pc["precision"], "recall": pc["recall"]})
    return Section("Per-class metrics", [figure, table])


def _confusion_section(ev, data: dict) -> Section:
    cm = np.asarray(data["confusion_matrix"], dtype=np.int64)
    names = ev.class_names
    blocks = [Figure("confusion", "Confusion matrix (rows actual, columns predicted; colour = share of the row)",
                     {"matrix": cm.tolist(), "names": names})]
    if len(names) <= 20:
        rows = [[f"{i} = {names[i]}"] + cm[i].tolist() for i in range(len(names))]
        blocks.append(Table(["Actual \\ predicted"] + [str(j) for j in range(len(names))], rows))
    else:
        blocks.append(Text(f"The table is left out for {len(names)} classes; see the JSON report.", "note"))
    return Section("Confusion matrix", blocks)


def _steps_section(ev) -> Section | None:
    start, end = ev.accuracy_by_step("start"), ev.accuracy_by_step("end")
    if max(len(start.step), len(end.step)) <= 1:
        return None
    figure = Figure("step_accuracy", "Accuracy by time step (grey: evaluated steps at each index)",
                    {key: {"step": a.step.tolist(), "accuracy": a.accuracy.tolist(), "total": a.total.tolist()}
                     for key, a in (("start", start), ("end", end))})
    # The two views can hold different indices (a many-to-one label sits at index 0 from the end and
    # at length - 1 from the start): list the indices where either holds evaluated steps.
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


def _length_section(ev) -> Section | None:
    b = ev.accuracy_by_length()
    if int(b.sequences.sum()) == 0:
        return None
    used = np.flatnonzero(b.sequences)
    keep = range(int(used[0]), int(used[-1]) + 1)             # without empty buckets below and above the data
    names = b.labels()
    labels = [names[i] for i in keep]
    rows = [[names[i], int(b.sequences[i]), int(b.total[i]), b.accuracy[i]] for i in keep]
    figure = Figure("length_accuracy", "Step accuracy by sequence length",
                    {"labels": labels, "accuracy": [float(b.accuracy[i]) for i in keep],
                     "sequences": [int(b.sequences[i]) for i in keep]})
    note = ("A sequence's length is its number of real steps, from the features mask (or the lengths) given "
            "to eval, which Sequential.evaluate passes; without them it is the number of evaluated steps. "
            "'Evaluated steps' are the steps of those sequences that count in the figures (one per sequence "
            "for many-to-one labels).")
    return Section("Accuracy by sequence length",
                   [figure, Table(["Length (real steps)", "Sequences", "Evaluated steps", "Accuracy"], rows,
                                  note=note)])


def _worst_section(ev) -> Section:
    worst = ev.worst_sequences()
    if not worst:
        return Section("Worst-classified sequences",
                       [Text("No sequence keys were passed to eval(keys=...), so no per-sequence records "
                             "were kept.", "note")])
    rows = [[r + 1, w["key"], w.get("length", w["steps"]), w["steps"], w["wrong"], w["error_rate"],
             w["mean_true_score"], w["first_error_step"]] for r, w in enumerate(worst)]
    return Section("Worst-classified sequences", [
        Table(["Rank", "Key", "Length", "Evaluated steps", "Wrong", "Error rate", "Mean true-class score",
               "First error at"],
              rows, note="Ranked by error rate, then by the lower mean score of the true class. "
                         "'First error at' counts steps from the sequence's first real step.")])


def classification_document(ev) -> Document:
    data = classification_dict(ev)
    summary = [("Accuracy", data["accuracy"])]
    if ev.top_n > 1:
        summary.append((f"Top-{ev.top_n} acc.", data["top_n_accuracy"]))
    summary += [("F1", data["f1"]), ("Precision", data["precision"]), ("Recall", data["recall"]),
                ("MCC", data["matthews_correlation"]), ("Real steps", data["num_steps"]),
                ("Classes", data["num_classes"] or 0)]
    sections = [_metrics_section(ev, data)]
    if data["num_steps"]:
        sections += [_class_section(ev, data), _confusion_section(ev, data)]
        sections += [s for s in (_steps_section(ev), _length_section(ev)) if s is not None]
        sections.append(_worst_section(ev))
    else:
        sections[0].blocks.append(Text("No real steps have been evaluated yet.", "warning"))
    sections.append(Section("Text summary (DL4J layout)", [Text(ev.stats(), "pre")]))
    return Document("Classification evaluation", summary, sections, data)
