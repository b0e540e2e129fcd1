"""inspect: a data set summary for dataset-preparation scripts."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field

import numpy as np

from ._assemble import column_index
from ._sequence_reader import checked_chunks, require_reader

__all__ = ["Summary", "inspect"]


@dataclass
class Summary:
    """What `inspect` found.

    Attributes:
        source: the reader, as text.
        sequences: number of sequences.
        steps: total steps over all sequences.
        length_min, length_median, length_max: steps per sequence.
        columns: the feature column names (the label column left out).
        nan_count: NaN or inf values among the features.
        label_column: the label column name, when labels were given.
        class_counts: label steps per class (with labels).
        sequence_class_counts: sequences per class, by the label at each
            sequence's last step (with labels).
    """

    source: str
    sequences: int
    steps: int
    length_min: int
    length_median: float
    length_max: int
    columns: list
    nan_count: int
    label_column: str | None = None
    class_counts: dict = field(default_factory=dict)
    sequence_class_counts: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Plain types only (JSON-ready)."""
        return asdict(self)

    def __str__(self) -> str:
        median = f"{self.length_median:g}"
        lines = [
            f"source:    {self.source}",
            f"sequences: {self.sequences}",
            (f"length:    min {self.length_min}, median {median}, max {self.length_max} "
             f"({self.steps} steps)"),
            f"columns:   {len(self.columns)}: {', '.join(map(str, self.columns))}",
            f"NaN/inf:   {self.nan_count}",
        ]
        if self.label_column is not None:
            def show(counts):
                return ", ".join(f"{k}: {v}" for k, v in counts.items())
            lines.append(f"labels:    {self.label_column}")
            lines.append(f"classes:   {len(self.sequence_class_counts)} by sequence (last step): "
                         f"{show(self.sequence_class_counts)}")
            if self.class_counts != self.sequence_class_counts:
                lines.append(f"           by step: {show(self.class_counts)}")
        return "\n".join(lines)


def _name(value: float, classes):
    if classes is not None:
        return classes[int(value)]
    if np.isfinite(value) and value == int(value):
        return int(value)
    return float(value)


def _count(counter: Counter, values: np.ndarray) -> None:
    found, counts = np.unique(values, return_counts=True)
    for value, count in zip(found.tolist(), counts.tolist()):
        counter[value] += count


def inspect(reader, *, label_column=None, labels=None, classes=None) -> Summary:
    """Read a data set once and summarise it.

    Args:
        reader: a `SequenceReader` (`CSVSequenceReader`, `ParquetSequenceReader`,
            or a reader of your own).
        label_column: a label column of `reader` (name or index), counted
            as classes and left out of the feature columns.
        labels: a labels `SequenceReader` instead; its first column is the class.
        classes: class names for text labels (their order gives the index).

    Returns:
        A `Summary`: readable `str()`, `to_dict()`.

    Shape:
        reads every record `[T, C]` once (chunk by chunk, nothing kept but
        the lengths `[N]` and the counts).
    """
    require_reader(reader, "reader")
    if labels is not None:
        require_reader(labels, "labels")
    if label_column is not None and labels is not None:
        raise ValueError("give either a labels reader or label_column, not both")
    columns = list(reader.columns)
    label_index, label_name = None, None
    if label_column is not None:
        label_index = column_index(label_column, tuple(columns), "label_column")
        label_name = columns[label_index]
    text = {0 if labels is not None else label_index: classes} if classes is not None else {}
    lengths, nan, step_counts, seq_counts = [], 0, Counter(), Counter()
    for chunk in checked_chunks(reader, {} if labels is not None else text, columns=tuple(columns)):
        lengths.append(chunk.lengths)
        nan += sum(int((~np.isfinite(ch)).sum()) for c, ch in enumerate(chunk.channels)
                   if c != label_index)
        if label_index is not None:
            label = chunk.channels[label_index]
            _count(step_counts, label)
            _count(seq_counts, label[chunk.offsets[1:] - 1])
    if labels is not None:
        label_name = labels.columns[0]
        for chunk in checked_chunks(labels, text):
            _count(step_counts, chunk.channels[0])
            _count(seq_counts, chunk.channels[0][chunk.offsets[1:] - 1])
    lengths = np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64)

    def named(counter):
        return {_name(k, classes): v for k, v in sorted(counter.items())}

    return Summary(
        source=repr(reader), sequences=len(lengths), steps=int(lengths.sum()),
        length_min=int(lengths.min()) if len(lengths) else 0,
        length_median=float(np.median(lengths)) if len(lengths) else 0.0,
        length_max=int(lengths.max()) if len(lengths) else 0,
        columns=[c for i, c in enumerate(columns) if i != label_index], nan_count=nan,
        label_column=label_name, class_counts=named(step_counts),
        sequence_class_counts=named(seq_counts))
