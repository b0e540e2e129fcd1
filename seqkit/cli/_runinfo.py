"""What a trained model expects of its data, as the ``seqkit`` command uses it.

The model file carries it (``net.data_description``, a
``seqkit.network.DataDescription``): the reading options of the training data
(format, id column...), the batching options (alignment, labels, classes...),
the feature columns and the normalisation statistics. ``seqkit train`` puts it
into the network before training, so every checkpoint and the final model
carry it, and ``evaluate`` and ``predict`` read it from the model file they
are given, never from a side file. Options given on the command line win over it.

Run folders written by older versions kept it in a ``data.json`` beside the
model; a model file without a description falls back to that file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import readers

from ..network import DataDescription
from ._data import BatchSpec
from ._errors import CliError

__all__ = ["FILE_NAME", "READ_KEYS", "RunInfo", "find_run_info"]

FILE_NAME = "data.json"
_FORMAT = "seqkit-run-data"
_VERSION = 1
#: Reading options worth carrying to new data of the same layout (not paths).
READ_KEYS = ("format", "skip_lines", "delimiter", "id_column", "order_column", "key_column", "columns")


@dataclass
class RunInfo:
    """The data side of a trained model.

    Attributes:
        batch: batching options (alignment, labels, classes...).
        read: reading options of the training split (format, columns, id column...).
        feature_columns: the F feature channel names, in order.
        label_columns: the label column names.
        num_outputs: C classes or K regression targets.
        standardizer: the normalisation statistics, or None.
    """

    batch: BatchSpec
    read: dict
    feature_columns: list
    label_columns: list
    num_outputs: int | None
    standardizer: readers.Standardizer | None = None

    @property
    def class_names(self) -> list | None:
        return None if self.batch.regression else self.batch.names

    def to_description(self) -> DataDescription:
        """The network's data description (stored in the model file)."""
        batch = self.batch.to_dict()
        for key in ("shuffle", "seed", "bucket_by_length"):
            batch.pop(key, None)
        return DataDescription(
            feature_columns=list(self.feature_columns), label_columns=list(self.label_columns),
            class_names=self.class_names, num_outputs=self.num_outputs, regression=self.batch.regression,
            align=self.batch.align, sequence_labels=self.batch.sequence_labels, standardizer=self.standardizer,
            reading=dict(self.read), batching=batch)

    @classmethod
    def from_description(cls, desc: DataDescription) -> "RunInfo":
        """The run information a model file carries (see :meth:`to_description`)."""
        batch = dict(desc.batching)
        if desc.align is not None:
            batch.setdefault("align", desc.align)
        if desc.sequence_labels is not None:
            batch.setdefault("sequence_labels", desc.sequence_labels)
        if desc.regression is not None:
            batch.setdefault("regression", desc.regression)
        if desc.class_names is not None and not batch.get("classes"):
            batch.setdefault("class_names", desc.class_names)
        return cls(BatchSpec.from_dict(batch), dict(desc.reading), list(desc.feature_columns or []),
                   list(desc.label_columns or []), desc.num_outputs, desc.standardizer)

    @classmethod
    def load(cls, path) -> "RunInfo":
        """Read an older run's ``data.json``.

        Raises:
            CliError: not a readable run data file.
        """
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
            if data.get("format") != _FORMAT or data.get("version") != _VERSION:
                raise ValueError(f"format {data.get('format')!r} version {data.get('version')!r}")
            norm = data.get("normalizer")
            return cls(BatchSpec.from_dict(data["batch"]), dict(data.get("read") or {}),
                       list(data["feature_columns"]), list(data.get("label_columns") or []),
                       data.get("num_outputs"), None if norm is None else readers.Standardizer.from_dict(norm))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            raise CliError(f"{path}: not a readable seqkit run data file ({err})") from None


def find_run_info(model_path) -> RunInfo | None:
    """An older run's ``data.json``: in the model's folder, else the folder above; None when there is none."""
    folder = os.path.dirname(os.path.abspath(os.fspath(model_path)))
    for candidate in (folder, os.path.dirname(folder)):
        path = os.path.join(candidate, FILE_NAME)
        if os.path.isfile(path):
            return RunInfo.load(path)
    return None
