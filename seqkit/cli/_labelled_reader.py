"""``seqkit convert --labels/--classes``: features and their labels as one reader, labels as columns.

:class:`LabelledReader` is a ``readers.SequenceReader`` whose records are a
features record with its labels appended as columns, so ``readers.write_parquet``
writes both to one nested Parquet file:

- the labels source's columns become ``label`` (one column) or
  ``label_<column>`` (several);
- a labels sequence pairs with the features sequence of the same pairing key
  (``SequenceReader.pair_keys``: a numbered file's number, an id value...), or
  by position when either reader has no pairing keys;
- a labels sequence with as many steps as its features is written step by
  step; a one-step label (DL4J's one label per sequence) is written at every
  step, so it reads back as the same sequence label (the last step's);
- with ``classes``, text labels are written as their index in ``classes``
  (of the labels source's first column, or of ``label_column``).
"""

from __future__ import annotations

import numpy as np

import readers

__all__ = ["LabelledReader", "label_names"]


def label_names(columns) -> list[str]:
    """The names the labels source's columns get: ``label``, or ``label_<column>`` for several."""
    columns = [str(c) for c in columns]
    return ["label"] if len(columns) == 1 else [f"label_{c}" for c in columns]


def _records(reader, classes: dict | None):
    """``(pairing key or None, record)`` of every sequence of ``reader``, text classes mapped."""
    for chunk in reader.chunks(classes):
        keys = reader.pair_keys(list(chunk.keys))
        for i in range(len(chunk)):
            yield (None if keys is None else str(keys[i])), chunk.record(i)


class LabelledReader(readers.SequenceReader):
    """The features of ``features`` with the labels of ``labels`` appended (module docstring).

    Args:
        features: the features reader.
        labels: the labels reader, or None (then only ``classes`` of ``label_column`` apply).
        classes: text class labels, in index order, or None.
        label_column: the position of the label column within ``features`` (for ``classes``
            without ``labels``), or None.
    """

    def __init__(self, features, labels=None, *, classes=None, label_column: int | None = None):
        self.features, self.labels = features, labels
        self.classes, self.label_column = classes, label_column
        names = [str(c) for c in features.columns]
        if labels is not None:
            added = label_names(labels.columns)
            clash = sorted(set(added) & set(names))
            if clash:
                raise readers.SequenceDataError(
                    f"the labels would be written as column {clash[0]!r}, which the features already have",
                    source=repr(features), expected="feature columns other than " + ", ".join(added),
                    found=", ".join(names))
            names += added
        self.columns = names
        try:
            self.num_sequences = len(features)              # known up front for files: a progress total
        except TypeError:                                   # a long table: counted while reading
            pass

    def _feature_classes(self) -> dict | None:
        if self.classes is None or self.labels is not None or self.label_column is None:
            return None
        return {self.label_column: list(self.classes)}

    def records(self):
        features = _records(self.features, self._feature_classes())
        if self.labels is None:
            for _, record in features:
                yield record.values, self.columns, record.key
            return
        labels = _records(self.labels, None if self.classes is None else {0: list(self.classes)})
        for record, label in self._pairs(features, labels):
            yield self._joined(record, label), self.columns, record.key

    def _pairs(self, features, labels):
        """``(features record, labels record)`` pairs: by pairing key, else by position."""
        pending: dict = {}
        for key, record in features:
            if key is None:
                found = next(labels, None)
                if found is None:
                    raise self._unpaired("features", record.key)
                yield record, found[1]
                continue
            while key not in pending:
                found = next(labels, None)
                if found is None:
                    raise self._unpaired("features", record.key)
                if found[0] is None:                      # labels pair by position
                    pending[key] = found[1]
                    break
                pending[found[0]] = found[1]
            yield record, pending.pop(key)
        if pending:
            raise self._unpaired("labels", next(iter(pending.values())).key)
        extra = next(labels, None)
        if extra is not None:
            raise self._unpaired("labels", extra[1].key)

    def _unpaired(self, side: str, key) -> readers.SequenceDataError:
        other = "labels" if side == "features" else "features"
        return readers.SequenceDataError(f"sequence {key} is in the {side} only", source=str(key),
                                         expected=f"a {other} sequence for it (paired by key, e.g. a "
                                                  f"numbered file's number, or by position)",
                                         found="none")

    @staticmethod
    def _joined(record, label) -> np.ndarray:
        """``[T, F + L]``: the features with the labels as columns (a one-step label at every step)."""
        steps, label_steps = len(record.values), len(label.values)
        values = label.values
        if label_steps == 1 and steps > 1:
            values = np.repeat(values, steps, axis=0)
        elif label_steps != steps:
            raise readers.SequenceDataError(
                "labels and features differ in length", source=str(label.key),
                expected=f"{steps} steps (as the features {record.key}) or one label for the sequence",
                found=f"{label_steps} steps")
        return np.concatenate([np.asarray(record.values, dtype=np.float64),
                               np.asarray(values, dtype=np.float64)], axis=1)
