"""Reportable: what every evaluation class shares for reports (provenance and ``report``)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

from ..reports import Document, write_report
from ._provenance import check_provenance, stamped

__all__ = ["Reportable"]


class Reportable(ABC):
    """Base of the evaluation classes: :attr:`provenance`, :meth:`report` and :meth:`report_document`.

    A subclass calls ``Reportable.__init__`` and defines ``_report_document(provenance)``, which
    builds the :class:`seqkit.reports.Document` with the stamped provenance given.
    """

    def __init__(self):
        self._provenance: dict = {}

    @property
    def provenance(self) -> dict:
        """Where the figures come from: a JSON-safe dict shown in every report and kept by ``to_dict``.

        Keys with a place in the report: ``model_file``, ``data_source``, ``epochs``,
        ``training_time_s``, ``config`` (see ``seqkit.evaluation._provenance``); any other key
        is shown as given. Assigning checks the value; the dict may also be changed in place
        (checked when a report or ``to_dict`` reads it). ``merge`` keeps both sides' keys, this
        evaluation's values winning. ``seqkit_version`` is always filled in by the report.

        Raises:
            ValueError: on assignment, a value that is not a dict or that JSON cannot hold.
        """
        return self._provenance

    @provenance.setter
    def provenance(self, value) -> None:
        self._provenance = check_provenance(value, f"{type(self).__name__}.provenance")

    def stamped_provenance(self, extra: dict | None = None) -> dict:
        """:attr:`provenance`, updated with ``extra``, checked, with ``seqkit_version`` filled in.

        Raises:
            ValueError: provenance that JSON cannot hold.
        """
        where = f"{type(self).__name__}.report"
        return stamped({**check_provenance(self._provenance, where), **check_provenance(extra, where)})

    def merge_provenance(self, other: "Reportable") -> None:
        """Add ``other``'s provenance keys that this one lacks (``merge`` calls this)."""
        self._provenance = {**other._provenance, **self._provenance}

    def report_document(self, provenance: dict | None = None) -> Document:
        """What :meth:`report` writes, as a format-neutral document.

        Args:
            provenance: shown on top of :attr:`provenance` for this document only.
        """
        return self._report_document(self.stamped_provenance(provenance))

    @abstractmethod
    def _report_document(self, provenance: dict) -> Document:
        """The document, given the stamped provenance (its ``data`` is ``to_dict()`` with that provenance)."""

    def report(self, path, provenance: dict | None = None) -> Path:
        """Write an HTML (.html/.htm), Markdown (.md) or JSON (.json) report to ``path``; returns the path.

        Args:
            path: the file to write; its extension picks the format.
            provenance: optional JSON-safe dict (model file, data source, epochs, training time,
                config, ...) shown in this report on top of :attr:`provenance`, which it leaves unchanged.

        Raises:
            ValueError: an unknown extension, or provenance that JSON cannot hold.
        """
        return write_report(self, path, provenance=provenance)
