"""seqkit.reports: evaluation reports as one self-contained HTML file, Markdown or JSON.

Every evaluation class has ``report(path, provenance=None)``, which calls
:func:`write_report`. HTML reports always carry their plots (matplotlib is a
regular dependency); Markdown lists them by title. See ``docs/reports.md``.
"""

from ._document import Cell, Document, Figure, Section, Table, Text
from ._writer import FORMATS, write_report

__all__ = [
    "Cell",
    "Document",
    "FORMATS",
    "Figure",
    "Section",
    "Table",
    "Text",
    "write_report",
]
