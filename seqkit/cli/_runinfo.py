"""``data.json``: what a trained model expects of its data, saved next to the model.

A model file holds the network. ``seqkit train`` also writes ``data.json`` to
the run folder: the reading and batching options of the training data
(alignment, label column, classes...), the feature columns and the
normalisation statistics. ``evaluate`` and ``predict`` read it (from the
model's folder, or the folder above for a checkpoint in ``checkpoints/``), so
new data is read and standardised the way the training data was; options
given on the command line win over it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import readers

from ._data import BatchSpec
from ._errors import CliError

__all__ = ["FILE_NAME", "RunInfo", "find_run_info"]

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

    def save(self, folder) -> str:
        """Write ``folder/data.json``; returns its path."""
        batch = self.batch.to_dict()
        for key in ("shuffle", "seed", "bucket_by_length"):
            batch.pop(key, None)
        data = {"format": _FORMAT, "version": _VERSION, "batch": batch, "read": self.read,
                "feature_columns": self.feature_columns, "label_columns": self.label_columns,
                "num_outputs": self.num_outputs,
                "normalizer": None if self.standardizer is None else self.standardizer.to_dict()}
        path = os.path.join(os.fspath(folder), FILE_NAME)
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2)
            handle.write("\n")
        return path

    @classmethod
    def load(cls, path) -> "RunInfo":
        """Read a ``data.json``.

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
    """The ``data.json`` of a model: in its folder, else the folder above; None when there is none."""
    folder = os.path.dirname(os.path.abspath(os.fspath(model_path)))
    for candidate in (folder, os.path.dirname(folder)):
        path = os.path.join(candidate, FILE_NAME)
        if os.path.isfile(path):
            return RunInfo.load(path)
    return None
