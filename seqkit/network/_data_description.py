"""What a trained network expects of its data: columns, classes, normaliser, alignment.

A :class:`DataDescription` travels inside the model file, so a loaded
network knows how its data was read and standardised, and data is matched to
it by column *name*, never by position:

- ``fit`` on a ``readers.SequenceBatches`` (or one wrapped by a
  ``readers.Standardizer``) records it from the data the first time;
- later ``fit``, ``score`` and ``evaluate`` calls on such data put the
  feature columns into the recorded order (the same names in another order
  are reordered; a missing or an extra name is an error naming it) and
  refuse other class names;
- ``seqkit.load(path).data_description`` gives it back: ``.standardizer``
  is the fitted normaliser, ``.class_names`` the class names.

The ``seqkit`` command also stores its reading options (``reading``) and
batching options (``batching``), so ``evaluate`` and ``predict`` read new
data the way the training data was read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import readers

from .._errors import ConfigError

__all__ = ["DataDescription", "describe_data"]

_ALIGNS = ("equal_length", "align_start", "align_end")


def _names(value, what: str, where: str) -> list | None:
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, (str, int)) for v in value):
        raise ConfigError(f"{where}: {what} must be a list of names, got {value!r}")
    return list(value)


@dataclass
class DataDescription:
    """How a network's data looks; stored in its model file (see the module docstring).

    Attributes:
        feature_columns: the F feature channel names, in the network's input order.
        label_columns: the label column names.
        class_names: the C class names in index order (classification), or None.
        num_outputs: C classes or K regression targets.
        regression: raw numeric labels rather than classes.
        align: ``"equal_length"``, ``"align_start"`` or ``"align_end"``.
        sequence_labels: one label per sequence.
        standardizer: the fitted ``readers.Standardizer``, or None.
        reading: reading options of the training data (format, id column...; the CLI's).
        batching: other batching options (the CLI's ``[data]`` settings).
    """

    feature_columns: list | None = None
    label_columns: list | None = None
    class_names: list | None = None
    num_outputs: int | None = None
    regression: bool | None = None
    align: str | None = None
    sequence_labels: bool | None = None
    standardizer: readers.Standardizer | None = None
    reading: dict = field(default_factory=dict)
    batching: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-safe form for the model file."""
        return {"feature_columns": self.feature_columns, "label_columns": self.label_columns,
                "class_names": self.class_names, "num_outputs": self.num_outputs,
                "regression": self.regression, "align": self.align, "sequence_labels": self.sequence_labels,
                "standardizer": None if self.standardizer is None else self.standardizer.to_dict(),
                "reading": dict(self.reading), "batching": dict(self.batching)}

    @classmethod
    def from_dict(cls, data, where: str = "data description") -> "DataDescription":
        """The inverse of :meth:`to_dict`; ConfigError naming ``where`` for anything malformed."""
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: expected a JSON object, got {type(data).__name__}")
        align = data.get("align")
        if align is not None and align not in _ALIGNS:
            raise ConfigError(f"{where}: unknown align {align!r}; allowed: {', '.join(_ALIGNS)}")
        num = data.get("num_outputs")
        if num is not None and (isinstance(num, bool) or not isinstance(num, int) or num < 1):
            raise ConfigError(f"{where}: num_outputs must be a positive int, got {num!r}")
        norm = data.get("standardizer")
        try:
            standardizer = None if norm is None else readers.Standardizer.from_dict(norm)
        except (KeyError, TypeError, ValueError) as err:
            raise ConfigError(f"{where}: bad standardizer ({err})") from None
        reading, batching = data.get("reading") or {}, data.get("batching") or {}
        if not isinstance(reading, dict) or not isinstance(batching, dict):
            raise ConfigError(f"{where}: reading and batching must be JSON objects")
        return cls(_names(data.get("feature_columns"), "feature_columns", where),
                   _names(data.get("label_columns"), "label_columns", where),
                   _names(data.get("class_names"), "class_names", where), num,
                   None if data.get("regression") is None else bool(data["regression"]), align,
                   None if data.get("sequence_labels") is None else bool(data["sequence_labels"]),
                   standardizer, dict(reading), dict(batching))

    def feature_order(self, columns, where: str) -> np.ndarray | None:
        """Indices that put data with feature ``columns`` into this description's order.

        None when they are already in order (or either side has no names).

        Raises:
            readers.SequenceDataError: a name the network expects is missing, or
                the data has a feature column the network was not trained on.
        """
        if self.feature_columns is None or columns is None:
            return None
        given = [str(c) for c in columns]
        wanted = [str(c) for c in self.feature_columns]
        if given == wanted:
            return None
        missing = [c for c in wanted if c not in given]
        extra = [c for c in given if c not in wanted]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing {', '.join(map(repr, missing))}")
            if extra:
                parts.append(f"extra {', '.join(map(repr, extra))}")
            raise readers.SequenceDataError(
                f"{where}: the feature columns do not match the network's ({'; '.join(parts)}); the "
                f"network was trained on {wanted}, the data has {given}; select them with columns=")
        return np.asarray([given.index(c) for c in wanted], dtype=np.int64)

    def check_classes(self, names, where: str) -> None:
        """ConfigError when the data's class names differ from the network's (None matches anything)."""
        if self.class_names is None or names is None:
            return
        if [str(c) for c in names] != [str(c) for c in self.class_names]:
            raise ConfigError(f"{where}: the data's classes {list(names)} differ from the network's "
                              f"{list(self.class_names)} (class indices would mean other classes)")


def describe_data(data) -> DataDescription | None:
    """The description of ``data`` when it knows its columns (a ``readers.SequenceBatches``, possibly
    wrapped by a ``readers.Standardizer``); None for arrays and plain lists of batches."""
    columns = getattr(data, "feature_columns", None)
    if columns is None or not hasattr(data, "align"):
        return None
    try:
        columns = [str(c) for c in columns]
    except TypeError:
        return None
    align = getattr(data, "align", None)
    align = getattr(align, "value", align)
    regression = bool(getattr(data, "regression", False))
    names = getattr(data, "class_names", None)
    if names is None and not regression:
        classes = getattr(data, "classes", None)
        names = list(classes) if isinstance(classes, (list, tuple)) else None
    label_columns = getattr(data, "label_columns", None)
    return DataDescription(
        feature_columns=columns,
        label_columns=None if label_columns is None else [str(c) for c in label_columns],
        class_names=None if names is None else list(names),
        num_outputs=getattr(data, "num_outputs", None), regression=regression,
        align=str(align) if align is not None else None,
        sequence_labels=bool(getattr(data, "sequence_labels", False)),
        standardizer=getattr(data, "standardizer", None))
